"""Run the ROS 2 node on the tiny model with generated camera and joint-state streams; print a summary.

All in one process: a tiny random checkpoint in the released layout (or --checkpoint), a synthetic bag of a
pick-and-place with coarse, fine and still phases (`adp-ros bag synth`; or --bag), `adp_policy_node`
configured and activated at once, and the bag replayed in real time with /clock (the node runs on
use_sim_time, as it would on a bag replay next to the robot). At the end: per-stage latency (median / p90),
chunks published, pruned fraction, tokens kept, gate sequence, dropped frames. Progress goes to stderr, the
summary to stdout.

Commands are enabled into the node's own ~/command topic, where a local sink counts them: no controller
listens, so nothing moves (--dry-run keeps them on ~/preview only). Network: when ROS_AUTOMATIC_DISCOVERY_RANGE
is unset it is set to LOCALHOST, so nothing on the LAN sees the demo (`make demo-streams` also runs it inside
scripts/isolated, a loopback-only network namespace); --lan leaves it unset.

examples:
  adp-ros demo
  adp-ros demo --preset aloha --duration 20 --keep-ratio 0.3
  adp-ros demo --prune-mode dense --json /tmp/dense.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from adp_ros.core.diagnostics import SKIP_KINDS
from adp_ros.core.errors import ConfigError
from adp_ros.core.params import NODE_NAME, PLATFORM_PRESETS
from adp_ros.core.pruning import PRUNE_MODES
from adp_ros.tools.common import add_lan_argument

STAGE_ROWS = (
    ("conversion", "conversion_ms"),
    ("preprocess", "preprocess_ms"),
    ("vision", "vision_ms"),
    ("projector", "projector_ms"),
    ("scoring", "scoring_ms"),
    ("llm", "llm_ms"),
    ("head", "head_ms"),
    ("guard", "guard_ms"),
    ("publish", "publish_ms"),
    ("compute (sum)", "compute_ms"),
    ("wait in slot", "queue_wait_ms"),
    ("end-to-end", "end_to_end_ms"),
    ("observation age", "observation_age_ms"),
)


def progress(text: str) -> None:
    print(f"[demo] {text}", file=sys.stderr, flush=True)


def _network(lan: bool) -> None:
    if os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE"):
        progress(f"ROS_AUTOMATIC_DISCOVERY_RANGE={os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE']} (from the environment)")
    elif lan:
        progress("--lan: ROS_AUTOMATIC_DISCOVERY_RANGE left unset; other hosts on the network can see the demo")
    else:
        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
        progress("ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST: DDS discovery stays on this host")
    if not os.environ.get("ADP_ROS_ISOLATED"):
        progress("tip: `make demo-streams` runs this inside scripts/isolated (a loopback-only network namespace)")


def _prepare(args: argparse.Namespace, work: Path) -> tuple[Path, Path, str]:
    from adp_ros.core.platform import get_platform
    from adp_ros.tools.bags.synth import SynthOptions, synthesize_bag

    platform = get_platform(args.preset)
    checkpoint = args.checkpoint
    if checkpoint is None:
        from adp_ros.model.tiny import make_tiny_checkpoint

        started = time.monotonic()
        checkpoint = make_tiny_checkpoint(work / f"tiny_{platform.name}", platform)
        progress(f"tiny {platform.name} checkpoint (random weights) in {time.monotonic() - started:.1f} s")
    options = SynthOptions(
        preset=args.preset, duration_sec=args.duration + 0.5, fps=args.fps, progress=False, seed=args.seed
    )
    bag = args.bag
    if bag is None:
        started = time.monotonic()
        bag = work / "bag"
        synthesize_bag(bag, options)
        progress(
            f"synthetic {args.preset} bag ({options.duration_sec:.1f} s, {args.fps:g} fps) in "
            f"{time.monotonic() - started:.1f} s"
        )
    return Path(checkpoint), Path(bag), options.instruction_text


def _parameters(args: argparse.Namespace, checkpoint: Path, instruction: str) -> dict[str, Any]:
    values: dict[str, Any] = dict(PLATFORM_PRESETS[args.preset])
    values.update(
        {
            "model.checkpoint": str(checkpoint),
            "task.instruction": instruction,
            "use_sim_time": True,
            "safety.enable_on_activate": not args.dry_run,
            "pruning.mode": args.prune_mode,
            "diagnostics.window": 100_000,
        }
    )
    if args.keep_ratio is not None:
        values["pruning.keep_ratio"] = args.keep_ratio
    if args.checkpoint is None:
        # Random weights: an absolute-joint policy's first point is nowhere near the replayed joints, and the
        # default bound (docs/safety.md) would refuse every chunk. The demo shows latency, not control.
        values["safety.max_start_distance"] = [math.inf]
    return values


class _Sink:
    """Counts what the node publishes (the local sink of the command topic) and keeps the latency records."""

    def __init__(self, node: Any, output_type: type) -> None:
        from diagnostic_msgs.msg import DiagnosticArray

        from adp_ros.ros import qos
        from adp_ros.ros.diagnostics import values_of

        self.commands = 0
        self.stops = 0
        self.previews = 0
        self.chunks: list[dict[str, str]] = []
        self.skipped: list[dict[str, str]] = []
        self._values_of = values_of
        base = f"/{NODE_NAME}"
        node.create_subscription(output_type, f"{base}/command", self._command, qos.COMMAND_QOS)
        node.create_subscription(output_type, f"{base}/preview", self._preview, qos.COMMAND_QOS)
        node.create_subscription(DiagnosticArray, f"{base}/latency", self._latency, qos.DIAGNOSTICS_QOS)

    def _command(self, msg: Any) -> None:
        empty = len(getattr(msg, "points", getattr(msg, "data", []))) == 0
        self.stops += empty
        self.commands += not empty

    def _preview(self, msg: Any) -> None:
        self.previews += 1

    def _latency(self, msg: Any) -> None:
        values = self._values_of(msg.status[0])
        (self.chunks if "chunk_index" in values else self.skipped).append(values)


def _stats(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, dtype=np.float64)
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 90))


def summarize(sink: _Sink, snapshot: Any, *, args: argparse.Namespace, wall_sec: float, bag: Path) -> dict:
    chunks = sink.chunks
    pruned = [c for c in chunks if c.get("pruned") == "true"]
    stages = {label: _stats([float(c[key]) for c in chunks if c.get(key)]) for label, key in STAGE_ROWS if chunks}
    counters = dict(snapshot.counters)
    return {
        "preset": args.preset,
        "checkpoint": "tiny (random weights)" if args.checkpoint is None else str(args.checkpoint),
        "bag": str(bag),
        "wall_sec": wall_sec,
        "chunks": len(chunks),
        "chunk_rate_hz": snapshot.rate_hz,
        "commands": sink.commands,
        "stop_messages": sink.stops,
        "pruned_chunks": len(pruned),
        "pruned_fraction": len(pruned) / len(chunks) if chunks else 0.0,
        "keep_ratio_mean": float(np.mean([float(c["keep_ratio"]) for c in chunks])) if chunks else None,
        "tokens_dense": int(chunks[0]["tokens_dense"]) if chunks else None,
        "tokens_kept_pruned": sorted({int(c["tokens_kept"]) for c in pruned}),
        "gate_sequence": "".join("P" if c.get("pruned") == "true" else "D" for c in chunks),
        "observations": counters.get("observations_received", 0),
        "dropped_frames": counters.get("dropped_frames", 0),
        # Per input since issue 12 (sync_dropped.<topic>), summed for this line.
        "sync_dropped": sum(v for k, v in counters.items() if k.startswith("sync_dropped.")),
        "skipped": {k: counters.get(k, 0) for k in SKIP_KINDS},
        "stages_ms": {label: {"p50": p50, "p90": p90} for label, (p50, p90) in stages.items()},
        "level": snapshot.level_name,
        "message": snapshot.message,
    }


def format_summary(s: dict, *, dry_run: bool) -> str:
    n = s["chunks"]
    rate = f"{s['chunk_rate_hz']:.2f}/s" if s["chunk_rate_hz"] else "-"
    where = "dry run: ~/preview only" if dry_run else f"{s['commands']} on /{NODE_NAME}/command (local sink)"
    lines = [
        f"adp-ros demo: {s['preset']} policy, {s['checkpoint']}, {s['wall_sec']:.1f} s of replayed camera and "
        "joint-state streams (ROS time from /clock)",
        f"  chunks published    {n} ({rate}); commands: {where}",
        f"  pruned chunks       {s['pruned_chunks']} of {n} ({100 * s['pruned_fraction']:.0f} %)",
        f"  gate sequence       {s['gate_sequence'] or '-'}",
    ]
    if n:
        kept = ", ".join(str(k) for k in s["tokens_kept_pruned"]) or "-"
        lines.append(
            f"  visual tokens       {s['tokens_dense']} dense, {kept} on pruned chunks; mean keep ratio "
            f"{s['keep_ratio_mean']:.2f}"
        )
    skipped = ", ".join(f"{k} {v}" for k, v in s["skipped"].items())
    lines += [
        f"  observations        {s['observations']} synchronised sets, {s['dropped_frames']} dropped (newer one "
        f"arrived first), {s['sync_dropped']} input messages dropped by the synchroniser",
        f"  not published       {skipped}",
    ]
    if s["stages_ms"]:
        lines.append(f"  {'latency (ms)':<20}{'p50':>8}{'p90':>8}")
        lines += [f"    {label:<18}{v['p50']:>8.1f}{v['p90']:>8.1f}" for label, v in s["stages_ms"].items()]
    lines.append(f"  /diagnostics        {s['level']}: {s['message']}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="libero", choices=sorted(PLATFORM_PRESETS), help="robot platform")
    parser.add_argument("--duration", type=float, default=10.0, metavar="SEC", help="how long to run (s)")
    parser.add_argument("--fps", type=float, default=15.0, help="camera rate of the synthetic bag (Hz)")
    parser.add_argument("--keep-ratio", type=float, help="pruning.keep_ratio (default: the schema's)")
    parser.add_argument("--prune-mode", default="adp", choices=PRUNE_MODES, help="pruning.mode")
    parser.add_argument("--checkpoint", type=Path, help="a real checkpoint instead of the tiny random one")
    parser.add_argument("--bag", type=Path, help="replay this bag instead of a synthetic one (same preset)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic scene seed")
    parser.add_argument("--dry-run", action="store_true", help="keep commands disabled (~/preview only)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the summary as JSON")
    add_lan_argument(parser)


def run(args: argparse.Namespace) -> int:
    if not 0.5 <= args.duration <= 3600:
        raise ConfigError(f"--duration {args.duration} outside [0.5, 3600] s")
    _network(args.lan)
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from adp_ros.ros.node import AdpPolicyNode
    from adp_ros.ros.outputs import OUTPUT_MESSAGE_TYPES
    from adp_ros.tools.bags.play import BagPlayer, PlayOptions

    with tempfile.TemporaryDirectory(prefix="adp_demo_") as tmp:
        checkpoint, bag, instruction = _prepare(args, Path(tmp))
        context = rclpy.Context()
        rclpy.init(context=context)
        node = sink_node = player = executor = None
        try:
            values = _parameters(args, checkpoint, instruction)
            node = AdpPolicyNode(
                context=context, parameter_overrides=[Parameter(k, value=v) for k, v in values.items()]
            )
            sink_node = Node("adp_demo_sink", context=context)
            output_type = OUTPUT_MESSAGE_TYPES[node.get_parameter("output.type").value]
            sink = _Sink(sink_node, output_type)
            executor = SingleThreadedExecutor(context=context)
            executor.add_node(node)
            executor.add_node(sink_node)
            spinner = threading.Thread(target=executor.spin, daemon=True)
            spinner.start()
            started = time.monotonic()
            if not node.start_up():
                progress("the node did not configure (see the error above)")
                return 1
            progress(
                f"node configured + activated in {time.monotonic() - started:.1f} s "
                f"(commands: {node.diagnostics_snapshot().command_state})"
            )
            topics = [f"/{t}" for t in values["topics.cameras"]] + ["/joint_states", "/instruction"]
            if args.preset == "libero":
                topics.append("/eef_pose")
            player = BagPlayer(bag, PlayOptions(clock=True, clock_hz=200.0, topics=tuple(topics)), context=context)
            player.start()
            began = time.monotonic()
            next_report = began + 1.0
            while time.monotonic() - began < args.duration and player.wait(0.05) is None:
                if time.monotonic() >= next_report:
                    next_report += 1.0
                    snap = node.diagnostics_snapshot()
                    progress(
                        f"t={time.monotonic() - began:4.1f} s  chunks {len(sink.chunks):3d}  "
                        f"pruned {snap.gate_sequence.count('P'):3d}  dropped frames {snap.counters['dropped_frames']}"
                    )
            wall = time.monotonic() - began
            player.stop()
            snapshot = node.diagnostics_snapshot()
            node.trigger_deactivate()  # stops the (imaginary) arm: an empty trajectory on ~/command
            time.sleep(0.2)  # let the sink receive the last messages
            summary = summarize(sink, snapshot, args=args, wall_sec=wall, bag=bag)
        except KeyboardInterrupt:
            progress("interrupted")
            return 130
        finally:
            if player is not None:
                player.close()
            if executor is not None:
                executor.shutdown(timeout_sec=2.0)
            for n in (node, sink_node):
                if n is not None:
                    n.destroy_node()
            rclpy.try_shutdown(context=context)
    print(format_summary(summary, dry_run=args.dry_run))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
        progress(f"summary written to {args.json}")
    return 0 if summary["chunks"] > 0 else 1
