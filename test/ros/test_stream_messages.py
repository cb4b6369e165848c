"""StreamCommand → TwistStamped / PoseStamped / gripper JointTrajectory or Float64 (ros/outputs.py), and the
observation's measured pose carried to the pose targets. Message packages only: no rclpy context is started."""

from __future__ import annotations

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped, TwistStamped
from std_msgs.msg import Float64
from trajectory_msgs.msg import JointTrajectory

from adp_ros.core import params as P
from adp_ros.core.rotations import axis_angle_to_quat
from adp_ros.core.stamps import ns_of
from adp_ros.core.streaming import ChunkStream, StreamChunk
from adp_ros.ros.inputs import ObservationAssembler, pose_to_xyz_quat
from adp_ros.ros.outputs import (
    GRIPPER_TYPES,
    OUTPUT_MESSAGE_TYPES,
    stream_messages,
    stream_preview_topic,
    stream_topic,
    stream_types,
    twist_message,
    zero_twist,
)

MS = 1_000_000
DT = 50 * MS
T0 = 5_000 * MS


def _output(streams=("twist", "pose", "gripper"), **extra):
    values = P.preset_values("libero") | {"output.streams": list(streams)} | extra
    return P.resolve(values).node


def _command(actions, base=None, t=T0):
    stream = ChunkStream()
    chunk = StreamChunk.from_actions(
        actions, start_ns=T0, dt_ns=DT, translation_scale=0.05, rotation_scale=0.5, base_pose=base
    )
    stream.add(chunk, commanded=True)
    return stream.at(t)


def test_twist_carries_the_step_velocity_in_the_output_frame():
    a = np.array([[0.2, -0.4, 1.0, 0.1, 0.0, -0.2, -1.0]])
    msg = twist_message(_command(a), stamp_ns=T0 + 3, frame_id="panda_link0")
    assert isinstance(msg, TwistStamped) and msg.header.frame_id == "panda_link0"
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (5, 3)
    lin, ang = msg.twist.linear, msg.twist.angular
    np.testing.assert_allclose([lin.x, lin.y, lin.z], [0.2, -0.4, 1.0])  # × 0.05 m / 0.05 s
    np.testing.assert_allclose([ang.x, ang.y, ang.z], [1.0, 0.0, -2.0])  # × 0.5 rad / 0.05 s
    zero = zero_twist(stamp_ns=0, frame_id="f")
    assert zero.twist.linear.x == zero.twist.angular.z == 0.0 and zero.header.frame_id == "f"


def test_every_stream_message_of_a_step():
    node = _output()
    out = node.output
    q = axis_angle_to_quat([np.pi, 0.0, 0.0])
    a = np.array([[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]])
    msgs = stream_messages(_command(a, base=np.array([0.4, 0.0, 0.3, *q]), t=T0 + DT), out, stamp_ns=T0 + DT, dt_ns=DT)
    assert list(msgs) == ["twist", "pose", "gripper"]
    assert {k: type(m) for k, m in msgs.items()} == stream_types(out)
    pose = msgs["pose"]
    assert pose.header.frame_id == "panda_link0"
    p, o = pose.pose.position, pose.pose.orientation
    np.testing.assert_allclose([p.x, p.y, p.z], [0.45, 0.05, 0.3])  # both steps applied
    np.testing.assert_allclose([o.x, o.y, o.z, o.w], q, atol=1e-12)
    grip = msgs["gripper"]
    assert list(grip.joint_names) == ["panda_finger_joint1", "panda_finger_joint2"]
    assert len(grip.points) == 1 and list(grip.points[0].positions) == pytest.approx([0.04, 0.04])  # 1 = open
    assert ns_of(grip.points[0].time_from_start) == DT


def test_float64_gripper_and_no_pose_without_a_measured_pose():
    node = _output(("pose", "gripper"), **{"output.gripper_type": "float64"})
    closing = np.full((2, 7), 1.0)
    closing[:, 6] = 0.0
    msgs = stream_messages(_command(closing), node.output, stamp_ns=T0, dt_ns=DT)
    assert list(msgs) == ["gripper"]  # no base pose → no pose target
    assert isinstance(msgs["gripper"], Float64) and msgs["gripper"].data == pytest.approx(0.0)  # 0 = closed
    assert stream_types(node.output) == {"pose": PoseStamped, "gripper": Float64}


def test_stream_topics():
    topics = _output().topics
    assert [stream_topic(k, topics) for k in ("twist", "pose", "gripper")] == ["~/twist", "~/pose_target", "~/gripper"]
    assert [stream_preview_topic(k, topics) for k in ("twist", "pose", "gripper")] == [
        "~/preview/twist",
        "~/preview/pose_target",
        "~/preview/gripper",
    ]
    assert stream_types(_output(("gripper",)).output) == {"gripper": JointTrajectory}


def _pose_msg(frame: str = "panda_link0") -> PoseStamped:
    msg = PoseStamped()
    msg.header.frame_id = frame
    msg.header.stamp.sec = 7
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = 0.4, 0.1, 0.2
    msg.pose.orientation.x, msg.pose.orientation.w = 1.0, 0.0
    return msg


def test_message_class_maps_cover_exactly_the_schema_choices():
    # The ROS layer maps the schema's names to message classes; the names themselves live in core params
    # (issue 13). `auto` is resolved to a concrete output type before a message class is looked up.
    assert set(OUTPUT_MESSAGE_TYPES) == set(P.OUTPUT_TYPE_NAMES) - {"auto"}
    assert set(GRIPPER_TYPES) == set(P.GRIPPER_TYPE_NAMES)
    every = _output(("twist", "pose", "gripper")).output
    assert tuple(stream_types(every)) == P.STREAMS
    for gripper_type in P.GRIPPER_TYPE_NAMES:
        node = _output(("gripper",), **{"output.gripper_type": gripper_type})
        assert stream_types(node.output) == {"gripper": GRIPPER_TYPES[gripper_type]}


def test_the_pose_joins_the_observation_for_pose_targets_even_without_pose_proprio():
    from sensor_msgs.msg import JointState

    from adp_ros.ros.image_conversion import array_to_imgmsg

    values = P.preset_values("libero") | {
        "proprio.source": "joint_states",
        "proprio.joint_names": [f"j{i}" for i in range(8)],
        "gate.motion_source": "predicted_delta",
    }
    assert not ObservationAssembler(P.resolve(values).node).needs_pose
    assemble = ObservationAssembler(P.resolve(values | {"output.streams": ["pose"]}).node)
    assert assemble.needs_pose
    image = array_to_imgmsg(np.zeros((8, 8, 3), np.uint8), "rgb8", stamp_ns=7_000_000_000)
    joints = JointState(name=[f"j{i}" for i in range(8)], position=[float(i) for i in range(8)])
    joints.header.stamp.sec = 7
    inputs = assemble([image, image, joints, _pose_msg("base")], received_ns=0)
    np.testing.assert_allclose(inputs.proprio, np.arange(8.0))  # proprio is the joints alone
    np.testing.assert_allclose(inputs.eef_pose, [0.4, 0.1, 0.2, 1.0, 0.0, 0.0, 0.0])
    assert inputs.eef_frame_id == "base"
    np.testing.assert_allclose(pose_to_xyz_quat(_pose_msg()), inputs.eef_pose)
