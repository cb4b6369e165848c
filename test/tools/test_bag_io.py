"""Bag read/write (adp_ros.tools.bags: reader, writer, messages, topic_qos): both storages, every message type
the node uses, and bad bags.

No rclpy context: `rclpy.serialization` needs none. Decoded fields are compared, never CDR bytes (Fast-CDR pad
bytes are uninitialised; environment.md gotcha 7).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.core.stamps import stamp_ns_of
from adp_ros.tools.bags.messages import message_class, message_to_dict, message_type_name
from adp_ros.tools.bags.reader import BagReader, read_summary
from adp_ros.tools.bags.storage import STORAGES
from adp_ros.tools.bags.topic_qos import LATCHED_QOS, SENSOR_DATA_QOS, TopicQos
from adp_ros.tools.bags.writer import BagWriter

# rosbags parses message definitions with lark, which imports deprecated sre_* modules.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:lark.*")

START_NS = 1_718_035_200_123_456_789


def _stamped(msg, stamp_ns: int, frame_id: str = "base"):
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = frame_id
    return msg


def sample_messages() -> dict[str, object]:
    """One filled message of every type the node reads or writes, keyed by topic."""
    from builtin_interfaces.msg import Duration
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    from geometry_msgs.msg import PoseStamped, Transform, Twist
    from sensor_msgs.msg import CompressedImage, Image, JointState
    from std_msgs.msg import Float32MultiArray, MultiArrayDimension, String
    from trajectory_msgs.msg import (
        JointTrajectory,
        JointTrajectoryPoint,
        MultiDOFJointTrajectory,
        MultiDOFJointTrajectoryPoint,
    )

    image = _stamped(Image(height=2, width=3, encoding="rgb8", step=9, data=bytes(range(18))), START_NS, "cam")
    compressed = _stamped(CompressedImage(format="jpeg", data=b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"), START_NS)
    joints = _stamped(
        JointState(name=["a", "b"], position=[0.5, -1.25], velocity=[0.1, 0.2], effort=[3.0, -4.0]), START_NS
    )
    pose = _stamped(PoseStamped(), START_NS, "panda_link0")
    pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = 0.4, -0.1, 0.3
    pose.pose.orientation.x, pose.pose.orientation.w = 1.0, 0.0
    trajectory = _stamped(JointTrajectory(joint_names=["a", "b"]), START_NS)
    trajectory.points = [
        JointTrajectoryPoint(positions=[0.1 * i, 0.2 * i], time_from_start=Duration(sec=0, nanosec=50_000_000 * i))
        for i in range(3)
    ]
    multi = _stamped(MultiDOFJointTrajectory(joint_names=["eef"]), START_NS)
    transform = Transform()
    transform.translation.x, transform.rotation.w = 0.01, 1.0
    twist = Twist()
    twist.linear.z = -0.02
    multi.points = [
        MultiDOFJointTrajectoryPoint(
            transforms=[transform], velocities=[twist], time_from_start=Duration(sec=0, nanosec=40_000_000)
        )
    ]
    array = Float32MultiArray(data=[0.25, -0.5, 1.0, 2.0])
    array.layout.dim = [MultiArrayDimension(label="chunk", size=2, stride=4), MultiArrayDimension(label="dim", size=2)]
    status = DiagnosticStatus(level=DiagnosticStatus.WARN, name="adp_ros: gate", message="slow", hardware_id="cpu")
    status.values = [KeyValue(key="latency_ms", value="12.5")]
    diagnostics = _stamped(DiagnosticArray(status=[status]), START_NS)
    return {
        "/camera/primary/image_raw": image,
        "/camera/primary/image_raw/compressed": compressed,
        "/joint_states": joints,
        "/eef_pose": pose,
        "/instruction": String(data="pick up the red block"),
        "/action/joint_trajectory": trajectory,
        "/action/eef_trajectory": multi,
        "/action/chunk": array,
        "/diagnostics": diagnostics,
    }


@pytest.mark.parametrize("storage", STORAGES)
def test_every_message_type_round_trips(tmp_path: Path, storage: str):
    messages = sample_messages()
    bag = tmp_path / "bag"
    with BagWriter(bag, storage) as writer:
        for i, (topic, msg) in enumerate(messages.items()):
            writer.write(topic, START_NS + i * 1_000_000, msg)
            writer.write(topic, START_NS + (i + 20) * 1_000_000, msg)
    with BagReader(bag) as reader:
        summary = reader.summary
        assert summary.storage == storage
        assert summary.counts == dict.fromkeys(messages, 2)
        assert {t.name: t.msgtype for t in summary.topics} == {t: message_type_name(m) for t, m in messages.items()}
        assert summary.start_ns == START_NS
        assert summary.end_ns == START_NS + (len(messages) - 1 + 20) * 1_000_000
        # No QoS stored (written without): cameras replay best effort, the rest reliable.
        assert summary.topic("/camera/primary/image_raw").playback_qos == SENSOR_DATA_QOS
        assert summary.topic("/joint_states").playback_qos == TopicQos()
        got = list(reader.messages())
    assert [lt for _, lt, _ in got] == sorted(lt for _, lt, _ in got)
    assert len(got) == 2 * len(messages)
    for topic, _, msg in got:
        assert type(msg) is type(messages[topic])
        assert message_to_dict(msg) == message_to_dict(messages[topic]), topic


@pytest.mark.parametrize("storage", STORAGES)
def test_joint_state_with_empty_effort_from_rclpy_bytes(tmp_path: Path, storage: str):
    """rclpy pads an empty trailing float64[] with 4 bytes that rosbags' deserialiser rejects; ours reads it."""
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import JointState

    msg = _stamped(JointState(name=["j1", "j2"], position=[0.25, -1.5], velocity=[0.0, 1.0], effort=[]), START_NS)
    with BagWriter(tmp_path / "bag", storage) as writer:
        writer.write("/joint_states", START_NS, serialize_message(msg), msgtype="sensor_msgs/msg/JointState")
    with BagReader(tmp_path / "bag") as reader:
        ((topic, log_time_ns, got),) = list(reader.messages())
    assert (topic, log_time_ns) == ("/joint_states", START_NS)
    assert list(got.effort) == [] and list(got.position) == [0.25, -1.5] and list(got.name) == ["j1", "j2"]
    assert message_to_dict(got) == message_to_dict(msg)


