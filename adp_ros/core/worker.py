"""The inference worker's logic without ROS: latest-observation slot, chunk scheduling, one chunk end to end.

Threading model (the node's): subscription callbacks only `put` the newest synchronised observation into a
`LatestSlot` (size 1; replacing an unconsumed one counts a dropped frame), so nothing queues without bound and
a frame that arrives during inference is never processed late. One worker thread waits on the slot, asks the
`ChunkScheduler` whether a chunk is due (ROS time passed in), and runs `ChunkRunner.run`: staleness check →
gate decision → policy → action guard. The runner owns the gate; motion samples arrive from other threads
through `observe`, so the gate sits behind a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import numpy as np

from adp_ros.core.diagnostics import MODEL_STAGES, ChunkRecord
from adp_ros.core.errors import InputError
from adp_ros.core.gate import ActionAwareGate, GateConfig, GateDecision
from adp_ros.core.motion import (
    EEF_METRIC,
    ArmJoints,
    DisplacementMetric,
    IntegratedDeltaSource,
    JointPositionSource,
)
from adp_ros.core.pruning import PruneConfig
from adp_ros.core.safety import ActionGuard, StalenessConfig, check_staleness

T = TypeVar("T")

TIME_JUMP_NS = 500_000_000
"""A motion sample this much older than the newest one is a new timeline (bag loop, clock reset), not jitter."""


# ---------------------------------------------------------------------------------------------------- slot


class LatestSlot(Generic[T]):
    """A mailbox of size one: `put` replaces, `take` empties. Thread-safe; counts what it drops."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._has_item = False
        self.received = 0
        self.taken = 0
        self.dropped = 0
        """Items replaced before anyone took them, or cleared."""

    def put(self, item: T) -> bool:
        """Store `item`; True when it replaced one nobody took (a dropped frame)."""
        with self._cond:
            replaced = self._has_item
            if replaced:
                self.dropped += 1
            self._item, self._has_item = item, True
            self.received += 1
            self._cond.notify_all()
            return replaced

    def take(self) -> T | None:
        with self._cond:
            if not self._has_item:
                return None
            item, self._item, self._has_item = self._item, None, False
            self.taken += 1
            return item

    def wait(self, timeout_sec: float) -> bool:
        """Until an item is there, `wake()` is called or the timeout passes; True when an item is there."""
        with self._cond:
            if not self._has_item:
                self._cond.wait(timeout=max(0.0, timeout_sec))
            return self._has_item

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def clear(self) -> int:
        with self._cond:
            n = int(self._has_item)
            self.dropped += n
            self._item, self._has_item = None, False
            return n

    def __len__(self) -> int:
        return int(self._has_item)


# ----------------------------------------------------------------------------------------------- schedule

ControlMode = Literal["chunk_end", "fixed_rate", "on_observation"]


@dataclass(frozen=True)
class ScheduleConfig:
    mode: ControlMode
    query_period_ns: int
    dt_ns: int
    execute_steps: int
    lead_steps: int

    @classmethod
    def from_control(cls, control: Any) -> ScheduleConfig:
        """From `params.ControlSettings`."""
        return cls(
            mode=control.mode,
            query_period_ns=control.query_period_ns,
            dt_ns=control.dt_ns,
            execute_steps=control.execute_steps,
            lead_steps=control.lead_steps,
        )


