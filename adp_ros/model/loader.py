"""Load a released OpenVLA-OFT checkpoint directory strictly, offline, without writing into it.

The VLA is built on the meta device and its parameters are assigned straight from the safetensors files, one
tensor at a time, so the weights are never held twice. Heads come from `action_head--*checkpoint.pt` and
`proprio_projector--*checkpoint.pt` (DDP `module.` prefix stripped, `weights_only=True`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from adp_ros.core.errors import CheckpointError, ConfigError
from adp_ros.core.normalization import Bounds
from adp_ros.core.platform import PlatformConfig
from adp_ros.model.heads import L1RegressionActionHead, ProprioProjector
from adp_ros.model.openvla_oft import OpenVlaOft, VlaArchitecture, build_heads
from adp_ros.model.preprocess import ImageNormalization

log = logging.getLogger(__name__)

# Parameters present in every released checkpoint that OpenVLA-OFT never runs (loaded for strictness only).
UNUSED_PARAMETER_PREFIXES = (
    "vision_backbone.featurizer.norm.",
    "vision_backbone.fused_featurizer.norm.",
    "vision_backbone.fused_featurizer.attn_pool.",
    "language_model.lm_head.",
)


def offline_environment() -> None:
    """Nothing in adp_ros downloads; make sure nothing underneath (transformers, hub) tries either."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@dataclass(frozen=True)
class CheckpointFiles:
    directory: Path
    config: Path
    weights: tuple[Path, ...]
    action_head: Path
    proprio_projector: Path
    dataset_statistics: Path | None
    preprocessor_config: Path

    @classmethod
    def discover(cls, directory: Path | str) -> CheckpointFiles:
        d = Path(directory).expanduser()
        if not d.is_dir():
            raise CheckpointError(f"checkpoint directory {d} does not exist (pass the downloaded model folder)")
        present = sorted(p.name for p in d.iterdir())
        problems = []
        config = d / "config.json"
        if not config.is_file():
            problems.append("config.json")
        weights = cls._weight_files(d, problems)
        action_head = cls._component(d, "action_head", problems)
        proprio = cls._component(d, "proprio_projector", problems)
        preprocessor = d / "preprocessor_config.json"
        if not preprocessor.is_file():
            problems.append("preprocessor_config.json")
        if problems:
            raise CheckpointError(
                f"{d} is not a complete OpenVLA-OFT checkpoint: missing {', '.join(problems)}; "
                f"found {', '.join(present) or 'nothing'}"
            )
        stats = d / "dataset_statistics.json"
        return cls(
            directory=d,
            config=config,
            weights=weights,
            action_head=action_head,  # type: ignore[arg-type]
            proprio_projector=proprio,  # type: ignore[arg-type]
            dataset_statistics=stats if stats.is_file() else None,
            preprocessor_config=preprocessor,
        )

    @staticmethod
    def _weight_files(d: Path, problems: list[str]) -> tuple[Path, ...]:
        index = d / "model.safetensors.index.json"
        if index.is_file():
            try:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            except (json.JSONDecodeError, KeyError, AttributeError) as exc:
                raise CheckpointError(f"{index} is malformed ({exc!r})") from None
            missing = [s for s in shards if not (d / s).is_file()]
            if missing:
                problems.append(f"weight shards {missing} listed in model.safetensors.index.json")
            return tuple(d / s for s in shards)
        single = d / "model.safetensors"
        if single.is_file():
            return (single,)
        problems.append("model.safetensors (or model.safetensors.index.json + shards)")
        return ()

    @staticmethod
    def _component(d: Path, name: str, problems: list[str]) -> Path | None:
        # The original's find_checkpoint_file: the one file naming the component and "checkpoint".
        matches = sorted(p for p in d.glob("*.pt") if name in p.name and "checkpoint" in p.name)
        if len(matches) == 1:
            return matches[0]
        if not matches:
            problems.append(f"{name}--*checkpoint.pt")
        else:
            problems.append(f"exactly one {name} file (found {[m.name for m in matches]})")
        return None


def _iter_safetensors(paths: tuple[Path, ...], device: torch.device, dtype: torch.dtype) -> Iterator[tuple[str, Any]]:
    from safetensors import SafetensorError, safe_open

    for path in paths:
        try:
            with safe_open(str(path), framework="pt", device=str(device)) as f:
                for key in f.keys():  # noqa: SIM118 - safe_open has keys(), not __iter__
                    yield key, f.get_tensor(key).to(dtype)
        except SafetensorError as exc:
            raise CheckpointError(f"{path} is truncated or not a safetensors file ({exc}); download it again") from None


