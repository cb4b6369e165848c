"""Lifecycle (configure loads, activate publishes, deactivate stops commands without unloading, cleanup
unloads), fail-fast startup checks, and use_sim_time with a /clock publisher."""

from __future__ import annotations

import threading
import time

import pytest
from node_harness import MS, NODE, REPO_ROOT, Harness, stamp_of, wait_until

pytestmark = pytest.mark.ros


def test_transitions(node_harness):
    from rclpy.lifecycle import TransitionCallbackReturn
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    h = node_harness("libero", start=False, params={"safety.enable_on_activate": True})
    node = h.node
    preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
    command = h.record(MultiDOFJointTrajectory, NODE + "/command")
    assert node.policy is None and node.lifecycle_state == "unconfigured"

    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    policy = node.policy
    assert policy is not None and node.lifecycle_state == "inactive"
    assert h.wait_subscribed()
    h.stream(0.4, hz=20)
    assert preview == [], "inactive: nothing published"

    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert h.stream_until(lambda: command, timeout=10.0), "active + enable_on_activate: commands"

    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert wait_until(lambda: len(command[-1].points) == 0, 5.0), "deactivate stops the arm (empty trajectory)"
    n_preview, n_command = len(preview), len(command)
    h.stream(0.4, hz=20)
    assert (len(preview), len(command)) == (n_preview, n_command), "inactive: nothing published"
    assert node.policy is policy, "deactivate keeps the model loaded"

    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    assert h.stream_until(lambda: len(preview) > n_preview, timeout=10.0)
    assert node.policy is policy, "re-activation does not reload"
    assert h.node.diagnostics_snapshot().command_state == "commanding"

    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    assert node.policy is None and node.lifecycle_state == "unconfigured"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model.checkpoint": "/nonexistent/checkpoint"}, "does not exist"),
        ({"model.checkpoint": ""}, "parameter 'model.checkpoint'"),
        ({"model.unnorm_key": "bridge_orig"}, "unnorm_key='bridge_orig' is not in"),
        ({"topics.cameras": ["a", "b", "c"]}, "expects 2 (primary, wrist)"),
        ({"proprio.joint_names": ["panda_finger_joint1"]}, "proprio_dim=8"),
    ],
)
def test_startup_checks_fail_configure_with_one_clear_message(node_harness, params, message):
    from rclpy.lifecycle import TransitionCallbackReturn

    h = node_harness("libero", start=False, params=params)
    assert h.node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert h.node.lifecycle_state == "unconfigured" and h.node.policy is None
    snapshot = h.node.diagnostics_snapshot()
    assert snapshot.level_name == "ERROR"
    assert snapshot.last_event.kind == "configure_failed"
    assert message in snapshot.last_event.reason, snapshot.last_event.reason


def test_use_sim_time_follows_the_clock_topic(ros_context, tiny_libero_checkpoint):
    from rosgraph_msgs.msg import Clock
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    from adp_ros.ros.stamps import time_msg

    sim_start_ns = 1_000 * 1_000_000_000  # bag time: t = 1000 s
    h = Harness(ros_context, tiny_libero_checkpoint, params={"use_sim_time": True}, start=False)
    stop = threading.Event()
    clock_pub = h.peer.create_publisher(Clock, "/clock", 10)

    def tick() -> None:
        began = time.monotonic()
        while not stop.is_set():
            now = sim_start_ns + int((time.monotonic() - began) * 1e9)
            clock_pub.publish(Clock(clock=time_msg(now)))
            time.sleep(0.005)

    clock_thread = threading.Thread(target=tick, daemon=True)
    clock_thread.start()
    try:
        assert wait_until(lambda: h.now_ns() >= sim_start_ns, 10.0), "node clock did not follow /clock"
        assert h.node.start_up()
        preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
        h.record_latency()
        assert h.wait_subscribed()
        assert h.stream_until(lambda: preview, timeout=10.0)  # stamps from the node's (sim) clock
        stamp = stamp_of(preview[-1])
        assert sim_start_ns <= stamp < sim_start_ns + 60_000 * MS
        wall_ns = time.time_ns()
        h.publish(wall_ns)  # a wall-clock stamp is decades in the sim future: not acted on
        assert wait_until(
            lambda: any(kv.get("skipped") == "stale" and "future" in kv["reason"] for kv in h.latency()), 5.0
        )
    finally:
        stop.set()
        clock_thread.join(timeout=2.0)
        h.close()


def test_adp_node_main_autostarts_and_stops_the_arm_on_ctrl_c(ros_context, tiny_libero_checkpoint, tmp_path):
    """`adp_node --autostart` as a process: commands flow, and SIGINT sends the stop (empty trajectory)."""
    import os
    import signal
    import subprocess
    import sys

    from trajectory_msgs.msg import MultiDOFJointTrajectory

    args = [sys.executable, "-m", "adp_ros.ros.main", "--autostart", "--ros-args"]
    args += ["--params-file", str(REPO_ROOT / "config" / "libero.yaml")]
    for key, value in {
        "model.checkpoint": str(tiny_libero_checkpoint),
        "task.instruction": "pick up the red block",
        "safety.enable_on_activate": "true",
        "model.warmup": "false",
    }.items():
        args += ["-p", f"{key}:={value}"]
    log = tmp_path / "adp_node.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            args, cwd=REPO_ROOT, env=os.environ | {"PYTHONPATH": str(REPO_ROOT)}, stdout=out, stderr=subprocess.STDOUT
        )
    h = None
    try:
        h = Harness(ros_context, None)  # the peer only: the node is the process
        command = h.record(MultiDOFJointTrajectory, NODE + "/command")
        got = h.stream_until(lambda: command, timeout=30.0)
        assert got, f"no command from the adp_node process:\n{log.read_text()}"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0, log.read_text()
        stopped = wait_until(lambda: len(command[-1].points) == 0, 5.0)
        assert stopped, f"no stop message on Ctrl-C:\n{log.read_text()}"
    finally:
        if process.poll() is None:
            process.kill()
        if h is not None:
            h.close()
