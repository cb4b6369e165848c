"""Helpers for the tiny OpenVLA-OFT conformance fixture (test/fixtures/oft_tiny), shared by all test layers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

OFT_TINY = Path(__file__).resolve().parent / "fixtures" / "oft_tiny"
LIBERO_CKPT = OFT_TINY / "checkpoint"


def golden(platform: str) -> np.lib.npyio.NpzFile:
    return np.load(OFT_TINY / f"golden_{platform}.npz")


def golden_case_info(platform: str, case: str) -> dict:
    info = json.loads((OFT_TINY / f"golden_{platform}.json").read_text())
    return next(c for c in info["cases"] if c["name"] == case)


def cases(platform: str) -> list[str]:
    data = golden(platform)
    return sorted({k.split("/")[0] for k in data.files})


def make_aloha_checkpoint(target: Path) -> Path:
    """`checkpoint_aloha/` holds only the platform files; the fixture README: copy the VLA files next to it."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "model.safetensors", "preprocessor_config.json"):
        shutil.copy(LIBERO_CKPT / name, target / name)
    for path in (OFT_TINY / "checkpoint_aloha").iterdir():
        shutil.copy(path, target / path.name)
    return target


def golden_observation(data, case: str, image_key: str = "center_cropped_224"):
    from adp_ros.model.policy import Observation

    return Observation(
        images=list(data[f"{case}/{image_key}"]),
        proprio=data[f"{case}/proprio_raw"],
        prompt_ids=data[f"{case}/input_ids_prompt"].tolist(),
    )
