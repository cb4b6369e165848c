"""output.streams in the running node: one twist / pose target / gripper command per control period from the
current chunk, the hand-over to the next chunk, the hold after a chunk runs out, preview vs command topics and
the zero twist on disable. ROS time is a /clock the test sets (use_sim_time), so every message is checked by
its stamp and no wall-clock rate is asserted."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from node_harness import MS, NODE, Harness, ManualClock, stamp_of, wait_until

from adp_ros.core.rotations import quat_multiply
from adp_ros.core.streaming import GripperMapping

pytestmark = pytest.mark.ros

DT = 50 * MS  # LIBERO: 20 Hz
T0 = 1_000_000 * MS
BASE_XYZ = np.array([0.4, 0.0, 0.3])  # the harness's measured pose: (0.4, 0, 0.3), pointing down
BASE_QUAT = np.array([1.0, 0.0, 0.0, 0.0])
STREAM_PARAMS = {
    "use_sim_time": True,
    "control.mode": "on_observation",  # one chunk per observation the test publishes
    "output.streams": ["twist", "pose", "gripper"],
    "output.frame_id": "",  # the harness's pose has no frame_id
    "safety.dry_run": False,
}


class _Chunk:
    """A published MultiDOFJointTrajectory, read back: per-step deltas in metres / quaternions, gripper."""

    def __init__(self, msg) -> None:
        self.start_ns = stamp_of(msg)  # trajectory_start publish with a frozen clock: offset 0
        eef = [p.transforms[0] for p in msg.points]
        self.translation = np.array([[t.translation.x, t.translation.y, t.translation.z] for t in eef])
        self.rotation = np.array([[t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w] for t in eef])
        self.gripper = np.array([p.transforms[1].translation.x for p in msg.points])
        self.steps = len(msg.points)

    def step_at(self, t_ns: int) -> int:
        return (t_ns - self.start_ns) // DT

    def target(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = BASE_QUAT
        for i in range(k + 1):
            q = quat_multiply(self.rotation[i], q)
        return BASE_XYZ + self.translation[: k + 1].sum(axis=0), q


def _vec(v) -> list[float]:
    return [v.x, v.y, v.z]


def _zero_twists(msgs: list) -> list:
    return [m for m in msgs if _vec(m.twist.linear) == _vec(m.twist.angular) == [0.0, 0.0, 0.0]]


class _Streams:
    def __init__(self, h: Harness) -> None:
        from geometry_msgs.msg import PoseStamped, TwistStamped
        from trajectory_msgs.msg import JointTrajectory, MultiDOFJointTrajectory

        self.h = h
        self.chunks = h.record(MultiDOFJointTrajectory, NODE + "/preview")
        self.twist = h.record(TwistStamped, NODE + "/twist")
        self.pose = h.record(PoseStamped, NODE + "/pose_target")
        self.gripper = h.record(JointTrajectory, NODE + "/gripper")
        self.preview_twist = h.record(TwistStamped, NODE + "/preview/twist")
        self.preview_pose = h.record(PoseStamped, NODE + "/preview/pose_target")
        self.preview_gripper = h.record(JointTrajectory, NODE + "/preview/gripper")

    def chunk(self, clock: ManualClock) -> _Chunk:
        """Publish an observation at the clock's time; the chunk it gives (published at that same ROS time)."""
        count = len(self.chunks)
        self.h.publish(clock.now_ns)
        assert wait_until(lambda: len(self.chunks) > count, 15.0), "no chunk for the observation"
        return _Chunk(self.chunks[-1])

    @staticmethod
    def at(store: list, t_ns: int, timeout: float = 10.0):
        found = wait_until(lambda: [m for m in store if stamp_of(m) == t_ns], timeout)
        assert found, f"nothing stamped {t_ns}"
        return found[-1]


