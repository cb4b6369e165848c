"""Streaming outputs (`output.streams`): one message per control period from `core.streaming.StreamCommand`.

- twist (`geometry_msgs/TwistStamped`, MoveIt Servo's `delta_twist_cmds`): the current step's delta over the
  control period: linear m/s, angular rad/s (axis-angle / dt), in `output.frame_id`. Zero once the chunk ran
  out, and the one message sent on disable/deactivate (`zero_twist`).
- pose (`geometry_msgs/PoseStamped`, Cartesian pose controllers): where the arm should be at the end of the
  current step, integrated from the measured pose at the chunk's observation; held after the chunk ran out.
- gripper: `trajectory_msgs/JointTrajectory` (`output.gripper_type` joint_trajectory, the default; for a
  joint_trajectory_controller of the finger joints: one point, every joint at the mapped position, one period
  ahead) or `std_msgs/Float64` (float64: the mapped position alone). The map: `output.gripper_*_value/position`.

Every header.stamp is the ROS time of the tick that sends it. The trajectory outputs stay in `messages.py`.
"""

from __future__ import annotations

from typing import Any

from geometry_msgs.msg import PoseStamped, TwistStamped
from std_msgs.msg import Float64
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from adp_ros.core.streaming import StreamCommand
from adp_ros.ros.messages import duration_msg, time_msg

STREAM_KINDS = ("twist", "pose", "gripper")
GRIPPER_TYPES: dict[str, type] = {"joint_trajectory": JointTrajectory, "float64": Float64}


def stream_types(output: Any) -> dict[str, type]:
    """kind → message type of each enabled stream (`params.OutputSettings`), in STREAM_KINDS order."""
    types = {"twist": TwistStamped, "pose": PoseStamped, "gripper": GRIPPER_TYPES[output.gripper_type]}
    return {kind: types[kind] for kind in STREAM_KINDS if kind in output.streams}


def stream_topic(kind: str, topics: Any) -> str:
    """The command topic of a stream (`params.TopicSettings`)."""
    return {"twist": topics.twist, "pose": topics.pose_target, "gripper": topics.gripper}[kind]


def stream_preview_topic(kind: str, topics: Any) -> str:
    """Where a stream's preview goes: under topics.preview (`~/preview/twist`, ...)."""
    name = {"twist": "twist", "pose": "pose_target", "gripper": "gripper"}[kind]
    return f"{topics.preview.rstrip('/')}/{name}"


def zero_twist(*, stamp_ns: int, frame_id: str = "") -> TwistStamped:
    msg = TwistStamped()
    msg.header.stamp = time_msg(stamp_ns)
    msg.header.frame_id = frame_id
    return msg


def twist_message(cmd: StreamCommand, *, stamp_ns: int, frame_id: str = "") -> TwistStamped:
    msg = zero_twist(stamp_ns=stamp_ns, frame_id=frame_id)
    t = msg.twist
    t.linear.x, t.linear.y, t.linear.z = (float(v) for v in cmd.linear)
    t.angular.x, t.angular.y, t.angular.z = (float(v) for v in cmd.angular)
    return msg


def pose_message(cmd: StreamCommand, *, stamp_ns: int, frame_id: str = "") -> PoseStamped | None:
    """None when the chunk has no pose targets (no measured pose)."""
    if cmd.position is None or cmd.orientation is None:
        return None
    msg = PoseStamped()
    msg.header.stamp = time_msg(stamp_ns)
    msg.header.frame_id = frame_id
    p, q = msg.pose.position, msg.pose.orientation
    p.x, p.y, p.z = (float(v) for v in cmd.position)
    q.x, q.y, q.z, q.w = (float(v) for v in cmd.orientation)
    return msg


def gripper_message(cmd: StreamCommand, output: Any, *, stamp_ns: int, dt_ns: int) -> Any:
    """None when the policy has no gripper value."""
    if cmd.gripper is None:
        return None
    position = float(output.gripper.position(cmd.gripper))
    if output.gripper_type == "float64":
        return Float64(data=position)
    msg = JointTrajectory()
    msg.header.stamp = time_msg(stamp_ns)
    msg.joint_names = list(output.gripper_joints)
    msg.points = [
        JointTrajectoryPoint(positions=[position] * len(output.gripper_joints), time_from_start=duration_msg(dt_ns))
    ]
    return msg


def stream_messages(cmd: StreamCommand, output: Any, *, stamp_ns: int, dt_ns: int) -> dict[str, Any]:
    """kind → message of each enabled stream that has something to send (`params.OutputSettings`)."""
    out: dict[str, Any] = {}
    if output.streams_twist:
        out["twist"] = twist_message(cmd, stamp_ns=stamp_ns, frame_id=output.frame_id)
    if output.streams_pose:
        out["pose"] = pose_message(cmd, stamp_ns=stamp_ns, frame_id=output.frame_id)
    if output.streams_gripper:
        out["gripper"] = gripper_message(cmd, output, stamp_ns=stamp_ns, dt_ns=dt_ns)
    return {kind: msg for kind, msg in out.items() if msg is not None}
