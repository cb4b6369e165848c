"""Parameters from the schema: descriptors, live changes accepted (applied at the next chunk) and rejected
(with a reason, changing nothing), through the node's real parameter services."""

from __future__ import annotations

import pytest
from node_harness import INSTRUCTION, MS, NODE, wait_until

pytestmark = pytest.mark.ros


def _chunks(h):
    return [kv for kv in h.latency() if "chunk_index" in kv]


def test_every_schema_parameter_is_declared_with_its_descriptor(node_harness):
    from rcl_interfaces.msg import ParameterType

    from adp_ros.core.params import SPECS

    h = node_harness("libero", start=False)
    client = h.parameter_client()
    future = client.describe_parameters([s.name for s in SPECS])
    assert wait_until(future.done, 10.0)
    described = {d.name: d for d in future.result().descriptors}
    assert set(described) == {s.name for s in SPECS}
    window = described["gate.window"]
    assert window.type == ParameterType.PARAMETER_INTEGER
    assert (window.integer_range[0].from_value, window.integer_range[0].to_value) == (3, 64)
    assert "Live" in window.description
    keep = described["pruning.keep_ratio"]
    assert keep.floating_point_range[0].to_value == 1.0
    assert described["model.checkpoint"].read_only
    assert "one of: adp" in described["pruning.mode"].additional_constraints.replace("dense, ", "")
    assert described["pruning.camera_split"].type == ParameterType.PARAMETER_DOUBLE_ARRAY
    assert h.get_parameter("pruning.camera_split") == []  # typed empty array = the platform's split


def test_live_changes_apply_at_the_next_chunk_and_keep_the_gate_history(node_harness):
    h = node_harness("libero", params={"control.mode": "fixed_rate", "control.query_rate_hz": 10.0})
    h.record_latency()
    assert h.wait_subscribed()
    h.stream_until(lambda: len(_chunks(h)) >= 4, timeout=15.0, move=0.004)
    before = _chunks(h)[-1]
    assert before["gate_window"] == "3"

    results = h.set_parameters({"gate.window": 5, "pruning.keep_ratio": 0.25, "pruning.mode": "static"})
    assert all(r.successful for r in results), [r.reason for r in results]
    assert h.get_parameter("gate.window") == 5
    n = len(_chunks(h))
    h.stream_until(lambda: len(_chunks(h)) >= n + 2, timeout=10.0, move=0.004)
    after = _chunks(h)[-1]
    assert after["gate_window"] == "5"
    assert after["tokens_kept"] == "128" and after["pruned"] == "true"  # static: every chunk, 25 % of 512
    # The window changed, the history did not restart: no new cold start after the change.
    assert int(after["chunk_index"]) > int(before["chunk_index"])
    assert after["gate_band"] not in ("initial",)
    assert len(h.node._pipeline.runner.gate_history) >= 4


@pytest.mark.parametrize(
    ("values", "reason_part"),
    [
        ({"gate.window": 2}, "out of range"),  # the descriptor's IntegerRange (rclpy)
        ({"pruning.mode": "fastest"}, "pruning.mode"),  # choices
        ({"gate.window_min": 9}, "window_max"),  # fine alone, invalid with window_max = 8
        ({"safety.action_upper": [1.0, 2.0]}, "action_dim=7"),  # wrong length for the policy
        ({"topics.cameras": ["a", "b"]}, "not live"),  # read at configure
        ({"model.checkpoint": "/elsewhere"}, "read-only"),
    ],
)
def test_invalid_changes_are_rejected_with_a_reason_and_change_nothing(node_harness, values, reason_part):
    h = node_harness("libero")
    before = {name: h.get_parameter(name) for name in values}
    results = h.set_parameters(values)
    assert not all(r.successful for r in results)
    reasons = " ".join(r.reason for r in results)
    assert reason_part.lower() in reasons.lower(), reasons
    assert {name: h.get_parameter(name) for name in values} == before


def test_non_live_parameters_may_change_while_unconfigured(node_harness):
    h = node_harness("libero", start=False)
    assert h.set_parameters({"sync.queue_size": 3})[0].successful
    assert h.node.start_up()
    assert h.node._sync is not None
    assert not h.set_parameters({"sync.queue_size": 4})[0].successful


