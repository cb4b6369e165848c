"""The chunk pipeline's ROS-free pieces: latest-observation slot, chunk scheduling, predicted-delta motion, one
chunk through `ChunkRunner` (staleness → gate → policy → guard) and `ChunkPipeline` end to end, with a stand-in
policy callable (the real model runs in test/ros and test/tools)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from adp_ros.core.errors import InputError
from adp_ros.core.gate import GateConfig
from adp_ros.core.motion import IntegratedDeltaSource, PredictedDeltaMotion
from adp_ros.core.pipeline import ChunkPipeline, PipelineSettings
from adp_ros.core.pruning import PruneConfig
from adp_ros.core.runner import ChunkInputs, ChunkRunner, is_out_of_memory
from adp_ros.core.safety import ActionGuard, ActionGuardConfig, StalenessConfig
from adp_ros.core.schedule import ChunkScheduler, ScheduleConfig
from adp_ros.core.slot import LatestSlot

MS = 1_000_000
STALE = StalenessConfig(max_age_ns=500 * MS)


def test_slot_keeps_only_the_newest_and_counts_drops():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.take() is None
    assert slot.put(1) is False
    assert slot.put(2) is True  # 1 was never taken: dropped
    assert len(slot) == 1
    assert slot.take() == 2 and slot.take() is None
    slot.put(3)
    assert slot.clear() == 1
    assert (slot.received, slot.taken, slot.dropped) == (3, 1, 2)


def test_slot_wait_returns_when_an_item_arrives():
    slot: LatestSlot[int] = LatestSlot()
    threading.Timer(0.05, slot.put, args=(7,)).start()
    began = time.monotonic()
    assert slot.wait(5.0)
    assert time.monotonic() - began < 2.0
    assert not LatestSlot().wait(0.01)


def _schedule(mode="chunk_end", **kw):
    values = {"mode": mode, "query_period_ns": 200 * MS, "dt_ns": 50 * MS, "execute_steps": 8, "lead_steps": 2}
    values.update(kw)
    return ChunkScheduler(ScheduleConfig(**values))


def test_fixed_rate_schedule():
    s = _schedule("fixed_rate")
    assert s.due(0)
    s.requested(1_000 * MS)
    assert not s.due(1_100 * MS)
    assert s.due(1_200 * MS)
    assert s.request_time_ns() == 1_200 * MS
    assert s.due(500 * MS)  # time went backwards (bag loop): start over


def test_chunk_end_schedule_requests_lead_steps_before_the_end():
    s = _schedule()
    assert s.due(0)
    s.requested(0)
    assert not s.due(10 * MS), "one request at a time"
    s.published(100 * MS)
    assert s.request_time_ns() == 100 * MS + 6 * 50 * MS
    assert not s.due(399 * MS)
    assert s.due(400 * MS)
    s.requested(400 * MS)
    s.failed()  # no chunk came of it: retry, but not before a published chunk would have been followed up
    assert not s.due(401 * MS)
    assert s.due(700 * MS)


def test_predicted_delta_motion_drops_superseded_steps():
    motion = PredictedDeltaMotion(IntegratedDeltaSource(scale_m_per_unit=0.05))
    chunk = np.zeros((4, 7))
    chunk[:, 0] = 1.0  # +5 cm per step in x
    first = motion.start_chunk(0, 50 * MS, chunk)
    assert [(s, p.tolist()) for s, p in first] == [(0, [0.0, 0.0, 0.0])]
    due = motion.due_samples(100 * MS)
    assert [s for s, _ in due] == [50 * MS, 100 * MS]
    assert due[-1][1][0] == pytest.approx(0.10)
    # The next chunk starts at 120 ms: steps 3 and 4 of the first never run.
    final = motion.start_chunk(120 * MS, 50 * MS, -chunk)
    assert [s for s, _ in final] == [120 * MS]
    assert final[-1][1][0] == pytest.approx(0.10)
    assert motion.due_samples(170 * MS)[-1][1][0] == pytest.approx(0.05)


def _output(actions, pruned=False):
    return SimpleNamespace(
        actions=np.asarray(actions, dtype=np.float64),
        timings_ms={"preprocess": 1.0, "vision": 2.0, "llm": 3.0, "head": 0.5, "total": 6.5},
        pruned=pruned,
        tokens=SimpleNamespace(vision_kept=128 if pruned else 256, vision_dense=256, sequence=300),
        kept_indices=(),
    )


class StubPolicy:
    """Records how it was called; returns a fixed chunk."""

    def __init__(self, actions=None):
        self.calls = []
        self.actions = np.zeros((8, 7)) if actions is None else actions

    def __call__(self, images, proprio, instruction, prune):
        self.calls.append((instruction, prune))
        return _output(self.actions, pruned=prune is not None)


def _inputs(stamp_ns, **kw):
    values = {
        "images": [np.zeros((4, 4, 3), np.uint8)],
        "proprio": np.zeros(8),
        "stamps_ns": (stamp_ns,),
        "observation_stamp_ns": stamp_ns,
        "received_ns": stamp_ns,
    }
    values.update(kw)
    return ChunkInputs(**values)


def _run(runner, policy, stamp, now=None, prune=None, guard=None, steps=8):
    return runner.run(
        _inputs(stamp),
        now_ns=stamp + 10 * MS if now is None else now,
        prune=prune or PruneConfig(),
        staleness=STALE,
        guard=guard or ActionGuard(ActionGuardConfig(action_dim=7)),
        execute_steps=steps,
        predict=policy,
    )


def _moving_runner(config=None):
    runner = ChunkRunner(config or GateConfig(standstill_deadband=0.0))
    runner.set_instruction("pick up the block")
    return runner


def test_adp_runs_the_cold_start_dense_then_prunes_on_motion():
    runner, policy = _moving_runner(), StubPolicy()
    states = []
    for k in range(6):
        stamp = (k + 1) * 400 * MS
        for j in range(8):  # steady motion: 1 cm per 50 ms
            t = k * 400 * MS + j * 50 * MS
            runner.observe(t, np.array([0.01 * t / (50 * MS), 0.0, 0.0]))
        out = _run(runner, policy, stamp)
        assert out.ok, out.reason
        states.append(out.decision.state)
    assert states[:3] == ["dense"] * 3
    assert "pruned" in states[3:]
    assert [p is not None for _, p in policy.calls] == [s == "pruned" for s in states]


@pytest.mark.parametrize(("mode", "expect_prune"), [("dense", False), ("static", True), ("random", True)])
def test_non_adp_modes_ignore_the_gate(mode, expect_prune):
    runner, policy = _moving_runner(), StubPolicy()
    out = _run(runner, policy, 1_000 * MS, prune=PruneConfig(mode=mode))
    assert out.ok and out.prune_mode == mode
    assert (policy.calls[-1][1] is not None) == expect_prune


def test_stale_and_missing_instruction_skip_the_policy():
    runner, policy = ChunkRunner(GateConfig()), StubPolicy()
    out = _run(runner, policy, 1_000 * MS, now=3_000 * MS)
    assert out.status == "stale" and "old" in out.reason
    out = _run(runner, policy, 1_000 * MS)
    assert out.status == "no_instruction"
    assert policy.calls == []


def test_model_errors_are_caught_and_out_of_memory_is_flagged():
    class CudaOutOfMemoryError(RuntimeError):
        pass

    def fail(*_):
        raise CudaOutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    runner = _moving_runner()
    out = _run(runner, fail, 1_000 * MS)
    assert out.status == "model_error" and out.out_of_memory
    assert "out of memory" in out.reason
    assert not is_out_of_memory(ValueError("shape mismatch"))


def test_guard_refuses_nan_and_truncates_to_the_executed_steps():
    runner = _moving_runner()
    bad = np.zeros((8, 7))
    bad[3, 2] = np.nan
    out = _run(runner, StubPolicy(bad), 1_000 * MS)
    assert out.status == "refused" and "non-finite" in out.reason and out.actions is None
    out = _run(runner, StubPolicy(), 2_000 * MS, steps=5)
    assert out.ok and out.actions.shape == (5, 7)
    clamp = ActionGuard(ActionGuardConfig(action_dim=7, upper=(0.1,) * 7, lower=(-0.1,) * 7))
    out = _run(runner, StubPolicy(np.ones((8, 7))), 3_000 * MS, guard=clamp)
    assert out.ok and out.guard_modified and out.actions.max() == pytest.approx(0.1)


def test_instruction_change_resets_and_config_change_keeps_the_history():
    runner, policy = _moving_runner(), StubPolicy()
    for k in range(4):
        runner.observe(k * 100 * MS, np.array([0.02 * k, 0.0, 0.0]))
        _run(runner, policy, (k + 1) * 100 * MS)
    history = runner.gate_history
    assert len(history) == 3
    runner.set_gate_config(GateConfig(window=5, standstill_deadband=0.0))
    assert runner.gate_history == history
    assert runner.set_instruction("another task") is True
    assert runner.gate_history == ()
    assert runner.set_instruction("another task") is False


def test_motion_samples_out_of_order_are_dropped_and_a_time_jump_starts_over():
    runner = ChunkRunner(GateConfig())
    assert runner.observe(1_000 * MS, np.zeros(3))
    assert not runner.observe(990 * MS, np.zeros(3))  # 10 ms late: jitter, dropped
    assert runner.dropped_motion_samples == 1
    assert runner.observe(10 * MS, np.zeros(3))  # a second back: bag loop, new timeline
    assert runner.timeline_resets == 1


def test_on_observation_schedule_ignores_the_clock():
    s = _schedule("on_observation")
    assert s.due(0)
    s.requested(0)
    assert not s.due(10_000 * MS), "one request at a time, however much time passes"
    s.published(0)
    assert s.due(0), "a lockstep simulator's clock stands still while it waits for the chunk"
    s.requested(0)
    s.failed()
    assert s.due(0)


def test_a_failed_chunk_backs_off_for_one_request_period():
    """Issue 12: a guard in reject mode used to re-run inference on every frame (~150 in 6 s instead of 6).
    After a failure the next attempt waits the spacing a published chunk would have bought."""
    s = _schedule()  # chunk_end: 8 steps at 50 ms, lead 2 → one request every 300 ms
    attempts = []
    for frame in range(180):  # 6 s of 30 Hz frames
        now = frame * 100 * MS // 3
        if s.due(now):
            s.requested(now)
            attempts.append(now)
            s.failed()  # every chunk refused
    assert len(attempts) == 20  # 6 s / 300 ms, as many as while chunks are published
    assert min(np.diff(attempts)) >= 300 * MS
    assert (s.attempts, s.failed_attempts, s.consecutive_failures) == (20, 20, 20)
    assert not s.due(attempts[-1] + MS)
    s.retry_now()  # a live change (limits, instruction) may cure it: no need to wait
    assert s.due(attempts[-1] + MS)
    s.requested(6_100 * MS)
    s.published(6_100 * MS)
    assert s.consecutive_failures == 0 and s.failed_attempts == 20


@pytest.mark.parametrize(
    ("mode", "spacing_ms"),
    [("chunk_end", 300), ("fixed_rate", 200)],
)
def test_retry_after_failure_is_spaced_like_a_published_chunk(mode, spacing_ms):
    s = _schedule(mode)
    s.requested(1_000 * MS)
    s.failed()
    assert s.request_time_ns() == (1_000 + spacing_ms) * MS
    assert not s.due((1_000 + spacing_ms) * MS - 1)
    assert s.due((1_000 + spacing_ms) * MS)


def test_on_observation_retries_on_the_next_observation():
    """Lockstep simulators stop their clock until a chunk arrives: a time-based back-off would deadlock."""
    s = _schedule("on_observation")
    for _ in range(3):
        assert s.due(0)
        s.requested(0)
        s.failed()
    assert s.consecutive_failures == 3


# ------------------------------------------------------------------------------------------- the pipeline


class Sink:
    """A `ChunkSink` that keeps what it was given (the node's sink publishes; `bag eval`'s records)."""

    def __init__(self):
        self.chunks, self.records, self.skips = [], [], []
        self.why_blocked = ""
        self.command = False

    def blocked(self):
        return self.why_blocked

    def send(self, chunk):
        self.chunks.append(chunk)
        return self.command

    def sent(self, chunk, record):
        self.records.append(record)

    def skipped(self, status, reason, outcome):
        self.skips.append((status, reason))


class Clock:
    def __init__(self, now_ns=0):
        self.now_ns = now_ns

    def __call__(self):
        return self.now_ns


def _settings(**kw):
    values = {
        "gate": GateConfig(standstill_deadband=0.0),
        "prune": PruneConfig(),
        "staleness": STALE,
        "guard": ActionGuardConfig(action_dim=7),
        "schedule": ScheduleConfig("chunk_end", 200 * MS, 50 * MS, execute_steps=8, lead_steps=2),
        "trajectory_start": "publish",
        "instruction": "pick up the block",
    }
    values.update(kw)
    return PipelineSettings(**values)


def _pipeline(policy=None, convert=None, **kw):
    sink, clock = Sink(), Clock()
    pipeline = ChunkPipeline(
        ChunkRunner(GateConfig(standstill_deadband=0.0)),
        _settings(**kw),
        predict=policy or StubPolicy(),
        convert=convert or (lambda stamp, received: _inputs(stamp, received_ns=received)),
        sink=sink,
        clock=clock,
    )
    return pipeline, sink, clock


def test_pipeline_publishes_one_chunk_per_due_request_and_schedules_from_its_start():
    pipeline, sink, clock = _pipeline()
    assert pipeline.step(0) == "no_input"
    clock.now_ns = 1_000 * MS
    pipeline.put(990 * MS, 995 * MS)
    assert pipeline.step(clock.now_ns) == "published"
    chunk = sink.chunks[0]
    # trajectory_start 'publish': step 0 runs one dt after publishing; the offset is publish - observation.
    assert (chunk.start_ns, chunk.offset_ns, chunk.dt_ns) == (1_000 * MS, 10 * MS, 50 * MS)
    assert chunk.outcome.actions.shape == (8, 7)
    record = sink.records[0]
    assert (record.index, record.steps, record.tokens_kept, record.commanded) == (0, 8, 256, False)
    assert record.queue_wait_ms == pytest.approx(5.0)
    assert "publish" in record.stages_ms
    # chunk_end: the next request is due when 2 of the 8 steps remain, 6 dt after the chunk's start.
    pipeline.put(1_100 * MS, 1_100 * MS)
    assert pipeline.step(1_299 * MS) == "not_due"
    clock.now_ns = 1_300 * MS
    assert pipeline.step(1_300 * MS) == "published"
    assert [r.index for r in sink.records] == [0, 1]
    assert sink.chunks[1].start_ns == 1_300 * MS and pipeline.published == 2


def test_pipeline_observation_start_and_commanded_flag_come_from_settings_and_sink():
    pipeline, sink, clock = _pipeline(trajectory_start="observation")
    sink.command = True
    clock.now_ns = 1_000 * MS
    pipeline.put(990 * MS, 990 * MS)
    assert pipeline.step(clock.now_ns) == "published"
    assert (sink.chunks[0].start_ns, sink.chunks[0].offset_ns) == (990 * MS, 0)
    assert sink.records[0].commanded


def test_pipeline_reports_bad_input_and_backs_off():
    def convert(raw, received):
        raise InputError("camera 0: 'bgr16' is not supported")

    pipeline, sink, _clock = _pipeline(convert=convert)
    pipeline.put("frame", 0)
    assert pipeline.step(0) == "failed"
    assert sink.skips == [("bad_input", "camera 0: 'bgr16' is not supported")]
    pipeline.put("frame", 10 * MS)
    assert pipeline.step(10 * MS) == "not_due", "a failed request backs off"
    assert pipeline.scheduler.failed_attempts == 1


def test_pipeline_checks_staleness_again_at_publish_and_asks_the_sink():
    class SlowPolicy(StubPolicy):
        def __call__(self, images, proprio, instruction, prune):
            clock.now_ns += 600 * MS  # inference took longer than safety.max_observation_age_sec
            return super().__call__(images, proprio, instruction, prune)

    pipeline, sink, clock = _pipeline(policy=SlowPolicy())
    clock.now_ns = 1_000 * MS
    pipeline.put(1_000 * MS, 1_000 * MS)
    assert pipeline.step(clock.now_ns) == "failed"
    assert sink.skips[0][0] == "stale" and sink.skips[0][1].startswith("at publish:")
    assert not sink.chunks

    pipeline, sink, clock = _pipeline()
    sink.why_blocked = "node no longer active"
    pipeline.put(MS, MS)
    assert pipeline.step(MS) == "failed"
    assert sink.skips == [("stale", "at publish: node no longer active")]


def test_pipeline_survives_a_sink_that_throws():
    pipeline, sink, _clock = _pipeline()

    def broken(chunk):
        raise RuntimeError("publisher gone")

    sink.send = broken
    pipeline.put(MS, MS)
    assert pipeline.step(MS) == "failed"
    assert sink.skips == [("model_error", "unexpected RuntimeError: publisher gone")]


def test_pipeline_apply_takes_live_settings_between_chunks():
    policy = StubPolicy()
    pipeline, _sink, clock = _pipeline(policy=policy)
    clock.now_ns = MS
    pipeline.put(MS, MS)
    assert pipeline.step(MS) == "published"
    notes = pipeline.apply(
        _settings(instruction="open the drawer", guard=ActionGuardConfig(action_dim=7, upper=(0.5,) * 7))
    )
    assert notes == ["new instruction 'open the drawer': gate history reset"]
    assert pipeline.guard.config.upper == (0.5,) * 7
    clock.now_ns = 400 * MS
    pipeline.put(400 * MS, 400 * MS)
    assert pipeline.step(clock.now_ns) == "published"
    assert policy.calls[-1][0] == "open the drawer"
    assert pipeline.apply(_settings(instruction="open the drawer")) == []
