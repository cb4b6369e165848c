"""Every `adp-ros` subcommand exists and explains itself; `--help` stays fast (no torch/rclpy import)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from adp_ros.core.params import choices
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


def _choice_actions(parser: argparse.ArgumentParser, path: str = "adp-ros"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _choice_actions(sub, f"{path} {name}")
        elif action.choices:
            yield path, action


def test_options_take_parameter_choice_lists_from_the_schema():
    # A flag whose values are a parameter's choices uses the list of `core/params/choices.py` itself, not a copy
    # (issue 13). `sorted(...)` of one (the platform presets) is derived, not re-listed, and is allowed.
    lists = {name: getattr(choices, name) for name in choices.__all__}
    checked = 0
    for path, action in _choice_actions(build_parser()):
        for name, values in lists.items():
            if set(action.choices) == set(values):
                flag = f"{path} {'/'.join(action.option_strings) or action.dest}"
                assert action.choices is values or action.choices == sorted(values), f"{flag}: use {name}"
                checked += 1
    assert checked >= 10  # bench --dtype/--acceleration, predict --dtype/--gate-state, gate --decision-method ...