def test_new_instruction_from_the_topic_resets_the_gate(node_harness):
    h = node_harness("libero", params={"control.mode": "fixed_rate", "control.query_rate_hz": 10.0})
    h.record_latency()
    assert h.wait_subscribed()
    h.stream_until(lambda: len(_chunks(h)) >= 3, timeout=15.0, move=0.004)
    assert h.get_parameter("task.instruction") == INSTRUCTION
    h.send_instruction("open the top drawer and put the bowl inside")
    assert wait_until(lambda: h.get_parameter("task.instruction").startswith("open the top drawer"), 5.0)
    n = len(_chunks(h))
    h.stream_until(lambda: len(_chunks(h)) > n, timeout=10.0, move=0.004)
    first_after = _chunks(h)[n]
    assert first_after["gate_band"] == "initial"  # history reset: a first request again


@pytest.mark.parametrize(
    ("preset", "start_params", "expected_preset"),
    [
        ("libero", {"gate.preset": "reference"}, "reference"),
        ("aloha", {"safety.max_start_distance": [float("inf")]}, "default_joint"),  # random weights: far start
    ],
    ids=["reference", "aloha_default_joint"],
)
def test_an_explicit_gate_setting_wins_over_the_preset(node_harness, preset, start_params, expected_preset):
    """Issue 12: the 'default' preset's deadband (0.005) set live under another preset was answered
    successful and changed nothing, because only values that differ from 'default' overrode the preset."""
    from adp_ros.core.gate import GATE_PRESETS

    h = node_harness(preset, params={"control.mode": "fixed_rate", "control.query_rate_hz": 10.0, **start_params})
    h.record_latency()
    assert h.wait_subscribed()
    h.stream_until(lambda: _chunks(h), timeout=15.0)
    assert h.node._pipeline.runner.gate_config == GATE_PRESETS[expected_preset]
    assert GATE_PRESETS[expected_preset].standstill_deadband != 0.005

    assert h.set_parameters({"gate.standstill_deadband": 0.005})[0].successful
    n = len(_chunks(h))
    h.stream_until(lambda: len(_chunks(h)) > n + 1, timeout=10.0)  # n + 1 may have started before the set
    assert h.node._pipeline.runner.gate_config == GATE_PRESETS[expected_preset].replace(standstill_deadband=0.005)
    # Explicit stays explicit: a later preset change leaves the field alone.
    assert h.set_parameters({"gate.preset": "reference"})[0].successful
    n = len(_chunks(h))
    h.stream_until(lambda: len(_chunks(h)) > n + 1, timeout=10.0)  # n + 1 may have started before the set
    assert h.node._pipeline.runner.gate_config == GATE_PRESETS["reference"].replace(standstill_deadband=0.005)


# Every live parameter, a new value for each (set one by one, in this order, each valid with those before).
LIVE_CHANGES = {
    "task.instruction": "open the top drawer",
    "control.mode": "fixed_rate",
    "control.query_rate_hz": 8.0,
    "control.control_hz": 10.0,
    "control.execute_steps": 6,
    "control.lead_steps": 1,
    "control.trajectory_start": "observation",
    "output.translation_scale": 0.1,
    "output.rotation_scale": 0.25,
    "output.frame_id": "world",
    "output.gripper_open_value": 0.9,
    "output.gripper_closed_value": 0.1,
    "output.gripper_open_position": 0.035,
    "output.gripper_closed_position": 0.002,
    "gate.preset": "default_joint",
    "gate.decision_method": "avg",
    "gate.window": 5,
    "gate.max_consecutive_pruned": 2,
    "gate.displacement": "path_length",
    "gate.middle_band": "hold",
    "gate.initial_state": "pruned",
    "gate.min_step": 0.001,
    "gate.standstill_deadband": 0.005,  # the 'default' preset's value, not default_joint's (issue 12)
    "gate.deadband_history": "reset",
    "gate.adaptive_window": True,
    "gate.window_min": 4,
    "gate.window_max": 10,
    "gate.adaptive_change_scale": 0.8,
    "pruning.mode": "static",
    "pruning.keep_ratio": 0.25,
    "pruning.camera_split": [1.0, 3.0],
    "pruning.position_mode": "original",
    "pruning.readout": "reference",
    "pruning.fastv_layer": 1,
    "pruning.random_seed": 7,
    "safety.dry_run": True,
    "safety.enable_on_activate": True,
    "safety.max_observation_age_sec": 2.0,
    "safety.max_future_sec": 0.05,
    "safety.guard_mode": "reject",
    "safety.action_lower": [-1e3] * 7,
    "safety.action_upper": [1e3] * 7,
    "safety.max_delta": [1e3] * 7,
    "safety.stop_on_disable": False,
    "safety.limits_from_statistics": False,
    "safety.statistics_margin": 0.2,
    "safety.max_start_distance": [float("inf")],  # LIBERO outputs deltas: only "no bound" is accepted
    "safety.allow_unbounded": True,
    "diagnostics.hardware_id": "test-arm",
    "diagnostics.end_to_end_error_ms": 10000.0,
    "diagnostics.end_to_end_warn_ms": 5000.0,
    "diagnostics.min_rate_hz": 0.5,
    "diagnostics.input_timeout_sec": 3.0,
    "diagnostics.error_hold_sec": 2.0,
    "diagnostics.debug_image": True,
    "diagnostics.debug_image_camera": 1,
    "diagnostics.debug_image_shade": 0.5,
}


