"""OpenVLA-OFT as one module tree whose parameter names are the released ones.

`OpenVlaOft` holds `vision_backbone.{featurizer,fused_featurizer}`, `projector` and `language_model` (the VLA
safetensors); the action head and proprio projector are separate modules, as they are separate files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from adp_ros.core.errors import CheckpointError
from adp_ros.core.flops import ModelDims, TowerDims
from adp_ros.core.platform import PlatformConfig
from adp_ros.model.heads import FusedMLPProjector, L1RegressionActionHead, ProprioProjector
from adp_ros.model.llm import LlamaForCausalLM, LlamaSpec
from adp_ros.model.vision import FusedVisionBackbone, VitSpec, resolve_tower

SUPPORTED_ARCH = "no-align+fused-gelu-mlp"


@dataclass(frozen=True)
class VlaArchitecture:
    """What config.json (plus the tower table) says about the VLA weights."""

    featurizer: VitSpec
    fused_featurizer: VitSpec
    llm: LlamaSpec
    tower_ids: tuple[str, str]

    @property
    def vision_dim(self) -> int:
        return self.featurizer.embed_dim + self.fused_featurizer.embed_dim

    @property
    def patches_per_image(self) -> int:
        return self.featurizer.num_patches

    @classmethod
    def from_config(cls, config: dict[str, Any], checkpoint_dir: Path | None = None) -> VlaArchitecture:
        where = f"{checkpoint_dir}/config.json" if checkpoint_dir else "config.json"
        if not config.get("use_fused_vision_backbone", False):
            raise CheckpointError(f"{where}: use_fused_vision_backbone is false; only DINOv2+SigLIP is supported")
        arch = config.get("arch_specifier", SUPPORTED_ARCH)
        if arch != SUPPORTED_ARCH:
            raise CheckpointError(f"{where}: arch_specifier={arch!r}; only {SUPPORTED_ARCH!r} is supported")
        ids = config.get("timm_model_ids")
        if not isinstance(ids, list) or len(ids) != 2:
            raise CheckpointError(f"{where}: timm_model_ids must list two towers, got {ids!r}")
        overrides = config.get("timm_override_act_layers") or [None, None]
        if any(o is not None for o in overrides):
            raise CheckpointError(f"{where}: timm_override_act_layers={overrides} is not supported")
        if "text_config" not in config:
            raise CheckpointError(f"{where}: no text_config")
        return cls(
            featurizer=resolve_tower(ids[0], checkpoint_dir),
            fused_featurizer=resolve_tower(ids[1], checkpoint_dir),
            llm=LlamaSpec.from_text_config(config["text_config"]),
            tower_ids=(ids[0], ids[1]),
        )

    @classmethod
    def from_dir(cls, checkpoint_dir: Path) -> VlaArchitecture:
        path = Path(checkpoint_dir) / "config.json"
        try:
            config = json.loads(path.read_text())
        except FileNotFoundError:
            raise CheckpointError(f"{path} not found: is {checkpoint_dir} an OpenVLA-OFT checkpoint?") from None
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{path} is not valid JSON ({exc})") from None
        return cls.from_config(config, checkpoint_dir)


class OpenVlaOft(nn.Module):
    def __init__(self, arch: VlaArchitecture) -> None:
        super().__init__()
        self.arch = arch
        self.vision_backbone = FusedVisionBackbone(arch.featurizer, arch.fused_featurizer)
        self.projector = FusedMLPProjector(arch.vision_dim, arch.llm.hidden_size)
        self.language_model = LlamaForCausalLM(arch.llm)


def build_heads(llm_dim: int, action_dim: int, proprio_dim: int) -> tuple[L1RegressionActionHead, ProprioProjector]:
    return L1RegressionActionHead(llm_dim, action_dim), ProprioProjector(proprio_dim, llm_dim)


def model_dims(arch: VlaArchitecture, platform: PlatformConfig) -> ModelDims:
    """The numbers `core/flops.py` needs, from the architecture actually loaded."""
    towers = tuple(
        TowerDims(
            width=t.embed_dim,
            blocks_run=t.feature_block + 1,
            mlp_hidden=t.mlp_hidden,
            tokens=t.num_patches + t.num_prefix_tokens,
            patch_size=t.patch_size,
            num_patches=t.num_patches,
        )
        for t in (arch.featurizer, arch.fused_featurizer)
    )
    return ModelDims(
        towers=towers,
        llm_hidden=arch.llm.hidden_size,
        llm_intermediate=arch.llm.intermediate_size,
        llm_layers=arch.llm.num_hidden_layers,
        llm_heads=arch.llm.num_attention_heads,
        llm_kv_heads=arch.llm.num_key_value_heads,
        action_dim=platform.action_dim,
        chunk_len=platform.chunk_len,
        proprio_dim=platform.proprio_dim,
    )
