"""What stands between the model and the arm: action-chunk guard, observation staleness, command enable.

Pure numpy; callers pass stamps and `now_ns` (ROS time in the node), nothing here reads a clock.

Action guard, per chunk of shape (T, action_dim):
1. Any NaN/Inf in the chunk (or in `current_state`) refuses the whole chunk: no partial execution.
2. `clamp` mode: each step is clipped to [lower, upper], then to `previous ± max_delta`, where `previous` is
   the guarded step before it, or `current_state` for the first step when given. So consecutive commands never
   jump by more than `max_delta`, and every command is within the limits whenever the state is (if the arm is
   outside the limits, the first steps walk back at `max_delta` per step, and the result says so).
3. `reject` mode: the raw chunk is refused if any value is outside the limits or any step (including the
   first, from `current_state`) moves more than `max_delta`.
4. Both modes: with `current_state` and `max_start_distance`, a first step (after clamping to the limits in
   clamp mode) farther than that from the measured state refuses the chunk: clamping that one point would leave
   the jump in the steps after it. For absolute-position policies, whose first point should be near the arm.

Default limits (`statistics_limits`): the range of the actions the policy was trained on (the checkpoint's
`dataset_statistics.json` min/max), widened on each side by a fraction of that range; see docs/safety.md.

Observations lost while commanding (`InputLossMonitor`): no fresh observation for the staleness limit after the
later of the newest fresh observation and the end of the last commanded chunk.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from adp_ros.core.errors import ConfigError, InputError

GuardMode = Literal["clamp", "reject"]
GUARD_MODES: tuple[str, ...] = get_args(GuardMode)


def _as_float_tuple(name: str, values: object, action_dim: int) -> tuple[float, ...]:
    try:
        result = tuple(float(v) for v in values)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}={values!r} must be a list of numbers: {exc}") from exc
    if len(result) not in (0, action_dim):
        raise ConfigError(
            f"{name} has {len(result)} entries but action_dim={action_dim}: give one per action dimension, "
            "or an empty list for no limit"
        )
    if any(math.isnan(v) for v in result):
        raise ConfigError(f"{name}={list(result)} contains NaN; use +/-inf for 'no limit on this dimension'")
    return result


@dataclass(frozen=True)
class ActionGuardConfig:
    """Limits per action dimension. Empty tuple: no limit of that kind; +/-inf: no limit on one dimension."""

    action_dim: int
    lower: tuple[float, ...] = ()
    upper: tuple[float, ...] = ()
    max_delta: tuple[float, ...] = ()
    """Largest allowed change per chunk step (and from the measured state to the first step), > 0."""
    mode: GuardMode = "clamp"
    max_start_distance: tuple[float, ...] = ()
    """Largest distance of the first step from the measured state, > 0; farther refuses the chunk (both modes)."""

    def __post_init__(self) -> None:
        if isinstance(self.action_dim, bool) or not isinstance(self.action_dim, int) or self.action_dim < 1:
            raise ConfigError(f"action_dim={self.action_dim!r} must be an integer >= 1")
        for name in ("lower", "upper", "max_delta", "max_start_distance"):
            object.__setattr__(self, name, _as_float_tuple(name, getattr(self, name), self.action_dim))
        if self.lower and self.upper:
            for i, (lo, hi) in enumerate(zip(self.lower, self.upper, strict=True)):
                if lo > hi:
                    raise ConfigError(f"lower[{i}]={lo} > upper[{i}]={hi}: swap them or fix the limits")
        for i, d in enumerate(self.max_delta):
            if d <= 0:
                raise ConfigError(f"max_delta[{i}]={d} must be > 0 (inf: no limit); 0 would freeze that joint")
        for i, d in enumerate(self.max_start_distance):
            if d <= 0:
                raise ConfigError(f"max_start_distance[{i}]={d} must be > 0 (inf: no bound on that dimension)")
        if self.mode not in GUARD_MODES:
            raise ConfigError(f"mode={self.mode!r} not in {GUARD_MODES}")

    @property
    def unbounded_dims(self) -> tuple[int, ...]:
        """Dimensions without a finite lower and upper limit."""
        lower = self.lower or (-math.inf,) * self.action_dim
        upper = self.upper or (math.inf,) * self.action_dim
        pairs = enumerate(zip(lower, upper, strict=True))
        return tuple(i for i, (lo, hi) in pairs if not (lo > -math.inf and hi < math.inf))

    def with_default_limits(self, lower: Sequence[float], upper: Sequence[float]) -> ActionGuardConfig:
        """This config with its empty `lower` / `upper` replaced by `lower` / `upper` (given ones win)."""
        return dataclasses.replace(self, lower=self.lower or tuple(lower), upper=self.upper or tuple(upper))


@dataclass(frozen=True)
class GuardResult:
    """The chunk to execute (float64, shape (T, action_dim)) or None when refused, and why."""

    actions: np.ndarray | None
    limit_violations: int
    """Values outside [lower, upper]: clamped in clamp mode, a cause of refusal in reject mode."""
    delta_violations: int
    """Values moving more than max_delta from the step before: clamped, or a cause of refusal."""
    reasons: tuple[str, ...]
    start_violations: int = 0
    """Dimensions whose first step is farther than max_start_distance from the measured state (refused)."""

    @property
    def is_safe(self) -> bool:
        """True when there is a chunk to execute (possibly clamped)."""
        return self.actions is not None

    @property
    def was_modified(self) -> bool:
        return self.actions is not None and (self.limit_violations + self.delta_violations) > 0


def _first_nonfinite(values: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])


class ActionGuard:
    """Checks and, in clamp mode, repairs each action chunk before it reaches the arm."""

    def __init__(self, config: ActionGuardConfig) -> None:
        self.config = config
        dim = config.action_dim
        self._lower = np.array(config.lower, np.float64) if config.lower else np.full(dim, -np.inf)
        self._upper = np.array(config.upper, np.float64) if config.upper else np.full(dim, np.inf)
        self._delta = np.array(config.max_delta, np.float64) if config.max_delta else np.full(dim, np.inf)
        self._start = (
            np.array(config.max_start_distance, np.float64) if config.max_start_distance else np.full(dim, np.inf)
        )

    def check(self, chunk: np.ndarray, current_state: np.ndarray | None = None) -> GuardResult:
        """Guard `chunk` (T, action_dim); `current_state` (action_dim,) bounds the first step when given."""
        dim = self.config.action_dim
        actions = np.array(chunk, dtype=np.float64)  # always a copy: the caller's array is never changed
        if actions.ndim != 2 or actions.shape[0] < 1 or actions.shape[1] != dim:
            raise InputError(f"action chunk shape {np.shape(chunk)} is not (T >= 1, action_dim={dim})")
        state = None
        if current_state is not None:
            state = np.array(current_state, dtype=np.float64)
            if state.shape != (dim,):
                raise InputError(f"current_state shape {np.shape(current_state)} is not ({dim},)")

        if not np.all(np.isfinite(actions)):
            count = int(np.sum(~np.isfinite(actions)))
            step, d = _first_nonfinite(actions)
            return GuardResult(
                None,
                0,
                0,
                (
                    f"chunk has {count} non-finite value(s), first at step {step} dim {d} = "
                    f"{actions[step, d]}; whole chunk refused",
                ),
            )
        if state is not None and not np.all(np.isfinite(state)):
            (d,) = _first_nonfinite(state)
            return GuardResult(
                None, 0, 0, (f"current_state[{d}] = {state[d]} is not finite; cannot bound the first step",)
            )

        if state is not None:
            first = actions[0] if self.config.mode == "reject" else np.clip(actions[0], self._lower, self._upper)
            distance = np.abs(first - state)
            too_far = np.flatnonzero(distance > self._start)
            if too_far.size:
                d = int(too_far[0])
                return GuardResult(
                    None,
                    0,
                    0,
                    (
                        f"first step is {distance[d]:.3g} from the measured state on dim {d} "
                        f"({first[d]:.6g} vs {state[d]:.6g}) > max_start_distance {self._start[d]:g} on "
                        f"{too_far.size} dim(s) {too_far.tolist()}; whole chunk refused (the arm would jump)",
                    ),
                    int(too_far.size),
                )
        if self.config.mode == "reject":
            return self._reject(actions, state)
        return self._clamp(actions, state)

    def _limit_report(self, values: np.ndarray, verb: str) -> tuple[int, str | None]:
        outside = (values < self._lower) | (values > self._upper)
        count = int(outside.sum())
        if not count:
            return 0, None
        step, d = (int(i) for i in np.argwhere(outside)[0])
        value = values[step, d]
        bound = f"< lower {self._lower[d]}" if value < self._lower[d] else f"> upper {self._upper[d]}"
        return (
            count,
            f"{count} value(s) outside the limits {verb}; first: step {step} dim {d} = {value} {bound}",
        )

    def _reject(self, actions: np.ndarray, state: np.ndarray | None) -> GuardResult:
        reasons = []
        n_limit, limit_reason = self._limit_report(actions, "(chunk refused)")
        if limit_reason:
            reasons.append(limit_reason)
        previous = actions[:-1] if state is None else np.vstack([state[None, :], actions[:-1]])
        current = actions[1:] if state is None else actions
        moves = np.abs(current - previous)
        too_far = moves > self._delta
        n_delta = int(too_far.sum())
        if n_delta:
            row, d = (int(i) for i in np.argwhere(too_far)[0])
            step = row if state is not None else row + 1  # row r compares step r with the one before it
            origin = "current_state" if step == 0 else f"step {step - 1}"
            reasons.append(
                f"{n_delta} value(s) move more than max_delta (chunk refused); first: step {step} dim {d} "
                f"moves {moves[row, d]:.6g} from {origin} > max_delta {self._delta[d]}"
            )
        if reasons:
            return GuardResult(None, n_limit, n_delta, tuple(reasons))
        return GuardResult(actions, 0, 0, ())

    def _clamp(self, actions: np.ndarray, state: np.ndarray | None) -> GuardResult:
        reasons = []
        n_limit, limit_reason = self._limit_report(actions, "clamped")
        if limit_reason:
            reasons.append(limit_reason)
        limited = np.clip(actions, self._lower, self._upper)
        if state is not None:
            outside = np.flatnonzero((state < self._lower) | (state > self._upper))
            if outside.size:
                reasons.append(
                    f"current_state is outside the limits on dims {outside.tolist()}: the first steps move "
                    "back at max_delta per step, so they may still be outside the limits"
                )
        out = limited.copy()
        n_delta = 0
        first_delta: tuple[int, int, float] | None = None
        previous = state
        for t in range(out.shape[0]):
            if previous is not None:
                stepped = np.clip(out[t], previous - self._delta, previous + self._delta)
                changed = np.flatnonzero(stepped != out[t])
                if changed.size:
                    n_delta += int(changed.size)
                    if first_delta is None:
                        d = int(changed[0])
                        first_delta = (t, d, float(out[t, d] - previous[d]))
                out[t] = stepped
            previous = out[t]
        if first_delta is not None:
            t, d, move = first_delta
            reasons.append(
                f"{n_delta} value(s) clamped to max_delta; first: step {t} dim {d} would move {move:.6g} "
                f"> max_delta {self._delta[d]}"
            )
        return GuardResult(out, n_limit, n_delta, tuple(reasons))


# ---- default limits ------------------------------------------------------------------------------------

STATISTICS_MARGIN = 0.05
"""Default widening of the training range on each side, as a fraction of that range (max - min)."""


def statistics_limits(
    minimum: Sequence[float], maximum: Sequence[float], margin: float = STATISTICS_MARGIN
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Action limits from the range the policy was trained on: [min - margin·(max - min), max + margin·(max - min)]
    per dimension. A non-finite min or max leaves that side of the dimension unbounded (-inf / +inf)."""
    low = np.asarray(minimum, np.float64)
    high = np.asarray(maximum, np.float64)
    if low.ndim != 1 or low.shape != high.shape:
        raise InputError(f"statistics min/max shapes {low.shape} / {high.shape} are not the same 1-D shape")
    if not (math.isfinite(margin) and margin >= 0):
        raise ConfigError(f"margin={margin} must be a finite number >= 0")
    finite = np.isfinite(low) & np.isfinite(high)
    crossed = np.flatnonzero(finite & (low > high))
    if crossed.size:
        d = int(crossed[0])
        raise InputError(f"statistics min[{d}]={low[d]} > max[{d}]={high[d]}: the statistics are corrupt")
    widen = np.where(finite, margin * (high - low), 0.0)
    lower = np.where(np.isfinite(low), low - widen, -np.inf)
    upper = np.where(np.isfinite(high), high + widen, np.inf)
    return tuple(float(v) for v in lower), tuple(float(v) for v in upper)


