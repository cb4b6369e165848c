"""Shared pytest set-up: network isolation guard, an rclpy context per test, tiny checkpoints per session."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "test" / "fixtures"


def _non_loopback_interfaces() -> list[str]:
    return [name for _, name in socket.if_nameindex() if name != "lo"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "requires_gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture
def ros_context():
    """A fresh rclpy context, refused outside a loopback-only network namespace.

    DDS discovery multicasts onto the LAN; run tests with `make test` (scripts/isolated) so that no test can ever
    reach a robot on the network.
    """
    others = _non_loopback_interfaces()
    if others:
        pytest.fail(
            f"ROS test outside an isolated network namespace (interfaces {others}); "
            "run it with `make test` or `scripts/isolated .venv/bin/python -m pytest ...`"
        )
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)


@pytest.fixture(scope="session")
def tiny_libero_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from node_harness import make_checkpoint

    from adp_ros.core.platform import LIBERO

    return make_checkpoint(tmp_path_factory.mktemp("ckpt"), LIBERO)


@pytest.fixture(scope="session")
def tiny_aloha_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from node_harness import make_checkpoint

    from adp_ros.core.platform import ALOHA

    return make_checkpoint(tmp_path_factory.mktemp("ckpt"), ALOHA)