class ChunkScheduler:
    """When to request the next chunk. `fixed_rate`: every query period. `chunk_end`: when at most `lead_steps`
    steps of the current chunk remain (its execution starts at `published(start_ns)`), one request at a time.
    `on_observation`: whenever an observation waits, one request at a time; time plays no part, so a lockstep
    simulator that stops its clock until the chunk arrives can never deadlock.

    Back-off: after a request that produced no chunk (`failed`: stale, refused, model error, ...) the next one
    waits the spacing a published chunk would have bought, `retry_period_ns` after the failed request. A
    policy that keeps failing then costs no more inference than a working one; retrying on every frame cost
    ~150 inferences in 6 s instead of 6 (issue 12). `on_observation` retries on the next observation.
    """

    def __init__(self, config: ScheduleConfig) -> None:
        self.config = config
        self.attempts = 0
        """Requests since construction (each one an inference, unless the input was rejected first)."""
        self.failed_attempts = 0
        self.consecutive_failures = 0
        """Failed requests since the last published chunk."""
        self.reset()

    def reset(self) -> None:
        self._last_request_ns: int | None = None
        self._chunk_start_ns: int | None = None
        self._retry_ns: int | None = None
        self._pending = False

    def reconfigure(self, config: ScheduleConfig) -> None:
        self.config = config

    @property
    def retry_period_ns(self) -> int:
        """Least ROS time from a failed request to the next: the spacing of requests while chunks succeed."""
        cfg = self.config
        if cfg.mode == "on_observation":
            return 0
        if cfg.mode == "fixed_rate":
            return cfg.query_period_ns
        return max(1, cfg.execute_steps - cfg.lead_steps) * cfg.dt_ns

    def request_time_ns(self) -> int | None:
        """ROS time at which the next request becomes due (None: due now / as soon as possible)."""
        at = self._schedule_time_ns()
        if self._retry_ns is not None and self.config.mode != "on_observation":
            at = self._retry_ns if at is None else max(at, self._retry_ns)
        return at

    def _schedule_time_ns(self) -> int | None:
        cfg = self.config
        if cfg.mode == "on_observation":
            return None
        if cfg.mode == "fixed_rate":
            return None if self._last_request_ns is None else self._last_request_ns + cfg.query_period_ns
        if self._chunk_start_ns is None:
            return None
        return self._chunk_start_ns + max(0, cfg.execute_steps - cfg.lead_steps) * cfg.dt_ns

    def due(self, now_ns: int) -> bool:
        if self._last_request_ns is not None and now_ns < self._last_request_ns:
            self.reset()  # time went backwards (bag loop, clock reset): start over
        if self.config.mode != "fixed_rate" and self._pending:
            return False
        at = self.request_time_ns()
        return at is None or now_ns >= at

    def steps_remaining(self, now_ns: int) -> int | None:
        if self._chunk_start_ns is None:
            return None
        elapsed = (now_ns - self._chunk_start_ns) // self.config.dt_ns
        return int(max(0, self.config.execute_steps - elapsed))

    def requested(self, now_ns: int) -> None:
        self._last_request_ns = int(now_ns)
        self._pending = True
        self.attempts += 1

    def published(self, start_ns: int) -> None:
        """The requested chunk went out; its first step executes at `start_ns` + dt."""
        self._chunk_start_ns = int(start_ns)
        self._retry_ns = None
        self._pending = False
        self.consecutive_failures = 0

    def retry_now(self) -> None:
        """Drop the back-off: something changed (a live parameter, the instruction) that may make it work."""
        self._retry_ns = None

    def failed(self) -> None:
        """The request produced no chunk (stale, bad input, refused, error): retry after `retry_period_ns`."""
        self._pending = False
        self.failed_attempts += 1
        self.consecutive_failures += 1
        if self._last_request_ns is not None:
            self._retry_ns = self._last_request_ns + self.retry_period_ns


# ------------------------------------------------------------------------------------ predicted motion


