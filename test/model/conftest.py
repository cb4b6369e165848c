"""Session fixtures for model tests: the tiny conformance checkpoints, loaded the way users load one."""

from __future__ import annotations

from pathlib import Path

import pytest
from oft_fixtures import LIBERO_CKPT, make_aloha_checkpoint

from adp_ros.core.platform import ALOHA, LIBERO


@pytest.fixture(scope="session")
def aloha_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_aloha_checkpoint(tmp_path_factory.mktemp("aloha") / "checkpoint")


@pytest.fixture(scope="session")
def libero_policy():
    from adp_ros.model.config import PolicyConfig
    from adp_ros.model.policy import OftPolicy

    return OftPolicy(PolicyConfig(LIBERO_CKPT, LIBERO, center_crop=False, device="cpu"))


@pytest.fixture(scope="session")
def aloha_policy(aloha_checkpoint: Path):
    from adp_ros.model.config import PolicyConfig
    from adp_ros.model.policy import OftPolicy

    return OftPolicy(PolicyConfig(aloha_checkpoint, ALOHA, center_crop=False, device="cpu"))
