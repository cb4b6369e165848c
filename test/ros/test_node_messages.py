"""Chunk → JointTrajectory / MultiDOFJointTrajectory / Float32MultiArray (ros/outputs.py), JointState /
PoseStamped / Image → numpy (ros/inputs.py), and the DiagnosticArray mapping. Message packages only: no rclpy
context is started. The rotation maths itself is tested in test/unit/test_rotations.py."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import Image, JointState

from adp_ros.core.diagnostics import WARN, DiagnosticsTracker
from adp_ros.core.errors import InputError
from adp_ros.core.rotations import axis_angle_to_quat
from adp_ros.core.stamps import ns_of
from adp_ros.ros import diagnostics as diag
from adp_ros.ros.inputs import JointSelector, image_to_rgb8, pose_to_xyz_axis_angle, pose_to_xyz_quat
from adp_ros.ros.outputs import (
    OUTPUT_MESSAGE_TYPES,
    build_chunk_message,
    chunk_to_float32_multi_array,
    chunk_to_joint_trajectory,
    chunk_to_multi_dof_trajectory,
    float32_multi_array_to_chunk,
    multi_dof_trajectory_to_chunk,
    stop_message,
)

MS = 1_000_000


def test_pose_to_proprio_prefix():
    pose = PoseStamped()
    pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = 0.4, -0.1, 0.3
    qx, qy, qz, qw = axis_angle_to_quat([0.0, 0.0, 0.5])
    pose.pose.orientation.x, pose.pose.orientation.y, pose.pose.orientation.z, pose.pose.orientation.w = qx, qy, qz, qw
    np.testing.assert_allclose(pose_to_xyz_axis_angle(pose), [0.4, -0.1, 0.3, 0.0, 0.0, 0.5], atol=1e-12)
    pose.pose.orientation.w = 0.0
    pose.pose.orientation.z = 0.0
    with pytest.raises(InputError, match=r"end-effector orientation .* unit quaternion"):
        pose_to_xyz_axis_angle(pose)
    pose.pose.orientation.w = math.nan
    with pytest.raises(InputError, match=r"end-effector orientation .* NaN"):
        pose_to_xyz_quat(pose)


def test_pose_orientation_is_passed_on_unnormalised():
    """The proprio sees the quaternion as measured, as LIBERO's does (robosuite does not normalise it)."""
    pose = PoseStamped()
    pose.pose.orientation.z, pose.pose.orientation.w = 0.0, 1.02
    np.testing.assert_array_equal(pose_to_xyz_quat(pose)[3:], [0.0, 0.0, 0.0, 1.02])


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
    assert [ns_of(p.time_from_start) for p in msg.points] == [53 * MS, 93 * MS, 133 * MS]
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


def test_multi_dof_trajectory_reads_back():
    chunk = np.random.default_rng(1).uniform(-1, 1, (5, 7))
    scales = {"translation_scale": 0.05, "rotation_scale": 0.5}
    msg = chunk_to_multi_dof_trajectory(chunk, stamp_ns=0, dt_ns=50 * MS, offset_ns=7 * MS, **scales)
    actions, times = multi_dof_trajectory_to_chunk(msg, **scales)
    np.testing.assert_allclose(actions, chunk, atol=1e-12)
    assert times == [7 * MS + (k + 1) * 50 * MS for k in range(5)]
    no_gripper = chunk_to_multi_dof_trajectory(chunk, stamp_ns=0, dt_ns=MS, gripper_joint_name="", **scales)
    assert np.isnan(multi_dof_trajectory_to_chunk(no_gripper, **scales)[0][:, 6]).all()
    with pytest.raises(InputError, match="lack the end-effector joint 'ee'"):
        multi_dof_trajectory_to_chunk(msg, eef_joint_name="ee")


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
        assert isinstance(empty, OUTPUT_MESSAGE_TYPES[kind])
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
