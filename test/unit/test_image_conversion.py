"""Image/CompressedImage ↔ numpy without cv_bridge, checked against cv_bridge's own pipeline.

The rgb8 reference below rebuilds what cv_bridge.cpp `toCvCopyImpl` does with OpenCV itself: `cvtColor` with
the code from `getConversionCode`, then `convertTo(CV_8U, 255/65535)` for 16-bit sources. sensor_msgs
messages are built without an rclpy context (no rclpy import); a plain dataclass proves the duck typing.
"""

from __future__ import annotations

import array
import subprocess
import sys
from dataclasses import dataclass, field

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image

from adp_ros.core.errors import InputError
from adp_ros.ros.image_conversion import (
    RGB_ENCODINGS,
    array_to_compressed_imgmsg,
    array_to_imgmsg,
    compressed_imgmsg_to_rgb8,
    encoding_info,
    imgmsg_to_array,
    imgmsg_to_rgb8,
)

RNG = np.random.default_rng(0)
H, W = 5, 7


@dataclass
class FakeImage:
    """Anything with the Image fields works, e.g. a rosbags-deserialised message."""

    height: int = 0
    width: int = 0
    encoding: str = ""
    is_bigendian: int = 0
    step: int = 0
    data: object = b""


@dataclass
class FakeCompressed:
    format: str = ""
    data: object = b""


@dataclass
class _Stamp:
    sec: int = 0
    nanosec: int = 0


@dataclass
class _Header:
    stamp: _Stamp = field(default_factory=_Stamp)
    frame_id: str = ""


@dataclass
class FakeImageWithHeader(FakeImage):
    header: _Header = field(default_factory=_Header)


def _random(encoding: str, shape_hw=(H, W)) -> np.ndarray:
    info = encoding_info(encoding)
    shape = (*shape_hw, info.channels) if info.channels > 1 else shape_hw
    if info.dtype.kind == "f":
        return RNG.standard_normal(shape).astype(info.dtype)
    limits = np.iinfo(info.dtype)
    return RNG.integers(limits.min, limits.max, size=shape, endpoint=True, dtype=info.dtype)


_CV_CODES = {
    "mono": cv2.COLOR_GRAY2RGB,
    "bgr": cv2.COLOR_BGR2RGB,
    "rgba": cv2.COLOR_RGBA2RGB,
    "bgra": cv2.COLOR_BGRA2RGB,
}


def _cv_bridge_rgb8(image: np.ndarray, encoding: str) -> np.ndarray:
    """cv_bridge toCvCopyImpl(src=encoding, dst='rgb8'), rebuilt from OpenCV calls."""
    info = encoding_info(encoding)
    out = image if info.color == "rgb" else cv2.cvtColor(image, _CV_CODES[info.color])
    if out.dtype == np.uint16:
        out = cv2.convertScaleAbs(out, alpha=255.0 / 65535.0)  # == convertTo(CV_8U, 255/65535) for v >= 0
    return out


# ---- passthrough ----------------------------------------------------------------------------------------


PASSTHROUGH = [
    *RGB_ENCODINGS,
    "8UC1",
    "8UC3",
    "8SC2",
    "16UC1",
    "16SC1",
    "32SC1",
    "32FC1",
    "64FC2",
    "16U",
    "8UC7",
]


@pytest.mark.parametrize("encoding", PASSTHROUGH)
def test_passthrough_round_trip_every_encoding(encoding):
    image = _random(encoding)
    msg = array_to_imgmsg(image, encoding)
    assert isinstance(msg, Image)
    out = imgmsg_to_array(msg)
    assert out.dtype == image.dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, image)
    info = encoding_info(encoding)
    assert out.shape == ((H, W) if info.channels == 1 else (H, W, info.channels))
    assert msg.step == W * info.channels * info.dtype.itemsize


def test_generic_encodings_follow_cv_bridge_names():
    assert encoding_info("16UC1").dtype == np.uint16 and encoding_info("16UC1").color is None
    assert encoding_info("8UC3").channels == 3
    assert encoding_info("32F").channels == 1  # cv_bridge accepts the bare depth as one channel
    assert encoding_info("mono16").color == "mono"


@pytest.mark.parametrize(("encoding", "padding"), [("rgb8", 5), ("mono8", 3), ("mono16", 6), ("bgra16", 8)])
def test_row_padding_via_step(encoding, padding):
    image = _random(encoding)
    msg = array_to_imgmsg(image, encoding, row_padding=padding)
    info = encoding_info(encoding)
    assert msg.step == W * info.channels * info.dtype.itemsize + padding
    np.testing.assert_array_equal(imgmsg_to_array(msg), image)
    np.testing.assert_array_equal(imgmsg_to_rgb8(msg), _cv_bridge_rgb8(image, encoding))


