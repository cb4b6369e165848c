"""`adp-ros bag eval`: a generated bag through the tiny policy offline → CSV, JSON, PNG and a gate trajectory."""

from __future__ import annotations

import csv
import itertools
import json
import re
import shutil
from pathlib import Path

import pytest

from adp_ros.core.errors import InputError
from adp_ros.tools.bags.eval_records import EvalResult
from adp_ros.tools.bags.eval_report import describe_bag_read, figure
from adp_ros.tools.bags.synth import SynthOptions, synthesize_bag, task_phases
from adp_ros.tools.cli import main

SYNTH = SynthOptions(preset="libero", duration_sec=4.0, width=96, height=96, progress=False)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from adp_ros.core.platform import LIBERO
    from adp_ros.model.tiny import make_tiny_checkpoint

    root = tmp_path_factory.mktemp("eval")
    model = make_tiny_checkpoint(root / "model", LIBERO)
    bag = root / "bag"
    synthesize_bag(bag, SYNTH)
    return root, model, bag


def test_eval_writes_csv_json_png_and_trajectory(setup, capsys):
    root, model, bag = setup
    out = root / "out"
    argv = [
        "bag",
        "eval",
        str(bag),
        "--model",
        str(model),
        "--params-file",
        str(REPO / "config" / "libero.yaml"),
        "--modes",
        "adp,static",
        "--keep-ratios",
        "0.3,0.5",
        "--out",
        str(out),
        "-p",
        "model.device:=cpu",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "wrote steps.csv, summary.json, eval.png, trajectory.json" in printed

    summary = json.loads((out / "summary.json").read_text())
    chunks = summary["chunks"]
    # The node's schedule (control.mode chunk_end): a chunk at the first synchronised frames, then one whenever
    # lead_steps = 2 of its execute_steps = 8 steps at 20 Hz remain: every 0.3 s of bag time.
    assert chunks == 14
    assert summary["settings"]["period_sec"] == pytest.approx(0.3)
    by = {(m["mode"], m["keep_ratio"]): m for m in summary["modes"]}
    assert set(by) == {("dense", 1.0), ("adp", 0.3), ("adp", 0.5), ("static", 0.3), ("static", 0.5)}
    assert by[("dense", 1.0)]["pruned_fraction"] == 0 and by[("dense", 1.0)]["deviation_normalized"]["max"] == 0
    assert by[("static", 0.3)]["pruned_fraction"] == 1
    gate_fraction = summary["gate"]["pruned_fraction"]
    assert 0 < gate_fraction < 1  # the synthetic task has coarse and fine phases
    assert by[("adp", 0.3)]["pruned_fraction"] == pytest.approx(gate_fraction)
    assert by[("static", 0.3)]["flops_ratio_vs_dense"] > by[("static", 0.5)]["flops_ratio_vs_dense"] > 1
    assert summary["gate"]["modes"].startswith("DDD")  # cold start
    # The phases `bag synth` stored travel into the summary (and the figure), in seconds from the bag's start.
    phases = summary["phases"]
    assert [p["name"] for p in phases] == [p.name for p in task_phases(SYNTH)]
    assert phases[0]["start_sec"] == pytest.approx(0.0, abs=0.05)
    assert phases[-1]["end_sec"] == pytest.approx(4.0, abs=0.05)
    # The read statistics come as sentences that say whether they matter, not as a raw dict.
    bag_lines = [line for line in printed.splitlines() if line.startswith("bag:")]
    assert bag_lines and not any("{" in line for line in bag_lines)
    assert any("/joint_states" in line and "expected" in line for line in bag_lines)
    assert summary["sync"]["sets"] > 0 and set(summary["sync"]["topics"]) >= {"/joint_states"}

    with (out / "steps.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == chunks * 5
    times = sorted({float(r["time_sec"]) for r in rows})
    # Due every 0.3 s; served by the first synchronised set from then on (as the node's worker does).
    assert all(0.3 - 1e-3 <= b - a < 0.35 for a, b in itertools.pairwise(times))
    assert {
        "gate_state",
        "displacement",
        "keep_ratio",
        "vision_tokens",
        "llm_ms",
        "total_ms",
        "deviation_normalized",
    } <= set(rows[0])
    for row in rows:
        if row["mode"] == "adp":
            assert (row["pruned"] == "True") == (row["gate_state"] == "pruned")
        if row["mode"] == "static" and row["keep_ratio"] == "0.3":
            assert int(row["vision_tokens"]) == 154

    png = (out / "eval.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000

    trajectory = json.loads((out / "trajectory.json").read_text())
    assert trajectory["chunk_len"] == 8 and len(trajectory["eef_positions"]) % 8 == 1
    assert main(["gate", "--trajectory", str(out / "trajectory.json"), "--json"]) == 0
    gate = json.loads(capsys.readouterr().out)
    # One gate decision per chunk_len steps of the exported trajectory (the gate CLI's own chunking).
    assert len(gate["modes"]) == (len(trajectory["eef_positions"]) - 1) // 8 >= 8


def _eval_argv(model, bag, out, *params):
    argv = ["bag", "eval", str(bag), "--model", str(model), "--params-file", str(REPO / "config" / "libero.yaml")]
    argv += ["--out", str(out), "--no-plot", "--max-chunks", "3", "-p", "model.device:=cpu"]
    for p in params:
        argv += ["-p", p]
    return argv


def test_eval_applies_the_node_staleness_check(setup, capsys):
    """Issue 13: bag eval skipped the node's staleness check. With an age limit of 1 ms, which every recorded
    camera frame misses (they are logged a few ms after their stamp), the node would publish nothing on replay,
    and neither does bag eval; it says why."""
    root, model, bag = setup
    assert main(_eval_argv(model, bag, root / "stale", "safety.max_observation_age_sec:=0.001")) == 2
    err = capsys.readouterr().err
    assert re.search(r"no chunk: \d+ requests were stale.*max_observation_age_sec", err), err


def test_eval_applies_the_node_action_guard(setup, capsys):
    """Issue 13: bag eval skipped the guard. Limits no action can meet, in reject mode: every chunk refused."""
    root, model, bag = setup
    limits = "[-100.0, -100.0, -100.0, -100.0, -100.0, -100.0, -100.0]"
    lower = "safety.action_lower:=[-200.0, -200.0, -200.0, -200.0, -200.0, -200.0, -200.0]"
    argv = _eval_argv(
        model, bag, root / "refused", "safety.guard_mode:=reject", lower, f"safety.action_upper:={limits}"
    )
    assert main(argv) == 2
    assert re.search(r"no chunk: \d+ requests were refused", capsys.readouterr().err)
    # Clamping limits keep the chunks (the executed one is clamped; deviations compare the raw policy outputs).
    assert main(_eval_argv(model, bag, root / "clamped", lower, f"safety.action_upper:={limits}")) == 0
    assert json.loads((root / "clamped" / "summary.json").read_text())["chunks"] == 3


def test_missing_topics_are_named(setup, tmp_path):
    _, model, bag = setup
    with pytest.raises(InputError, match="lacks"):
        from adp_ros.core.params import preset_values
        from adp_ros.tools.bags.evaluate import evaluate

        values = {**preset_values("libero"), "topics.cameras": ["camera/primary/image_raw", "camera/side/image_raw"]}
        evaluate(bag, model, values, progress=False)


def test_truncated_bag_gives_a_clear_error(setup, tmp_path, capsys):
    _, model, bag = setup
    broken = tmp_path / "broken"
    shutil.copytree(bag, broken)
    db = next(broken.glob("*.db3"))
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])
    assert main(["bag", "eval", str(broken), "--model", str(model), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    assert err.splitlines()[-1].startswith("adp-ros bag eval: error: ")  # the subcommand named, not `adp-ros bag`


def test_a_params_directory_is_named_as_one(setup, capsys):
    _, model, bag = setup
    argv = ["bag", "eval", str(bag), "--model", str(model), "--params-file", str(REPO / "config")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"adp-ros bag eval: error: parameter file {REPO / 'config'} is a directory")
    assert "libero.yaml" in err and "Traceback" not in err


def _sync(sets: int, **received_unpaired: tuple[int, int]) -> dict:
    topics = {f"/{k}": {"received": r, "paired": r - u, "unpaired": u} for k, (r, u) in received_unpaired.items()}
    return {"sets": sets, "topics": topics}


def _summary(sync: dict, **bag_read: int) -> dict:
    unpaired = sum(t["unpaired"] for t in sync["topics"].values())
    return {
        "settings": {"cameras": ["/cam"], "sync_slop_sec": 0.05},
        "bag_read": {"unknown_types": 0, "undecodable": 0, "out_of_order_stamps": 0, "motion_samples_dropped": 0}
        | bag_read
        | {"sync_unpaired": unpaired},
        "sync": sync,
    }


def test_bag_read_sentences_say_whether_it_matters():
    assert describe_bag_read(_summary(_sync(80, cam=(80, 0), joint_states=(400, 0)))) == []
    # Joint states at 5× the camera rate: 4 of 5 are never paired. That is the design, not a problem.
    (line,) = describe_bag_read(_summary(_sync(80, cam=(80, 0), joint_states=(400, 320))))
    assert "320" in line and "/joint_states" in line and "expected" in line and "problem" not in line
    # Half the camera frames found no partner within the slop: that is a problem, with the fix.
    (line,) = describe_bag_read(_summary(_sync(40, cam=(80, 40), joint_states=(400, 360))))
    assert line.startswith("problem:") and "40 of 80" in line and "/cam" in line and "sync.slop_sec" in line
    # Requests the node would not publish on replay are a problem, counted per kind.
    (line,) = describe_bag_read(_summary(_sync(80, cam=(80, 0)), chunks_stale=3, chunks_refused=1))
    assert line.startswith("problem: 4 chunk requests") and "refused 1, stale 3" in line
    lines = describe_bag_read(_summary(_sync(80, cam=(80, 0)), undecodable=3, out_of_order_stamps=2))

    assert len(lines) == 2 and all(line.startswith("problem:") for line in lines)


def test_figure_draws_the_synth_phases_and_aligns_motion_with_the_gate():
    period = 0.4
    result = EvalResult()
    result.gate = [(0.0, "dense", 0.0), (0.4, "dense", 0.03), (0.8, "pruned", 0.02), (1.2, "dense", 0.001)]
    result.phases = [
        {"name": "reach", "kind": "coarse", "start_sec": 0.0, "end_sec": 0.7},
        {"name": "grasp", "kind": "standstill", "start_sec": 0.7, "end_sec": 1.6},
    ]
    summary = {"settings": {"period_sec": period, "motion_source": "eef_pose"}}
    fig = figure(result, summary)
    ax = fig.axes[0]
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "reach" in texts and "grasp" in texts
    (line,) = [ln for ln in ax.lines if ln.get_label() == "motion of the chunk"]
    x = line.get_xdata()
    spans = [p.get_x() for p in ax.patches if p.get_label() == "gate state"]
    ends = [p.get_x() + p.get_width() for p in ax.patches if p.get_label() == "gate state"]
    # The chunk run over [t_k, t_k+1] under state k is the one whose motion decision k+1 reports: same range.
    assert (min(x), max(x)) == pytest.approx((min(spans), max(ends)))
    assert (min(x), max(x)) == pytest.approx((0.0, 1.2))
    y = line.get_ydata()
    assert max(y) == pytest.approx(30.0) and min(y) == pytest.approx(1.0)  # mm; the first decision measured nothing