def _dim_ranges(dims: Sequence[int]) -> str:
    """[0, 1, 2, 5] → '0-2,5'."""
    runs: list[list[int]] = []
    for d in dims:
        if runs and runs[-1][1] == d - 1:
            runs[-1][1] = d
        else:
            runs.append([d, d])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def _per_dim(name: str, values: tuple[float, ...]) -> str:
    groups: dict[float, list[int]] = {}
    for d, v in enumerate(values):
        if math.isfinite(v):
            groups.setdefault(v, []).append(d)
    if not groups:
        return f"{name} none"
    return f"{name} " + ", ".join(f"{v:g} on dims {_dim_ranges(dims)}" for v, dims in groups.items())


def describe_guard(config: ActionGuardConfig, limits_source: str) -> str:
    """One line for the log: mode, limits per dimension (`d:[lower,upper]`) and where they come from, bounds."""
    dim = config.action_dim
    lower = config.lower or (-math.inf,) * dim
    upper = config.upper or (math.inf,) * dim
    if all(math.isinf(v) for v in (*lower, *upper)):
        limits = "action limits none"
    else:
        per_dim = " ".join(f"{d}:[{lo:.4g},{hi:.4g}]" for d, (lo, hi) in enumerate(zip(lower, upper, strict=True)))
        limits = f"action limits from {limits_source}: {per_dim}"
    unbounded = config.unbounded_dims
    return "; ".join(
        (
            f"mode {config.mode}",
            limits,
            _per_dim("max_start_distance", config.max_start_distance),
            _per_dim("max_delta", config.max_delta),
            f"unbounded dims {_dim_ranges(unbounded) if unbounded else 'none'}",
        )
    )


