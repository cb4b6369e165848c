"""sensor_msgs/Image and CompressedImage ↔ numpy, with cv_bridge's results (cv_bridge itself is unusable here:
the index's `cv-bridge` breaks on numpy 2).

Works on any object with the message fields (rclpy messages, rosbags-deserialised messages, dataclasses):
`height, width, encoding, is_bigendian, step, data` for Image, `format, data` for CompressedImage. No rclpy
import; sensor_msgs and cv2 are imported only inside the functions that need them.

Behaviour taken from ros-perception/vision_opencv `cv_bridge/src/cv_bridge.cpp` (`getCvType`,
`getConversionCode`, `matFromImage`, `toCvCopyImpl`) and `cv_bridge/python/cv_bridge/core.py`:
- passthrough keeps the native encoding: shape (H, W) for one channel, (H, W, C) otherwise, native byte order;
- to rgb8, only the colour encodings (mono8/16, rgb/bgr/rgba/bgra 8/16) convert: generic types such as 16UC1
  or 8UC3 carry no colour meaning and cv_bridge refuses them ("is not a color format"), and so does this;
- 16 → 8 bit is *scaled*, not truncated: cv_bridge adds `convertTo(CV_8U, 255/65535)` after the colour
  conversion, i.e. round(v / 257) (no ties exist), so mono16 65535 → 255 and 32896 → 128;
- the message must hold exactly `step * height` bytes and `step >= width * channels * bytes_per_channel`
  (`matFromImage` checks both).
- a compressed image is decoded with `IMREAD_UNCHANGED` (as cv_bridge since #520) and its channels are taken
  as OpenCV's BGR/BGRA/gray order.
"""

from __future__ import annotations

import array
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from adp_ros.core.errors import InputError, closest
from adp_ros.core.stamps import sec_nanosec


@dataclass(frozen=True)
class EncodingInfo:
    """numpy dtype and channel count of an encoding, and its colour order (None: no colour meaning)."""

    dtype: np.dtype
    channels: int
    color: str | None
    """'mono', 'rgb', 'bgr', 'rgba' or 'bgra'; None for generic types such as 16UC1."""


_COLOR_ENCODINGS: dict[str, tuple[str, int, str]] = {
    "mono8": ("u1", 1, "mono"),
    "mono16": ("u2", 1, "mono"),
    "rgb8": ("u1", 3, "rgb"),
    "bgr8": ("u1", 3, "bgr"),
    "rgba8": ("u1", 4, "rgba"),
    "bgra8": ("u1", 4, "bgra"),
    "rgb16": ("u2", 3, "rgb"),
    "bgr16": ("u2", 3, "bgr"),
    "rgba16": ("u2", 4, "rgba"),
    "bgra16": ("u2", 4, "bgra"),
}
_GENERIC_DEPTHS = {"8U": "u1", "8S": "i1", "16U": "u2", "16S": "i2", "32S": "i4", "32F": "f4", "64F": "f8"}
_GENERIC = re.compile(r"(8U|8S|16U|16S|32S|32F|64F)(?:C([0-9]+))?")
_CV_CN_MAX = 512
SUPPORTED_ENCODINGS = (
    *_COLOR_ENCODINGS,
    "8UC1..4",
    "8SC1..4",
    "16UC1..4",
    "16SC1..4",
    "32SC1..4",
    "32FC1..4",
    "64FC1..4",
)
"""For error messages; generic `<depth>C<n>` encodings accept any n in [1, 512] like cv_bridge."""
RGB_ENCODINGS = tuple(_COLOR_ENCODINGS)
"""Encodings `imgmsg_to_rgb8` converts."""


