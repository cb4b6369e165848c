"""Action chunks → trajectory messages, and JointState / PoseStamped / images → numpy. No rclpy import.

Outputs (`output.type`):
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
joint_trajectory_controller that receives it stops and holds the current position.

The per-period streams (`output.streams`: twist, pose target, gripper) are built in `outputs.py`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Quaternion, Transform, Twist, Vector3
from std_msgs.msg import Float32MultiArray, MultiArrayDimension
from trajectory_msgs.msg import (
    JointTrajectory,
    JointTrajectoryPoint,
    MultiDOFJointTrajectory,
    MultiDOFJointTrajectoryPoint,
)

from adp_ros.core.errors import InputError
from adp_ros.core.streaming import axis_angle_to_quat
from adp_ros.core.sync import stamp_ns_of
from adp_ros.core.worker import ChunkInputs
from adp_ros.ros.image_conversion import compressed_imgmsg_to_rgb8, imgmsg_to_rgb8

_NS = 1_000_000_000

OUTPUT_TYPES: dict[str, type] = {
    "joint_trajectory": JointTrajectory,
    "multi_dof_joint_trajectory": MultiDOFJointTrajectory,
    "float32_multi_array": Float32MultiArray,
}


# ---------------------------------------------------------------------------------------------- time


def time_msg(stamp_ns: int) -> Time:
    sec, nanosec = divmod(int(stamp_ns), _NS)
    return Time(sec=sec, nanosec=nanosec)


def duration_msg(duration_ns: int) -> Duration:
    sec, nanosec = divmod(int(duration_ns), _NS)
    return Duration(sec=sec, nanosec=nanosec)


def duration_ns(msg: Any) -> int:
    return int(msg.sec) * _NS + int(msg.nanosec)


def point_offsets_ns(steps: int, dt_ns: int, offset_ns: int = 0) -> list[int]:
    """time_from_start of each point: offset + (k+1)·dt."""
    return [int(offset_ns) + (k + 1) * int(dt_ns) for k in range(steps)]


# -------------------------------------------------------------------------------------------- rotation


def quaternion_to_axis_angle(quat: Sequence[float]) -> np.ndarray:
    """Quaternion (x, y, z, w) → rotation vector, exactly as LIBERO's `quat2axisangle` (robosuite) computes
    the proprio: w clipped to [-1, 1], zero vector when the angle is ~0. Not normalised first, as there."""
    x, y, z, w = (float(c) for c in quat)
    w = min(1.0, max(-1.0, w))
    den = math.sqrt(1.0 - w * w)
    if math.isclose(den, 0.0):
        return np.zeros(3)
    return np.array([x, y, z]) * 2.0 * math.acos(w) / den


def pose_position(msg: Any) -> np.ndarray:
    """PoseStamped (or Pose) → xyz."""
    pose = getattr(msg, "pose", msg)
    p = pose.position
    xyz = np.array([p.x, p.y, p.z], dtype=np.float64)
    if not np.isfinite(xyz).all():
        raise InputError(f"end-effector position {xyz.tolist()} has NaN or inf")
    return xyz


def pose_to_xyz_quat(msg: Any) -> np.ndarray:
    """PoseStamped (or Pose) → (x, y, z, qx, qy, qz, qw), the orientation checked to be a unit quaternion."""
    pose = getattr(msg, "pose", msg)
    q = pose.orientation
    quat = np.array([q.x, q.y, q.z, q.w], dtype=np.float64)
    if not np.isfinite(quat).all():
        raise InputError(f"end-effector orientation {quat.tolist()} has NaN or inf")
    norm = float(np.linalg.norm(quat))
    if not 0.9 < norm < 1.1:
        raise InputError(f"end-effector orientation {quat.tolist()} is not a unit quaternion (norm {norm:.3f})")
    return np.concatenate([pose_position(msg), quat])


def pose_to_xyz_axis_angle(msg: Any) -> np.ndarray:
    """PoseStamped → (x, y, z, rx, ry, rz): LIBERO's proprio prefix (eef position + axis-angle)."""
    pose = pose_to_xyz_quat(msg)
    return np.concatenate([pose[:3], quaternion_to_axis_angle(pose[3:])])


# ------------------------------------------------------------------------------------------------ inputs


