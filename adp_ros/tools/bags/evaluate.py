"""Evaluate pruning offline on a recorded bag: dense and pruning modes side by side, chunk by chunk.

Pick `gate.window` and the keep ratio for your arm before touching it. The bag's camera and joint-state streams
are synchronised exactly as the node does it (approximate time, same queue and slop), observations are built
with the node's conversions from the same parameter file, and the gate is fed the recorded motion by header
stamp. Chunks are requested every `execute_steps / control_hz` seconds of bag time (what the robot would do),
not as fast as inference allows, so the run is deterministic and faster than real time.

Every chunk runs dense (the reference) and each requested mode on the same observation. Writes into OUT:
  steps.csv        one row per chunk and mode: gate state, displacement, keep ratio, tokens, TFLOPs, latency
                   per stage, action deviation from dense (normalised and in robot units)
  summary.json     per mode: medians/p90 per stage, pruned fraction, FLOPs and speed-up against dense,
                   deviation statistics; the bag's read statistics (skipped types, out-of-order stamps), the
                   synchroniser's counts per topic and, for a `bag synth` bag, its ground-truth task phases
  eval.png         each chunk's motion with the gate state it ran under, the task phases when the bag has them,
                   keep ratio, latency and deviation over time
  trajectory.json  the end-effector trajectory sampled at the control rate, for `adp-ros gate --trajectory`
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from adp_ros.core.diagnostics import MODEL_STAGES
from adp_ros.core.errors import InputError
from adp_ros.tools.common import float_list, reject_directory

STAGES = (*MODEL_STAGES, "total")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", type=Path, help="rosbag2 folder (sqlite3 or mcap)")
    parser.add_argument("--model", type=Path, required=True, help="checkpoint directory")
    parser.add_argument(
        "--params-file",
        type=Path,
        action="append",
        default=[],
        help="the node's parameter file(s) (e.g. config/libero.yaml): topics, proprio, gate, pruning",
    )
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME:=VALUE",
        help="override one node parameter, e.g. -p gate.window:=5 (YAML value syntax)",
    )
    parser.add_argument(
        "--modes",
        default=None,
        help="comma-separated modes to compare with dense (default: the parameters' pruning.mode)",
    )
    parser.add_argument(
        "--keep-ratios", type=float_list, default=None, help="keep ratios to sweep (default: pruning.keep_ratio)"
    )
    parser.add_argument(
        "--instruction", default=None, help="task (default: the bag's instruction topic or task.instruction)"
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: BAG_eval next to the bag)")
    parser.add_argument("--max-chunks", type=int, default=None, help="stop after this many chunks")
    parser.add_argument("--device", default=None, help="override model.device")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")


# ------------------------------------------------------------------------------------------- configuration


def read_params_file(path: Path) -> dict[str, Any]:
    """Flat `name → value` from a ROS 2 params file (any node key, e.g. `/**` or `adp_policy_node`)."""
    import yaml

    from adp_ros.core.params import flatten

    reject_directory(path, "parameter file", "pass a ROS 2 parameter YAML file such as config/libero.yaml", (".yaml",))
    try:
        tree = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise InputError(f"parameter file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise InputError(f"parameter file {path} is not valid YAML: {exc}") from None
    values: dict[str, Any] = {}
    for node in tree.values() if isinstance(tree, dict) else ():
        if isinstance(node, dict) and isinstance(node.get("ros__parameters"), dict):
            values.update(flatten(node["ros__parameters"]))
    if not values:
        raise InputError(f"{path} has no `<node>: ros__parameters:` section")
    return values


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    import yaml

    out = {}
    for item in items:
        name, sep, text = item.partition(":=")
        if not sep or not name:
            raise InputError(f"-p {item!r}: write NAME:=VALUE, e.g. -p gate.window:=5")
        out[name.strip()] = yaml.safe_load(text)
    return out


def _absolute(topic: str) -> str:
    """Node topics are relative (namespace /): the bag stores absolute names."""
    return topic if topic.startswith("/") else "/" + topic


# ------------------------------------------------------------------------------------------------ records


@dataclass
class ChunkRow:
    chunk: int
    time_sec: float
    observation_stamp_ns: int
    gate_state: str
    displacement: float
    mode: str
    keep_ratio: float
    pruned: bool
    vision_tokens: int
    sequence: int
    tflops: float
    timings_ms: dict[str, float]
    deviation_normalized: float
    deviation_actions: float

    def as_csv(self) -> dict[str, Any]:
        row = {k: v for k, v in self.__dict__.items() if k != "timings_ms"}
        row.update({f"{s}_ms": round(self.timings_ms.get(s, 0.0), 4) for s in STAGES})
        return row


@dataclass
class EvalResult:
    rows: list[ChunkRow] = field(default_factory=list)
    gate: list[tuple[float, str, float]] = field(default_factory=list)
    """(time, state, displacement) per chunk."""
    eef: list[tuple[int, np.ndarray]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    sync: dict[str, Any] = field(default_factory=dict)
    """{"sets": synchronised sets, "topics": {topic: {"received", "paired", "unpaired"}}}."""
    phases: list[dict[str, Any]] = field(default_factory=list)
    """Ground-truth task phases a `bag synth` bag stores: name, kind, start_sec, end_sec from the bag's start."""


