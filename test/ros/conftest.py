"""Fixtures of the node tests: a harness factory (the tiny checkpoints are in test/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from node_harness import Harness


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
