"""The parameters of the node's interface: node, task, model, topics, sync, proprio, control and output.

Half of the schema table (the other half, gate / pruning / safety / diagnostics, is `specs_behaviour`); split
only so that each file stays readable, `schema.SPECS` joins them in the order of config/adp_ros.yaml and
docs/parameters.md. Each row is one `ParamSpec`: name, type, default, description, then unit, range, choices
(from `choices`) and when it may change. Defaults that a core dataclass or platform owns are read from it.
"""

from __future__ import annotations

from adp_ros.core.params.choices import (
    ACCELERATIONS,
    CONTROL_MODES,
    DTYPES,
    GRIPPER_TYPE_NAMES,
    IMAGE_TRANSPORTS,
    OUTPUT_TYPE_NAMES,
    PLATFORMS,
    PROPRIO_SOURCES,
    STREAMS,
    SYNC_BACKENDS,
    TRAJECTORY_STARTS,
)
from adp_ros.core.params.spec import ParamSpec
from adp_ros.core.platform import LIBERO, PlatformConfig

_s = ParamSpec  # the rows give name, type, default and description positionally


def camera_topics(platform: PlatformConfig) -> list[str]:
    """The default camera topics of a platform, in the order its model expects."""
    return [f"camera/{name}/image_raw" for name in platform.camera_names]


MODEL_SPECS: tuple[ParamSpec, ...] = (
    _s(
        "model.checkpoint",
        "string",
        "",
        "Checkpoint directory in the released OpenVLA-OFT layout (config.json, model.safetensors, heads, "
        "dataset_statistics.json). Required.",
        read_only=True,
        example="/models/openvla-7b-oft-finetuned-libero-spatial",
    ),
    _s(
        "model.platform",
        "string",
        LIBERO.name,
        "Platform constants the checkpoint was trained with (cameras, chunk length, action/proprio dims).",
        choices=PLATFORMS,
        read_only=True,
    ),
    _s(
        "model.unnorm_key",
        "string",
        "",
        "Dataset statistics key to de-normalise actions with; empty = the checkpoint's only key.",
        read_only=True,
        example="libero_spatial_no_noops",
    ),
    _s(
        "model.device",
        "string",
        "auto",
        "Torch device: auto (first CUDA device, else CPU), cpu, cuda:0, …",
        read_only=True,
    ),
    _s(
        "model.dtype",
        "string",
        "auto",
        "Weights dtype: auto = bfloat16 on CUDA, float32 on the CPU.",
        choices=DTYPES,
        read_only=True,
    ),
    _s(
        "model.center_crop",
        "bool",
        LIBERO.center_crop,
        "90 %-area centre crop before resizing (the released checkpoints were trained with random crops).",
        read_only=True,
    ),
    _s(
        "model.acceleration",
        "string",
        "auto",
        "auto = CUDA graphs per static shape on CUDA (captured at warm-up), eager elsewhere.",
        choices=ACCELERATIONS,
        read_only=True,
    ),
    _s(
        "model.warmup",
        "bool",
        True,
        "Run each configuration once on blank frames at configure, so the first chunk is not slow.",
    ),
)

NODE_SPECS: tuple[ParamSpec, ...] = (
    _s(
        "node.autostart",
        "bool",
        False,
        "Configure and activate right after start. For environments without lifecycle tools (the pip-only "
        "install, the demo); leave false under a lifecycle manager or launch file that drives transitions.",
    ),
    _s(
        "task.instruction",
        "string",
        "",
        "Language instruction. Also set by messages on topics.instruction. A new instruction resets the gate "
        "history. Empty: wait for one.",
        live=True,
        example='"pick up the red block"',
    ),
)