def encoding_info(encoding: str) -> EncodingInfo:
    """dtype, channels and colour order of a sensor_msgs image encoding; InputError for unknown ones."""
    if encoding in _COLOR_ENCODINGS:
        dtype, channels, color = _COLOR_ENCODINGS[encoding]
        return EncodingInfo(np.dtype(dtype), channels, color)
    match = _GENERIC.fullmatch(encoding)
    if match:
        channels = int(match.group(2) or 1)
        if 1 <= channels <= _CV_CN_MAX:
            return EncodingInfo(np.dtype(_GENERIC_DEPTHS[match.group(1)]), channels, None)
    known = [*_COLOR_ENCODINGS, *(f"{d}C{n}" for d in _GENERIC_DEPTHS for n in (1, 2, 3, 4))]
    raise InputError(
        f"Image encoding={encoding!r} is not supported{closest(encoding, known)}; "
        f"supported: {', '.join(SUPPORTED_ENCODINGS)} (Bayer and YUV are not)"
    )


def _byte_buffer(data: Any, what: str) -> np.ndarray:
    """The message's `data` as a flat uint8 array, sharing memory where the type allows."""
    if isinstance(data, (list, tuple)):
        try:
            return np.asarray(data, dtype=np.uint8)
        except (OverflowError, ValueError, TypeError) as exc:
            raise InputError(f"{what}.data is a list that is not all bytes in [0, 255]: {exc}") from exc
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}.data of type {type(data).__name__} is not a byte buffer: {exc}") from exc


