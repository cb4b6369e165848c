"""Which visual tokens the LLM sees: one small selector per pruning mode, looked up by the mode's name.

The registry is keyed by `core.pruning.PRUNE_MODES`, the one list of mode names, and checked against it when this
module is imported: a mode added there without a selector here (or a selector under a name not listed there)
fails at import, not on a robot. Every selector answers `select(request) -> Selection`: the kept tokens chosen
before the LLM (adp, static, random), a layer pruner that cuts tokens inside the LLM (fastv), or nothing (dense).
The numerics live in `selection.py`; this module only says which of them a mode runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch

from adp_ros.core.errors import ConfigError, closest
from adp_ros.core.pruning import PRUNE_MODES, PruneConfig
from adp_ros.model.llm import LlamaForCausalLM
from adp_ros.model.selection import FastVPruner, adp_scores, random_per_camera, topk_per_camera

VISION_START = 1
"""Index of the first visual token in the LLM sequence (after BOS; `sequence.SequenceLayout.vision_span`)."""


@dataclass(frozen=True)
class SelectionRequest:
    """What a selector may look at: the projected patches, the text, the budget and the model."""

    prune: PruneConfig | None
    """None on a dense chunk."""
    counts: tuple[int, ...]
    """Visual tokens each camera keeps (`core.pruning.keep_counts`)."""
    patches_per_camera: int
    vision: torch.Tensor
    """(1, P, D) projected patches of every camera, camera then raster order."""
    prompt_embeds: torch.Tensor
    """(1, 1 + T, D) BOS + prompt."""
    stop_embed: torch.Tensor
    """(1, 1, D)."""
    llm: LlamaForCausalLM


@dataclass(frozen=True)
class Selection:
    kept: torch.Tensor | None = None
    """Kept indices among the P dense visual tokens (ascending, on the device), chosen before the LLM; None: all
    of them (or, with a `layer_pruner`, chosen inside the LLM)."""
    scores: torch.Tensor | None = None
    """(P,) relevance behind `kept`, when the mode scores."""
    layer_pruner: FastVPruner | None = None
    """Cuts visual tokens between LLM layers; its kept indices and scores are known once the LLM ran."""
    scored_queries: int = 0
    """Text tokens scored against every patch before the LLM (for the FLOPs count)."""

    def apply(self, vision: torch.Tensor) -> torch.Tensor:
        """The visual tokens that enter the LLM."""
        return vision if self.kept is None else vision.index_select(1, self.kept)


class TokenSelector:
    """One pruning mode. Instances live as long as the policy (a selector may keep state, e.g. a generator)."""

    mode: ClassVar[str]
    prunes: ClassVar[bool] = True
    """False only for `dense`: the chunk runs every visual token."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def select(self, request: SelectionRequest) -> Selection:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget state carried between chunks (warm-up calls this so it does not shift what the robot gets)."""


SELECTORS: dict[str, type[TokenSelector]] = {}


def register(cls: type[TokenSelector]) -> type[TokenSelector]:
    if cls.mode not in PRUNE_MODES or cls.mode in SELECTORS:
        raise RuntimeError(f"selector {cls.__name__} for mode {cls.mode!r}: not in PRUNE_MODES, or registered twice")
    SELECTORS[cls.mode] = cls
    return cls


@register
class DenseSelector(TokenSelector):
    """Every visual token (also what any mode runs at keep ratio 1)."""

    mode = "dense"
    prunes = False

    def select(self, request: SelectionRequest) -> Selection:
        return Selection()


@register
class AdpSelector(TokenSelector):
    """ADP: layer 0's text-to-vision q·k scores, top-k per camera. The gate decides which chunks get here."""

    mode = "adp"

    def select(self, request: SelectionRequest) -> Selection:
        queries = torch.cat([request.prompt_embeds, request.stop_embed], dim=1)
        scores = adp_scores(request.llm, queries, request.vision)
        kept = topk_per_camera(scores, request.counts, request.patches_per_camera)
        return Selection(kept=kept, scores=scores, scored_queries=queries.shape[1])


@register
class StaticSelector(AdpSelector):
    """ADP's selection on every chunk, the gate not consulted (`PruneConfig.for_chunk`)."""

    mode = "static"


@register
class RandomSelector(TokenSelector):
    """Uniformly random tokens with ADP's per-camera budget.

    Seeded from `random_seed` at its first chunk and again whenever the seed changes (a live parameter), then one
    fresh draw per chunk, so a seed replays the same sequence.
    """

    mode = "random"

    def __init__(self, device: torch.device) -> None:
        super().__init__(device)
        self._generator = torch.Generator(device=device)
        self._seed: int | None = None

    def select(self, request: SelectionRequest) -> Selection:
        assert request.prune is not None
        seed = request.prune.random_seed
        if seed != self._seed:
            self._generator.manual_seed(seed)
            self._seed = seed
        kept = random_per_camera(request.counts, request.patches_per_camera, self._generator, self.device)
        return Selection(kept=kept)

    def reset(self) -> None:
        self._seed = None


@register
class FastVSelector(TokenSelector):
    """FastV: dense up to layer K, then the tokens that received the most attention in layer K−1."""

    mode = "fastv"

    def select(self, request: SelectionRequest) -> Selection:
        assert request.prune is not None
        pruner = FastVPruner(request.prune.fastv_layer, VISION_START, request.counts, request.patches_per_camera)
        return Selection(layer_pruner=pruner)


if set(SELECTORS) != set(PRUNE_MODES):
    raise RuntimeError(f"token selectors {sorted(SELECTORS)} do not match core.pruning.PRUNE_MODES {PRUNE_MODES}")


def make_selectors(device: torch.device, modes: Sequence[str] = PRUNE_MODES) -> dict[str, TokenSelector]:
    """One selector per mode, for one policy."""
    out = {}
    for mode in modes:
        if mode not in SELECTORS:
            raise ConfigError(f"pruning mode {mode!r} has no selector{closest(mode, tuple(SELECTORS))}")
        out[mode] = SELECTORS[mode](device)
    return out
