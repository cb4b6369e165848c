"""Synchronised Image + JointState delivery through `adp_ros.ros.sync` between two real rclpy nodes."""

from __future__ import annotations

import time

import numpy as np
import pytest

from adp_ros.core.errors import ConfigError, MissingDependencyError
from adp_ros.ros.image_conversion import array_to_imgmsg, imgmsg_to_rgb8
from adp_ros.ros.sync import (
    BACKEND_BUILTIN,
    BACKEND_MESSAGE_FILTERS,
    create_approximate_sync,
    message_filters_available,
)

pytestmark = pytest.mark.ros

NS = 1_000_000_000
MS = 1_000_000
BASE_NS = 1_000 * NS


def _backends():
    skip_mf = pytest.mark.skipif(
        not message_filters_available(), reason="message_filters is not importable (not on the package index)"
    )
    return [
        pytest.param(BACKEND_BUILTIN, id=BACKEND_BUILTIN),
        pytest.param(BACKEND_MESSAGE_FILTERS, id=BACKEND_MESSAGE_FILTERS, marks=skip_mf),
    ]


def _spin_until(executor, predicate, timeout_sec: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_sec
    while not predicate() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.02)
    return predicate()


def _set_stamp(msg, stamp_ns: int):
    msg.header.stamp.sec = stamp_ns // NS
    msg.header.stamp.nanosec = stamp_ns % NS
    return msg


@pytest.mark.parametrize("backend", _backends())
def test_image_and_joint_state_are_delivered_in_synchronised_pairs(ros_context, backend):
    from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import Image, JointState

    qos = QoSProfile(depth=50)  # reliable: every message arrives, so the expected sets are exact
    talker = Node("sync_talker", context=ros_context)
    listener = Node("sync_listener", context=ros_context)
    got: list[tuple[object, object]] = []
    group = MutuallyExclusiveCallbackGroup()
    synced = create_approximate_sync(
        listener,
        [(Image, "camera", qos), (JointState, "joints", qos)],
        queue_size=5,
        slop_sec=0.01,
        callback=lambda image, joints: got.append((image, joints)),
        callback_group=group,
        backend=backend,
    )
    assert synced.backend == backend
    assert len(synced.subscriptions) == 2
    assert all(sub.callback_group is group for sub in synced.subscriptions)
    image_pub = talker.create_publisher(Image, "camera", qos)
    joint_pub = talker.create_publisher(JointState, "joints", qos)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(talker)
    executor.add_node(listener)
    try:
        assert _spin_until(
            executor,
            lambda: image_pub.get_subscription_count() > 0 and joint_pub.get_subscription_count() > 0,
        ), "discovery did not complete"

        # Six joint states with no image anywhere near: at most five fit the queue, so some are dropped.
        for k in range(6):
            lone = JointState(name=["j"], position=[-1.0], velocity=[0.0], effort=[0.0])
            joint_pub.publish(_set_stamp(lone, 500 * NS + k * NS))
        # Five pairs; joint stamps 3 ms after or 4 ms before their image (slop 10 ms), frames 100 ms apart.
        expected = []
        for k in range(5):
            image_ns = BASE_NS + k * 100 * MS
            joint_ns = image_ns + (3 * MS if k % 2 == 0 else -4 * MS)
            pixels = np.full((4, 6, 3), 10 * k, np.uint8)
            image_pub.publish(array_to_imgmsg(pixels, "rgb8", stamp_ns=image_ns, frame_id="cam0"))
            joints = JointState(name=["j"], position=[float(k)], velocity=[0.0], effort=[0.0])
            joint_pub.publish(_set_stamp(joints, joint_ns))
            expected.append((image_ns, joint_ns))

        assert _spin_until(executor, lambda: len(got) >= 5), f"only {len(got)} synchronised sets"
        executor.spin_once(timeout_sec=0.2)  # nothing else may arrive
    finally:
        executor.shutdown()
        synced.destroy()
        talker.destroy_node()
        listener.destroy_node()

    assert len(got) == 5
    pairs = sorted(
        (
            image.header.stamp.sec * NS + image.header.stamp.nanosec,
            joints.header.stamp.sec * NS + joints.header.stamp.nanosec,
        )
        for image, joints in got
    )
    assert pairs == expected
    for image, joints in got:
        assert isinstance(image, Image) and isinstance(joints, JointState)  # input order
        k = int(joints.position[0])
        np.testing.assert_array_equal(imgmsg_to_rgb8(image), np.full((4, 6, 3), 10 * k, np.uint8))

    stats = synced.stats()
    assert stats.received == (5, 11)
    assert stats.used == (5, 5) and stats.emitted_sets == 5
    assert stats.dropped[0] == 0 and stats.dropped[1] >= 1
    for i in range(2):
        assert stats.received[i] == stats.used[i] + stats.dropped[i] + stats.queued[i]
    assert synced.subscriptions == []


