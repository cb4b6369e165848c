"""What the node publishes, built from action chunks and stream commands. No rclpy import.

Chunk outputs (`output.type`, message classes in `OUTPUT_MESSAGE_TYPES`), one message per chunk:
- `joint_trajectory` (`trajectory_msgs/JointTrajectory`, what ros2_control's joint_trajectory_controller takes):
  one point per step, `positions` = the action (joint targets in the policy's units, radians for ALOHA).
- `multi_dof_joint_trajectory` for end-effector delta policies (LIBERO: dx dy dz, axis-angle droll dpitch
  dyaw, gripper): joint `output.eef_joint_name` carries each step's delta as a `Transform` (translation ×
  `translation_scale` metres, rotation = the axis-angle × `rotation_scale` as a quaternion); each point is the
  delta of that step, not a cumulative pose. The gripper command has no place in a Transform, so a second
  joint `output.gripper_joint_name` carries it in `translation.x` (policy units; LIBERO checkpoints: 1 open,
  0 closed, as in their datasets).
- `float32_multi_array`: the raw chunk (steps × action_dim, row-major) with a two-dimension layout
  ("step", "action"). It has no header; the latency topic's `observation_stamp_ns` names its observation.

Timing: `header.stamp` = the observation stamp; point k has `time_from_start = offset + (k+1)·dt` (the node
chooses the offset, see `control.trajectory_start`). An empty trajectory (no points) is the stop message: a
joint_trajectory_controller that receives it stops and holds the current position. `multi_dof_trajectory_to_chunk`
and `float32_multi_array_to_chunk` read the messages back (consumers: the simulated arm, training, tests).

Streaming outputs (`output.streams`): one message per control period from `core.streaming.StreamCommand`.
- twist (`geometry_msgs/TwistStamped`, MoveIt Servo's `delta_twist_cmds`): the current step's delta over the
  control period: linear m/s, angular rad/s (axis-angle / dt), in `output.frame_id`. Zero once the chunk ran
  out, and the one message sent on disable/deactivate (`zero_twist`).
- pose (`geometry_msgs/PoseStamped`, Cartesian pose controllers): where the arm should be at the end of the
  current step, integrated from the measured pose at the chunk's observation; held after the chunk ran out.
- gripper: `trajectory_msgs/JointTrajectory` (`output.gripper_type` joint_trajectory, the default; for a
  joint_trajectory_controller of the finger joints: one point, every joint at the mapped position, one period
  ahead) or `std_msgs/Float64` (float64: the mapped position alone). The map: `output.gripper_*_value/position`.
Every stream header.stamp is the ROS time of the tick that sends it.

Stamps are written with `ros/stamps.py`; rotations come from `core/rotations.py`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from geometry_msgs.msg import PoseStamped, Quaternion, Transform, Twist, TwistStamped, Vector3
from std_msgs.msg import Float32MultiArray, Float64, MultiArrayDimension
from trajectory_msgs.msg import (
    JointTrajectory,
    JointTrajectoryPoint,
    MultiDOFJointTrajectory,
    MultiDOFJointTrajectoryPoint,
)

from adp_ros.core.errors import InputError
from adp_ros.core.params import STREAMS
from adp_ros.core.rotations import axis_angle_to_quat, quat_to_axis_angle
from adp_ros.core.stamps import ns_of
from adp_ros.core.streaming import StreamCommand
from adp_ros.ros.stamps import duration_msg, time_msg

OUTPUT_MESSAGE_TYPES: dict[str, type] = {
    "joint_trajectory": JointTrajectory,
    "multi_dof_joint_trajectory": MultiDOFJointTrajectory,
    "float32_multi_array": Float32MultiArray,
}
"""`output.type` → the message class of the command topic (names: `params.OUTPUT_TYPE_NAMES`, less `auto`)."""


# ------------------------------------------------------------------------------------------ chunk outputs


def point_offsets_ns(steps: int, dt_ns: int, offset_ns: int = 0) -> list[int]:
    """time_from_start of each point: offset + (k+1)·dt."""
    return [int(offset_ns) + (k + 1) * int(dt_ns) for k in range(steps)]


def _check_chunk(actions: np.ndarray) -> np.ndarray:
    arr = np.asarray(actions, dtype=np.float64)
    if arr.ndim != 2:
        raise InputError(f"action chunk shape {arr.shape} is not (steps, action_dim)")
    return arr


def chunk_to_joint_trajectory(
    actions: np.ndarray,
    joint_names: Sequence[str],
    *,
    stamp_ns: int,
    dt_ns: int,
    offset_ns: int = 0,
    frame_id: str = "",
) -> JointTrajectory:
    arr = _check_chunk(actions)
    if arr.shape[1] != len(joint_names):
        raise InputError(f"chunk has {arr.shape[1]} values per step but {len(joint_names)} joint names")
    msg = JointTrajectory()
    msg.header.stamp = time_msg(stamp_ns)
    msg.header.frame_id = frame_id
    msg.joint_names = list(joint_names)
    for row, t in zip(arr, point_offsets_ns(arr.shape[0], dt_ns, offset_ns), strict=True):
        msg.points.append(JointTrajectoryPoint(positions=row.tolist(), time_from_start=duration_msg(t)))
    return msg


def chunk_to_multi_dof_trajectory(
    actions: np.ndarray,
    *,
    stamp_ns: int,
    dt_ns: int,
    offset_ns: int = 0,
    eef_joint_name: str = "end_effector",
    gripper_joint_name: str = "gripper",
    translation_scale: float = 1.0,
    rotation_scale: float = 1.0,
    frame_id: str = "",
) -> MultiDOFJointTrajectory:
    arr = _check_chunk(actions)
    if arr.shape[1] < 6:
        raise InputError(f"multi-DOF output needs >= 6 action dims (xyz + axis-angle), got {arr.shape[1]}")
    with_gripper = bool(gripper_joint_name) and arr.shape[1] > 6
    msg = MultiDOFJointTrajectory()
    msg.header.stamp = time_msg(stamp_ns)
    msg.header.frame_id = frame_id
    msg.joint_names = [eef_joint_name, gripper_joint_name] if with_gripper else [eef_joint_name]
    for row, t in zip(arr, point_offsets_ns(arr.shape[0], dt_ns, offset_ns), strict=True):
        x, y, z = (float(v) * translation_scale for v in row[:3])
        qx, qy, qz, qw = (float(c) for c in axis_angle_to_quat(row[3:6] * rotation_scale))
        transforms = [Transform(translation=Vector3(x=x, y=y, z=z), rotation=Quaternion(x=qx, y=qy, z=qz, w=qw))]
        if with_gripper:
            transforms.append(Transform(translation=Vector3(x=float(row[6]))))
        point = MultiDOFJointTrajectoryPoint(transforms=transforms, time_from_start=duration_msg(t))
        point.velocities = [Twist() for _ in transforms]
        point.accelerations = [Twist() for _ in transforms]
        msg.points.append(point)
    return msg


def multi_dof_trajectory_to_chunk(
    msg: MultiDOFJointTrajectory,
    *,
    eef_joint_name: str = "end_effector",
    gripper_joint_name: str = "gripper",
    translation_scale: float = 1.0,
    rotation_scale: float = 1.0,
) -> tuple[np.ndarray, list[int]]:
    """Inverse of `chunk_to_multi_dof_trajectory` (for consumers: the simulated arm, demonstration recording):
    (steps × 7 actions in policy units, time_from_start of each point in ns). Without a gripper joint the last
    column is NaN."""
    names = list(msg.joint_names)
    if eef_joint_name not in names:
        raise InputError(f"trajectory joints {names} lack the end-effector joint {eef_joint_name!r}")
    eef = names.index(eef_joint_name)
    grip = names.index(gripper_joint_name) if gripper_joint_name in names else None
    rows, times = [], []
    for k, point in enumerate(msg.points):
        if len(point.transforms) != len(names):
            raise InputError(f"point {k} has {len(point.transforms)} transforms for {len(names)} joints")
        t = point.transforms[eef]
        q = t.rotation
        rotvec = quat_to_axis_angle((q.x, q.y, q.z, q.w)) / rotation_scale
        g = point.transforms[grip].translation.x if grip is not None else math.nan
        row = [t.translation.x / translation_scale, t.translation.y / translation_scale]
        row += [t.translation.z / translation_scale, *rotvec.tolist(), g]
        rows.append(row)
        times.append(ns_of(point.time_from_start))
    actions = np.asarray(rows, dtype=np.float64).reshape(-1, 7)
    if not np.isfinite(actions[:, :6]).all():
        raise InputError("trajectory holds NaN or inf")
    return actions, times


def chunk_to_float32_multi_array(actions: np.ndarray) -> Float32MultiArray:
    arr = _check_chunk(actions)
    steps, dim = arr.shape
    msg = Float32MultiArray()
    msg.layout.dim = [
        MultiArrayDimension(label="step", size=steps, stride=steps * dim),
        MultiArrayDimension(label="action", size=dim, stride=dim),
    ]
    msg.layout.data_offset = 0
    msg.data = arr.astype(np.float32).reshape(-1).tolist()
    return msg


def float32_multi_array_to_chunk(msg: Float32MultiArray) -> np.ndarray:
    """Inverse of `chunk_to_float32_multi_array` (for consumers and tests)."""
    dims = list(msg.layout.dim)
    if len(dims) != 2:
        raise InputError(f"expected a 2-D layout (step, action), got {len(dims)} dimension(s)")
    data = np.asarray(msg.data, dtype=np.float32)[msg.layout.data_offset :]
    return data[: dims[0].size * dims[1].size].reshape(dims[0].size, dims[1].size)


def build_chunk_message(actions: np.ndarray, output: Any, *, stamp_ns: int, dt_ns: int, offset_ns: int) -> Any:
    """The message for `output` (`params.OutputSettings`)."""
    if output.type == "joint_trajectory":
        return chunk_to_joint_trajectory(
            actions,
            output.joint_names,
            stamp_ns=stamp_ns,
            dt_ns=dt_ns,
            offset_ns=offset_ns,
            frame_id=output.frame_id,
        )
    if output.type == "multi_dof_joint_trajectory":
        return chunk_to_multi_dof_trajectory(
            actions,
            stamp_ns=stamp_ns,
            dt_ns=dt_ns,
            offset_ns=offset_ns,
            eef_joint_name=output.eef_joint_name,
            gripper_joint_name=output.gripper_joint_name,
            translation_scale=output.translation_scale,
            rotation_scale=output.rotation_scale,
            frame_id=output.frame_id,
        )
    return chunk_to_float32_multi_array(actions)


def stop_message(output: Any, *, stamp_ns: int = 0) -> Any:
    """An empty chunk of the output type: joint_trajectory_controller stops and holds on an empty trajectory.

    `stamp_ns` 0 means "now" for a trajectory controller.
    """
    cls = OUTPUT_MESSAGE_TYPES[output.type]
    msg = cls()
    if hasattr(msg, "header"):
        msg.header.stamp = time_msg(stamp_ns)
        msg.header.frame_id = output.frame_id
    if output.type == "joint_trajectory":
        msg.joint_names = list(output.joint_names)
    elif output.type == "multi_dof_joint_trajectory":
        msg.joint_names = [output.eef_joint_name]
    else:
        msg.layout.dim = [
            MultiArrayDimension(label="step", size=0, stride=0),
            MultiArrayDimension(label="action", size=0, stride=0),
        ]
    return msg


# ---------------------------------------------------------------------------------------------- streams

GRIPPER_TYPES: dict[str, type] = {"joint_trajectory": JointTrajectory, "float64": Float64}
"""`output.gripper_type` → the message class of the gripper stream (names: `params.GRIPPER_TYPE_NAMES`)."""


def stream_types(output: Any) -> dict[str, type]:
    """kind → message type of each enabled stream (`params.OutputSettings`), in `params.STREAMS` order."""
    types = {"twist": TwistStamped, "pose": PoseStamped, "gripper": GRIPPER_TYPES[output.gripper_type]}
    return {kind: types[kind] for kind in STREAMS if kind in output.streams}


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
