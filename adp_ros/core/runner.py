"""One chunk without ROS: staleness → gate → policy → guard (`ChunkRunner.run`), plus the gate's motion feed.

The runner owns the action-aware gate; motion samples arrive from other threads through `observe`, so the gate
sits behind a lock. `core.pipeline.ChunkPipeline` drives it for every caller (the node, `bag eval`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from adp_ros.core.diagnostics import MODEL_STAGES, ChunkRecord, SkipKind
from adp_ros.core.errors import InputError
from adp_ros.core.gate import ActionAwareGate, GateConfig, GateDecision
from adp_ros.core.motion import (
    EEF_METRIC,
    ArmJoints,
    DisplacementMetric,
    IntegratedDeltaSource,
    JointPositionSource,
    PredictedDeltaMotion,
)
from adp_ros.core.pruning import PruneConfig
from adp_ros.core.safety import ActionGuard, StalenessConfig, check_staleness

TIME_JUMP_NS = 500_000_000
"""A motion sample this much older than the newest one is a new timeline (bag loop, clock reset), not jitter."""


Status = Literal["ok", SkipKind]


class TokenCounts(Protocol):
    vision_kept: int
    vision_dense: int
    sequence: int


class PolicyResult(Protocol):
    """What the pipeline reads from a policy's answer (`model.policy.PolicyOutput` is one)."""

    actions: np.ndarray
    """(chunk_len, action_dim) in robot units."""
    timings_ms: Mapping[str, float]
    """Per stage of `MODEL_STAGES`."""
    tokens: TokenCounts
    pruned: bool
    kept_indices: Sequence[Any]
    """Per camera, the kept patch indices (for the debug image)."""


class Predict(Protocol):
    """The policy boundary: (images, proprio, instruction, prune) → a `PolicyResult`. Core never imports the
    model; the node and the tools pass a callable around `OftPolicy.predict`."""

    def __call__(
        self, images: Sequence[np.ndarray], proprio: np.ndarray, instruction: str, prune: PruneConfig | None
    ) -> PolicyResult: ...


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
    output: PolicyResult | None = None
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
    assert outcome.output is not None and outcome.actions is not None, "a record is made of a published chunk"
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
