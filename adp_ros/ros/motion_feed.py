"""Motion messages → the gate's buffer: what the node's motion subscription and `bag eval` both do."""

from __future__ import annotations

from typing import Any

import numpy as np

from adp_ros.core.errors import InputError
from adp_ros.core.runner import ChunkRunner
from adp_ros.core.stamps import stamp_ns_of
from adp_ros.ros.inputs import pose_position


def feed_motion(runner: ChunkRunner, msg: Any) -> np.ndarray | None:
    """One JointState (the joint_states source) or PoseStamped (eef_pose) sample into `runner`'s gate, by its
    header stamp. Returns the position buffered for a pose, None otherwise (or when the sample was dropped as
    out of order). InputError for a sample without a stamp or with unusable values."""
    stamp = stamp_ns_of(msg)
    if not stamp:
        raise InputError(f"{type(msg).__name__} without header.stamp")
    if runner.joint_source is not None:
        runner.observe_joint_state(stamp, msg.name, msg.position)
        return None
    position = pose_position(msg)
    return position if runner.observe(stamp, position) else None
