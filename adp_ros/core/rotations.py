"""Rotation maths, the one place for it: quaternions ↔ axis-angle (rotation vectors), the Hamilton product,
the unit-quaternion check. numpy only; no ROS.

Conventions: quaternions are (x, y, z, w), as geometry_msgs/Quaternion and robosuite hold them; a rotation
vector is axis × angle in radians.

`quat_to_axis_angle` is robosuite's `transform_utils.quat2axisangle`, the function with which LIBERO computes
the proprio the checkpoints were trained on, and it stays bit-identical to it: the input is not normalised, w is
clipped to [-1, 1], the angle is 2·acos(w) (so w < 0 gives an angle in (π, 2π], not the shorter rotation the
other way), and the zero vector comes back only when sqrt(1 - w²) is exactly 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adp_ros.core.errors import InputError

IDENTITY = (0.0, 0.0, 0.0, 1.0)
"""The identity rotation as (x, y, z, w)."""

UNIT_NORM_TOLERANCE = 0.1
"""`check_unit_quat` accepts a norm within 1 ± this: a measured orientation that far off is a wrong field,
not rounding."""


def axis_angle_to_quat(rotvec: Any) -> np.ndarray:
    """Rotation vector (axis × angle, radians) → unit quaternion (x, y, z, w); w = cos(angle / 2), so w >= 0
    for angles up to π. Angles below 1e-12 rad give the identity exactly."""
    v = np.asarray(rotvec, dtype=np.float64).reshape(3)
    angle = float(np.linalg.norm(v))
    if angle < 1e-12:
        return np.array(IDENTITY)
    return np.concatenate([v / angle * math.sin(angle / 2), [math.cos(angle / 2)]])


def quat_to_axis_angle(quat: Any) -> np.ndarray:
    """Quaternion (x, y, z, w) → rotation vector, exactly as robosuite's `quat2axisangle` (LIBERO's proprio):
    not normalised first, w clipped to [-1, 1], the zero vector when sqrt(1 - w²) is 0 (see the module
    docstring). Unlike robosuite it leaves its input unchanged."""
    x, y, z, w = (float(c) for c in np.asarray(quat, dtype=np.float64).reshape(4))
    w = min(1.0, max(-1.0, w))
    den = math.sqrt(1.0 - w * w)
    if math.isclose(den, 0.0):
        return np.zeros(3)
    return np.array([x, y, z]) * 2.0 * math.acos(w) / den


def quat_multiply(a: Any, b: Any) -> np.ndarray:
    """Hamilton product a ⊗ b of (x, y, z, w) quaternions: the rotation b, then a."""
    ax, ay, az, aw = (float(c) for c in a)
    bx, by, bz, bw = (float(c) for c in b)
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ]
    )


def check_unit_quat(quat: Any, what: str = "orientation") -> np.ndarray:
    """`quat` as a float64 (4,) array, unchanged (not normalised); InputError naming `what` when it holds NaN or
    inf or its norm is not within 1 ± `UNIT_NORM_TOLERANCE`."""
    q = np.asarray(quat, dtype=np.float64)
    if q.shape != (4,):
        raise InputError(f"{what} has shape {q.shape}; expected a quaternion x y z w")
    if not np.isfinite(q).all():
        raise InputError(f"{what} {q.tolist()} has NaN or inf")
    norm = float(np.linalg.norm(q))
    if not 1.0 - UNIT_NORM_TOLERANCE < norm < 1.0 + UNIT_NORM_TOLERANCE:
        raise InputError(f"{what} {q.tolist()} is not a unit quaternion (norm {norm:.3f})")
    return q
