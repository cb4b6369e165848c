"""`adp-ros bag synth`: topics, rates, stamps, moving images and task phases of the synthetic bag."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.core.stamps import stamp_ns_of
from adp_ros.tools.bags.messages import message_to_dict
from adp_ros.tools.bags.reader import BagReader
from adp_ros.tools.bags.synth import SynthOptions, camera_topic, synthesize_bag, task_phases
from adp_ros.tools.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:lark.*")

SMALL = {"duration_sec": 1.5, "width": 64, "height": 64, "progress": False}


def _read(path: Path) -> dict[str, list[tuple[int, object]]]:
    out: dict[str, list[tuple[int, object]]] = {}
    with BagReader(path) as reader:
        for topic, log_time_ns, msg in reader.messages():
            out.setdefault(topic, []).append((log_time_ns, msg))
        assert reader.last_stats.report() == []
    return out


@pytest.fixture(scope="module")
def libero(tmp_path_factory) -> tuple[SynthOptions, Path, dict]:
    options = SynthOptions(preset="libero", seed=1, **SMALL)
    path = tmp_path_factory.mktemp("synth") / "libero"
    synthesize_bag(path, options)
    return options, path, _read(path)


@pytest.fixture(scope="module")
def aloha(tmp_path_factory) -> tuple[SynthOptions, Path, dict]:
    options = SynthOptions(preset="aloha", storage="mcap", seed=2, **SMALL)
    path = tmp_path_factory.mktemp("synth") / "aloha"
    synthesize_bag(path, options)
    return options, path, _read(path)


def _frames(messages: list[tuple[int, object]]) -> list[np.ndarray]:
    return [np.frombuffer(m.data, np.uint8).reshape(m.height, m.width, 3).astype(np.int16) for _, m in messages]


def test_libero_topics_types_and_rates(libero):
    options, path, data = libero
    with BagReader(path) as reader:
        summary = reader.summary
    types = {t.name: t.msgtype for t in summary.topics}
    assert types == {
        "/camera/primary/image_raw": "sensor_msgs/msg/Image",
        "/camera/wrist/image_raw": "sensor_msgs/msg/Image",
        "/joint_states": "sensor_msgs/msg/JointState",
        "/eef_pose": "geometry_msgs/msg/PoseStamped",
        "/instruction": "std_msgs/msg/String",
    }
    assert summary.storage == "sqlite3"
    assert abs(summary.duration_sec - 1.5) < 0.05
    assert summary.start_ns >= options.start_time_ns
    # 15 Hz cameras, 100 Hz joints over 1.5 s.
    for name in ("primary", "wrist"):
        assert 21 <= len(data[camera_topic(name)]) <= 24
    assert 148 <= len(data["/joint_states"]) <= 152
    assert len(data["/eef_pose"]) == len(data["/joint_states"])
    ((log_ns, instruction),) = data["/instruction"]
    assert instruction.data == options.instruction_text and log_ns - options.start_time_ns < 200_000_000
    assert summary.topic("/camera/primary/image_raw").playback_qos.reliability == "best_effort"
    assert summary.topic("/instruction").playback_qos.durability == "transient_local"
    assert summary.topic("/joint_states").playback_qos.reliability == "reliable"


def test_stamps_are_monotonic_and_precede_log_time(libero):
    _, _, data = libero
    for topic, messages in data.items():
        logs = np.array([lt for lt, _ in messages])
        assert (np.diff(logs) > 0).all(), topic
        if topic == "/instruction":
            continue
        stamps = np.array([stamp_ns_of(m) for _, m in messages])
        assert (np.diff(stamps) > 0).all(), topic
        latency_ms = (logs - stamps) / 1e6
        assert latency_ms.min() > 0.1 and latency_ms.max() < 15, topic
        assert latency_ms.std() > 0.05, f"{topic}: latency has no jitter"
    periods = np.diff([stamp_ns_of(m) for _, m in data["/camera/primary/image_raw"]]) / 1e6
    assert abs(np.median(periods) - 1000 / 15) < 1.0 and periods.std() > 0.05  # 15 Hz with jitter


def test_message_contents(libero):
    _, _, data = libero
    image = data["/camera/wrist/image_raw"][0][1]
    assert (image.height, image.width, image.encoding, image.step) == (64, 64, "rgb8", 192)
    assert image.header.frame_id == "wrist_camera_optical_frame"
    assert data["/camera/primary/image_raw"][0][1].header.frame_id == "primary_camera_optical_frame"
    joints = data["/joint_states"][0][1]
    assert list(joints.name) == [
        *(f"panda_joint{i}" for i in range(1, 8)),
        "panda_finger_joint1",
        "panda_finger_joint2",
    ]
    assert len(joints.position) == len(joints.velocity) == len(joints.effort) == 9
    assert data["/eef_pose"][0][1].header.frame_id == "panda_link0"


def test_images_move_with_the_arm(libero):
    _, _, data = libero
    for name in ("primary", "wrist"):
        frames = _frames(data[camera_topic(name)])
        change = np.abs(frames[len(frames) // 4] - frames[0]).mean()
        noise = np.abs(frames[1] - frames[0]).mean()
        assert change > 2.0 * noise and change > 3.0, (name, change, noise)
    wrist, primary = _frames(data[camera_topic("wrist")]), _frames(data[camera_topic("primary")])
    # The wrist camera rides on the hand: its view changes much more than the fixed camera's.
    assert np.abs(wrist[5] - wrist[0]).mean() > 2 * np.abs(primary[5] - primary[0]).mean()


def test_phases_fast_slow_and_still(libero):
    options, path, data = libero
    poses = data["/eef_pose"]
    stamps = np.array([stamp_ns_of(m) for _, m in poses])
    xyz = np.array([[m.pose.position.x, m.pose.position.y, m.pose.position.z] for _, m in poses])
    speed = np.linalg.norm(np.diff(xyz, axis=0), axis=1) / (np.diff(stamps) / 1e9)
    mid = stamps[1:]
    with BagReader(path) as reader:
        stored = json.loads(reader.summary.custom_data["adp_ros.synth"])
    phases = task_phases(options)
    assert [p["name"] for p in stored["phases"]] == [p.name for p in phases]
    by_phase = {p.name: speed[(mid >= p.start_ns) & (mid < p.end_ns)] for p in phases}
    assert by_phase["reach"].max() > 0.3 and by_phase["transport"].max() > 0.3  # coarse: fast
    assert by_phase["grasp"].max() < 0.01  # standstill: near zero
    assert 0.01 < by_phase["approach"].mean() < by_phase["reach"].mean() / 2  # fine: slow, not still
    # The gripper closes during the grasp and opens at the end of the place.
    fingers = np.array([m.position[7] for _, m in data["/joint_states"]])
    joint_stamps = np.array([stamp_ns_of(m) for _, m in data["/joint_states"]])
    grasp = next(p for p in phases if p.name == "grasp")
    assert fingers[joint_stamps < grasp.start_ns].min() > 0.039
    assert fingers[(joint_stamps > grasp.end_ns) & (joint_stamps < phases[-1].start_ns)].max() < 0.03
    assert fingers[-1] > 0.035
    # Joint positions are smooth and the velocities match them.
    positions = np.array([m.position[:7] for _, m in data["/joint_states"]])
    velocities = np.array([m.velocity[:7] for _, m in data["/joint_states"]])
    finite_difference = np.diff(positions, axis=0) / (np.diff(joint_stamps) / 1e9)[:, None]
    error = np.abs(finite_difference - (velocities[1:] + velocities[:-1]) / 2)
    assert error.max() < 0.1 * np.abs(velocities).max() + 0.01


def test_aloha_topics_and_joints(aloha):
    options, path, data = aloha
    assert set(data) == {
        "/camera/primary/image_raw",
        "/camera/left_wrist/image_raw",
        "/camera/right_wrist/image_raw",
        "/joint_states",
        "/left_eef_pose",
        "/right_eef_pose",
        "/instruction",
    }
    with BagReader(path) as reader:
        assert reader.summary.storage == "mcap"
    joints = data["/joint_states"][-1][1]
    names = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper"]
    assert list(joints.name) == [f"left_{n}" for n in names] + [f"right_{n}" for n in names]
    assert len(joints.velocity) == len(joints.effort) == 14
    assert data["/left_eef_pose"][0][1].header.frame_id == "left_base_link"
    for name in options.camera_names:
        frames = _frames(data[camera_topic(name)])
        assert np.abs(frames[len(frames) // 3] - frames[0]).mean() > 3.0, name


def test_deterministic_for_a_seed(tmp_path: Path, libero):
    options, _, data = libero
    synthesize_bag(tmp_path / "again", options)
    again = _read(tmp_path / "again")
    for topic in ("/camera/wrist/image_raw", "/joint_states", "/eef_pose"):
        assert [message_to_dict(m) for _, m in again[topic][:10]] == [message_to_dict(m) for _, m in data[topic][:10]]
        assert [lt for lt, _ in again[topic]] == [lt for lt, _ in data[topic]]
    other = SynthOptions(preset="libero", seed=options.seed + 1, duration_sec=0.5, width=64, height=64, progress=False)
    synthesize_bag(tmp_path / "other", other)
    first = _read(tmp_path / "other")["/camera/primary/image_raw"][0][1]
    assert bytes(first.data) != bytes(data["/camera/primary/image_raw"][0][1].data)


def test_real_camera_size(tmp_path: Path):
    options = SynthOptions(duration_sec=0.3, fps=10, width=640, height=480, eef_pose=False, progress=False)
    summary = synthesize_bag(tmp_path / "vga", options)
    assert "/eef_pose" not in summary.counts
    with BagReader(tmp_path / "vga") as reader:
        _, _, image = next(iter(reader.messages(["/camera/primary/image_raw"])))
    assert (image.width, image.height, image.step, len(image.data)) == (640, 480, 1920, 640 * 480 * 3)


def test_cli_writes_and_summarises(tmp_path: Path, capsys):
    out = tmp_path / "cli_bag"
    args = ["bag", "synth", str(out), "--size", "32x24", "--duration", "0.5", "--storage", "mcap", "--quiet"]
    assert main([*args, "--instruction", "stack the cups"]) == 0
    printed = capsys.readouterr().out
    assert "/camera/wrist/image_raw" in printed and "storage:   mcap" in printed and "grasp" in printed
    assert main(args) == 2  # exists
    assert "exists" in capsys.readouterr().err
    assert main([*args, "--overwrite", "--preset", "aloha"]) == 0
    assert main(["bag", "info", str(out), "--check"]) == 0
    printed = capsys.readouterr().out
    assert "/camera/right_wrist/image_raw" in printed and "no problems found" in printed


def test_options_are_validated(tmp_path: Path, capsys):
    with pytest.raises(ConfigError, match="unknown platform preset 'libro'"):
        SynthOptions(preset="libro")
    with pytest.raises(ConfigError, match="fps=0"):
        SynthOptions(fps=0)
    assert main(["bag", "synth", str(tmp_path / "x"), "--size", "640*480"]) == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a bag folder"):
        synthesize_bag(tmp_path / "taken", SynthOptions(overwrite=True, progress=False, duration_sec=0.3))
    assert (tmp_path / "taken" / "file.txt").exists()
