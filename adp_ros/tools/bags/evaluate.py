"""Evaluate pruning offline on a recorded bag: dense and pruning modes side by side, chunk by chunk.

Pick `gate.window` and the keep ratio for your arm before touching it. The bag is replayed through the node's
own chunk pipeline with the bag's log time as the clock: its synchronisation (cameras among themselves, joint
states and pose taken at the camera stamp), its conversions, its schedule (`control.mode`: a chunk is requested
exactly when the node would request one, not as fast as inference allows, so the run is deterministic and
faster than real time), its staleness checks, the gate fed the recorded motion by header stamp, and the action
guard. Requests the node would not publish (stale, refused, bad input) are counted in summary.json.

Every chunk runs dense (the reference, the chunk the pipeline executes) and each requested mode on the same
observation, under the gate decision of that chunk. Writes into OUT:
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
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from adp_ros.core.errors import InputError
from adp_ros.tools.bags.eval_records import EvalResult, record_row, stored_phases
from adp_ros.tools.bags.eval_report import plot, print_summary, summarize, trajectory_for_gate, write_csv
from adp_ros.tools.common import float_list, reject_directory


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
    """Run the evaluation; returns the per-chunk records and the resolved settings used.

    The bag is played through the node's own chunk pipeline (`core.pipeline.ChunkPipeline`: schedule,
    staleness, gate, policy, guard) with bag log time as the clock: the executed chunk is the dense one (the
    reference the other modes are measured against), and each mode runs on the same observation under the
    gate decision the pipeline took.
    """
    import dataclasses

    from tqdm import tqdm

    from adp_ros.core.observation_sync import ObservationSynchronizer
    from adp_ros.core.params import resolve
    from adp_ros.core.pipeline import ChunkPipeline, PipelineSettings
    from adp_ros.core.pruning import PRUNE_MODES
    from adp_ros.core.runner import ChunkRunner
    from adp_ros.core.stamps import stamp_ns_of
    from adp_ros.model.config import PolicyConfig
    from adp_ros.model.policy import OftPolicy
    from adp_ros.ros.inputs import ObservationAssembler
    from adp_ros.ros.motion_feed import feed_motion
    from adp_ros.tools.bags.reader import BagReader

    resolved = resolve({**values, "model.checkpoint": str(model)})
    node = resolved.node
    platform = node.model.platform
    motion = node.motion
    base = resolved.prune
    mode_names = list(modes) if modes else [base.mode]
    for m in mode_names:
        if m not in PRUNE_MODES or m == "dense":
            choices = ", ".join(p for p in PRUNE_MODES if p != "dense")
            raise InputError(f"--modes: {m!r} is not a pruning mode to compare (choose from {choices})")
    ratios = list(keep_ratios) if keep_ratios else [base.keep_ratio]
    configs = [dataclasses.replace(base, mode=m, keep_ratio=r) for m in mode_names for r in ratios]

    # The node's own pieces: its synchronisation, conversion to an observation, gate, motion feed and pipeline.
    assemble = ObservationAssembler(node)
    cameras = [_absolute(t) for t in node.topics.cameras]
    joints_topic = _absolute(node.topics.joint_states)
    pose_topic = _absolute(node.topics.eef_pose) if node.topics.eef_pose else ""
    needed = ((joints_topic, assemble.needs_joint_states), (pose_topic, assemble.needs_pose))
    states = [topic for topic, needs in needed if needs]
    synced = [*cameras, *states]
    motion_topic = {"eef_pose": pose_topic, "joint_states": joints_topic}.get(motion.source, "")
    wanted = list(dict.fromkeys([*synced, *([motion_topic] if motion_topic else [])]))
    instruction_topic = _absolute(node.topics.instruction) if node.topics.instruction else ""

    policy = OftPolicy(PolicyConfig.from_settings(node.model))
    policy.warmup([None, *configs])  # first-call costs stay out of the timings

    result = EvalResult()
    with BagReader(bag) as reader:
        available = set(reader.topics)
        missing = [t for t in wanted if t not in available]
        if missing:
            raise InputError(
                f"{bag} lacks {missing} (from the parameters: topics.*); it has {sorted(available)}. "
                "Fix the topics in the parameter file or pass -p topics.cameras:=[...]"
            )
        task = instruction or node.instruction
        if not task and instruction_topic in available:
            # The instruction is usually published once near the start, possibly after the first frames.
            task = next((m.data for _, _, m in reader.messages([instruction_topic])), "")
        if not task:
            raise InputError(
                "no instruction: the bag has none on topics.instruction; pass --instruction or -p task.instruction:=..."
            )
        start = reader.start_ns
        result.phases = stored_phases(reader.summary.custom_data, start)
        clock = _BagClock(start)
        settings = PipelineSettings.from_config(resolved, getattr(policy.norm_stats, "action_range", None))
        settings = dataclasses.replace(
            settings, prune=dataclasses.replace(base, mode="dense"), instruction=task
        )  # the executed chunk: the dense reference
        sink = _EvalSink(policy, configs, task, start, result)
        pipeline: ChunkPipeline[tuple[Any, ...]] = ChunkPipeline(
            ChunkRunner.for_motion(resolved.gate, motion),
            settings,
            predict=policy.predict_chunk,
            convert=assemble,
            sink=sink,
            clock=clock,
        )
        observations = ObservationSynchronizer.from_settings(
            node.sync, cameras, states, lambda *msgs: pipeline.put(msgs, clock.now_ns)
        )
        camera_index = {t: i for i, t in enumerate(cameras)}
        state_index = {t: i for i, t in enumerate(states)}
        total = max(1, (reader.end_ns - start) // max(1, pipeline.scheduler.retry_period_ns or settings.schedule.dt_ns))
        if max_chunks is not None:
            total = min(total, max_chunks)
        bar = tqdm(total=total, desc="bag eval", unit="chunk", file=sys.stderr, disable=not progress, leave=False)
        for topic, log_ns, msg in reader.messages(wanted):
            clock.now_ns = log_ns
            if topic == motion_topic:
                try:
                    position = feed_motion(pipeline.runner, msg)
                except InputError:
                    result.skipped["motion_samples_rejected"] = result.skipped.get("motion_samples_rejected", 0) + 1
                    position = None
                if position is not None:
                    result.eef.append((stamp_ns_of(msg) or log_ns, position))
            if topic in camera_index:
                observations.add_camera(camera_index[topic], msg, log_ns)
            elif topic in state_index:
                observations.add_state(state_index[topic], msg, log_ns)
            observations.poll(log_ns)
            if pipeline.step(log_ns) == "published":
                bar.update()
            if max_chunks is not None and pipeline.published >= max_chunks:
                break
        bar.close()
        stats = reader.last_stats
        result.skipped.update(
            {
                "unknown_types": sum(stats.skipped_unknown_types.values()) if stats else 0,
                "undecodable": sum(stats.undecodable.values()) if stats else 0,
                "out_of_order_stamps": sum(stats.out_of_order_stamps.values()) if stats else 0,
                "motion_samples_dropped": pipeline.runner.dropped_motion_samples,
            }
        )
    counts = observations.stats()
    result.skipped["sync_unpaired"] = sum(r - u for r, u in zip(counts.received, counts.used, strict=True))
    result.sync = {
        "sets": counts.emitted_sets,
        "topics": {
            topic: {
                "received": counts.received[i],
                "paired": counts.used[i],
                "unpaired": counts.received[i] - counts.used[i],
                "sets_missing_it": counts.missing[i],
            }
            for i, topic in enumerate(synced)
        },
        "problem": counts.problem(),
    }
    if pipeline.published == 0:
        raise InputError(_no_chunk_reason(bag, synced, node, counts, sink))
    settings_out = {
        "platform": platform.name,
        "cameras": cameras,
        "synchronised_topics": synced,
        "motion_topic": motion_topic,
        "instruction": task,
        "control_mode": node.control.mode,
        "period_sec": pipeline.scheduler.retry_period_ns / 1e9,
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
    return result, settings_out


class _BagClock:
    """The pipeline's clock: the log time of the message being replayed."""

    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


