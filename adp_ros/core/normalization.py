"""Proprio normalisation and action de-normalisation with a checkpoint's dataset statistics.

Arithmetic mirrors the original (`normalize_proprio`, `_unnormalize_actions` in openvla-oft) in numpy float64 so
that actions match the original bit for bit from the same normalised values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from adp_ros.core.errors import CheckpointError, InputError


@dataclass(frozen=True)
class Bounds:
    """Low/high per dimension and the mask of dimensions that are (de)normalised at all."""

    low: np.ndarray
    high: np.ndarray
    mask: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.low.shape[0])

    @classmethod
    def from_stats(cls, stats: Mapping[str, Any], normalization: str, what: str) -> Bounds:
        """`normalization` 'bounds_q99' uses q01/q99 (LIBERO), 'bounds' uses min/max (ALOHA)."""
        low_key, high_key = ("q01", "q99") if normalization == "bounds_q99" else ("min", "max")
        try:
            low = np.asarray(stats[low_key], dtype=np.float64)
            high = np.asarray(stats[high_key], dtype=np.float64)
        except KeyError as exc:
            raise CheckpointError(
                f"dataset statistics for {what} lack {exc.args[0]!r} (needed by normalization={normalization!r}); "
                f"keys present: {sorted(stats)}"
            ) from None
        # A missing mask means every dimension is normalised (as in the original).
        mask = np.asarray(stats.get("mask", np.ones_like(low, dtype=bool)), dtype=bool)
        if not (low.shape == high.shape == mask.shape and low.ndim == 1):
            raise CheckpointError(
                f"dataset statistics for {what}: {low_key}/{high_key}/mask shapes differ "
                f"({low.shape}, {high.shape}, {mask.shape})"
            )
        return cls(low=low, high=high, mask=mask)


def normalize_proprio(proprio: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Map raw proprio to [-1, 1] (clipped), leaving masked-out dimensions as they are."""
    proprio = np.asarray(proprio, dtype=np.float64)
    if proprio.shape != (bounds.dim,):
        raise InputError(f"proprio has shape {proprio.shape}, the checkpoint expects ({bounds.dim},)")
    if not np.all(np.isfinite(proprio)):
        raise InputError(f"proprio contains NaN or Inf: {proprio.tolist()}")
    scaled = 2 * (proprio - bounds.low) / (bounds.high - bounds.low + 1e-8) - 1
    return np.clip(np.where(bounds.mask, scaled, proprio), a_min=-1.0, a_max=1.0)


def unnormalize_actions(normalized: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Map [-1, 1] actions back to robot units; not clipped (the L1 head output is unbounded)."""
    normalized = np.asarray(normalized)
    if normalized.shape[-1] != bounds.dim:
        raise InputError(f"actions have {normalized.shape[-1]} dims, the statistics have {bounds.dim}")
    # Same operation order and dtypes as the original: 0.5 * (n + 1) stays float32, then float64.
    return np.where(bounds.mask, 0.5 * (normalized + 1) * (bounds.high - bounds.low + 1e-8) + bounds.low, normalized)
