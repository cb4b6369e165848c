"""Demonstrations recorded through the bridge as mcap bags → `adp-ros train` → a checkpoint in the released
layout that loads through the normal path; training resumes where it stopped."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "adp_ros.tools.cli", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_record_then_train_then_load(ros_context, tmp_path):
    demos, train = tmp_path / "demos", tmp_path / "train"
    run = _cli("sim", "record", str(demos), "--episodes", "1", "--max-attempts", "3", "--seed", "1000")
    assert run.returncode == 0, run.stderr[-3000:]
    manifest = [json.loads(x) for x in (demos / "manifest.jsonl").read_text().splitlines()]
    kept = [m for m in manifest if m["success"]]
    assert len(kept) == 1 and (demos / kept[0]["bag"] / "metadata.yaml").exists()
    assert any(p.suffix == ".mcap" for p in (demos / kept[0]["bag"]).iterdir())
    assert kept[0]["phases"][0] == "approach" and "grasp" in kept[0]["phases"]

    run = _cli("train", str(demos), "--out", str(train), "--steps", "2", "--save-every", "2", "--batch-size", "4")
    assert run.returncode == 0, run.stderr[-3000:]
    from adp_ros.core.platform import LIBERO
    from adp_ros.model.config import PolicyConfig
    from adp_ros.model.policy import Observation, OftPolicy
    from adp_ros.model.training import TrainingSet

    data = TrainingSet.load(train / "samples.npz")
    steps = kept[0]["steps"]
    assert abs(len(data.images) - steps / 2) <= 2, "one sample per recorded observation (every 2 steps)"
    assert data.images.shape[1:] == (2, 224, 224, 3) and data.actions.shape[1:] == (8, 7)
    assert set(np.unique(data.actions[:, :, 6])) <= {0.0, 1.0}, "gripper in the dataset convention (1 open)"
    assert np.abs(data.actions[:, :, :3]).max() <= 1.0 + 1e-9 and not data.actions[:, :, 3:6].any()
    assert data.actions[0, 0, 6] == 1.0 and data.actions[:, 0, 6].min() == 0.0, "opens first, closes to grasp"
    assert np.allclose(data.proprio[:, 6:], data.proprio[:, 6:].clip(-0.05, 0.05)), "finger joints in metres"

    stats = json.loads((train / "checkpoint" / "dataset_statistics.json").read_text())
    assert list(stats) == ["libero_spatial"] and stats["libero_spatial"]["action"]["mask"][-1] is False
    policy = OftPolicy(PolicyConfig(train / "checkpoint", platform=LIBERO, unnorm_key="libero_spatial"))
    out = policy.predict(
        Observation(images=list(data.images[0]), proprio=data.proprio[0], instruction=data.instruction)
    )
    assert out.actions.shape == (8, 7) and np.isfinite(out.actions).all()

    run = _cli("train", str(demos), "--out", str(train), "--steps", "4", "--save-every", "2", "--batch-size", "4")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "finished at step 4/4" in run.stdout
    import torch

    assert torch.load(train / "train_state.pt", weights_only=False)["step"] == 4, "resumed from step 2"


def test_train_without_demos_is_one_clear_error(tmp_path):
    run = _cli("train", str(tmp_path), "--out", str(tmp_path / "t"), timeout=120)
    assert run.returncode == 2 and "record demonstrations with `adp-ros sim record`" in run.stderr
