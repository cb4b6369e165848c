"""A small random OpenVLA-OFT checkpoint in the released on-disk layout, for tests and the demo.

Everything a released directory holds, at toy size: config.json (released schema, tiny `text_config` and tower
ids described in `tiny_timm_models.json`), model.safetensors with the released names, DDP-prefixed head files,
dataset statistics, the released preprocessor config and a small Llama-style tokenizer built offline. It loads
through exactly the path a downloaded checkpoint takes. Weights follow the conformance fixture's recipe
(O(1) activations: LayerScale near 1, not HF's 1e-5 initialisation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from adp_ros.core.errors import ConfigError
from adp_ros.core.platform import PlatformConfig

if TYPE_CHECKING:
    import torch

TOKENIZER_CORPUS = (
    "put both the alphabet soup and the tomato sauce in the basket",
    "pick up the black bowl between the plate and the ramekin and place it on the plate",
    "open the top drawer and put the bowl inside",
    "turn on the stove and put the moka pot on it",
    "put the cream cheese in the bowl",
    "push the plate to the front of the stove",
    "pick up the ketchup and place it in the basket",
    "put the wine bottle on top of the cabinet",
    "close the microwave",
    "stack the red block on the green cube",
    "move the cup to the left of the sink",
    "grasp the handle and slide the door open",
    "put the marker into the mug, then hand over the towel",
    "transfer the cube from the left gripper to the right gripper",
    "In: What action should the robot take to do it?\nOut:",
    "0 1 2 3 4 5 6 7 8 9 . , ; : ! ? ( ) - ' \"",
)


@dataclass(frozen=True)
class TinySpec:
    """Sizes of the tiny model. Defaults run a LIBERO chunk in a few ms on one CPU core."""

    dino_dim: int = 48
    siglip_dim: int = 48
    vision_depth: int = 3
    vision_heads: int = 3
    llm_dim: int = 64
    llm_layers: int = 2
    llm_heads: int = 4
    llm_intermediate: int = 172
    vocab_size: int = 32064  # ids used by the prompt format (29871 "▁", BOS, stop) must exist
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("dino_dim", "siglip_dim", "llm_dim"):
            heads = self.llm_heads if name == "llm_dim" else self.vision_heads
            if getattr(self, name) % heads:
                raise ConfigError(f"{name}={getattr(self, name)} must be divisible by its head count {heads}")
        if self.vision_depth < 2 or self.llm_layers < 1:
            raise ConfigError("vision_depth must be >= 2 (features come from block depth-2) and llm_layers >= 1")


def _tower_entries(spec: TinySpec) -> dict[str, dict]:
    def entry(dim: int, *, dino: bool) -> dict:
        mlp = 4 * dim if dino else int(dim * 3.7362)
        return {
            "same_architecture_as": "vit_large_patch14_reg4_dinov2" if dino else "vit_so400m_patch14_siglip_224",
            "timm_kwargs": {"patch_size": 14, "img_size": 224, "embed_dim": dim, "depth": spec.vision_depth},
            "resolved": {
                "embed_dim": dim,
                "depth": spec.vision_depth,
                "num_heads": spec.vision_heads,
                "mlp_hidden": mlp,
                "num_patches": 256,
                "has_class_token": dino,
                "num_reg_tokens": 4 if dino else 0,
                "no_embed_class": dino,
                "layer_scale": dino,
                "qkv_bias": True,
                "norm_eps": 1e-6,
                "act": "GELU(approximate=none)",
                "has_attn_pool": not dino,
                "feature_block_index_used_by_openvla": spec.vision_depth - 2,
            },
        }

    return {
        "vit_tiny_patch14_reg4_dinov2_adpros": entry(spec.dino_dim, dino=True),
        "vit_tiny_patch14_siglip_224_adpros": entry(spec.siglip_dim, dino=False),
    }


def _config(spec: TinySpec) -> dict:
    return {
        "arch_specifier": "no-align+fused-gelu-mlp",
        "architectures": ["OpenVLAForActionPrediction"],
        "hf_llm_id": "meta-llama/Llama-2-7b-hf",
        "image_resize_strategy": "resize-naive",
        "image_sizes": [224, 224],
        "llm_backbone_id": "llama2-7b-pure",
        "llm_max_length": 2048,
        "model_type": "openvla",
        "n_action_bins": 256,
        "norm_stats": {},
        "output_projector_states": False,
        "pad_to_multiple_of": 64,
        "pad_token_id": 32000,
        "text_config": {
            "hidden_size": spec.llm_dim,
            "intermediate_size": spec.llm_intermediate,
            "num_hidden_layers": spec.llm_layers,
            "num_attention_heads": spec.llm_heads,
            "num_key_value_heads": spec.llm_heads,
            "max_position_embeddings": 2048,
            "model_type": "llama",
            "pad_token_id": 32000,
            "torch_dtype": "float32",
            "vocab_size": spec.vocab_size,
        },
        "timm_model_ids": list(_tower_entries(spec)),
        "timm_override_act_layers": [None, None],
        "torch_dtype": "float32",
        "transformers_version": "4.40.1",
        "use_fused_vision_backbone": True,
        "vision_backbone_id": "dinosiglip-vit-so-224px",
        "adp_ros_tiny_model": True,
    }


def _randomize(module: torch.nn.Module, generator: torch.Generator) -> None:
    """The fixture's recipe: norms 1+0.1·N, biases 0.1·N, LayerScale U(0.5, 1.5), tokens 0.5·N, W ~ N/√fan_in."""
    import torch

    for name, p in module.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        shape = p.shape
        with torch.no_grad():
            if "scale_factor" in name:
                p.copy_(torch.rand(shape, generator=generator) + 0.5)
            elif leaf in ("pos_embed", "cls_token", "reg_token", "latent"):
                p.copy_(0.5 * torch.randn(shape, generator=generator))
            elif p.ndim == 1 and ("norm" in name or "layer_norm" in name or ".ffn.0." in name):
                p.copy_(
                    1 + 0.1 * torch.randn(shape, generator=generator)
                    if leaf == "weight"
                    else 0.1 * torch.randn(shape, generator=generator)
                )
            elif p.ndim == 1:
                p.copy_(0.1 * torch.randn(shape, generator=generator))
            else:
                fan_in = int(np.prod(shape[1:]))
                p.copy_(torch.randn(shape, generator=generator) / fan_in**0.5)


