"""`bag eval`'s outputs: the summary (per mode: medians, FLOPs, speed-ups, deviations), the read statistics as
sentences, steps.csv, the gate trajectory export and eval.png."""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adp_ros.tools.bags.eval_records import TIMING_COLUMNS, ChunkRow, EvalResult


def summarize(result: EvalResult, settings: Mapping[str, Any]) -> dict[str, Any]:
    groups: dict[tuple[str, float], list[ChunkRow]] = {}
    for row in result.rows:
        groups.setdefault((row.mode, row.keep_ratio), []).append(row)
    dense = groups.get(("dense", 1.0), [])
    dense_total = statistics.median(r.timings_ms["total"] for r in dense) if dense else math.nan
    dense_llm = statistics.median(r.timings_ms["llm"] for r in dense) if dense else math.nan
    dense_tflops = float(np.mean([r.tflops for r in dense])) if dense else math.nan
    modes = []
    for (mode, ratio), rows in groups.items():
        total = [r.timings_ms["total"] for r in rows]
        llm = [r.timings_ms["llm"] for r in rows]
        tflops = float(np.mean([r.tflops for r in rows]))
        modes.append(
            {
                "mode": mode,
                "keep_ratio": ratio,
                "chunks": len(rows),
                "pruned_fraction": float(np.mean([r.pruned for r in rows])),
                "mean_keep_ratio": float(np.mean([r.vision_tokens for r in rows])) / max(1, dense[0].vision_tokens)
                if dense
                else math.nan,
                "mean_tflops": tflops,
                "flops_ratio_vs_dense": dense_tflops / tflops,
                "median_ms": {s: statistics.median(r.timings_ms.get(s, 0.0) for r in rows) for s in TIMING_COLUMNS},
                "p90_ms": {
                    s: float(np.percentile([r.timings_ms.get(s, 0.0) for r in rows], 90)) for s in TIMING_COLUMNS
                },
                "speedup_total_vs_dense": dense_total / statistics.median(total),
                "speedup_llm_vs_dense": dense_llm / statistics.median(llm),
                "deviation_normalized": {
                    "mean": float(np.mean([r.deviation_normalized for r in rows])),
                    "max": float(np.max([r.deviation_normalized for r in rows])),
                },
                "deviation_actions_max": float(np.max([r.deviation_actions for r in rows])),
            }
        )
    states = [s for _, s, _ in result.gate]
    return {
        "settings": dict(settings),
        "chunks": len(result.gate),
        "gate": {
            "pruned_fraction": states.count("pruned") / max(1, len(states)),
            "modes": "".join("P" if s == "pruned" else "D" for s in states),
        },
        "bag_read": result.skipped,
        "sync": result.sync,
        "phases": result.phases,
        "modes": modes,
    }


def describe_bag_read(summary: Mapping[str, Any]) -> list[str]:
    """The bag's read and synchronisation counts as sentences, each saying whether it is a problem; [] if clean."""
    read = summary["bag_read"]
    lines = []
    if read.get("unknown_types"):
        lines.append(
            f"problem: {read['unknown_types']} messages on the evaluated topics have types that are not installed "
            "and were skipped (`adp-ros bag info --check` lists them)"
        )
    if read.get("undecodable"):
        lines.append(
            f"problem: {read['undecodable']} messages on the evaluated topics do not decode and were skipped "
            "(`adp-ros bag info --check` names the topics)"
        )
    if read.get("out_of_order_stamps"):
        lines.append(
            f"problem: {read['out_of_order_stamps']} messages are stamped earlier than the one before on their topic; "
            "the node would see the same: check the driver's clock (`adp-ros bag info --check`)"
        )
    if read.get("motion_samples_dropped"):
        lines.append(
            f"{read['motion_samples_dropped']} motion samples older than the newest one were left out of the gate's "
            "buffer, as the node does; a problem only if that is a large share of the motion topic"
        )
    skipped = {k.removeprefix("chunks_"): v for k, v in read.items() if k.startswith("chunks_") and v}
    if skipped:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items()))
        lines.append(
            f"problem: {sum(skipped.values())} chunk requests published nothing ({kinds}), as the node would not on "
            "replay; the log shows why (staleness: safety.max_observation_age_sec; refused: safety.*)"
        )
    if read.get("motion_samples_rejected"):
        lines.append(
            f"problem: {read['motion_samples_rejected']} motion samples were rejected (no header stamp or unusable "
            "values), as the node would reject them"
        )
    sync = summary.get("sync") or {}
    if sync.get("problem"):
        lines.append(f"problem: {sync['problem']}")
    topics = sync.get("topics") or {}
    if read.get("sync_unpaired") and topics:
        slowest = min(topics, key=lambda t: topics[t]["received"])
        frames = topics[slowest]["received"]
        unmatched = frames - sync["sets"]
        if frames and unmatched > 0.1 * frames:
            slop = summary["settings"].get("sync_slop_sec")
            lines.append(
                f"problem: {unmatched} of {frames} messages on {slowest} (the slowest synchronised topic) found no "
                f"partner within sync.slop_sec={slop} s, so no observation was built from them; check the topics' "
                "stamps (`adp-ros bag info --check`) or raise sync.slop_sec"
            )
        else:
            surplus = ", ".join(
                f"{t} {c['unpaired']} of {c['received']}" for t, c in sorted(topics.items()) if c["unpaired"]
            )
            lines.append(
                f"{read['sync_unpaired']} messages were not paired into an observation ({surplus}): expected, "
                f"these topics publish faster than {slowest} and only the message nearest each of its "
                f"{frames} messages is used"
            )
    return lines


