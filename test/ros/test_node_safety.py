"""Safety on hardware: stale and bad inputs are not acted on, model errors and NaN chunks are reported while
the node keeps running, the action guard limits chunks, and commands need ~/enable (std_srvs/SetBool)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from node_harness import MS, NODE, Harness, wait_until

pytestmark = pytest.mark.ros


def _skipped(h, kind):
    return [kv for kv in h.latency() if kv.get("skipped") == kind]


def _assert_recovers(h, preview):
    """The node is alive: good observations produce a chunk again."""
    n = len(preview)
    assert h.stream_until(lambda: len(preview) > n, timeout=10.0), "no chunk after the bad input"


def test_stale_observations_are_not_acted_on(node_harness):
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    h = node_harness("libero", params={"safety.max_observation_age_sec": 0.5})
    preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
    h.record_latency()
    assert h.wait_subscribed()
    for _ in range(20):
        h.publish(h.now_ns() - 2_000 * MS)  # camera stamps two seconds old
        if _skipped(h, "stale"):
            break
        wait_until(lambda: _skipped(h, "stale"), 0.05)
    assert preview == []
    reason = _skipped(h, "stale")[-1]["reason"]
    assert "old > max_age 500.0 ms" in reason
    snapshot = h.node.diagnostics_snapshot()
    assert snapshot.level_name == "WARN" and "stale" in snapshot.message
    assert snapshot.counters["stale"] >= 1
    _assert_recovers(h, preview)


@pytest.mark.parametrize("problem", ["encoding", "joint_names", "nan_joint"])
def test_bad_input_messages_are_reported_and_skipped(node_harness, problem):
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    from adp_ros.ros.image_conversion import array_to_imgmsg

    h = node_harness("libero")
    preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
    h.record_latency()
    assert h.wait_subscribed()

    def bad(stamp):
        if problem == "encoding":
            depth = array_to_imgmsg(np.ones((8, 8), np.float32), "32FC1", stamp_ns=stamp)
            return {"image_msgs": [depth, depth]}
        if problem == "joint_names":
            return {"joint_state": h.joint_state(stamp, names=["panda_finger_joint1", "panda_joint1"])}
        return {"joint_state": h.joint_state(stamp, positions=[0.0] * 7 + [float("nan"), 0.01])}

    expected = {"encoding": "32FC1", "joint_names": "lacks ['panda_finger_joint2']", "nan_joint": "NaN"}[problem]
    deadline_hit = wait_until(lambda: (h.publish(**bad(h.now_ns())), _skipped(h, "bad_input"))[1], 10.0, 0.05)
    assert deadline_hit, "no bad_input report"
    assert expected in _skipped(h, "bad_input")[-1]["reason"]
    assert preview == []
    assert h.node.diagnostics_snapshot().counters["bad_input"] >= 1
    _assert_recovers(h, preview)


def test_model_error_is_reported_and_the_node_keeps_running(node_harness):
    from diagnostic_msgs.msg import DiagnosticStatus
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    # An instruction longer than the LLM's 2048 positions: the policy itself refuses every chunk.
    h = node_harness("libero", params={"task.instruction": "pick up the bowl and " * 400})
    preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
    h.record_latency()
    assert h.wait_subscribed()
    assert h.stream_until(lambda: _skipped(h, "model_error"), timeout=10.0)
    assert "more than the LLM's 2048 positions" in _skipped(h, "model_error")[-1]["reason"]
    assert _skipped(h, "model_error")[-1]["_level"] == DiagnosticStatus.ERROR[0]
    snapshot = h.node.diagnostics_snapshot()
    assert snapshot.level_name == "ERROR" and "model_error" in snapshot.message
    assert preview == []
    assert h.set_parameters({"task.instruction": "pick up the bowl"})[0].successful
    _assert_recovers(h, preview)


def test_pruning_that_does_not_fit_the_model_is_refused_up_front(node_harness):
    # FastV after layer 2 needs more than the tiny LLM's 2 layers: refused live, with the reason, nothing changes.
    h = node_harness("libero")
    result = h.set_parameters({"pruning.mode": "fastv", "pruning.fastv_layer": 2})[0]
    assert not result.successful and "fastv_layer=2 must be below the LLM depth 2" in result.reason
    assert h.node.get_parameter("pruning.mode").value == "adp"
    assert all(r.successful for r in h.set_parameters({"pruning.fastv_layer": 1, "pruning.mode": "fastv"}))


def test_nan_chunk_is_never_published(ros_context, tiny_libero_checkpoint, tmp_path):
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    # A checkpoint whose statistics de-normalise the first action dimension to NaN (corrupt file).
    checkpoint = tmp_path / "nan_stats"
    shutil.copytree(tiny_libero_checkpoint, checkpoint)
    stats_file = checkpoint / "dataset_statistics.json"
    stats = json.loads(stats_file.read_text())
    next(iter(stats.values()))["action"]["q99"][0] = float("nan")
    stats_file.write_text(json.dumps(stats))
    h = Harness(ros_context, checkpoint, params={"safety.enable_on_activate": True})
    try:
        preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
        command = h.record(MultiDOFJointTrajectory, NODE + "/command")
        h.record_latency()
        assert h.wait_subscribed()
        assert h.stream_until(lambda: _skipped(h, "refused"), timeout=10.0)
        assert "non-finite" in _skipped(h, "refused")[-1]["reason"]
        assert preview == [] and command == []
    finally:
        h.close()


def test_enable_disable_service_and_stop_message(node_harness):
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    h = node_harness("libero")
    preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
    command = h.record(MultiDOFJointTrajectory, NODE + "/command")
    assert h.wait_subscribed()
    assert h.stream_until(lambda: preview, timeout=10.0)
    assert command == []

    response = h.call_enable(True)
    assert response.success and "/adp_policy_node/command" in response.message
    assert h.stream_until(lambda: command, timeout=10.0), "enabled, yet nothing commanded"
    assert len(command[-1].points) == 8

    response = h.call_enable(False)
    assert response.success
    assert wait_until(lambda: any(len(m.points) == 0 for m in command), 5.0), "no stop (empty trajectory)"
    n_commands = len(command)
    n_preview = len(preview)
    h.stream_until(lambda: len(preview) >= n_preview + 2, timeout=10.0)
    assert len(command) == n_commands, "commands after disabling"

    assert h.set_parameters({"safety.dry_run": True})[0].successful
    response = h.call_enable(True)
    assert not response.success and "dry_run" in response.message


@pytest.mark.parametrize("mode", ["clamp", "reject"])
def test_action_guard_limits(node_harness, mode):
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    limit = [1e-4] * 7
    h = node_harness(
        "libero",
        params={
            "safety.guard_mode": mode,
            "safety.action_upper": limit,
            "safety.action_lower": [-v for v in limit],
            "output.translation_scale": 1.0,
        },
    )
    preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
    h.record_latency()
    assert h.wait_subscribed()
    if mode == "reject":
        assert h.stream_until(lambda: _skipped(h, "refused"), timeout=10.0)
        assert "outside the limits" in _skipped(h, "refused")[-1]["reason"]
        assert preview == []
        return
    assert h.stream_until(lambda: preview, timeout=10.0)
    xs = [p.transforms[0].translation.x for p in preview[-1].points]
    assert max(abs(x) for x in xs) <= 1e-4 + 1e-12
    assert wait_until(lambda: any(kv.get("guard_modified") == "true" for kv in h.latency()), 5.0)
