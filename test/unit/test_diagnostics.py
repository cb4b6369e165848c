"""Diagnostics record and levels (ROS-free), and the debug image's patch shading."""

from __future__ import annotations

import numpy as np
import pytest

from adp_ros.core.debug_image import shade_pruned
from adp_ros.core.diagnostics import (
    ERROR,
    OK,
    SNAPSHOT_VERSION,
    WARN,
    ChunkRecord,
    DiagnosticsTracker,
    Thresholds,
    chunk_key_values,
    chunk_level,
)
from adp_ros.core.errors import InputError

MS = 1_000_000
S = 1_000_000_000


def _record(i, publish_ns, e2e=40.0, pruned=False, **kw):
    values = {
        "index": i,
        "observation_stamp_ns": publish_ns - int(e2e * MS),
        "publish_ns": publish_ns,
        "stages_ms": {"conversion": 1.0, "vision": 5.0 + i, "llm": 20.0, "publish": 0.5},
        "end_to_end_ms": e2e,
        "observation_age_ms": e2e + 5,
        "queue_wait_ms": 2.0,
        "tokens_kept": 256 if pruned else 512,
        "tokens_dense": 512,
        "sequence_length": 331 if pruned else 587,
        "pruned": pruned,
        "prune_mode": "adp",
        "gate_state": "pruned" if pruned else "dense",
    }
    values.update(kw)
    return ChunkRecord(**values)


def test_snapshot_percentiles_rate_and_keys():
    tracker = DiagnosticsTracker(window=10)
    tracker.activated(0)
    for i in range(11):  # one more than the window: the oldest falls out
        tracker.record_observation(i * 200 * MS)
        tracker.record_chunk(_record(i, i * 200 * MS, e2e=40.0 + i, pruned=i % 2 == 1))
    snap = tracker.snapshot(2_050 * MS, command_state="commanding", extra_counters={"dropped_frames": 7})
    assert snap.version == SNAPSHOT_VERSION
    assert snap.chunks == 11 and snap.window_chunks == 10
    assert snap.rate_hz == pytest.approx(5.0)
    assert snap.end_to_end_ms.p50 == pytest.approx(45.5)
    assert snap.stages_ms["vision"].max == pytest.approx(15.0)
    assert snap.gate_sequence == "PDPDPDPDPD"
    assert snap.pruned_fraction == pytest.approx(0.5)
    assert snap.keep_ratio_mean == pytest.approx(0.75)
    assert snap.level == OK and "5.00 chunks/s" in snap.message
    kv = dict(snap.key_values())
    assert kv["schema_version"] == str(SNAPSHOT_VERSION)
    assert kv["dropped_frames"] == "7" and kv["commands"] == "commanding"
    assert {"end_to_end_ms_p50", "end_to_end_ms_p90", "vision_ms_p50", "llm_ms_max", "rate_hz"} <= set(kv)


def test_levels_from_thresholds_and_events():
    thr = Thresholds(end_to_end_warn_ms=100, end_to_end_error_ms=300, input_timeout_sec=1.0, error_hold_sec=5.0)
    tracker = DiagnosticsTracker(thresholds=thr)
    tracker.activated(0)
    tracker.record_observation(0)
    assert tracker.snapshot(500 * MS).level == OK
    assert tracker.snapshot(2 * S).level == WARN  # no observation for 2 s while active
    assert "no synchronised observation" in tracker.snapshot(2 * S).message
    tracker.record_observation(2 * S)
    tracker.record_chunk(_record(0, 2 * S, e2e=150.0))
    assert tracker.snapshot(2 * S).level == WARN
    tracker.record_chunk(_record(1, 2 * S + 1, e2e=400.0))
    tracker.record_chunk(_record(2, 2 * S + 2, e2e=400.0))
    assert tracker.snapshot(2 * S + 3).level == ERROR
    tracker.record_event("model_error", "RuntimeError: boom", 3 * S)
    snap = tracker.snapshot(3 * S)
    assert snap.level == ERROR and "model_error" in snap.message and "boom" in snap.message
    assert snap.counters["model_error"] == 1
    assert tracker.snapshot(3 * S, has_instruction=False).message.count("waiting for an instruction") == 1
    # Inactive: latency rules do not apply; a recent event still shows, an old one does not.
    assert tracker.snapshot(9 * S, lifecycle_state="inactive").level == OK
    tracker.record_event("stale", "too old", 9 * S)
    assert tracker.snapshot(9 * S, lifecycle_state="inactive").level == WARN


def test_chunk_level_and_key_values():
    thr = Thresholds(end_to_end_warn_ms=100, end_to_end_error_ms=300)
    assert chunk_level(_record(0, S, e2e=50), thr)[0] == OK
    assert chunk_level(_record(0, S, e2e=150), thr)[0] == WARN
    assert chunk_level(_record(0, S, e2e=350), thr)[0] == ERROR
    assert chunk_level(_record(0, S, guard_modified=True), thr)[0] == WARN
    kv = dict(chunk_key_values(_record(3, S, pruned=True)))
    assert kv["keep_ratio"] == "0.500" and kv["tokens_kept"] == "256" and kv["chunk_index"] == "3"
    assert kv["compute_ms"] == "29.500"  # 1 + (5 + 3) + 20 + 0.5


def test_shading_darkens_exactly_the_pruned_patches():
    flat = np.full((224, 224, 3), 100, np.uint8)
    shaded = shade_pruned(flat, [0, 17, 255], shade=0.5)
    patches = shaded.reshape(16, 14, 16, 14, 3)[:, 0, :, 0, 0].reshape(-1)
    assert set(np.flatnonzero(patches == 100)) == {0, 17, 255}
    assert (patches[patches != 100] == 50).all()
    with pytest.raises(InputError):
        shade_pruned(flat, [256])
    with pytest.raises(InputError):
        shade_pruned(np.zeros((100, 100, 3), np.uint8), [0])


def test_waiting_message_names_every_input_with_its_count_and_the_likely_cause():
    from adp_ros.core.diagnostics import waiting_message

    text = waiting_message([("/cam", 0), ("/joint_states", 12)], 3.04, "/instruction")
    assert "for 3.0 s" in text and "/cam: 0, /joint_states: 12" in text
    assert "no instruction yet (task.instruction or /instruction)" in text
    assert "header stamps" not in text
    assert "header stamps" in waiting_message([("/cam", 4), ("/joint_states", 12)], 2.0)


def test_input_idle_time_counts_from_activation_or_the_last_observation():
    tracker = DiagnosticsTracker()
    assert tracker.input_idle_ns(5) is None  # not active
    tracker.activated(100)
    assert tracker.input_idle_ns(400) == 300
    tracker.record_observation(350)
    assert tracker.input_idle_ns(400) == 50
    tracker.deactivated()
    assert tracker.input_idle_ns(400) is None


def test_every_event_kind_has_a_level_and_skips_are_the_runner_statuses():
    from typing import get_args

    from adp_ros.core.diagnostics import EVENT_KINDS, EVENT_LEVELS, SKIP_KINDS
    from adp_ros.core.runner import Status

    assert set(EVENT_KINDS) == set(EVENT_LEVELS)
    assert set(get_args(Status)) == {"ok", *SKIP_KINDS} and set(SKIP_KINDS) < set(EVENT_KINDS)
