"""`adp-ros bench` prints a row per mode and ρ and writes the same numbers as JSON (tiny model, few chunks).

Speed targets are not asserted here (a shared CI core is no benchmark): docs/benchmarks.md records them.
"""

from __future__ import annotations

import itertools
import json
import platform

import pytest

from adp_ros.tools.bench import Row, cpu_name, interleave
from adp_ros.tools.cli import main


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from adp_ros.core.platform import LIBERO
    from adp_ros.model.tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("bench") / "tiny", LIBERO)


def test_bench_covers_every_mode(tmp_path, capsys, tiny_model):
    model = tiny_model
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
    printed, err = capsys.readouterr()
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
    for row in rows.values():  # speed-ups come from the medians the table prints, for the gated rows too
        assert row["speedup_llm"] == pytest.approx(dense["median_ms"]["llm"] / row["median_ms"]["llm"])
        assert row["speedup_total"] == pytest.approx(dense["median_ms"]["total"] / row["median_ms"]["total"])
    header = printed.splitlines()[0]
    assert "()" not in header and f"cpu ({report['meta']['device_name']})" in header and report["meta"]["device_name"]
    assert "2 after 1 warm-up" in header and "--quick" not in header
    # The duration estimate comes before the timed chunks, with the chunk count: 9 warm-up, 7 rows × 2, ADP 2 × 12.
    assert "9 rows, 47 chunks" in err and "about" in err and "--quick: shorter" in err


def test_quick_runs_fewer_chunks_and_flags_win(tmp_path, capsys, tiny_model):
    out = tmp_path / "quick.json"
    argv = ["bench", "--model", str(tiny_model), "--quick", "--modes", "dense,adp,static", "--iters", "2"]
    assert main([*argv, "--fastv-layer", "1", "--device", "cpu", "--json", str(out)]) == 0
    printed, err = capsys.readouterr()
    report = json.loads(out.read_text())
    assert [(r["mode"], r["keep_ratio"]) for r in report["rows"]] == [("dense", 1.0), ("adp", 0.5), ("static", 0.5)]
    assert report["meta"]["quick"] and report["meta"]["iters"] == 2 and report["meta"]["warmup"] == 1
    assert report["meta"]["gate_chunks"] == 12
    assert "3 rows, 19 chunks" in err and "--quick: shorter" not in err  # 3 warm-up + 2 + 12 + 2
    assert "--quick" in printed.splitlines()[0]


def test_rows_are_interleaved_over_the_whole_run():
    lengths = [10, 24, 10, 10]  # the gated row (24 chunks) among rows of 10
    order = interleave(lengths)
    assert sorted(order) == sorted((i, k) for i, n in enumerate(lengths) for k in range(n))
    for i in range(len(lengths)):
        assert [k for j, k in order if j == i] == list(range(lengths[i]))  # each row in its own order
    tail = order[-len(order) // 5 :]  # no row runs alone at the end (or anywhere)
    assert {i for i, _ in tail} == set(range(len(lengths)))
    longest_alone = max(sum(1 for _ in group) for _, group in itertools.groupby(i for i, _ in order))
    assert longest_alone <= 2


def test_gated_row_weights_its_dense_and_pruned_medians():
    row = Row("adp", 0.3, {"llm": [10.0, 11.0, 2.0, 2.0, 3.0]}, pruned=[False, False, True, True, True])
    assert row.median("llm") == pytest.approx(0.6 * 2.0 + 0.4 * 10.5)  # the plain median (3.0) is a pruned chunk
    assert Row("static", 0.3, {"llm": [1.0, 2.0, 9.0]}, pruned=[True] * 3).median("llm") == 2.0


def test_cpu_name_reads_proc_cpuinfo_and_falls_back(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\n")
    assert cpu_name(info) == "AMD EPYC 7B13"
    assert cpu_name(tmp_path / "missing") == (platform.processor() or platform.machine())
