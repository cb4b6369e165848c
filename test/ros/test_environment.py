"""The pip-only ROS 2 environment works: two nodes exchange an Image and a JointState over DDS."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros


def test_two_nodes_exchange_image_and_joint_state(ros_context):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image, JointState

    talker = Node("env_talker", context=ros_context)
    listener = Node("env_listener", context=ros_context)
    got: dict[str, object] = {}
    listener.create_subscription(Image, "camera", lambda m: got.setdefault("image", m), qos_profile_sensor_data)
    listener.create_subscription(JointState, "joints", lambda m: got.setdefault("joints", m), 10)
    image_pub = talker.create_publisher(Image, "camera", qos_profile_sensor_data)
    joint_pub = talker.create_publisher(JointState, "joints", 10)

    pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    image = Image(height=4, width=6, encoding="rgb8", step=18, data=pixels.tobytes())
    image.header.frame_id = "cam0"
    joints = JointState(name=["j1", "j2"], position=[0.25, -1.5], velocity=[0.0, 0.0], effort=[0.0, 0.0])

    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(talker)
    executor.add_node(listener)
    deadline = time.monotonic() + 20.0
    try:
        while len(got) < 2 and time.monotonic() < deadline:
            image_pub.publish(image)
            joint_pub.publish(joints)
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.shutdown()
        talker.destroy_node()
        listener.destroy_node()

    assert set(got) == {"image", "joints"}, f"received only {sorted(got)}"
    received = got["image"]
    assert (received.height, received.width, received.encoding, received.header.frame_id) == (
        4,
        6,
        "rgb8",
        "cam0",
    )
    np.testing.assert_array_equal(np.frombuffer(received.data, np.uint8).reshape(4, 6, 3), pixels)
    assert list(got["joints"].name) == ["j1", "j2"]
    assert list(got["joints"].position) == [0.25, -1.5]


def test_installed_share_files_are_found_by_ament_index():
    """`pip install .` (make setup) puts package.xml, launch/ and config/ where ament_index looks."""
    import os
    from pathlib import Path

    from ament_index_python.packages import get_package_share_directory

    if not os.environ.get("AMENT_PREFIX_PATH"):
        pytest.fail("AMENT_PREFIX_PATH is not set: run the tests with `make test`")
    share = Path(get_package_share_directory("adp_ros"))
    assert (share / "package.xml").is_file()
    assert any((share / "launch").glob("*.launch.py"))
    assert any((share / "config").glob("*.yaml"))
