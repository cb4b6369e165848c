"""Test harness for `AdpPolicyNode`: the real node with a tiny checkpoint, and a peer node that publishes the
inputs and records the outputs, both spun by one executor in a background thread (inside the test's context).

Nothing is mocked: DDS transport, parameter services, lifecycle and the model are all real.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adp_ros.core.params import PLATFORM_PRESETS
from adp_ros.core.platform import ALOHA, LIBERO, PlatformConfig
from adp_ros.core.stamps import ns_of, sec_nanosec
from adp_ros.ros.image_conversion import array_to_imgmsg

REPO_ROOT = Path(__file__).resolve().parent.parent
PANDA = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGERS = ("panda_finger_joint1", "panda_finger_joint2")
NODE = "/adp_policy_node"
INSTRUCTION = "pick up the red block"
MS = 1_000_000


def make_checkpoint(root: Path, platform: PlatformConfig) -> Path:
    from adp_ros.model.tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(root / f"tiny_{platform.name}", platform)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)


def set_stamp(header: Any, stamp_ns: int) -> None:
    header.stamp.sec, header.stamp.nanosec = sec_nanosec(stamp_ns)


def stamp_of(msg: Any) -> int:
    return ns_of(msg.header.stamp)


class Harness:
    def __init__(
        self,
        context: Any,
        checkpoint: Path | None,
        *,
        preset: str = "libero",
        params: Mapping[str, Any] | None = None,
        start: bool = True,
        image_size: int = 96,
    ) -> None:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.parameter import Parameter

        from adp_ros.ros.node import AdpPolicyNode

        self.context = context
        self.platform = LIBERO if preset == "libero" else ALOHA
        values: dict[str, Any] = dict(PLATFORM_PRESETS[preset])
        values.update({"model.checkpoint": str(checkpoint), "task.instruction": INSTRUCTION, "model.warmup": False})
        values.update(params or {})
        self.values = values
        # Without a checkpoint: only the peer (for a node running in another process).
        self.node = (
            AdpPolicyNode(context=context, parameter_overrides=[Parameter(k, value=v) for k, v in values.items()])
            if checkpoint is not None
            else None
        )
        self.peer = Node("adp_test_peer", context=context)
        self._lock = threading.Lock()
        self.received: dict[str, list[Any]] = {}
        self._subscriptions: dict[str, Any] = {}
        self._image_pubs: list[Any] = []
        self._pubs: dict[str, Any] = {}
        self.rng = np.random.default_rng(0)
        self.image = self.rng.integers(0, 256, (image_size, image_size, 3), dtype=np.uint8)
        self.eef = np.array([0.4, 0.0, 0.3])
        self.executor = SingleThreadedExecutor(context=context)
        for node in (self.node, self.peer):
            if node is not None:
                self.executor.add_node(node)
        self._make_publishers()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()
        if start and self.node is not None:
            assert self.node.start_up(), "configure/activate failed"

    def _spin(self) -> None:
        with contextlib.suppress(Exception):  # shutdown races at teardown
            self.executor.spin()

    # ------------------------------------------------------------------------------------------ inputs
    def _make_publishers(self, *, compressed: bool = False) -> None:
        from geometry_msgs.msg import PoseStamped
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import CompressedImage, Image, JointState
        from std_msgs.msg import String

        cameras = self.values.get("topics.cameras") or PLATFORM_PRESETS["libero"]["topics.cameras"]
        image_type = CompressedImage if self.values.get("topics.image_transport") == "compressed" else Image
        self._image_pubs = [self.peer.create_publisher(image_type, t, qos_profile_sensor_data) for t in cameras]
        self._pubs["joint_states"] = self.peer.create_publisher(JointState, "joint_states", 10)
        self._pubs["eef_pose"] = self.peer.create_publisher(PoseStamped, "eef_pose", 10)
        self._pubs["instruction"] = self.peer.create_publisher(String, "instruction", 10)

    def now_ns(self) -> int:
        return (self.node or self.peer).get_clock().now().nanoseconds

    def joint_names(self) -> list[str]:
        if self.platform is LIBERO:
            return [*PANDA, *FINGERS]
        return list(PLATFORM_PRESETS["aloha"]["proprio.joint_names"])

    def joint_state(self, stamp_ns: int, names: Sequence[str] | None = None, positions: Any = None) -> Any:
        from sensor_msgs.msg import JointState

        names = list(names or self.joint_names())
        if positions is None:
            positions = np.linspace(-0.5, 0.5, len(names)) + 0.001 * (stamp_ns // MS % 1000)
        msg = JointState(name=names, position=[float(p) for p in positions])
        msg.velocity = [0.0] * len(names)
        msg.effort = [0.0] * len(names)
        set_stamp(msg.header, stamp_ns)
        return msg

    def pose(self, stamp_ns: int, xyz: Any = None) -> Any:
        from geometry_msgs.msg import PoseStamped

        msg = PoseStamped()
        set_stamp(msg.header, stamp_ns)
        x, y, z = self.eef if xyz is None else xyz
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = float(x), float(y), float(z)
        msg.pose.orientation.x, msg.pose.orientation.w = 1.0, 0.0  # pointing down
        return msg

    def publish(
        self,
        stamp_ns: int | None = None,
        *,
        image_msgs: Sequence[Any] | None = None,
        joint_state: Any = None,
        move: float = 0.0,
    ) -> int:
        """One observation (every camera, joint state, pose) stamped `stamp_ns` (default: node's now)."""
        stamp = self.now_ns() if stamp_ns is None else int(stamp_ns)
        self.eef = self.eef + np.array([move, 0.0, 0.0])
        for i, pub in enumerate(self._image_pubs):
            pub.publish(image_msgs[i] if image_msgs else array_to_imgmsg(self.image, "rgb8", stamp_ns=stamp))
        self._pubs["joint_states"].publish(joint_state if joint_state is not None else self.joint_state(stamp))
        self._pubs["eef_pose"].publish(self.pose(stamp))
        return stamp

    def stream(self, seconds: float, hz: float = 30.0, *, move: float = 0.0, **kwargs: Any) -> list[int]:
        """Publish observations at `hz` for `seconds` (wall time); returns the stamps."""
        stamps = []
        period = 1.0 / hz
        next_t = time.monotonic()
        end = next_t + seconds
        while time.monotonic() < end:
            stamps.append(self.publish(move=move, **kwargs))
            next_t += period
            time.sleep(max(0.0, next_t - time.monotonic()))
        return stamps

    def stream_until(self, predicate: Callable[[], Any], timeout: float = 10.0, hz: float = 30.0, **kwargs: Any) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.publish(**kwargs)
            value = predicate()
            if value:
                return value
            time.sleep(1.0 / hz)
        return predicate()

    def send_instruction(self, text: str) -> None:
        from std_msgs.msg import String

        self._pubs["instruction"].publish(String(data=text))

    # ----------------------------------------------------------------------------------------- outputs
    def record(self, msg_type: type, topic: str, qos: Any = 10) -> list[Any]:
        if topic in self._subscriptions:
            return self.received[topic]
        store: list[Any] = []
        self.received[topic] = store

        def keep(msg: Any) -> None:
            with self._lock:
                store.append(msg)

        self._subscriptions[topic] = self.peer.create_subscription(msg_type, topic, keep, qos)
        return store

    def latency(self) -> list[dict[str, str]]:
        """Key-values of every latency message received (call `record_latency` first)."""
        from adp_ros.ros.diagnostics import values_of

        return [values_of(m.status[0]) | {"_level": m.status[0].level[0]} for m in self.received[NODE + "/latency"]]

    def record_latency(self) -> list[Any]:
        from diagnostic_msgs.msg import DiagnosticArray

        return self.record(DiagnosticArray, NODE + "/latency")

    def wait_subscribed(self, timeout: float = 5.0) -> bool:
        """Until DDS matched the peer's recorders with the node's publishers (and vice versa)."""
        subs = list(self._subscriptions.values())
        pubs = [*self._image_pubs, self._pubs["joint_states"]]
        return bool(
            wait_until(
                lambda: (
                    all(s.get_publisher_count() > 0 for s in subs if "debug" not in s.topic_name)
                    and all(p.get_subscription_count() > 0 for p in pubs)
                ),
                timeout,
            )
        )

    # ------------------------------------------------------------------------------------ parameters
    def parameter_client(self) -> Any:
        from rclpy.parameter_client import AsyncParameterClient

        client = AsyncParameterClient(self.peer, NODE)
        assert client.wait_for_services(timeout_sec=10.0)
        return client

    def set_parameters(self, values: Mapping[str, Any]) -> list[Any]:
        """Through the node's SetParameters service (as `ros2 param set` does); returns the results."""
        from rclpy.parameter import Parameter

        future = self.parameter_client().set_parameters([Parameter(k, value=v) for k, v in values.items()])
        assert wait_until(future.done, 10.0), "set_parameters timed out"
        return list(future.result().results)

    def get_parameter(self, name: str) -> Any:
        from adp_ros.ros.parameters import plain

        return plain(self.node.get_parameter(name).value)

    def call_enable(self, enable: bool) -> Any:
        from std_srvs.srv import SetBool

        client = self.peer.create_client(SetBool, NODE + "/enable")
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(SetBool.Request(data=enable))
        assert wait_until(future.done, 10.0), "enable call timed out"
        return future.result()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        if self.node is not None:
            self.node.destroy_node()
        self.peer.destroy_node()
        self._thread.join(timeout=5.0)


class ManualClock:
    """Publishes /clock only when told to (the node runs with use_sim_time): ROS time moves exactly as the test
    says, so a test can count what happens per frame or per period instead of per wall second."""

    def __init__(self, h: Harness, start_ns: int) -> None:
        from rosgraph_msgs.msg import Clock

        self._h = h
        self._pub = h.peer.create_publisher(Clock, "/clock", 10)
        self.now_ns = int(start_ns)

    def set(self, now_ns: int, timeout: float = 10.0) -> None:
        """Publish `now_ns` until the node's clock shows it."""
        from rosgraph_msgs.msg import Clock

        from adp_ros.ros.stamps import time_msg

        self.now_ns = int(now_ns)

        def arrived() -> bool:
            self._pub.publish(Clock(clock=time_msg(self.now_ns)))
            return self._h.now_ns() >= self.now_ns

        assert wait_until(arrived, timeout, 0.02), f"the node's clock did not reach {self.now_ns}"

    def frame(self, stamp_ns: int, timeout: float = 10.0) -> None:
        """One observation stamped `stamp_ns`, delivered while ROS time is still before it, then ROS time moved to
        `stamp_ns`. A request that becomes due at `stamp_ns` can then only take this frame: had the clock moved
        first, the worker could have taken the frame still waiting from before."""
        node = self._h.node
        received = node.counters()["observations_received"]
        self._h.publish(stamp_ns)
        assert wait_until(lambda: node.counters()["observations_received"] > received, timeout), (
            f"the observation stamped {stamp_ns} did not reach the node"
        )
        self.set(stamp_ns, timeout)