def write_csv(path: Path, rows: Sequence[ChunkRow]) -> None:
    records = [r.as_csv() for r in rows]
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def trajectory_for_gate(result: EvalResult, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """End-effector xyz at every control step from the first chunk on, in `adp-ros gate --trajectory` format."""
    if settings["motion_source"] != "eef_pose" or len(result.eef) < 2 or not result.gate:
        return None
    stamps = np.array([s for s, _ in result.eef], dtype=np.float64)
    xyz = np.stack([p for _, p in result.eef])
    first = next(r.observation_stamp_ns for r in result.rows)
    dt = 1e9 / settings["control_hz"]
    steps = settings["chunk_len"]
    n = int((stamps[-1] - first) // (dt * steps))
    if n < 1:
        return None
    t = first + np.arange(n * steps + 1) * dt
    positions = np.stack([np.interp(t, stamps, xyz[:, k]) for k in range(3)], axis=1)
    return {"chunk_len": steps, "eef_positions": positions.round(6).tolist(), "source": "adp-ros bag eval"}


def plot(path: Path, result: EvalResult, summary: Mapping[str, Any]) -> None:
    import matplotlib.pyplot as plt

    fig = figure(result, summary)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def figure(result: EvalResult, summary: Mapping[str, Any]) -> Any:
    """The eval.png figure (the caller closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    times = np.array([t for t, _, _ in result.gate])
    pruned = np.array([s == "pruned" for _, s, _ in result.gate])
    disp = np.array([d for _, _, d in result.gate])
    fig, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=True)
    ax = axes[0]
    scale = 1000 if summary["settings"]["motion_source"] == "eef_pose" else 1
    # Chunk k runs over [t_k, t_k+1] in the state decision k chose; decision k+1 reports the motion it measured
    # over that chunk. Both are drawn over the same span; the last chunk's motion is never measured, so the
    # figure ends where the last decision was taken.
    if len(times) > 1:
        for start, end, p in zip(times[:-1], times[1:], pruned[:-1], strict=True):
            ax.axvspan(start, end, color="tab:orange" if p else "tab:blue", alpha=0.15, lw=0, label="gate state")
        # One step per chunk: value k+1 held from t_k to t_k+1 (the last value repeated to close the last step).
        steps = np.append(disp[1:], disp[-1]) * scale
        ax.step(times, steps, "k", where="post", lw=1.2, label="motion of the chunk")
    first, last = (times[0], times[-1]) if len(times) > 1 else (-math.inf, math.inf)
    for phase in result.phases:
        start, end = max(phase["start_sec"], first), min(phase["end_sec"], last)
        if start >= end:
            continue
        if phase["start_sec"] >= first:
            ax.axvline(phase["start_sec"], color="0.4", ls="--", lw=0.8)
        ax.text(
            (start + end) / 2,
            1.01,
            f"{phase['name']} ({phase['kind']})",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=7,
            color="0.25",
        )
    unit = "mm" if summary["settings"]["motion_source"] == "eef_pose" else "rad"
    ax.set_ylabel(f"displacement per chunk ({unit})")
    title = "gate: each chunk's state (orange = pruned, blue = dense) and the motion measured over it"
    if result.phases:
        title += "\nthe bag's task phases between dashed lines"
    ax.set_title(title, fontsize=10, pad=14 if result.phases else 6)
    groups: dict[str, list[ChunkRow]] = {}
    for row in result.rows:
        groups.setdefault(f"{row.mode} ρ={row.keep_ratio:g}" if row.mode != "dense" else "dense", []).append(row)
    for label, rows in groups.items():
        t = [r.time_sec for r in rows]
        axes[1].step(t, [r.vision_tokens for r in rows], where="post", label=label)
        axes[2].plot(t, [r.timings_ms["total"] for r in rows], ".-", label=label)
        axes[3].plot(t, [r.deviation_normalized for r in rows], ".-", label=label)
    axes[1].set_ylabel("visual tokens kept")
    axes[2].set_ylabel("latency per chunk (ms)")
    axes[3].set_ylabel("max |Δ action| vs dense\n(normalised)")
    axes[3].set_xlabel("bag time (s)")
    for ax in axes[1:]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    if len(times) > 1:
        axes[0].set_xlim(times[0], times[-1])
    fig.tight_layout()
    return fig


def print_summary(summary: Mapping[str, Any], out: Path, has_trajectory: bool) -> None:
    print(
        f"{summary['chunks']} chunks; gate pruned {summary['gate']['pruned_fraction']:.0%}: {summary['gate']['modes']}"
    )
    print(
        f"{'mode':<8}{'ρ':>5}{'pruned':>8}{'TFLOP':>9}{'total ms':>10}{'llm ms':>9}{'speed-up':>10}"
        f"{'Δ mean':>9}{'Δ max':>8}"
    )
    for m in summary["modes"]:
        print(
            f"{m['mode']:<8}{m['keep_ratio']:>5.2f}{m['pruned_fraction']:>8.2f}{m['mean_tflops']:>9.4f}"
            f"{m['median_ms']['total']:>10.2f}{m['median_ms']['llm']:>9.2f}{m['speedup_total_vs_dense']:>10.2f}"
            f"{m['deviation_normalized']['mean']:>9.4f}{m['deviation_normalized']['max']:>8.4f}"
        )
    for line in describe_bag_read(summary):
        print(f"bag: {line}")
    files = "steps.csv, summary.json" + (", eval.png" if (out / "eval.png").exists() else "")
    files += ", trajectory.json" if has_trajectory else ""
    print(f"wrote {files} to {out}")
