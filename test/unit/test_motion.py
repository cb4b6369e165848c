from __future__ import annotations

import math

import numpy as np
import pytest

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.core.gate import DEFAULT_JOINT, REFERENCE, ActionAwareGate
from adp_ros.core.motion import (
    ALOHA_ARM_JOINTS,
    EEF_METRIC,
    LIBERO_DELTA_SCALE_M_PER_UNIT,
    ArmJoints,
    DisplacementMetric,
    IntegratedDeltaSource,
    JointPositionSource,
)


# ---- metric ----
def reference_delta(positions: np.ndarray, method: str, min_delta_pos: float = 0.0) -> float:
    """The reference's `_compute_window_delta` arithmetic, restated for comparison."""
    if positions.shape[0] <= 1:
        return 0.0
    if method == "net":
        return float(np.linalg.norm(positions[-1] - positions[0]))
    step = np.linalg.norm(positions[1:] - positions[:-1], axis=1)
    return float(np.sum(np.where(step < min_delta_pos, 0.0, step)))


@pytest.mark.parametrize("seed", range(5))
def test_single_group_is_bitwise_the_reference(seed):
    pos = np.random.default_rng(seed).normal(0, 0.01, (9, 3))
    assert EEF_METRIC.net(pos) == reference_delta(pos, "net")
    for min_step in (0.0, 0.005, 0.01):
        assert EEF_METRIC.path_length(pos, min_step) == reference_delta(pos, "sum", min_step)


def test_fewer_than_two_samples_give_zero():
    for n in (0, 1):
        pos = np.zeros((n, 3))
        assert EEF_METRIC.net(pos) == 0.0 and EEF_METRIC.path_length(pos) == 0.0


def test_min_step_zeroes_small_steps():
    pos = np.array([[0, 0, 0], [0.001, 0, 0], [0.011, 0, 0], [0.0115, 0, 0]])
    assert EEF_METRIC.path_length(pos) == pytest.approx(0.0115)
    assert EEF_METRIC.path_length(pos, min_step=0.002) == pytest.approx(0.01)


def test_groups_combine():
    # Left arm moves 0.3 rad (net), right arm 0.4 rad.
    pos = np.zeros((2, 4))
    pos[1] = [0.3, 0.0, 0.0, 0.4]
    for combine, want in (("max", 0.4), ("sum", 0.7), ("l2", 0.5)):
        m = DisplacementMetric(group_sizes=(2, 2), combine=combine, unit="rad")
        assert m.dim == 4
        assert m.net(pos) == pytest.approx(want)
        assert m.per_group_net(pos) == pytest.approx([0.3, 0.4])


def test_l2_net_equals_plain_joint_norm():
    pos = np.random.default_rng(0).normal(0, 0.1, (10, 12))
    m = DisplacementMetric(group_sizes=(6, 6), combine="l2", unit="rad")
    assert m.net(pos) == pytest.approx(float(np.linalg.norm(pos[-1] - pos[0])))


def test_path_length_is_per_arm_then_combined():
    # Arm A goes out and back (path 0.2, net 0); arm B moves 0.15 once.
    pos = np.zeros((3, 2))
    pos[1] = [0.1, 0.0]
    pos[2] = [0.0, 0.15]
    m = DisplacementMetric(group_sizes=(1, 1), combine="max", unit="rad")
    assert m.path_length(pos) == pytest.approx(0.2)
    assert m.net(pos) == pytest.approx(0.15)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"group_sizes": ()}, "group_sizes"),
        ({"group_sizes": (3, 0)}, "group_sizes"),
        ({"combine": "mean"}, r"combine='mean'.*'max' is the safe choice"),
        ({"unit": "deg"}, "unit"),
        ({"group_sizes": (3,), "group_names": ("a", "b")}, "group_names"),
    ],
)
def test_metric_validation(kwargs, pattern):
    with pytest.raises(ConfigError, match=pattern):
        DisplacementMetric(**kwargs)


# ---- end-effector sources ----
def test_integrated_delta_source_scales_translation():
    src = IntegratedDeltaSource()
    assert src.scale_m_per_unit == LIBERO_DELTA_SCALE_M_PER_UNIT
    action = [0.2, -0.4, 1.0, 0.5, 0.5, 0.5, -1.0]  # dx dy dz, rotation, gripper: only xyz integrates
    p1 = src.step(action)
    np.testing.assert_allclose(p1, [0.01, -0.02, 0.05])
    out = src.steps([action, action])
    np.testing.assert_allclose(out[-1], [0.03, -0.06, 0.15])
    src.reset()
    assert src.position.tolist() == [0.0, 0.0, 0.0]


def test_integrated_delta_source_custom_indices_and_errors():
    src = IntegratedDeltaSource(scale_m_per_unit=1.0, translation_indices=(2, 1, 0))
    np.testing.assert_allclose(src.step([1, 2, 3]), [3, 2, 1])
    with pytest.raises(InputError, match="need at least 3"):
        src.step([1, 2])
    with pytest.raises(InputError, match="NaN"):
        src.step([np.nan, 0, 0])
    with pytest.raises(ConfigError, match="scale_m_per_unit"):
        IntegratedDeltaSource(scale_m_per_unit=0.0)
    with pytest.raises(ConfigError, match="translation_indices"):
        IntegratedDeltaSource(translation_indices=(0, 0, 1))
    with pytest.raises(InputError, match="expected"):
        src.steps([1, 2, 3])


