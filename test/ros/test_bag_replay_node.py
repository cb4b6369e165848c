"""A recorded bag replayed into the live node, its outputs recorded into another bag (`ros2 bag play` /
`ros2 bag record` equivalents): chunks arrive with the right type, shape and observation stamps."""

from __future__ import annotations

import itertools
import threading

import pytest
from node_harness import NODE, stamp_of, wait_until

from adp_ros.core.params import PLATFORM_PRESETS

pytestmark = pytest.mark.ros


def test_replayed_bag_drives_the_node_and_its_outputs_are_recorded(ros_context, tiny_libero_checkpoint, tmp_path):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from adp_ros.core.stamps import stamp_ns_of
    from adp_ros.ros.node import AdpPolicyNode
    from adp_ros.tools.bags.play import BagPlayer, PlayOptions
    from adp_ros.tools.bags.reader import BagReader
    from adp_ros.tools.bags.record import BagRecorder, RecordOptions
    from adp_ros.tools.bags.synth import SynthOptions, synthesize_bag

    source = tmp_path / "source"
    synthesize_bag(
        source, SynthOptions(preset="libero", duration_sec=3.0, width=96, height=96, storage="mcap", progress=False)
    )
    values = {
        **PLATFORM_PRESETS["libero"],
        "model.checkpoint": str(tiny_libero_checkpoint),
        "model.warmup": False,
        "use_sim_time": True,
    }
    node = AdpPolicyNode(context=ros_context, parameter_overrides=[Parameter(k, value=v) for k, v in values.items()])
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    recorder = player = None
    try:
        assert node.start_up()
        topics = (NODE + "/preview", NODE + "/latency")
        recorder = BagRecorder(tmp_path / "outputs", RecordOptions(topics=topics), context=ros_context)
        recorder.start()
        executor.add_node(recorder.node)
        player = BagPlayer(source, PlayOptions(clock=True, delay_sec=2.0), context=ros_context)
        played = player.run()
        assert played.counts["/camera/primary/image_raw"] == 45  # 3 s at 15 fps
        wait_until(lambda: recorder.counts.get(topics[0], 0) >= 4, timeout=5.0)
        result = recorder.stop()
    finally:
        executor.shutdown()
        node.destroy_node()
        for part in (recorder, player):
            if part is not None:
                part.close()

    assert result.counts[topics[0]] >= 4 and result.counts[topics[1]] >= result.counts[topics[0]]
    with BagReader(source) as reader:
        camera_stamps = {
            stamp_ns_of(m) for _, _, m in reader.messages(["/camera/primary/image_raw", "/camera/wrist/image_raw"])
        }
    with BagReader(tmp_path / "outputs") as reader:
        assert reader.topics[topics[0]].msgtype == "trajectory_msgs/msg/MultiDOFJointTrajectory"
        chunks = [m for _, _, m in reader.messages([topics[0]])]
    for chunk in chunks:
        assert list(chunk.joint_names) == ["end_effector", "gripper"]
        assert len(chunk.points) == 8  # LIBERO: 8 steps per chunk
        assert stamp_of(chunk) in camera_stamps  # each chunk names the observation it came from
        times = [p.time_from_start.sec * 1e9 + p.time_from_start.nanosec for p in chunk.points]
        assert all(b - a == pytest.approx(50e6, abs=1) for a, b in itertools.pairwise(times))  # 20 Hz