class PredictedDeltaMotion:
    """Published delta-EE chunks → stamped positions for the gate (`gate.motion_source = predicted_delta`).

    Step k of a chunk that starts executing at t0 counts as done at t0 + (k+1)·dt; when the next chunk starts,
    the steps of the previous one that lie after its start are dropped (the arm never executes them).
    Positions are integrated translation deltas in metres (`IntegratedDeltaSource` scale and indices).
    """

    def __init__(self, source: IntegratedDeltaSource) -> None:
        self.source = source
        self._position = np.zeros(3)
        self._pending: list[tuple[int, np.ndarray]] = []
        self._last_stamp: int | None = None

    @property
    def metric(self) -> DisplacementMetric:
        return self.source.metric

    def reset(self) -> None:
        self._position = np.zeros(3)
        self._pending = []
        self._last_stamp = None

    def due_samples(self, up_to_ns: int) -> list[tuple[int, np.ndarray]]:
        """Samples executed by `up_to_ns`, oldest first (each returned once)."""
        out = [(s, p) for s, p in self._pending if s <= up_to_ns]
        self._pending = [(s, p) for s, p in self._pending if s > up_to_ns]
        if out:
            self._position = out[-1][1]
            self._last_stamp = out[-1][0]
        return out

    def start_chunk(self, start_ns: int, dt_ns: int, actions: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """A chunk starts executing at `start_ns`; returns the samples that became final (to observe now)."""
        final = self.due_samples(start_ns)
        self._pending = []  # the rest of the previous chunk is superseded
        if self._last_stamp is None or self._last_stamp < start_ns:
            final.append((int(start_ns), self._position.copy()))
            self._last_stamp = int(start_ns)
        idx = np.asarray(self.source.translation_indices)
        deltas = np.asarray(actions, dtype=np.float64)[:, idx] * self.source.scale_m_per_unit
        positions = self._position + np.cumsum(deltas, axis=0)
        self._pending = [(int(start_ns + (k + 1) * dt_ns), positions[k]) for k in range(positions.shape[0])]
        return final


# ------------------------------------------------------------------------------------------------ runner

Status = Literal["ok", "stale", "bad_input", "model_error", "refused", "no_instruction"]
Predict = Callable[[Sequence[np.ndarray], np.ndarray, str, "PruneConfig | None"], Any]
"""(images, proprio, instruction, prune) → an object like `model.policy.PolicyOutput`."""


@dataclass(frozen=True)
class ChunkInputs:
    """One synchronised observation after conversion from ROS messages."""

    images: Sequence[np.ndarray]
    proprio: np.ndarray
    stamps_ns: tuple[int, ...]
    """Header stamps of every message in the set."""
    observation_stamp_ns: int
    """Newest camera stamp: the output's header stamp and the gate's request time."""
    received_ns: int
    """ROS time when the set was complete."""
    current_state: np.ndarray | None = None
    """Measured joint positions of the output joints (bounds the first step's delta), or None."""
    conversion_ms: float = 0.0
    eef_pose: np.ndarray | None = None
    """Measured end-effector pose of the set (x y z qx qy qz qw) when it has one: the pose targets' base."""
    eef_frame_id: str = ""
    """header.frame_id of that pose."""


@dataclass(frozen=True)
class ChunkOutcome:
    status: Status
    reason: str = ""
    decision: GateDecision | None = None
    prune_mode: str = "dense"
    pruned: bool = False
    output: Any = None
    actions: np.ndarray | None = None
    """Guarded actions of the executed steps (T, action_dim), only when status is 'ok'."""
    guard_modified: bool = False
    stages_ms: dict[str, float] = field(default_factory=dict)
    out_of_memory: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def is_out_of_memory(exc: BaseException) -> bool:
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


class ChunkRunner:
    """Staleness → gate → policy → guard for one chunk, plus the gate's motion feed. Thread-safe."""

    def __init__(
        self,
        gate_config: GateConfig,
        *,
        metric: DisplacementMetric = EEF_METRIC,
        buffer_capacity: int = 2048,
        predicted_motion: PredictedDeltaMotion | None = None,
        joint_source: JointPositionSource | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._gate = ActionAwareGate(gate_config, metric=metric, buffer_capacity=buffer_capacity)
        self._predicted = predicted_motion
        self.joint_source = joint_source
        self._instruction = ""
        self.dropped_motion_samples = 0
        self.timeline_resets = 0

    @classmethod
    def for_motion(cls, gate_config: GateConfig, motion: Any) -> ChunkRunner:
        """A runner whose gate measures `motion.source` (`params.MotionSettings`): eef_pose (xyz in metres),
        joint_states (arms of `motion.joint_names`, radians) or predicted_delta (integrated published deltas)."""
        if motion.source == "predicted_delta":
            source = IntegratedDeltaSource(motion.delta_scale_m_per_unit, motion.delta_translation_indices)
            predicted = PredictedDeltaMotion(source)
            return cls(gate_config, buffer_capacity=motion.buffer_capacity, predicted_motion=predicted)
        if motion.source == "joint_states":
            arms, start = [], 0
            for i, size in enumerate(motion.joint_groups):
                arms.append(ArmJoints(f"arm{i}", motion.joint_names[start : start + size]))
                start += size
            joints = JointPositionSource(arms, combine=motion.arm_combine)
            return cls(gate_config, metric=joints.metric, buffer_capacity=motion.buffer_capacity, joint_source=joints)
        return cls(gate_config, buffer_capacity=motion.buffer_capacity)

    # ---- gate plumbing (any thread) ----
    @property
    def gate_config(self) -> GateConfig:
        return self._gate.config

    @property
    def gate_history(self) -> tuple[float, ...]:
        with self._lock:
            return self._gate.history

    def set_gate_config(self, config: GateConfig) -> None:
        """Live change; keeps the history (a new window applies to the existing displacements)."""
        with self._lock:
            if config != self._gate.config:
                self._gate.reconfigure(config)

    def set_instruction(self, instruction: str) -> bool:
        """True (and the gate history is reset) when the instruction changed."""
        with self._lock:
            if instruction == self._instruction:
                return False
            first = not self._instruction
            self._instruction = instruction
            if not first:
                self._gate.reset()
            return not first

    @property
    def instruction(self) -> str:
        return self._instruction

    def reset(self, *, clear_samples: bool = False) -> None:
        with self._lock:
            self._gate.reset(clear_samples=clear_samples)
            if self._predicted is not None and clear_samples:
                self._predicted.reset()

    def observe(self, stamp_ns: int, position: np.ndarray) -> bool:
        """Buffer one motion sample; False when it was dropped (out of order). A jump back starts over."""
        with self._lock:
            return self._observe_locked(int(stamp_ns), position)

    def observe_joint_state(self, stamp_ns: int, names: Sequence[str], positions: Sequence[float]) -> bool:
        """A JointState sample for the joint_states source; False until every arm has reported."""
        if self.joint_source is None:
            raise InputError("this gate does not measure joint states (gate.motion_source)")
        with self._lock:
            vector = self.joint_source.update(names, positions)
            return vector is not None and self._observe_locked(int(stamp_ns), vector)

    def _observe_locked(self, stamp_ns: int, position: np.ndarray) -> bool:
        newest = self._gate.buffer.newest_stamp_ns
        if newest is not None and stamp_ns < newest:
            if newest - stamp_ns < TIME_JUMP_NS:
                self.dropped_motion_samples += 1
                return False
            self._gate.reset(clear_samples=True)
            self.timeline_resets += 1
        self._gate.observe(stamp_ns, position)
        return True

    def decide(self, stamp_ns: int) -> GateDecision:
        """The gate's decision for a chunk requested at `stamp_ns` (offline evaluation; `run` does this too)."""
        with self._lock:
            return self._decide(stamp_ns)

    def _decide(self, stamp_ns: int) -> GateDecision:
        if self._predicted is not None:
            for s, p in self._predicted.due_samples(stamp_ns):
                self._observe_locked(s, p)
        try:
            return self._gate.decide(stamp_ns)
        except InputError:
            # The request time went backwards (bag loop, clock reset): a new timeline, a fresh gate.
            self._gate.reset(clear_samples=True)
            self.timeline_resets += 1
            return self._gate.decide(stamp_ns)

    def chunk_started(self, start_ns: int, dt_ns: int, actions: np.ndarray) -> None:
        """A chunk was published and starts executing at `start_ns` (feeds predicted_delta motion)."""
        if self._predicted is None:
            return
        with self._lock:
            for s, p in self._predicted.start_chunk(start_ns, dt_ns, actions):
                self._observe_locked(s, p)

    # ---- one chunk (worker thread) ----
    def run(
        self,
        inputs: ChunkInputs,
        *,
        now_ns: int,
        prune: PruneConfig,
        staleness: StalenessConfig,
        guard: ActionGuard,
        execute_steps: int,
        predict: Predict,
    ) -> ChunkOutcome:
        stages = {"conversion": inputs.conversion_ms}
        fresh = check_staleness(inputs.stamps_ns, now_ns, staleness)
        if not fresh.is_fresh:
            return ChunkOutcome("stale", fresh.reason, stages_ms=stages)
        instruction = self._instruction
        if not instruction:
            return ChunkOutcome("no_instruction", "no instruction yet", stages_ms=stages)

        with self._lock:
            decision = self._decide(inputs.observation_stamp_ns)
        try:
            output = predict(inputs.images, inputs.proprio, instruction, prune.for_chunk(decision.is_pruned))
        except Exception as exc:  # model errors (also its InputErrors) must not kill the node; they are reported
            reason = f"{type(exc).__name__}: {exc}"
            return ChunkOutcome(
                "model_error", reason, decision=decision, stages_ms=stages, out_of_memory=is_out_of_memory(exc)
            )
        stages.update({k: float(output.timings_ms.get(k, 0.0)) for k in MODEL_STAGES})
        started = time.perf_counter()
        actions = np.asarray(output.actions, dtype=np.float64)[:execute_steps]
        try:
            result = guard.check(actions, inputs.current_state)
        except InputError as exc:
            return ChunkOutcome("refused", str(exc), decision=decision, output=output, stages_ms=stages)
        stages["guard"] = (time.perf_counter() - started) * 1e3
        common = {
            "decision": decision,
            "prune_mode": prune.mode,
            "pruned": bool(output.pruned),
            "output": output,
            "stages_ms": stages,
        }
        if not result.is_safe:
            return ChunkOutcome("refused", "; ".join(result.reasons), **common)
        return ChunkOutcome(
            "ok", "; ".join(result.reasons), actions=result.actions, guard_modified=result.was_modified, **common
        )


def chunk_record(
    index: int,
    inputs: ChunkInputs,
    outcome: ChunkOutcome,
    *,
    publish_ns: int,
    picked_ns: int,
    commanded: bool,
    stages_ms: dict[str, float],
) -> ChunkRecord:
    """The diagnostics record of a published chunk (times in ROS time, from the observation's stamps)."""
    decision, tokens = outcome.decision, outcome.output.tokens
    stamp = inputs.observation_stamp_ns
    return ChunkRecord(
        index=index,
        observation_stamp_ns=stamp,
        publish_ns=publish_ns,
        stages_ms=stages_ms,
        end_to_end_ms=(publish_ns - stamp) / 1e6,
        observation_age_ms=(publish_ns - min(inputs.stamps_ns)) / 1e6,
        queue_wait_ms=max(0, picked_ns - inputs.received_ns) / 1e6,
        tokens_kept=tokens.vision_kept,
        tokens_dense=tokens.vision_dense,
        sequence_length=tokens.sequence,
        pruned=outcome.pruned,
        prune_mode=outcome.prune_mode,
        gate_state=decision.state if decision else None,
        gate_band=decision.band if decision else None,
        gate_displacement=decision.displacement if decision else None,
        gate_window=decision.window if decision else None,
        commanded=commanded,
        guard_modified=outcome.guard_modified,
        steps=int(outcome.actions.shape[0]) if outcome.actions is not None else 0,
    )


def seconds_until(target_ns: int | None, now_ns: int, cap_sec: float) -> float:
    """Wall seconds to wait for a ROS-time target (assumes real-time rate; capped so sim time is polled)."""
    if target_ns is None:
        return cap_sec
    return min(cap_sec, max(0.0, (target_ns - now_ns) / 1e9))
