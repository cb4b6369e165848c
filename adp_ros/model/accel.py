"""CUDA graphs for the static-shape stages (vision towers, LLM), captured per shape at warm-up.

Batch-1 inference of this model is launch-bound in eager PyTorch: on an H100 pruning 60 % of the tokens saves
only ~15 % of eager LLM time (docs/benchmarks.md, "GPU reference"). ADP's kept count is fixed for a given (ρ, split)
and the prompt length changes only with the instruction, so every sequence length is one of a few constants:
one graph per shape replays the whole stage with a single launch. Anything that cannot be captured falls back
to eager with the reason logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import torch

log = logging.getLogger(__name__)


@dataclass
class _Captured:
    graph: torch.cuda.CUDAGraph
    inputs: tuple[torch.Tensor, ...]
    outputs: object
    extra: object = None


@dataclass
class GraphCache:
    """Capture `fn(*inputs)` once per key; later calls copy inputs into the captured buffers and replay.

    The returned tensors are the graph's own output buffers: consume (or clone) them before the next call with
    the same key. Tensors set as attributes of `extra` during capture (FastV's kept indices) refresh on replay.
    """

    enabled: bool
    max_graphs: int = 16
    _graphs: dict[Hashable, _Captured] = field(default_factory=dict)
    _failed: dict[Hashable, str] = field(default_factory=dict)
    _pool: object = None

    def run(
        self,
        key: Hashable,
        fn: Callable[..., object],
        inputs: Sequence[torch.Tensor],
        extra: object = None,
    ) -> tuple[object, object]:
        """(outputs, extra) from the graph for `key`, or from an eager call when graphs are off or failed."""
        if not self.enabled or key in self._failed:
            return fn(*inputs), extra
        captured = self._graphs.get(key)
        if captured is None:
            if len(self._graphs) >= self.max_graphs:
                return fn(*inputs), extra
            captured = self._capture(key, fn, inputs, extra)
            if captured is None:
                return fn(*inputs), extra
        for static, new in zip(captured.inputs, inputs, strict=True):
            static.copy_(new, non_blocking=True)
        captured.graph.replay()
        return captured.outputs, captured.extra

    def _capture(
        self, key: Hashable, fn: Callable[..., object], inputs: Sequence[torch.Tensor], extra: object
    ) -> _Captured | None:
        static = tuple(t.clone() for t in inputs)
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(2):  # kernel selection and allocator warm-up happen outside the capture
                    fn(*static)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            if self._pool is None:
                self._pool = torch.cuda.graph_pool_handle()
            with torch.cuda.graph(graph, pool=self._pool):
                outputs = fn(*static)
        except Exception as exc:  # capture can fail for many reasons; eager always works
            reason = f"{type(exc).__name__}: {exc}"
            self._failed[key] = reason
            log.warning("CUDA graph capture failed for %s, running it eagerly: %s", key, reason)
            return None
        captured = _Captured(graph=graph, inputs=static, outputs=outputs, extra=extra)
        self._graphs[key] = captured
        log.info("captured a CUDA graph for %s", key)
        return captured

    @property
    def keys(self) -> list[Hashable]:
        return list(self._graphs)

    @property
    def failures(self) -> dict[Hashable, str]:
        return dict(self._failed)

    def clear(self) -> None:
        self._graphs.clear()
        self._failed.clear()