class JointSelector:
    """Picks named joints, in a fixed order, from JointState messages; a missing name is an error."""

    def __init__(self, names: Sequence[str], parameter: str = "proprio.joint_names") -> None:
        self.names = tuple(names)
        self.parameter = parameter
        self._cache: tuple[tuple[str, ...], np.ndarray] | None = None

    def __call__(self, msg: Any) -> np.ndarray:
        if not self.names:
            return np.zeros(0)
        names = tuple(msg.name)
        if self._cache is None or self._cache[0] != names:
            lookup = {n: i for i, n in enumerate(names)}
            missing = [n for n in self.names if n not in lookup]
            if missing:
                raise InputError(
                    f"joint state lacks {missing} ({self.parameter}); it has {list(names)}: fix the parameter or "
                    "the topic"
                )
            self._cache = (names, np.array([lookup[n] for n in self.names], dtype=np.intp))
        position = np.asarray(msg.position, dtype=np.float64)
        if position.shape[0] != len(names):
            raise InputError(f"joint state has {len(names)} names but {position.shape[0]} positions")
        values = position[self._cache[1]]
        if not np.isfinite(values).all():
            bad = [n for n, v in zip(self.names, values, strict=True) if not math.isfinite(v)]
            raise InputError(f"joint state positions of {bad} are NaN or inf")
        return values


def image_to_rgb8(msg: Any, topic: str = "") -> np.ndarray:
    """Image or CompressedImage → H×W×3 uint8 RGB; errors name the topic."""
    try:
        if hasattr(msg, "encoding"):
            return imgmsg_to_rgb8(msg)
        return compressed_imgmsg_to_rgb8(msg)
    except InputError as exc:
        where = f" on {topic}" if topic else ""
        raise InputError(f"camera image{where}: {exc}") from None
    except (ValueError, TypeError) as exc:
        where = f" on {topic}" if topic else ""
        raise InputError(f"camera image{where} is malformed: {exc}") from None


class ObservationAssembler:
    """A synchronised message set → `ChunkInputs`: images, proprio, stamps, the measured output joints.

    The set is (cameras in model order, then the JointState when `needs_joint_states`, then the PoseStamped
    when `needs_pose`), as the node subscribes them: the cameras synchronised among themselves, the states the
    samples nearest to the cameras' stamp (`ros.sync.create_observation_sync`). Proprio = [eef xyz +
    axis-angle], then the named joints.
    The pose is in the set for the proprio or for the pose targets (output.streams pose), which start from it.
    """

    def __init__(self, config: Any) -> None:
        """`config`: `params.NodeConfig`."""
        self.cameras = tuple(config.topics.cameras)
        self._pose_proprio = config.proprio.uses_eef_pose
        self.needs_pose = self._pose_proprio or config.output.streams_pose
        self._proprio = JointSelector(config.proprio.joint_names)
        self._state = (
            JointSelector(config.output.joint_names, "output.joint_names")
            if config.output.type == "joint_trajectory"
            else None
        )
        self.needs_joint_states = bool(config.proprio.joint_names) or self._state is not None

    def __call__(self, msgs: Sequence[Any], received_ns: int) -> ChunkInputs:
        started = time.perf_counter()
        n = len(self.cameras)
        images = [image_to_rgb8(m, t) for m, t in zip(msgs[:n], self.cameras, strict=True)]
        rest = list(msgs[n:])
        joints = rest.pop(0) if self.needs_joint_states else None
        pose_msg = rest.pop(0) if self.needs_pose else None
        eef_pose = pose_to_xyz_quat(pose_msg) if pose_msg is not None else None
        parts = [np.concatenate([eef_pose[:3], quaternion_to_axis_angle(eef_pose[3:])])] if self._pose_proprio else []
        if self._proprio.names:
            parts.append(self._proprio(joints))
        stamps = tuple(stamp_ns_of(m) or 0 for m in msgs)
        return ChunkInputs(
            images=images,
            proprio=np.concatenate(parts),
            stamps_ns=stamps,
            observation_stamp_ns=max(stamps[:n]),
            received_ns=received_ns,
            current_state=self._state(joints) if self._state is not None else None,
            conversion_ms=(time.perf_counter() - started) * 1e3,
            eef_pose=eef_pose,
            eef_frame_id=pose_msg.header.frame_id if pose_msg is not None else "",
        )


# ----------------------------------------------------------------------------------------------- outputs


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
        rotvec = quaternion_to_axis_angle((q.x, q.y, q.z, q.w)) / rotation_scale
        g = point.transforms[grip].translation.x if grip is not None else math.nan
        row = [t.translation.x / translation_scale, t.translation.y / translation_scale]
        row += [t.translation.z / translation_scale, *rotvec.tolist(), g]
        rows.append(row)
        times.append(duration_ns(point.time_from_start))
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
    cls = OUTPUT_TYPES[output.type]
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
