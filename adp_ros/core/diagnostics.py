"""One versioned diagnostics record for the node, and the OK / WARN / ERROR logic, without ROS.

The worker records every published chunk (`ChunkRecord`) and every chunk that was not published (`Event`:
stale, bad input, model error, refused by the guard, no instruction). `DiagnosticsTracker.snapshot(now_ns)`
folds them into a `DiagnosticsSnapshot` (percentiles over the last `window` chunks, counters, the level and a
one-line message). `adp_ros/ros/diagnostics.py` maps chunks and snapshots to `DiagnosticArray`; the demo prints
the same snapshot. Times: `_ns` stamps are ROS time passed in by the caller (never read here), `_ms` durations.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

SNAPSHOT_VERSION = 1
"""Bump when a key of `DiagnosticsSnapshot.key_values()` changes meaning or disappears."""

OK, WARN, ERROR, STALE = 0, 1, 2, 3
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR", STALE: "STALE"}

MODEL_STAGES: tuple[str, ...] = ("preprocess", "vision", "projector", "scoring", "llm", "head")
"""The stages `OftPolicy.predict` times (`PolicyOutput.timings_ms` keys, plus "total")."""
STAGES: tuple[str, ...] = ("conversion", *MODEL_STAGES, "guard", "publish")
"""Per-chunk stages in order: messages → numpy, the model's stages (`OftPolicy.predict`), action guard, publish."""

SkipKind = Literal["stale", "bad_input", "model_error", "refused", "no_instruction"]
"""Why a chunk request published nothing (`core.runner.Status` besides 'ok')."""
SKIP_KINDS: tuple[str, ...] = get_args(SkipKind)
EventKind = Literal[SkipKind, "configure_failed"]
EVENT_LEVELS: dict[str, int] = {
    "stale": WARN,
    "bad_input": WARN,
    "refused": WARN,
    "no_instruction": WARN,
    "model_error": ERROR,
    "configure_failed": ERROR,
}
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)

WAITING_LOG_PERIOD_SEC = 10.0
"""While no synchronised observation arrives, the node logs what it waits for at most this often (ROS time)."""


@dataclass(frozen=True)
class Thresholds:
    end_to_end_warn_ms: float = 250.0
    end_to_end_error_ms: float = 1000.0
    min_rate_hz: float = 0.0
    """0 = no rate check."""
    input_timeout_sec: float = 1.0
    error_hold_sec: float = 5.0

    @classmethod
    def from_settings(cls, settings: Any) -> Thresholds:
        """From `params.DiagnosticsSettings` (or anything with the same attribute names)."""
        return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class ChunkRecord:
    """One published chunk: where its time went, what the gate and the pruning did, where it went."""

    index: int
    observation_stamp_ns: int
    """Newest camera stamp of the observation (the header stamp of the output)."""
    publish_ns: int
    stages_ms: Mapping[str, float]
    end_to_end_ms: float
    """Camera capture (newest camera stamp) → publish, ROS time."""
    observation_age_ms: float
    """Oldest stamp of the synchronised set → publish (what the staleness check bounds)."""
    queue_wait_ms: float
    """Set complete → picked up by the worker."""
    tokens_kept: int
    tokens_dense: int
    sequence_length: int
    pruned: bool
    prune_mode: str
    gate_state: str | None = None
    gate_band: str | None = None
    gate_displacement: float | None = None
    gate_window: int | None = None
    commanded: bool = False
    guard_modified: bool = False
    steps: int = 0

    @property
    def keep_ratio(self) -> float:
        return self.tokens_kept / self.tokens_dense if self.tokens_dense else 1.0

    @property
    def compute_ms(self) -> float:
        return float(sum(self.stages_ms.values()))


@dataclass(frozen=True)
class Event:
    kind: str
    reason: str
    stamp_ns: int

    @property
    def level(self) -> int:
        return EVENT_LEVELS.get(self.kind, WARN)


@dataclass(frozen=True)
class Stats:
    p50: float
    p90: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> Stats | None:
        if not values:
            return None
        arr = np.asarray(values, dtype=np.float64)
        return cls(float(np.percentile(arr, 50)), float(np.percentile(arr, 90)), float(arr.max()))


