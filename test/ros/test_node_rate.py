"""Request scheduling and bounded memory under a camera stream.

The schedules (fixed_rate, chunk_end) run on a /clock the test sets frame by frame (use_sim_time): which frame
becomes a chunk is exact, whatever the load of the machine. Only the slow-model test runs on wall time (inference
that is slower than the camera is a wall-time matter); it compares quantities measured over the same interval
(chunk period vs compute time vs frame period, dropped vs unused frames), never a rate against a fixed band.
"""

from __future__ import annotations

import statistics
import time

import pytest
from node_harness import MS, NODE, Harness, ManualClock, stamp_of, wait_until

pytestmark = pytest.mark.ros

CAMERA_HZ = 30.0
FRAME_NS = 25 * MS  # the simulated camera: 40 Hz, 8 frames per 200 ms query period, 12 per 300 ms chunk_end period
T0 = 1_000_000 * MS


@pytest.fixture(scope="module")
def slow_checkpoint(tmp_path_factory):
    """A tiny model made slower than the camera period (~60-70 ms per chunk on one CPU core, vs 33 ms)."""
    from adp_ros.core.platform import LIBERO
    from adp_ros.model.tiny import TinySpec, make_tiny_checkpoint

    spec = TinySpec(llm_dim=256, llm_layers=6, llm_heads=4, llm_intermediate=688)
    return make_tiny_checkpoint(tmp_path_factory.mktemp("slow") / "ckpt", LIBERO, spec)


def _is_chunk(kv: dict) -> bool:
    return "chunk_index" in kv


def test_inference_slower_than_the_camera_drops_frames_with_bounded_queues(ros_context, slow_checkpoint):
    h = Harness(
        ros_context,
        slow_checkpoint,
        params={"control.mode": "fixed_rate", "control.query_rate_hz": 1000.0, "sync.queue_size": 5},
    )
    try:
        h.record_latency()
        assert h.wait_subscribed()
        h.stream_until(lambda: [kv for kv in h.latency() if _is_chunk(kv)], timeout=10.0)
        skip = len(h.received[NODE + "/latency"])
        first = h.node.counters()
        samples, stamps = [], []
        start = time.monotonic()
        # Stream at 30 Hz, sampling the node's queue sizes meanwhile: 2.5 s, longer if that gave < 5 chunks.
        while time.monotonic() - start < 2.5 or len([kv for kv in h.latency()[skip:] if _is_chunk(kv)]) < 5:
            assert time.monotonic() - start < 60.0, "fewer than 5 chunks in 60 s"
            stamps += h.stream(0.25, hz=CAMERA_HZ, move=0.002)
            samples.append(h.node.counters())
    finally:
        h.close()
    latency = list(zip(h.received[NODE + "/latency"][skip:], h.latency()[skip:], strict=True))
    chunks = [kv for _, kv in latency if _is_chunk(kv)]
    published = [stamp_of(m) for m, kv in latency if _is_chunk(kv)]
    # Periods over this one interval (ROS time is wall time here): frames sent, chunks published, compute.
    frame_ms = (stamps[-1] - stamps[0]) / (len(stamps) - 1) / MS
    chunk_ms = (published[-1] - published[0]) / (len(published) - 1) / MS
    compute_ms = statistics.fmean(float(kv["compute_ms"]) for kv in chunks)
    numbers = f"frame {frame_ms:.1f} ms, chunk {chunk_ms:.1f} ms, compute {compute_ms:.1f} ms"
    assert compute_ms > frame_ms, f"the model is not slower than the camera here: {numbers}"
    # Back-to-back inference: the chunk rate is the model's (the worker busy at least half the time, never
    # waiting for a schedule at 1000 Hz), below the camera's.
    assert frame_ms < chunk_ms < 2.0 * compute_ms, numbers
    # Every frame that never became a request was counted as dropped (give or take the one in the slot at either
    # end, and one arriving while the counters are read).
    last = samples[-1]
    received = last["observations_received"] - first["observations_received"]
    used = last["chunk_attempts"] - first["chunk_attempts"]
    dropped = [s["dropped_frames"] for s in samples]
    assert dropped == sorted(dropped) and dropped[-1] > dropped[0] >= first["dropped_frames"]
    assert abs(dropped[-1] - first["dropped_frames"] - (received - used)) <= 2, (received, used, dropped)
    assert 0 < used < received, (used, received)
    # Bounded memory: one pending observation at most, the synchroniser below inputs × queue_size.
    assert all(s["observation_slot"] <= 1 for s in samples)
    assert all(s["sync_queued"] <= 3 * 5 for s in samples)
    # A frame is never processed late: the wait in the slot stays below one inference + one frame period.
    waits = statistics.median(float(kv["queue_wait_ms"]) for kv in chunks)
    assert waits < compute_ms + frame_ms, f"median wait {waits:.1f} ms; {numbers}"


