"""Streaming a chunk one control period at a time (core/streaming.py): which step is current at time t, the
hand-over from one chunk to the next, the hold after a chunk runs out, pose integration and the gripper map."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.core.rotations import axis_angle_to_quat
from adp_ros.core.streaming import ChunkStream, GripperMapping, StreamChunk

MS = 1_000_000
DT = 50 * MS
T0 = 10_000 * MS


def _actions(steps: int = 4, dim: int = 7, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (steps, dim))


def _chunk(actions: np.ndarray, start_ns: int = T0, base=None, ts: float = 0.05, rs: float = 0.5) -> StreamChunk:
    return StreamChunk.from_actions(
        actions, start_ns=start_ns, dt_ns=DT, translation_scale=ts, rotation_scale=rs, base_pose=base
    )


def _rotvec_to_matrix(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    angle = np.linalg.norm(v)
    if angle < 1e-12:
        return np.eye(3)
    k = v / angle
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * K + (1 - math.cos(angle)) * K @ K


def _quat_to_matrix(q) -> np.ndarray:
    x, y, z, w = q
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


# ------------------------------------------------------------------------------------------- one chunk


def test_twist_is_the_scaled_delta_over_the_control_period():
    a = _actions()
    chunk = _chunk(a)
    np.testing.assert_allclose(chunk.linear, a[:, :3] * 0.05 / 0.05)  # 0.05 m/unit over 50 ms
    np.testing.assert_allclose(chunk.angular, a[:, 3:6] * 0.5 / 0.05)
    np.testing.assert_allclose(chunk.gripper, a[:, 6])
    assert chunk.steps == 4 and chunk.end_ns == T0 + 4 * DT
    assert chunk.positions is None and chunk.orientations is None  # no measured pose: no targets


def test_step_k_is_current_for_one_control_period_then_the_chunk_holds():
    a = _actions()
    stream = ChunkStream()
    assert stream.at(T0) is None  # nothing published yet
    stream.add(_chunk(a), commanded=True)
    assert stream.at(T0 - 1) is None  # before its start
    for k in range(4):
        for t in (T0 + k * DT, T0 + (k + 1) * DT - 1):
            cmd = stream.at(t)
            assert (cmd.step, cmd.holding) == (k, False), t
            np.testing.assert_allclose(cmd.linear, a[k, :3])
            assert cmd.gripper == a[k, 6]
    # Ran out: a zero twist, the last gripper value, still the same chunk.
    cmd = stream.at(T0 + 4 * DT)
    assert cmd.holding and cmd.step == 4 and cmd.chunk_start_ns == T0
    assert not cmd.linear.any() and not cmd.angular.any()
    assert cmd.gripper == a[-1, 6]
    assert stream.at(T0 + 1000 * DT).holding


def test_pose_targets_integrate_the_deltas_from_the_measured_pose():
    a = _actions(6)
    base_q = axis_angle_to_quat([0.3, -0.2, 1.0])
    base = np.array([0.4, 0.1, 0.3, *base_q])
    chunk = _chunk(a, base=base)
    # Reference: robosuite OSC_POSE goal = current + delta; goal orientation = R(delta) · R(current) (base frame).
    p, R = base[:3].copy(), _quat_to_matrix(base_q)
    for k in range(6):
        p = p + a[k, :3] * 0.05
        R = _rotvec_to_matrix(a[k, 3:6] * 0.5) @ R
        np.testing.assert_allclose(chunk.positions[k], p, atol=1e-12)
        np.testing.assert_allclose(_quat_to_matrix(chunk.orientations[k]), R, atol=1e-12)
        assert np.linalg.norm(chunk.orientations[k]) == pytest.approx(1.0)
    stream = ChunkStream()
    stream.add(chunk, commanded=False)
    cmd = stream.at(T0 + 2 * DT + 7)
    np.testing.assert_allclose(cmd.position, chunk.positions[2])  # the target at the end of the current step
    hold = stream.at(T0 + 6 * DT)
    np.testing.assert_allclose(hold.position, chunk.positions[-1])  # holds the last target
    np.testing.assert_allclose(hold.orientation, chunk.orientations[-1])


def test_zero_deltas_keep_the_measured_pose():
    q = axis_angle_to_quat([0.0, 0.0, 0.4])
    chunk = _chunk(np.zeros((3, 7)), base=np.array([1.0, 2.0, 3.0, *q]))
    np.testing.assert_allclose(chunk.positions, [[1.0, 2.0, 3.0]] * 3)
    np.testing.assert_allclose(chunk.orientations, [q] * 3, atol=1e-15)


def test_six_dim_actions_have_no_gripper():
    chunk = _chunk(_actions(dim=6))
    assert chunk.gripper is None
    stream = ChunkStream()
    stream.add(chunk, commanded=True)
    assert stream.at(T0).gripper is None


@pytest.mark.parametrize(
    ("actions", "base", "match"),
    [
        (np.zeros((3, 5)), None, r"needs >= 6"),
        (np.zeros(7), None, r"\(steps, action_dim\)"),
        (np.zeros((0, 7)), None, r"no steps"),
        (np.full((2, 7), np.nan), None, r"NaN or inf"),
        (np.zeros((2, 7)), np.zeros(6), r"x y z qx qy qz qw"),
        (np.zeros((2, 7)), np.array([0, 0, 0, 0, 0, 0, 0.0]), r"not a unit quaternion"),
    ],
)
def test_bad_chunks_are_input_errors(actions, base, match):
    with pytest.raises(InputError, match=match):
        _chunk(actions, base=base)


# ------------------------------------------------------------------------------------------- hand-over


def test_a_new_chunk_replaces_the_rest_of_the_old_one_at_its_start():
    old, new = _actions(8, seed=1), _actions(8, seed=2)
    stream = ChunkStream()
    stream.add(_chunk(old), commanded=True)
    handover = T0 + 5 * DT + 20 * MS  # mid-step: the new chunk's step 0 starts here, not at a step boundary
    stream.add(_chunk(new, start_ns=handover), commanded=True)
    assert stream.at(handover - 1).step == 5 and stream.at(handover - 1).chunk_start_ns == T0
    np.testing.assert_allclose(stream.at(handover - 1).linear, old[5, :3])
    cmd = stream.at(handover)
    assert (cmd.chunk_start_ns, cmd.step) == (handover, 0)
    np.testing.assert_allclose(cmd.linear, new[0, :3])
    assert stream.at(handover + 7 * DT).step == 7
    assert stream.at(handover + 8 * DT).holding and stream.at(handover + 8 * DT).chunk_start_ns == handover


def test_a_chunk_that_starts_in_the_past_skips_the_steps_already_past():
    # trajectory_start = observation: the chunk starts at its observation stamp, before it was published.
    stream = ChunkStream()
    stream.add(_chunk(_actions(8, seed=1)), commanded=True)
    obs = T0 + 2 * DT
    stream.add(_chunk(_actions(8, seed=2), start_ns=obs), commanded=True)
    published = obs + 130 * MS
    cmd = stream.at(published)
    assert (cmd.chunk_start_ns, cmd.step) == (obs, 2)


def test_a_new_chunk_drops_scheduled_chunks_that_start_at_or_after_it():
    stream = ChunkStream()
    stream.add(_chunk(_actions(seed=1), start_ns=T0 + 10 * DT), commanded=True)  # starts later...
    stream.add(_chunk(_actions(seed=2), start_ns=T0), commanded=True)  # ...but this one came after: it wins
    assert stream.at(T0 + 10 * DT).chunk_start_ns == T0
    assert stream.at(T0 + 10 * DT).holding


def test_a_chunk_before_the_next_one_starts_holds_until_then():
    stream = ChunkStream()
    stream.add(_chunk(_actions(2, seed=1)), commanded=True)
    stream.add(_chunk(_actions(2, seed=2), start_ns=T0 + 5 * DT), commanded=True)
    assert stream.at(T0 + 3 * DT).holding and stream.at(T0 + 3 * DT).chunk_start_ns == T0
    assert not stream.at(T0 + 5 * DT).holding


def test_finished_chunks_are_forgotten():
    stream = ChunkStream()
    for i in range(20):
        stream.add(_chunk(_actions(4, seed=i), start_ns=T0 + i * 4 * DT), commanded=True)
        stream.at(T0 + i * 4 * DT)
    assert len(stream) == 1


# ------------------------------------------------------------------------------------ commanding state


def test_revoke_keeps_previewing_but_never_commands_those_chunks_again():
    stream = ChunkStream()
    stream.add(_chunk(_actions(8)), commanded=True)
    assert stream.at(T0).commanded
    stream.revoke()  # commands disabled mid-chunk
    cmd = stream.at(T0 + DT)
    assert cmd is not None and cmd.step == 1 and not cmd.commanded  # still previewed
    assert not stream.at(T0 + 20 * DT).commanded  # and its hold is not commanded either
    stream.add(_chunk(_actions(8), start_ns=T0 + 21 * DT), commanded=True)  # the next chunk commands again
    assert stream.at(T0 + 21 * DT).commanded


def test_clear_forgets_everything():
    stream = ChunkStream()
    stream.add(_chunk(_actions()), commanded=True)
    stream.clear()
    assert stream.at(T0) is None and len(stream) == 0


# --------------------------------------------------------------------------------------------- gripper


def test_gripper_mapping_is_linear_and_clipped():
    m = GripperMapping(open_value=-1.0, closed_value=1.0, open_position=0.04, closed_position=0.0)
    assert m.position(-1.0) == pytest.approx(0.04)
    assert m.position(1.0) == pytest.approx(0.0)
    assert m.position(0.0) == pytest.approx(0.02)
    assert m.position(-3.0) == pytest.approx(0.04) and m.position(5.0) == pytest.approx(0.0)
    inverted = GripperMapping(open_value=1.0, closed_value=0.0, open_position=0.0, closed_position=0.8)
    assert inverted.position(0.25) == pytest.approx(0.6)


def test_gripper_mapping_rejects_equal_values():
    with pytest.raises(ConfigError, match="open_value"):
        GripperMapping(open_value=1.0, closed_value=1.0)
