"""Chunk → JointTrajectory / MultiDOFJointTrajectory / Float32MultiArray, JointState / PoseStamped → numpy,
and the DiagnosticArray mapping. Message packages only: no rclpy context is started."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import Image, JointState

from adp_ros.core.diagnostics import WARN, DiagnosticsTracker
from adp_ros.core.errors import InputError
from adp_ros.core.streaming import axis_angle_to_quat as axis_angle_to_quaternion
from adp_ros.ros import diagnostics as diag
from adp_ros.ros.messages import (
    JointSelector,
    build_chunk_message,
    chunk_to_float32_multi_array,
    chunk_to_joint_trajectory,
    chunk_to_multi_dof_trajectory,
    duration_ns,
    float32_multi_array_to_chunk,
    image_to_rgb8,
    pose_to_xyz_axis_angle,
    quaternion_to_axis_angle,
    stop_message,
)

MS = 1_000_000


def _libero_quat2axisangle(quat):
    """robosuite's transform_utils.quat2axisangle, as LIBERO's eval computes proprio (reference)."""
    quat = np.array(quat, dtype=np.float64)
    quat[3] = min(1.0, max(-1.0, quat[3]))
    den = np.sqrt(1.0 - quat[3] * quat[3])
    if math.isclose(den, 0.0):
        return np.zeros(3)
    return (quat[:3] * 2.0 * math.acos(quat[3])) / den


@pytest.mark.parametrize("rotvec", [[0.0, 0.0, 0.0], [0.3, -0.2, 0.1], [math.pi - 1e-3, 0.0, 0.0], [0.0, 2.0, 1.0]])
def test_axis_angle_quaternion_round_trip_matches_libero(rotvec):
    quat = axis_angle_to_quaternion(rotvec)
    assert np.linalg.norm(quat) == pytest.approx(1.0)
    np.testing.assert_allclose(quaternion_to_axis_angle(quat), rotvec, atol=1e-9)
    np.testing.assert_allclose(quaternion_to_axis_angle(quat), _libero_quat2axisangle(quat), atol=1e-12)


def test_pose_to_proprio_prefix():
    pose = PoseStamped()
    pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = 0.4, -0.1, 0.3
    qx, qy, qz, qw = axis_angle_to_quaternion([0.0, 0.0, 0.5])
    pose.pose.orientation.x, pose.pose.orientation.y, pose.pose.orientation.z, pose.pose.orientation.w = qx, qy, qz, qw
    np.testing.assert_allclose(pose_to_xyz_axis_angle(pose), [0.4, -0.1, 0.3, 0.0, 0.0, 0.5], atol=1e-12)
    pose.pose.orientation.w = 0.0
    pose.pose.orientation.z = 0.0
    with pytest.raises(InputError, match="unit quaternion"):
        pose_to_xyz_axis_angle(pose)


def test_joint_selector_orders_and_refuses_missing_or_nan():
    select = JointSelector(["b", "a"])
    msg = JointState(name=["a", "b", "c"], position=[1.0, 2.0, 3.0])
    np.testing.assert_array_equal(select(msg), [2.0, 1.0])
    with pytest.raises(InputError, match=r"lacks \['a'\] \(proprio.joint_names\)"):
        select(JointState(name=["b", "c"], position=[1.0, 2.0]))
    with pytest.raises(InputError, match=r"\['a'\] are NaN"):
        select(JointState(name=["a", "b"], position=[math.nan, 2.0]))
    with pytest.raises(InputError, match="2 names but 1 positions"):
        select(JointState(name=["a", "b"], position=[1.0]))


def test_joint_trajectory_points_and_timing():
    chunk = np.arange(6, dtype=np.float64).reshape(3, 2)
    msg = chunk_to_joint_trajectory(chunk, ["j1", "j2"], stamp_ns=5 * 10**9 + 7, dt_ns=40 * MS, offset_ns=13 * MS)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (5, 7)
    assert list(msg.joint_names) == ["j1", "j2"]
    assert [list(p.positions) for p in msg.points] == chunk.tolist()
    assert [duration_ns(p.time_from_start) for p in msg.points] == [53 * MS, 93 * MS, 133 * MS]
    with pytest.raises(InputError):
        chunk_to_joint_trajectory(chunk, ["j1"], stamp_ns=0, dt_ns=MS)


def test_multi_dof_trajectory_maps_deltas_rotation_and_gripper():
    chunk = np.array([[1.0, 0.0, -2.0, 0.0, 0.0, 1.0, -1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]])
    msg = chunk_to_multi_dof_trajectory(
        chunk, stamp_ns=0, dt_ns=50 * MS, translation_scale=0.05, rotation_scale=0.5, frame_id="base"
    )
    assert list(msg.joint_names) == ["end_effector", "gripper"]
    eef, grip = msg.points[0].transforms
    assert (eef.translation.x, eef.translation.z) == pytest.approx((0.05, -0.1))
    assert (eef.rotation.z, eef.rotation.w) == pytest.approx((math.sin(0.25), math.cos(0.25)))
    assert grip.translation.x == -1.0
    assert msg.points[1].transforms[0].rotation.w == 1.0
    assert len(msg.points[0].velocities) == 2
    no_gripper = chunk_to_multi_dof_trajectory(chunk, stamp_ns=0, dt_ns=MS, gripper_joint_name="")
    assert list(no_gripper.joint_names) == ["end_effector"] and len(no_gripper.points[0].transforms) == 1


def test_float32_multi_array_round_trip_and_stop_messages():
    chunk = np.random.default_rng(0).normal(size=(8, 7))
    msg = chunk_to_float32_multi_array(chunk)
    np.testing.assert_allclose(float32_multi_array_to_chunk(msg), chunk, rtol=1e-6)
    out = SimpleNamespace(
        type="joint_trajectory",
        joint_names=("j1", "j2"),
        frame_id="",
        eef_joint_name="ee",
        gripper_joint_name="g",
        translation_scale=1.0,
        rotation_scale=1.0,
    )
    stop = stop_message(out)
    assert list(stop.joint_names) == ["j1", "j2"] and len(stop.points) == 0
    assert stop.header.stamp.sec == 0  # 0 = "now" for a trajectory controller
    for kind in ("multi_dof_joint_trajectory", "float32_multi_array"):
        out.type = kind
        empty = stop_message(out)
        assert len(getattr(empty, "points", getattr(empty, "data", []))) == 0
    out.type = "joint_trajectory"
    built = build_chunk_message(chunk[:, :2], out, stamp_ns=1, dt_ns=MS, offset_ns=0)
    assert len(built.points) == 8


def test_image_errors_name_the_topic():
    bad = Image(height=2, width=2, encoding="32FC1", step=8, data=bytes(16))
    with pytest.raises(InputError, match=r"camera image on cam0: .*32FC1"):
        image_to_rgb8(bad, "cam0")
    short = Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(10))
    with pytest.raises(InputError, match="cam1"):
        image_to_rgb8(short, "cam1")


def test_snapshot_and_skipped_chunk_arrays():
    from diagnostic_msgs.msg import DiagnosticStatus

    tracker = DiagnosticsTracker()
    tracker.activated(0)
    tracker.record_event("stale", "observation is 900.0 ms old", 10)
    snap = tracker.snapshot(20)
    msg = diag.snapshot_array(snap, hardware_id="cuda:0")
    status = msg.status[0]
    assert status.name == "adp_ros: policy" and status.hardware_id == "cuda:0"
    assert status.level == DiagnosticStatus.WARN and status.level[0] == WARN  # DiagnosticStatus.level is bytes
    assert diag.values_of(status)["last_event"] == "stale"
    skipped = diag.skipped_chunk_array("bad_input", "why", WARN, hardware_id="cpu", stamp_ns=5).status[0]
    assert skipped.name == "adp_ros: latency" and diag.values_of(skipped)["reason"] == "why"