def _statistics(platform: PlatformConfig, seed: int) -> dict:
    rng = np.random.default_rng(seed)

    def block(dim: int, scale: float, masked_last: bool) -> dict:
        center = rng.uniform(-0.2, 0.2, dim) * scale
        half = rng.uniform(0.5, 1.0, dim) * scale
        stats = {
            "mean": center.tolist(),
            "std": (half / 2).tolist(),
            "min": (center - 1.2 * half).tolist(),
            "max": (center + 1.2 * half).tolist(),
            "q01": (center - half).tolist(),
            "q99": (center + half).tolist(),
        }
        if masked_last:
            stats["mask"] = [True] * (dim - 1) + [False]
        return stats

    eef = platform.action_kind == "eef_delta"
    return {
        f"tiny_{platform.name}": {
            # Delta-EE actions are small per-step deltas (gripper passed through, as LIBERO's mask does);
            # joint-position actions are absolute targets in radians.
            "action": block(platform.action_dim, 0.02 if eef else 1.0, masked_last=eef),
            "proprio": block(platform.proprio_dim, 0.5 if eef else 1.0, masked_last=False),
            "num_transitions": 1000,
            "num_trajectories": 10,
        }
    }


def _preprocessor_config() -> dict:
    """The released file's content (what `PrismaticImageProcessor` applies)."""
    tower = {
        "antialias": True,
        "interpolation": 3,
        "max_size": None,
        "size": [224, 224],
    }
    return {
        "image_processor_type": "PrismaticImageProcessor",
        "image_resize_strategy": "resize-naive",
        "input_sizes": [[3, 224, 224], [3, 224, 224]],
        "interpolations": ["bicubic", "bicubic"],
        "means": [[0.485, 0.456, 0.406], [0.5, 0.5, 0.5]],
        "stds": [[0.229, 0.224, 0.225], [0.5, 0.5, 0.5]],
        "processor_class": "PrismaticProcessor",
        "tvf_crop_params": [{"output_size": [224, 224]}, {"output_size": [224, 224]}],
        "tvf_do_letterbox": False,
        "tvf_letterbox_fill": None,
        "tvf_normalize_params": [
            {
                "inplace": False,
                "mean": [0.484375, 0.455078125, 0.40625],
                "std": [0.228515625, 0.2236328125, 0.224609375],
            },
            {"inplace": False, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        ],
        "tvf_resize_params": [tower, tower],
        "use_fused_vision_backbone": True,
    }


def build_tokenizer(out_dir: Path, vocab_size: int = 600) -> None:
    """A Llama-style BPE tokenizer (Metaspace "▁", BOS template, byte fallback) trained on a fixed corpus.

    Deterministic: the same corpus and settings give the same tokenizer.json.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<unk>", "<s>", "</s>", *byte_tokens],
        show_progress=False,
    )
    tok.train_from_iterator(list(TOKENIZER_CORPUS) * 4, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
    )
    tok.save(str(out_dir / "tokenizer.json"))
    (out_dir / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "add_bos_token": True,
                "add_eos_token": False,
                "model_max_length": 2048,
            },
            indent=2,
        )
    )


def make_tiny_checkpoint(out_dir: Path, platform: PlatformConfig, spec: TinySpec | None = None) -> Path:
    """Write a complete tiny checkpoint directory for `platform` (libero: 7-D actions, 8-D proprio; aloha: 14/14)."""
    import torch
    from safetensors.torch import save_file

    from adp_ros.model.openvla_oft import OpenVlaOft, VlaArchitecture, build_heads
    from adp_ros.model.vision import ARCH_FILE  # here, not at the top: `adp-ros --help` must not import torch

    spec = spec or TinySpec()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise ConfigError(f"{out_dir} is not empty; choose a new directory for the tiny checkpoint")
    towers = _tower_entries(spec)
    (out_dir / ARCH_FILE).write_text(json.dumps(towers, indent=2))
    config = _config(spec)
    (out_dir / "config.json").write_text(json.dumps(config, indent=2))
    arch = VlaArchitecture.from_config(config, out_dir)

    generator = torch.Generator().manual_seed(spec.seed)
    vla = OpenVlaOft(arch)
    _randomize(vla, generator)
    save_file(
        {k: v.contiguous() for k, v in vla.state_dict().items()},
        str(out_dir / "model.safetensors"),
        metadata={"format": "pt"},
    )
    head, proprio = build_heads(spec.llm_dim, platform.action_dim, platform.proprio_dim)
    _randomize(head, generator)
    _randomize(proprio, generator)
    # The released head files were saved from DDP-wrapped modules: keys carry `module.`.
    torch.save({f"module.{k}": v for k, v in head.state_dict().items()}, out_dir / "action_head--tiny_checkpoint.pt")
    torch.save(
        {f"module.{k}": v for k, v in proprio.state_dict().items()}, out_dir / "proprio_projector--tiny_checkpoint.pt"
    )
    (out_dir / "dataset_statistics.json").write_text(json.dumps(_statistics(platform, spec.seed), indent=2))
    (out_dir / "preprocessor_config.json").write_text(json.dumps(_preprocessor_config(), indent=2))
    build_tokenizer(out_dir)
    return out_dir
