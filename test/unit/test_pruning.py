"""Token budgets per camera, as the reference computes them (fixture json `per_camera_keep`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adp_ros.core.errors import ConfigError
from adp_ros.core.pruning import PruneConfig, expand_split, keep_counts, validate_split

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "adp"


@pytest.mark.parametrize("platform", ["libero", "aloha"])
def test_counts_match_the_reference(platform):
    info = json.loads((FIXTURE / f"selection_{platform}.json").read_text())
    cams = 2 if platform == "libero" else 3
    for case in info["cases"]:
        for r in case["ratios"]:
            if r["ratio"] < 1:
                counts = keep_counts(r["ratio"], cams, 256, info["qk_keep_split"])
                assert list(counts) == r["per_camera_keep"]
                assert sum(counts) == r["keep_total"]


def test_remainder_goes_to_the_largest_share_first():
    # 538 = 215.2 + 161.4 + 161.4 rounds to 537: the extra token goes to the 40 % camera.
    assert keep_counts(0.7, 3, 256, [0.4, 0.6]) == (216, 161, 161)
    assert expand_split([0.4, 0.6], 3) == pytest.approx([0.4, 0.3, 0.3])


def test_edge_cases():
    assert keep_counts(1.0, 2) == (256, 256)
    assert keep_counts(0.001, 2) == (1, 1)  # never below one token per camera
    assert keep_counts(0.3, 1) == (77,)
    assert keep_counts(0.5, 2) == (128, 128)  # no split: equal shares
    assert keep_counts(0.99, 2, 256, [0.0, 1.0]) == (1, 256)  # capped at the camera's patches


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.5, float("nan")])
def test_keep_ratio_outside_range(ratio):
    with pytest.raises(ConfigError, match="keep_ratio"):
        keep_counts(ratio, 2)


def test_split_validation_and_config_choices():
    assert validate_split([0.4, 0.6], 2) == (0.4, 0.6)
    assert validate_split([0.4, 0.6], 3) == (0.4, 0.6)  # main + wrists, expanded later
    for bad in ([0.4], [0.1, 0.2, 0.3, 0.4], [-1.0, 2.0], [0.0, 0.0]):
        with pytest.raises(ConfigError, match="camera_split"):
            validate_split(bad, 3 if len(bad) == 4 else 2)
    with pytest.raises(ConfigError, match="did you mean 'static'"):
        PruneConfig(mode="statc")
    with pytest.raises(ConfigError, match="readout"):
        PruneConfig(readout="first")
