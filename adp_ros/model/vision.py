"""The fused DINOv2 + SigLIP vision backbone as a small plain-torch ViT with timm's parameter names.

Own code rather than timm (it needs torchvision, which has no CPU build for the pinned torch) or transformers'
ViTs (a key mapping per version). Numerics follow timm 0.9.x `VisionTransformer` as OpenVLA builds it: exact erf
GELU, LayerNorm eps 1e-6, DINOv2 `no_embed_class` (positions added before the cls/register tokens are prepended),
features taken after block `depth - 2` without the final norm, prefix tokens dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from adp_ros.core.errors import CheckpointError

ARCH_FILE = "tiny_timm_models.json"
"""Per-checkpoint description of tower ids not in RELEASED_TOWERS (read by `resolve_tower`, written by `tiny.py`)."""


@dataclass(frozen=True)
class VitSpec:
    embed_dim: int
    depth: int
    num_heads: int
    mlp_hidden: int
    class_token: bool
    reg_tokens: int
    no_embed_class: bool
    layer_scale: bool
    attn_pool: bool
    patch_size: int = 14
    img_size: int = 224
    qkv_bias: bool = True
    norm_eps: float = 1e-6
    gelu_approximate: str = "none"

    @property
    def num_patches(self) -> int:
        return (self.img_size // self.patch_size) ** 2

    @property
    def num_prefix_tokens(self) -> int:
        return int(self.class_token) + self.reg_tokens

    @property
    def feature_block(self) -> int:
        """OpenVLA reads `get_intermediate_layers(n={depth - 2})`: the second-to-last block's output."""
        return self.depth - 2


# The two towers of every released OpenVLA(-OFT) checkpoint (timm 0.9.10 definitions, img_size=224).
RELEASED_TOWERS: dict[str, VitSpec] = {
    "vit_large_patch14_reg4_dinov2.lvd142m": VitSpec(
        embed_dim=1024,
        depth=24,
        num_heads=16,
        mlp_hidden=4096,
        class_token=True,
        reg_tokens=4,
        no_embed_class=True,
        layer_scale=True,
        attn_pool=False,
    ),
    "vit_so400m_patch14_siglip_224": VitSpec(
        embed_dim=1152,
        depth=27,
        num_heads=16,
        mlp_hidden=4304,  # int(1152 * 3.7362)
        class_token=False,
        reg_tokens=0,
        no_embed_class=False,
        layer_scale=False,
        attn_pool=True,
    ),
}


def _spec_from_arch_entry(model_id: str, entry: dict[str, Any], source: Path) -> VitSpec:
    resolved = entry.get("resolved", entry)
    kwargs = entry.get("timm_kwargs", {})
    act = str(resolved.get("act", "GELU(approximate=none)"))
    try:
        return VitSpec(
            embed_dim=int(resolved["embed_dim"]),
            depth=int(resolved["depth"]),
            num_heads=int(resolved["num_heads"]),
            mlp_hidden=int(resolved["mlp_hidden"]),
            class_token=bool(resolved["has_class_token"]),
            reg_tokens=int(resolved.get("num_reg_tokens", 0)),
            no_embed_class=bool(resolved.get("no_embed_class", False)),
            layer_scale=bool(resolved.get("layer_scale", False)),
            attn_pool=bool(resolved.get("has_attn_pool", False)),
            patch_size=int(kwargs.get("patch_size", resolved.get("patch_size", 14))),
            img_size=int(kwargs.get("img_size", resolved.get("img_size", 224))),
            qkv_bias=bool(resolved.get("qkv_bias", True)),
            norm_eps=float(resolved.get("norm_eps", 1e-6)),
            gelu_approximate="tanh" if "tanh" in act else "none",
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: entry {model_id!r} is incomplete or malformed ({exc!r})") from None


def resolve_tower(model_id: str, checkpoint_dir: Path | None = None) -> VitSpec:
    """Released ids from the built-in table; any other id from `tiny_timm_models.json` in the checkpoint."""
    if model_id in RELEASED_TOWERS:
        return RELEASED_TOWERS[model_id]
    if checkpoint_dir is not None:
        arch_path = Path(checkpoint_dir) / ARCH_FILE
        if arch_path.is_file():
            try:
                table = json.loads(arch_path.read_text())
            except json.JSONDecodeError as exc:
                raise CheckpointError(f"{arch_path} is not valid JSON: {exc}") from None
            if model_id in table:
                return _spec_from_arch_entry(model_id, table[model_id], arch_path)
    raise CheckpointError(
        f"unknown vision tower {model_id!r}: not a released id ({', '.join(RELEASED_TOWERS)}) and not described "
        f"in {ARCH_FILE} in the checkpoint directory; add its architecture there (see `adp-ros make-tiny-model`)"
    )


class LayerScale(nn.Module):
    """timm LayerScale; OpenVLA renames `gamma` to `scale_factor` (HF would rewrite `gamma` keys on load)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale_factor = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale_factor


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, approximate: str) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.approximate = approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate=self.approximate))


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, qkv_bias: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    def __init__(self, spec: VitSpec) -> None:
        super().__init__()
        d = spec.embed_dim
        self.norm1 = nn.LayerNorm(d, eps=spec.norm_eps)
        self.attn = Attention(d, spec.num_heads, spec.qkv_bias)
        self.ls1 = LayerScale(d) if spec.layer_scale else nn.Identity()
        self.norm2 = nn.LayerNorm(d, eps=spec.norm_eps)
        self.mlp = Mlp(d, spec.mlp_hidden, spec.gelu_approximate)
        self.ls2 = LayerScale(d) if spec.layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, spec: VitSpec) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, spec.embed_dim, kernel_size=spec.patch_size, stride=spec.patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class AttentionPoolLatent(nn.Module):
    """SigLIP's MAP head. Present in every checkpoint, never run by OpenVLA: kept so loading is strict."""

    def __init__(self, spec: VitSpec) -> None:
        super().__init__()
        d = spec.embed_dim
        self.latent = nn.Parameter(torch.zeros(1, 1, d))
        self.q = nn.Linear(d, d, bias=spec.qkv_bias)
        self.kv = nn.Linear(d, 2 * d, bias=spec.qkv_bias)
        self.proj = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d, eps=spec.norm_eps)
        self.mlp = Mlp(d, spec.mlp_hidden, spec.gelu_approximate)