def imgmsg_to_array(msg: Any, *, copy: bool = False) -> np.ndarray:
    """Image message → array in its own encoding, like cv_bridge `imgmsg_to_cv2(msg, "passthrough")`.

    Shape (H, W) for one channel, (H, W, C) otherwise; native byte order. Without `copy`, the result is a view
    of `msg.data` when the byte order is native (zero-copy; rows padded via `step` give a strided view,
    read-only when `data` is `bytes`); big-endian multi-byte data is always copied and swapped.
    """
    encoding = str(msg.encoding)
    info = encoding_info(encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise InputError(f"Image has zero size: height={height}, width={width} (encoding {encoding!r})")
    itemsize = info.dtype.itemsize
    row_bytes = width * info.channels * itemsize
    if step < row_bytes:
        raise InputError(
            f"Image step={step} < width*channels*bytes = {width}*{info.channels}*{itemsize} = {row_bytes} "
            f"for encoding {encoding!r}: the publisher set step or encoding wrong"
        )
    if step % itemsize:
        raise InputError(
            f"Image step={step} is not a multiple of the {itemsize}-byte element size of encoding {encoding!r}"
        )
    buf = _byte_buffer(msg.data, "Image")
    if buf.size != step * height:
        raise InputError(
            f"Image data has {buf.size} bytes but step*height = {step}*{height} = {step * height} "
            f"(width={width}, encoding {encoding!r})"
        )
    big_endian = bool(msg.is_bigendian) and itemsize > 1
    dtype = info.dtype.newbyteorder(">" if big_endian else "<") if itemsize > 1 else info.dtype
    image = np.ndarray(
        shape=(height, width, info.channels),
        dtype=dtype,
        buffer=buf,
        strides=(step, info.channels * itemsize, itemsize),
    )
    if info.channels == 1:
        image = image[:, :, 0]
    if not dtype.isnative:
        return image.astype(info.dtype.newbyteorder("="))  # always a new, contiguous array
    if copy:
        return image.copy()
    return image


def _to_8bit(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    # cv_bridge: convertTo(CV_8U, 255/65535) == round(v / 257); v / 257 is never exactly x.5 for integer v.
    wide = image.astype(np.uint32)
    return ((2 * wide + 257) // 514).astype(np.uint8)


def _color_to_rgb8(image: np.ndarray, color: str) -> np.ndarray:
    if color == "mono":
        rgb = np.repeat(_to_8bit(image)[:, :, None], 3, axis=2)
    elif color == "rgb":
        rgb = _to_8bit(image)
    elif color == "bgr":
        rgb = _to_8bit(image[:, :, ::-1])
    elif color == "rgba":
        rgb = _to_8bit(image[:, :, :3])
    elif color == "bgra":
        rgb = _to_8bit(image[:, :, 2::-1])
    else:  # pragma: no cover - encoding_info only yields the colours above
        raise InputError(f"unknown colour order {color!r}")
    return np.ascontiguousarray(rgb)


def imgmsg_to_rgb8(msg: Any) -> np.ndarray:
    """Image message → RGB uint8 (H, W, 3), C-contiguous, like `imgmsg_to_cv2(msg, "rgb8")`.

    May share memory with `msg.data` (an unpadded rgb8 message is not copied).
    """
    encoding = str(msg.encoding)
    info = encoding_info(encoding)
    if info.color is None:
        raise InputError(
            f"Image encoding={encoding!r} is not a color format, so it has no rgb8 conversion (cv_bridge "
            f"refuses it too); publish the camera with one of {', '.join(RGB_ENCODINGS)}"
        )
    return _color_to_rgb8(imgmsg_to_array(msg), info.color)


def compressed_imgmsg_to_rgb8(msg: Any) -> np.ndarray:
    """CompressedImage (JPEG, PNG, anything cv2.imdecode reads) → RGB uint8 (H, W, 3), C-contiguous.

    Decoded channels are OpenCV's (gray, BGR or BGRA); 16-bit PNGs are scaled to 8 bit like raw mono16/rgb16.
    """
    import cv2  # lazy: importing this module stays cheap

    fmt = str(getattr(msg, "format", ""))
    if "compresseddepth" in fmt.lower().replace(" ", ""):
        raise InputError(
            f"CompressedImage format={fmt!r} is image_transport's compressedDepth (a depth header before the "
            "PNG): not a camera image; subscribe to the raw or jpeg/png-compressed colour topic"
        )
    buf = _byte_buffer(msg.data, "CompressedImage")
    if buf.size == 0:
        raise InputError(f"CompressedImage data is empty (format={fmt!r})")
    try:
        image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise InputError(f"CompressedImage could not be decoded (format={fmt!r}, {buf.size} bytes): {exc}") from exc
    if image is None or image.size == 0:
        raise InputError(
            f"CompressedImage could not be decoded (format={fmt!r}, {buf.size} bytes, first bytes "
            f"{bytes(buf[:8]).hex()}): corrupt or not an image format OpenCV reads"
        )
    if image.dtype not in (np.uint8, np.uint16):
        raise InputError(f"CompressedImage decoded to dtype {image.dtype} (format={fmt!r}); expected 8 or 16 bit")
    channels = 1 if image.ndim == 2 else image.shape[2]
    color = {1: "mono", 3: "bgr", 4: "bgra"}.get(channels)
    if color is None:
        raise InputError(f"CompressedImage decoded to {channels} channels (format={fmt!r}); expected 1, 3 or 4")
    return _color_to_rgb8(image, color)


# ---- builders (tests, bag synthesis, debug image publisher) ------------------------------------------------


def _new_message(msg_cls: Any, module_attr: str) -> Any:
    if msg_cls is None:
        from sensor_msgs import msg as sensor_msgs  # lazy: only when no msg_cls is given

        msg_cls = getattr(sensor_msgs, module_attr)
    return msg_cls()


def _set_header(msg: Any, stamp_ns: int | None, frame_id: str) -> None:
    header = getattr(msg, "header", None)
    if header is None:
        if stamp_ns is not None or frame_id:
            raise InputError(f"{type(msg).__name__} has no header to hold stamp_ns/frame_id")
        return
    if stamp_ns is not None:
        if stamp_ns < 0:
            raise InputError(f"stamp_ns={stamp_ns} must be >= 0")
        header.stamp.sec, header.stamp.nanosec = sec_nanosec(stamp_ns)
    header.frame_id = frame_id


def array_to_imgmsg(
    image: np.ndarray,
    encoding: str,
    *,
    msg_cls: Any = None,
    stamp_ns: int | None = None,
    frame_id: str = "",
    row_padding: int = 0,
    is_bigendian: bool = False,
) -> Any:
    """Array → Image message like cv_bridge `cv2_to_imgmsg` (`sensor_msgs.msg.Image` unless `msg_cls`).

    `image` must match `encoding` (dtype and channels; (H, W) or (H, W, 1) for one channel). `row_padding`
    adds that many zero bytes after each row (step > row size) and `is_bigendian` stores multi-byte values
    big-endian; both exist to test readers.
    """
    info = encoding_info(encoding)
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] != info.channels:
        raise InputError(
            f"array of shape {image.shape} does not fit encoding {encoding!r} with {info.channels} channel(s)"
        )
    if image.dtype.kind != info.dtype.kind or image.dtype.itemsize != info.dtype.itemsize:
        raise InputError(f"array dtype {image.dtype} does not fit encoding {encoding!r} (needs {info.dtype})")
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise InputError(f"array of shape {image.shape} is empty")
    if row_padding < 0:
        raise InputError(f"row_padding={row_padding} must be >= 0")
    big = bool(is_bigendian) and info.dtype.itemsize > 1
    target = info.dtype.newbyteorder(">" if big else "<")
    rows = np.ascontiguousarray(image.astype(target, copy=False)).view(np.uint8).reshape(height, -1)
    if row_padding:
        rows = np.concatenate([rows, np.zeros((height, row_padding), np.uint8)], axis=1)
    msg = _new_message(msg_cls, "Image")
    _set_header(msg, stamp_ns, frame_id)
    msg.height = height
    msg.width = width
    msg.encoding = encoding
    msg.is_bigendian = int(big)
    msg.step = rows.shape[1]
    msg.data = array.array("B", rows.tobytes())
    return msg


def array_to_compressed_imgmsg(
    image: np.ndarray,
    encoding: str = "rgb8",
    *,
    fmt: str = "jpeg",
    jpeg_quality: int = 95,
    msg_cls: Any = None,
    stamp_ns: int | None = None,
    frame_id: str = "",
) -> Any:
    """Array in `encoding` (rgb8, bgr8, mono8/16, rgb16, bgr16) → CompressedImage (`fmt` 'jpeg' or 'png').

    `format` is written the way image_transport's compressed plugin does: `"<encoding>; <fmt> compressed
    <bgr8|mono8|bgr16|mono16>"`. JPEG holds 8 bit only.
    """
    import cv2  # lazy: importing this module stays cheap

    if fmt not in ("jpeg", "png"):
        raise InputError(f"fmt={fmt!r} must be 'jpeg' or 'png'")
    allowed = ("rgb8", "bgr8", "mono8", "mono16", "rgb16", "bgr16")
    if encoding not in allowed:
        raise InputError(f"encoding={encoding!r} cannot be compressed here{closest(encoding, allowed)}")
    info = encoding_info(encoding)
    if fmt == "jpeg" and info.dtype.itemsize != 1:
        raise InputError(f"JPEG holds 8-bit images only; encoding={encoding!r} needs fmt='png'")
    if not 0 <= jpeg_quality <= 100:
        raise InputError(f"jpeg_quality={jpeg_quality} outside [0, 100]")
    image = np.asarray(image)
    if image.ndim == 3 and info.channels == 1 and image.shape[2] == 1:
        image = image[:, :, 0]
    expected_ndim = 2 if info.channels == 1 else 3
    if image.ndim != expected_ndim or (info.channels > 1 and image.shape[2] != info.channels):
        raise InputError(f"array of shape {image.shape} does not fit encoding {encoding!r}")
    if image.dtype != info.dtype:
        raise InputError(f"array dtype {image.dtype} does not fit encoding {encoding!r} (needs {info.dtype})")
    if info.color == "rgb":
        image = image[:, :, ::-1]
    image = np.ascontiguousarray(image)
    params = [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)] if fmt == "jpeg" else []
    ok, encoded = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", image, params)
    if not ok:
        raise InputError(f"cv2.imencode failed for {encoding!r} as {fmt}")
    bits = 8 * info.dtype.itemsize
    stored = f"{'mono' if info.channels == 1 else 'bgr'}{bits}"
    msg = _new_message(msg_cls, "CompressedImage")
    _set_header(msg, stamp_ns, frame_id)
    msg.format = f"{encoding}; {fmt} compressed {stored}"
    msg.data = array.array("B", encoded.tobytes())
    return msg