@pytest.mark.parametrize("storage", STORAGES)
def test_rosbags_serialised_bytes_decode_in_rclpy(tmp_path: Path, storage: str):
    import numpy as np
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    Time, Header, JointState = (
        store.types[n] for n in ("builtin_interfaces/msg/Time", "std_msgs/msg/Header", "sensor_msgs/msg/JointState")
    )
    msg = JointState(
        header=Header(stamp=Time(sec=1_718_035_200, nanosec=5), frame_id="base"),
        name=["a", "b"],
        position=np.array([1.0, 2.0]),
        velocity=np.array([0.5, -0.5]),
        effort=np.array([], dtype=np.float64),
    )
    data = store.serialize_cdr(msg, "sensor_msgs/msg/JointState")
    with BagWriter(tmp_path / "bag", storage) as writer:
        writer.write("/joint_states", START_NS, data, msgtype="sensor_msgs/msg/JointState")
    with BagReader(tmp_path / "bag") as reader:
        ((_, _, got),) = list(reader.messages())
    assert stamp_ns_of(got) == 1_718_035_200_000_000_005 and got.header.frame_id == "base"
    assert list(got.name) == ["a", "b"] and list(got.position) == [1.0, 2.0] and list(got.effort) == []


@pytest.mark.parametrize("storage", STORAGES)
def test_selection_time_window_raw_bytes_and_qos(tmp_path: Path, storage: str):
    from std_msgs.msg import String

    bag = tmp_path / "bag"
    with BagWriter(bag, storage) as writer:
        writer.add_topic("/instruction", "std_msgs/msg/String", LATCHED_QOS)
        writer.add_topic("/other", "std_msgs/msg/String", [SENSOR_DATA_QOS, TopicQos()])
        for i in (5, 3, 9, 1, 7):  # written out of order: read back in log-time order
            writer.write("/other", i * 1000, String(data=str(i)))
        writer.write("/instruction", 4000, String(data="go"))
    with BagReader(bag) as reader:
        assert [m.msg.data for m in reader.messages(["/other"])] == ["1", "3", "5", "7", "9"]
        window = list(reader.messages(start_ns=3000, stop_ns=7000))
        assert [(m.topic, m.log_time_ns) for m in window] == [
            ("/other", 3000),
            ("/instruction", 4000),
            ("/other", 5000),
        ]
        raw = list(reader.raw_messages(["instruction"]))  # a relative name means the absolute one
        assert [(r.topic, r.msgtype) for r in raw] == [("/instruction", "std_msgs/msg/String")]
        assert isinstance(raw[0].data, bytes)
        topics = reader.topics
    assert topics["/instruction"].offered_qos == (LATCHED_QOS,)
    assert topics["/instruction"].playback_qos == LATCHED_QOS
    assert topics["/other"].playback_qos.reliability == "best_effort"  # compatible with both publishers