SYNTH_RECORD = "adp_ros.synth"  # the bag's custom_data key `bag synth` writes its options and phases under


def stored_phases(custom_data: Mapping[str, str], start_ns: int) -> list[dict[str, Any]]:
    """The phases of a `bag synth` bag in seconds from `start_ns`; [] for any other bag (or an unreadable record).

    Phase bounds are header stamps; the plot's axis is log time, a few milliseconds of sensor latency later.
    """
    try:
        phases = json.loads(custom_data[SYNTH_RECORD])["phases"]
        return [
            {
                "name": str(p["name"]),
                "kind": str(p["kind"]),
                "start_sec": (int(p["start_ns"]) - start_ns) / 1e9,
                "end_sec": (int(p["end_ns"]) - start_ns) / 1e9,
            }
            for p in phases
        ]
    except (KeyError, TypeError, ValueError):
        return []


# ----------------------------------------------------------------------------------------------- the loop


def evaluate(
    bag: Path,
    model: Path,
    values: Mapping[str, Any],
    *,
    modes: Sequence[str] | None = None,
    keep_ratios: Sequence[float] | None = None,
    instruction: str | None = None,
    max_chunks: int | None = None,
    progress: bool = True,
) -> tuple[EvalResult, dict[str, Any]]:
    """Run the evaluation; returns the per-chunk records and the resolved settings used."""
    import dataclasses

    from tqdm import tqdm

    from adp_ros.core.params import resolve
    from adp_ros.core.pruning import PRUNE_MODES
    from adp_ros.core.sync import ApproximateTimeSynchronizer, SyncConfig, seconds_to_ns
    from adp_ros.core.worker import ChunkRunner
    from adp_ros.model.config import PolicyConfig
    from adp_ros.model.policy import Observation, OftPolicy
    from adp_ros.ros.messages import ObservationAssembler, pose_position
    from adp_ros.tools.bags.io import BagReader, header_stamp_ns

    resolved = resolve({**values, "model.checkpoint": str(model)})
    node = resolved.node
    platform = node.model.platform
    motion = node.motion
    base = resolved.prune
    mode_names = list(modes) if modes else [base.mode]
    for m in mode_names:
        if m not in PRUNE_MODES or m == "dense":
            raise InputError(
                f"--modes: {m!r} is not a pruning mode to compare (choose from adp, static, random, fastv)"
            )
    ratios = list(keep_ratios) if keep_ratios else [base.keep_ratio]
    configs = [dataclasses.replace(base, mode=m, keep_ratio=r) for m in mode_names for r in ratios]

    # The node's own pieces: the synchronised set, its conversion to an observation, the gate and its motion feed.
    assemble = ObservationAssembler(node)
    runner = ChunkRunner.for_motion(resolved.gate, motion)
    cameras = [_absolute(t) for t in node.topics.cameras]
    joints_topic = _absolute(node.topics.joint_states)
    pose_topic = _absolute(node.topics.eef_pose) if node.topics.eef_pose else ""
    synced = [*cameras]
    if assemble.needs_joint_states:
        synced.append(joints_topic)
    if assemble.needs_pose:
        synced.append(pose_topic)
    motion_topic = {"eef_pose": pose_topic, "joint_states": joints_topic}.get(motion.source, "")
    wanted = list(dict.fromkeys([*synced, *([motion_topic] if motion_topic else [])]))
    instruction_topic = _absolute(node.topics.instruction) if node.topics.instruction else ""

    policy = OftPolicy(PolicyConfig.from_settings(node.model))
    period_ns = round(node.control.execute_steps * 1e9 / node.control.control_hz)
    dt_ns = node.control.dt_ns
    policy.warmup([None, *configs])  # first-call costs stay out of the timings

    result = EvalResult()
    sync = ApproximateTimeSynchronizer(SyncConfig(len(synced), node.sync.queue_size, seconds_to_ns(node.sync.slop_sec)))
    index = {t: i for i, t in enumerate(synced)}
    latest_set: tuple[Any, ...] | None = None
    task = instruction or node.instruction
    with BagReader(bag) as reader:
        available = set(reader.topics)
        missing = [t for t in wanted if t not in available]
        if missing:
            raise InputError(
                f"{bag} lacks {missing} (from the parameters: topics.*); it has {sorted(available)}. "
                "Fix the topics in the parameter file or pass -p topics.cameras:=[...]"
            )
        if not task and instruction_topic in available:
            # The instruction is usually published once near the start, possibly after the first frames.
            task = next((m.data for _, _, m in reader.messages([instruction_topic])), "")
        if not task:
            raise InputError(
                "no instruction: the bag has none on topics.instruction; pass --instruction or -p task.instruction:=..."
            )
        start = reader.start_ns
        result.phases = stored_phases(reader.summary.custom_data, start)
        total = max(1, (reader.end_ns - start) // period_ns)
        if max_chunks is not None:
            total = min(total, max_chunks)
        bar = tqdm(total=total, desc="bag eval", unit="chunk", file=sys.stderr, disable=not progress, leave=False)
        next_request: int | None = None
        chunk = 0
        for topic, log_ns, msg in reader.messages(wanted):
            stamp = header_stamp_ns(msg) or log_ns
            if topic == motion_topic:
                _feed_motion(runner, motion.source, stamp, msg, pose_position, result)
            if topic in index:
                emitted = sync.add(index[topic], msg, stamp)
                if emitted is not None:
                    latest_set = emitted
                    if next_request is None:
                        next_request = max(stamp, log_ns)
            while next_request is not None and log_ns >= next_request and latest_set is not None:
                if max_chunks is not None and chunk >= max_chunks:
                    break
                inputs = assemble(latest_set, log_ns)
                observation = Observation(images=inputs.images, proprio=inputs.proprio, instruction=task)
                decision = runner.decide(inputs.observation_stamp_ns)
                at = (next_request - start) / 1e9
                result.gate.append((at, decision.state, decision.displacement or 0.0))
                dense = policy.predict(observation)
                # predicted_delta motion: what the arm would execute under the dense policy.
                runner.chunk_started(inputs.observation_stamp_ns, dt_ns, dense.actions[: node.control.execute_steps])
                _record(result, chunk, at, inputs.observation_stamp_ns, decision, "dense", 1.0, dense, dense)
                for config in configs:
                    out = policy.predict(observation, config.for_chunk(decision.is_pruned))
                    _record(
                        result,
                        chunk,
                        at,
                        inputs.observation_stamp_ns,
                        decision,
                        config.mode,
                        config.keep_ratio,
                        out,
                        dense,
                    )
                chunk += 1
                bar.update()
                next_request += period_ns
            if max_chunks is not None and chunk >= max_chunks:
                break
        bar.close()
        stats = reader.last_stats
        result.skipped = {
            "unknown_types": sum(stats.skipped_unknown_types.values()) if stats else 0,
            "undecodable": sum(stats.undecodable.values()) if stats else 0,
            "out_of_order_stamps": sum(stats.out_of_order_stamps.values()) if stats else 0,
            "motion_samples_dropped": runner.dropped_motion_samples,
        }
    # Joint states usually arrive faster than images: most of them are never paired, by design.
    counts = sync.stats()
    result.skipped["sync_unpaired"] = counts.total_dropped
    result.sync = {
        "sets": counts.emitted_sets,
        "topics": {
            topic: {"received": counts.received[i], "paired": counts.used[i], "unpaired": counts.dropped[i]}
            for i, topic in enumerate(synced)
        },
    }
    if chunk == 0:
        raise InputError(
            f"{bag}: no synchronised observation of {synced} within slop "
            f"{node.sync.slop_sec} s; check the topics' stamps (`adp-ros bag info --check`)"
        )
    settings = {
        "platform": platform.name,
        "cameras": cameras,
        "synchronised_topics": synced,
        "motion_topic": motion_topic,
        "instruction": task,
        "period_sec": period_ns / 1e9,
        "sync_slop_sec": node.sync.slop_sec,
        "gate": resolved.gate.as_dict(),
        "gate_preset": motion.gate_preset,
        "motion_source": motion.source,
        "modes": [dataclasses.asdict(c) for c in configs],
        "chunk_len": platform.chunk_len,
        "control_hz": node.control.control_hz,
        "device": str(policy.device),
        "dtype": str(policy.dtype).removeprefix("torch."),
    }
    return result, settings


def _feed_motion(runner: Any, source: str, stamp: int, msg: Any, pose_position: Any, result: EvalResult) -> None:
    """As the node's motion subscription does; keeps the eef track for the gate-trajectory export."""
    if source == "joint_states":
        runner.observe_joint_state(stamp, msg.name, msg.position)
    elif source == "eef_pose":
        position = pose_position(msg)
        if runner.observe(stamp, position):
            result.eef.append((stamp, position))


def _record(result, chunk, time_sec, obs_stamp, decision, mode, ratio, out, dense) -> None:
    result.rows.append(
        ChunkRow(
            chunk=chunk,
            time_sec=round(time_sec, 6),
            observation_stamp_ns=obs_stamp,
            gate_state=decision.state,
            displacement=float(decision.displacement or 0.0),
            mode=mode,
            keep_ratio=ratio,
            pruned=bool(out.pruned),
            vision_tokens=out.tokens.vision_kept,
            sequence=out.tokens.sequence,
            tflops=out.flops.total / 1e12,
            timings_ms=dict(out.timings_ms),
            deviation_normalized=float(np.abs(out.normalized_actions - dense.normalized_actions).max()),
            deviation_actions=float(np.abs(out.actions - dense.actions).max()),
        )
    )


# ------------------------------------------------------------------------------------------------ outputs


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
                "median_ms": {s: statistics.median(r.timings_ms.get(s, 0.0) for r in rows) for s in STAGES},
                "p90_ms": {s: float(np.percentile([r.timings_ms.get(s, 0.0) for r in rows], 90)) for s in STAGES},
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
    sync = summary.get("sync") or {}
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


def run(args: argparse.Namespace) -> int:
    from adp_ros.core.params import preset_values

    values: dict[str, Any] = {}
    for path in args.params_file:
        values.update(read_params_file(path))
    values.update(parse_overrides(args.param))
    if not args.params_file and "model.platform" not in values:
        values = {**preset_values("libero"), **values}
        print("bag eval: no --params-file: using the libero preset (config/libero.yaml)", file=sys.stderr)
    if args.device:
        values["model.device"] = args.device
    modes = [m.strip() for m in args.modes.split(",")] if args.modes else None
    result, settings = evaluate(
        args.bag,
        args.model,
        values,
        modes=modes,
        keep_ratios=args.keep_ratios,
        instruction=args.instruction,
        max_chunks=args.max_chunks,
    )
    out = args.out or args.bag.with_name(args.bag.name + "_eval")
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(result, settings)
    write_csv(out / "steps.csv", result.rows)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    trajectory = trajectory_for_gate(result, settings)
    if trajectory is not None:
        (out / "trajectory.json").write_text(json.dumps(trajectory))
    if not args.no_plot:
        plot(out / "eval.png", result, summary)
    _print(summary, out, trajectory is not None)
    return 0


def _print(summary: Mapping[str, Any], out: Path, has_trajectory: bool) -> None:
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
