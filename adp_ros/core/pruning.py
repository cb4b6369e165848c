"""ADP token budgets: how many visual tokens each camera keeps for a keep ratio ρ.

Counts follow the reference exactly (TerryPei/VLA-ADP `predict_action`, `_compute_split_counts`): Python `round`
(half to even), at least one token per camera, the rounding remainder handed out one token at a time in order of
decreasing share, each camera capped at its patch count. Static for a given (ρ, split), which is what lets the
pruned LLM run with fixed shapes (CUDA graphs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from adp_ros.core.errors import ConfigError, closest

PruneMode = Literal["dense", "adp", "static", "random", "fastv"]
PositionMode = Literal["repacked", "original"]
Readout = Literal["oft", "reference"]

PRUNE_MODES: tuple[str, ...] = get_args(PruneMode)
POSITION_MODES: tuple[str, ...] = get_args(PositionMode)
READOUTS: tuple[str, ...] = get_args(Readout)


def expand_split(split: Sequence[float] | None, num_cameras: int) -> list[float]:
    """Normalised per-camera shares. A 2-entry split on 3 cameras divides the wrist share equally (reference)."""
    weights = list(split) if split else []
    if len(weights) == 2 and num_cameras > 2:
        main, wrist = weights
        weights = [main] + [wrist / (num_cameras - 1)] * (num_cameras - 1)
    if len(weights) != num_cameras:
        weights = [1.0] * num_cameras
    total = sum(max(0.0, float(w)) for w in weights)
    if total <= 0:
        weights, total = [1.0] * num_cameras, float(num_cameras)
    return [float(w) / total for w in weights]


def keep_counts(
    keep_ratio: float,
    num_cameras: int,
    patches_per_camera: int = 256,
    split: Sequence[float] | None = None,
) -> tuple[int, ...]:
    """Visual tokens kept per camera. ρ ≥ 1 keeps everything (the reference does not score at all)."""
    validate_keep_ratio(keep_ratio)
    total_patches = num_cameras * patches_per_camera
    if keep_ratio >= 1.0:
        return (patches_per_camera,) * num_cameras
    keep_total = max(1, round(total_patches * keep_ratio))
    if num_cameras == 1:
        return (min(keep_total, patches_per_camera),)
    shares = expand_split(split, num_cameras)
    counts = [max(1, round(keep_total * share)) for share in shares]
    diff = keep_total - sum(counts)
    order = sorted(range(num_cameras), key=lambda i: shares[i], reverse=True)
    step = 0
    # Bounded loop: with every camera at 1 a negative remainder cannot shrink further.
    while diff != 0 and step < 4 * total_patches:
        i = order[step % num_cameras]
        if diff > 0:
            counts[i] += 1
            diff -= 1
        elif counts[i] > 1:
            counts[i] -= 1
            diff += 1
        step += 1
    return tuple(min(c, patches_per_camera) for c in counts)


def validate_keep_ratio(keep_ratio: float) -> float:
    if not 0.0 < keep_ratio <= 1.0:
        raise ConfigError(f"keep_ratio={keep_ratio} outside (0, 1]; e.g. 0.3 keeps 30 % of the visual tokens")
    return float(keep_ratio)


def validate_split(split: Sequence[float], num_cameras: int) -> tuple[float, ...]:
    """A user-given split must be one non-negative share per camera (or 2 entries: main, wrists)."""
    values = tuple(float(v) for v in split)
    if len(values) not in (num_cameras, 2) or (len(values) == 2 and num_cameras == 1):
        raise ConfigError(
            f"camera_split {list(values)} needs {num_cameras} entries (one share per camera, in camera order)"
        )
    if any(v < 0 for v in values) or sum(values) <= 0:
        raise ConfigError(f"camera_split {list(values)} must be non-negative with a positive sum")
    return values


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not valid{closest(value, choices)}")
    return value


@dataclass(frozen=True)
class PruneConfig:
    """How a chunk is pruned when it is pruned (the gate decides *whether*)."""

    mode: PruneMode = "adp"
    keep_ratio: float = 0.5
    camera_split: tuple[float, ...] | None = None
    """None: the platform's split (reference [0.4, 0.6] / [0.4, 0.3, 0.3])."""
    position_mode: PositionMode = "repacked"
    readout: Readout = "oft"
    fastv_layer: int = 2
    """FastV: prune after this many dense LLM layers, by attention received."""
    random_seed: int = 0

    def for_chunk(self, gate_pruned: bool) -> PruneConfig | None:
        """What one chunk runs: None (dense) or this config. Only `adp` listens to the gate."""
        if self.mode == "dense" or (self.mode == "adp" and not gate_pruned):
            return None
        return self

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, PRUNE_MODES)
        check_choice("position_mode", self.position_mode, POSITION_MODES)
        check_choice("readout", self.readout, READOUTS)
        validate_keep_ratio(self.keep_ratio)
        if self.fastv_layer < 1:
            raise ConfigError(f"fastv_layer={self.fastv_layer} must be >= 1 (layers run dense before pruning)")
