"""Every `adp-ros` subcommand exists and explains itself; `--help` stays fast (no torch/rclpy import)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from adp_ros.tools.cli import SUBCOMMANDS, build_parser

REPO = Path(__file__).resolve().parents[2]


def test_every_listed_subcommand_is_registered():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(SUBCOMMANDS)


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_help_explains(name):
    out = subprocess.run(
        [sys.executable, "-m", "adp_ros.tools.cli", name, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"adp-ros {name}" in out and len(out.splitlines()) > 3


def test_top_level_help_does_not_import_torch_or_rclpy():
    code = (
        "import sys; from adp_ros.tools.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'rclpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
