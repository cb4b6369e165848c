"""High-rate state streams must not starve synchronisation (issue 12, defect 3).

Robots publish joint states and pose at 500-1000 Hz while cameras run at ~30 Hz and arrive ~100 ms after their
stamps. With the states inside the approximate-time synchroniser (queue 10 = 20 ms of 500 Hz states), a camera
set found no state partner and almost every frame was dropped. The cameras are now synchronised among
themselves and the states are looked up at the camera set's stamp in a stamped buffer (sync.state_tolerance_sec).
ROS time is the test's /clock, so every frame is counted, never a wall-clock rate.
"""

from __future__ import annotations

import pytest
from node_harness import MS, NODE, Harness, ManualClock, stamp_of, wait_until

pytestmark = pytest.mark.ros

SEC = 1_000 * MS
FRAME_NS = 33 * MS  # cameras at ~30 Hz
STATE_NS = 2 * MS  # joint states and pose at 500 Hz
LATENCY_NS = 100 * MS  # a camera frame arrives this long after its stamp
FRAMES = 15
CAMERAS = ("/camera/primary/image_raw", "/camera/wrist/image_raw")


def _state_publishers(h: Harness):
    """Deep reliable publishers: a burst of 500 Hz states must not be thinned on the test's side."""
    from geometry_msgs.msg import PoseStamped
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import JointState

    qos = QoSProfile(depth=1000)
    joints = h.peer.create_publisher(JointState, "joint_states", qos)
    return joints, h.peer.create_publisher(PoseStamped, "eef_pose", qos)


def _start(h: Harness, start_ns: int) -> ManualClock:
    clock = ManualClock(h, start_ns)
    clock.set(clock.now_ns)
    assert h.node.start_up()
    return clock


def _publish_cameras(h: Harness, stamp_ns: int) -> None:
    from adp_ros.ros.image_conversion import array_to_imgmsg

    for pub in h._image_pubs:
        pub.publish(array_to_imgmsg(h.image, "rgb8", stamp_ns=stamp_ns))


def test_500hz_states_and_late_cameras_give_a_chunk_per_camera_set(ros_context, tiny_libero_checkpoint):
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    h = Harness(
        ros_context,
        tiny_libero_checkpoint,
        start=False,
        params={"use_sim_time": True, "control.mode": "on_observation"},
    )
    try:
        joints_pub, pose_pub = _state_publishers(h)
        start = 1_000 * SEC
        clock = _start(h, start)
        preview = h.record(MultiDOFJointTrajectory, NODE + "/preview")
        assert h.wait_subscribed()
        assert wait_until(lambda: joints_pub.get_subscription_count() > 0 and pose_pub.get_subscription_count() > 0)
        node = h.node
        state_ns = start - LATENCY_NS  # states from before the first frame's stamp on
        sent = 0
        expected = []
        for k in range(FRAMES):
            frame_stamp = start + k * FRAME_NS
            now = frame_stamp + LATENCY_NS
            clock.set(now)
            while state_ns <= now:  # the states of the last frame period, up to now (500 Hz)
                joints_pub.publish(h.joint_state(state_ns))
                pose_pub.publish(h.pose(state_ns))
                state_ns += STATE_NS
                sent += 1
                if sent % 10 == 0:  # no bursts a 500 Hz stream would not have (the node's queue is best effort)
                    wait_until(lambda n=sent: min(node._sync.stats().received[2:]) >= n, 1.0)
            _publish_cameras(h, frame_stamp)  # stamped 100 ms ago
            expected.append(frame_stamp)
            # One chunk per camera set (on_observation): wait for it before the next frame (a starved node
            # never produces one; don't wait long for it then).
            wait_until(lambda k=k: len(preview) > k, 5.0 if len(preview) >= k else 0.5)
        assert wait_until(lambda: len(preview) >= FRAMES - 1, 5.0), (len(preview), node.counters())
        counters = node.counters()
    finally:
        h.close()
    stamps = [stamp_of(m) for m in preview]
    assert len(stamps) >= FRAMES - 1, (len(stamps), counters)
    assert set(stamps) <= set(expected)  # each chunk is stamped with its camera set
    # Diagnostics count per input, not a sum; nothing of the cameras was dropped.
    for topic in CAMERAS:
        assert counters[f"sync_dropped.{topic}"] <= 1, counters
    for topic in ("/joint_states", "/eef_pose"):
        assert f"sync_dropped.{topic}" in counters, counters
        assert counters[f"sync_missing.{topic}"] <= 1, counters  # a state message lost on a busy machine
    assert "sync_dropped" not in counters and "sync_dropped_state" not in counters


def test_camera_sets_without_a_state_sample_are_dropped_with_the_input_named(ros_context, tiny_libero_checkpoint):
    from diagnostic_msgs.msg import DiagnosticArray

    h = Harness(
        ros_context,
        tiny_libero_checkpoint,
        start=False,
        params={"use_sim_time": True, "control.mode": "on_observation", "diagnostics.period_sec": 0.1},
    )
    try:
        joints_pub, pose_pub = _state_publishers(h)
        start = 1_000 * SEC
        clock = _start(h, start)
        status = h.record(DiagnosticArray, "/diagnostics")
        assert h.wait_subscribed()
        assert wait_until(lambda: pose_pub.get_subscription_count() > 0)
        node = h.node
        # Joint states keep up; the pose lags 300 ms behind the cameras (beyond sync.state_tolerance_sec, and it
        # never catches up within sync.state_wait_sec).
        for k in range(5):
            stamp = start + k * FRAME_NS
            clock.set(stamp)
            joints_pub.publish(h.joint_state(stamp))
            pose_pub.publish(h.pose(stamp - 300 * MS))
            _publish_cameras(h, stamp)
        clock.set(start + 5 * FRAME_NS + SEC)  # the last set's wait ran out
        clock.set(start + 5 * FRAME_NS + 3 * SEC)  # beyond diagnostics.input_timeout_sec
        assert wait_until(lambda: node.counters()["sync_missing./eef_pose"] >= 4, 10.0), node.counters()
        counters = node.counters()

        def late_named() -> str:
            for msg in list(status):
                text = msg.status[0].message
                if "no synchronised observation" in text and "/eef_pose" in text:
                    return text
            return ""

        text = wait_until(late_named, 10.0)
    finally:
        h.close()
    assert counters["observations_received"] == 0
    assert counters["sync_missing./joint_states"] == 0
    for topic in CAMERAS:
        assert counters[f"sync_dropped.{topic}"] >= 4, counters
    assert text, "the status does not name the late input"
    assert "sync.state_tolerance_sec" in text, text
