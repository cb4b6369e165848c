"""Llama-2 decoder with the released `language_model.*` names, run with full (bidirectional) attention.

OpenVLA-OFT was trained and evaluated with the transformers-openvla-oft fork, whose SDPA path is never causal.
Stock transformers silently runs causal attention and gives actions off by 0.07–0.27 on the fixture. Writing
the ~100 lines of the decoder here makes the attention pattern explicit (`is_causal=False`, no mask, so SDPA keeps
its fused kernels), lets FastV cut tokens between layers, and gives static shapes for CUDA graphs.
Numerics follow HF Llama: RMSNorm in float32 then cast, RoPE tables in float32 cast to the activation dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from adp_ros.core.errors import CheckpointError

# transformers' LlamaConfig defaults: the released `text_config` sets only vocab_size and pad_token_id.
LLAMA_DEFAULTS: dict[str, Any] = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": None,
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "hidden_act": "silu",
    "attention_bias": False,
    "mlp_bias": False,
    "rope_scaling": None,
}


@dataclass(frozen=True)
class LlamaSpec:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    max_position_embeddings: int
    rms_norm_eps: float
    rope_theta: float

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_text_config(cls, text_config: Mapping[str, Any]) -> LlamaSpec:
        cfg = {**LLAMA_DEFAULTS, **{k: v for k, v in text_config.items() if v is not None}}
        if cfg.get("model_type", "llama") != "llama":
            raise CheckpointError(f"text_config.model_type={cfg['model_type']!r}: only Llama backbones are supported")
        unsupported = {
            k: cfg[k]
            for k in ("hidden_act", "attention_bias", "mlp_bias", "rope_scaling")
            if cfg[k] != LLAMA_DEFAULTS[k]
        }
        if unsupported:
            raise CheckpointError(f"text_config sets options this Llama does not implement: {unsupported}")
        heads = int(cfg["num_attention_heads"])
        return cls(
            vocab_size=int(cfg["vocab_size"]),
            hidden_size=int(cfg["hidden_size"]),
            intermediate_size=int(cfg["intermediate_size"]),
            num_hidden_layers=int(cfg["num_hidden_layers"]),
            num_attention_heads=heads,
            num_key_value_heads=int(cfg["num_key_value_heads"] or heads),
            max_position_embeddings=int(cfg["max_position_embeddings"]),
            rms_norm_eps=float(cfg["rms_norm_eps"]),
            rope_theta=float(cfg["rope_theta"]),
        )


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(dtype)


def rope_tables(
    position_ids: torch.Tensor, head_dim: int, theta: float, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin (L, head_dim) for integer positions; computed in float32 like HF, then cast."""
    inv_freq = 1.0 / (
        theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64, device=position_ids.device).float() / head_dim)
    )
    freqs = position_ids.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    return (x * cos) + (_rotate_half(x) * sin)


