"""Record topics into a rosbag2 bag: the raw bytes rclpy delivers, stamped with their receive time.

Types come from the ROS graph: the recorder waits (up to --wait) until every topic has a publisher, then
subscribes with a QoS compatible with all of them (reliable only if every publisher is; transient-local only if
every publisher is) and stores the publishers' offered QoS in the bag, so `adp-ros bag play` replays it alike.
Recording stops after --duration, on Ctrl-C, or by `BagRecorder.stop()`; the bag is closed properly either way.

Network: this starts a ROS 2 participant. For tests and demos run it inside scripts/isolated (a loopback-only
network namespace), e.g. `scripts/isolated .venv/bin/adp-ros bag record OUT --topics /adp/action`. When
ROS_AUTOMATIC_DISCOVERY_RANGE is unset it is set to LOCALHOST; pass --lan to leave it unset.

examples:
  adp-ros bag record /tmp/outputs --topics /adp_policy_node/action /diagnostics --duration 10
"""

from __future__ import annotations

import argparse
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.tools.bags.messages import message_class
from adp_ros.tools.bags.play import cli_context
from adp_ros.tools.bags.storage import STORAGES
from adp_ros.tools.bags.summary import BagSummary
from adp_ros.tools.bags.topic_qos import TopicQos
from adp_ros.tools.bags.writer import BagWriter
from adp_ros.tools.common import add_lan_argument


@dataclass(frozen=True)
class RecordOptions:
    topics: tuple[str, ...]
    storage: str = "sqlite3"
    duration_sec: float | None = None
    """`run()` stops after this long (None: until Ctrl-C or stop())."""
    discovery_timeout_sec: float = 10.0
    """How long `start()` waits for every topic to have a publisher."""
    depth: int = 100
    """Subscription queue depth: large, so a busy executor drops nothing."""
    overwrite: bool = False

    def __post_init__(self) -> None:
        if not self.topics:
            raise ConfigError("no topics to record; pass --topics /topic1 /topic2 ...")
        if self.storage not in STORAGES:
            raise ConfigError(f"storage={self.storage!r} not in {STORAGES}")
        if self.duration_sec is not None and self.duration_sec <= 0:
            raise ConfigError(f"duration_sec={self.duration_sec} must be > 0 (or None: until stopped)")
        if self.discovery_timeout_sec < 0:
            raise ConfigError(f"discovery_timeout_sec={self.discovery_timeout_sec} must be >= 0")
        if self.depth < 1:
            raise ConfigError(f"depth={self.depth} must be >= 1")


@dataclass(frozen=True)
class RecordResult:
    counts: dict[str, int]
    summary: BagSummary

    def format(self) -> str:
        lines = [f"recorded {sum(self.counts.values())} messages into {self.summary.path}"]
        lines += [f"  {topic}: {count}" for topic, count in sorted(self.counts.items())]
        return "\n".join(lines)


