"""core/rotations.py: quaternion ↔ axis-angle (bit-identical to robosuite's quat2axisangle, LIBERO's proprio),
the Hamilton product and the unit-quaternion check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adp_ros.core.errors import InputError
from adp_ros.core.rotations import (
    IDENTITY,
    axis_angle_to_quat,
    check_unit_quat,
    quat_multiply,
    quat_to_axis_angle,
)


def _robosuite_quat2axisangle(quat):
    """robosuite.utils.transform_utils.quat2axisangle verbatim (it clips its argument in place, hence the
    copy), as LIBERO's evaluation computes the proprio: the reference."""
    quat = np.array(quat, dtype=np.float64)
    if quat[3] > 1.0:
        quat[3] = 1.0
    elif quat[3] < -1.0:
        quat[3] = -1.0
    den = np.sqrt(1.0 - quat[3] * quat[3])
    if math.isclose(den, 0.0):
        return np.zeros(3)
    return (quat[:3] * 2.0 * math.acos(quat[3])) / den


def _matrix(q) -> np.ndarray:
    """Rotation matrix of a unit quaternion (x, y, z, w)."""
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _random_quats(n: int, seed: int = 0) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


# ------------------------------------------------------------------------------------------ LIBERO's convention


def test_quat_to_axis_angle_is_bit_identical_to_robosuite_over_random_quaternions():
    quats = _random_quats(2000)
    assert (quats[:, 3] < 0).sum() > 500  # both hemispheres: w < 0 gives angles in (π, 2π]
    scaled = quats * np.random.default_rng(1).uniform(0.8, 1.2, (len(quats), 1))  # not normalised
    edge = [[0, 0, 0, 1], [0, 0, 0, -1], [1, 0, 0, 0], [0, 0, 0, 1.5], [0, 0, 0, -1.5], [0.3, 0, 0, 1.0 - 1e-17]]
    for q in [*quats, *scaled, *np.array(edge, dtype=np.float64), *quats.astype(np.float32)]:
        np.testing.assert_array_equal(quat_to_axis_angle(q), _robosuite_quat2axisangle(q))


def test_quat_to_axis_angle_leaves_its_input_alone():
    q = np.array([0.0, 0.0, 0.0, 1.5])
    quat_to_axis_angle(q)
    assert q[3] == 1.5  # robosuite's clips its argument in place


def test_non_normalised_input_is_not_normalised():
    """As in robosuite: the axis is scaled by the norm and w is read as is, so only unit input round-trips."""
    q = axis_angle_to_quat([0.0, 0.0, 0.5])
    np.testing.assert_allclose(quat_to_axis_angle(q * 1.01)[:2], 0.0)
    assert quat_to_axis_angle(q * 1.01)[2] != pytest.approx(0.5, abs=1e-3)
    assert quat_to_axis_angle(q)[2] == pytest.approx(0.5, abs=1e-12)


# -------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "rotvec",
    [[0.0, 0.0, 0.0], [1e-13, 0.0, 0.0], [0.3, -0.2, 0.1], [math.pi - 1e-3, 0.0, 0.0], [0.0, 2.0, 1.0], [0, 0, 4.0]],
)
def test_axis_angle_round_trip(rotvec):
    quat = axis_angle_to_quat(rotvec)
    assert np.linalg.norm(quat) == pytest.approx(1.0)
    expected = rotvec if np.linalg.norm(rotvec) >= 1e-12 else [0.0, 0.0, 0.0]
    np.testing.assert_allclose(quat_to_axis_angle(quat), expected, atol=1e-9)


def test_quaternion_round_trip_up_to_sign():
    for q in _random_quats(500, seed=2):
        back = axis_angle_to_quat(quat_to_axis_angle(q))
        np.testing.assert_allclose(back, q, atol=1e-9)  # w < 0 reads as an angle > π: the same quaternion back


def test_identity():
    np.testing.assert_array_equal(axis_angle_to_quat([0.0, 0.0, 0.0]), IDENTITY)
    np.testing.assert_array_equal(quat_to_axis_angle(IDENTITY), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(quat_to_axis_angle([0.0, 0.0, 0.0, -1.0]), [0.0, 0.0, 0.0])  # a full turn
    np.testing.assert_array_equal(quat_multiply(IDENTITY, [0.1, 0.2, 0.3, 0.9]), [0.1, 0.2, 0.3, 0.9])


def test_half_turn():
    q = axis_angle_to_quat([math.pi, 0.0, 0.0])
    np.testing.assert_allclose(q, [1.0, 0.0, 0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(quat_to_axis_angle(q), [math.pi, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(quat_to_axis_angle([0.0, 1.0, 0.0, 0.0]), [0.0, math.pi, 0.0], atol=1e-15)
    np.testing.assert_allclose(_matrix(axis_angle_to_quat([0.0, 0.0, math.pi])), np.diag([-1.0, -1.0, 1.0]), atol=1e-15)


def test_known_rotation_and_the_product_composes_rotations():
    q = axis_angle_to_quat([0.0, 0.0, math.pi / 2])
    np.testing.assert_allclose(q, [0, 0, math.sin(math.pi / 4), math.cos(math.pi / 4)])
    a, b = axis_angle_to_quat([0.1, 0.2, 0.3]), axis_angle_to_quat([-0.4, 0.0, 0.7])
    np.testing.assert_allclose(_matrix(quat_multiply(a, b)), _matrix(a) @ _matrix(b), atol=1e-15)


# -------------------------------------------------------------------------------------------------- check


def test_check_unit_quat():
    q = check_unit_quat([0.0, 0.0, 0.0, 1.05], "eef")
    assert q.dtype == np.float64 and q[3] == 1.05  # returned unchanged
    for bad, match in [
        ([0.0, 0.0, 0.0, 0.0], r"eef \[0.0, 0.0, 0.0, 0.0\] is not a unit quaternion \(norm 0.000\)"),
        ([0.0, 0.0, 0.0, 1.1], "not a unit quaternion"),
        ([0.0, 0.0, math.nan, 1.0], "eef .* has NaN or inf"),
        ([0.0, 0.0, 1.0], r"eef has shape \(3,\)"),
    ]:
        with pytest.raises(InputError, match=match):
            check_unit_quat(bad, "eef")