class LlamaAttention(nn.Module):
    def __init__(self, spec: LlamaSpec) -> None:
        super().__init__()
        d, hd = spec.hidden_size, spec.head_dim
        self.num_heads = spec.num_attention_heads
        self.num_kv_heads = spec.num_key_value_heads
        self.head_dim = hd
        self.q_proj = nn.Linear(d, self.num_heads * hd, bias=False)
        self.k_proj = nn.Linear(d, self.num_kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(d, self.num_kv_heads * hd, bias=False)
        self.o_proj = nn.Linear(self.num_heads * hd, d, bias=False)

    # The one query/key/value path of this attention: the decoder, FastV's attention probabilities and ADP's
    # layer-0 text-to-vision scores all project through these methods (same modules, same RoPE function).
    def _heads(self, proj: nn.Linear, x: torch.Tensor, num_heads: int) -> torch.Tensor:
        b, n, _ = x.shape
        return proj(x).view(b, n, num_heads, self.head_dim).transpose(1, 2)

    def _repeat_kv(self, x: torch.Tensor) -> torch.Tensor:
        """Grouped-query attention: each key/value head serves num_heads / num_kv_heads query heads."""
        if self.num_kv_heads == self.num_heads:
            return x
        return x.repeat_interleave(self.num_heads // self.num_kv_heads, dim=1)

    def queries(
        self, x: torch.Tensor, cos: torch.Tensor | None = None, sin: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B, heads, N, head_dim) query states of the normed input `x`; rotated when cos/sin are given."""
        q = self._heads(self.q_proj, x, self.num_heads)
        return q if cos is None or sin is None else apply_rope(q, cos, sin)

    def keys(self, x: torch.Tensor, cos: torch.Tensor | None = None, sin: torch.Tensor | None = None) -> torch.Tensor:
        """(B, heads, N, head_dim) key states (repeated per query head), rotated when cos/sin are given."""
        k = self._heads(self.k_proj, x, self.num_kv_heads)
        return self._repeat_kv(k if cos is None or sin is None else apply_rope(k, cos, sin))

    def values(self, x: torch.Tensor) -> torch.Tensor:
        return self._repeat_kv(self._heads(self.v_proj, x, self.num_kv_heads))

    def qkv(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.queries(x, cos, sin), self.keys(x, cos, sin), self.values(x)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, causal: bool) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.qkv(x, cos, sin)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.o_proj(out.transpose(1, 2).reshape(b, n, -1))


class LlamaMLP(nn.Module):
    def __init__(self, spec: LlamaSpec) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(spec.hidden_size, spec.intermediate_size, bias=False)
        self.up_proj = nn.Linear(spec.hidden_size, spec.intermediate_size, bias=False)
        self.down_proj = nn.Linear(spec.intermediate_size, spec.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, spec: LlamaSpec) -> None:
        super().__init__()
        self.self_attn = LlamaAttention(spec)
        self.mlp = LlamaMLP(spec)
        self.input_layernorm = RMSNorm(spec.hidden_size, spec.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(spec.hidden_size, spec.rms_norm_eps)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, causal: bool) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, causal)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, spec: LlamaSpec) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(spec.vocab_size, spec.hidden_size)
        self.layers = nn.ModuleList(LlamaDecoderLayer(spec) for _ in range(spec.num_hidden_layers))
        self.norm = RMSNorm(spec.hidden_size, spec.rms_norm_eps)


# Called between layers with (layer_index, hidden, cos, sin); may return shorter (hidden, cos, sin) — FastV.
LayerHook = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


class LlamaForCausalLM(nn.Module):
    """Named like HF's class so keys load unchanged; only the decoder runs (`lm_head` is kept, never used)."""

    def __init__(self, spec: LlamaSpec) -> None:
        super().__init__()
        self.spec = spec
        self.model = LlamaModel(spec)
        self.lm_head = nn.Linear(spec.hidden_size, spec.vocab_size, bias=False)

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        position_ids: torch.Tensor,
        *,
        causal: bool = False,
        hook: LayerHook | None = None,
        collect: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Post-norm last hidden states. `position_ids` (L,) may have gaps (pruning with original positions).

        No host synchronisation here: the sequence builder checks lengths against `max_position_embeddings`.
        """
        cos, sin = rope_tables(position_ids, self.spec.head_dim, self.spec.rope_theta, inputs_embeds.dtype)
        x = inputs_embeds
        for i, layer in enumerate(self.model.layers):
            if hook is not None:
                x, cos, sin = hook(i, x, cos, sin)
            x = layer(x, cos, sin, causal)
            if collect is not None and i == 0:
                collect["hidden_after_layer0"] = x
        return self.model.norm(x)


def attention_probs_received(
    layer: LlamaDecoderLayer, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> torch.Tensor:
    """Softmaxed attention of `layer` on input `x`, averaged over heads: (L_query, L_key). FastV's signal."""
    attn, h = layer.self_attn, layer.input_layernorm(x)
    q, k = attn.queries(h, cos, sin), attn.keys(h, cos, sin)
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(attn.head_dim)
    return scores.float().softmax(dim=-1).mean(dim=1)[0]
