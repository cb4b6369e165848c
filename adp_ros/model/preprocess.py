"""Image pre-processing as the original `get_vla_action` does it, in numpy.

1. Resize, only when a frame is not 224×224×3: JPEG round trip (quality 95, 4:2:0) then antialiased lanczos3, as
   `resize_image_for_policy` does with TF — the RLDS training data were JPEG-encoded. The lanczos3 weights here
   reproduce TF's `scale_and_translate` (within 1 LSB on 0.002 % of values on the fixture). The JPEG codec is
   OpenCV's libjpeg-turbo, not TF's: on the fixture the whole resize differs from TF by at most 5 LSB (mean 1.1)
   on a smooth image and 8 LSB (mean 1.4) on uniform noise. TF itself is not a dependency.
2. Centre crop to 90 % area (the released checkpoints were trained with random crops): TF `crop_and_resize`
   bilinear with its corner-aligned box, then ×255.5 and truncation like `convert_image_dtype` (float32 numpy;
   within 1 LSB of TF).
3. Normalise per tower with the statistics the processor actually applies (`tvf_normalize_params`: DINOv2's
   bf16-rounded ImageNet values, SigLIP 0.5/0.5): x/255, minus mean, over std, in float32 — bit-exact.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from adp_ros.core.errors import CheckpointError, InputError
from adp_ros.core.platform import CENTER_CROP_AREA, POLICY_IMAGE_SIZE

JPEG_QUALITY = 95


def check_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"{what} must be an H×W×3 uint8 RGB array, got shape {image.shape} dtype {image.dtype}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise InputError(f"{what} is too small ({image.shape[1]}×{image.shape[0]} pixels)")
    return image


def jpeg_roundtrip(image: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """Encode and decode as JPEG (4:2:0), the way the training data were stored."""
    ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise InputError("JPEG encoding of the camera image failed")
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def _lanczos3(x: np.ndarray) -> np.ndarray:
    pi = np.float32(3.14159265359)  # TF's constant
    x = np.abs(x).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 3 * np.sin(pi * x) * np.sin(pi * x / 3) / (pi * pi * x * x)
    return np.where(x <= 1e-3, np.float32(1.0), np.where(x > 3, np.float32(0.0), value)).astype(np.float32)


@functools.lru_cache(maxsize=16)
def lanczos3_weights(out_size: int, in_size: int) -> np.ndarray:
    """(out, in) float32 resampling matrix of TF `scale_and_translate` (lanczos3, antialias, no translation)."""
    inv_scale = np.float32(1.0) / (np.float32(out_size) / np.float32(in_size))
    kernel_scale = max(inv_scale, np.float32(1.0))
    weights = np.zeros((out_size, in_size), np.float32)
    for x in range(out_size):
        sample = np.float32(x + 0.5) * inv_scale
        start = min(max(math.ceil(sample - 3 * kernel_scale - 0.5), 0), in_size - 1)
        end = min(max(math.floor(sample + 3 * kernel_scale - 0.5), 0), in_size - 1) + 1
        source = np.arange(start, end, dtype=np.float32)
        w = _lanczos3((source + np.float32(0.5) - sample) / kernel_scale)
        total = np.float32(w.sum(dtype=np.float32))
        if abs(total) >= 1000.0 * np.finfo(np.float32).tiny:
            weights[x, start:end] = w * (np.float32(1.0) / total)
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=16)
def _lanczos3_weights_torch(out_size: int, in_size: int) -> torch.Tensor:
    return torch.from_numpy(lanczos3_weights(out_size, in_size).copy())


def lanczos3_resize(image: np.ndarray, size: int = POLICY_IMAGE_SIZE) -> np.ndarray:
    """Separable resampling as two float32 matrix products (torch: several times faster than numpy here)."""
    h, w, c = image.shape
    rows = _lanczos3_weights_torch(size, h)
    cols = _lanczos3_weights_torch(size, w)
    x = torch.from_numpy(np.ascontiguousarray(image)).float()
    x = (rows @ x.reshape(h, w * c)).reshape(size, w, c)
    x = (cols @ x.transpose(0, 1).reshape(w, size * c)).reshape(size, size, c).transpose(0, 1)
    return x.round_().clamp_(0, 255).to(torch.uint8).numpy()


def resize_for_policy(image: np.ndarray, size: int = POLICY_IMAGE_SIZE) -> np.ndarray:
    """JPEG round trip + lanczos3 to size×size, skipped when the frame already has that size (as the original)."""
    if image.shape == (size, size, 3):
        return image
    return lanczos3_resize(jpeg_roundtrip(image), size)


@functools.lru_cache(maxsize=8)
def _crop_sampling(in_size: int, out_size: int, area: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    side = np.sqrt(np.float32(area)).astype(np.float32)
    start = (np.float32(1) - side) / np.float32(2)
    end = start + side
    scale = (end - start) * np.float32(in_size - 1) / np.float32(out_size - 1)
    coords = start * np.float32(in_size - 1) + np.arange(out_size, dtype=np.float32) * scale
    low = np.floor(coords).astype(np.int64)
    high = np.ceil(coords).astype(np.int64)
    return low, high, (coords - low.astype(np.float32)).astype(np.float32)


def center_crop(image: np.ndarray, area: float = CENTER_CROP_AREA, size: int = POLICY_IMAGE_SIZE) -> np.ndarray:
    """TF `crop_and_resize` of the centred box covering `area` of the image, back to uint8 like TF."""
    h, w, _ = image.shape
    ty, by, ly = _crop_sampling(h, size, area)
    lx, rx, lxw = _crop_sampling(w, size, area)
    x = image.astype(np.float32) * np.float32(1.0 / 255.0)
    top_left, top_right = x[ty][:, lx], x[ty][:, rx]
    bottom_left, bottom_right = x[by][:, lx], x[by][:, rx]
    xl = lxw[None, :, None]
    top = top_left + (top_right - top_left) * xl
    bottom = bottom_left + (bottom_right - bottom_left) * xl
    out = top + (bottom - top) * ly[:, None, None]
    return (np.clip(out, 0.0, 1.0) * np.float32(255.5)).astype(np.uint8)


@dataclass(frozen=True)
class ImageNormalization:
    """Per-tower mean/std that the Prismatic processor applies (from `tvf_normalize_params`)."""

    means: tuple[tuple[float, float, float], ...]
    stds: tuple[tuple[float, float, float], ...]
    image_size: int = POLICY_IMAGE_SIZE

    @classmethod
    def from_preprocessor_config(cls, path: Path) -> ImageNormalization:
        try:
            cfg = json.loads(Path(path).read_text())
            params = cfg["tvf_normalize_params"]
            means = tuple(tuple(float(v) for v in p["mean"]) for p in params)
            stds = tuple(tuple(float(v) for v in p["std"]) for p in params)
            sizes = {int(s[-1]) for s in cfg.get("input_sizes", [[3, POLICY_IMAGE_SIZE, POLICY_IMAGE_SIZE]])}
        except FileNotFoundError:
            raise CheckpointError(f"missing {path}: every released checkpoint ships it") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: cannot read the image normalisation ({exc!r})") from None
        if len(means) != 2 or len(sizes) != 1:
            raise CheckpointError(f"{path}: expected two towers of one input size, got {len(means)} / {sizes}")
        return cls(means=means, stds=stds, image_size=sizes.pop())  # type: ignore[arg-type]


def pixel_values(images: Sequence[np.ndarray], norm: ImageNormalization) -> np.ndarray:
    """(1, 6·n, S, S) float32: per image [tower 0 RGB | tower 1 RGB], images in camera order."""
    planes = []
    for image in images:
        x = np.ascontiguousarray(image.transpose(2, 0, 1)).astype(np.float32) / np.float32(255)
        for mean, std in zip(norm.means, norm.stds, strict=True):
            m = np.asarray(mean, np.float32)[:, None, None]
            s = np.asarray(std, np.float32)[:, None, None]
            planes.append((x - m) / s)
    return np.concatenate(planes, axis=0)[None]


def prepare_images(
    images: Sequence[np.ndarray], norm: ImageNormalization, center_crop_images: bool
) -> tuple[list[np.ndarray], np.ndarray]:
    """Camera frames → (the uint8 224² images the towers see, pixel values).

    The images are new arrays, never the caller's frames (a 224² frame without centre crop is copied, 150 kB).
    """
    ready = []
    for i, frame in enumerate(images):
        checked = check_image(frame, f"camera image {i}")
        resized = resize_for_policy(checked, norm.image_size)
        view = center_crop(resized, size=norm.image_size) if center_crop_images else resized
        ready.append(view.copy() if np.may_share_memory(view, checked) else view)
    return ready, pixel_values(ready, norm)