def _check_step(streams: _Streams, chunk: _Chunk, t: int, *, command: bool = True) -> None:
    twist_store, pose_store, grip_store = (
        (streams.twist, streams.pose, streams.gripper)
        if command
        else (streams.preview_twist, streams.preview_pose, streams.preview_gripper)
    )
    k = chunk.step_at(t)
    twist, pose, grip = (_Streams.at(s, t) for s in (twist_store, pose_store, grip_store))
    if k < chunk.steps:  # the step's delta over the period
        np.testing.assert_allclose(_vec(twist.twist.linear), chunk.translation[k] / 0.05, atol=1e-6)
    else:  # ran out: a zero twist, the last target and gripper held
        assert _vec(twist.twist.linear) == _vec(twist.twist.angular) == [0.0, 0.0, 0.0]
        k = chunk.steps - 1
    xyz, quat = chunk.target(k)
    np.testing.assert_allclose(_vec(pose.pose.position), xyz, atol=1e-9)
    o = pose.pose.orientation
    np.testing.assert_allclose([o.x, o.y, o.z, o.w], quat, atol=1e-9)
    expected = GripperMapping().position(chunk.gripper[k])
    assert list(grip.joint_names) == ["panda_finger_joint1", "panda_finger_joint2"]
    np.testing.assert_allclose(grip.points[0].positions, [expected, expected], atol=1e-12)


@contextlib.contextmanager
def _started_node(ros_context, checkpoint):
    """A node with every stream, configured and active at T0 on a manual /clock; closed afterwards."""
    h = Harness(ros_context, checkpoint, start=False, params=STREAM_PARAMS)
    try:
        clock = ManualClock(h, T0)
        clock.set(T0)
        assert h.node.start_up()
        streams = _Streams(h)
        assert h.wait_subscribed()
        yield h, clock, streams
    finally:
        h.close()


def test_streams_follow_the_current_step_hand_over_and_hold(ros_context, tiny_libero_checkpoint):
    with _started_node(ros_context, tiny_libero_checkpoint) as (h, clock, streams):
        assert h.call_enable(True).success
        a = streams.chunk(clock)
        assert a.start_ns == T0 and a.steps == 8
        for j in (1, 2, 3):  # one control period at a time: step j of the chunk
            clock.set(T0 + j * DT)
            _check_step(streams, a, clock.now_ns)
            _check_step(streams, a, clock.now_ns, command=False)  # the preview says the same

        # Hand-over mid-period: the new chunk starts at its publish time; from there on it is current.
        clock.set(T0 + 3 * DT + 20 * MS)
        b = streams.chunk(clock)
        assert b.start_ns == clock.now_ns
        clock.set(T0 + 4 * DT)
        assert b.step_at(clock.now_ns) == 0
        _check_step(streams, b, clock.now_ns)
        for j in range(5, 13):  # B's steps, then past its end: zero twist, last pose target and gripper
            clock.set(T0 + j * DT)
            _check_step(streams, b, clock.now_ns)
        assert b.step_at(clock.now_ns) >= b.steps
        twists = [m for m in streams.twist if stamp_of(m) > T0 + 3 * DT]
        assert twists and all(stamp_of(m) >= b.start_ns for m in twists)  # nothing of A after the hand-over


def test_streams_command_only_while_enabled_and_stop_with_a_zero_twist(ros_context, tiny_libero_checkpoint):
    with _started_node(ros_context, tiny_libero_checkpoint) as (h, clock, streams):
        a = streams.chunk(clock)  # commands disabled: preview only
        clock.set(T0 + DT)
        _check_step(streams, a, clock.now_ns, command=False)
        assert h.call_enable(True).success
        clock.set(T0 + 2 * DT)
        _check_step(streams, a, clock.now_ns, command=False)
        assert streams.twist == [], "a chunk published while disabled is never commanded"

        clock.set(T0 + 2 * DT + 10 * MS)
        b = streams.chunk(clock)  # published while enabled: commanded
        clock.set(T0 + 3 * DT)
        _check_step(streams, b, clock.now_ns)

        before = len(streams.twist)
        assert h.call_enable(False).success
        assert wait_until(lambda: _zero_twists(streams.twist[before:]), 5.0), "no zero twist on disable"
        sent = (len(streams.twist), len(streams.pose), len(streams.gripper))
        clock.set(T0 + 4 * DT)
        _check_step(streams, b, clock.now_ns, command=False)  # the preview goes on
        assert h.call_enable(True).success  # re-enabled: B (disabled since) is not resumed
        clock.set(T0 + 5 * DT)
        _check_step(streams, b, clock.now_ns, command=False)
        assert (len(streams.twist), len(streams.pose), len(streams.gripper)) == sent

        clock.set(T0 + 5 * DT + 10 * MS)
        c = streams.chunk(clock)
        clock.set(T0 + 6 * DT)
        _check_step(streams, c, clock.now_ns)
        before = len(streams.twist)
        h.node.trigger_deactivate()  # deactivated while commanding: a zero twist again
        assert wait_until(lambda: _zero_twists(streams.twist[before:]), 5.0), "no zero twist on deactivate"
