"""Latency diagnostics per chunk (~/latency), the standard /diagnostics status, and the debug image."""

from __future__ import annotations

import numpy as np
import pytest
from node_harness import NODE, wait_until

pytestmark = pytest.mark.ros

STAGE_KEYS = [
    f"{s}_ms" for s in ("conversion", "preprocess", "vision", "projector", "scoring", "llm", "head", "guard", "publish")
]


def test_latency_topic_has_stages_tokens_gate_and_counters(node_harness):
    from diagnostic_msgs.msg import DiagnosticStatus

    h = node_harness("libero", params={"control.mode": "fixed_rate", "control.query_rate_hz": 10.0})
    h.record_latency()
    assert h.wait_subscribed()
    # The arm moves 4 mm per frame (12 cm/s): after the 3-chunk cold start the gate prunes.
    h.stream_until(lambda: sum(kv.get("pruned") == "true" for kv in h.latency()) >= 2, timeout=20.0, move=0.004)
    chunks = [kv for kv in h.latency() if "chunk_index" in kv]
    assert len(chunks) >= 5
    kv = chunks[-1]
    for key in [
        *STAGE_KEYS,
        "compute_ms",
        "end_to_end_ms",
        "observation_age_ms",
        "queue_wait_ms",
        "tokens_kept",
        "tokens_dense",
        "keep_ratio",
        "gate_state",
        "gate_band",
        "gate_displacement",
        "gate_window",
        "dropped_frames",
        "sync_dropped./camera/primary/image_raw",  # one counter per input (issue 12), not a sum
        "sync_dropped./joint_states",
        "sync_missing./eef_pose",
        "observations_received",
    ]:
        assert key in kv, key
    assert all(float(kv[k]) >= 0 for k in STAGE_KEYS)
    # Random weights: LIBERO's unnormalised gripper often leaves the training range, and a chunk clamped to the
    # statistics' limits is a WARN (docs/safety.md); otherwise OK.
    clamped = kv["guard_modified"] == "true"
    assert kv["_level"] == (DiagnosticStatus.WARN[0] if clamped else DiagnosticStatus.OK[0])
    # The cold start is dense (gate window 3), then pruned chunks keep 50 % of the 512 visual tokens.
    assert [c["gate_band"] for c in chunks[:3]] == ["initial", "cold_start", "cold_start"]
    pruned = [c for c in chunks if c["pruned"] == "true"]
    assert pruned and all(c["tokens_kept"] == "256" and c["keep_ratio"] == "0.500" for c in pruned)
    assert all(c["tokens_kept"] == "512" for c in chunks if c["pruned"] == "false")
    assert float(pruned[-1]["gate_displacement"]) > 0.005  # metres per chunk, above the deadband
    # 30 Hz camera, 10 Hz chunks: frames that arrive while the worker is busy or waiting are dropped.
    assert int(kv["dropped_frames"]) > 0


def test_diagnostics_status_is_published_about_every_second(node_harness):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    from adp_ros.ros.diagnostics import values_of

    h = node_harness("libero", params={"diagnostics.period_sec": 0.2})
    got = h.record(DiagnosticArray, "/diagnostics")
    assert h.wait_subscribed()
    h.stream(1.5, hz=20)
    assert wait_until(lambda: len(got) >= 3, 5.0)
    status = got[-1].status[0]
    assert status.name == "adp_ros: policy"
    assert status.hardware_id == "cpu"
    assert status.level == DiagnosticStatus.OK
    values = values_of(status)
    assert values["schema_version"] == "1"
    assert values["lifecycle_state"] == "active"
    assert values["commands"] == "disabled"
    assert int(values["chunks"]) >= 1
    for key in ("end_to_end_ms_p50", "end_to_end_ms_p90", "llm_ms_p50", "vision_ms_p90", "rate_hz", "gate_sequence"):
        assert key in values, key
    assert "chunks/s" in status.message


def test_debug_image_shades_the_pruned_patches(node_harness):
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    from adp_ros.ros.image_conversion import imgmsg_to_rgb8

    h = node_harness(
        "libero",
        params={
            "pruning.mode": "static",  # every chunk pruned
            "pruning.keep_ratio": 0.25,
            "control.mode": "fixed_rate",
            "control.query_rate_hz": 10.0,
        },
    )
    h.image = np.full_like(h.image, 200)
    images = h.record(Image, NODE + "/debug_image", qos=qos_profile_sensor_data)
    preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
    assert h.wait_subscribed()
    h.stream_until(lambda: preview, timeout=10.0)
    assert images == [], "debug image is off by default"
    assert h.set_parameters({"diagnostics.debug_image": True})[0].successful  # live
    assert h.stream_until(lambda: images, timeout=10.0), "no debug image after enabling it live"
    rgb = imgmsg_to_rgb8(images[-1])
    assert rgb.shape == (224, 224, 3)
    patches = rgb.reshape(16, 14, 16, 14, 3).mean(axis=(1, 3, 4))
    clear = np.isclose(patches, 200, atol=1)
    dark = np.isclose(patches, 60, atol=1)  # 200 × (1 − 0.7)
    assert (clear | dark).all()
    # keep_ratio 0.25 of 512 tokens = 128 with the 40/60 split: 51 on the primary camera (shown).
    assert clear.sum() == 51

    # The picture is the policy's own 224×224 view of the frame (its crop and resize), not a re-crop.
    from adp_ros.model.policy import Observation

    rng = np.random.default_rng(0)
    h.image = rng.integers(0, 256, h.image.shape, dtype=np.uint8)
    seen = len(images)
    assert h.stream_until(lambda: len(images) > seen + 1, timeout=10.0)
    rgb = imgmsg_to_rgb8(images[-1])
    policy = h.node.policy
    view = policy.predict(Observation(images=[h.image] * 2, proprio=np.zeros(8), instruction="x")).views[0]
    kept = rgb.reshape(16, 14, 16, 14, 3).transpose(0, 2, 1, 3, 4).reshape(256, -1)
    expected = view.reshape(16, 14, 16, 14, 3).transpose(0, 2, 1, 3, 4).reshape(256, -1)
    same = (kept == expected).all(axis=1)
    assert same.sum() == 51, "the clear patches are the policy's view, pixel for pixel"