def test_padded_rows_are_a_zero_copy_strided_view():
    image = _random("bgr8")
    msg = array_to_imgmsg(image, "bgr8", row_padding=4)
    view = imgmsg_to_array(msg)
    raw = np.frombuffer(msg.data, np.uint8)
    assert np.shares_memory(view, raw)
    assert view.strides[0] == msg.step
    copied = imgmsg_to_array(msg, copy=True)
    assert not np.shares_memory(copied, raw)
    assert copied.flags.c_contiguous
    np.testing.assert_array_equal(copied, image)


def test_rgb8_without_padding_is_not_copied():
    image = _random("rgb8")
    msg = array_to_imgmsg(image, "rgb8")
    out = imgmsg_to_rgb8(msg)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))
    assert out.flags.c_contiguous


@pytest.mark.parametrize("encoding", ["mono16", "16UC1", "rgb16", "32FC1", "16SC1"])
def test_big_endian_data_is_swapped(encoding):
    image = _random(encoding)
    little = array_to_imgmsg(image, encoding)
    big = array_to_imgmsg(image, encoding, is_bigendian=True)
    assert big.is_bigendian == 1
    itemsize = encoding_info(encoding).dtype.itemsize
    first = bytes(big.data[:itemsize])
    assert first == bytes(little.data[:itemsize])[::-1]
    out = imgmsg_to_array(big)
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, image)


def test_big_endian_by_hand():
    msg = FakeImage(height=1, width=2, encoding="mono16", is_bigendian=1, step=4, data=bytes([1, 2, 0xFF, 0x00]))
    np.testing.assert_array_equal(imgmsg_to_array(msg), [[0x0102, 0xFF00]])
    msg.is_bigendian = 0
    np.testing.assert_array_equal(imgmsg_to_array(msg), [[0x0201, 0x00FF]])


def test_is_bigendian_is_ignored_for_8_bit():
    msg = FakeImage(height=1, width=2, encoding="mono8", is_bigendian=1, step=2, data=bytes([1, 2]))
    np.testing.assert_array_equal(imgmsg_to_array(msg), [[1, 2]])


# ---- to rgb8 --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", RGB_ENCODINGS)
def test_rgb8_matches_cv_bridge_pipeline(encoding):
    image = _random(encoding)
    out = imgmsg_to_rgb8(array_to_imgmsg(image, encoding))
    assert out.shape == (H, W, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, _cv_bridge_rgb8(image, encoding))


def test_channel_order_by_hand():
    pixel = {"rgb8": [10, 20, 30], "bgr8": [30, 20, 10], "rgba8": [10, 20, 30, 99], "bgra8": [30, 20, 10, 99]}
    for encoding, values in pixel.items():
        msg = FakeImage(1, 1, encoding, 0, len(values), bytes(values))
        np.testing.assert_array_equal(imgmsg_to_rgb8(msg), [[[10, 20, 30]]], err_msg=encoding)
    mono = FakeImage(1, 1, "mono8", 0, 1, bytes([77]))
    np.testing.assert_array_equal(imgmsg_to_rgb8(mono), [[[77, 77, 77]]])


def test_mono16_is_scaled_not_truncated():
    """cv_bridge: GRAY2RGB, then convertTo(CV_8U, 255/65535) == round(v / 257); v >> 8 would differ."""
    values = np.array([[0, 128, 129, 200, 257, 32896, 65534, 65535]], np.uint16)
    out = imgmsg_to_rgb8(array_to_imgmsg(values, "mono16"))
    np.testing.assert_array_equal(out[..., 0], [[0, 0, 1, 1, 1, 128, 255, 255]])
    assert (values >> 8)[0, 3] == 0  # truncation would give 0 for 200
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_mono16_scaling_matches_opencv_for_every_value():
    every = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    out = imgmsg_to_rgb8(array_to_imgmsg(every, "mono16"))[..., 0]
    np.testing.assert_array_equal(out, cv2.convertScaleAbs(every, alpha=255.0 / 65535.0))


