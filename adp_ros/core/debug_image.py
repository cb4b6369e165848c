"""The debug image: a camera frame as the policy sees it, with the pruned 14×14 patches shaded.

Each camera image becomes 224×224 pixels = 16×16 patches of 14×14 (patch index = row·16 + column, the order of
the kept indices). Kept patches stay clear, pruned ones are darkened, so a person sees what ADP keeps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from adp_ros.core.errors import InputError
from adp_ros.core.platform import CENTER_CROP_AREA, PATCH_SIZE, POLICY_IMAGE_SIZE


def policy_view(image: np.ndarray, *, center_crop: bool, size: int = POLICY_IMAGE_SIZE) -> np.ndarray:
    """The centre crop (90 % area, as the released checkpoints are evaluated) resized to size×size.

    Nearest-neighbour, for display only: the model's own resize (JPEG round trip, lanczos) is in
    `adp_ros/model/preprocess.py`; patch boundaries line up the same way.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"debug image needs an H×W×3 RGB array, got shape {image.shape}")
    if center_crop:
        scale = math.sqrt(CENTER_CROP_AREA)
        h, w = image.shape[:2]
        ch, cw = max(1, round(h * scale)), max(1, round(w * scale))
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        image = image[y0 : y0 + ch, x0 : x0 + cw]
    ys = np.minimum((np.arange(size) + 0.5) * image.shape[0] / size, image.shape[0] - 1).astype(np.intp)
    xs = np.minimum((np.arange(size) + 0.5) * image.shape[1] / size, image.shape[1] - 1).astype(np.intp)
    return np.ascontiguousarray(image[ys][:, xs])


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
