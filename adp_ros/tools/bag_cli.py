"""rosbag2 tools without the ROS 2 CLI: synthesise a test bag, play, record and inspect bags.

Bags are rosbag2 folders in sqlite3 (.db3) or mcap storage, readable by `ros2 bag` and rosbags. `play` and
`record` start ROS 2 participants: run them inside scripts/isolated for tests and demos.

examples:
  adp-ros bag synth /tmp/demo_bag --preset libero
  adp-ros bag info /tmp/demo_bag
  scripts/isolated .venv/bin/adp-ros bag play /tmp/demo_bag --rate 0.5 --clock
  scripts/isolated .venv/bin/adp-ros bag record /tmp/out --topics /joint_states --duration 5
"""

from __future__ import annotations

import argparse
import logging
import sys

from adp_ros.tools.common import add_subcommands

# name -> (module[:object], one-line help). The module (or the object after ':') defines
# `add_arguments(parser)` and `run(args) -> int`; its docstring is the sub-command's description.
# Modules keep rclpy/cv2 imports inside functions so that `adp-ros --help` stays fast.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("adp_ros.tools.bags.synth", "write a realistic test bag (cameras, joints, pose, instruction)"),
    "play": ("adp_ros.tools.bags.play", "publish a bag's topics with their original timing"),
    "record": ("adp_ros.tools.bags.record", "record topics into a bag"),
    "info": ("adp_ros.tools.bag_cli:InfoCommand", "print a bag's topics, types, counts, rates and duration"),
    "eval": ("adp_ros.tools.bags.evaluate", "run dense and pruning modes on a bag offline: CSV, JSON, PNG"),
}


class InfoCommand:
    """Print a bag's topics, message types, counts, approximate rates, QoS and time span.

    With --check, also read every message: report header-stamp order, sensor latency (log time - stamp) and
    messages that do not decode.
    """

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("bag", metavar="BAG", help="bag folder (or one .db3/.mcap file)")
        parser.add_argument("--check", action="store_true", help="decode all messages and check their stamps")

    @staticmethod
    def run(args: argparse.Namespace) -> int:
        from adp_ros.core.stamps import stamp_ns_of
        from adp_ros.tools.bags.reader import BagReader

        with BagReader(args.bag) as bag:
            print(bag.summary.format())
            if not args.check:
                return 0
            latency: dict[str, list[int]] = {}
            for topic, log_time_ns, msg in bag.messages():
                stamp = stamp_ns_of(msg)
                if stamp:
                    latency.setdefault(topic, []).append(log_time_ns - stamp)
            stats = bag.last_stats
            print("check:")
            for topic, count in sorted(stats.per_topic.items()):
                line = f"  {topic}: {count} decoded"
                if topic in latency:
                    values = sorted(latency[topic])
                    median = values[len(values) // 2] / 1e6
                    low, high = values[0] / 1e6, values[-1] / 1e6
                    line += f", log - stamp: median {median:.2f} ms, range [{low:.2f}, {high:.2f}] ms"
                print(line)
            problems = stats.report()
            for problem in problems:
                print(f"  problem: {problem}")
            if not problems:
                print("  no problems found")
        return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_subcommands(parser, SUBCOMMANDS, dest="bag_command", metavar="BAG_COMMAND", run_key="_bag_run")


def run(args: argparse.Namespace) -> int:
    # Library warnings (skipped message types, stamps going backwards, ...) as plain lines on stderr.
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
    return int(args._bag_run(args) or 0)