class VisionTransformer(nn.Module):
    """timm-named ViT that returns OpenVLA's features: block `depth-2` output, prefix tokens dropped."""

    def __init__(self, spec: VitSpec) -> None:
        super().__init__()
        self.spec = spec
        d = spec.embed_dim
        self.patch_embed = PatchEmbed(spec)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if spec.class_token else None
        self.reg_token = nn.Parameter(torch.zeros(1, spec.reg_tokens, d)) if spec.reg_tokens else None
        pos_len = spec.num_patches if spec.no_embed_class else spec.num_patches + spec.num_prefix_tokens
        self.pos_embed = nn.Parameter(torch.zeros(1, pos_len, d))
        self.blocks = nn.ModuleList(Block(spec) for _ in range(spec.depth))
        self.norm = nn.LayerNorm(d, eps=spec.norm_eps)  # unused by OpenVLA (features are pre-norm)
        self.attn_pool = AttentionPoolLatent(spec) if spec.attn_pool else None

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(pixels)
        prefix = [t.expand(x.shape[0], -1, -1) for t in (self.cls_token, self.reg_token) if t is not None]
        if self.spec.no_embed_class:
            x = torch.cat([*prefix, x + self.pos_embed], dim=1)
        else:
            x = torch.cat([*prefix, x], dim=1) + self.pos_embed
        # Blocks after `feature_block` are computed and discarded by timm; skipping them is exact.
        for block in self.blocks[: self.spec.feature_block + 1]:
            x = block(x)
        return x[:, self.spec.num_prefix_tokens :]


class FusedVisionBackbone(nn.Module):
    """[DINOv2 | SigLIP] per image; images concatenated along the token axis in camera order."""

    def __init__(self, featurizer: VitSpec, fused_featurizer: VitSpec) -> None:
        super().__init__()
        if featurizer.num_patches != fused_featurizer.num_patches:
            raise CheckpointError(
                f"vision towers disagree on patches per image ({featurizer.num_patches} vs "
                f"{fused_featurizer.num_patches}); check the tower ids in config.json"
            )
        self.featurizer = VisionTransformer(featurizer)
        self.fused_featurizer = VisionTransformer(fused_featurizer)

    @property
    def embed_dim(self) -> int:
        return self.featurizer.spec.embed_dim + self.fused_featurizer.spec.embed_dim

    @property
    def num_patches(self) -> int:
        return self.featurizer.spec.num_patches

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(B, 6·n, H, W) → (B, 256·n, D_dino + D_siglip); channels per image: 3 DINOv2, then 3 SigLIP."""
        b, c, h, w = pixel_values.shape
        n = c // 6
        per_image = pixel_values.reshape(b, n, 2, 3, h, w)
        dino = self.featurizer(per_image[:, :, 0].reshape(b * n, 3, h, w))
        siglip = self.fused_featurizer(per_image[:, :, 1].reshape(b * n, 3, h, w))
        fused = torch.cat([dino, siglip], dim=-1)
        return fused.reshape(b, n * fused.shape[1], fused.shape[2])

    def tower_features(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-tower patch features, (n, 256, D) each, for conformance dumps."""
        b, c, h, w = pixel_values.shape
        per_image = pixel_values.reshape(b * c // 6, 2, 3, h, w)
        return self.featurizer(per_image[:, 0]), self.fused_featurizer(per_image[:, 1])
