"""Safety guards: action-chunk limits and rate limits, observation staleness, command enable."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.core.safety import (
    ActionGuard,
    ActionGuardConfig,
    CommandGate,
    InputLossMonitor,
    StalenessConfig,
    check_staleness,
    describe_guard,
    statistics_limits,
)

MS = 1_000_000


def _guard(**kwargs) -> ActionGuard:
    kwargs.setdefault("action_dim", 2)
    return ActionGuard(ActionGuardConfig(**kwargs))


# ---- configuration -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"lower": (0.0,)}, "lower has 1 entries but action_dim=2"),
        ({"upper": (1.0, 2.0, 3.0)}, "upper has 3 entries but action_dim=2"),
        ({"max_delta": (0.1,)}, "max_delta has 1 entries but action_dim=2"),
        ({"lower": (0.0, float("nan"))}, "contains NaN"),
        ({"lower": (0.0, 2.0), "upper": (1.0, 1.0)}, r"lower\[1\]=2.0 > upper\[1\]=1.0"),
        ({"max_delta": (0.1, 0.0)}, r"max_delta\[1\]=0.0 must be > 0"),
        ({"max_delta": (0.1, -1.0)}, r"max_delta\[1\]=-1.0 must be > 0"),
        ({"mode": "clip"}, "mode='clip' not in"),
        ({"action_dim": 0}, "action_dim=0"),
        ({"lower": ("a", "b")}, "must be a list of numbers"),
    ],
)
def test_bad_guard_config_is_a_config_error(kwargs, pattern):
    kwargs.setdefault("action_dim", 2)
    with pytest.raises(ConfigError, match=pattern):
        ActionGuardConfig(**kwargs)


def test_config_normalises_sequences_to_float_tuples_and_stays_frozen():
    config = ActionGuardConfig(action_dim=2, lower=[-1, -2], upper=np.array([1, 2]), max_delta=[0.5, np.inf])
    assert config.lower == (-1.0, -2.0) and config.upper == (1.0, 2.0) and config.max_delta == (0.5, np.inf)
    assert hash(config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.mode = "reject"


def test_no_limits_passes_the_chunk_unchanged_as_a_copy():
    chunk = np.array([[100.0, -100.0], [-5.0, 7.0]], np.float32)
    result = _guard().check(chunk)
    assert result.is_safe and not result.was_modified and result.reasons == ()
    np.testing.assert_array_equal(result.actions, chunk)
    assert result.actions.dtype == np.float64
    assert not np.shares_memory(result.actions, chunk)


def test_chunk_and_state_shapes_are_checked():
    guard = _guard()
    with pytest.raises(InputError, match=r"shape \(3,\) is not \(T >= 1, action_dim=2\)"):
        guard.check(np.zeros(3))
    with pytest.raises(InputError, match=r"shape \(0, 2\)"):
        guard.check(np.zeros((0, 2)))
    with pytest.raises(InputError, match=r"current_state shape \(3,\) is not \(2,\)"):
        guard.check(np.zeros((1, 2)), current_state=np.zeros(3))


# ---- non-finite ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["clamp", "reject"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_refuse_the_whole_chunk(mode, bad):
    chunk = np.zeros((4, 2))
    chunk[2, 1] = bad
    result = _guard(mode=mode, lower=(-1, -1), upper=(1, 1)).check(chunk)
    assert result.actions is None and not result.is_safe
    assert "1 non-finite value(s), first at step 2 dim 1" in result.reasons[0]
    assert "whole chunk refused" in result.reasons[0]


def test_non_finite_state_refuses():
    result = _guard(max_delta=(0.1, 0.1)).check(np.zeros((1, 2)), current_state=np.array([0.0, np.nan]))
    assert result.actions is None
    assert "current_state[1] = nan" in result.reasons[0]


# ---- clamp mode ----------------------------------------------------------------------------------------


def test_clamp_to_limits_counts_and_leaves_the_input_alone():
    chunk = np.array([[2.0, 0.0], [-3.0, 0.5], [0.2, -0.1]])
    original = chunk.copy()
    result = _guard(lower=(-1, -1), upper=(1, 1)).check(chunk)
    np.testing.assert_array_equal(result.actions, [[1.0, 0.0], [-1.0, 0.5], [0.2, -0.1]])
    assert (result.limit_violations, result.delta_violations) == (2, 0)
    assert result.was_modified
    assert "2 value(s) outside the limits clamped; first: step 0 dim 0 = 2.0 > upper 1.0" in result.reasons[0]
    np.testing.assert_array_equal(chunk, original)


def test_one_sided_and_infinite_limits():
    result = _guard(upper=(1.0, np.inf)).check(np.array([[5.0, 5.0], [-50.0, -50.0]]))
    np.testing.assert_array_equal(result.actions, [[1.0, 5.0], [-50.0, -50.0]])
    assert result.limit_violations == 1


def test_clamp_delta_between_steps():
    chunk = np.array([[0.0, 0.0], [1.0, 0.05], [2.0, -1.0]])
    result = _guard(max_delta=(0.5, 0.1)).check(chunk)
    np.testing.assert_allclose(result.actions, [[0.0, 0.0], [0.5, 0.05], [1.0, -0.05]])
    assert result.delta_violations == 3
    assert "3 value(s) clamped to max_delta; first: step 1 dim 0 would move 1" in result.reasons[0]


def test_clamp_delta_from_current_state_for_the_first_step():
    chunk = np.array([[1.0, 0.0], [1.0, 0.0]])
    result = _guard(max_delta=(0.25, 1.0)).check(chunk, current_state=np.array([0.0, 0.0]))
    np.testing.assert_allclose(result.actions, [[0.25, 0.0], [0.5, 0.0]])
    assert result.delta_violations == 2
    # Without the state, the first step is free.
    np.testing.assert_allclose(_guard(max_delta=(0.25, 1.0)).check(chunk).actions, chunk)


def test_clamp_guarantees_limits_and_rate_for_random_chunks():
    rng = np.random.default_rng(1)
    lower, upper, delta = np.array([-1.0, 0.0, -2.0]), np.array([1.0, 0.5, 2.0]), np.array([0.1, 0.05, 0.3])
    guard = ActionGuard(ActionGuardConfig(3, tuple(lower), tuple(upper), tuple(delta)))
    for _ in range(200):
        chunk = rng.normal(scale=2.0, size=(8, 3))
        state = rng.uniform(lower, upper)
        out = guard.check(chunk, current_state=state).actions
        assert np.all(out >= lower) and np.all(out <= upper)
        steps = np.diff(np.vstack([state, out]), axis=0)
        assert np.all(np.abs(steps) <= delta + 1e-12)


def test_state_outside_the_limits_walks_back_at_max_delta():
    result = _guard(lower=(-1, -1), upper=(1, 1), max_delta=(0.5, 0.5)).check(
        np.zeros((3, 2)), current_state=np.array([2.0, 0.0])
    )
    np.testing.assert_allclose(result.actions[:, 0], [1.5, 1.0, 0.5])
    assert any("current_state is outside the limits on dims [0]" in r for r in result.reasons)


# ---- reject mode ---------------------------------------------------------------------------------------


def test_reject_mode_passes_a_clean_chunk_unchanged():
    chunk = np.array([[0.1, 0.2], [0.15, 0.25]])
    result = _guard(mode="reject", lower=(-1, -1), upper=(1, 1), max_delta=(0.1, 0.1)).check(
        chunk, current_state=np.array([0.05, 0.2])
    )
    assert result.is_safe and not result.was_modified
    np.testing.assert_array_equal(result.actions, chunk)


def test_reject_mode_refuses_out_of_limit_values():
    result = _guard(mode="reject", lower=(-1, -1), upper=(1, 1)).check(np.array([[0.0, 0.0], [0.0, -1.5]]))
    assert result.actions is None
    assert result.limit_violations == 1
    assert "step 1 dim 1 = -1.5 < lower -1.0" in result.reasons[0]
    assert "chunk refused" in result.reasons[0]


def test_reject_mode_refuses_jumps_between_steps_and_from_the_state():
    guard = _guard(mode="reject", max_delta=(0.1, 0.1))
    between = guard.check(np.array([[0.0, 0.0], [0.0, 0.05], [0.3, 0.05]]))
    assert between.actions is None and between.delta_violations == 1
    assert "first: step 2 dim 0 moves 0.3 from step 1 > max_delta 0.1" in between.reasons[0]
    from_state = guard.check(np.array([[0.5, 0.0]]), current_state=np.array([0.0, 0.0]))
    assert from_state.actions is None
    assert "step 0 dim 0 moves 0.5 from current_state" in from_state.reasons[0]


def test_reject_mode_reports_both_kinds():
    result = _guard(mode="reject", upper=(1, 1), max_delta=(0.1, 0.1)).check(np.array([[0.0, 0.0], [2.0, 0.0]]))
    assert result.actions is None
    assert (result.limit_violations, result.delta_violations) == (1, 1)
    assert len(result.reasons) == 2


# ---- staleness -----------------------------------------------------------------------------------------


def test_staleness_config_validation():
    with pytest.raises(ConfigError, match="max_age_ns=0"):
        StalenessConfig(max_age_ns=0)
    with pytest.raises(ConfigError, match="max_future_ns=-1"):
        StalenessConfig(max_age_ns=1, max_future_ns=-1)
    with pytest.raises(ConfigError, match="integer number of nanoseconds"):
        StalenessConfig(max_age_ns=0.5)


def test_fresh_old_and_boundary():
    config = StalenessConfig(max_age_ns=100 * MS, max_future_ns=5 * MS)
    now = 10_000 * MS
    fresh = check_staleness(now - 40 * MS, now, config)
    assert fresh.is_fresh and fresh.age_ns == 40 * MS and fresh.reason == ""
    assert check_staleness(now - 100 * MS, now, config).is_fresh  # exactly max_age is still acted on
    stale = check_staleness(now - 100 * MS - 1, now, config)
    assert not stale.is_fresh
    assert "old > max_age 100.0 ms" in stale.reason


def test_future_stamps_beyond_the_tolerance_are_refused():
    config = StalenessConfig(max_age_ns=100 * MS, max_future_ns=5 * MS)
    now = 10_000 * MS
    ahead = check_staleness(now + 5 * MS, now, config)
    assert ahead.is_fresh and ahead.age_ns == -5 * MS
    future = check_staleness(now + 6 * MS, now, config)
    assert not future.is_fresh
    assert "6.0 ms in the future > tolerance 5.0 ms" in future.reason


def test_a_synchronised_set_is_judged_by_its_oldest_and_newest_stamps():
    config = StalenessConfig(max_age_ns=100 * MS, max_future_ns=5 * MS)
    now = 10_000 * MS
    assert check_staleness([now - 10 * MS, now - 50 * MS], now, config).age_ns == 50 * MS
    assert not check_staleness([now - 10 * MS, now - 150 * MS], now, config).is_fresh
    assert not check_staleness([now - 10 * MS, now + 50 * MS], now, config).is_fresh
    with pytest.raises(InputError, match="at least one stamp"):
        check_staleness([], now, config)


def test_unset_stamp_is_named():
    result = check_staleness(0, 50 * MS, StalenessConfig(max_age_ns=100 * MS))
    assert not result.is_fresh
    assert "does not set header.stamp" in result.reason


# ---- command gate --------------------------------------------------------------------------------------


def test_command_gate_defaults_to_disabled_and_dry_run():
    gate = CommandGate()
    assert (gate.enabled, gate.dry_run, gate.may_command, gate.state) == (False, True, False, "disabled")
    gate.enable()
    assert (gate.may_command, gate.state) == (False, "dry_run")
    gate.set_dry_run(False)
    assert (gate.may_command, gate.state, gate.reason) == (True, "commanding", "")
    gate.disable("stale observation")
    assert (gate.may_command, gate.state, gate.reason) == (False, "disabled", "stale observation")
    gate.enable()
    assert gate.may_command


def test_command_gate_dry_run_alone_never_commands():
    gate = CommandGate(dry_run=False)
    assert not gate.may_command
    assert CommandGate(dry_run=False, enabled=True).may_command


# ---- default limits, start distance, lost inputs (issue 12) ----------------------------------------------


def test_statistics_limits_widen_the_training_range_per_dimension():
    lower, upper = statistics_limits([-1.0, 0.0, 2.0], [1.0, 1.0, 2.0], margin=0.05)
    assert lower == pytest.approx((-1.1, -0.05, 2.0)) and upper == pytest.approx((1.1, 1.05, 2.0))
    lower, upper = statistics_limits([-1.0, float("nan")], [1.0, 3.0], margin=0.0)
    assert lower == (-1.0, -np.inf) and upper == (1.0, 3.0)  # a non-finite side stays unbounded
    with pytest.raises(InputError, match=r"min\[0\]=2.0 > max\[0\]=1.0"):
        statistics_limits([2.0], [1.0])
    with pytest.raises(ConfigError, match="margin"):
        statistics_limits([0.0], [1.0], margin=-0.1)


def test_default_limits_fill_only_the_empty_sides():
    config = ActionGuardConfig(action_dim=2, upper=(5.0, 5.0))
    assert config.unbounded_dims == (0, 1)
    filled = config.with_default_limits((-1.0, -2.0), (1.0, 2.0))
    assert (filled.lower, filled.upper) == ((-1.0, -2.0), (5.0, 5.0))
    assert filled.unbounded_dims == ()
    assert ActionGuardConfig(action_dim=2, lower=(-1.0, -np.inf), upper=(1.0, 1.0)).unbounded_dims == (1,)


@pytest.mark.parametrize("mode", ["clamp", "reject"])
def test_a_first_step_far_from_the_measured_state_refuses_the_chunk(mode):
    guard = _guard(max_start_distance=(0.3, np.inf), mode=mode)
    state = np.array([0.1, 0.0])
    near = guard.check(np.array([[0.35, 9.0], [2.0, 9.0]]), current_state=state)  # 0.25 away; dim 1 unbounded
    assert near.is_safe and near.start_violations == 0
    far = guard.check(np.array([[0.5, 9.0], [0.5, 9.0]]), current_state=state)  # 0.4 away
    assert not far.is_safe and far.start_violations == 1
    assert "first step is 0.4 from the measured state on dim 0" in far.reasons[0]
    assert "max_start_distance 0.3" in far.reasons[0]
    assert guard.check(np.array([[5.0, 0.0]])).is_safe  # no measured state: nothing to compare with


def test_clamp_mode_measures_the_start_after_clamping_to_the_limits():
    guard = _guard(lower=(-1.0, -1.0), upper=(1.0, 1.0), max_start_distance=(0.3, 0.3))
    result = guard.check(np.array([[3.0, 0.0]]), current_state=np.array([0.9, 0.0]))  # clamped to 1.0: 0.1 away
    assert result.is_safe and result.actions.tolist() == [[1.0, 0.0]]
    strict = _guard(lower=(-1.0, -1.0), upper=(1.0, 1.0), max_start_distance=(0.3, 0.3), mode="reject")
    assert not strict.check(np.array([[3.0, 0.0]]), current_state=np.array([0.9, 0.0])).is_safe


def test_describe_guard_is_one_line_with_every_dimension():
    config = ActionGuardConfig(
        action_dim=4,
        lower=(-1.0, -2.0, -np.inf, 0.0),
        upper=(1.0, 2.0, np.inf, 0.5),
        max_start_distance=(0.3, 0.3, 0.3, np.inf),
    )
    text = describe_guard(config, "stats.json['x']")
    assert "\n" not in text
    assert "action limits from stats.json['x']: 0:[-1,1] 1:[-2,2] 2:[-inf,inf] 3:[0,0.5]" in text
    assert "max_start_distance 0.3 on dims 0-2" in text and "max_delta none" in text
    assert "unbounded dims 2" in text and "mode clamp" in text
    assert "action limits none" in describe_guard(ActionGuardConfig(action_dim=2), "-")


def test_input_loss_is_reported_once_per_loss_after_the_chunk_and_the_staleness_limit():
    monitor = InputLossMonitor()
    age = 500 * MS
    assert not monitor.update(10_000 * MS, age)  # not armed: commands disabled
    monitor.arm(1_000 * MS)
    monitor.observed(1_000 * MS)
    monitor.commanded(1_400 * MS)  # the chunk's last point
    assert monitor.deadline_ns(age) == 1_900 * MS
    assert not monitor.update(1_900 * MS, age) and not monitor.lost
    assert monitor.update(1_901 * MS, age) and monitor.lost
    assert not monitor.update(3_000 * MS, age) and monitor.lost  # once per loss
    assert monitor.observed(3_000 * MS) and not monitor.lost  # fresh again: the loss ends
    assert not monitor.update(3_400 * MS, age)
    assert monitor.update(3_600 * MS, age)  # a second loss
    monitor.disarm()
    assert not monitor.lost and monitor.deadline_ns(age) is None


def test_input_loss_waits_for_the_clock_and_survives_time_going_backwards():
    monitor = InputLossMonitor()
    age = 500 * MS
    monitor.arm(0)  # use_sim_time before the first /clock: the clock's first jump is no loss
    assert not monitor.update(1_000_000 * MS, age)
    assert monitor.update(1_000_501 * MS, age)
    monitor.arm(1_000_600 * MS)
    monitor.commanded(1_001_000 * MS)
    assert not monitor.update(5_000 * MS, age)  # the simulator reset its clock: start over from there
    assert monitor.update(5_501 * MS, age)
