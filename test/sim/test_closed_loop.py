"""The closed loop end to end: `adp-ros sim eval` starts the real `adp_node` console script, which drives the
simulated arm through ROS 2 (lockstep, a few chunks), and writes the success table."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from adp_ros.tools.sim.evaluate import default_model

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _sim_eval(*args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "adp_ros.tools.cli", "sim", "eval", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_node_drives_the_arm_in_lockstep(ros_context, tiny_libero_checkpoint, tmp_path):
    out = tmp_path / "eval"
    args = ("--model", str(tiny_libero_checkpoint), "--unnorm-key", "tiny_libero", "--episodes", "1")
    args += ("--modes", "static:0.5,blind", "--max-steps", "24", "--out", str(out))
    run = _sim_eval(*args, "--video", "1")
    assert run.returncode == 0, run.stderr[-3000:] + (out / "node.log").read_text()[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    rows = {r["mode"]: r for r in summary["rows"]}
    assert set(rows) == {"static:0.5", "blind"}
    for row in rows.values():
        assert row["timing"] == "lockstep" and row["episodes"] == 1 and row["successes"] in (0, 1)
        assert row["chunks"] == 3, "24 steps = 3 chunks of 8: every observation got its chunk, no deadlock"
    assert rows["static:0.5"]["keep_ratio_mean"] == pytest.approx(0.5, abs=0.01)
    assert rows["blind"]["keep_ratio_mean"] == 1.0 and rows["blind"]["blind"]
    episodes = [json.loads(x) for x in (out / "episodes.jsonl").read_text().splitlines()]
    assert [e["steps"] for e in episodes] == [24, 24]
    assert all(len(e["chunk_records"]) == 3 and e["skipped_chunks"] == 0 for e in episodes)
    assert all(float(c["compute_ms"]) > 0 for e in episodes for c in e["chunk_records"])
    assert (out / "success.png").stat().st_size > 1000 and (out / "summary.md").read_text().startswith("| mode")
    assert (out / "static_0.5_lockstep_task0_init0.mp4").stat().st_size > 1000
    assert "active" in (out / "node.log").read_text()

    # Resumable: the same command again runs nothing new and reproduces the table.
    again = _sim_eval(*args)
    assert again.returncode == 0 and len((out / "episodes.jsonl").read_text().splitlines()) == 2


def test_node_drives_the_arm_in_real_time(ros_context, tiny_libero_checkpoint, tmp_path):
    """Real time: the arm keeps stepping while the policy thinks; chunks arrive and are executed by their stamps."""
    out = tmp_path / "rt"
    run = _sim_eval(
        "--model", str(tiny_libero_checkpoint), "--unnorm-key", "tiny_libero", "--episodes", "1",
        "--modes", "dense", "--max-steps", "40", "--realtime", "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:] + (out / "node.log").read_text()[-3000:]
    row = json.loads((out / "summary.json").read_text())["rows"][0]
    assert row["timing"] == "realtime" and row["episodes"] == 1
    episode = json.loads((out / "episodes.jsonl").read_text())
    assert episode["steps"] == 40 and episode["chunks"] >= 2, "chunks keep coming while the arm moves"
    assert episode["held_steps"] < 40, "the node's chunks were executed, not only held"
    assert episode["real_time_factor"] > 0


@pytest.mark.skipif(not default_model().exists(), reason="the committed tiny policy is not in this checkout")
def test_committed_policy_loads_and_runs(ros_context, tmp_path):
    """What `make demo` runs: the committed policy, default unnorm key, a short episode."""
    out = tmp_path / "demo"
    run = _sim_eval("--episodes", "1", "--modes", "adp", "--max-steps", "16", "--out", str(out))
    assert run.returncode == 0, run.stderr[-3000:]
    row = json.loads((out / "summary.json").read_text())["rows"][0]
    assert row["mode"] == "adp:0.5" and row["chunks"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--suite", "libero_nope"], "unknown LIBERO suite 'libero_nope'"),
        (["--tasks", "12"], "task 12 does not exist"),
        (["--modes", "dense,sparse"], "unknown mode 'sparse'"),
        (["--modes", "static:1.5"], "keep ratio after ':' must be in (0, 1]"),
        (["--init-states", "77"], "init states [77] do not exist"),
        (["--init-states", "3,3"], "--init-states repeats an index"),
    ],
)
def test_bad_input_gets_one_clear_line(tmp_path, args, message):
    run = _sim_eval("--out", str(tmp_path / "x"), "--episodes", "1", *args, timeout=120)
    assert run.returncode == 2
    assert message in run.stderr and "Traceback" not in run.stderr
    assert run.stderr.strip().count("\n") == 0 or "warning" in run.stderr.lower()


def test_checkpoint_that_does_not_fit_the_arm(tmp_path, tiny_aloha_checkpoint):
    run = _sim_eval("--model", str(tiny_aloha_checkpoint), "--out", str(tmp_path / "x"), timeout=120)
    assert run.returncode == 2 and "does not fit the LIBERO arm" in run.stderr and "Traceback" not in run.stderr


def test_missing_simulator_is_one_clear_error(monkeypatch):
    from adp_ros.core.errors import ConfigError
    from adp_ros.tools.sim import libero_env

    monkeypatch.setitem(sys.modules, "libero", None)  # as if the package were not installed
    monkeypatch.setitem(sys.modules, "libero.libero", None)
    with pytest.raises(ConfigError, match="make sim-setup"):
        libero_env.import_libero()


def test_mode_parsing():
    from adp_ros.tools.sim.evaluate import EvalMode, parse_modes

    modes = parse_modes("dense,adp,adp:0.3,static:0.5,random:0.3,fastv:0.5,blind")
    assert [m.name for m in modes] == ["dense", "adp:0.5", "adp:0.3", "static:0.5", "random:0.3", "fastv:0.5", "blind"]
    assert EvalMode.parse("blind").prune_mode == "dense" and EvalMode.parse("blind").blind
    assert EvalMode.parse("random:0.3").keep_ratio == 0.3


def test_summary_rows_follow_the_interface():
    from adp_ros.tools.sim.results import markdown_table, summarize

    def ep(mode, success, timing="lockstep"):
        return {
            "mode": mode,
            "keep_ratio": 0.5,
            "timing": timing,
            "success": success,
            "blind": False,
            "steps": 100,
            "chunks": 13,
            "held_steps": 0,
            "real_time_factor": 1.0,
            "task": 0,
            "pruned_fraction": 0.4,
            "chunk_records": [{"compute_ms": "10.0", "end_to_end_ms": "0.0", "keep_ratio": "0.5"}],
        }

    rows = summarize([ep("static:0.5", True), ep("static:0.5", False), ep("static:0.5", True, "realtime")])
    assert [(r["mode"], r["timing"], r["episodes"], r["successes"]) for r in rows] == [
        ("static:0.5", "lockstep", 2, 1),
        ("static:0.5", "realtime", 1, 1),
    ]
    assert rows[0]["success_rate"] == 0.5 and isinstance(rows[0]["keep_ratio"], float)
    assert "50 % (1/2)" in markdown_table(rows)