@pytest.mark.parametrize("encoding", ["16UC1", "8UC3", "8UC1", "32FC1"])
def test_generic_encodings_have_no_rgb8_conversion(encoding):
    """cv_bridge getConversionCode: '[16UC1] is not a color format. but [rgb8] is' -> refused."""
    msg = array_to_imgmsg(_random(encoding), encoding)
    with pytest.raises(InputError, match=rf"encoding='{encoding}' is not a color format"):
        imgmsg_to_rgb8(msg)
    imgmsg_to_array(msg)  # passthrough still works


# ---- duck typing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "as_data",
    [bytes, bytearray, lambda b: array.array("B", b), lambda b: np.frombuffer(b, np.uint8).copy(), list],
    ids=["bytes", "bytearray", "array", "ndarray_rosbags", "list"],
)
def test_duck_typed_message_with_any_byte_container(as_data):
    image = _random("bgr8")
    real = array_to_imgmsg(image, "bgr8")
    fake = FakeImage(real.height, real.width, real.encoding, real.is_bigendian, real.step, as_data(bytes(real.data)))
    np.testing.assert_array_equal(imgmsg_to_array(fake), image)
    np.testing.assert_array_equal(imgmsg_to_rgb8(fake), image[..., ::-1])


def test_view_of_bytes_is_read_only():
    fake = FakeImage(1, 3, "mono8", 0, 3, b"abc")
    assert not imgmsg_to_array(fake).flags.writeable
    assert imgmsg_to_array(fake, copy=True).flags.writeable


def test_builders_accept_a_message_class_and_set_the_header():
    msg = array_to_imgmsg(_random("rgb8"), "rgb8", msg_cls=FakeImageWithHeader, stamp_ns=3_000_000_042, frame_id="c")
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (3, 42, "c")
    real = array_to_imgmsg(_random("mono8"), "mono8", stamp_ns=5, frame_id="cam")
    assert (real.header.stamp.sec, real.header.stamp.nanosec, real.header.frame_id) == (0, 5, "cam")
    with pytest.raises(InputError, match="no header"):
        array_to_imgmsg(_random("mono8"), "mono8", msg_cls=FakeImage, stamp_ns=1)
    plain = array_to_imgmsg(_random("mono8"), "mono8", msg_cls=FakeImage)
    assert isinstance(plain, FakeImage)


def test_importing_the_module_does_not_import_rclpy_or_cv2():
    code = (
        "import sys, adp_ros.ros.image_conversion\n"
        "bad = [m for m in ('rclpy', 'cv2', 'sensor_msgs') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- compressed -----------------------------------------------------------------------------------------


def _smooth_rgb(h: int = 32, w: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 60)], axis=2).astype(np.uint8)


def test_jpeg_round_trip_keeps_colours():
    image = _smooth_rgb()
    msg = array_to_compressed_imgmsg(image, "rgb8", fmt="jpeg", jpeg_quality=95)
    assert isinstance(msg, CompressedImage)
    assert msg.format == "rgb8; jpeg compressed bgr8"
    assert bytes(msg.data[:2]) == b"\xff\xd8"
    out = compressed_imgmsg_to_rgb8(msg)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - image).mean() < 2.0
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    decoded = compressed_imgmsg_to_rgb8(array_to_compressed_imgmsg(red, "rgb8"))
    assert decoded[..., 0].min() > 240 and decoded[..., 2].max() < 15


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "mono8", "mono16", "rgb16", "bgr16"])
def test_png_round_trip_is_exact(encoding):
    image = _random(encoding)
    msg = array_to_compressed_imgmsg(image, encoding, fmt="png")
    assert bytes(msg.data[:8]) == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(compressed_imgmsg_to_rgb8(msg), _cv_bridge_rgb8(image, encoding))


def test_png_with_alpha_from_opencv():
    bgra = _random("bgra8")
    ok, encoded = cv2.imencode(".png", bgra)
    assert ok
    out = compressed_imgmsg_to_rgb8(FakeCompressed("png", encoded.tobytes()))
    np.testing.assert_array_equal(out, bgra[..., 2::-1])


def test_compressed_duck_typed_and_format_is_informational():
    msg = array_to_compressed_imgmsg(_random("mono8"), "mono8", fmt="png")
    fake = FakeCompressed(format="", data=bytes(msg.data))
    np.testing.assert_array_equal(compressed_imgmsg_to_rgb8(fake), compressed_imgmsg_to_rgb8(msg))


# ---- bad input --------------------------------------------------------------------------------------------