def test_every_live_parameter_takes_effect_at_the_next_chunk(node_harness):
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    from adp_ros.core.diagnostics import Thresholds
    from adp_ros.core.gate import GATE_PRESETS
    from adp_ros.core.params import SPECS
    from adp_ros.core.streaming import GripperMapping

    assert set(LIVE_CHANGES) == {s.name for s in SPECS if s.live}, "a live parameter without a test value"
    h = node_harness("libero", params={"gate.preset": "reference"})
    h.record_latency()
    preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
    debug = h.record(Image, NODE + "/debug_image", qos=qos_profile_sensor_data)
    assert h.wait_subscribed()
    h.stream_until(lambda: _chunks(h), timeout=15.0)
    for name, value in LIVE_CHANGES.items():
        if name.startswith("gate.") and name != "gate.preset":  # the parameter may differ from the gate in use
            assert getattr(GATE_PRESETS["default_joint"], name.removeprefix("gate.")) != value, name
        else:
            assert h.get_parameter(name) != value, f"{name}: pick a value that changes something"
        result = h.set_parameters({name: value})[0]
        assert result.successful, f"{name} = {value!r}: {result.reason}"

    n_chunks, n_preview = len(_chunks(h)), len(preview)
    # One chunk may have started before the last change: the one after it applies them all.
    assert h.stream_until(
        lambda: len(_chunks(h)) > n_chunks + 1 and len(preview) > n_preview + 1 and debug, timeout=15.0
    )
    node = h.node
    # The gate: every field as set, on the default_joint preset (whose deadband is 0.02).
    gate = node._pipeline.runner.gate_config
    for name, value in LIVE_CHANGES.items():
        if name.startswith("gate.") and name != "gate.preset":
            assert getattr(gate, name.removeprefix("gate.")) == value, name
    assert node._applied.node.motion.gate_preset == "default_joint"
    assert node._pipeline.runner.instruction == "open the top drawer"
    # Scheduling and the published chunk.
    schedule = node._pipeline.scheduler.config
    assert (schedule.mode, schedule.query_period_ns, schedule.dt_ns) == ("fixed_rate", 125 * MS, 100 * MS)
    assert (schedule.execute_steps, schedule.lead_steps) == (6, 1)
    chunk, msg = _chunks(h)[-1], preview[-1]
    assert chunk["steps"] == "6" and len(msg.points) == 6
    assert msg.header.frame_id == "world"
    assert msg.points[1].time_from_start.nanosec - msg.points[0].time_from_start.nanosec == 100 * MS
    assert msg.points[0].time_from_start.nanosec == 100 * MS, "trajectory_start observation: no publish offset"
    output = node._applied.node.output
    assert (output.translation_scale, output.rotation_scale) == (0.1, 0.25)
    assert output.gripper == GripperMapping(0.9, 0.1, 0.035, 0.002)
    # Pruning: static keeps 25 % of the 512 visual tokens on every chunk.
    assert (chunk["prune_mode"], chunk["pruned"], chunk["tokens_kept"]) == ("static", "true", "128")
    prune = node._applied.prune
    assert (prune.camera_split, prune.position_mode, prune.readout) == ((1.0, 3.0), "original", "reference")
    assert (prune.fastv_layer, prune.random_seed) == (1, 7)
    # Safety.
    assert node._commands.dry_run
    safety = node._applied.node.safety
    assert safety.enable_on_activate and not safety.stop_on_disable
    assert (safety.limits_from_statistics, safety.statistics_margin, safety.allow_unbounded) == (False, 0.2, True)
    assert (safety.staleness.max_age_ns, safety.staleness.max_future_ns) == (2_000 * MS, 50 * MS)
    guard = node._pipeline.guard.config
    assert (guard.mode, guard.lower, guard.upper, guard.max_delta) == (
        "reject",
        (-1e3,) * 7,
        (1e3,) * 7,
        (1e3,) * 7,
    )
    # Diagnostics.
    latency = h.received[NODE + "/latency"][-1]
    assert latency.status[0].hardware_id == "test-arm"
    assert node._tracker.thresholds == Thresholds(5000.0, 10000.0, 0.5, 3.0, 2.0)
    assert debug[-1].header.frame_id == "camera/wrist/image_raw"
