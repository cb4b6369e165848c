"""The simulated arm through real rclpy: images upright, commands move the arm as commanded, lockstep waits."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros


@pytest.fixture
def bridge_graph(ros_context, spatial_task):
    """The bridge node plus a 'controller' node (the policy's seat) spinning in one executor."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from adp_ros.tools.sim.bridge import LiberoBridge

    node = Node("libero_bridge", context=ros_context)
    peer = Node("policy_seat", context=ros_context)
    bridge = LiberoBridge(node, spatial_task)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    executor.add_node(peer)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    yield bridge, peer
    executor.shutdown(timeout_sec=1.0)


def _command_publisher(peer, bridge):
    """A publisher on the node's command topic, matched with the bridge, and a function sending 8 steps of +z."""
    from rclpy.qos import QoSProfile
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    from adp_ros.ros.outputs import chunk_to_multi_dof_trajectory

    pub = peer.create_publisher(MultiDOFJointTrajectory, "/adp_policy_node/command", QoSProfile(depth=10))
    _wait(lambda: pub.get_subscription_count() > 0)
    up = np.tile([0.0, 0.0, 0.8, 0.0, 0.0, 0.0, 1.0], (8, 1))

    def send_up(stamp_ns):
        msg = chunk_to_multi_dof_trajectory(
            up, stamp_ns=stamp_ns, dt_ns=bridge.dt_ns, translation_scale=0.05, rotation_scale=0.5
        )
        pub.publish(msg)

    return pub, send_up


def _wait(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_gripper_conventions():
    from adp_ros.tools.sim.bridge import env_gripper, policy_gripper

    assert env_gripper(1.0) == -1.0 and env_gripper(0.9) == -1.0  # dataset 1 = open → env −1
    assert env_gripper(0.0) == 1.0 and env_gripper(0.2) == 1.0  # dataset 0 = close → env +1
    assert env_gripper(policy_gripper(-1.0)) == -1.0 and env_gripper(policy_gripper(1.0)) == 1.0


def test_lockstep_executes_the_commanded_chunk(bridge_graph, spatial_task):
    """Observation out (upright cameras, state, /clock) → a chunk stamped with it → the arm moves up and the
    gripper closes; the next observation waits for the next chunk."""
    from rclpy.qos import QoSProfile, qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    from adp_ros.core.stamps import stamp_ns_of
    from adp_ros.ros.image_conversion import imgmsg_to_rgb8
    from adp_ros.ros.outputs import chunk_to_multi_dof_trajectory
    from adp_ros.tools.sim.libero_env import init_states

    bridge, peer = bridge_graph
    frames: list = []
    pub = peer.create_publisher(MultiDOFJointTrajectory, "/adp_policy_node/command", QoSProfile(depth=10))
    peer.create_subscription(Image, "/camera/primary/image_raw", frames.append, qos_profile_sensor_data)
    _wait(lambda: pub.get_subscription_count() > 0 and bridge._image_pubs[0].get_subscription_count() > 0)

    bridge.reset(init_states("libero_spatial", 0)[0])
    start = spatial_task.robot_state()
    up_and_close = np.tile([0.0, 0.0, 0.8, 0.0, 0.0, 0.0, 0.0], (8, 1))  # policy units; gripper 0 = close

    answered: list[int] = []

    def controller():
        for _ in range(2):
            _wait(lambda: len(frames) > len(answered))
            stamp = stamp_ns_of(frames[len(answered)])
            answered.append(stamp)
            time.sleep(0.3)  # the policy thinks; sim time must not move meanwhile
            pub.publish(
                chunk_to_multi_dof_trajectory(
                    up_and_close, stamp_ns=stamp, dt_ns=50_000_000, translation_scale=0.05, rotation_scale=0.5
                )
            )

    thread = threading.Thread(target=controller, daemon=True)
    thread.start()
    result = bridge.run_lockstep(max_steps=16)
    thread.join(timeout=10)
    end = spatial_task.robot_state()

    assert result.status == "max_steps" and result.steps == 16 and result.chunks == 2
    assert answered[1] - answered[0] == 8 * 50_000_000, "sim time advances 8 steps per chunk, not while waiting"
    assert end.eef_pos[2] - start.eef_pos[2] > 0.03, "commanded +z moves the end effector up"
    assert abs(end.eef_pos[0] - start.eef_pos[0]) < 0.02 and abs(end.eef_pos[1] - start.eef_pos[1]) < 0.02
    assert end.finger_q[0] < start.finger_q[0] - 0.01, "gripper 0 (close, in the dataset convention) closes it"

    image = imgmsg_to_rgb8(frames[0]).astype(float)
    top, bottom = image[:64].mean(), image[-64:].mean()
    assert bottom > top + 20, "upright agentview: bright table at the bottom, the wall and robot at the top"
    raw = spatial_task._env.env.sim.render(width=256, height=256, camera_name="agentview").astype(float)
    assert raw[:64].mean() > raw[-64:].mean() + 20, "MuJoCo renders upside down; the bridge turns it"


def test_lockstep_gives_up_without_a_policy(bridge_graph, spatial_task):
    """No chunk ever comes: the episode ends as a timeout instead of hanging."""
    from dataclasses import replace

    bridge, _ = bridge_graph
    bridge.config = replace(bridge.config, chunk_timeout_sec=0.6, resend_after_sec=0.2)
    bridge.reset(None, noop_steps=0)
    result = bridge.run_lockstep(max_steps=8)
    assert result.status == "timeout" and result.steps == 0 and result.chunks == 0


def test_blind_frames_are_black(bridge_graph, spatial_task):
    from dataclasses import replace

    bridge, _ = bridge_graph
    bridge.config = replace(bridge.config, blind=True)
    bridge.publish_cameras()
    assert all(not f.any() for f in bridge.last_frames)


def test_realtime_holds_without_a_chunk_and_follows_one_by_its_timestamps(bridge_graph, spatial_task):
    """Real time: the arm never waits; with no chunk scheduled it holds, a chunk's points run at their times."""
    from dataclasses import replace

    bridge, peer = bridge_graph
    bridge.config = replace(bridge.config, timing="realtime", camera_period_steps=8)
    _, send_up = _command_publisher(peer, bridge)
    bridge.reset(None, noop_steps=0)
    start = spatial_task.robot_state().eef_pos.copy()
    held = bridge.run_realtime(max_steps=6)
    assert held.status == "max_steps" and held.held_steps == 6 and held.chunks == 0
    assert np.linalg.norm(spatial_task.robot_state().eef_pos - start) < 0.01, "holding: the arm stays"

    # A chunk stamped now whose points start one step later (trajectory_start=observation): 8 steps of +z.
    send_up(bridge.now_ns)
    _wait(lambda: bridge.received > 0)
    before = spatial_task.robot_state().eef_pos.copy()
    moved = bridge.run_realtime(max_steps=held.steps + 12)  # the step budget counts the whole episode
    assert moved.held_steps == 4, "8 points executed, then hold: the chunk ran out"
    assert spatial_task.robot_state().eef_pos[2] - before[2] > 0.03
    assert moved.real_time_factor > 0


def test_stop_message_drops_the_queued_chunk(bridge_graph, spatial_task):
    """The node's stop (an empty trajectory: deactivate, disable, inputs lost) makes the arm hold at once."""
    from dataclasses import replace

    from trajectory_msgs.msg import MultiDOFJointTrajectory

    bridge, peer = bridge_graph
    bridge.config = replace(bridge.config, timing="realtime", camera_period_steps=8)
    pub, send_up = _command_publisher(peer, bridge)
    bridge.reset(None, noop_steps=0)
    send_up(bridge.now_ns)
    _wait(lambda: bridge.received > 0)
    pub.publish(MultiDOFJointTrajectory())
    _wait(lambda: bridge.stops > 0)
    result = bridge.run_realtime(max_steps=4)
    assert result.held_steps == 4
