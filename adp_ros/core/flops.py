"""Analytic FLOPs of one OpenVLA-OFT forward, per stage: the one place FLOPs are computed.

Counted: 2 FLOPs per multiply-add of every matrix product that runs (linear layers, convolution, attention
scores and values); norms, activations, softmax, RoPE and embedding lookups are ignored (<1 %). Not counted:
what never runs (vision blocks after the feature block, `lm_head`, SigLIP's pooling head).

Paper anchor (ADP README table): dense OpenVLA-OFT on LIBERO = 7.91 TFLOPs, which is the LLM alone
(≈ 2 × 6.6 B × 599 tokens). Here the dense LIBERO LLM is 2 × 6.48 B × 599 + attention = 7.95 TFLOPs (+0.45 %);
the paper's figure matches counting `lm_head` instead of attention, but no logits are computed at inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TowerDims:
    width: int
    blocks_run: int
    mlp_hidden: int
    tokens: int
    """Patches plus prefix (cls/register) tokens."""
    patch_size: int = 14
    num_patches: int = 256


@dataclass(frozen=True)
class ModelDims:
    towers: tuple[TowerDims, ...]
    llm_hidden: int
    llm_intermediate: int
    llm_layers: int
    llm_heads: int
    llm_kv_heads: int
    action_dim: int
    chunk_len: int
    proprio_dim: int

    @property
    def vision_dim(self) -> int:
        return sum(t.width for t in self.towers)

    @property
    def llm_linear_params(self) -> int:
        """Weights multiplied per token in one pass through the decoder layers."""
        d, head_dim = self.llm_hidden, self.llm_hidden // self.llm_heads
        attn = 2 * d * d + 2 * d * self.llm_kv_heads * head_dim
        return self.llm_layers * (attn + 3 * d * self.llm_intermediate)


@dataclass(frozen=True)
class FlopsBreakdown:
    vision: float
    projector: float
    scoring: float
    llm: float
    head: float

    @property
    def total(self) -> float:
        return self.vision + self.projector + self.scoring + self.llm + self.head

    def as_dict(self) -> dict[str, float]:
        return {
            "vision": self.vision,
            "projector": self.projector,
            "scoring": self.scoring,
            "llm": self.llm,
            "head": self.head,
            "total": self.total,
        }


def vision_flops(dims: ModelDims, num_images: int) -> float:
    total = 0.0
    for t in dims.towers:
        n, d = t.tokens, t.width
        patch = 2.0 * (3 * t.patch_size**2) * d * t.num_patches
        block = 2.0 * n * d * 3 * d + 4.0 * n * n * d + 2.0 * n * d * d + 4.0 * n * d * t.mlp_hidden
        total += patch + t.blocks_run * block
    return num_images * total


def llm_flops(dims: ModelDims, lengths: Sequence[int]) -> float:
    """Decoder FLOPs with `lengths[i]` tokens entering layer i (FastV shortens later layers)."""
    if len(lengths) != dims.llm_layers:
        raise ValueError(f"need one sequence length per layer ({dims.llm_layers}), got {len(lengths)}")
    per_layer_params = dims.llm_linear_params / dims.llm_layers
    return sum(2.0 * per_layer_params * n + 4.0 * n * n * dims.llm_hidden for n in lengths)


def forward_flops(
    dims: ModelDims,
    num_images: int,
    seq_len: int,
    *,
    dense_seq_len: int | None = None,
    scored_queries: int = 0,
    dense_layers: int = 0,
) -> FlopsBreakdown:
    """One chunk. `scored_queries` > 0 adds ADP's layer-0 q/k scoring; `dense_layers` = FastV's K."""
    d = dims.llm_hidden
    patches = num_images * dims.towers[0].num_patches
    projector = 2.0 * patches * (dims.vision_dim * 4 * dims.vision_dim + 4 * dims.vision_dim * d + d * d)
    proprio = 2.0 * (dims.proprio_dim * d + d * d)
    scoring = 0.0
    if scored_queries:
        head_dim = d // dims.llm_heads
        scoring = 2.0 * (
            scored_queries * d * d + patches * d * dims.llm_kv_heads * head_dim + scored_queries * patches * d
        )
    dense = dense_seq_len if dense_seq_len is not None else seq_len
    lengths = [dense] * dense_layers + [seq_len] * (dims.llm_layers - dense_layers)
    head_in = dims.action_dim * d
    head = 2.0 * dims.chunk_len * (head_in * d + 2 * d * d + d * dims.action_dim)
    return FlopsBreakdown(
        vision=vision_flops(dims, num_images),
        projector=projector + proprio,
        scoring=scoring,
        llm=llm_flops(dims, lengths),
        head=head,
    )
