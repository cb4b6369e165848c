"""`adp-ros gate`: in-process through `cli.main`, and once as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adp_ros.tools.cli import main

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "test" / "fixtures" / "adp" / "gate_cases.json"
PYTHON = REPO / ".venv" / "bin" / "python" if (REPO / ".venv" / "bin" / "python").exists() else Path(sys.executable)
CASES = {c["name"]: c for c in json.loads(FIXTURE.read_text())["cases"]}


def gate(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["gate", *args])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def single(tmp_path: Path) -> Path:
    c = CASES["motion_then_standstill"]
    path = tmp_path / "traj.json"
    path.write_text(json.dumps({"chunk_len": 8, "eef_positions": c["eef_positions"]}))
    return path


def test_table_for_a_single_trajectory(capsys, single):
    rc, out, err = gate(capsys, "--trajectory", str(single), "--preset", "reference")
    assert rc == 0 and err == ""
    assert "modes: DDDPPDPPPDP" in out
    assert "ge_max" in out and "cold_start" in out and "d [mm]" in out
    assert len([ln for ln in out.splitlines() if ln.strip()[:1].isdigit()]) == 11


def test_default_preset_and_overrides(capsys, single):
    rc, out, _ = gate(capsys, "--trajectory", str(single))
    assert rc == 0 and "preset: default" in out and "modes: DDDPPDDDDDD" in out and "deadband" in out
    rc, out, _ = gate(capsys, "--trajectory", str(single), "--standstill-deadband", "0")
    assert rc == 0 and "modes: DDDPPDPPPDP" in out and "overrides: {'standstill_deadband': 0.0}" in out


def test_json_matches_the_fixture(capsys):
    for name, case in CASES.items():
        rc, out, _ = gate(capsys, "--trajectory", str(FIXTURE), "--case", name, "--preset", "reference", "--json")
        assert rc == 0
        doc = json.loads(out)
        expected = case["decisions"]["reference_default"]
        assert doc["modes"] == expected["modes"]
        assert len(doc["per_chunk"]) == case["n_chunks"]
        for rec, want in zip(doc["per_chunk"], expected["per_chunk"], strict=True):
            assert rec["delta"] == pytest.approx(want["delta"], abs=1e-12, rel=0)
            assert rec["next_state"] == ("pruned" if want["next_state"] else "dense")


def test_every_parameter_has_a_flag(capsys, single):
    rc, out, _ = gate(
        capsys,
        "--trajectory", str(single),
        "--decision-method", "adjacent",
        "--window", "4",
        "--max-consecutive-pruned", "0",
        "--displacement", "path_length",
        "--middle-band", "hold",
        "--initial-state", "dense",
        "--min-step", "0.001",
        "--standstill-deadband", "0.002",
        "--deadband-history", "include",
        "--adaptive-window",
        "--window-min", "3",
        "--window-max", "6",
        "--adaptive-change-scale", "0.3",
        "--json",
    )  # fmt: skip
    assert rc == 0
    cfg = json.loads(out)["config"]
    assert cfg == {
        "decision_method": "adjacent",
        "window": 4,
        "max_consecutive_pruned": 0,
        "displacement": "path_length",
        "middle_band": "hold",
        "initial_state": "dense",
        "min_step": 0.001,
        "standstill_deadband": 0.002,
        "deadband_history": "include",
        "adaptive_window": True,
        "window_min": 3,
        "window_max": 6,
        "adaptive_change_scale": 0.3,
    }


def test_avg_rule_shows_the_average(capsys, single):
    rc, out, _ = gate(capsys, "--trajectory", str(single), "--preset", "reference", "--decision-method", "avg")
    assert rc == 0 and "avg_ge" in out and "modes: DPPPDDDDDDD" in out


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--case", "x"], "single trajectory"),
        (["--window", "2"], r"window=2 outside \[3, 64\]"),
        (["--preset", "refernce"], "did you mean 'reference'"),
    ],
)
def test_argument_errors(capsys, single, args, pattern):
    import re

    rc, out, err = gate(capsys, "--trajectory", str(single), *args)
    assert rc == 2 and out == ""
    assert err.startswith("adp-ros gate: error: ") and re.search(pattern, err)


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (None, "not found; pass --trajectory"),
        ("{not json", r"not valid JSON .* line 1, column 2"),
        ("[1, 2]", "top level is list"),
        ('{"chunk_len": 8}', "no 'eef_positions'"),
        (
            '{"chunk_len": 8, "eef_positions": [[0, 0], [1, 1]]}',
            r"shape \(2, 2\); expected a list of \[x, y, z\]",
        ),
        ('{"chunk_len": 8, "eef_positions": [[0, 0, "a"]]}', "number triples"),
        ('{"eef_positions": [[0, 0, 0], [1, 1, 1]]}', "no 'chunk_len'.*--chunk-len"),
        ('{"chunk_len": 2, "eef_positions": [[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3]]}', "trim to 3"),
    ],
)
def test_file_errors_say_what_to_fix(capsys, tmp_path, content, pattern):
    import re

    path = tmp_path / "t.json"
    if content is not None:
        path.write_text(content)
    rc, _, err = gate(capsys, "--trajectory", str(path))
    assert rc == 2 and re.search(pattern, err), err
    assert len(err.strip().splitlines()) == 1


def test_a_directory_is_named_as_one(capsys, tmp_path):
    (tmp_path / "traj.json").write_text("{}")
    rc, _, err = gate(capsys, "--trajectory", str(tmp_path))
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert f"{tmp_path} is a directory" in err and "does not exist" not in err and "not found" not in err
    assert "--trajectory FILE.json" in err and "traj.json" in err  # what is expected, and the candidate inside


def test_multi_case_file_needs_a_case(capsys):
    rc, _, err = gate(capsys, "--trajectory", str(FIXTURE))
    assert rc == 2 and "pick one with --case NAME" in err and "noisy_standstill" in err
    rc, _, err = gate(capsys, "--trajectory", str(FIXTURE), "--case", "noisy_standstil")
    assert rc == 2 and "did you mean 'noisy_standstill'" in err


def test_chunk_len_flag(capsys, tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"eef_positions": [[0.01 * i, 0, 0] for i in range(9)]}))
    rc, out, _ = gate(capsys, "--trajectory", str(path), "--chunk-len", "2", "--json")
    assert rc == 0 and json.loads(out)["n_chunks"] == 4


def test_help_is_the_module_docstring(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["gate", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "gate_cases.json" in out and "--standstill-deadband" in out and "--case NAME" in out


def test_subprocess():
    proc = subprocess.run(
        [
            str(PYTHON),
            "-m",
            "adp_ros.tools.cli",
            "gate",
            "--trajectory",
            str(FIXTURE),
            "--case",
            "standstill_exact",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["modes"] == "D" * 10 and doc["preset"] == "default"
    assert all(r["band"] == "deadband" for r in doc["per_chunk"])