def test_gate_on_integrated_predicted_deltas():
    """Delta-EE policy without a pose topic: coarse predicted motion prunes, zero deltas stay dense."""
    src = IntegratedDeltaSource()
    gate = ActionAwareGate()  # default preset, metres
    t = 0
    gate.observe(t, src.position)
    letters = [gate.decide(t).mode_letter]
    for chunk in range(12):
        dx = 0.4 if chunk < 8 else 0.0  # 0.4 units × 0.05 m = 2 cm/step, then still
        for _ in range(8):
            t += 50_000_000
            gate.observe(t, src.step([dx, 0, 0, 0, 0, 0, 1]))
        letters.append(gate.decide(t).mode_letter)
    assert "".join(letters[:7]) == "DDDPPPD"  # cold start, 3 pruned, cap
    assert set(letters[10:]) == {"D"}


# ---- joint sources ----
def test_aloha_arms_on_separate_topics():
    src = JointPositionSource.aloha()
    assert src.unit == "rad" and src.metric.group_sizes == (6, 6) and src.metric.combine == "max"
    names = [*ALOHA_ARM_JOINTS, "left_finger", "right_finger"]
    assert src.update(names, np.arange(8) * 0.1, arm="left") is None  # right arm not heard from yet
    v = src.update(list(reversed(names)), np.arange(8)[::-1] * 1.0, arm="right")
    assert v is not None and v.shape == (12,)
    np.testing.assert_allclose(v[:6], np.arange(6) * 0.1)
    np.testing.assert_allclose(v[6:], np.arange(6) * 1.0)  # order by name, not by message position
    src.reset()
    assert src.update(names, np.zeros(8), arm="left") is None


def test_single_topic_with_prefixed_names_and_weights():
    src = JointPositionSource(
        [
            ArmJoints("left", ("left_j1", "left_j2"), weights=(1.0, 0.5)),
            ArmJoints("right", ("right_j1", "right_j2")),
        ],
        combine="sum",
    )
    v = src.update(["right_j2", "left_j1", "right_j1", "left_j2", "left_gripper"], [4, 1, 3, 2, 9])
    np.testing.assert_allclose(v, [1.0, 1.0, 3.0, 4.0])
    assert src.metric.combine == "sum" and src.metric.group_names == ("left", "right")


def test_joint_source_errors():
    src = JointPositionSource.aloha()
    with pytest.raises(InputError, match="lacks joints"):
        src.update(["waist"], [0.0], arm="left")
    with pytest.raises(InputError, match="unknown arm 'middle'"):
        src.update(list(ALOHA_ARM_JOINTS), np.zeros(6), arm="middle")
    with pytest.raises(InputError, match="contain no complete arm"):
        src.update(["a", "b"], [0.0, 0.0])
    with pytest.raises(InputError, match="2 names but 3 positions"):
        src.update(["a", "b"], [0.0, 0.0, 0.0])
    with pytest.raises(InputError, match="NaN"):
        src.update(list(ALOHA_ARM_JOINTS), [0, 0, np.nan, 0, 0, 0], arm="left")
    with pytest.raises(ConfigError, match="unique"):
        JointPositionSource([ArmJoints("a", ("j",)), ArmJoints("a", ("k",))])
    with pytest.raises(ConfigError, match="weights"):
        ArmJoints("a", ("j", "k"), weights=(1.0,))
    with pytest.raises(ConfigError, match="non-empty and unique"):
        ArmJoints("a", ("j", "j"))
    with pytest.raises(ConfigError, match="at least one arm"):
        JointPositionSource([])


def _bimanual_run(config, left_speed, right_speed, *, noise=0.0, chunks=12, seed=0):
    """Two 6-joint arms at 100 Hz, 25-step chunks; returns the modes string."""
    rng = np.random.default_rng(seed)
    src = JointPositionSource.aloha()
    gate = ActionAwareGate(config, metric=src.metric)
    q = {"left": np.zeros(6), "right": np.zeros(6)}
    t, letters = 0, []
    letters.append(gate.decide(t).mode_letter)
    for _ in range(chunks):
        for _ in range(25):
            t += 10_000_000
            q["left"] = q["left"] + left_speed
            q["right"] = q["right"] + right_speed
            for arm in ("left", "right"):
                v = src.update(ALOHA_ARM_JOINTS, q[arm] + rng.normal(0, noise, 6), arm=arm)
                if v is not None:
                    gate.observe(t, v)
        letters.append(gate.decide(t).mode_letter)
    return "".join(letters[:-1]), gate


def test_bimanual_one_arm_moving_reads_as_that_arm():
    modes, gate = _bimanual_run(REFERENCE, left_speed=0.01, right_speed=0.0)
    assert modes.startswith("DDDPPP")
    # Per chunk the left arm moves 25 × 0.01 rad on each of 6 joints; max picks it, undiluted by the idle arm.
    assert gate.history[-1] == pytest.approx(0.25 * math.sqrt(6))


def test_bimanual_standstill_with_encoder_noise():
    # ~2 ticks of a 4096-tick encoder per joint: the reference flips, default_joint stays dense.
    noise = 2 * 2 * math.pi / 4096
    ref, _ = _bimanual_run(REFERENCE, 0.0, 0.0, noise=noise, chunks=40)
    safe, _ = _bimanual_run(DEFAULT_JOINT, 0.0, 0.0, noise=noise, chunks=40)
    assert "P" in ref
    assert set(safe) == {"D"}
    coarse, _ = _bimanual_run(DEFAULT_JOINT, 0.004, 0.002, noise=noise, chunks=12)
    assert "PPP" in coarse
