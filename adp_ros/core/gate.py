"""The action-aware gate: per action chunk, run the policy dense (all visual tokens) or pruned.

Reference: `_OnlineStrategyController` in chen7086/VLA-ADP `d7094b09`
(`experiments/robot/libero/run_libero_eval_prune_v2.py`), see the shared research notes `adp_method.md` §2.
With the `"reference"` preset this gate reproduces it exactly (test/unit/test_gate_fixture.py).

Timeline. The caller stamps every motion sample (`observe`) and calls `decide(now_ns)` once per chunk request.
`decide` closes the window of the chunk that just ran — the samples from the pose at the previous request up
to `now` — measures its displacement d, and returns the state for the chunk about to be requested. That is the
reference's one-chunk lag: the decision computed after chunk k is used for chunk k+1.

Rule (`decision_method="adjacent"`, Lw = `window`): append d to the history; while it holds fewer than Lw
values use `initial_state` (cold start); otherwise compare d with the previous Lw−1 values: d ≥ max → pruned,
d < min → dense, in between → `middle_band` (prune, the reference; or hold the current state).
`"avg"`: a ← (a + d)/2 (first a = d), pruned iff d ≥ a. Then the cap turns a prune into dense once
`max_consecutive_pruned` pruned chunks are already in a row.

Beyond the reference (both off in the `"reference"` preset):
- `standstill_deadband`: d below it runs dense. The reference prunes a robot standing still (0 ≥ max(0, 0))
  and flips at random on sensor noise, because its rule only looks at the ordering of recent d's.
- `adaptive_window`: Lw follows recent motion, longer when d is steady, shorter when it changes fast.

The parameters and presets are in `core/gate_config.py` (re-exported here: import them from either).
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.core.gate_config import (
    DEFAULT,
    DEFAULT_JOINT,
    GATE_PRESETS,
    MAX_CAP,
    MAX_DISTANCE,
    REFERENCE,
    WINDOW_RANGE,
    Band,
    DeadbandHistory,
    DecisionMethod,
    DisplacementKind,
    GateConfig,
    GateState,
    MiddleBand,
    config_from_reference,
    get_gate_preset,
)
from adp_ros.core.motion import EEF_METRIC, DisplacementMetric
from adp_ros.core.ring_buffer import OutOfOrderPolicy, StampedRingBuffer

__all__ = [
    "DEFAULT",
    "DEFAULT_JOINT",
    "GATE_PRESETS",
    "MAX_CAP",
    "MAX_DISTANCE",
    "REFERENCE",
    "WINDOW_RANGE",
    "ActionAwareGate",
    "Band",
    "DeadbandHistory",
    "DecisionMethod",
    "DisplacementKind",
    "GateConfig",
    "GateDecision",
    "GateState",
    "MiddleBand",
    "config_from_reference",
    "get_gate_preset",
    "replay_trajectory",
]


@dataclass(frozen=True)
class GateDecision:
    """What `decide` chose and why. Displacements are those of the chunk that just ran (None at first)."""

    stamp_ns: int
    chunk_index: int
    """The chunk this state is for (0 = first request after construction or reset)."""
    state: GateState
    previous_state: GateState
    """State the chunk that just ran used (`middle_band='hold'` keeps it)."""
    band: Band
    closed_window: bool
    displacement: float | None
    net_displacement: float | None
    path_length: float | None
    num_samples: int
    """Samples in the closed window; fewer than 2 give d = 0 (reference behaviour)."""
    window_start_ns: int | None
    window_end_ns: int | None
    window_truncated: bool
    """The buffer lost the window's first samples (capacity too small for the chunk duration)."""
    window: int
    """Lw used (differs from config.window only with adaptive_window)."""
    reference_values: tuple[float, ...]
    up_threshold: float | None
    down_threshold: float | None
    average: float | None
    decision_before_cap: GateState
    forced_dense_by_cap: bool
    pruned_streak: int
    """Pruned chunks in a row including this one (0 if this one is dense)."""

    @property
    def is_pruned(self) -> bool:
        return self.state == "pruned"

    @property
    def cold_start(self) -> bool:
        return self.band in ("initial", "cold_start")

    @property
    def mode_letter(self) -> str:
        return "P" if self.state == "pruned" else "D"

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["reference_values"] = list(self.reference_values)
        return out


