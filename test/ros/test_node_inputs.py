"""Input options: CompressedImage cameras, and the three motion sources of the gate (end-effector pose,
integrated predicted deltas, joint states of two arms)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from node_harness import NODE

pytestmark = pytest.mark.ros


def _chunks(h):
    return [kv for kv in h.latency() if "chunk_index" in kv]


def test_compressed_camera_topics(node_harness):
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    from adp_ros.ros.image_conversion import array_to_compressed_imgmsg

    topics = ["camera/primary/image_raw/compressed", "camera/wrist/image_raw/compressed"]
    h = node_harness("libero", params={"topics.image_transport": "compressed", "topics.cameras": topics})
    preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
    assert h.wait_subscribed()
    deadline = time.monotonic() + 10.0
    while not preview and time.monotonic() < deadline:
        stamp = h.now_ns()
        jpeg = array_to_compressed_imgmsg(h.image, "rgb8", fmt="jpeg", stamp_ns=stamp)
        png = array_to_compressed_imgmsg(h.image, "rgb8", fmt="png", stamp_ns=stamp)
        h.publish(stamp, image_msgs=[jpeg, png])
        time.sleep(0.03)
    assert preview, "no chunk from compressed cameras"
    assert len(preview[-1].points) == 8


@pytest.mark.parametrize(
    ("preset", "params"),
    [
        ("libero", {}),  # eef_pose (the reference signal)
        ("libero", {"gate.motion_source": "predicted_delta"}),
        # joint_states, two arms combined by max; random weights: the first point is far from the joints
        ("aloha", {"safety.max_start_distance": [float("inf")]}),
    ],
    ids=["eef_pose", "predicted_delta", "joint_states"],
)
def test_gate_motion_sources_measure_displacement(
    ros_context, tiny_libero_checkpoint, tiny_aloha_checkpoint, preset, params
):
    """On sim time (frames every 25 ms, a request every 100 ms, inference taking no ROS time), so what each window
    holds does not depend on how fast this machine runs the model: under load the predicted-delta case saw an
    empty third window in wall time."""
    from node_harness import MS, Harness, ManualClock, wait_until

    checkpoint = tiny_libero_checkpoint if preset == "libero" else tiny_aloha_checkpoint
    settings = {"use_sim_time": True, "control.mode": "fixed_rate", "control.query_rate_hz": 10.0, **params}
    h = Harness(ros_context, checkpoint, preset=preset, start=False, params=settings)
    try:
        start = 1_000_000 * MS
        clock = ManualClock(h, start)
        clock.set(start)
        assert h.node.start_up()
        h.record_latency()
        assert h.wait_subscribed()
        for k in range(24):  # 6 requests: frames 0, 4, 8, ... (every 100 ms)
            h.eef = h.eef + np.array([0.004, 0.0, 0.0])
            n = len(_chunks(h))
            clock.frame(start + k * 25 * MS)  # the first at the clock's time: a later stamp is in the future
            if k % 4 == 0:
                assert wait_until(lambda n=n: len(_chunks(h)) > n, 15.0), f"no chunk for frame {k}"
        chunks = _chunks(h)
        assert len(chunks) == 6
        assert chunks[0]["gate_band"] == "initial" and chunks[0]["gate_displacement"] == ""
        # From the second request on, every window holds motion (predicted deltas: the first chunk's steps run
        # 50 and 100 ms after its start, within the second window).
        displacements = [float(c["gate_displacement"]) for c in chunks[1:]]
        assert all(d > 0 for d in displacements), displacements
        assert h.node.counters()["motion_samples_dropped"] == 0
    finally:
        h.close()
