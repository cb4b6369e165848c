"""Fixtures of the node tests: tiny checkpoints (made once per session) and a harness factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from node_harness import Harness, make_checkpoint


@pytest.fixture(scope="session")
def tiny_libero_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from adp_ros.core.platform import LIBERO

    return make_checkpoint(tmp_path_factory.mktemp("ckpt"), LIBERO)


@pytest.fixture(scope="session")
def tiny_aloha_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from adp_ros.core.platform import ALOHA

    return make_checkpoint(tmp_path_factory.mktemp("ckpt"), ALOHA)


@pytest.fixture
def node_harness(ros_context: Any, tiny_libero_checkpoint: Path, tiny_aloha_checkpoint: Path) -> Iterator[Callable]:
    """`node_harness(preset="libero", params={...}, start=True)` → a started `Harness`, closed after the test."""
    made: list[Harness] = []

    def make(preset: str = "libero", **kwargs: Any) -> Harness:
        checkpoint = tiny_libero_checkpoint if preset == "libero" else tiny_aloha_checkpoint
        harness = Harness(ros_context, checkpoint, preset=preset, **kwargs)
        made.append(harness)
        return harness

    try:
        yield make
    finally:
        for harness in made:
            harness.close()