def test_destroy_removes_the_subscriptions(ros_context):
    from rclpy.node import Node
    from sensor_msgs.msg import Image, JointState

    node = Node("sync_destroy", context=ros_context)
    try:
        before = len(list(node.subscriptions))
        synced = create_approximate_sync(node, [(Image, "a"), (JointState, "b")], 10, 0.02, lambda *_: None)
        assert len(list(node.subscriptions)) == before + 2
        synced.destroy()
        assert len(list(node.subscriptions)) == before
    finally:
        node.destroy_node()


def test_backend_selection_errors():
    with pytest.raises(ConfigError, match=r"backend='message_filter' is not a sync backend \(did you mean"):
        create_approximate_sync(None, [], 10, 0.01, print, backend="message_filter")
    with pytest.raises(ConfigError, match="slop_ns=0 must be > 0"):
        create_approximate_sync(None, [(object, "a")], 10, 0.0, print)
    with pytest.raises(ConfigError, match="slop_sec=nan"):
        create_approximate_sync(None, [(object, "a")], 10, float("nan"), print)
    with pytest.raises(ConfigError, match="at least one topic"):
        create_approximate_sync(None, [], 10, 0.01, print)
    if not message_filters_available():
        with pytest.raises(MissingDependencyError, match="message_filters package is not importable"):
            create_approximate_sync(None, [(object, "a")], 10, 0.01, print, backend=BACKEND_MESSAGE_FILTERS)


@pytest.mark.parametrize("allow_headerless", [True, False])
def test_headerless_messages_use_the_node_clock_or_are_dropped(ros_context, allow_headerless):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    qos = QoSProfile(depth=10)
    talker = Node("sync_headerless_talker", context=ros_context)
    listener = Node("sync_headerless_listener", context=ros_context)
    got = []
    synced = create_approximate_sync(
        listener,
        [(Image, "camera", qos), (String, "note", qos)],
        queue_size=5,
        slop_sec=5.0,  # a headerless message is stamped on receipt: allow for a slow machine
        callback=lambda image, note: got.append((image, note)),
        allow_headerless=allow_headerless,
        backend=BACKEND_BUILTIN,
    )
    image_pub = talker.create_publisher(Image, "camera", qos)
    note_pub = talker.create_publisher(String, "note", qos)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(talker)
    executor.add_node(listener)
    try:
        assert _spin_until(
            executor, lambda: image_pub.get_subscription_count() > 0 and note_pub.get_subscription_count() > 0
        )
        now_ns = listener.get_clock().now().nanoseconds
        image_pub.publish(array_to_imgmsg(np.zeros((2, 2), np.uint8), "mono8", stamp_ns=now_ns))
        note_pub.publish(String(data="hello"))
        _spin_until(executor, lambda: synced.stats().received == (1, 1))
        executor.spin_once(timeout_sec=0.1)
    finally:
        executor.shutdown()
        talker.destroy_node()
        listener.destroy_node()

    stats = synced.stats()
    assert stats.received == (1, 1)
    if allow_headerless:
        assert [note.data for _, note in got] == ["hello"]
        assert stats.dropped == (0, 0)
    else:
        assert got == []
        assert stats.dropped == (0, 1) and stats.queued == (1, 0)
