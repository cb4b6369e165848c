"""`adp-ros params`: config/*.yaml and docs/parameters.md are generated from the schema and must not drift."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from adp_ros.core import params as P
from adp_ros.tools import gen_params
from adp_ros.tools.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_repository_files_match_the_schema():
    assert gen_params.drift(REPO) == [], "run `make params`"


def test_defaults_yaml_holds_every_parameter_at_its_default():
    tree = yaml.safe_load(gen_params.defaults_yaml())
    values = P.flatten(tree["/**"]["ros__parameters"])
    assert set(values) == set(P.SPEC_BY_NAME)
    for name, value in values.items():
        assert value == P.SPEC_BY_NAME[name].default, name
        if P.SPEC_BY_NAME[name].type == "double":
            assert isinstance(value, float), f"{name}: rcl needs a decimal point for doubles"


def test_presets_hold_only_overrides_and_resolve():
    for name in P.PLATFORM_PRESETS:
        tree = yaml.safe_load(gen_params.preset_yaml(name))
        values = P.flatten(tree["/**"]["ros__parameters"])
        assert values == P.PLATFORM_PRESETS[name]
        merged = P.defaults() | values
        assert P.resolve(merged).node.model.platform.name == name


def test_markdown_lists_every_parameter():
    text = gen_params.markdown()
    for spec in P.SPECS:
        assert f"| `{spec.name}` |" in text, spec.name


def test_write_and_check_in_a_fresh_checkout(tmp_path, capsys):
    (tmp_path / "package.xml").write_text("<package><name>adp_ros</name></package>")
    assert main(["params", "--check", "--root", str(tmp_path)]) == 1
    assert "make params" in capsys.readouterr().out
    assert main(["params", "--write", "--root", str(tmp_path)]) == 0
    assert (tmp_path / "config" / "aloha.yaml").is_file() and (tmp_path / "docs" / "parameters.md").is_file()
    assert main(["params", "--check", "--root", str(tmp_path)]) == 0
    (tmp_path / "config" / "adp_ros.yaml").write_text("# edited by hand\n")
    assert main(["params", "--check", "--root", str(tmp_path)]) == 1


def test_prints_yaml_markdown_and_presets(capsys):
    assert main(["params"]) == 0
    assert "ros__parameters" in capsys.readouterr().out
    assert main(["params", "--markdown"]) == 0
    assert capsys.readouterr().out.startswith("# Parameters")
    assert main(["params", "--preset", "aloha"]) == 0
    assert "left_waist" in capsys.readouterr().out


def test_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "adp_ros.tools.gen_params", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
