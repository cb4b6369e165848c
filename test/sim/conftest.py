"""Fixtures of the closed-loop tests: one LIBERO task environment per module (creating one takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def spatial_task() -> Iterator:
    from adp_ros.tools.sim.libero_env import LiberoTask

    task = LiberoTask("libero_spatial", 0)
    try:
        yield task
    finally:
        task.close()
