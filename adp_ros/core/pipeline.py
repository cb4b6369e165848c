"""The one chunk pipeline every caller runs: the node's worker thread and `bag eval` (and, through the node, the
simulator evaluation).

    observation → LatestSlot → ChunkScheduler says due → convert → ChunkRunner (staleness → gate → policy →
    guard) → staleness again at publish → sink.send → scheduler / predicted motion / record → sink.sent

What differs between callers is passed in: the clock (ROS time in the node, log time in a bag), the policy (a
`Predict` callable), the conversion of a raw observation into `ChunkInputs`, and the sink that publishes (ROS
publishers, or a recorder). Live settings arrive as a whole `PipelineSettings` through `apply`, between chunks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from adp_ros.core.diagnostics import ChunkRecord
from adp_ros.core.errors import InputError
from adp_ros.core.gate import GateConfig
from adp_ros.core.pruning import PruneConfig
from adp_ros.core.runner import ChunkInputs, ChunkOutcome, ChunkRunner, Predict, chunk_record
from adp_ros.core.safety import (
    ActionGuard,
    ActionGuardConfig,
    StalenessConfig,
    check_staleness,
    statistics_limits,
)
from adp_ros.core.schedule import ChunkScheduler, ScheduleConfig
from adp_ros.core.slot import LatestSlot

RawT = TypeVar("RawT")

StepResult = Literal["not_due", "no_input", "published", "failed"]
"""What one `ChunkPipeline.step` did: nothing (not due yet / no observation waiting), or one request."""


def guard_config(safety: Any, statistics_range: tuple[Sequence[float], Sequence[float]] | None) -> ActionGuardConfig:
    """The guard in force (`params.SafetySettings`): the explicit limits, empty sides filled from the range the
    policy was trained on (dataset statistics min/max ± `safety.statistics_margin`)."""
    if not safety.limits_from_statistics or statistics_range is None:
        return safety.guard
    return safety.guard.with_default_limits(*statistics_limits(*statistics_range, safety.statistics_margin))


@dataclass(frozen=True)
class PipelineSettings:
    """What the pipeline reads from the resolved parameters; replaced as a whole on a live change."""

    gate: GateConfig
    prune: PruneConfig
    staleness: StalenessConfig
    guard: ActionGuardConfig
    schedule: ScheduleConfig
    trajectory_start: str
    """'publish': the chunk's step 0 executes one dt after publishing; 'observation': after the camera stamp."""
    instruction: str

    @classmethod
    def from_config(
        cls, cfg: Any, statistics_range: tuple[Sequence[float], Sequence[float]] | None = None
    ) -> PipelineSettings:
        """From a `params.ResolvedConfig` and the policy's trained action range (None: no default limits)."""
        n = cfg.node
        return cls(
            gate=cfg.gate,
            prune=cfg.prune,
            staleness=n.safety.staleness,
            guard=guard_config(n.safety, statistics_range),
            schedule=ScheduleConfig.from_control(n.control),
            trajectory_start=n.control.trajectory_start,
            instruction=n.instruction,
        )


@dataclass(frozen=True)
class PlannedChunk:
    """A chunk that passed every check and is about to go out."""

    inputs: ChunkInputs
    outcome: ChunkOutcome
    publish_ns: int
    """The clock when it is published (the trajectory header's reference with trajectory_start 'publish')."""
    start_ns: int
    """When its execution starts: step k runs at start_ns + (k+1)·dt."""
    offset_ns: int
    """start_ns − the observation stamp (the trajectory's time_from_start offset)."""
    dt_ns: int


class ChunkSink(Protocol):
    """Where the pipeline's chunks and skips go (ROS publishers in the node, a recorder in `bag eval`)."""

    def blocked(self) -> str:
        """Why a chunk may not go out now ('' when it may), e.g. the node is no longer active."""
        ...

    def send(self, chunk: PlannedChunk) -> bool:
        """Publish the chunk; True when it commands the arm (not only a preview)."""
        ...

    def sent(self, chunk: PlannedChunk, record: ChunkRecord) -> None:
        """After the scheduler and the gate's motion feed took the chunk in: diagnostics."""
        ...

    def skipped(self, status: str, reason: str, outcome: ChunkOutcome | None) -> None:
        """A request published nothing (`core.runner.Status`, or 'bad_input' from the conversion)."""
        ...


