"""Checkpoint loading: strict, offline, read-only, and one clear error per kind of bad checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from oft_fixtures import LIBERO_CKPT, golden, golden_observation

from adp_ros.core.errors import CheckpointError, ConfigError
from adp_ros.core.platform import ALOHA, LIBERO
from adp_ros.model.config import PolicyConfig
from adp_ros.model.policy import OftPolicy


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    target = tmp_path / "ckpt"
    shutil.copytree(LIBERO_CKPT, target)
    return target


def load(path: Path, **kw) -> OftPolicy:
    return OftPolicy(PolicyConfig(path, kw.pop("platform", LIBERO), center_crop=False, device="cpu", **kw))


def test_loads_read_only_without_writing(ckpt: Path):
    before = {p.name: p.stat().st_mtime_ns for p in ckpt.iterdir()}
    for p in [*ckpt.iterdir(), ckpt]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        policy = load(ckpt)
        policy.predict(golden_observation(golden("libero"), "case0"))
    finally:
        for p in [ckpt, *ckpt.iterdir()]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    assert {p.name: p.stat().st_mtime_ns for p in ckpt.iterdir()} == before
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_sharded_safetensors_load_the_same(ckpt: Path):
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(ckpt / "model.safetensors"))
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys in shards.items():
        save_file({k: tensors[k] for k in keys}, str(ckpt / shard), metadata={"format": "pt"})
    weight_map = {k: shard for shard, keys in shards.items() for k in keys}
    (ckpt / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (ckpt / "model.safetensors").unlink()
    obs = golden_observation(golden("libero"), "case0")
    np.testing.assert_allclose(load(ckpt).predict(obs).actions, golden("libero")["case0/actions"], atol=1e-4)


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("config.json", "missing config.json"),
        ("model.safetensors", "missing model.safetensors"),
        ("action_head--tiny_checkpoint.pt", "missing action_head--"),
        ("proprio_projector--tiny_checkpoint.pt", "missing proprio_projector--"),
        ("preprocessor_config.json", "missing preprocessor_config.json"),
    ],
)
def test_missing_file(ckpt: Path, remove: str, message: str):
    (ckpt / remove).unlink()
    with pytest.raises(CheckpointError, match=message):
        load(ckpt)


def test_missing_directory(tmp_path: Path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load(tmp_path / "nope")


def test_wrong_unnorm_key_lists_the_valid_ones(ckpt: Path):
    with pytest.raises(ConfigError, match="tiny_libero_fixture_no_noops"):
        load(ckpt, unnorm_key="libero_spatial_no_noops")


def test_several_datasets_need_an_unnorm_key(ckpt: Path):
    stats = json.loads((ckpt / "dataset_statistics.json").read_text())
    stats["second_dataset"] = next(iter(stats.values()))
    (ckpt / "dataset_statistics.json").write_text(json.dumps(stats))
    with pytest.raises(ConfigError, match="set unnorm_key to one of"):
        load(ckpt)
    assert load(ckpt, unnorm_key="second_dataset").norm_stats.key == "second_dataset"


def test_platform_dims_are_checked_against_the_weights(ckpt: Path):
    with pytest.raises(ConfigError, match="action head predicts 7-D actions"):
        load(ckpt, platform=ALOHA)
    with pytest.raises(ConfigError, match="proprio projector takes 8-D"):
        load(ckpt, platform=LIBERO.replace(proprio_dim=9))


def test_truncated_safetensors(ckpt: Path):
    path = ckpt / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load(ckpt)


def test_corrupt_head_file(ckpt: Path):
    (ckpt / "action_head--tiny_checkpoint.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load(ckpt)


def test_malformed_config(ckpt: Path):
    (ckpt / "config.json").write_text("{")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load(ckpt)


def test_unknown_tower_id(ckpt: Path):
    (ckpt / "tiny_timm_models.json").unlink()
    with pytest.raises(CheckpointError, match="unknown vision tower"):
        load(ckpt)


def test_weights_that_do_not_match_the_config(ckpt: Path):
    arch = json.loads((ckpt / "tiny_timm_models.json").read_text())
    entry = arch["vit_tiny_patch14_reg4_dinov2_oftfixture"]["resolved"]
    entry["depth"] = 4
    (ckpt / "tiny_timm_models.json").write_text(json.dumps(arch))
    with pytest.raises(CheckpointError, match="missing"):
        load(ckpt)
    entry["depth"], entry["mlp_hidden"] = 3, 200
    (ckpt / "tiny_timm_models.json").write_text(json.dumps(arch))
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load(ckpt)
