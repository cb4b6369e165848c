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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from adp_ros.core.errors import ConfigError, InputError

GuardMode = Literal["clamp", "reject"]
GUARD_MODES: tuple[str, ...] = ("clamp", "reject")


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

    def __post_init__(self) -> None:
        if isinstance(self.action_dim, bool) or not isinstance(self.action_dim, int) or self.action_dim < 1:
            raise ConfigError(f"action_dim={self.action_dim!r} must be an integer >= 1")
        for name in ("lower", "upper", "max_delta"):
            object.__setattr__(self, name, _as_float_tuple(name, getattr(self, name), self.action_dim))
        if self.lower and self.upper:
            for i, (lo, hi) in enumerate(zip(self.lower, self.upper, strict=True)):
                if lo > hi:
                    raise ConfigError(f"lower[{i}]={lo} > upper[{i}]={hi}: swap them or fix the limits")
        for i, d in enumerate(self.max_delta):
            if d <= 0:
                raise ConfigError(f"max_delta[{i}]={d} must be > 0 (inf: no limit); 0 would freeze that joint")
        if self.mode not in GUARD_MODES:
            raise ConfigError(f"mode={self.mode!r} not in {GUARD_MODES}")


@dataclass(frozen=True)
class GuardResult:
    """The chunk to execute (float64, shape (T, action_dim)) or None when refused, and why."""

    actions: np.ndarray | None
    limit_violations: int
    """Values outside [lower, upper]: clamped in clamp mode, a cause of refusal in reject mode."""
    delta_violations: int
    """Values moving more than max_delta from the step before: clamped, or a cause of refusal."""
    reasons: tuple[str, ...]

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
