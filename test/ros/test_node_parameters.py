"""Parameters from the schema: descriptors, live changes accepted (applied at the next chunk) and rejected
(with a reason, changing nothing), through the node's real parameter services."""

from __future__ import annotations

import pytest
from node_harness import INSTRUCTION, wait_until

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
    assert len(h.node._runner.gate_history) >= 4


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
