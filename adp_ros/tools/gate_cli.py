"""Run the action-aware gate alone over a recorded end-effector trajectory and show each chunk's decision.

The trajectory is JSON: {"chunk_len": 8, "eef_positions": [[x, y, z], ...]} in metres, where index 0 is the
pose when chunk 0 is requested and index 8k+j the pose after step j of chunk k (the layout of
test/fixtures/adp/gate_cases.json). A file with several cases under "cases" (that fixture) needs --case NAME.

Per chunk it prints the state used (D dense / P pruned), the displacement measured over that chunk, and the
decision taken after it: band (cold_start, ge_max, lt_min, middle, deadband, avg_ge, avg_lt), thresholds
(min/max of the previous values, or the running average), cap and the next state.

Examples:
  adp-ros gate --trajectory traj.json                       # default preset (reference rule + deadband)
  adp-ros gate --trajectory traj.json --preset reference    # exactly the reference gate
  adp-ros gate --trajectory test/fixtures/adp/gate_cases.json --case noisy_standstill --json
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from adp_ros.core.errors import InputError, closest
from adp_ros.core.gate import GATE_PRESETS, GateConfig, GateDecision, get_gate_preset, replay_trajectory
from adp_ros.core.params import DEADBAND_HISTORIES, DECISION_METHODS, DISPLACEMENT_KINDS, GATE_STATES, MIDDLE_BANDS
from adp_ros.tools.common import reject_directory

# CLI flag -> GateConfig field (one flag per gate parameter; None keeps the preset's value).
_FIELD_FLAGS: dict[str, str] = {
    "decision_method": "--decision-method",
    "window": "--window",
    "max_consecutive_pruned": "--max-consecutive-pruned",
    "displacement": "--displacement",
    "middle_band": "--middle-band",
    "initial_state": "--initial-state",
    "min_step": "--min-step",
    "standstill_deadband": "--standstill-deadband",
    "deadband_history": "--deadband-history",
    "adaptive_window": "--adaptive-window",
    "window_min": "--window-min",
    "window_max": "--window-max",
    "adaptive_change_scale": "--adaptive-change-scale",
}

_EXAMPLE = '{"chunk_len": 8, "eef_positions": [[x, y, z], ...]}'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trajectory", required=True, type=Path, metavar="FILE.json", help="trajectory JSON")
    parser.add_argument("--case", metavar="NAME", help="case name in a multi-case file (gate_cases.json layout)")
    parser.add_argument("--chunk-len", type=int, metavar="N", help="steps per chunk (default: the file's)")
    parser.add_argument(
        "--preset",
        default="default",
        metavar="NAME",
        help=f"one of {', '.join(GATE_PRESETS)} (default: default)",
    )
    g = parser.add_argument_group("gate parameters (override the preset)")
    g.add_argument("--decision-method", choices=DECISION_METHODS)
    g.add_argument("--window", type=int, metavar="LW", help="history window in chunks, [3, 64]")
    g.add_argument("--max-consecutive-pruned", type=int, metavar="N", help="cap on pruned chunks in a row; 0 = none")
    g.add_argument("--displacement", choices=DISPLACEMENT_KINDS)
    g.add_argument("--middle-band", choices=MIDDLE_BANDS)
    g.add_argument("--initial-state", choices=GATE_STATES)
    g.add_argument("--min-step", type=float, metavar="M", help="path_length: ignore steps below this (m)")
    g.add_argument("--standstill-deadband", type=float, metavar="M", help="dense below this per chunk (m); 0 = off")
    g.add_argument("--deadband-history", choices=DEADBAND_HISTORIES)
    g.add_argument("--adaptive-window", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--window-min", type=int, metavar="LW")
    g.add_argument("--window-max", type=int, metavar="LW")
    g.add_argument("--adaptive-change-scale", type=float, metavar="R")
    parser.add_argument("--json", action="store_true", help="print JSON (modes, per_chunk, config) instead")


def build_config(args: argparse.Namespace) -> GateConfig:
    config = get_gate_preset(args.preset)
    changes = {f: getattr(args, f) for f in _FIELD_FLAGS if getattr(args, f, None) is not None}
    return config.replace(**changes) if changes else config


def _read_json(path: Path) -> Any:
    reject_directory(path, "trajectory", f"pass --trajectory FILE.json with {_EXAMPLE}", (".json",))
    if not path.is_file():
        raise InputError(f"trajectory file {str(path)!r} not found; pass --trajectory FILE.json with {_EXAMPLE}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); expected {_EXAMPLE}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc})") from None


def load_trajectory(path: Path, case: str | None = None) -> tuple[np.ndarray, int | None, str | None]:
    """Positions (N, 3), the file's chunk_len (None if absent) and the case name used."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: top level is {type(data).__name__}; expected an object like {_EXAMPLE}")
    chunk_len = data.get("chunk_len")
    if "cases" in data and "eef_positions" not in data:
        cases = data["cases"]
        if not isinstance(cases, list) or not all(isinstance(c, dict) and "name" in c for c in cases):
            raise InputError(f"{path}: 'cases' must be a list of objects with 'name' and 'eef_positions'")
        names = [c["name"] for c in cases]
        if case is None:
            raise InputError(f"{path} holds {len(names)} cases; pick one with --case NAME ({', '.join(names)})")
        matches = [c for c in cases if c["name"] == case]
        if not matches:
            raise InputError(f"{path}: no case {case!r}{closest(case, names)}")
        data = matches[0]
        chunk_len = data.get("chunk_len", chunk_len)
    elif case is not None:
        raise InputError(f"{path} is a single trajectory (no 'cases'); drop --case {case}")
    if "eef_positions" not in data:
        raise InputError(f"{path}: no 'eef_positions' key; expected {_EXAMPLE}")
    try:
        positions = np.asarray(data["eef_positions"], dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{path}: 'eef_positions' must be a list of [x, y, z] number triples") from None
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise InputError(f"{path}: 'eef_positions' has shape {positions.shape}; expected a list of [x, y, z]")
    if not np.isfinite(positions).all():
        raise InputError(f"{path}: 'eef_positions' contains NaN or inf")
    if chunk_len is not None and (isinstance(chunk_len, bool) or not isinstance(chunk_len, int)):
        raise InputError(f"{path}: chunk_len={chunk_len!r} must be an integer")
    return positions, chunk_len, case


def per_chunk_records(decisions: list[GateDecision]) -> list[dict[str, Any]]:
    """One record per executed chunk: its state, its displacement and the decision taken after it."""
    out = []
    for k, (used, after) in enumerate(itertools.pairwise(decisions)):
        out.append(
            {
                "chunk": k,
                "state_used": used.state,
                "mode": used.mode_letter,
                "delta": after.displacement,
                "net_displacement": after.net_displacement,
                "path_length": after.path_length,
                "band": after.band,
                "cold_start": after.band == "cold_start",
                "reference_values": list(after.reference_values),
                "up_thr": after.up_threshold,
                "dn_thr": after.down_threshold,
                "avg": after.average,
                "window": after.window,
                "decision_before_cap": after.decision_before_cap,
                "forced_dense_by_cap": after.forced_dense_by_cap,
                "pruned_streak_after": after.pruned_streak,
                "next_state": after.state,
            }
        )
    return out


def _mm(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.3f}"


def _table(records: list[dict[str, Any]]) -> str:
    head = (
        f"{'chunk':>5} {'used':>4} {'d [mm]':>9} {'band':<10} {'min/avg [mm]':>12} {'max [mm]':>9} {'Lw':>3} "
        f"{'cap':<6} {'next':>4}"
    )
    lines = [head, "-" * len(head)]
    for r in records:
        low = r["avg"] if r["band"] in ("avg_ge", "avg_lt") else r["dn_thr"]
        cap = "forced" if r["forced_dense_by_cap"] else f"{r['pruned_streak_after']}"
        nxt = "P" if r["next_state"] == "pruned" else "D"
        lines.append(
            f"{r['chunk']:>5} {r['mode']:>4} {_mm(r['delta']):>9} {r['band']:<10} {_mm(low):>12} "
            f"{_mm(r['up_thr']):>9} {r['window']:>3} {cap:<6} {nxt:>4}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    config = build_config(args)
    positions, file_chunk_len, case = load_trajectory(args.trajectory, args.case)
    chunk_len = args.chunk_len if args.chunk_len is not None else file_chunk_len
    if chunk_len is None:
        raise InputError(f"{args.trajectory}: no 'chunk_len' in the file; pass --chunk-len N (LIBERO: 8)")
    decisions = replay_trajectory(positions, chunk_len, config)
    records = per_chunk_records(decisions)
    modes = "".join(d.mode_letter for d in decisions[:-1])
    if args.json:
        print(
            json.dumps(
                {
                    "trajectory": str(args.trajectory),
                    "case": case,
                    "chunk_len": chunk_len,
                    "n_chunks": len(records),
                    "preset": args.preset,
                    "config": config.as_dict(),
                    "unit": "m",
                    "modes": modes,
                    "next_state": decisions[-1].state,
                    "per_chunk": records,
                },
                indent=2,
            )
        )
        return 0
    overrides = {f: v for f, v in config.as_dict().items() if v != get_gate_preset(args.preset).as_dict()[f]}
    print(f"trajectory: {args.trajectory}" + (f"  case: {case}" if case else ""))
    print(
        f"chunks: {len(records)} × {chunk_len} steps   preset: {args.preset}"
        + (f"  overrides: {overrides}" if overrides else "")
    )
    print(
        f"rule: {config.decision_method}, window {config.window}"
        + (f" (adaptive {config.window_min}–{config.window_max})" if config.adaptive_window else "")
        + f", {config.displacement}, cap "
        + (str(config.max_consecutive_pruned) if config.max_consecutive_pruned else "none")
        + f", middle band {config.middle_band}, deadband {config.standstill_deadband * 1000:g} mm"
    )
    print(f"modes: {modes}  (next: {decisions[-1].mode_letter})")
    print(_table(records))
    return 0
