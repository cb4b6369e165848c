"""Argument and input helpers shared by the `adp-ros` subcommands (`tools/common.py`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from adp_ros.core.errors import InputError
from adp_ros.tools.common import read_rgb


def test_read_rgb_names_a_directory_and_the_file_it_expects(tmp_path):
    cv2.imwrite(str(tmp_path / "agentview.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError) as info:
        read_rgb(str(tmp_path))
    message = str(info.value)
    assert f"{tmp_path} is a directory" in message and "does not exist" not in message
    assert "image file (PNG, JPEG, ...)" in message and "agentview.png" in message


def test_read_rgb_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_rgb(str(tmp_path / "missing.png"))


def test_read_rgb_says_when_a_grayscale_image_becomes_colour(tmp_path, capsys):
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8)
    path = tmp_path / "gray.png"
    cv2.imwrite(str(path), gray)
    image = read_rgb(str(path))
    assert image.shape == (6, 8, 3) and all((image[..., c] == gray).all() for c in range(3))  # as before: R = G = B
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(path) in err and "grayscale" in err


def test_read_rgb_is_quiet_for_colour_images(tmp_path, capsys):
    bgr = np.zeros((4, 4, 3), np.uint8)
    bgr[..., 0] = 255  # blue in OpenCV's order
    cv2.imwrite(str(tmp_path / "blue.png"), bgr)
    image = read_rgb(str(tmp_path / "blue.png"))
    assert image[0, 0].tolist() == [0, 0, 255]
    assert capsys.readouterr().err == ""
