"""`adp-ros`: one entry point, one module per subcommand (imported only when that subcommand runs)."""

from __future__ import annotations

import argparse
import sys

from adp_ros.core.errors import AdpRosError
from adp_ros.tools.common import add_subcommands

# name -> (module, one-line help). Each module defines `add_arguments(parser)` and `run(args) -> int`, and keeps
# torch/rclpy imports inside functions so that `adp-ros --help` stays instant.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("adp_ros.tools.demo", "run the node on the tiny model with generated camera/joint streams"),
    "predict": ("adp_ros.tools.predict", "run the policy once on image files (no ROS) to check a checkpoint"),
    "make-tiny-model": (
        "adp_ros.tools.make_tiny_model",
        "write a small random checkpoint in the released layout",
    ),
    "prompt": ("adp_ros.tools.prompt_cli", "show the prompt token ids the policy uses for an instruction"),
    "gate": ("adp_ros.tools.gate_cli", "run the action-aware gate alone over an end-effector trajectory"),
    "bench": ("adp_ros.tools.bench", "time dense / ADP / static / random / FastV side by side"),
    "bag": ("adp_ros.tools.bag_cli", "synthesise, play, record and evaluate rosbag2 files"),
    "sim": ("adp_ros.tools.sim_cli", "closed loop in the LIBERO simulator: success per pruning mode, demonstrations"),
    "train": ("adp_ros.tools.train", "train a tiny OFT-architecture checkpoint on the CPU from demonstration bags"),
    "params": ("adp_ros.tools.gen_params", "print or regenerate the parameter YAML and README table"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="adp-ros",
        description="OpenVLA-OFT with Action-aware Dynamic Pruning: offline tools and the ROS 2 demo.",
        epilog="Run `adp-ros COMMAND --help` for the options of one command.",
    )
    add_subcommands(parser, SUBCOMMANDS, dest="command", metavar="COMMAND", run_key="_run")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except AdpRosError as exc:
        print(f"{getattr(args, '_prog', f'adp-ros {args.command}')}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `adp-ros ... | head`: the reader left; not an error worth a traceback
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