class BagRecorder:
    """Records topics from a ROS node into a new bag; usable in one process with the nodes under test.

    `start()` waits for the topics and subscribes; the node must then be spun (add `recorder.node` to your
    executor, or call `run()`, which spins it). `stop()` closes the bag and returns the counts.
    """

    def __init__(
        self,
        out: str | Path,
        options: RecordOptions,
        *,
        context: Any = None,
        node: Any = None,
        node_name: str = "adp_bag_recorder",
    ) -> None:
        from rclpy.node import Node

        self.out = Path(out)
        self.options = options
        if self.out.exists() and not options.overwrite:
            raise InputError(f"{self.out} exists; choose a new path or pass --overwrite")
        self._own_node = node is None
        self.node = node if node is not None else Node(node_name, context=context)
        self._lock = threading.Lock()
        self._writer: BagWriter | None = None
        # sqlite objects may only be used by the thread that created them, while callbacks run on whatever
        # thread spins the node: one writer thread owns the bag, callbacks hand it the raw bytes.
        self._queue: queue.SimpleQueue[tuple[str, int, bytes] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._summary: Any = None
        self._failure: BaseException | None = None
        self._subscriptions: list[Any] = []
        self._counts: dict[str, int] = {}
        self._topics = [self.node.resolve_topic_name(t) for t in options.topics]
        self.types: dict[str, str] = {}
        self._result: RecordResult | None = None
        self._stop_requested = threading.Event()

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def discover(self, timeout_sec: float | None = None) -> dict[str, str]:
        """Topic -> type, once every topic has a publisher; InputError naming the missing ones after the timeout."""
        timeout = self.options.discovery_timeout_sec if timeout_sec is None else timeout_sec
        deadline = time.monotonic() + timeout
        while True:
            found: dict[str, list[str]] = {}
            for topic in self._topics:
                types = sorted({info.topic_type for info in self.node.get_publishers_info_by_topic(topic)})
                if types:
                    found[topic] = types
            if len(found) == len(self._topics) or time.monotonic() >= deadline:
                break
            if self._stop_requested.wait(0.02):
                raise KeyboardInterrupt  # stopped while waiting: nothing recorded, no bag created
        missing = [t for t in self._topics if t not in found]
        if missing:
            visible = sorted(name for name, _ in self.node.get_topic_names_and_types())
            raise InputError(
                f"no publisher on {', '.join(missing)} after {timeout:g} s; topics with publishers or subscribers "
                f"now: {', '.join(visible) or '(none)'}. Is the publishing node running (in the same network "
                "namespace, with the same ROS_DOMAIN_ID)?"
            )
        ambiguous = {t: types for t, types in found.items() if len(types) > 1}
        if ambiguous:
            raise InputError(f"topics published with several types cannot be recorded: {ambiguous}")
        return {t: types[0] for t, types in found.items()}

    def start(self) -> None:
        """Wait for the topics, open the bag and subscribe (raw bytes)."""
        if self._writer is not None:
            raise InputError("BagRecorder already started")
        self.types = self.discover()
        classes = {topic: message_class(msgtype) for topic, msgtype in self.types.items()}
        offered = {
            topic: [TopicQos.from_rclpy(info.qos_profile) for info in self.node.get_publishers_info_by_topic(topic)]
            for topic in self._topics
        }
        opened = threading.Event()
        self._thread = threading.Thread(target=self._write_loop, args=(offered, opened), daemon=True)
        self._thread.start()
        opened.wait()
        if self._failure is not None:
            raise self._failure
        for topic in self._topics:
            self._counts[topic] = 0
        for topic in self._topics:
            # Adapt to the publishers as `ros2 bag record` does: best effort if any publisher is.
            combined = TopicQos.combine(offered[topic])
            qos = TopicQos(combined.reliability, combined.durability, self.options.depth).to_rclpy()
            self._subscriptions.append(
                self.node.create_subscription(
                    classes[topic], topic, lambda data, info, t=topic: self._on_message(t, data, info), qos, raw=True
                )
            )

    def _on_message(self, topic: str, data: bytes, info: Any) -> None:
        clock = self.node.get_clock()
        if clock.ros_time_is_active:  # use_sim_time: log in the replayed bag's time, as `ros2 bag record` does
            log_time_ns = clock.now().nanoseconds
        else:  # the middleware's receive time: unaffected by executor delays
            log_time_ns = int(info.get("received_timestamp") or 0) or time.time_ns()
        with self._lock:
            if self._writer is None:
                return
            self._queue.put((topic, log_time_ns, bytes(data)))
            self._counts[topic] += 1

    def _write_loop(self, offered: dict[str, list[TopicQos]], opened: threading.Event) -> None:
        try:
            writer = BagWriter(self.out, self.options.storage, overwrite=self.options.overwrite)
            for topic in self._topics:
                writer.add_topic(topic, self.types[topic], offered[topic])
        except BaseException as exc:  # reported to start()'s caller
            self._failure = exc
            opened.set()
            return
        self._writer = writer
        opened.set()
        while (item := self._queue.get()) is not None:
            writer.write(*item)
        self._summary = writer.close()

    def request_stop(self) -> None:
        """Ask spin() to return (safe from a signal handler or another thread); then call stop()."""
        self._stop_requested.set()

    def stop(self) -> RecordResult:
        """Unsubscribe, close the bag (idempotent) and return what was recorded."""
        if self._result is not None:
            return self._result
        for subscription in self._subscriptions:
            self.node.destroy_subscription(subscription)
        self._subscriptions.clear()
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is None or self._thread is None:
            raise InputError("BagRecorder.stop() before start()")
        self._queue.put(None)  # after every queued message: the writer thread writes them all, then closes
        self._thread.join()
        self._result = RecordResult(counts=dict(self._counts), summary=self._summary)
        return self._result

    def spin(self, duration_sec: float | None = None) -> None:
        """Spin the recorder's node (after start()) until the duration passes, request_stop(), Ctrl-C or shutdown."""
        from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

        duration = self.options.duration_sec if duration_sec is None else duration_sec
        executor = SingleThreadedExecutor(context=self.node.context)
        executor.add_node(self.node)
        deadline = None if duration is None else time.monotonic() + duration
        try:
            while (deadline is None or time.monotonic() < deadline) and not self._stop_requested.is_set():
                executor.spin_once(timeout_sec=0.05)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            executor.remove_node(self.node)
            executor.shutdown()

    def run(self, duration_sec: float | None = None) -> RecordResult:
        """start(), spin() until the duration passes, Ctrl-C or shutdown, then stop()."""
        self.start()
        try:
            self.spin(duration_sec)
        finally:
            result = self.stop()
        return result

    def close(self) -> None:
        if self._writer is not None:
            self.stop()
        if self._own_node:
            self.node.destroy_node()

    def __enter__(self) -> BagRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = RecordOptions(topics=("/x",))
    parser.add_argument("out", type=Path, metavar="OUT", help="bag folder to create")
    parser.add_argument("--topics", nargs="+", required=True, metavar="TOPIC", help="topics to record")
    parser.add_argument("--duration", type=float, metavar="SEC", help="stop after SEC (default: at Ctrl-C)")
    parser.add_argument("--storage", default=d.storage, choices=STORAGES, help="rosbag2 storage plugin")
    parser.add_argument(
        "--wait",
        type=float,
        default=d.discovery_timeout_sec,
        metavar="SEC",
        help="how long to wait for every topic to have a publisher",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it is an existing bag")
    add_lan_argument(parser)


def run(args: argparse.Namespace) -> int:
    options = RecordOptions(
        topics=tuple(args.topics),
        storage=args.storage,
        duration_sec=args.duration,
        discovery_timeout_sec=args.wait,
        overwrite=args.overwrite,
    )
    with cli_context(args.lan) as (context, interrupts), BagRecorder(args.out, options, context=context) as recorder:
        interrupts.callbacks.append(recorder.request_stop)
        print(f"waiting for publishers on {', '.join(options.topics)} ...", flush=True)
        recorder.start()
        print(f"recording into {args.out} (Ctrl-C stops)", flush=True)
        recorder.spin()
        print(recorder.stop().format())
    return 0
