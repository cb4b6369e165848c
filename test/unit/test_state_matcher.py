"""`core.sync.StateMatcher`: camera sets + high-rate states matched by stamp (issue 12, defect 3)."""

from __future__ import annotations

import pytest

from adp_ros.core.errors import ConfigError
from adp_ros.core.sync import (
    ApproximateTimeSynchronizer,
    ObservationSyncStats,
    StampedMessages,
    StateMatchConfig,
    StateMatcher,
    SyncConfig,
)

MS = 1_000_000
T0 = 1_000_000 * MS


def _matcher(**kw):
    got = []
    cfg = {"num_states": 2, "tolerance_ns": 5 * MS, "wait_ns": 100 * MS, "history_ns": 1_000 * MS}
    cfg["names"] = ("/js", "/pose")
    cfg.update(kw)
    return StateMatcher(StateMatchConfig(**cfg), lambda *m: got.append(m)), got


def test_500hz_states_and_cameras_100ms_late_match_every_set():
    m, got = _matcher()
    state_t = T0 - 200 * MS
    for k in range(60):  # 2 s of 30 Hz cameras
        stamp = T0 + k * 33 * MS
        now = stamp + 100 * MS
        while state_t <= now:
            m.add_state(0, ("js", state_t), state_t, state_t)
            m.add_state(1, ("pose", state_t), state_t, state_t)
            state_t += 2 * MS
        m.add_cameras(("cam0", "cam1"), stamp, now)
    assert len(got) == 60
    # The samples nearest to the camera stamp (500 Hz: within 1 ms).
    assert all(abs(s[2][1] - (T0 + k * 33 * MS)) <= MS for k, s in enumerate(got))
    assert all(s[3][1] == s[2][1] for s in got)
    stats = m.stats()
    assert stats.sets_dropped == 0 and stats.missing == (0, 0) and stats.rejected == (0, 0)
    assert max(stats.buffered) <= 501  # 1 s of history, not every message


def test_set_waits_for_states_that_arrive_after_the_cameras():
    m, got = _matcher()
    m.add_state(0, "js-old", T0 - 50 * MS, T0)
    m.add_state(1, "pose-old", T0 - 50 * MS, T0)
    m.add_cameras(("c",), T0, T0)
    assert got == [] and m.stats().pending == 1
    m.add_state(0, "js", T0 + MS, T0 + MS)
    assert got == []  # the pose is still behind
    m.add_state(1, "pose", T0, T0 + MS)
    assert got == [("c", "js", "pose")]


def test_late_or_far_states_drop_the_set_with_the_input_named():
    m, got = _matcher()
    m.add_state(0, "js", T0, T0)
    m.add_state(1, "pose", T0 - 300 * MS, T0)
    m.add_cameras(("c",), T0, T0)
    assert m.poll(T0 + 99 * MS) == [] and m.stats().pending == 1
    m.poll(T0 + 100 * MS)  # the wait ran out
    stats = m.stats()
    assert got == [] and stats.missing == (0, 1) and stats.sets_dropped == 1 and stats.pending == 0
    assert "/pose late" in stats.last_drop_reason
    # The pose has a newer sample, 10 ms away (beyond the tolerance); the joint states stopped 390 ms before.
    m.add_state(1, "pose2", T0 + 400 * MS, T0 + 400 * MS)
    m.add_cameras(("c",), T0 + 390 * MS, T0 + 400 * MS)
    assert m.stats().pending == 1  # the joint states may still come
    m.poll(T0 + 500 * MS)
    stats = m.stats()
    assert stats.missing == (1, 2) and stats.pending == 0
    assert "/js late" in stats.last_drop_reason and "/pose: nearest sample +10.0 ms" in stats.last_drop_reason
    # Within the tolerance after the wait: emitted with the nearest sample.
    m.add_state(0, "js3", T0 + 800 * MS, T0 + 800 * MS)
    m.add_state(1, "pose3", T0 + 797 * MS, T0 + 800 * MS)
    m.add_cameras(("c",), T0 + 800 * MS, T0 + 800 * MS)
    m.poll(T0 + 900 * MS)
    assert got == [("c", "js3", "pose3")]


