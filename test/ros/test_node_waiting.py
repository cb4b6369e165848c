"""A node started alone says what it waits for (issue 13): while no synchronised observation arrives it logs
the input topics with the messages seen on each, at a low rate. ROS time is the test's /clock."""

from __future__ import annotations

import pytest
from node_harness import MS, Harness, ManualClock, wait_until

pytestmark = pytest.mark.ros

SEC = 1_000 * MS


class ConsoleLog:
    """The node's log lines as printed (captured at the file descriptors, where rcutils writes them). Not
    /rosout: its publisher is looked up by logger name, and a node of an earlier test in this process may
    still hold "adp_policy_node" until it is garbage-collected."""

    def __init__(self, capfd: pytest.CaptureFixture) -> None:
        self._capfd = capfd
        self._text = ""

    def waiting(self) -> list[str]:
        out, err = self._capfd.readouterr()
        self._text += out + err
        marker = "[adp_policy_node]: "
        lines = [line.split(marker, 1)[1] for line in self._text.splitlines() if marker in line]
        return [line for line in lines if line.startswith("waiting for input")]


def test_active_node_without_input_logs_what_it_waits_for(ros_context, tiny_libero_checkpoint, capfd):
    from adp_ros.core.diagnostics import WAITING_LOG_PERIOD_SEC

    h = Harness(ros_context, tiny_libero_checkpoint, start=False, params={"use_sim_time": True})
    log = ConsoleLog(capfd)
    try:
        clock = ManualClock(h, 1_000 * SEC)
        clock.set(clock.now_ns)
        assert h.node.start_up()
        start = clock.now_ns
        assert wait_until(lambda: h._pubs["joint_states"].get_subscription_count() > 0, 10.0)
        for i in range(3):  # joint states only: the cameras never come
            h._pubs["joint_states"].publish(h.joint_state(start + i * MS))
        assert wait_until(lambda: h.node._sync.stats().received[2] == 3, 10.0)

        clock.set(start + SEC // 2)  # within diagnostics.input_timeout_sec (1 s): not waiting yet
        clock.set(start + 2 * SEC)
        assert wait_until(log.waiting, 10.0), "no waiting log"
        first = log.waiting()[0]
        for part in (
            "/camera/primary/image_raw: 0",
            "/camera/wrist/image_raw: 0",
            "/joint_states: 3",
            "/eef_pose: 0",
            "for 2.0 s",
        ):
            assert part in first, first

        # At a low rate: nothing more within the period (the status timer runs every second meanwhile) ...
        for t in range(3, 2 + int(WAITING_LOG_PERIOD_SEC)):
            clock.set(start + t * SEC)
        h._pubs["joint_states"].publish(h.joint_state(start + 5 * SEC))
        assert wait_until(lambda: h.node._sync.stats().received[2] == 4, 10.0)
        assert len(log.waiting()) == 1, log.waiting()
        # ... then again, with the counts so far.
        clock.set(start + (3 + int(WAITING_LOG_PERIOD_SEC)) * SEC)
        assert wait_until(lambda: len(log.waiting()) == 2, 10.0), log.waiting()
        assert "/joint_states: 4" in log.waiting()[1]

        # Observations arrive, one per second of ROS time: nothing to wait for, nothing logged.
        for i in range(1, 2 + int(WAITING_LOG_PERIOD_SEC)):
            h.publish(clock.now_ns)
            assert wait_until(lambda i=i: h.node.counters()["observations_received"] >= i, 10.0)
            clock.set(clock.now_ns + SEC // 2)
            clock.set(clock.now_ns + SEC // 2)
        assert len(log.waiting()) == 2, log.waiting()
    finally:
        h.close()