def _chunk_stamps(h: Harness) -> list[int]:
    """Observation stamps of the chunks published so far."""
    return [int(kv["observation_stamp_ns"]) for kv in h.latency() if _is_chunk(kv)]


def _due(frames: list[int], period_ns: int, last_ns: int) -> list[int]:
    """The frames a schedule turns into chunks: the first frame at or after the previous request + period (the
    chunk starts when it is published, at the frame's ROS time: the clock stands still meanwhile)."""
    due = []
    for t in frames:
        if t >= last_ns + period_ns:
            due.append(t)
            last_ns = t
    return due


def _drive(h: Harness, clock: ManualClock, frames: list[int], due: list[int]) -> None:
    """One frame at a time; at a due frame, wait for its chunk before the next frame can take its place."""
    for t in frames:
        n = len(_chunk_stamps(h))
        clock.frame(t)
        if t in due:
            assert wait_until(lambda n=n: len(_chunk_stamps(h)) > n, 15.0), f"no chunk for the frame at {t}"


def test_fixed_rate_and_chunk_end_rates(ros_context, tiny_libero_checkpoint):
    h = Harness(
        ros_context,
        tiny_libero_checkpoint,
        start=False,
        params={"use_sim_time": True, "control.mode": "fixed_rate", "control.query_rate_hz": 5.0},
    )
    try:
        clock = ManualClock(h, T0)
        clock.set(T0)
        assert h.node.start_up()
        h.record_latency()
        assert h.wait_subscribed()
        node = h.node

        # fixed_rate at 5 Hz: a request every 200 ms of ROS time, the first one at once.
        frames = [T0 + k * FRAME_NS for k in range(65)]  # 1.6 s at 40 Hz
        expected = [T0, *_due(frames, 200 * MS, T0)]
        _drive(h, clock, frames, expected)
        assert _chunk_stamps(h) == expected == [T0 + k * 200 * MS for k in range(9)]
        assert node.diagnostics_snapshot().rate_hz == pytest.approx(5.0)
        counters = node.counters()
        assert counters["observations_received"] == 65 and counters["chunk_attempts"] == 9
        assert counters["dropped_frames"] == 65 - 9 and counters["observation_slot"] == 0  # 7 of 8 never used

        assert h.set_parameters({"control.mode": "chunk_end", "control.lead_steps": 2})[0].successful  # live
        # Hand-over: one frame a second later, due under either schedule.
        handover = frames[-1] + 1_000 * MS
        _drive(h, clock, [handover], [handover])
        # LIBERO: 8 steps at 20 Hz, the next chunk requested 2 steps before the end: every 6 × 50 ms = 3.3 Hz.
        frames = [handover + k * FRAME_NS for k in range(1, 97)]  # 2.4 s at 40 Hz
        expected = _due(frames, 300 * MS, handover)
        _drive(h, clock, frames, expected)
        stamps = _chunk_stamps(h)[9:]
        assert stamps == [handover, *expected] and expected == [handover + k * 300 * MS for k in range(1, 9)]
        counters = node.counters()
        assert counters["chunk_attempts"] == 9 + 1 + 8 and counters["failed_attempts"] == 0
        assert counters["dropped_frames"] == 56 + 11 * 8 and counters["observation_slot"] == 0  # 11 of 12
    finally:
        h.close()