def test_headerless_states_are_rejected_and_no_states_pass_sets_through():
    m, _ = _matcher()
    m.add_state(0, "js", None, T0)
    assert m.stats().rejected == (1, 0) and m.stats().buffered == (0, 0)
    # ROS time jumped back (bag loop): a waiting set stops waiting.
    m.add_state(1, "pose", T0 - 2 * MS, T0)
    m.add_cameras(("c",), T0, T0)
    assert m.stats().pending == 1
    m.poll(T0 - 5 * 1_000 * MS)
    assert m.stats().pending == 0 and m.stats().missing == (1, 0)
    direct, got2 = _matcher(num_states=0, names=())
    direct.add_cameras(("c",), T0, T0)
    assert got2 == [("c",)]


def test_buffer_nearest_insert_and_history():
    b = StampedMessages(history_ns=10)
    for t in (0, 4, 8, 6):
        b.push(t, t)
    assert b.nearest(5) == (4, 4) and b.nearest(7) == (6, 6) and b.nearest(100) == (8, 8)
    b.push(6, "again")
    assert b.nearest(6) == (6, "again") and len(b) == 4
    b.push(15, 15)  # 0 and 4 fall out of the 10 ns history
    assert len(b) == 3
    b.push(2, "jump")  # more than the history back: a new timeline (bag loop, sim reset)
    assert len(b) == 1 and b.nearest(15) == (2, "jump")


def test_config_errors_and_problem_text():
    with pytest.raises(ConfigError):
        StateMatchConfig(num_states=1, tolerance_ns=0, wait_ns=0, history_ns=0)
    with pytest.raises(ConfigError):
        StateMatchConfig(num_states=2, tolerance_ns=0, wait_ns=0, history_ns=1, names=("a",))
    cams = ApproximateTimeSynchronizer(SyncConfig(num_inputs=2, queue_size=10, slop_ns=MS))
    m, _ = _matcher()
    m.add_state(0, "js", T0, T0)
    m.add_cameras(("a", "b"), T0 + 50 * MS, T0 + 200 * MS)
    m.poll(T0 + 300 * MS)
    stats = ObservationSyncStats.combine(("/a", "/b", "/js", "/pose"), cams.stats(), m.stats())
    assert stats.missing == (0, 0, 1, 1) and stats.dropped == (1, 1, 0, 0)
    text = stats.problem()
    assert "no message on /a, /b, /pose" in text and "/js (1 camera sets)" in text
    assert "sync.state_tolerance_sec" in text


def test_problem_names_late_inputs_only_for_drops_since_the_last_observation():
    cams = ApproximateTimeSynchronizer(SyncConfig(num_inputs=1, queue_size=10, slop_ns=MS))
    cams.add(0, "c", T0)
    m, _ = _matcher(num_states=1, names=("/js",))
    m.add_state(0, "js", T0 - 300 * MS, T0)
    m.add_cameras(("c",), T0, T0 + 200 * MS)  # the newest state is 300 ms older: waits 100 ms
    m.poll(T0 + 300 * MS)
    stats = ObservationSyncStats.combine(("/c", "/js"), cams.stats(), m.stats())
    assert stats.last_drop_ns == T0 + 300 * MS
    assert "/js (1 camera sets)" in stats.problem(since_ns=T0 + 300 * MS)
    assert stats.problem(since_ns=T0 + 301 * MS) == ""  # an observation came after that drop


def test_waiting_line_and_status_name_the_late_input():
    from adp_ros.core.diagnostics import WARN, DiagnosticsTracker, waiting_message

    problem = "no sample near the cameras' stamp on /eef_pose (3 camera sets) (raise sync.state_tolerance_sec ...)"
    line = waiting_message([("/cam", 9), ("/eef_pose", 40)], 2.0, problem=problem)
    assert line.endswith(f"({problem})") and "header stamps" not in line
    tracker = DiagnosticsTracker()
    tracker.activated(0)
    snap = tracker.snapshot(3_000 * MS, input_problem=problem)
    assert snap.level == WARN and "no synchronised observation" in snap.message and problem in snap.message
    assert "sync.state_tolerance_sec" in tracker.snapshot(3_000 * MS).message  # the generic hint names it too
