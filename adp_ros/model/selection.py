"""Visual-token selection: ADP's text-driven scores, random selection and FastV's attention ranking.

ADP (arXiv 2509.22093; reference TerryPei/VLA-ADP `_compute_qk_importance_generic`): before the LLM runs, apply
layer 0's input RMSNorm and q/k projections to the input embeddings, through the decoder's own path
(`LlamaAttention.queries` / `.keys`) — queries are the non-placeholder text tokens (BOS, prompt incl. 29871, stop),
keys the projected patches — with no RoPE, mask or softmax, and average q·k/√d over heads and queries: one
relevance score per visual token. Top-k per camera, kept in raster order. Everything stays on the model's
device: no host synchronisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from adp_ros.model.llm import LlamaForCausalLM, attention_probs_received


def adp_scores(llm: LlamaForCausalLM, queries: torch.Tensor, vision: torch.Tensor) -> torch.Tensor:
    """(P,) relevance of each visual token; queries (1, Q, D), vision (1, P, D)."""
    layer = llm.model.layers[0]
    attn = layer.self_attn
    # Layer 0's own input norm and q/k projection path; no cos/sin: the reference scores without RoPE.
    q = attn.queries(layer.input_layernorm(queries))
    k = attn.keys(layer.input_layernorm(vision))
    scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(attn.head_dim))
    return scores.mean(dim=(0, 1, 2))


def topk_per_camera(scores: torch.Tensor, counts: Sequence[int], patches_per_camera: int) -> torch.Tensor:
    """Indices into the P visual tokens, per-camera top-k, sorted ascending (camera, then raster order).

    The reference does not re-sort with a single camera (tokens would enter by score); sorting always keeps
    the spatial order the model was trained on.
    """
    per_camera = scores.view(len(counts), patches_per_camera)
    kept = [
        torch.topk(per_camera[cam], k, sorted=False).indices + cam * patches_per_camera for cam, k in enumerate(counts)
    ]
    return torch.sort(torch.cat(kept)).values


def random_per_camera(
    counts: Sequence[int], patches_per_camera: int, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """Uniformly random tokens with the same per-camera budget as ADP: the floor any scoring must beat."""
    kept = [
        torch.randperm(patches_per_camera, generator=generator, device=generator.device)[:k].to(device)
        + cam * patches_per_camera
        for cam, k in enumerate(counts)
    ]
    return torch.sort(torch.cat(kept)).values


class FastVPruner:
    """FastV as an LLM layer hook: layers < K run on every token; at layer K keep the visual tokens that
    received the most attention in layer K−1 (softmaxed, averaged over heads and all queries), per camera.

    Kept tokens keep their RoPE positions (the cos/sin rows are gathered with them).
    """

    def __init__(self, layer: int, vision_start: int, counts: Sequence[int], patches_per_camera: int) -> None:
        self.layer = layer
        self.vision_start = vision_start
        self.counts = tuple(counts)
        self.patches_per_camera = patches_per_camera
        self.kept_index: torch.Tensor | None = None
        self.scores: torch.Tensor | None = None
        self._probs: torch.Tensor | None = None

    @property
    def num_vision(self) -> int:
        return len(self.counts) * self.patches_per_camera

    @property
    def graph_key(self) -> tuple[int, tuple[int, ...]]:
        """What changes the captured LLM graph (the kept count is static per layer and budget)."""
        return self.layer, self.counts

    def __call__(
        self, i: int, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, llm: LlamaForCausalLM
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if i == self.layer - 1:
            probs = attention_probs_received(llm.model.layers[i], x, cos, sin)
            start, end = self.vision_start, self.vision_start + self.num_vision
            self.scores = probs[:, start:end].mean(dim=0)
        if i != self.layer:
            return x, cos, sin
        assert self.scores is not None
        self.kept_index = topk_per_camera(self.scores, self.counts, self.patches_per_camera)
        start = self.vision_start
        keep_rows = torch.cat(
            [
                torch.arange(start, device=x.device),
                self.kept_index + start,
                torch.arange(start + self.num_vision, x.shape[1], device=x.device),
            ]
        )
        return x.index_select(1, keep_rows), cos.index_select(0, keep_rows), sin.index_select(0, keep_rows)
