"""Policy configuration: the checkpoint, the platform constants it was trained with, and the runtime."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import torch

from adp_ros.core.errors import ConfigError
from adp_ros.core.params import ACCELERATIONS, DTYPES
from adp_ros.core.platform import LIBERO, PlatformConfig

Attention = Literal["bidirectional", "causal"]
ATTENTIONS: tuple[str, ...] = get_args(Attention)


@dataclass(frozen=True)
class PolicyConfig:
    checkpoint: Path
    platform: PlatformConfig = field(default=LIBERO)
    unnorm_key: str | None = None
    """Dataset statistics to de-normalise with; required when the checkpoint has several."""
    device: str = "auto"
    """`auto`: the first CUDA device when there is one, else the CPU."""
    dtype: str = "auto"
    """One of `DTYPES`. `auto`: bfloat16 on CUDA (what the checkpoints run in), float32 on the CPU."""
    center_crop: bool | None = None
    """None: the platform's setting (released checkpoints need the 90 % centre crop)."""
    attention: Attention = "bidirectional"
    """`causal` exists only to show what stock Llama attention would do; never use it to control a robot."""
    acceleration: str = "auto"
    """One of `ACCELERATIONS`. `auto`: CUDA graphs per static shape on CUDA (captured at warm-up), eager elsewhere."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "checkpoint", Path(self.checkpoint).expanduser())
        if self.attention not in ATTENTIONS:
            raise ConfigError(f"attention={self.attention!r} not in {ATTENTIONS!r}")
        if self.acceleration not in ACCELERATIONS:
            raise ConfigError(f"acceleration={self.acceleration!r} not in {ACCELERATIONS!r}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype={self.dtype!r} not in {DTYPES!r}")

    def resolve_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(self.device)
        except RuntimeError as exc:
            raise ConfigError(f"device={self.device!r} is not a torch device ({exc})") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"device={self.device!r} but CUDA is not available; use device='cpu' or 'auto'")
        return device

    def resolve_dtype(self, device: torch.device) -> torch.dtype:
        if self.dtype == "auto":
            return torch.bfloat16 if device.type == "cuda" else torch.float32
        return getattr(torch, self.dtype)

    @classmethod
    def from_settings(cls, model: Any, checkpoint: str | Path | None = None) -> PolicyConfig:
        """From the node's resolved `params.ModelSettings` (what the node and `bag eval` load)."""
        return cls(
            checkpoint=checkpoint if checkpoint is not None else model.checkpoint,
            platform=model.platform,
            unnorm_key=model.unnorm_key,
            device=model.device,
            dtype=model.dtype,
            center_crop=model.center_crop,
            acceleration=model.acceleration,
        )

    @property
    def use_center_crop(self) -> bool:
        return self.platform.center_crop if self.center_crop is None else self.center_crop
