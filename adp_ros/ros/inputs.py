"""ROS messages → numpy: PoseStamped, JointState, Image / CompressedImage, and a synchronised set of them →
`ChunkInputs` (`ObservationAssembler`, used by the node and by `bag eval` alike). No rclpy import.

Duck-typed on the message fields, so rclpy messages and rosbags-deserialised messages both work. The proprio
of LIBERO checkpoints is [eef xyz, eef axis-angle (`core.rotations.quat_to_axis_angle`, robosuite's
`quat2axisangle`), joints]. What the node publishes is in `outputs.py`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from adp_ros.core.errors import InputError
from adp_ros.core.rotations import check_unit_quat, quat_to_axis_angle
from adp_ros.core.runner import ChunkInputs
from adp_ros.core.stamps import stamp_ns_of
from adp_ros.ros.image_conversion import compressed_imgmsg_to_rgb8, imgmsg_to_rgb8

# ------------------------------------------------------------------------------------------------- pose


def pose_position(msg: Any) -> np.ndarray:
    """PoseStamped (or Pose) → xyz."""
    pose = getattr(msg, "pose", msg)
    p = pose.position
    xyz = np.array([p.x, p.y, p.z], dtype=np.float64)
    if not np.isfinite(xyz).all():
        raise InputError(f"end-effector position {xyz.tolist()} has NaN or inf")
    return xyz


def pose_to_xyz_quat(msg: Any) -> np.ndarray:
    """PoseStamped (or Pose) → (x, y, z, qx, qy, qz, qw), the orientation checked to be a unit quaternion (and
    passed on as it came, not normalised)."""
    pose = getattr(msg, "pose", msg)
    q = pose.orientation
    quat = check_unit_quat([q.x, q.y, q.z, q.w], "end-effector orientation")
    return np.concatenate([pose_position(msg), quat])


def pose_to_xyz_axis_angle(msg: Any) -> np.ndarray:
    """PoseStamped → (x, y, z, rx, ry, rz): LIBERO's proprio prefix (eef position + axis-angle)."""
    pose = pose_to_xyz_quat(msg)
    return np.concatenate([pose[:3], quat_to_axis_angle(pose[3:])])


# ----------------------------------------------------------------------------------------------- joints


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


# ----------------------------------------------------------------------------------------------- images


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


# ---------------------------------------------------------------------------------------- observation


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
        parts = [np.concatenate([eef_pose[:3], quat_to_axis_angle(eef_pose[3:])])] if self._pose_proprio else []
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
