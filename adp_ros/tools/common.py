"""Argument helpers shared by the `adp-ros` subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping
from pathlib import Path

from adp_ros.core.errors import InputError


def add_subcommands(
    parser: argparse.ArgumentParser, table: Mapping[str, tuple[str, str]], *, dest: str, metavar: str, run_key: str
) -> None:
    """Sub-parsers from `name -> ("module[:object]", help)`: the object (or module) has `add_arguments(parser)`
    and `run(args) -> int`, its docstring is the description. `args.<run_key>` is the chosen `run`."""
    sub = parser.add_subparsers(dest=dest, metavar=metavar, required=True)
    for name, (spec, help_text) in table.items():
        module_name, _, attribute = spec.partition(":")
        module = importlib.import_module(module_name)
        command = getattr(module, attribute) if attribute else module
        p = sub.add_parser(
            name,
            help=help_text,
            description=(command.__doc__ or help_text).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(p)
        # `_prog` ("adp-ros bag eval"): the innermost sub-parser's default wins, so errors name the whole command.
        p.set_defaults(**{run_key: command.run, "_prog": p.prog})


def float_list(text: str) -> list[float]:
    """'0.1,0.2, 0.3' → [0.1, 0.2, 0.3] (argparse type)."""
    try:
        return [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def reject_directory(path: str | Path, what: str, expected: str, suffixes: tuple[str, ...] = ()) -> None:
    """An InputError when `path` is a directory where a file is expected; names up to three candidates inside."""
    path = Path(path)
    if not path.is_dir():
        return
    try:
        inside = sorted(p.name for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    except OSError:
        inside = []
    hint = f" (it holds {', '.join(inside[:3])}{', ...' if len(inside) > 3 else ''})" if inside else ""
    raise InputError(f"{what} {path} is a directory; {expected}{hint}")


def read_rgb(path: str):
    """An image file as H×W×3 uint8 RGB. A grayscale file is used with its grey in R, G and B (a notice says so)."""
    import cv2

    reject_directory(path, "image", "pass an image file (PNG, JPEG, ...)", IMAGE_SUFFIXES)
    if not Path(path).is_file():
        raise InputError(f"image file {path} does not exist")
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path} is not an image OpenCV can read (PNG, JPEG, ...)")
    stored = cv2.imread(path, cv2.IMREAD_UNCHANGED)  # decoded again: IMREAD_COLOR hides how the file stores it
    if stored is not None and (stored.ndim == 2 or stored.shape[2] == 1):
        print(
            f"note: {path} is a grayscale image; its grey is copied into R, G and B (the policy was trained on "
            "colour camera frames)",
            file=sys.stderr,
        )
    return image[..., ::-1].copy()


def add_prune_arguments(parser: argparse.ArgumentParser, *, default_mode: str = "dense") -> None:
    from adp_ros.core.pruning import POSITION_MODES, PRUNE_MODES, READOUTS

    g = parser.add_argument_group("pruning")
    g.add_argument(
        "--mode",
        choices=PRUNE_MODES,
        default=default_mode,
        help="dense: every visual token; adp: ADP selection on chunks the gate prunes; static: ADP selection on "
        "every chunk; random: random tokens at the same budget; fastv: FastV after --fastv-layer LLM layers",
    )
    g.add_argument("--keep-ratio", type=float, default=0.5, help="ρ, fraction of visual tokens kept (default 0.5)")
    g.add_argument(
        "--camera-split",
        type=float_list,
        default=None,
        help="keep budget per camera, e.g. 0.4,0.6 (default: the preset's, [0.4, 0.6] / [0.4, 0.3, 0.3])",
    )
    g.add_argument(
        "--position-mode",
        choices=POSITION_MODES,
        default="repacked",
        help="repacked: positions 0..L'-1 as the reference; original: kept tokens keep their positions",
    )
    g.add_argument(
        "--readout",
        choices=READOUTS,
        default="oft",
        help="oft: read from the 29871 token as the checkpoints were trained (default); reference: ADP "
        "code's one-later slice, to reproduce its published numbers",
    )
    g.add_argument("--fastv-layer", type=int, default=2, help="FastV: LLM layers run dense before pruning")


def prune_config_from_args(args: argparse.Namespace):
    from adp_ros.core.pruning import PruneConfig

    return PruneConfig(
        mode=args.mode,
        keep_ratio=args.keep_ratio,
        camera_split=tuple(args.camera_split) if args.camera_split else None,
        position_mode=args.position_mode,
        readout=args.readout,
        fastv_layer=args.fastv_layer,
    )


def add_lan_argument(parser: argparse.ArgumentParser) -> None:
    """Tools that start ROS 2 default to localhost-only discovery; `--lan` opts out (a real robot setup)."""
    parser.add_argument(
        "--lan",
        action="store_true",
        help="do not default ROS_AUTOMATIC_DISCOVERY_RANGE to LOCALHOST (reach other hosts)",
    )
