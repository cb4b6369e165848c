"""`adp-ros bag eval`: a generated bag through the tiny policy offline → CSV, JSON, PNG and a gate trajectory."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from adp_ros.core.errors import InputError
from adp_ros.tools.bags.synth import SynthOptions, synthesize_bag
from adp_ros.tools.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from adp_ros.core.platform import LIBERO
    from adp_ros.model.tiny import make_tiny_checkpoint

    root = tmp_path_factory.mktemp("eval")
    model = make_tiny_checkpoint(root / "model", LIBERO)
    bag = root / "bag"
    synthesize_bag(bag, SynthOptions(preset="libero", duration_sec=4.0, width=96, height=96, progress=False))
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
    assert chunks == 10  # 4 s of bag: a chunk at the first synchronised frames, then every 8 / 20 Hz = 0.4 s
    by = {(m["mode"], m["keep_ratio"]): m for m in summary["modes"]}
    assert set(by) == {("dense", 1.0), ("adp", 0.3), ("adp", 0.5), ("static", 0.3), ("static", 0.5)}
    assert by[("dense", 1.0)]["pruned_fraction"] == 0 and by[("dense", 1.0)]["deviation_normalized"]["max"] == 0
    assert by[("static", 0.3)]["pruned_fraction"] == 1
    gate_fraction = summary["gate"]["pruned_fraction"]
    assert 0 < gate_fraction < 1  # the synthetic task has coarse and fine phases
    assert by[("adp", 0.3)]["pruned_fraction"] == pytest.approx(gate_fraction)
    assert by[("static", 0.3)]["flops_ratio_vs_dense"] > by[("static", 0.5)]["flops_ratio_vs_dense"] > 1
    assert summary["gate"]["modes"].startswith("DDD")  # cold start

    with (out / "steps.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == chunks * 5
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
    assert len(gate["modes"]) >= chunks - 2


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