def _good(encoding="rgb8") -> FakeImage:
    real = array_to_imgmsg(_random(encoding), encoding)
    return FakeImage(real.height, real.width, real.encoding, real.is_bigendian, real.step, bytes(real.data))


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        (
            {"data": b"\x00" * (3 * W * H - 1)},
            rf"data has {3 * W * H - 1} bytes but step\*height = {3 * W}\*{H}",
        ),
        ({"data": b"\x00" * (3 * W * H + 3)}, rf"data has {3 * W * H + 3} bytes"),
        ({"data": b""}, "data has 0 bytes"),
        ({"encoding": "rgb"}, r"encoding='rgb' is not supported \(did you mean 'rgb8'\?\)"),
        ({"encoding": "bayer_rggb8"}, "encoding='bayer_rggb8' is not supported"),
        ({"encoding": "8UC0"}, "encoding='8UC0' is not supported"),
        ({"encoding": ""}, "encoding='' is not supported"),
        ({"step": 3 * W - 1}, rf"step={3 * W - 1} < width\*channels\*bytes = {W}\*3\*1 = {3 * W}"),
        ({"height": 0}, "zero size: height=0, width=7"),
        ({"width": 0}, "zero size: height=5, width=0"),
        ({"data": 12345}, "data of type int is not a byte buffer"),
        ({"data": [1, 2, 300]}, r"not all bytes in \[0, 255\]"),
    ],
)
def test_bad_image_messages_raise_input_error(change, pattern):
    msg = _good()
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(InputError, match=pattern):
        imgmsg_to_array(msg)
    with pytest.raises(InputError, match=pattern):
        imgmsg_to_rgb8(msg)


def test_step_not_a_multiple_of_the_element_size():
    msg = _good("mono16")
    msg.step = 2 * W + 1
    msg.data = b"\x00" * (msg.step * H)
    with pytest.raises(InputError, match=r"step=15 is not a multiple of the 2-byte element size"):
        imgmsg_to_array(msg)


@pytest.mark.parametrize(
    ("msg", "pattern"),
    [
        (FakeCompressed("jpeg", b""), "data is empty"),
        (
            FakeCompressed("jpeg", b"this is not an image at all"),
            r"could not be decoded \(format='jpeg', 27 bytes",
        ),
        (FakeCompressed("png", bytes(range(256)) * 4), "could not be decoded"),
        (FakeCompressed("16UC1; compressedDepth png", b"\x00" * 64), "compressedDepth"),
    ],
    ids=["empty", "garbage", "noise", "compressed_depth"],
)
def test_bad_compressed_messages_raise_input_error(msg, pattern):
    with pytest.raises(InputError, match=pattern):
        compressed_imgmsg_to_rgb8(msg)


def test_truncated_png_raises_input_error():
    data = bytes(array_to_compressed_imgmsg(_random("rgb8", (64, 64)), "rgb8", fmt="png").data)
    with pytest.raises(InputError, match="could not be decoded"):
        compressed_imgmsg_to_rgb8(FakeCompressed("png", data[: len(data) // 2]))


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        ((np.zeros((2, 2, 3), np.uint16), "rgb8"), {}, "dtype uint16 does not fit encoding 'rgb8'"),
        ((np.zeros((2, 2, 4), np.uint8), "rgb8"), {}, r"shape \(2, 2, 4\) does not fit encoding 'rgb8'"),
        ((np.zeros((0, 2), np.uint8), "mono8"), {}, "is empty"),
        ((np.zeros((2, 2), np.uint8), "mono8"), {"row_padding": -1}, "row_padding=-1"),
        ((np.zeros((2, 2), np.uint8), "mono9"), {}, "encoding='mono9' is not supported"),
    ],
)
def test_image_builder_refuses_mismatches(args, kwargs, pattern):
    with pytest.raises(InputError, match=pattern):
        array_to_imgmsg(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        ((np.zeros((2, 2), np.uint16), "mono16"), {"fmt": "jpeg"}, "JPEG holds 8-bit images only"),
        ((np.zeros((2, 2, 3), np.uint8), "rgb8"), {"fmt": "gif"}, "fmt='gif'"),
        ((np.zeros((2, 2, 3), np.uint8), "16UC1"), {}, "cannot be compressed"),
        ((np.zeros((2, 2, 3), np.uint8), "rgb8"), {"jpeg_quality": 101}, "jpeg_quality=101"),
        ((np.zeros((2, 2), np.uint8), "rgb8"), {}, "does not fit encoding 'rgb8'"),
    ],
)
def test_compressed_builder_refuses_mismatches(args, kwargs, pattern):
    with pytest.raises(InputError, match=pattern):
        array_to_compressed_imgmsg(*args, **kwargs)
