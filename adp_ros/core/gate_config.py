"""The gate's parameters: `GateConfig` (checked on construction, with the fix in every error), the mapping from
the reference's JSON (`config_from_reference`) and the presets (`reference`, `default`, `default_joint`).

The gate itself (`ActionAwareGate`) is in `core/gate.py`, which re-exports everything here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from adp_ros.core.errors import ConfigError, closest

GateState = Literal["dense", "pruned"]
DecisionMethod = Literal["adjacent", "avg"]
DisplacementKind = Literal["net", "path_length"]
MiddleBand = Literal["prune", "hold"]
DeadbandHistory = Literal["exclude", "include", "reset"]
GATE_STATES: tuple[str, ...] = get_args(GateState)
DECISION_METHODS: tuple[str, ...] = get_args(DecisionMethod)
DISPLACEMENT_KINDS: tuple[str, ...] = get_args(DisplacementKind)
MIDDLE_BANDS: tuple[str, ...] = get_args(MiddleBand)
DEADBAND_HISTORIES: tuple[str, ...] = get_args(DeadbandHistory)
Band = Literal["initial", "cold_start", "deadband", "ge_max", "lt_min", "middle", "avg_ge", "avg_lt"]

WINDOW_RANGE = (3, 64)
MAX_CAP = 1000
MAX_DISTANCE = 1.0
"""Upper bound for distances per chunk (metres or radians): anything larger is a unit mistake."""


def _fail(field: str, value: object, allowed: str, fix: str) -> ConfigError:
    return ConfigError(f"gate: {field}={value!r} {allowed}; {fix}")


def _check_int(name: str, value: object, lo: int, hi: int, fix: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(name, value, f"is not an integer (allowed: integers in [{lo}, {hi}])", fix)
    if not lo <= value <= hi:
        raise _fail(name, value, f"outside [{lo}, {hi}]", fix)


def _check_float(name: str, value: object, lo: float, hi: float, fix: str, *, lo_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(name, value, f"is not a finite number in {'(' if lo_open else '['}{lo}, {hi}]", fix)
    if value > hi or value < lo or (lo_open and value == lo):
        raise _fail(name, value, f"outside {'(' if lo_open else '['}{lo}, {hi}]", fix)


def _check_choice(name: str, value: object, choices: tuple[str, ...], fix: str) -> None:
    if value not in choices:
        hint = closest(str(value), choices)
        raise _fail(name, value, f"not one of {choices}{hint}", fix)


@dataclass(frozen=True)
class GateConfig:
    """Gate parameters. Defaults are the `"default"` preset (reference rule + standstill deadband).

    Distances (`min_step`, `standstill_deadband`) are per chunk in the motion source's unit: metres for
    end-effector sources, radians for joint sources.
    """

    decision_method: DecisionMethod = "adjacent"
    """'adjacent': compare d with the previous window−1 values (the reference JSON). 'avg': d vs a running
    average (what the reference runs without its JSON)."""
    window: int = 3
    """Lw, in chunks: history length for 'adjacent' and the cold start (chunks 0…Lw−1 use initial_state)."""
    max_consecutive_pruned: int = 3
    """At most this many pruned chunks in a row, then one dense; 0 = no cap."""
    displacement: DisplacementKind = "net"
    """'net' = ‖last − first‖ over the chunk; 'path_length' = Σ step norms (steps below min_step count 0)."""
    middle_band: MiddleBand = "prune"
    """Between min and max of the previous values: 'prune' (reference) or 'hold' the current state."""
    initial_state: GateState = "dense"
    """State for the first chunk and during the cold start."""
    min_step: float = 0.0
    """path_length only: per-step norms below this are zeroed (noise floor per control step)."""
    standstill_deadband: float = 0.005
    """d below this runs dense (standstill / fine manipulation); 0 = off (reference)."""
    deadband_history: DeadbandHistory = "exclude"
    """What a below-deadband d does to the history: 'exclude' it, 'include' it (as the reference would),
    or 'reset' the history (re-run the cold start after every stop)."""
    adaptive_window: bool = False
    """Let Lw follow recent motion within [window_min, window_max], starting at `window`."""
    window_min: int = 3
    """Smallest adaptive Lw (fast-changing motion)."""
    window_max: int = 8
    """Largest adaptive Lw (steady motion)."""
    adaptive_change_scale: float = 0.5
    """Mean relative change of successive d at (and above) which the adaptive Lw reaches window_min."""

    def __post_init__(self) -> None:
        _check_choice(
            "decision_method",
            self.decision_method,
            DECISION_METHODS,
            "use 'adjacent' (reference JSON rule)",
        )
        _check_int(
            "window",
            self.window,
            *WINDOW_RANGE,
            "use 3 (reference); smaller values act as 3 in the reference (Lw = max(3, window))",
        )
        _check_int(
            "max_consecutive_pruned",
            self.max_consecutive_pruned,
            0,
            MAX_CAP,
            "use 3 (reference) or 0 for no cap; to never prune, disable pruning instead",
        )
        _check_choice("displacement", self.displacement, DISPLACEMENT_KINDS, "use 'net' (reference)")
        _check_choice("middle_band", self.middle_band, MIDDLE_BANDS, "use 'prune' (reference)")
        _check_choice("initial_state", self.initial_state, GATE_STATES, "use 'dense' (reference)")
        _check_float(
            "min_step",
            self.min_step,
            0.0,
            MAX_DISTANCE,
            "give it in the motion unit per control step (m or rad), e.g. 0.0 (reference) or 0.002",
        )
        _check_float(
            "standstill_deadband",
            self.standstill_deadband,
            0.0,
            MAX_DISTANCE,
            "give it in the motion unit per chunk (m or rad), e.g. 0.005 m; 0 turns it off",
        )
        _check_choice("deadband_history", self.deadband_history, DEADBAND_HISTORIES, "use 'exclude'")
        if not isinstance(self.adaptive_window, bool):
            raise _fail("adaptive_window", self.adaptive_window, "is not a bool", "use true or false")
        _check_int("window_min", self.window_min, *WINDOW_RANGE, "use 3")
        _check_int("window_max", self.window_max, *WINDOW_RANGE, "use 8")
        if self.window_min > self.window_max:
            raise _fail(
                "window_min",
                self.window_min,
                f"is larger than window_max={self.window_max}",
                "make window_min <= window_max",
            )
        _check_float(
            "adaptive_change_scale",
            self.adaptive_change_scale,
            0.0,
            100.0,
            "use 0.5 (a 50 % change per chunk shrinks the window fully)",
            lo_open=True,
        )

    def replace(self, **changes: Any) -> GateConfig:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def history_len(self) -> int:
        """How many past displacements the gate keeps (enough for any window it may use)."""
        return max(self.window, self.window_max)


def config_from_reference(cfg: Mapping[str, Any]) -> GateConfig:
    """Map the reference's `PruneV2GenerateConfig` gate fields (as in its JSON) to a `GateConfig`.

    Keys the reference loads but never reads (`adjacent_variant`, `L_eff`, `hysteresis_*`, `tol_equal`,
    `min_delta_rot`, `adjacent_lookback`) are ignored. The deadband is 0: the reference has none.
    """
    if not cfg.get("use_dynamic_visual_strategy", True):
        raise ConfigError("use_dynamic_visual_strategy is false: the reference runs without a gate then")
    method = str(cfg.get("decision_method", "avg") or "avg").lower()
    delta = str(cfg.get("delta_method", "net") or "net").lower()
    cap_on = bool(cfg.get("limit_consecutive_pruned_enabled", False))
    cap = int(cfg.get("limit_max_consecutive_pruned", 3))
    if cap_on and cap <= 0:
        raise ConfigError(
            f"limit_max_consecutive_pruned={cap} with the cap enabled never prunes; GateConfig has no such "
            "mode (0 means no cap): disable pruning instead"
        )
    return GateConfig(
        decision_method="avg" if method == "avg" else "adjacent",
        window=max(3, int(cfg.get("adjacent_extrema_window", 3))),
        max_consecutive_pruned=cap if cap_on else 0,
        # The reference treats every unknown method as net; "sum"/"arc_sum"/"hypot" are the path length.
        displacement="path_length" if delta in ("sum", "arc_sum", "hypot") else "net",
        middle_band="hold" if cfg.get("adjacent_last_state", False) else "prune",
        initial_state="pruned" if int(cfg.get("initial_state", 0)) == 1 else "dense",
        min_step=float(cfg.get("min_delta_pos", 0.0)),
        standstill_deadband=0.0,
    )


REFERENCE = GateConfig(standstill_deadband=0.0)
"""Exactly the reference (README JSON): adjacent, window 3, net, cap 3, middle band prunes, no deadband."""

DEFAULT = GateConfig()
"""Reference rule + 5 mm standstill deadband (excluded from the history). Why 5 mm per chunk: the net
displacement of a still arm with 0.5 mm per-axis sensor noise is the norm of a difference of two readings
(σ ≈ 0.71 mm per axis); the fixture's largest is 2.0 mm, and 5 mm is 7σ. Coarse motion is 16–128 mm per chunk
in the fixture (LIBERO: 8 steps at 20 Hz, about 1 cm/step), so the slowest motion that can still prune is
0.6 mm/step (1.25 cm/s). Excluding still chunks from the history keeps the reference values from going to ~0
during a grasp, so the first chunk after a stop is compared with real motion rather than pruned at once."""

DEFAULT_JOINT = GateConfig(standstill_deadband=0.02)
"""`default` for joint sources (radians, per arm with `max`). 0.02 rad ≈ 1.1° ≈ 8 mm at 0.4 m reach, about 13
encoder ticks of a 4096-tick servo; unverified on a robot, tune it there."""

GATE_PRESETS: dict[str, GateConfig] = {
    "reference": REFERENCE,
    "default": DEFAULT,
    "default_joint": DEFAULT_JOINT,
}


def get_gate_preset(name: str) -> GateConfig:
    try:
        return GATE_PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown gate preset {name!r}{closest(name, GATE_PRESETS)}") from None
