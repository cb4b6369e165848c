"""Chunk rate under a 30 Hz camera stream with bounded memory: inference never blocks the subscriptions, only
the newest observation is kept (slot of one), frames that arrive during inference are counted as dropped."""

from __future__ import annotations

import time

import pytest
from node_harness import Harness

pytestmark = pytest.mark.ros

CAMERA_HZ = 30.0


@pytest.fixture(scope="module")
def slow_checkpoint(tmp_path_factory):
    """A tiny model made slower than the camera period (~60-70 ms per chunk on one CPU core, vs 33 ms)."""
    from adp_ros.core.platform import LIBERO
    from adp_ros.model.tiny import TinySpec, make_tiny_checkpoint

    spec = TinySpec(llm_dim=256, llm_layers=6, llm_heads=4, llm_intermediate=688)
    return make_tiny_checkpoint(tmp_path_factory.mktemp("slow") / "ckpt", LIBERO, spec)


def _run(h: Harness, seconds: float) -> tuple[list[dict], list[dict]]:
    """Stream at 30 Hz, sampling the node's queue sizes while it runs."""
    samples = []
    h.stream_until(lambda: [kv for kv in h.latency() if "chunk_index" in kv], timeout=10.0)
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        h.stream(0.25, hz=CAMERA_HZ, move=0.002)
        samples.append(h.node.counters())
    return [kv for kv in h.latency() if "chunk_index" in kv], samples


def test_inference_slower_than_the_camera_drops_frames_with_bounded_queues(ros_context, slow_checkpoint):
    h = Harness(
        ros_context,
        slow_checkpoint,
        params={"control.mode": "fixed_rate", "control.query_rate_hz": 1000.0, "sync.queue_size": 5},
    )
    try:
        h.record_latency()
        assert h.wait_subscribed()
        first = h.node.counters()
        chunks, samples = _run(h, 2.5)
        snapshot = h.node.diagnostics_snapshot()
    finally:
        h.close()
    # Back-to-back inference: the chunk rate is the model's, below the camera's.
    assert snapshot.rate_hz is not None and 3.0 < snapshot.rate_hz < CAMERA_HZ
    compute = sorted(float(kv["compute_ms"]) for kv in chunks)
    assert compute[len(compute) // 2] > 1000.0 / CAMERA_HZ, "the model is not slower than the camera here"
    dropped = [s["dropped_frames"] for s in samples]
    assert dropped == sorted(dropped) and dropped[-1] > dropped[0] > first["dropped_frames"] - 1
    assert dropped[-1] >= 0.3 * samples[-1]["observations_received"]
    # Bounded memory: one pending observation at most, the synchroniser below inputs × queue_size.
    assert all(s["observation_slot"] <= 1 for s in samples)
    assert all(s["sync_queued"] <= 3 * 5 for s in samples)
    # A frame is never processed late: the wait in the slot stays below one inference + one frame period.
    waits = sorted(float(kv["queue_wait_ms"]) for kv in chunks)
    assert waits[len(waits) // 2] < 150.0


def test_fixed_rate_and_chunk_end_rates(node_harness):
    h = node_harness("libero", params={"control.mode": "fixed_rate", "control.query_rate_hz": 5.0})
    h.record_latency()
    assert h.wait_subscribed()
    _, samples = _run(h, 2.0)
    rate = h.node.diagnostics_snapshot().rate_hz
    assert rate is not None and 4.0 < rate < 6.0
    assert samples[-1]["dropped_frames"] > 20  # ~25 of 30 frames/s are never used

    assert h.set_parameters({"control.mode": "chunk_end", "control.lead_steps": 2})[0].successful  # live
    h.stream(0.5, hz=CAMERA_HZ)
    n = len(h.latency())
    h.stream(2.0, hz=CAMERA_HZ)
    stamps = [int(kv["observation_stamp_ns"]) for kv in h.latency()[n:] if "chunk_index" in kv]
    rate = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1e9)
    # LIBERO: 8 steps at 20 Hz, the next chunk requested 2 steps before the end: every 6 × 50 ms = 3.3 Hz.
    assert 2.7 < rate < 3.9, rate
