"""Platform constants that a checkpoint does not store, as explicit configuration.

The original picks these from substrings of `sys.argv` (prismatic/vla/constants.py); here they are a preset plus
overrides, checked against the loaded weights where the weights tell (action dim, proprio dim).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args

from adp_ros.core.errors import ConfigError, closest

POLICY_IMAGE_SIZE = 224
"""Every released checkpoint sees 224×224 images: 16×16 patches of 14×14 per camera and tower."""
PATCH_SIZE = 14
CENTER_CROP_AREA = 0.9
"""Released checkpoints were trained with random 90 %-area crops and are evaluated with the centre crop."""

Normalization = Literal["bounds_q99", "bounds"]
NORMALIZATIONS: tuple[str, ...] = get_args(Normalization)
ActionKind = Literal["eef_delta", "joint_position"]
ACTION_KINDS: tuple[str, ...] = get_args(ActionKind)


@dataclass(frozen=True)
class PlatformConfig:
    """What the policy was trained with on one robot platform."""

    name: str
    num_images: int
    chunk_len: int
    action_dim: int
    proprio_dim: int
    normalization: Normalization
    action_kind: ActionKind
    control_hz: float
    camera_names: tuple[str, ...]
    camera_split: tuple[float, ...]
    """ADP keep budget per camera (reference: 40 % third-person, the rest to the wrists)."""
    center_crop: bool = True
    """Released checkpoints were trained with random 90 %-area crops: evaluate with the centre crop."""

    def __post_init__(self) -> None:
        if not 1 <= self.num_images <= 3:
            raise ConfigError(f"num_images={self.num_images} outside [1, 3]")
        for field in ("chunk_len", "action_dim", "proprio_dim"):
            if getattr(self, field) < 1:
                raise ConfigError(f"{field}={getattr(self, field)} must be >= 1")
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(f"normalization={self.normalization!r} not in {NORMALIZATIONS}")
        if self.action_kind not in ACTION_KINDS:
            raise ConfigError(f"action_kind={self.action_kind!r} not in {ACTION_KINDS}")
        if len(self.camera_names) != self.num_images or len(self.camera_split) != self.num_images:
            raise ConfigError(
                f"{self.name}: camera_names {self.camera_names} and camera_split {self.camera_split} "
                f"must both have num_images={self.num_images} entries"
            )
        if self.control_hz <= 0:
            raise ConfigError(f"control_hz={self.control_hz} must be > 0")

    @property
    def num_action_tokens(self) -> int:
        """K: one placeholder per action dimension per chunk step."""
        return self.chunk_len * self.action_dim

    def replace(self, **changes: object) -> PlatformConfig:
        return dataclasses.replace(self, **changes)


LIBERO = PlatformConfig(
    name="libero",
    num_images=2,
    chunk_len=8,
    action_dim=7,
    proprio_dim=8,
    normalization="bounds_q99",
    action_kind="eef_delta",
    control_hz=20.0,
    camera_names=("primary", "wrist"),
    camera_split=(0.4, 0.6),
)

ALOHA = PlatformConfig(
    name="aloha",
    num_images=3,
    chunk_len=25,
    action_dim=14,
    proprio_dim=14,
    normalization="bounds",
    action_kind="joint_position",
    control_hz=25.0,
    camera_names=("primary", "left_wrist", "right_wrist"),
    camera_split=(0.4, 0.3, 0.3),
)

PRESETS: dict[str, PlatformConfig] = {p.name: p for p in (LIBERO, ALOHA)}


def get_platform(name: str) -> PlatformConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown platform preset {name!r}{closest(name, PRESETS)}") from None
