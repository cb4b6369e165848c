"""Synchronised inputs → an action chunk of the right type, shape and stamps, for each output type and for
one and three cameras (real rclpy, tiny model)."""

from __future__ import annotations

import numpy as np
import pytest
from node_harness import MS, NODE, stamp_of, wait_until

from adp_ros.core.stamps import ns_of

pytestmark = pytest.mark.ros


def test_libero_multi_dof_chunk_is_stamped_with_its_observation(node_harness):
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    h = node_harness("libero")
    preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
    command = h.record(MultiDOFJointTrajectory, NODE + "/command")
    h.record_latency()
    assert h.wait_subscribed()
    stamps = []
    assert h.stream_until(lambda: preview, timeout=15.0, hz=20) or False, "no chunk on ~/preview"
    stamps = h.stream(0.5, hz=20)  # a few more chunks
    msg = preview[-1]
    assert isinstance(msg, MultiDOFJointTrajectory)
    assert list(msg.joint_names) == ["end_effector", "gripper"]
    assert len(msg.points) == 8  # LIBERO chunk
    assert msg.header.frame_id == "panda_link0"
    # The header stamp is the observation's (a camera stamp the harness published), not the publish time.
    published = set(stamps) | {stamp_of(m) for m in preview}
    assert stamp_of(msg) in published
    # time_from_start = age at publish + (k+1)·dt, dt = 50 ms (LIBERO 20 Hz): every point in the future.
    times = [ns_of(p.time_from_start) for p in msg.points]
    steps = np.diff(times)
    assert np.all(steps == 50 * MS)
    age = times[0] - 50 * MS
    assert 0 <= age < 2_000 * MS
    latency = [kv for kv in h.latency() if "end_to_end_ms" in kv]
    matching = [kv for kv in latency if int(kv["observation_stamp_ns"]) == stamp_of(msg)]
    assert matching, "latency record of the chunk"
    assert abs(float(matching[0]["end_to_end_ms"]) - age / 1e6) < 1.0
    # Each point: a delta transform (translation scaled by 0.05 m/unit, unit quaternion) and the gripper value.
    for point in msg.points:
        eef, grip = point.transforms
        q = eef.rotation
        assert abs(np.linalg.norm([q.x, q.y, q.z, q.w]) - 1.0) < 1e-9
        assert np.isfinite([eef.translation.x, grip.translation.x]).all()
    assert command == [], "commands start disabled: nothing on ~/command"


def test_three_cameras_aloha_joint_trajectory(node_harness):
    from trajectory_msgs.msg import JointTrajectory

    # Random weights: the first point is far from the joints; the default bound would refuse it (docs/safety.md).
    unbounded_start = {"safety.max_start_distance": [float("inf")]}
    h = node_harness("aloha", params={"control.mode": "fixed_rate", "control.query_rate_hz": 10.0, **unbounded_start})
    preview = h.record(JointTrajectory, NODE + "/preview")
    assert h.wait_subscribed()
    assert h.stream_until(lambda: len(preview) >= 2, timeout=15.0), "no chunk from three cameras"
    msg = preview[-1]
    names = h.values["proprio.joint_names"]
    assert list(msg.joint_names) == names
    assert len(msg.points) == 25  # ALOHA chunk
    assert all(len(p.positions) == 14 for p in msg.points)
    times = [ns_of(p.time_from_start) for p in msg.points]
    assert np.all(np.diff(times) == 40 * MS)  # 25 Hz
    assert h.node.counters()["observations_received"] >= 2


def test_float32_multi_array_has_a_layout(node_harness):
    from std_msgs.msg import Float32MultiArray

    from adp_ros.ros.outputs import float32_multi_array_to_chunk

    h = node_harness(
        "libero",
        params={"output.type": "float32_multi_array", "control.execute_steps": 5, "control.lead_steps": 1},
    )
    preview = h.record(Float32MultiArray, NODE + "/preview")
    h.record_latency()
    assert h.wait_subscribed()
    assert h.stream_until(lambda: preview, timeout=15.0)
    msg = preview[-1]
    assert [(d.label, d.size, d.stride) for d in msg.layout.dim] == [("step", 5, 35), ("action", 7, 7)]
    chunk = float32_multi_array_to_chunk(msg)
    assert chunk.shape == (5, 7) and np.isfinite(chunk).all()
    # No header on this type: the latency topic names the observation of each chunk.
    assert wait_until(lambda: any("observation_stamp_ns" in kv for kv in h.latency()), 5.0)


def test_trajectory_start_observation_aligns_points_with_the_observation(node_harness):
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    h = node_harness("libero", params={"control.trajectory_start": "observation", "output.gripper_joint_name": ""})
    preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
    assert h.wait_subscribed()
    assert h.stream_until(lambda: preview, timeout=15.0)
    msg = preview[-1]
    assert list(msg.joint_names) == ["end_effector"]
    assert [ns_of(p.time_from_start) for p in msg.points] == [(k + 1) * 50 * MS for k in range(8)]