def _initial_streak(config: GateConfig) -> int:
    # A first chunk run pruned already counts towards the cap, as in the reference.
    return 1 if config.initial_state == "pruned" else 0


class ActionAwareGate:
    """Stateful gate for one robot. Not thread-safe: call it from one executor thread (or hold a lock)."""

    def __init__(
        self,
        config: GateConfig | None = None,
        *,
        metric: DisplacementMetric = EEF_METRIC,
        buffer_capacity: int = 2048,
        out_of_order: OutOfOrderPolicy = "reject",
    ) -> None:
        self._config = config if config is not None else DEFAULT
        if not isinstance(self._config, GateConfig):
            raise ConfigError(f"config must be a GateConfig, got {type(self._config).__name__}")
        self._metric = metric
        self._buffer = StampedRingBuffer(buffer_capacity, metric.dim, out_of_order=out_of_order)
        self._history: deque[float] = deque(maxlen=self._config.history_len)
        self.reset()

    # ---- configuration ----
    @property
    def config(self) -> GateConfig:
        return self._config

    @property
    def metric(self) -> DisplacementMetric:
        return self._metric

    @property
    def buffer(self) -> StampedRingBuffer:
        return self._buffer

    @property
    def state(self) -> GateState:
        """State of the chunk currently requested/running."""
        return self._state

    @property
    def history(self) -> tuple[float, ...]:
        return tuple(self._history)

    @property
    def effective_window(self) -> int:
        return self._window

    def reconfigure(self, config: GateConfig) -> None:
        """Swap parameters at run time, keeping history, state, streak and samples.

        A smaller window keeps the most recent displacements. History recorded under another `displacement`
        kind is kept as is; call `reset()` if that mix matters.
        """
        if not isinstance(config, GateConfig):
            raise ConfigError(f"config must be a GateConfig, got {type(config).__name__}")
        old = self._config
        self._config = config
        if config.history_len != self._history.maxlen:
            self._history = deque(self._history, maxlen=config.history_len)
        if config.adaptive_window:
            start = self._window if old.adaptive_window else config.window
            self._window = min(max(start, config.window_min), config.window_max)
        else:
            self._window = config.window

    def reset(self, *, clear_samples: bool = False) -> None:
        """Forget the decision history (new instruction or episode): the next `decide` is a first request.

        Samples are physical measurements and stay, unless `clear_samples` (clock jump, bag loop).
        """
        cfg = self._config
        self._history.clear()
        self._avg: float | None = None
        self._state: GateState = cfg.initial_state
        self._streak = _initial_streak(cfg)
        self._last_request_ns: int | None = None
        self._chunk_index = 0
        self._window = min(max(cfg.window, cfg.window_min), cfg.window_max) if cfg.adaptive_window else cfg.window
        if clear_samples:
            self._buffer.clear()

    # ---- per sample / per chunk ----
    def observe(self, stamp_ns: int, position: ArrayLike) -> None:
        """Buffer one motion sample (O(1)). Stamps must not go backwards unless the buffer inserts."""
        self._buffer.push(stamp_ns, position)

    def _measure(self, positions: NDArray[np.float64]) -> tuple[float, float, float]:
        net = self._metric.net(positions)
        path = self._metric.path_length(positions, self._config.min_step)
        return (net if self._config.displacement == "net" else path), net, path

    def decide(self, now_ns: int) -> GateDecision:
        """Chunk request at `now_ns`: close the window of the chunk that just ran and pick the next state."""
        now = int(now_ns)
        if self._last_request_ns is None:
            self._last_request_ns = now
            self._chunk_index = 0
            return self._record(now, band="initial", decision=self._state, closed=False)
        self._check_monotonic(now)
        start = self._last_request_ns
        buf = self._buffer
        i0 = buf.index_at_or_before(start)
        i1 = buf.index_at_or_before(now) + 1
        truncated = i0 < 0 and buf.num_evicted > 0
        stamps, positions = buf.range_by_index(max(i0, 0), i1)
        d, net, path = self._measure(positions)
        self._last_request_ns = now
        self._chunk_index += 1
        return self._close(
            now,
            d,
            net=net,
            path=path,
            num_samples=int(stamps.shape[0]),
            window_start_ns=int(stamps[0]) if stamps.shape[0] else None,
            window_end_ns=int(stamps[-1]) if stamps.shape[0] else None,
            truncated=truncated,
        )

    def decide_displacement(self, now_ns: int, displacement: float) -> GateDecision:
        """Like `decide`, for callers that measured the chunk's displacement themselves (no samples used).

        The first call after construction or `reset()` is the first request and ignores `displacement`.
        """
        now = int(now_ns)
        d = float(displacement)
        if not math.isfinite(d) or d < 0:
            raise InputError(f"displacement={displacement!r} must be a finite number >= 0")
        if self._last_request_ns is None:
            self._last_request_ns = now
            self._chunk_index = 0
            return self._record(now, band="initial", decision=self._state, closed=False)
        self._check_monotonic(now)
        self._last_request_ns = now
        self._chunk_index += 1
        return self._close(now, d, net=None, path=None, num_samples=0)

    def _check_monotonic(self, now: int) -> None:
        last = self._last_request_ns
        if last is not None and now < last:
            raise InputError(
                f"decide(now_ns={now}) is earlier than the previous request ({last} ns); time went "
                "backwards: call reset(clear_samples=True) after a clock jump or bag loop"
            )

    # ---- the rule ----
    def _append(self, d: float) -> None:
        self._history.append(d)
        if self._config.adaptive_window:
            self._adapt_window()

    def _adapt_window(self) -> None:
        """Step Lw toward a target set by how fast d changes: steady → window_max, erratic → window_min.

        One step per chunk so that a single outlier cannot swing the window; the relative measure keeps it
        scale-free like the rule itself.
        """
        cfg = self._config
        vals = np.asarray(list(self._history)[-cfg.window_max :], dtype=np.float64)
        if vals.shape[0] < 3:
            return
        mean = float(vals.mean())
        change = float(np.abs(np.diff(vals)).mean()) / mean if mean > 0 else 0.0
        frac = min(1.0, change / cfg.adaptive_change_scale)
        target = round(cfg.window_max - (cfg.window_max - cfg.window_min) * frac)
        if target > self._window:
            self._window += 1
        elif target < self._window:
            self._window -= 1

    def _close(
        self,
        now: int,
        d: float,
        *,
        net: float | None,
        path: float | None,
        num_samples: int,
        window_start_ns: int | None = None,
        window_end_ns: int | None = None,
        truncated: bool = False,
    ) -> GateDecision:
        cfg = self._config
        ref: tuple[float, ...] = ()
        up = dn = None
        band: Band
        decision: GateState
        if cfg.standstill_deadband > 0 and d < cfg.standstill_deadband:
            band, decision = "deadband", "dense"
            if cfg.deadband_history == "include":
                self._append(d)
                if cfg.decision_method == "avg":
                    self._avg = d if self._avg is None else 0.5 * self._avg + 0.5 * d
            elif cfg.deadband_history == "reset":
                self._history.clear()
                self._avg = None
        elif cfg.decision_method == "avg":
            self._append(d)  # not used by the rule; feeds the adaptive window and diagnostics
            # Same arithmetic as the reference (`0.5 * a + 0.5 * d`), so results agree bit for bit.
            self._avg = d if self._avg is None else 0.5 * self._avg + 0.5 * d
            band, decision = ("avg_ge", "pruned") if d >= self._avg else ("avg_lt", "dense")
        else:
            self._append(d)
            lw = self._window
            if len(self._history) < lw:
                band, decision = "cold_start", cfg.initial_state
            else:
                ref = tuple(list(self._history)[-lw:-1])
                up, dn = max(ref), min(ref)
                if d >= up:
                    band, decision = "ge_max", "pruned"
                elif d < dn:
                    band, decision = "lt_min", "dense"
                else:
                    band = "middle"
                    decision = self._state if cfg.middle_band == "hold" else "pruned"
        return self._record(
            now,
            band=band,
            decision=decision,
            closed=True,
            d=d,
            net=net,
            path=path,
            num_samples=num_samples,
            window_start_ns=window_start_ns,
            window_end_ns=window_end_ns,
            truncated=truncated,
            ref=ref,
            up=up,
            dn=dn,
        )

    def _record(
        self,
        now: int,
        *,
        band: Band,
        decision: GateState,
        closed: bool,
        d: float | None = None,
        net: float | None = None,
        path: float | None = None,
        num_samples: int = 0,
        window_start_ns: int | None = None,
        window_end_ns: int | None = None,
        truncated: bool = False,
        ref: tuple[float, ...] = (),
        up: float | None = None,
        dn: float | None = None,
    ) -> GateDecision:
        cfg = self._config
        previous = self._state
        state = decision
        forced = False
        if closed:
            if state == "pruned":
                if cfg.max_consecutive_pruned > 0 and self._streak >= cfg.max_consecutive_pruned:
                    state, forced, self._streak = "dense", True, 0
                else:
                    self._streak += 1
            else:
                self._streak = 0
            self._state = state
        return GateDecision(
            stamp_ns=now,
            chunk_index=self._chunk_index,
            state=state,
            previous_state=previous,
            band=band,
            closed_window=closed,
            displacement=d,
            net_displacement=net,
            path_length=path,
            num_samples=num_samples,
            window_start_ns=window_start_ns,
            window_end_ns=window_end_ns,
            window_truncated=truncated,
            window=self._window,
            reference_values=ref,
            up_threshold=up,
            down_threshold=dn,
            average=self._avg,
            decision_before_cap=decision,
            forced_dense_by_cap=forced,
            pruned_streak=self._streak,
        )


