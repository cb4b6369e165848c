"""`adp-ros sim eval` results: per-episode records, the per-mode summary (summary.json rows), the Markdown table
and the success/latency plot. No ROS and no simulator here, so the summary logic is testable on its own."""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

CHUNK_KEYS = ("end_to_end_ms", "compute_ms", "llm_ms", "vision_ms", "keep_ratio", "pruned", "gate_state", "prune_mode")
"""Per-chunk keys of the node's latency diagnostics kept in each episode record."""


def _floats(records: list[dict], key: str) -> list[float]:
    out = []
    for r in records:
        with contextlib.suppress(KeyError, ValueError):
            out.append(float(r[key]))
    return out


def episode_record(mode: Any, timing: str, task: int, init_state: int, result: Any, chunks: list[dict]) -> dict:
    compute = _floats(chunks, "compute_ms")
    e2e = _floats(chunks, "end_to_end_ms")
    keep = _floats(chunks, "keep_ratio")
    return {
        "mode": mode.name,
        "prune_mode": mode.prune_mode,
        "keep_ratio": mode.keep_ratio,
        "blind": mode.blind,
        "timing": timing,
        "task": task,
        "init_state": init_state,
        "success": bool(result.success),
        "status": result.status,
        "steps": result.steps,
        "chunks": result.chunks,
        "held_steps": result.held_steps,
        "real_time_factor": round(result.real_time_factor, 3),
        "wall_sec": round(result.wall_sec, 2),
        "compute_ms_p50": float(np.median(compute)) if compute else None,
        "end_to_end_ms_p50": float(np.median(e2e)) if e2e else None,
        "keep_ratio_mean": float(np.mean(keep)) if keep else None,
        "pruned_fraction": float(np.mean([c.get("pruned") == "true" for c in chunks if "pruned" in c]))
        if any("pruned" in c for c in chunks)
        else None,
        "gate_sequence": "".join("P" if c.get("pruned") == "true" else "D" for c in chunks if "pruned" in c),
        "skipped_chunks": sum(1 for c in chunks if "skipped" in c),
        "chunk_records": [{k: c[k] for k in CHUNK_KEYS if k in c} for c in chunks],
    }


def summarize(records: list[dict]) -> list[dict]:
    rows = []
    keys: list[tuple[str, str]] = []
    for r in records:
        if (r["mode"], r["timing"]) not in keys:
            keys.append((r["mode"], r["timing"]))
    for mode, timing in keys:
        eps = [r for r in records if r["mode"] == mode and r["timing"] == timing]
        successes = sum(r["success"] for r in eps)
        lat = [c for r in eps for c in _floats(r["chunk_records"], "compute_ms")]
        e2e = [c for r in eps for c in _floats(r["chunk_records"], "end_to_end_ms")]
        keep = [c for r in eps for c in _floats(r["chunk_records"], "keep_ratio")]
        n = len(eps)
        p = successes / n
        rows.append(
            {
                "mode": mode,
                "keep_ratio": eps[0]["keep_ratio"],
                "timing": timing,
                "episodes": n,
                "successes": successes,
                "success_rate": p,
                "success_stderr": float(np.sqrt(p * (1 - p) / n)),
                "blind": eps[0]["blind"],
                "mean_steps": float(np.mean([r["steps"] for r in eps])),
                "chunks": int(sum(r["chunks"] for r in eps)),
                "compute_ms_p50": float(np.median(lat)) if lat else None,
                "compute_ms_p90": float(np.percentile(lat, 90)) if lat else None,
                "end_to_end_ms_p50": float(np.median(e2e)) if e2e else None,
                "keep_ratio_mean": float(np.mean(keep)) if keep else None,
                "pruned_fraction": float(
                    np.mean([r["pruned_fraction"] for r in eps if r["pruned_fraction"] is not None])
                )
                if any(r["pruned_fraction"] is not None for r in eps)
                else None,
                "held_steps": int(sum(r["held_steps"] for r in eps)),
                "real_time_factor": float(np.mean([r["real_time_factor"] for r in eps])),
                "tasks": sorted({r["task"] for r in eps}),
            }
        )
    return rows


def _fmt(v: Any, digits: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| mode | timing | success | chunks | keep ratio (mean) | pruned chunks | policy compute p50 / p90 (ms) "
        "| obs → command p50, sim time (ms) | mean steps |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['timing']} | {100 * r['success_rate']:.0f} % ({r['successes']}/{r['episodes']}) "
            f"| {r['chunks']} | {_fmt(r['keep_ratio_mean'], 2)} | "
            f"{_fmt(None if r['pruned_fraction'] is None else 100 * r['pruned_fraction'], 0)} % | "
            f"{_fmt(r['compute_ms_p50'])} / {_fmt(r['compute_ms_p90'])} | {_fmt(r['end_to_end_ms_p50'])} "
            f"| {r['mean_steps']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def write_outputs(out: Path, records: list[dict], protocol: dict) -> list[dict]:
    rows = summarize(records)
    (out / "summary.json").write_text(json.dumps({"rows": rows, "protocol": protocol}, indent=2))
    with (out / "summary.csv").open("w", newline="") as f:
        fields = [k for k in rows[0] if k != "tasks"] if rows else []
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    (out / "summary.md").write_text(markdown_table(rows))
    if rows:
        _plot(rows, out / "success.png")
    return rows


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['mode']}\n{r['timing']}" for r in rows]
    x = np.arange(len(rows))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(max(7, 1.3 * len(rows) + 4), 3.6))
    rates = [100 * r["success_rate"] for r in rows]
    errs = [100 * r["success_stderr"] for r in rows]
    a1.bar(x, rates, yerr=errs, color=["0.5" if r["blind"] else "tab:blue" for r in rows], capsize=3)
    for i, r in enumerate(rows):
        a1.text(i, rates[i] + 2, f"{r['successes']}/{r['episodes']}", ha="center", fontsize=8)
    a1.set_xticks(x, labels, fontsize=8)
    a1.set_ylim(0, 110)
    a1.set_ylabel("task success (%)")
    a1.set_title("success per mode (± std. error)")
    lat = [r["compute_ms_p50"] or 0 for r in rows]
    keep = [r["keep_ratio_mean"] or 1.0 for r in rows]
    a2.bar(x - 0.2, lat, 0.4, label="policy compute p50 (ms)")
    ax2 = a2.twinx()
    ax2.bar(x + 0.2, keep, 0.4, color="tab:orange", label="mean keep ratio")
    ax2.set_ylim(0, 1.35)
    a2.set_xticks(x, labels, fontsize=8)
    a2.set_ylabel("ms")
    ax2.set_ylabel("keep ratio")
    a2.set_title("latency and visual tokens kept")
    handles = [h for ax in (a2, ax2) for h in ax.get_legend_handles_labels()[0]]
    ax2.legend(handles, [h.get_label() for h in handles], loc="upper right", fontsize=7, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