class ChunkPipeline(Generic[RawT]):
    """Slot → schedule → convert → run → publish, driven by `step(now_ns)` from one thread.

    `put` may be called from any thread (subscription callbacks); everything else from the driving thread.
    """

    def __init__(
        self,
        runner: ChunkRunner,
        settings: PipelineSettings,
        *,
        predict: Predict,
        convert: Callable[[RawT, int], ChunkInputs],
        sink: ChunkSink,
        clock: Callable[[], int],
    ) -> None:
        self.runner = runner
        self.slot: LatestSlot[tuple[RawT, int]] = LatestSlot()
        self.scheduler = ChunkScheduler(settings.schedule)
        self.guard = ActionGuard(settings.guard)
        self.settings = settings
        self.runner.set_instruction(settings.instruction)
        self._predict = predict
        self._convert = convert
        self._sink = sink
        self._clock = clock
        self.published = 0

    def apply(self, settings: PipelineSettings) -> list[str]:
        """Take live settings in (between chunks); returns what is worth logging. A change may cure what
        failed, so the back-off is dropped."""
        notes = []
        self.runner.set_gate_config(settings.gate)
        if self.runner.set_instruction(settings.instruction):
            notes.append(f"new instruction {settings.instruction!r}: gate history reset")
        if settings.guard != self.guard.config:
            self.guard = ActionGuard(settings.guard)
        self.scheduler.reconfigure(settings.schedule)
        self.scheduler.retry_now()
        self.settings = settings
        return notes

    def reset(self) -> None:
        """A fresh start (activation): no waiting observation, no schedule, no gate history."""
        self.slot.clear()
        self.scheduler.reset()
        self.runner.reset()

    def put(self, raw: RawT, received_ns: int) -> bool:
        """A synchronised observation arrived (any thread); True when it replaced one nobody took."""
        return self.slot.put((raw, received_ns))

    def step(self, now_ns: int) -> StepResult:
        """At most one request: when one is due and an observation waits."""
        if not self.scheduler.due(now_ns):
            return "not_due"
        item = self.slot.take()
        if item is None:
            return "no_input"
        self.scheduler.requested(now_ns)
        try:
            published = self.run(*item, picked_ns=now_ns)
        except Exception as exc:  # the driving loop must survive anything a chunk throws
            self._sink.skipped("model_error", f"unexpected {type(exc).__name__}: {exc}", None)
            published = False
        if not published:
            self.scheduler.failed()
            return "failed"
        return "published"

    def run(self, raw: RawT, received_ns: int, *, picked_ns: int) -> bool:
        """One request end to end; True when a chunk went out."""
        s = self.settings
        try:
            inputs = self._convert(raw, received_ns)
        except InputError as exc:
            self._sink.skipped("bad_input", str(exc), None)
            return False
        outcome = self.runner.run(
            inputs,
            now_ns=self._clock(),
            prune=s.prune,
            staleness=s.staleness,
            guard=self.guard,
            execute_steps=s.schedule.execute_steps,
            predict=self._predict,
        )
        if not outcome.ok:
            self._sink.skipped(outcome.status, outcome.reason, outcome)
            return False
        return self._publish(inputs, outcome, picked_ns)

    def _publish(self, inputs: ChunkInputs, outcome: ChunkOutcome, picked_ns: int) -> bool:
        assert outcome.actions is not None
        s = self.settings
        started = time.perf_counter()
        now = self._clock()
        fresh = check_staleness(inputs.stamps_ns, now, s.staleness)
        why = fresh.reason if not fresh.is_fresh else self._sink.blocked()
        if why:
            self._sink.skipped("stale", f"at publish: {why}", outcome)
            return False
        stamp, dt = inputs.observation_stamp_ns, s.schedule.dt_ns
        offset = now - stamp if s.trajectory_start == "publish" else 0
        chunk = PlannedChunk(inputs, outcome, publish_ns=now, start_ns=stamp + offset, offset_ns=offset, dt_ns=dt)
        commanded = self._sink.send(chunk)
        self.scheduler.published(chunk.start_ns)
        self.runner.chunk_started(chunk.start_ns, dt, outcome.actions)
        stages = dict(outcome.stages_ms)
        stages["publish"] = (time.perf_counter() - started) * 1e3
        record = chunk_record(
            self.published,
            inputs,
            outcome,
            publish_ns=now,
            picked_ns=picked_ns,
            commanded=commanded,
            stages_ms=stages,
        )
        self.published += 1
        self._sink.sent(chunk, record)
        return True
