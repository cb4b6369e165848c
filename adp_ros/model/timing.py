"""Per-stage timing that does not synchronise the GPU between stages.

On CUDA each stage boundary records an event and the elapsed times are read once, after the result has been
copied to the host anyway; on the CPU the clock is read at each boundary.

Stage names are checked against one list (`core.diagnostics.MODEL_STAGES` for the policy): a name that is not in
it raises at once, and `elapsed_ms` raises if a listed stage was never marked. Consumers read the timings by those
names (diagnostics, bench, bag evaluation), so a renamed stage must fail here rather than report 0 ms there.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from adp_ros.core.diagnostics import MODEL_STAGES


class StageTimer:
    def __init__(self, device: torch.device, stages: Sequence[str] = MODEL_STAGES) -> None:
        self.stages = tuple(stages)
        self._cuda = device.type == "cuda"
        self._marks: list[tuple[str, object]] = []
        self._record("")  # the start

    def mark(self, stage: str) -> None:
        """End of `stage`, one of `stages` (a stage marked twice adds up)."""
        if stage not in self.stages:
            raise ValueError(
                f"unknown timing stage {stage!r}; the stages are {self.stages} (core/diagnostics.py MODEL_STAGES)"
            )
        self._record(stage)

    def _record(self, stage: str) -> None:
        if self._cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self._marks.append((stage, event))
        else:
            self._marks.append((stage, time.perf_counter_ns()))

    def elapsed_ms(self) -> dict[str, float]:
        """Milliseconds per stage, in `stages` order; call after the last stage's result reached the host."""
        out = dict.fromkeys(self.stages, 0.0)
        marked = set()
        for (_, prev), (stage, cur) in zip(self._marks, self._marks[1:], strict=False):
            if self._cuda:
                cur.synchronize()  # type: ignore[attr-defined]
                ms = prev.elapsed_time(cur)  # type: ignore[attr-defined]
            else:
                ms = (cur - prev) / 1e6  # type: ignore[operator]
            out[stage] += float(ms)
            marked.add(stage)
        missing = [s for s in self.stages if s not in marked]
        if missing:
            raise RuntimeError(f"timing stages never marked: {missing} (of {self.stages})")
        return out
