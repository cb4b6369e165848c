"""Input options: CompressedImage cameras, and the three motion sources of the gate (end-effector pose,
integrated predicted deltas, joint states of two arms)."""

from __future__ import annotations

import time

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
def test_gate_motion_sources_measure_displacement(node_harness, preset, params):
    h = node_harness(preset, params={"control.mode": "fixed_rate", "control.query_rate_hz": 10.0, **params})
    h.record_latency()
    assert h.wait_subscribed()
    h.stream_until(lambda: len(_chunks(h)) >= 5, timeout=15.0, move=0.004)
    chunks = _chunks(h)
    assert chunks[0]["gate_band"] == "initial" and chunks[0]["gate_displacement"] == ""
    # From the third request on, every window holds motion (predicted deltas: the first chunk's steps only
    # count once executed, so the second window may still be empty).
    displacements = [float(c["gate_displacement"]) for c in chunks[2:]]
    assert all(d > 0 for d in displacements), displacements
    assert h.node.counters()["motion_samples_dropped"] == 0
