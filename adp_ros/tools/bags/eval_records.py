"""What `bag eval` records per chunk and mode (`ChunkRow`, `EvalResult`) and the task phases a `bag synth` bag
stores; the loop is in `evaluate.py`, the files and figure in `eval_report.py`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adp_ros.core.diagnostics import MODEL_STAGES

TIMING_COLUMNS = (*MODEL_STAGES, "total")
"""The per-chunk latency columns: the model's stages (`core.diagnostics.MODEL_STAGES`) and their total."""


@dataclass
class ChunkRow:
    chunk: int
    time_sec: float
    observation_stamp_ns: int
    gate_state: str
    displacement: float
    mode: str
    keep_ratio: float
    pruned: bool
    vision_tokens: int
    sequence: int
    tflops: float
    timings_ms: dict[str, float]
    deviation_normalized: float
    deviation_actions: float

    def as_csv(self) -> dict[str, Any]:
        row = {k: v for k, v in self.__dict__.items() if k != "timings_ms"}
        row.update({f"{s}_ms": round(self.timings_ms.get(s, 0.0), 4) for s in TIMING_COLUMNS})
        return row


@dataclass
class EvalResult:
    rows: list[ChunkRow] = field(default_factory=list)
    gate: list[tuple[float, str, float]] = field(default_factory=list)
    """(time, state, displacement) per chunk."""
    eef: list[tuple[int, np.ndarray]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    sync: dict[str, Any] = field(default_factory=dict)
    """{"sets": synchronised sets, "topics": {topic: {"received", "paired", "unpaired"}}}."""
    phases: list[dict[str, Any]] = field(default_factory=list)
    """Ground-truth task phases a `bag synth` bag stores: name, kind, start_sec, end_sec from the bag's start."""


SYNTH_RECORD = "adp_ros.synth"  # the bag's custom_data key `bag synth` writes its options and phases under


def stored_phases(custom_data: Mapping[str, str], start_ns: int) -> list[dict[str, Any]]:
    """The phases of a `bag synth` bag in seconds from `start_ns`; [] for any other bag (or an unreadable record).

    Phase bounds are header stamps; the plot's axis is log time, a few milliseconds of sensor latency later.
    """
    try:
        phases = json.loads(custom_data[SYNTH_RECORD])["phases"]
        return [
            {
                "name": str(p["name"]),
                "kind": str(p["kind"]),
                "start_sec": (int(p["start_ns"]) - start_ns) / 1e9,
                "end_sec": (int(p["end_ns"]) - start_ns) / 1e9,
            }
            for p in phases
        ]
    except (KeyError, TypeError, ValueError):
        return []


def record_row(
    result: EvalResult,
    chunk: int,
    time_sec: float,
    obs_stamp: int,
    decision: Any,
    mode: str,
    ratio: float,
    out: Any,
    dense: Any,
) -> None:
    """One row: `out` (a mode's `PolicyOutput`) against `dense` on the same observation."""
    result.rows.append(
        ChunkRow(
            chunk=chunk,
            time_sec=round(time_sec, 6),
            observation_stamp_ns=obs_stamp,
            gate_state=decision.state,
            displacement=float(decision.displacement or 0.0),
            mode=mode,
            keep_ratio=ratio,
            pruned=bool(out.pruned),
            vision_tokens=out.tokens.vision_kept,
            sequence=out.tokens.sequence,
            tflops=out.flops.total / 1e12,
            timings_ms=dict(out.timings_ms),
            deviation_normalized=float(np.abs(out.normalized_actions - dense.normalized_actions).max()),
            deviation_actions=float(np.abs(out.actions - dense.actions).max()),
        )
    )