class _EvalSink:
    """The pipeline's sink: each executed (dense) chunk is recorded, and every compared mode runs on the same
    observation under the gate decision the pipeline took. Nothing is published."""

    def __init__(self, policy: Any, configs: Sequence[Any], task: str, start_ns: int, result: EvalResult) -> None:
        self.policy, self.configs, self.task, self.start_ns, self.result = policy, configs, task, start_ns, result
        self.skips: dict[str, list[str]] = {}

    def blocked(self) -> str:
        return ""

    def send(self, chunk: Any) -> bool:
        from adp_ros.model.policy import Observation

        inputs, outcome = chunk.inputs, chunk.outcome
        decision, dense = outcome.decision, outcome.output
        at = (chunk.publish_ns - self.start_ns) / 1e9
        index = len(self.result.gate)
        stamp = inputs.observation_stamp_ns
        self.result.gate.append((at, decision.state, decision.displacement or 0.0))
        record_row(self.result, index, at, stamp, decision, "dense", 1.0, dense, dense)
        observation = Observation(images=inputs.images, proprio=inputs.proprio, instruction=self.task)
        for config in self.configs:
            out = self.policy.predict(observation, config.for_chunk(decision.is_pruned))
            record_row(self.result, index, at, stamp, decision, config.mode, config.keep_ratio, out, dense)
        return False

    def sent(self, chunk: Any, record: Any) -> None:
        pass

    def skipped(self, status: str, reason: str, outcome: Any) -> None:
        if not self.skips.get(status):
            print(f"bag eval: no chunk ({status}): {reason}", file=sys.stderr)
        self.skips.setdefault(status, []).append(reason)
        self.result.skipped[f"chunks_{status}"] = len(self.skips[status])


def _no_chunk_reason(bag: Path, synced: Sequence[str], node: Any, counts: Any, sink: _EvalSink) -> str:
    if sink.skips:
        status, reasons = max(sink.skips.items(), key=lambda kv: len(kv[1]))
        hint = (
            " (the node would refuse these on replay too: the header stamps and the bag's log time differ; "
            "raise -p safety.max_observation_age_sec:=... only if the stamps are right)"
            if status == "stale"
            else ""
        )
        return f"{bag}: no chunk: {len(reasons)} requests were {status}, e.g. {reasons[0]}{hint}"
    problem = counts.problem()
    return (
        f"{bag}: no synchronised observation of {list(synced)} (sync.slop_sec {node.sync.slop_sec} s, "
        f"sync.state_tolerance_sec {node.sync.state_tolerance_sec} s){': ' + problem if problem else ''}; "
        "check the topics' stamps (`adp-ros bag info --check`)"
    )


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
    print_summary(summary, out, trajectory is not None)
    return 0