# ---- staleness -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StalenessConfig:
    """An observation older than `max_age_ns`, or stamped more than `max_future_ns` ahead, is not acted on."""

    max_age_ns: int
    max_future_ns: int = 10_000_000
    """Tolerated clock offset between the camera's host and this one (10 ms)."""

    def __post_init__(self) -> None:
        for name in ("max_age_ns", "max_future_ns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name}={value!r} must be an integer number of nanoseconds")
        if self.max_age_ns <= 0:
            raise ConfigError(f"max_age_ns={self.max_age_ns} must be > 0 (e.g. 2 control periods)")
        if self.max_future_ns < 0:
            raise ConfigError(f"max_future_ns={self.max_future_ns} must be >= 0")


@dataclass(frozen=True)
class StalenessResult:
    is_fresh: bool
    age_ns: int
    """now - oldest stamp; negative when the observation is stamped in the future."""
    reason: str
    """Empty when fresh."""


def check_staleness(stamps_ns: int | Sequence[int], now_ns: int, config: StalenessConfig) -> StalenessResult:
    """Is an observation (one stamp, or the stamps of a synchronised set) fresh enough to act on at `now_ns`?

    The oldest stamp decides the age, the newest the future check. A stamp of 0 means the publisher never set
    `header.stamp`, and is refused as such.
    """
    stamps = [int(stamps_ns)] if isinstance(stamps_ns, (int, np.integer)) else [int(s) for s in stamps_ns]
    if not stamps:
        raise InputError("check_staleness needs at least one stamp")
    oldest, newest = min(stamps), max(stamps)
    age_ns = int(now_ns) - oldest
    if oldest == 0:
        return StalenessResult(False, age_ns, "observation stamp is 0: the publisher does not set header.stamp")
    if age_ns > config.max_age_ns:
        return StalenessResult(
            False,
            age_ns,
            f"observation is {age_ns / 1e6:.1f} ms old > max_age {config.max_age_ns / 1e6:.1f} ms",
        )
    ahead_ns = newest - int(now_ns)
    if ahead_ns > config.max_future_ns:
        return StalenessResult(
            False,
            age_ns,
            f"observation is stamped {ahead_ns / 1e6:.1f} ms in the future > tolerance "
            f"{config.max_future_ns / 1e6:.1f} ms: clocks out of sync, or use_sim_time differs between nodes",
        )
    return StalenessResult(True, age_ns, "")