def test_header_stamp_and_type_helpers():
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    assert stamp_ns_of(_stamped(Image(), 1_500_000_000_250)) == 1_500_000_000_250
    assert stamp_ns_of(String()) is None
    assert message_class("sensor_msgs/msg/Image") is Image
    assert message_class("std_msgs/String") is String
    assert message_type_name(Image) == message_type_name(Image()) == "sensor_msgs/msg/Image"
    with pytest.raises(InputError, match="not installed"):
        message_class("no_such_msgs/msg/Thing")
    with pytest.raises(InputError, match="package/msg/Name"):
        message_class("not a type")


# ------------------------------------------------------------------------------------------------ bad bags


def _write_strings(path: Path, storage: str, count: int = 200, topic: str = "/s") -> None:
    from std_msgs.msg import String

    with BagWriter(path, storage) as writer:
        for i in range(count):
            writer.write(topic, START_NS + i * 1_000_000, String(data=f"message {i} " + "x" * 200))


def test_missing_path_and_not_a_bag(tmp_path: Path):
    with pytest.raises(InputError, match="does not exist"):
        BagReader(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a rosbag2 bag"):
        BagReader(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="not a rosbag2 bag"):
        BagReader(tmp_path / "notes.txt")
    (tmp_path / "fake.db3").write_bytes(b"definitely not sqlite" * 50)
    with pytest.raises(InputError, match=r"fake\.db3"):
        BagReader(tmp_path / "fake.db3")


@pytest.mark.parametrize("storage", STORAGES)
def test_missing_topic_lists_available(tmp_path: Path, storage: str):
    _write_strings(tmp_path / "bag", storage, count=3, topic="/joint_states")
    with BagReader(tmp_path / "bag") as reader, pytest.raises(InputError) as info:
        reader.messages(["/joint_state", "/camera/primary/image_raw"])
    text = str(info.value)
    assert "/joint_state, /camera/primary/image_raw not in the bag" in text
    assert "did you mean '/joint_states'" in text and "available: /joint_states" in text


@pytest.mark.parametrize("storage", STORAGES)
def test_unknown_message_type_is_skipped_with_count_and_warning(tmp_path: Path, storage: str, caplog):
    from std_msgs.msg import String

    bag = tmp_path / "bag"
    with BagWriter(bag, storage) as writer:
        writer.write("/known", START_NS, String(data="a"))
        for i in range(3):  # bytes of a type this environment does not have
            writer.write("/gizmo", START_NS + i + 1, b"\x00\x01\x00\x00\x01\x00\x00\x00", msgtype="acme_msgs/msg/Gizmo")
    with caplog.at_level(logging.WARNING), BagReader(bag) as reader:
        assert reader.topics["/gizmo"].msgtype == "acme_msgs/msg/Gizmo"
        got = list(reader.messages())
        stats = reader.last_stats
    assert [m.topic for m in got] == ["/known"]
    assert stats.skipped_unknown_types == {"acme_msgs/msg/Gizmo": 3}
    assert "acme_msgs/msg/Gizmo" in caplog.text and "/gizmo" in caplog.text
    assert any("not installed" in line for line in stats.report())


@pytest.mark.parametrize("storage", STORAGES)
@pytest.mark.parametrize("keep", [0.5, 0.0])
def test_truncated_storage_file_gives_input_error_naming_it(tmp_path: Path, storage: str, keep: float):
    bag = tmp_path / "bag"
    _write_strings(bag, storage)
    (data_file,) = [p for p in bag.iterdir() if p.suffix in (".db3", ".mcap")]
    data = data_file.read_bytes()
    data_file.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(InputError) as info, BagReader(bag) as reader:
        for _ in reader.messages():
            pass
    assert data_file.name in str(info.value) and "truncated or corrupt" in str(info.value)


def test_corruption_found_while_reading_names_the_file_and_count(tmp_path: Path):
    """sqlite opens a bag cut in its last page; the damage shows only while reading."""
    bag = tmp_path / "bag"
    _write_strings(bag, "sqlite3", count=400)
    (data_file,) = bag.glob("*.db3")
    data = data_file.read_bytes()
    data_file.write_bytes(data[: len(data) - 2048])
    seen = 0
    expected = r"truncated or corrupt: reading failed after \d+ messages"
    with pytest.raises(InputError, match=expected) as info, BagReader(bag) as reader:
        for _ in reader.messages():
            seen += 1
    assert data_file.name in str(info.value) and seen > 0


@pytest.mark.parametrize("storage", STORAGES)
def test_out_of_order_stamps_and_undecodable_messages_are_counted(tmp_path: Path, storage: str, caplog):
    from sensor_msgs.msg import JointState

    bag = tmp_path / "bag"
    stamps = [10, 20, 15, 30, 25, 40]  # two stamps go backwards; log times are in order
    with BagWriter(bag, storage) as writer:
        for i, stamp in enumerate(stamps):
            msg = _stamped(JointState(name=["a"], position=[float(i)]), START_NS + stamp * 1_000_000)
            writer.write("/joint_states", START_NS + i * 10_000_000, msg)
        writer.write("/joint_states", START_NS + 100_000_000, b"\x00\x01\x00\x00\xff\xff\xff\xff")
    with caplog.at_level(logging.WARNING), BagReader(bag) as reader:
        got = list(reader.messages())
        stats = reader.last_stats
    assert [m.msg.position[0] for m in got] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # log-time order kept
    assert stats.out_of_order_stamps == {"/joint_states": 2}
    assert stats.undecodable == {"/joint_states": 1}
    assert stats.per_topic == {"/joint_states": 6}
    assert "going backwards" in caplog.text and "do not decode" in caplog.text


def test_bag_without_metadata_is_read_from_its_single_file(tmp_path: Path, caplog):
    bag = tmp_path / "bag"
    _write_strings(bag, "mcap", count=5)
    (bag / "metadata.yaml").unlink()
    with caplog.at_level(logging.WARNING), BagReader(bag) as reader:
        assert sum(1 for _ in reader.messages()) == 5
    assert "no metadata.yaml" in caplog.text


def test_writer_refuses_existing_paths_and_bad_storage(tmp_path: Path):
    _write_strings(tmp_path / "bag", "sqlite3", count=2)
    with pytest.raises(InputError, match="exists"):
        BagWriter(tmp_path / "bag")
    with BagWriter(tmp_path / "bag", "mcap", overwrite=True) as writer:  # an existing bag may be replaced
        writer.write("/x", 1, b"\x00\x01\x00\x00\x02\x00\x00\x00a\x00", msgtype="std_msgs/msg/String")
    assert read_summary(tmp_path / "bag").storage == "mcap"
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.tex").write_text("...")
    with pytest.raises(InputError, match="not a bag folder"):
        BagWriter(tmp_path / "precious", overwrite=True)
    assert (tmp_path / "precious" / "thesis.tex").exists()
    with pytest.raises(ConfigError, match="storage='mcpa'"):
        BagWriter(tmp_path / "new", "mcpa")


def test_abort_leaves_nothing(tmp_path: Path):
    writer = BagWriter(tmp_path / "bag")
    writer.write("/x", 1, b"\x00\x01\x00\x00\x02\x00\x00\x00a\x00", msgtype="std_msgs/msg/String")
    writer.abort()
    assert not (tmp_path / "bag").exists()


def test_custom_data_survives(tmp_path: Path):
    with BagWriter(tmp_path / "bag", custom_data={"adp_ros.note": "hello"}) as writer:
        writer.write("/x", 1, b"\x00\x01\x00\x00\x02\x00\x00\x00a\x00", msgtype="std_msgs/msg/String")
    assert read_summary(tmp_path / "bag").custom_data == {"adp_ros.note": "hello"}
    shutil.rmtree(tmp_path / "bag")
