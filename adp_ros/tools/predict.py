"""Run the policy once on image files, without ROS, to sanity-check a downloaded checkpoint on your own frames.

Example (LIBERO checkpoint, two cameras in the model's order: third-person, then wrist):
  adp-ros predict --model ~/models/openvla-7b-oft-finetuned-libero-spatial --preset libero \\
      --image agentview.png --image wrist.png --proprio 0.1,0.0,1.1,3.1,0.0,0.0,0.04,-0.04 \\
      --instruction "pick up the black bowl" --unnorm-key libero_spatial_no_noops

Prints the de-normalised action chunk (one row per step), per-stage timings and token counts; `--json` prints
a machine-readable record (actions, normalized_actions, timings_ms, tokens, kept_indices, scores, ...).
With `--mode adp` one call shows the chunk the gate would prune (`--gate-state dense` shows the dense one):
a single observation has no motion history for the gate to decide on.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from adp_ros.core.errors import InputError
from adp_ros.core.params import DTYPES, GATE_STATES
from adp_ros.tools.common import add_prune_arguments, float_list, int_list, prune_config_from_args, read_rgb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adp_ros.core.platform import PRESETS

    parser.add_argument("--model", required=True, type=Path, help="checkpoint directory (released layout)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="libero", help="platform constants")
    parser.add_argument(
        "--image",
        action="append",
        required=True,
        metavar="FILE",
        help="camera image, once per camera in the model's order (primary first, then wrists)",
    )
    parser.add_argument(
        "--proprio",
        type=float_list,
        nargs="+",
        action=_FlatNumbers,
        required=True,
        help="raw proprio, comma- or space-separated (negative values too: --proprio -0.1,0.2,...)",
    )
    # argparse takes '-0.1,0.2' for an option (its negative-number pattern has no commas, 'expected one
    # argument'); this parser has no option that looks like a number, so any number list is a value.
    parser._negative_number_matcher = _NUMBER_LIST
    task = parser.add_mutually_exclusive_group(required=True)
    task.add_argument("--instruction", help="task in words (tokenised with the checkpoint's tokenizer)")
    task.add_argument("--input-ids", type=int_list, help="prompt token ids, BOS first, e.g. 1,512,29901,...")
    parser.add_argument("--unnorm-key", default=None, help="dataset statistics key (required if several)")
    parser.add_argument(
        "--center-crop",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="90%% centre crop (default: the preset's; released checkpoints need it)",
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:1, ...")
    parser.add_argument("--dtype", default="auto", choices=DTYPES)
    add_prune_arguments(parser)
    parser.add_argument(
        "--gate-state",
        choices=GATE_STATES,
        default="pruned",
        help="with --mode adp: which gate decision to show for this single chunk",
    )
    parser.add_argument(
        "--dump-stages",
        type=Path,
        metavar="DIR",
        help="write every intermediate (pixel values, patches, LLM input, hidden states, ...) as .npy",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run N times and report the last run's timings (the first run pays warm-up costs)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


_NUMBER_LIST = re.compile(r"^-\.?\d[\d.,eE+\-\s]*$")
"""A number or comma list that starts with a minus sign: a value, not an option."""


class _FlatNumbers(argparse.Action):
    """`--proprio -0.1,0.2` and `--proprio -0.1 0.2` (and mixes of both) → one flat list of floats."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values, option_string=None):
        setattr(namespace, self.dest, [v for chunk in values for v in chunk])


def run(args: argparse.Namespace) -> int:
    from adp_ros.core.platform import get_platform
    from adp_ros.model.config import PolicyConfig
    from adp_ros.model.policy import Observation, OftPolicy

    platform = get_platform(args.preset)
    images = [read_rgb(p) for p in args.image]
    if len(images) != platform.num_images:
        raise InputError(
            f"--image given {len(images)} times; preset {platform.name!r} needs {platform.num_images} "
            f"({', '.join(platform.camera_names)}, in that order)"
        )
    config = PolicyConfig(
        args.model,
        platform,
        unnorm_key=args.unnorm_key,
        device=args.device,
        dtype=args.dtype,
        center_crop=args.center_crop,
    )
    policy = OftPolicy(config)
    prune = prune_config_from_args(args)
    apply = prune if (prune.mode != "adp" or args.gate_state == "pruned") else None
    observation = Observation(
        images=images, proprio=np.asarray(args.proprio), instruction=args.instruction, prompt_ids=args.input_ids
    )
    if args.repeat < 1:
        raise InputError(f"--repeat {args.repeat} must be >= 1")
    for _ in range(args.repeat - 1):
        policy.predict(observation, apply)
    out = policy.predict(observation, apply, dump=args.dump_stages is not None)
    if args.dump_stages is not None:
        _dump(args.dump_stages, out.stages or {})
    record = {
        "actions": out.actions.tolist(),
        "normalized_actions": out.normalized_actions.tolist(),
        "timings_ms": {k: round(v, 3) for k, v in out.timings_ms.items()},
        "tokens": {**out.tokens.__dict__, "keep_ratio": out.tokens.keep_ratio},
        "mode": prune.mode,
        "pruned": out.pruned,
        "kept_indices": [k.tolist() for k in out.kept_indices],
        "scores": None if out.scores is None else [s.tolist() for s in out.scores],
        "readout_slice": list(out.layout.readout_span),
        "prompt_ids": policy.prompt_ids(observation),
        "unnorm_key": policy.norm_stats.key,
        "platform": platform.name,
        "device": str(policy.device),
        "dtype": str(policy.dtype).removeprefix("torch."),
    }
    if args.json:
        json.dump(record, sys.stdout)
        sys.stdout.write("\n")
        return 0
    _print_table(record, platform.chunk_len)
    return 0


def _dump(directory: Path, stages: dict[str, np.ndarray]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    index = {}
    for name, value in stages.items():
        array = np.asarray(value)
        np.save(directory / f"{name}.npy", array)
        index[name] = {"shape": list(array.shape), "dtype": str(array.dtype)}
    (directory / "index.json").write_text(json.dumps(index, indent=2))
    print(f"wrote {len(index)} stages to {directory}", file=sys.stderr)


def _print_table(record: dict, chunk_len: int) -> None:
    actions = np.asarray(record["actions"])
    print(f"action chunk ({chunk_len} steps × {actions.shape[1]} dims, de-normalised with {record['unnorm_key']!r}):")
    for i, row in enumerate(actions):
        print(f"  step {i:2d}: " + " ".join(f"{v:+.4f}" for v in row))
    tokens = record["tokens"]
    print(
        f"mode {record['mode']} ({'pruned' if record['pruned'] else 'dense'}): visual tokens {tokens['vision_kept']}/"
        f"{tokens['vision_dense']} {tuple(tokens['per_camera_kept'])}, sequence {tokens['sequence']} "
        f"(dense {tokens['dense_sequence']}), prompt {tokens['prompt']}, action {tokens['action']}"
    )
    print("timings (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in record["timings_ms"].items()))
    print(f"device {record['device']} {record['dtype']}")
