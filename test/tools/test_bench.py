"""`adp-ros bench` prints a row per mode and ρ and writes the same numbers as JSON (tiny model, few chunks).

Speed targets are not asserted here (a shared CI core is no benchmark): docs/benchmarks.md records them.
"""

from __future__ import annotations

import json

from adp_ros.tools.cli import main


def test_bench_covers_every_mode(tmp_path, capsys):
    from adp_ros.core.platform import LIBERO
    from adp_ros.model.tiny import make_tiny_checkpoint

    model = make_tiny_checkpoint(tmp_path / "tiny", LIBERO)
    out = tmp_path / "bench.json"
    argv = [
        "bench",
        "--model",
        str(model),
        "--keep-ratios",
        "0.3,0.7",
        "--iters",
        "2",
        "--warmup",
        "1",
        "--gate-chunks",
        "12",
        "--fastv-layer",
        "1",
        "--device",
        "cpu",
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    rows = {(r["mode"], r["keep_ratio"]): r for r in report["rows"]}
    assert set(rows) == {("dense", 1.0)} | {(m, r) for m in ("adp", "static", "random", "fastv") for r in (0.3, 0.7)}
    for (mode, ratio), row in rows.items():
        assert f"{mode:<7}{ratio:>5.2f}" in printed
        assert row["median_ms"]["total"] > 0 and row["p90_ms"]["llm"] >= row["median_ms"]["llm"]
    dense = rows[("dense", 1.0)]
    assert dense["speedup_llm"] == 1.0 and dense["action_deviation_vs_dense"] == 0.0 and dense["pruned_fraction"] == 0
    static = rows[("static", 0.3)]
    assert static["vision_tokens"] == 154 and static["pruned_fraction"] == 1.0
    assert static["flops_ratio_llm"] > rows[("static", 0.7)]["flops_ratio_llm"] > 1.0
    assert 0 < rows[("adp", 0.3)]["pruned_fraction"] < 1  # the gate runs on a pick-and-place trajectory
    assert report["meta"]["device"] == "cpu" and report["meta"]["acceleration"] == "eager"