def replay_trajectory(
    positions: ArrayLike,
    chunk_len: int,
    config: GateConfig | None = None,
    *,
    metric: DisplacementMetric = EEF_METRIC,
    step_ns: int = 50_000_000,
) -> list[GateDecision]:
    """Run the gate over a recorded trajectory in the fixture layout, as a node would online.

    `positions[0]` is the pose when chunk 0 is requested, `positions[chunk_len*k + j]` the pose after step j
    of chunk k; sample i is stamped `i * step_ns` and chunk k is requested at `chunk_len*k*step_ns`. Returns
    n_chunks + 1 decisions: decision k is the state used for chunk k, the last one is for the chunk after the
    trajectory (it carries the last chunk's displacement).
    """
    arr = np.asarray(positions, dtype=np.float64)
    if isinstance(chunk_len, bool) or not isinstance(chunk_len, int) or chunk_len < 1:
        raise InputError(f"chunk_len={chunk_len!r} must be an integer >= 1 (OpenVLA-OFT LIBERO: 8)")
    if arr.ndim != 2 or arr.shape[1] != metric.dim:
        raise InputError(f"positions shape {arr.shape}: expected (chunk_len·n_chunks + 1, {metric.dim})")
    n = arr.shape[0] - 1
    if n < chunk_len or n % chunk_len:
        raise InputError(
            f"{arr.shape[0]} positions do not make whole chunks of {chunk_len}: need chunk_len·n_chunks + 1 "
            "(the pose at the first request plus one pose per step); "
            f"trim to {chunk_len * (n // chunk_len) + 1}"
            if n >= chunk_len
            else f"{arr.shape[0]} positions: need at least chunk_len + 1 = {chunk_len + 1}"
        )
    gate = ActionAwareGate(config, metric=metric, buffer_capacity=max(2 * chunk_len + 2, 16))
    decisions = []
    for k in range(n // chunk_len + 1):
        first = 0 if k == 0 else chunk_len * (k - 1) + 1
        for i in range(first, chunk_len * k + 1):
            gate.observe(i * step_ns, arr[i])
        decisions.append(gate.decide(chunk_len * k * step_ns))
    return decisions
