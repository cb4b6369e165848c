"""Safe defaults of the action guard and the hold on lost inputs (issue 12, items 4 and 6).

- Limits come from the checkpoint's own dataset_statistics.json (min/max widened by safety.statistics_margin);
  explicit safety.action_lower/upper win. Absolute-joint policies (ALOHA) also bound the first point's distance
  from the measured joints: a chunk that would jump is refused.
- ~/enable is refused while an action dimension has no limit, unless safety.allow_unbounded.
- Observations lost while commanding: one stop message per loss and /diagnostics at ERROR naming the inputs.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from node_harness import MS, NODE, Harness, ManualClock, wait_until

pytestmark = pytest.mark.ros

SEC = 1_000 * MS
ARMS = [*range(6), *range(7, 13)]  # ALOHA's arm joints; 6 and 13 are the grippers


def _skipped(h, kind):
    return [kv for kv in h.latency() if kv.get("skipped") == kind]


def _action_stats(checkpoint):
    stats = json.loads((checkpoint / "dataset_statistics.json").read_text())
    action = next(iter(stats.values()))["action"]
    return np.array(action["min"]), np.array(action["max"])


def _stream_with_joints(h, predicate, positions, timeout=15.0):
    """Observations with the joints measured at `positions`, freshly stamped, until `predicate()`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stamp = h.now_ns()
        h.publish(stamp, joint_state=h.joint_state(stamp, positions=positions))
        if predicate():
            break
        time.sleep(1 / 30)
    return predicate()


class ConsoleLog:
    """The node's log lines as printed (rcutils writes them to the file descriptors; see test_node_waiting)."""

    def __init__(self, capfd: pytest.CaptureFixture) -> None:
        self._capfd = capfd
        self._text = ""

    def lines(self, prefix: str) -> list[str]:
        out, err = self._capfd.readouterr()
        self._text += out + err
        marker = "[adp_policy_node]: "
        lines = [line.split(marker, 1)[1] for line in self._text.splitlines() if marker in line]
        return [line for line in lines if line.startswith(prefix)]


# ------------------------------------------------------------------------------------------- item 4


def test_aloha_defaults_refuse_a_jump_from_the_measured_joints_and_clamp_to_the_training_range(
    node_harness, tiny_aloha_checkpoint
):
    from trajectory_msgs.msg import JointTrajectory

    low, high = _action_stats(tiny_aloha_checkpoint)
    margin = 0.05 * (high - low)
    h = node_harness("aloha", params={"control.mode": "fixed_rate", "control.query_rate_hz": 10.0})
    preview = h.record(JointTrajectory, NODE + "/preview")
    h.record_latency()
    assert h.wait_subscribed()

    # The arm joints measured 3 rad away from anything the policy was trained on: the first point would jump.
    far = np.full(14, 3.0)
    assert _stream_with_joints(h, lambda: _skipped(h, "refused"), far), "a first point 1.5+ rad away got through"
    reason = _skipped(h, "refused")[-1]["reason"]
    assert "from the measured state" in reason and "max_start_distance 0.3" in reason, reason
    assert preview == []

    # Joints inside the training range, the start bound widened: the chunk is clamped to min/max ± 5 %.
    assert h.set_parameters({"safety.max_start_distance": [10.0]})[0].successful
    assert _stream_with_joints(h, lambda: preview, np.zeros(14)), "no chunk"
    points = np.array([p.positions for p in preview[-1].points])
    assert points.shape == (25, 14)
    assert np.all(points >= low - margin - 1e-9) and np.all(points <= high + margin + 1e-9)
    at_limit = np.isclose(points, low - margin, atol=1e-9) | np.isclose(points, high + margin, atol=1e-9)
    assert at_limit.any(), "the random policy leaves the training range: some values must have been clamped"
    assert wait_until(lambda: any(kv.get("guard_modified") == "true" for kv in h.latency()), 5.0)


@pytest.mark.parametrize(
    "params",
    [
        {"safety.action_lower": [-float("inf")] * 7, "safety.action_upper": [float("inf")] * 7},
        {"safety.limits_from_statistics": False},
    ],
    ids=["explicit_inf", "statistics_off"],
)
def test_enable_is_refused_while_no_limits_are_in_effect(node_harness, params):
    h = node_harness("libero", params={**params, "safety.enable_on_activate": True})
    assert h.node.diagnostics_snapshot().command_state == "disabled", "enable_on_activate without limits"
    response = h.call_enable(True)
    assert not response.success
    assert "no action limit" in response.message and "safety.allow_unbounded" in response.message
    assert h.node.diagnostics_snapshot().command_state == "disabled"

    assert h.set_parameters({"safety.allow_unbounded": True})[0].successful
    response = h.call_enable(True)
    assert response.success, response.message
    assert h.node.diagnostics_snapshot().command_state == "commanding"