TOPIC_SPECS: tuple[ParamSpec, ...] = (
    _s(
        "topics.cameras",
        "string_array",
        camera_topics(LIBERO),
        "Camera topics in the order the model expects (third-person first, then wrists). Relative names "
        "follow the namespace and remappings.",
    ),
    _s(
        "topics.image_transport",
        "string",
        "raw",
        "raw: sensor_msgs/Image; compressed: sensor_msgs/CompressedImage (JPEG/PNG) on the same topic names "
        "(give the .../compressed topics).",
        choices=IMAGE_TRANSPORTS,
    ),
    _s("topics.joint_states", "string", "joint_states", "sensor_msgs/JointState input (proprio, joint motion)."),
    _s(
        "topics.eef_pose",
        "string",
        "eef_pose",
        "geometry_msgs/PoseStamped end-effector pose (proprio with eef_pose_and_joints, gate motion eef_pose).",
    ),
    _s("topics.instruction", "string", "instruction", "std_msgs/String instructions (reliable, volatile)."),
    _s(
        "topics.command",
        "string",
        "~/command",
        "Action chunks for the arm controller, only while commands are enabled (remap it to e.g. "
        "/joint_trajectory_controller/joint_trajectory).",
    ),
    _s("topics.preview", "string", "~/preview", "Every guarded chunk, enabled or not (dry run output)."),
    _s(
        "topics.latency", "string", "~/latency", "diagnostic_msgs/DiagnosticArray per chunk: stage times, tokens, gate."
    ),
    _s("topics.debug_image", "string", "~/debug_image", "Camera image with the pruned patches shaded."),
    _s(
        "topics.twist",
        "string",
        "~/twist",
        "output.streams twist: geometry_msgs/TwistStamped per control period, only while commands are enabled "
        "(remap to e.g. /servo_node/delta_twist_cmds). Preview on <topics.preview>/twist.",
    ),
    _s(
        "topics.pose_target",
        "string",
        "~/pose_target",
        "output.streams pose: geometry_msgs/PoseStamped target per control period, only while commands are "
        "enabled. Preview on <topics.preview>/pose_target.",
    ),
    _s(
        "topics.gripper",
        "string",
        "~/gripper",
        "output.streams gripper: the gripper command per control period (output.gripper_type), only while "
        "commands are enabled. Preview on <topics.preview>/gripper.",
    ),
)

SYNC_SPECS: tuple[ParamSpec, ...] = (
    _s(
        "sync.queue_size",
        "int",
        10,
        "Approximate-time synchroniser of the cameras: frames kept per camera while waiting for a match (and "
        "camera sets waiting for a state sample).",
        min=1,
        max=1000,
    ),
    _s(
        "sync.slop_sec",
        "double",
        0.05,
        "Largest stamp spread among the cameras of a synchronised set; exclusive. Joint state and pose are not "
        "in it: see sync.state_tolerance_sec.",
        unit="s",
        min=0.0005,
        max=10.0,
        example="0.05",
    ),
    _s(
        "sync.backend",
        "string",
        "adp_ros",
        "Camera synchroniser. adp_ros (default): the built-in approximate-time synchroniser, tested with this "
        "package; message_filters: ROS's own, same semantics, not tested here (not on the package index); auto: "
        "message_filters when importable, else adp_ros. Joint states and pose (500-1000 Hz) bypass it: they are "
        "looked up by stamp.",
        choices=SYNC_BACKENDS,
    ),
    _s(
        "sync.state_tolerance_sec",
        "double",
        0.05,
        "Joint state and pose are taken at a camera set's stamp (the sample nearest to it) when within this "
        "much of it; otherwise the set is dropped and counted (sync_missing.<topic>).",
        unit="s",
        min=0.0,
        max=10.0,
        example="0.01",
    ),
    _s(
        "sync.state_wait_sec",
        "double",
        0.1,
        "How long (ROS time) a camera set newer than every joint-state / pose sample waits for a newer one "
        "(states may arrive after the cameras) before it is matched within sync.state_tolerance_sec or dropped.",
        unit="s",
        min=0.0,
        max=10.0,
        example="0.1",
    ),
    _s(
        "sync.state_history_sec",
        "double",
        1.0,
        "Joint-state / pose history kept for the lookup, behind the newest sample; at least the cameras' delay "
        "(time from a frame's stamp to its arrival).",
        unit="s",
        min=0.01,
        max=60.0,
        example="1.0",
    ),
)

PROPRIO_SPECS: tuple[ParamSpec, ...] = (
    _s(
        "proprio.source",
        "string",
        "eef_pose_and_joints",
        "joint_states: proprio = positions of proprio.joint_names. eef_pose_and_joints: eef xyz + axis-angle "
        "from topics.eef_pose, then proprio.joint_names (LIBERO: the two finger joints).",
        choices=PROPRIO_SOURCES,
    ),
    _s(
        "proprio.joint_names",
        "string_array",
        ["panda_finger_joint1", "panda_finger_joint2"],
        "Joint names taken from the JointState, in this order. A missing name is an input error, never a zero.",
    ),
)