def assign_state_dict(module: nn.Module, tensors: Mapping[str, torch.Tensor], what: str) -> None:
    """Strict load into a meta-device module: every key present, nothing extra, every shape equal."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k}: file {tuple(tensors[k].shape)} vs model {expected[k]}"
        for k in sorted(expected.keys() & tensors.keys())
        if tuple(tensors[k].shape) != expected[k]
    ]
    if missing or unexpected or wrong:
        detail = []
        if missing:
            detail.append(f"{len(missing)} missing (e.g. {missing[:3]})")
        if unexpected:
            detail.append(f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
        if wrong:
            detail.append(f"{len(wrong)} with wrong shapes (e.g. {wrong[:3]})")
        raise CheckpointError(f"{what} does not match the architecture in config.json: {'; '.join(detail)}")
    module.load_state_dict(tensors, strict=True, assign=True)


def load_vla(files: CheckpointFiles, arch: VlaArchitecture, device: torch.device, dtype: torch.dtype) -> OpenVlaOft:
    with torch.device("meta"):
        vla = OpenVlaOft(arch)
    tensors = dict(_iter_safetensors(files.weights, device, dtype))
    assign_state_dict(vla, tensors, f"the weights in {files.directory}")
    return vla.eval().requires_grad_(False)


def _load_component(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors have many types; all mean the same to the user
        raise CheckpointError(f"{path} cannot be read ({type(exc).__name__}: {exc}); download it again") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a state dict")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_heads(
    files: CheckpointFiles, llm_dim: int, platform: PlatformConfig, device: torch.device, dtype: torch.dtype
) -> tuple[L1RegressionActionHead, ProprioProjector]:
    head_sd = _load_component(files.action_head)
    proprio_sd = _load_component(files.proprio_projector)
    try:
        action_dim = int(head_sd["model.fc2.weight"].shape[0])
        head_in = int(head_sd["model.fc1.weight"].shape[1])
        proprio_dim = int(proprio_sd["fc1.weight"].shape[1])
    except KeyError as exc:
        raise CheckpointError(f"{files.action_head.name}/{files.proprio_projector.name} lack {exc}") from None
    if action_dim != platform.action_dim:
        raise ConfigError(
            f"the action head predicts {action_dim}-D actions but platform {platform.name!r} says action_dim="
            f"{platform.action_dim}; pick the matching preset (libero: 7, aloha: 14) or override action_dim"
        )
    if proprio_dim != platform.proprio_dim:
        raise ConfigError(
            f"the proprio projector takes {proprio_dim}-D proprio but platform {platform.name!r} says proprio_dim="
            f"{platform.proprio_dim}; pick the matching preset (libero: 8, aloha: 14) or override proprio_dim"
        )
    if head_in != llm_dim * action_dim:
        raise CheckpointError(
            f"{files.action_head.name}: input {head_in} != llm hidden {llm_dim} × action_dim {action_dim}"
        )
    with torch.device("meta"):
        head, proprio = build_heads(llm_dim, action_dim, proprio_dim)
    assign_state_dict(head, {k: v.to(device, dtype) for k, v in head_sd.items()}, files.action_head.name)
    assign_state_dict(proprio, {k: v.to(device, dtype) for k, v in proprio_sd.items()}, files.proprio_projector.name)
    return head.eval().requires_grad_(False), proprio.eval().requires_grad_(False)


@dataclass(frozen=True)
class NormStats:
    key: str
    action: Bounds
    proprio: Bounds
    action_range: tuple[np.ndarray, np.ndarray] | None = None
    """The actions' min and max per dimension as trained (every dimension, normalised or not): the default safety
    limits. None when the statistics have no min/max."""


def load_norm_stats(files: CheckpointFiles, unnorm_key: str | None, platform: PlatformConfig) -> NormStats:
    """`dataset_statistics.json` replaces config.json's base-model `norm_stats`, as `get_vla()` does."""
    source = files.dataset_statistics
    try:
        if source is not None:
            stats = json.loads(source.read_text())
        else:
            log.warning("%s has no dataset_statistics.json; using config.json norm_stats", files.directory)
            source = files.config
            stats = json.loads(files.config.read_text()).get("norm_stats") or {}
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{source} is not valid JSON ({exc})") from None
    if not stats:
        raise CheckpointError(f"no normalisation statistics in {files.directory} (dataset_statistics.json)")
    keys = sorted(stats)
    if unnorm_key is None:
        if len(keys) != 1:
            raise ConfigError(
                f"this checkpoint has statistics for {len(keys)} datasets: set unnorm_key to one of {keys}"
            )
        unnorm_key = keys[0]
    if unnorm_key not in stats:
        raise ConfigError(f"unnorm_key={unnorm_key!r} is not in {source.name}; choose one of {keys}")
    entry = stats[unnorm_key]
    if "action" not in entry or "proprio" not in entry:
        raise CheckpointError(f"{source.name}[{unnorm_key!r}] needs 'action' and 'proprio' entries")
    action = Bounds.from_stats(entry["action"], platform.normalization, f"{unnorm_key}.action")
    proprio = Bounds.from_stats(entry["proprio"], platform.normalization, f"{unnorm_key}.proprio")
    if action.dim != platform.action_dim:
        raise ConfigError(
            f"statistics {unnorm_key!r} have {action.dim}-D actions, platform {platform.name!r} expects "
            f"{platform.action_dim}"
        )
    if proprio.dim != platform.proprio_dim:
        raise ConfigError(
            f"statistics {unnorm_key!r} have {proprio.dim}-D proprio, platform {platform.name!r} expects "
            f"{platform.proprio_dim}"
        )
    action_range = _action_range(entry["action"], action)
    return NormStats(key=unnorm_key, action=action, proprio=proprio, action_range=action_range)


def _action_range(stats: Any, action: Bounds) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        low = np.asarray(stats["min"], dtype=np.float64)
        high = np.asarray(stats["max"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    return (low, high) if low.shape == high.shape == (action.dim,) else None


def load_image_normalization(files: CheckpointFiles) -> ImageNormalization:
    return ImageNormalization.from_preprocessor_config(files.preprocessor_config)
