"""Per-stage timing that does not synchronise the GPU between stages.

On CUDA each stage boundary records an event and the elapsed times are read once, after the result has been
copied to the host anyway; on the CPU the clock is read at each boundary.
"""

from __future__ import annotations

import time

import torch


class StageTimer:
    def __init__(self, device: torch.device) -> None:
        self._cuda = device.type == "cuda"
        self._marks: list[tuple[str, object]] = []
        self.mark("start")

    def mark(self, stage: str) -> None:
        """End of `stage` (the first mark is the start)."""
        if self._cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self._marks.append((stage, event))
        else:
            self._marks.append((stage, time.perf_counter_ns()))

    def elapsed_ms(self) -> dict[str, float]:
        """Milliseconds per stage; call after the last stage's result reached the host."""
        out: dict[str, float] = {}
        for (_, prev), (stage, cur) in zip(self._marks, self._marks[1:], strict=False):
            if self._cuda:
                cur.synchronize()  # type: ignore[attr-defined]
                ms = prev.elapsed_time(cur)  # type: ignore[attr-defined]
            else:
                ms = (cur - prev) / 1e6  # type: ignore[operator]
            out[stage] = out.get(stage, 0.0) + float(ms)
        return out