# ---- command enable ------------------------------------------------------------------------------------


class CommandGate:
    """Whether guarded actions may be sent to the arm.

    Starts disabled and in dry-run (actions computed and published for inspection, never commanded); both must
    be lifted to command the arm. Disabling records a reason for diagnostics.
    """

    def __init__(self, *, dry_run: bool = True, enabled: bool = False) -> None:
        self._dry_run = bool(dry_run)
        self._enabled = bool(enabled)
        self._reason = "" if enabled else "not enabled yet"

    @property
    def dry_run(self) -> bool:
        return self._dry_run

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def may_command(self) -> bool:
        """True only when enabled and not in dry-run."""
        return self._enabled and not self._dry_run

    @property
    def state(self) -> str:
        """'disabled', 'dry_run' or 'commanding', for diagnostics."""
        if not self._enabled:
            return "disabled"
        return "dry_run" if self._dry_run else "commanding"

    @property
    def reason(self) -> str:
        """Why the gate was last disabled ('' while enabled)."""
        return self._reason

    def enable(self) -> None:
        self._enabled = True
        self._reason = ""

    def disable(self, reason: str) -> None:
        self._enabled = False
        self._reason = reason

    def set_dry_run(self, dry_run: bool) -> None:
        self._dry_run = bool(dry_run)


