"""`adp-ros bag play` / `bag record` with real rclpy: play a synthetic bag and record it back in one process.

Run inside scripts/isolated (the `ros_context` fixture refuses to run on a real network).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from adp_ros.core.errors import InputError
from adp_ros.core.stamps import stamp_ns_of
from adp_ros.tools.bags.messages import message_to_dict
from adp_ros.tools.bags.play import BagPlayer, PlayOptions
from adp_ros.tools.bags.reader import BagReader
from adp_ros.tools.bags.record import BagRecorder, RecordOptions
from adp_ros.tools.bags.synth import SynthOptions, synthesize_bag
from adp_ros.tools.cli import main

pytestmark = [pytest.mark.ros, pytest.mark.filterwarnings("ignore::DeprecationWarning:lark.*")]


@pytest.fixture(scope="module")
def bag(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("play") / "libero"
    synthesize_bag(path, SynthOptions(duration_sec=1.5, width=64, height=64, progress=False, seed=4))
    return path


def _read(path: Path, topics: list[str] | None = None) -> dict[str, list[tuple[int, object]]]:
    out: dict[str, list[tuple[int, object]]] = {}
    with BagReader(path) as reader:
        for topic, log_time_ns, msg in reader.messages(topics):
            out.setdefault(topic, []).append((log_time_ns, msg))
    return out


class Spinning:
    """Spin nodes in a background thread for the duration of a `with` block."""

    def __init__(self, context, *nodes) -> None:
        from rclpy.executors import SingleThreadedExecutor

        self.executor = SingleThreadedExecutor(context=context)
        for node in nodes:
            self.executor.add_node(node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)

    def __enter__(self) -> Spinning:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.executor.shutdown()
        self.thread.join(timeout=5)


def _wait_for(condition: Callable[[], bool], timeout_sec: float) -> bool:
    deadline = time.monotonic() + timeout_sec
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def _median_slope(x: np.ndarray, y: np.ndarray, min_dx: float) -> float:
    """Theil-Sen: the median of the slopes between every two points at least `min_dx` apart in x. A message
    the machine published late moves few of them: no absolute wall-time tolerance is needed."""
    i, j = np.triu_indices(len(x), k=1)
    dx = (x[j] - x[i]).astype(np.float64)
    keep = dx >= min_dx
    return float(np.median((y[j] - y[i])[keep] / dx[keep]))


def test_play_at_double_rate_and_record_back(ros_context, bag: Path, tmp_path: Path):
    original = _read(bag)
    topics = tuple(sorted(original))
    expected = {topic: len(messages) for topic, messages in original.items()}
    out = tmp_path / "recorded"
    with BagPlayer(bag, PlayOptions(rate=2.0, delay_sec=10.0), context=ros_context) as player:
        recorder = BagRecorder(out, RecordOptions(topics=topics, storage="mcap"), context=ros_context)
        try:
            recorder.start()  # the player's publishers exist: types come from the graph
            assert recorder.types["/camera/primary/image_raw"] == "sensor_msgs/msg/Image"
            with Spinning(ros_context, recorder.node):
                began = time.monotonic()
                played = player.run()
                wall = time.monotonic() - began
                _wait_for(lambda: recorder.counts == expected, 5.0)
                result = recorder.stop()
        finally:
            recorder.close()

    assert played.counts == expected and played.loops == 1 and not played.stopped
    assert result.counts == expected
    # Never ahead of the bag: a message goes out no earlier than its log-time offset / rate (load only delays).
    bag_span_ns = max(lt for m in original.values() for lt, _ in m) - min(lt for m in original.values() for lt, _ in m)
    assert wall >= bag_span_ns / 2 / 1e9 and played.wall_sec >= bag_span_ns / 2 / 1e9, (wall, bag_span_ns)
    recorded = _read(out)
    for topic, messages in original.items():
        got = recorded[topic]
        assert [message_to_dict(m) for _, m in got] == [message_to_dict(m) for _, m in messages], topic
    # Timing: the recorded log times are the original spacing halved (rate 1 gives 1, no pacing about 0), as the
    # median ratio of recorded to original spacing over pairs of messages at least 0.5 s of bag time apart.
    logs_in = np.array([lt for lt, _ in original["/joint_states"]], dtype=np.int64)
    logs_out = np.array([lt for lt, _ in recorded["/joint_states"]], dtype=np.int64)
    assert np.all(np.diff(logs_out) >= 0)
    slope = _median_slope(logs_in, logs_out, min_dx=0.5e9)
    assert 0.45 < slope < 0.55, slope
    # The publishers' QoS went into the recorded bag, so it replays alike.
    with BagReader(out) as reader:
        assert reader.topics["/camera/wrist/image_raw"].playback_qos.reliability == "best_effort"
        assert reader.topics["/instruction"].playback_qos.durability == "transient_local"
        assert reader.topics["/joint_states"].playback_qos.reliability == "reliable"


def test_step_with_selection_remap_clock_and_offset(ros_context, bag: Path):
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import Image, JointState

    original = _read(bag, ["/joint_states"])["/joint_states"]
    options = PlayOptions(
        topics=("/joint_states",),
        remaps=(("/joint_states", "/robot/joint_states"),),
        clock=True,
        start_offset_sec=0.5,
    )
    listener = Node("listener", context=ros_context)
    joints: list[JointState] = []
    clocks: list[int] = []
    images: list[Image] = []
    listener.create_subscription(JointState, "/robot/joint_states", joints.append, 10)
    listener.create_subscription(Image, "/camera/primary/image_raw", images.append, qos_profile_sensor_data)
    listener.create_subscription(
        Clock, "/clock", lambda m: clocks.append(m.clock.sec * 1_000_000_000 + m.clock.nanosec), 10
    )
    try:
        with BagPlayer(bag, options, context=ros_context) as player, Spinning(ros_context, listener):
            assert player.topic_map == {"/joint_states": "/robot/joint_states"}
            assert player.wait_for_subscribers(10.0)
            assert _wait_for(lambda: player.node.count_subscribers("/clock") > 0, 10.0)
            stepped = [player.step() for _ in range(5)]
            assert _wait_for(lambda: len(joints) == 5 and len(clocks) == 5, 5.0)
            assert player.counts == {"/robot/joint_states": 5}
    finally:
        listener.destroy_node()

    offset_ns = original[0][0] + 500_000_000 - 1_000_000  # bag start is ~1 ms before the first joint state
    skipped = [m for lt, m in original if lt < offset_ns]
    assert all(m.log_time_ns >= offset_ns for m in stepped)
    first = len(skipped)
    assert [stamp_ns_of(m) for m in joints] == [stamp_ns_of(m) for _, m in original[first : first + 5]]
    assert clocks == [m.log_time_ns for m in stepped]  # /clock jumps to each message's log time
    assert images == []  # not selected


def test_background_play_can_be_stopped(ros_context, bag: Path):
    with BagPlayer(bag, PlayOptions(rate=0.25, delay_sec=0.0, loop=True), context=ros_context) as player:
        player.start()
        assert _wait_for(lambda: player.result().message_count > 0, 10.0)
        assert player.wait(0.3) is None  # still playing
        result = player.stop()
    with BagReader(bag) as reader:
        total = reader.summary.message_count
    assert result.stopped and result.loops == 0
    assert 0 < result.message_count < total  # a 6 s replay (1.5 s at rate 0.25) stopped early


def test_bad_selections_fail_before_publishing(ros_context, bag: Path):
    with pytest.raises(InputError, match=r"/joint_state not in the bag \(did you mean '/joint_states'\?\)"):
        BagPlayer(bag, PlayOptions(topics=("/joint_state",)), context=ros_context)
    with pytest.raises(InputError, match="--remap source"):
        BagPlayer(bag, PlayOptions(remaps=(("/joints", "/x"),)), context=ros_context)
    with pytest.raises(InputError, match="cannot publish /joint_states as '/bad name'"):
        BagPlayer(bag, PlayOptions(remaps=(("/joint_states", "/bad name"),)), context=ros_context)


def test_recorder_reports_missing_publishers(ros_context, tmp_path: Path):
    recorder = BagRecorder(
        tmp_path / "out", RecordOptions(topics=("/nobody_publishes",), discovery_timeout_sec=0.3), context=ros_context
    )
    with recorder, pytest.raises(InputError, match=r"no publisher on /nobody_publishes after 0\.3 s"):
        recorder.start()
    assert not (tmp_path / "out").exists()


def test_cli_play_and_record(ros_context, bag: Path, tmp_path: Path, capsys):
    assert main(["bag", "play", str(bag), "--rate", "20", "--delay", "0", "--topics", "/instruction"]) == 0
    out = capsys.readouterr().out
    assert "playing /instruction" in out and "/instruction: 1" in out
    assert main(["bag", "record", str(tmp_path / "r"), "--topics", "/nobody", "--wait", "0.2"]) == 2
    assert "no publisher on /nobody" in capsys.readouterr().err
