"""Launch adp_policy_node (a managed node) with a platform preset and the checkpoint.

  ros2 launch adp_ros adp.launch.py model_path:=/models/openvla-7b-oft-finetuned-libero-spatial
  ros2 launch adp_ros adp.launch.py preset:=aloha model_path:=/models/aloha_ckpt namespace:=station1 \\
      config_file:=/path/to/site.yaml command_topic:=/arm_controller/joint_trajectory \\
      joint_states_topic:=/robot/joint_states

Parameters are applied in order: config/<preset>.yaml, then config_file (your overrides), then model_path,
autostart and command_topic. With autostart:=true (default) the node configures and activates itself; set
autostart:=false when a lifecycle manager drives the transitions. Commands still start disabled: call
`ros2 service call <ns>/adp_policy_node/enable std_srvs/srv/SetBool "{data: true}"` after checking ~/preview.
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode

PACKAGE = "adp_ros"
EXECUTABLE = "adp_node"
NODE_NAME = "adp_policy_node"
PRESETS = ("libero", "aloha")

ARGUMENTS = (
    ("model_path", "", "checkpoint directory (model.checkpoint)"),
    ("config_file", "", "extra params file applied after the preset"),
    ("namespace", "", "namespace of the node and its relative topics"),
    ("autostart", "true", "configure and activate at start (false under a lifecycle manager)"),
    ("command_topic", "~/command", "where enabled chunks go (topics.command)"),
    ("joint_states_topic", "joint_states", "remap joint_states"),
    ("eef_pose_topic", "eef_pose", "remap eef_pose"),
    ("instruction_topic", "instruction", "remap instruction"),
)


def _node(context):
    def arg(name):
        return LaunchConfiguration(name).perform(context)

    share = get_package_share_directory(PACKAGE)
    parameters = [str(Path(share) / "config" / f"{arg('preset')}.yaml")]
    if arg("config_file"):
        parameters.append(arg("config_file"))
    overrides = {"node.autostart": arg("autostart").lower() == "true", "topics.command": arg("command_topic")}
    if arg("model_path"):
        overrides["model.checkpoint"] = arg("model_path")
    parameters.append(overrides)
    remappings = [
        ("joint_states", arg("joint_states_topic")),
        ("eef_pose", arg("eef_pose_topic")),
        ("instruction", arg("instruction_topic")),
    ]
    return [
        LifecycleNode(
            package=PACKAGE,
            executable=EXECUTABLE,
            name=NODE_NAME,
            namespace=arg("namespace"),
            parameters=parameters,
            remappings=remappings,
            output="screen",
            emulate_tty=True,
        )
    ]


def generate_launch_description():
    preset = DeclareLaunchArgument(
        "preset", default_value=PRESETS[0], choices=list(PRESETS), description="platform preset: config/<preset>.yaml"
    )
    declared = [DeclareLaunchArgument(name, default_value=value, description=text) for name, value, text in ARGUMENTS]
    return LaunchDescription([preset, *declared, OpaqueFunction(function=_node)])