@dataclass(frozen=True)
class DiagnosticsSnapshot:
    version: int
    stamp_ns: int
    lifecycle_state: str
    command_state: str
    has_instruction: bool
    chunks: int
    """Chunks published since activation."""
    window_chunks: int
    pruned_fraction: float
    """Over the window."""
    rate_hz: float | None
    stages_ms: Mapping[str, Stats]
    end_to_end_ms: Stats | None
    observation_age_ms: Stats | None
    queue_wait_ms: Stats | None
    keep_ratio_mean: float | None
    tokens_kept_mean: float | None
    gate_sequence: str
    """D/P per chunk over the window, oldest first."""
    last_chunk: ChunkRecord | None
    counters: Mapping[str, int]
    last_event: Event | None
    last_observation_ns: int | None
    level: int
    message: str

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]

    def key_values(self) -> list[tuple[str, str]]:
        """Flat (key, value) strings for `diagnostic_msgs/KeyValue` (and the demo summary)."""
        kv: list[tuple[str, str]] = [
            ("schema_version", str(self.version)),
            ("lifecycle_state", self.lifecycle_state),
            ("commands", self.command_state),
            ("has_instruction", str(self.has_instruction).lower()),
            ("chunks", str(self.chunks)),
            ("rate_hz", _f(self.rate_hz)),
            ("pruned_fraction", _f(self.pruned_fraction)),
            ("keep_ratio_mean", _f(self.keep_ratio_mean)),
            ("tokens_kept_mean", _f(self.tokens_kept_mean)),
            ("gate_sequence", self.gate_sequence),
        ]
        for name, stats in (
            ("end_to_end_ms", self.end_to_end_ms),
            ("observation_age_ms", self.observation_age_ms),
            ("queue_wait_ms", self.queue_wait_ms),
            *((f"{stage}_ms", s) for stage, s in self.stages_ms.items()),
        ):
            if stats is not None:
                kv += [(f"{name}_p50", _f(stats.p50)), (f"{name}_p90", _f(stats.p90)), (f"{name}_max", _f(stats.max))]
        last = self.last_chunk
        if last is not None:
            kv += [
                ("gate_state", last.gate_state or ""),
                ("gate_band", last.gate_band or ""),
                ("gate_displacement", _f(last.gate_displacement)),
                ("gate_window", "" if last.gate_window is None else str(last.gate_window)),
            ]
        kv += [(name, str(value)) for name, value in self.counters.items()]
        if self.last_event is not None:
            kv += [("last_event", self.last_event.kind), ("last_event_reason", self.last_event.reason)]
        return kv

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _f(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def chunk_key_values(record: ChunkRecord) -> list[tuple[str, str]]:
    """Per-chunk keys for the latency topic (stage times, ages, tokens, gate)."""
    kv = [(f"{stage}_ms", _f(ms)) for stage, ms in record.stages_ms.items()]
    kv += [
        ("compute_ms", _f(record.compute_ms)),
        ("end_to_end_ms", _f(record.end_to_end_ms)),
        ("observation_age_ms", _f(record.observation_age_ms)),
        ("queue_wait_ms", _f(record.queue_wait_ms)),
        ("chunk_index", str(record.index)),
        ("observation_stamp_ns", str(record.observation_stamp_ns)),
        ("steps", str(record.steps)),
        ("tokens_kept", str(record.tokens_kept)),
        ("tokens_dense", str(record.tokens_dense)),
        ("keep_ratio", _f(record.keep_ratio)),
        ("sequence_length", str(record.sequence_length)),
        ("pruned", str(record.pruned).lower()),
        ("prune_mode", record.prune_mode),
        ("gate_state", record.gate_state or ""),
        ("gate_band", record.gate_band or ""),
        ("gate_displacement", _f(record.gate_displacement, 6)),
        ("gate_window", "" if record.gate_window is None else str(record.gate_window)),
        ("commanded", str(record.commanded).lower()),
        ("guard_modified", str(record.guard_modified).lower()),
    ]
    return kv


def waiting_message(
    inputs: Sequence[tuple[str, int]], idle_sec: float, instruction_topic: str = "", problem: str = ""
) -> str:
    """The "still waiting" log line: each synchronised input with the messages seen on it so far. A topic at 0
    is the usual culprit (name, namespace, remapping, QoS); all above 0 means the stamps never match.
    `instruction_topic`: set when there is no instruction yet. `problem`: what the synchroniser knows of the
    inputs missing or late and the parameter to change (`core.sync.ObservationSyncStats.problem`)."""
    seen = ", ".join(f"{topic}: {count}" for topic, count in inputs)
    text = f"waiting for input: no synchronised observation for {idle_sec:.1f} s; messages so far: {seen}"
    if problem:
        text += f" ({problem})"
    elif inputs and all(count > 0 for _, count in inputs):
        text += (
            " (every input has messages: check their header stamps against sync.slop_sec and sync.state_tolerance_sec)"
        )
    if instruction_topic:
        text += f"; no instruction yet (task.instruction or {instruction_topic})"
    return text


def chunk_level(record: ChunkRecord, thresholds: Thresholds) -> tuple[int, str]:
    e2e = record.end_to_end_ms
    text = f"chunk {record.index}: {e2e:.1f} ms end-to-end, {'pruned' if record.pruned else 'dense'}"
    if e2e > thresholds.end_to_end_error_ms:
        return ERROR, f"{text} > error threshold {thresholds.end_to_end_error_ms:g} ms"
    if e2e > thresholds.end_to_end_warn_ms:
        return WARN, f"{text} > warn threshold {thresholds.end_to_end_warn_ms:g} ms"
    if record.guard_modified:
        return WARN, f"{text}, clamped by the action guard"
    return OK, text


class DiagnosticsTracker:
    """Thread-safe accumulator; the worker writes, a timer reads snapshots. Memory is bounded by `window`."""

    def __init__(self, window: int = 100, thresholds: Thresholds | None = None) -> None:
        self._lock = threading.Lock()
        self._records: deque[ChunkRecord] = deque(maxlen=max(1, int(window)))
        self.thresholds = thresholds or Thresholds()
        self._counters: dict[str, int] = {}
        self._last_event: Event | None = None
        self._last_observation_ns: int | None = None
        self._active_since_ns: int | None = None
        self.reset_counters()

    def reset_counters(self) -> None:
        with self._lock:
            self._counters = {"observations": 0, "chunks_commanded": 0, "guard_modified": 0}
            self._counters.update(dict.fromkeys(EVENT_KINDS, 0))
            self._chunks = 0

    def activated(self, now_ns: int) -> None:
        """Start of an active period: clears the window (latencies of an earlier run would mislead)."""
        with self._lock:
            self._records.clear()
            self._active_since_ns = int(now_ns)
            self._chunks = 0

    def deactivated(self) -> None:
        with self._lock:
            self._active_since_ns = None

    def record_observation(self, now_ns: int) -> None:
        with self._lock:
            self._counters["observations"] += 1
            self._last_observation_ns = int(now_ns)

    def record_chunk(self, record: ChunkRecord) -> None:
        with self._lock:
            self._records.append(record)
            self._chunks += 1
            if record.commanded:
                self._counters["chunks_commanded"] += 1
            if record.guard_modified:
                self._counters["guard_modified"] += 1

    def record_event(self, kind: str, reason: str, now_ns: int) -> Event:
        event = Event(kind, reason, int(now_ns))
        with self._lock:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            self._last_event = event
        return event

    @property
    def last_event(self) -> Event | None:
        return self._last_event

    def input_idle_ns(self, now_ns: int) -> int | None:
        """ROS time since the last synchronised observation, or since activation if none came; None while
        not active."""
        with self._lock:
            if self._active_since_ns is None:
                return None
            since = self._active_since_ns
            if self._last_observation_ns is not None:
                since = max(since, self._last_observation_ns)
            return int(now_ns) - since

    def records(self) -> list[ChunkRecord]:
        with self._lock:
            return list(self._records)

    def snapshot(
        self,
        now_ns: int,
        *,
        lifecycle_state: str = "active",
        command_state: str = "disabled",
        has_instruction: bool = True,
        extra_counters: Mapping[str, int] | None = None,
        conditions: Sequence[tuple[int, str]] = (),
        input_problem: str = "",
    ) -> DiagnosticsSnapshot:
        """`conditions`: standing (level, message) issues the caller knows of (e.g. inputs lost while
        commanding), folded into the level and message like the tracker's own. `input_problem`: the inputs
        missing or late and the parameter to change, named in the "no synchronised observation" warning."""
        with self._lock:
            records = list(self._records)
            counters = dict(self._counters)
            last_event = self._last_event
            last_obs = self._last_observation_ns
            active_since = self._active_since_ns
            chunks = self._chunks
        if extra_counters:
            counters.update(extra_counters)
        rate = None
        if len(records) >= 2:
            span = records[-1].publish_ns - records[0].publish_ns
            rate = (len(records) - 1) / (span / 1e9) if span > 0 else None
        stages = {stage: Stats.of([r.stages_ms[stage] for r in records if stage in r.stages_ms]) for stage in STAGES}
        e2e = Stats.of([r.end_to_end_ms for r in records])
        level, message = self._evaluate(
            now_ns=int(now_ns),
            active=lifecycle_state == "active",
            active_since_ns=active_since,
            e2e=e2e,
            rate=rate,
            records=records,
            last_event=last_event,
            last_observation_ns=last_obs,
            has_instruction=has_instruction,
            lifecycle_state=lifecycle_state,
            command_state=command_state,
            conditions=conditions,
            input_problem=input_problem,
        )
        return DiagnosticsSnapshot(
            version=SNAPSHOT_VERSION,
            stamp_ns=int(now_ns),
            lifecycle_state=lifecycle_state,
            command_state=command_state,
            has_instruction=has_instruction,
            chunks=chunks,
            window_chunks=len(records),
            pruned_fraction=float(np.mean([r.pruned for r in records])) if records else 0.0,
            rate_hz=rate,
            stages_ms={k: v for k, v in stages.items() if v is not None},
            end_to_end_ms=e2e,
            observation_age_ms=Stats.of([r.observation_age_ms for r in records]),
            queue_wait_ms=Stats.of([r.queue_wait_ms for r in records]),
            keep_ratio_mean=float(np.mean([r.keep_ratio for r in records])) if records else None,
            tokens_kept_mean=float(np.mean([r.tokens_kept for r in records])) if records else None,
            gate_sequence="".join("P" if r.pruned else "D" for r in records),
            last_chunk=records[-1] if records else None,
            counters=counters,
            last_event=last_event,
            last_observation_ns=last_obs,
            level=level,
            message=message,
        )

    def _evaluate(
        self,
        *,
        now_ns: int,
        active: bool,
        active_since_ns: int | None,
        e2e: Stats | None,
        rate: float | None,
        records: list[ChunkRecord],
        last_event: Event | None,
        last_observation_ns: int | None,
        has_instruction: bool,
        lifecycle_state: str,
        command_state: str,
        conditions: Sequence[tuple[int, str]] = (),
        input_problem: str = "",
    ) -> tuple[int, str]:
        thr = self.thresholds
        issues: list[tuple[int, str]] = list(conditions)
        hold_ns = thr.error_hold_sec * 1e9
        if last_event is not None and now_ns - last_event.stamp_ns <= hold_ns:
            age = (now_ns - last_event.stamp_ns) / 1e9
            issues.append((last_event.level, f"{last_event.kind} {age:.1f} s ago: {last_event.reason}"))
        if active:
            if e2e is not None and e2e.p50 > thr.end_to_end_error_ms:
                issues.append((ERROR, f"end-to-end p50 {e2e.p50:.0f} ms > {thr.end_to_end_error_ms:g} ms"))
            elif e2e is not None and e2e.p90 > thr.end_to_end_warn_ms:
                issues.append((WARN, f"end-to-end p90 {e2e.p90:.0f} ms > {thr.end_to_end_warn_ms:g} ms"))
            since = last_observation_ns if last_observation_ns is not None else active_since_ns
            if since is not None and (now_ns - since) / 1e9 > thr.input_timeout_sec:
                issues.append(
                    (
                        WARN,
                        f"no synchronised observation for {(now_ns - since) / 1e9:.1f} s ("
                        + (
                            input_problem
                            or "check the camera and joint-state topics, their stamps, sync.slop_sec and "
                            "sync.state_tolerance_sec"
                        )
                        + ")",
                    )
                )
            if not has_instruction:
                issues.append((WARN, "waiting for an instruction (task.instruction or the instruction topic)"))
            if thr.min_rate_hz > 0 and rate is not None and rate < thr.min_rate_hz:
                issues.append((WARN, f"chunk rate {rate:.2f} Hz < {thr.min_rate_hz:g} Hz"))
        if issues:
            level = max(level for level, _ in issues)
            return level, "; ".join(text for _, text in sorted(issues, key=lambda i: -i[0]))
        if not active:
            return OK, f"{lifecycle_state}: not running inference"
        summary = f"active, commands: {command_state}"
        if records:
            summary += f", {len(records)} chunk(s) in window"
            if rate is not None:
                summary += f", {rate:.2f} chunks/s"
            if e2e is not None:
                summary += f", end-to-end p50 {e2e.p50:.0f} ms"
        return OK, summary
