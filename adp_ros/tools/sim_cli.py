"""The closed loop in simulation: LIBERO as a ROS 2 robot driven by the real `adp_node`.

`eval` measures task success per pruning mode (the project's evidence that pruning keeps success), `record`
records scripted demonstrations through the bridge as rosbag2 (input for `adp-ros train`). Both start ROS 2
participants: run them inside scripts/isolated for tests and demos (`make demo` does). The simulator is an
optional set of packages: `make sim-setup`.

examples:
  scripts/isolated .venv/bin/adp-ros sim eval --episodes 20 --modes dense,adp,static:0.5 --out /tmp/eval
  scripts/isolated .venv/bin/adp-ros sim record /tmp/demos --episodes 50
"""

from __future__ import annotations

import argparse

from adp_ros.tools.common import add_subcommands

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("adp_ros.tools.sim.evaluate", "task success per pruning mode: the node drives the simulated arm"),
    "record": ("adp_ros.tools.sim.record", "record scripted demonstrations through the bridge (mcap bags)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_subcommands(parser, SUBCOMMANDS, dest="sim_command", metavar="SUBCOMMAND", run_key="_sim_run")


def run(args: argparse.Namespace) -> int:
    return int(args._sim_run(args) or 0)