# ---- inputs lost while commanding ----------------------------------------------------------------------


class InputLossMonitor:
    """Notices observations lost while commanding. Thread-safe.

    Armed when commands are enabled (`arm(now)`); `observed(stamp)` for each fresh synchronised observation (its
    oldest stamp); `commanded(end)` when a chunk goes to the arm (its last point's time). The inputs are lost when
    ROS time passes `max_age` after the later of the newest fresh observation (or the arming) and the end of the
    last commanded chunk: the node could have acted on nothing newer, and the arm has nothing left to execute.
    `update` returns True once per loss; `lost` stays True until the next fresh observation.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.observations = 0
        """Fresh observations seen (never reset)."""
        self.disarm()

    def disarm(self) -> None:
        """Commands disabled or the node deactivated: nothing to watch, and no loss."""
        with self._lock:
            self._armed = False
            self._lost = False
            self._last_ns: int | None = None
            self._chunk_end_ns: int | None = None

    def arm(self, now_ns: int) -> None:
        """Commands enabled at `now_ns`: the staleness limit counts from here if no observation is newer.

        ROS time 0 (use_sim_time before the first /clock) counts from the first `update` with a clock instead:
        the clock's first jump is no loss."""
        with self._lock:
            self._armed = True
            self._lost = False
            self._last_ns = int(now_ns) or None
            self._chunk_end_ns = None

    def observed(self, stamp_ns: int) -> bool:
        """A fresh synchronised observation (oldest stamp of its set); True when it ends a loss."""
        with self._lock:
            self.observations += 1
            # An older stamp than one seen keeps the newest; time going backwards is `update`'s business.
            self._last_ns = int(stamp_ns) if self._last_ns is None else max(int(stamp_ns), self._last_ns)
            ended, self._lost = self._lost, False
            return ended

    def commanded(self, end_ns: int) -> None:
        """A chunk went to the arm; its last point executes at `end_ns`."""
        with self._lock:
            self._chunk_end_ns = int(end_ns)

    def deadline_ns(self, max_age_ns: int) -> int | None:
        """ROS time after which the inputs count as lost (None when not armed)."""
        with self._lock:
            return self._deadline_locked(max_age_ns)

    def _deadline_locked(self, max_age_ns: int) -> int | None:
        if not self._armed or self._last_ns is None:
            return None
        base = self._last_ns if self._chunk_end_ns is None else max(self._last_ns, self._chunk_end_ns)
        return base + int(max_age_ns)

    def update(self, now_ns: int, max_age_ns: int) -> bool:
        """True exactly once per loss: the first call past the deadline."""
        with self._lock:
            if self._armed and self._last_ns is None and now_ns:
                self._last_ns = int(now_ns)  # armed before the clock started
            if self._last_ns is not None and now_ns < self._last_ns - max_age_ns:
                self._last_ns, self._chunk_end_ns = int(now_ns), None  # time went backwards: start over
            deadline = self._deadline_locked(max_age_ns)
            if deadline is None or self._lost or now_ns <= deadline:
                return False
            self._lost = True
            return True

    @property
    def lost(self) -> bool:
        return self._lost

    def since_ns(self) -> int | None:
        """The newest fresh observation's stamp (or the arming time)."""
        return self._last_ns