def test_removing_the_limits_while_commanding_disables_commands(node_harness):
    h = node_harness("libero", params={"safety.enable_on_activate": True})
    assert h.node.diagnostics_snapshot().command_state == "commanding"  # the statistics' limits are in effect
    assert h.set_parameters({"safety.limits_from_statistics": False})[0].successful
    assert wait_until(lambda: h.node.diagnostics_snapshot().command_state == "disabled", 5.0)
    assert not h.call_enable(True).success


@pytest.mark.parametrize("preset", ["aloha", "libero"])
def test_configure_logs_the_limits_in_force(ros_context, tiny_aloha_checkpoint, tiny_libero_checkpoint, capfd, preset):
    checkpoint = tiny_aloha_checkpoint if preset == "aloha" else tiny_libero_checkpoint
    log = ConsoleLog(capfd)
    h = Harness(ros_context, checkpoint, preset=preset)
    try:
        lines = log.lines("safety:")
        assert len(lines) == 1, lines
        line = lines[0]
        low, high = _action_stats(checkpoint)
        lower, upper = low - 0.05 * (high - low), high + 0.05 * (high - low)
        assert f"dataset_statistics.json['tiny_{preset}']" in line and "+/-5% of the range" in line, line
        for d in (0, len(low) - 1):  # the last one is LIBERO's unnormalised gripper
            assert f"{d}:[{lower[d]:.4g},{upper[d]:.4g}]" in line, line
        assert "mode clamp" in line and "max_delta none" in line, line
        if preset == "aloha":
            assert "max_start_distance 0.3 on dims 0-5,7-12" in line, line
        else:
            assert "max_start_distance none" in line, line
    finally:
        h.close()


# ------------------------------------------------------------------------------------------- item 6


def test_inputs_lost_while_commanding_send_one_stop_and_raise_an_error(ros_context, tiny_libero_checkpoint):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    h = Harness(
        ros_context,
        tiny_libero_checkpoint,
        start=False,
        params={"use_sim_time": True, "safety.enable_on_activate": True, "control.mode": "on_observation"},
    )
    try:
        command = h.record(MultiDOFJointTrajectory, NODE + "/command")
        statuses = h.record(DiagnosticArray, "/diagnostics")
        clock = ManualClock(h, 1_000 * SEC)
        clock.set(clock.now_ns)
        assert h.node.start_up()
        assert h.wait_subscribed()
        assert wait_until(lambda: h.node.diagnostics_snapshot().command_state == "commanding", 5.0)

        def states_only(at_ns: int) -> None:  # the joint states and the pose keep coming, the cameras stop
            clock.set(at_ns)
            h._pubs["joint_states"].publish(h.joint_state(at_ns))
            h._pubs["eef_pose"].publish(h.pose(at_ns))

        def stops() -> list:
            return [m for m in command if not m.points]

        t0 = clock.now_ns
        h.publish(t0)
        assert wait_until(lambda: len(command) == 1, 10.0), "no chunk commanded"
        # The chunk: 8 steps of 50 ms from t0, so it ends at t0 + 0.4 s; observations stay fresh for 0.5 s:
        # the inputs are lost after t0 + 0.9 s.
        for t in (300, 600, 850):
            states_only(t0 + t * MS)
        time.sleep(0.3)
        assert stops() == [], "stop before the chunk ran out and the staleness limit passed"
        assert h.node.diagnostics_snapshot().level_name != "ERROR"

        states_only(t0 + 950 * MS)
        assert wait_until(lambda: len(stops()) == 1, 5.0), "no stop message on losing the inputs"
        snapshot = h.node.diagnostics_snapshot()
        assert snapshot.level_name == "ERROR", snapshot.message
        assert "inputs lost while commanding" in snapshot.message, snapshot.message
        assert "no message on /camera/primary/image_raw, /camera/wrist/image_raw" in snapshot.message
        assert "/joint_states" not in snapshot.message.split("no message on", 1)[1].split(";")[0]

        # Once per loss; ERROR on /diagnostics until fresh observations return.
        states_only(t0 + 2 * SEC)
        assert wait_until(
            lambda: any(
                s.level[0] == DiagnosticStatus.ERROR[0] and "inputs lost" in s.message
                for m in statuses
                for s in m.status
            ),
            5.0,
        ), "no ERROR on /diagnostics"
        time.sleep(0.2)
        assert len(stops()) == 1

        t1 = clock.now_ns
        h.publish(t1)
        assert wait_until(lambda: len(command) == 3 and len(command[-1].points) == 8, 10.0), "not resumed"
        assert "inputs lost" not in h.node.diagnostics_snapshot().message

        # A second loss: a second stop.
        states_only(t1 + 1_000 * MS)
        assert wait_until(lambda: len(stops()) == 2, 5.0), "no stop on the second loss"
    finally:
        h.close()
