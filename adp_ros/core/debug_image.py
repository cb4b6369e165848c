"""The debug image: a camera frame as the policy saw it (`PolicyOutput.views`: its own center crop and resize),
with the pruned 14×14 patches shaded.

Each camera image is 224×224 pixels = 16×16 patches of 14×14 (patch index = row·16 + column, the order of the
kept indices). Kept patches stay clear, pruned ones are darkened, so a person sees what ADP keeps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from adp_ros.core.errors import InputError
from adp_ros.core.platform import PATCH_SIZE


def shade_pruned(
    image: np.ndarray, kept: Sequence[int] | np.ndarray, *, shade: float = 0.7, patch: int = PATCH_SIZE
) -> np.ndarray:
    """Darken every patch not in `kept` by `shade` (0 = unchanged, 1 = black)."""
    image = np.asarray(image)
    h, w = image.shape[:2]
    if h % patch or w % patch:
        raise InputError(f"image {w}×{h} is not a whole number of {patch}×{patch} patches")
    rows, cols = h // patch, w // patch
    keep = np.zeros(rows * cols, dtype=bool)
    kept_idx = np.asarray(kept, dtype=np.intp).reshape(-1)
    if kept_idx.size and (kept_idx.min() < 0 or kept_idx.max() >= rows * cols):
        raise InputError(f"kept patch indices must be in [0, {rows * cols}); got {kept_idx.min()}..{kept_idx.max()}")
    keep[kept_idx] = True
    pruned = np.repeat(np.repeat(~keep.reshape(rows, cols), patch, axis=0), patch, axis=1)
    out = image.astype(np.float32)
    out[pruned] *= 1.0 - float(shade)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