CONTROL_SPECS: tuple[ParamSpec, ...] = (
    _s(
        "control.mode",
        "string",
        "chunk_end",
        "chunk_end: request the next chunk when at most control.lead_steps steps of the current one remain; "
        "fixed_rate: request at control.query_rate_hz; on_observation: one chunk per new synchronised "
        "observation, whatever the clock (lockstep simulators that stop time while the policy thinks).",
        choices=CONTROL_MODES,
        live=True,
    ),
    _s(
        "control.query_rate_hz",
        "double",
        5.0,
        "Chunk requests per second in fixed_rate mode.",
        unit="Hz",
        min=0.01,
        max=1000.0,
        live=True,
    ),
    _s(
        "control.control_hz",
        "double",
        0.0,
        "Arm control rate: spacing of the trajectory points. 0 = the platform's (LIBERO 20, ALOHA 25).",
        unit="Hz",
        min=0.0,
        max=10000.0,
        live=True,
        example="20.0",
    ),
    _s(
        "control.execute_steps",
        "int",
        0,
        "Steps of each chunk sent to the arm. 0 = the whole chunk (LIBERO 8, ALOHA 25).",
        unit="steps",
        min=0,
        max=1000,
        live=True,
    ),
    _s(
        "control.lead_steps",
        "int",
        2,
        "chunk_end mode: request the next chunk this many steps before the current one ends (cover the "
        "inference latency).",
        unit="steps",
        min=0,
        max=1000,
        live=True,
    ),
    _s(
        "control.trajectory_start",
        "string",
        "publish",
        "header.stamp is always the observation stamp. publish: time_from_start = age at publish + (k+1)·dt, "
        "so the first point is one period after publishing. observation: (k+1)·dt, time-aligned with the "
        "observation (a joint_trajectory_controller skips points already in the past).",
        choices=TRAJECTORY_STARTS,
        live=True,
    ),
)

OUTPUT_SPECS: tuple[ParamSpec, ...] = (
    _s(
        "output.type",
        "string",
        "auto",
        "auto: joint_trajectory for joint-position policies, multi_dof_joint_trajectory for end-effector "
        "delta policies. float32_multi_array: raw chunk × action_dim with a layout (no header).",
        choices=OUTPUT_TYPE_NAMES,
    ),
    _s(
        "output.joint_names",
        "string_array",
        [],
        "joint_trajectory joint names, one per action dimension. Empty = proprio.joint_names (when they match).",
    ),
    _s(
        "output.eef_joint_name",
        "string",
        "end_effector",
        "multi_dof_joint_trajectory: joint name of the end-effector delta transform.",
    ),
    _s(
        "output.gripper_joint_name",
        "string",
        "gripper",
        "multi_dof_joint_trajectory: joint name carrying the gripper command in transforms[1].translation.x "
        "(empty = leave the gripper out).",
    ),
    _s(
        "output.translation_scale",
        "double",
        1.0,
        "Metres per action unit for the translation deltas (robosuite OSC_POSE / LIBERO: 0.05).",
        unit="m/unit",
        min=1e-9,
        max=1000.0,
        live=True,
    ),
    _s(
        "output.rotation_scale",
        "double",
        1.0,
        "Radians per action unit for the axis-angle rotation deltas (robosuite OSC_POSE / LIBERO: 0.5).",
        unit="rad/unit",
        min=1e-9,
        max=1000.0,
        live=True,
    ),
    _s(
        "output.frame_id",
        "string",
        "",
        "header.frame_id of the output trajectories, twists and pose targets (the frame the deltas are in: the "
        "arm's base). The measured pose on topics.eef_pose must be in it.",
        live=True,
    ),
    _s(
        "output.streams",
        "string_array",
        [],
        "End-effector delta policies: besides output.type, stream one command per control period from the "
        "current chunk: twist (the step's delta / period, topics.twist), pose (the deltas integrated from the "
        "measured pose at the chunk's observation, topics.pose_target), gripper (topics.gripper). After a chunk "
        "runs out: zero twist, last pose target. docs/controllers.md.",
        choices=STREAMS,
        example="[twist, gripper]",
    ),
    _s(
        "output.gripper_type",
        "string",
        "joint_trajectory",
        "Gripper stream message: joint_trajectory (trajectory_msgs/JointTrajectory of output.gripper_joints, "
        "one point one period ahead) or float64 (std_msgs/Float64). Both carry the mapped position.",
        choices=GRIPPER_TYPE_NAMES,
    ),
    _s(
        "output.gripper_joints",
        "string_array",
        [],
        "Finger joints of the joint_trajectory gripper stream, each given the mapped position. Empty = "
        "proprio.joint_names (LIBERO: the two Panda finger joints).",
    ),
    _s(
        "output.gripper_open_value",
        "double",
        1.0,
        "Policy gripper value meaning open (LIBERO checkpoints predict the dataset's 1 = open, 0 = closed; the "
        "original evaluation turns that into the environment's -1 open / +1 close). Values map linearly onto "
        "the positions, clipped.",
        live=True,
        example="1.0",
    ),
    _s(
        "output.gripper_closed_value",
        "double",
        0.0,
        "Policy gripper value meaning closed (LIBERO checkpoints: 0).",
        live=True,
        example="0.0",
    ),
    _s(
        "output.gripper_open_position",
        "double",
        0.04,
        "Finger joint position when open (Panda: 0.04 m per finger).",
        live=True,
        example="0.04",
    ),
    _s(
        "output.gripper_closed_position",
        "double",
        0.0,
        "Finger joint position when closed (Panda: 0).",
        live=True,
        example="0.0",
    ),
)
