"""Publish a bag's topics with their original timing: `ros2 bag play` for environments without the ROS 2 CLI.

Messages go out as the exact bytes stored in the bag, at their log-time spacing divided by --rate. Camera topics
use sensor-data QoS (best effort) and the others reliable depth 10, unless the bag stores the QoS its publishers
offered (bags from `adp-ros bag record` and `adp-ros bag synth` do); then that is used.

Network: this starts a ROS 2 participant. For tests and demos run it inside scripts/isolated (a loopback-only
network namespace), e.g. `scripts/isolated .venv/bin/adp-ros bag play BAG`. When ROS_AUTOMATIC_DISCOVERY_RANGE
is unset it is set to LOCALHOST, so nothing on the LAN (a robot) sees the replay; pass --lan to leave it unset.

examples:
  adp-ros bag play /tmp/libero_bag --rate 0.5 --clock
  adp-ros bag play run1 --topics /camera/primary/image_raw /joint_states --remap /joint_states:=/robot/joints
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.core.stamps import sec_nanosec
from adp_ros.tools.bags.messages import message_class
from adp_ros.tools.bags.reader import BagReader, RawMessage
from adp_ros.tools.bags.topic_qos import TopicQos
from adp_ros.tools.common import add_lan_argument

_CLOCK_QOS = TopicQos(depth=10)  # reliable: matches best-effort (rclpy's TimeSource) and reliable subscribers


def parse_remap(text: str) -> tuple[str, str]:
    """`/from:=/to` -> ("/from", "/to")."""
    source, sep, target = text.partition(":=")
    if not sep or not source.strip() or not target.strip():
        raise ConfigError(f"remap {text!r} is not FROM:=TO, e.g. --remap /joint_states:=/robot/joint_states")
    source = source.strip()
    return (source if source.startswith("/") else "/" + source), target.strip()


@dataclass(frozen=True)
class PlayOptions:
    rate: float = 1.0
    """Playback speed factor: 2 plays twice as fast."""
    loop: bool = False
    topics: tuple[str, ...] | None = None
    """Bag topics to play (None: all)."""
    remaps: tuple[tuple[str, str], ...] = ()
    """(bag topic, published topic) pairs."""
    clock: bool = False
    """Publish /clock (rosgraph_msgs/Clock) from bag time, for nodes with use_sim_time."""
    clock_hz: float = 100.0
    start_offset_sec: float = 0.0
    """Skip this much of the bag's beginning."""
    delay_sec: float = 0.5
    """Wait up to this long for every topic to have a subscriber before starting (starts early once all do)."""

    def __post_init__(self) -> None:
        if not 0 < self.rate <= 1000:
            raise ConfigError(f"rate={self.rate} outside (0, 1000]; e.g. --rate 0.5 plays at half speed")
        if not 0 < self.clock_hz <= 10_000:
            raise ConfigError(f"clock_hz={self.clock_hz} outside (0, 10000]; e.g. --clock-hz 100")
        if self.start_offset_sec < 0:
            raise ConfigError(f"start_offset_sec={self.start_offset_sec} must be >= 0")
        if self.delay_sec < 0:
            raise ConfigError(f"delay_sec={self.delay_sec} must be >= 0")
        sources = [s for s, _ in self.remaps]
        if len(set(sources)) != len(sources):
            raise ConfigError(f"remaps {self.remaps} map one topic twice")


@dataclass(frozen=True)
class PlayResult:
    counts: dict[str, int]
    """Published topic (after remapping) -> messages published."""
    loops: int
    """Complete passes over the bag."""
    wall_sec: float
    clock_messages: int = 0
    stopped: bool = False
    """True when stop() (or Ctrl-C) ended the replay early."""
    skipped_unknown_types: dict[str, int] = field(default_factory=dict)

    @property
    def message_count(self) -> int:
        return sum(self.counts.values())

    def format(self) -> str:
        lines = [f"published {self.message_count} messages in {self.wall_sec:.2f} s ({self.loops} complete pass(es))"]
        lines += [f"  {topic}: {count}" for topic, count in sorted(self.counts.items())]
        if self.clock_messages:
            lines.append(f"  /clock: {self.clock_messages}")
        if self.skipped_unknown_types:
            skipped = ", ".join(f"{t} ({n})" for t, n in sorted(self.skipped_unknown_types.items()))
            lines.append(f"  not played (type not installed): {skipped}")
        return "\n".join(lines)


class BagPlayer:
    """Publishes a bag from a ROS node; usable in one process with the nodes under test.

    Blocking: `run()`. Background thread: `start()`, then `wait()` or `stop()`. Deterministic stepping without
    timing: `step()` publishes the next message at once. Publishing needs no executor: the player's node does
    not have to be spun. Pass `node=` to publish from an existing node, else one is created in `context`.
    """

    def __init__(
        self,
        bag: str | Path,
        options: PlayOptions | None = None,
        *,
        context: Any = None,
        node: Any = None,
        node_name: str = "adp_bag_player",
    ) -> None:
        from rclpy.exceptions import NameValidationException
        from rclpy.node import Node

        self.options = options or PlayOptions()
        self._reader = BagReader(bag)
        self.node: Any = None
        self._own_node = node is None
        try:
            self._select_topics(bag)
            self.node = node if node is not None else Node(node_name, context=context)
            self._publishers: dict[str, Any] = {}
            for t in self._topics:
                try:
                    self._publishers[t.name] = self.node.create_publisher(
                        message_class(t.msgtype), self.topic_map[t.name], t.playback_qos.to_rclpy()
                    )
                except NameValidationException as exc:  # an invalid remap target
                    raise InputError(f"cannot publish {t.name} as {self.topic_map[t.name]!r}: {exc}") from exc
            self._clock_pub = None
            if self.options.clock:
                from rosgraph_msgs.msg import Clock

                self._clock_pub = self.node.create_publisher(Clock, "/clock", _CLOCK_QOS.to_rclpy())
        except BaseException:
            if self._own_node and self.node is not None:
                self.node.destroy_node()
            self._reader.close()
            raise
        self._counts = {self.topic_map[t.name]: 0 for t in self._topics}
        self._clock_count = 0
        self._loops = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._result: PlayResult | None = None
        self._error: BaseException | None = None
        self._steps: Iterator[RawMessage] | None = None

    def _select_topics(self, bag: str | Path) -> None:
        summary = self._reader.summary
        selected = list(self.options.topics) if self.options.topics is not None else None
        # Validates the selection (InputError listing the available topics) and finds types not installed.
        self._reader.raw_messages(selected)
        self._skipped = dict(self._reader.last_stats.skipped_unknown_types)
        names = [t.name for t in summary.topics]
        wanted = [t if t.startswith("/") else "/" + t for t in selected] if selected is not None else names
        self._topics = [t for t in summary.topics if t.name in wanted and t.msgtype not in self._skipped]
        remaps = dict(self.options.remaps)
        unknown = sorted(set(remaps) - set(names))
        if unknown:
            raise InputError(f"--remap source(s) {', '.join(unknown)} not in the bag {bag}")
        self.topic_map = {t.name: remaps.get(t.name, t.name) for t in self._topics}
        """Bag topic -> published topic."""

    # ----------------------------------------------------------------------------------------------- helpers

    @property
    def start_ns(self) -> int:
        """Log time where playback starts (bag start + start offset)."""
        return self._reader.start_ns + round(self.options.start_offset_sec * 1e9)

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def _messages(self) -> Iterator[RawMessage]:
        return self._reader.raw_messages(list(self._publishers), start_ns=self.start_ns)

    def _publish(self, message: RawMessage) -> None:
        self._publishers[message.topic].publish(message.data)
        self._counts[self.topic_map[message.topic]] += 1

    def _publish_clock(self, bag_time_ns: int) -> None:
        if self._clock_pub is None:
            return
        from rosgraph_msgs.msg import Clock

        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = sec_nanosec(bag_time_ns)
        self._clock_pub.publish(msg)
        self._clock_count += 1

    def wait_for_subscribers(self, timeout_sec: float) -> bool:
        """Until every played topic has a matched subscriber (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout_sec
        while True:
            if all(p.get_subscription_count() > 0 for p in self._publishers.values()):
                # Matching is seen per side; give the subscribers' side a moment to see the publishers too.
                self._stop.wait(0.05)
                return True
            if time.monotonic() >= deadline or self._stop.is_set():
                return False
            self._stop.wait(0.01)

    def _result_now(self, wall_sec: float) -> PlayResult:
        return PlayResult(
            counts=dict(self._counts),
            loops=self._loops,
            wall_sec=wall_sec,
            clock_messages=self._clock_count,
            stopped=self._stop.is_set(),
            skipped_unknown_types=dict(self._skipped),
        )

    # -------------------------------------------------------------------------------------------------- play

    def _play_pass(self) -> bool:
        """One pass in real time (scaled by rate); False when stopped."""
        rate = self.options.rate
        clock_period_ns = round(1e9 / self.options.clock_hz)
        bag_origin = self.start_ns
        wall_origin = time.monotonic_ns()
        next_clock = wall_origin
        for message in self._messages():
            target = wall_origin + round((message.log_time_ns - bag_origin) / rate)
            while True:
                if self._stop.is_set():
                    return False
                now = time.monotonic_ns()
                if self._clock_pub is not None and next_clock <= min(now, target):
                    self._publish_clock(bag_origin + round((next_clock - wall_origin) * rate))
                    next_clock += clock_period_ns
                    continue
                if now >= target:
                    break
                wake = min(target, next_clock) if self._clock_pub is not None else target
                self._stop.wait(min(wake - now, 50_000_000) / 1e9)
            self._publish(message)
        return True

    def run(self) -> PlayResult:
        """Wait for subscribers (up to delay_sec), then play (forever with loop, until stop())."""
        began = time.monotonic()
        try:
            if self.options.delay_sec > 0:
                self.wait_for_subscribers(self.options.delay_sec)
            while not self._stop.is_set():
                if not self._play_pass():
                    break
                self._loops += 1
                if not self.options.loop:
                    break
        except KeyboardInterrupt:
            self._stop.set()
        finally:  # also when the bag turns out corrupt halfway: result() tells what was published
            self._result = self._result_now(time.monotonic() - began)
        return self._result

    def result(self) -> PlayResult:
        """What has been published so far (the final result once run() returned)."""
        return self._result or self._result_now(0.0)

    def step(self) -> RawMessage | None:
        """Publish the next message now, ignoring timing (with --clock, /clock jumps to its log time first).

        Returns it, or None after the last one (with loop, the next call starts over). Not for use while
        `run()` or `start()` plays.
        """
        if self._steps is None:
            self._steps = self._messages()
        message = next(self._steps, None)
        if message is None:
            self._steps = None
            self._loops += 1
            if not self.options.loop:
                return None
            self._steps = self._messages()
            message = next(self._steps, None)
            if message is None:
                return None
        self._publish_clock(message.log_time_ns)
        self._publish(message)
        return message

    def start(self) -> None:
        """Play in a background thread."""
        if self._thread is not None:
            raise InputError("BagPlayer already started")

        def target() -> None:
            try:
                self.run()
            except BaseException as exc:  # re-raised by wait()
                self._error = exc

        self._thread = threading.Thread(target=target, name="adp_bag_player", daemon=True)
        self._thread.start()

    def wait(self, timeout_sec: float | None = None) -> PlayResult | None:
        """The result once the background replay ends; None if still playing after the timeout."""
        if self._thread is None:
            raise InputError("BagPlayer.wait() before start()")
        self._thread.join(timeout_sec)
        if self._thread.is_alive():
            return None
        if self._error is not None:
            raise self._error
        return self._result

    def request_stop(self) -> None:
        """Ask the replay to end (safe from a signal handler or another thread); run() then returns."""
        self._stop.set()

    def stop(self) -> PlayResult:
        """Stop playing (at once; what was published stays counted)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            if self._error is not None:
                raise self._error
        return self.result()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._own_node:
            self.node.destroy_node()
        else:
            for publisher in [*self._publishers.values(), self._clock_pub]:
                if publisher is not None:
                    self.node.destroy_publisher(publisher)
        self._reader.close()

    def __enter__(self) -> BagPlayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------------- CLI


def apply_network_default(lan: bool) -> None:
    """Keep DDS discovery on this host unless asked otherwise (or ROS_AUTOMATIC_DISCOVERY_RANGE is set)."""
    if not lan:
        os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


class Interrupts:
    """SIGINT/SIGTERM handler for the CLI: the first signal asks for a clean stop, a second one aborts."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []
        self.count = 0

    def __call__(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self.count > 1 or not self.callbacks:
            raise KeyboardInterrupt
        for callback in self.callbacks:
            callback()  # only sets events: never interrupts a bag write halfway


@contextmanager
def cli_context(lan: bool) -> Iterator[tuple[Any, Interrupts]]:
    """An rclpy context for a CLI command, with SIGINT and SIGTERM handlers that stop it cleanly.

    Own handlers (rclpy installs none for a non-default context) also cover shells that start background
    jobs with SIGINT ignored, and make `kill` close a recorded bag properly.
    """
    import rclpy

    apply_network_default(lan)
    context = rclpy.Context()
    rclpy.init(context=context)
    interrupts = Interrupts()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, interrupts) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield context, interrupts
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        rclpy.try_shutdown(context=context)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = PlayOptions()
    parser.add_argument("bag", type=Path, metavar="BAG", help="bag folder (or one .db3/.mcap file)")
    parser.add_argument("--rate", type=float, default=d.rate, help="speed factor (2 = twice as fast)")
    parser.add_argument("--loop", action="store_true", help="play again and again until Ctrl-C")
    parser.add_argument("--topics", nargs="+", metavar="TOPIC", help="play only these bag topics")
    parser.add_argument(
        "--remap",
        action="append",
        default=[],
        metavar="FROM:=TO",
        help="publish bag topic FROM as TO (repeatable)",
    )
    parser.add_argument("--clock", action="store_true", help="publish /clock from bag time (for use_sim_time)")
    parser.add_argument("--clock-hz", type=float, default=d.clock_hz, metavar="HZ", help="/clock rate (wall time)")
    parser.add_argument(
        "--start-offset", type=float, default=d.start_offset_sec, metavar="SEC", help="skip the bag's first SEC"
    )
    parser.add_argument(
        "--delay",
        type=float,
        default=d.delay_sec,
        metavar="SEC",
        help="wait up to SEC for subscribers on every topic before starting (starts once all have one)",
    )
    add_lan_argument(parser)


def run(args: argparse.Namespace) -> int:
    options = PlayOptions(
        rate=args.rate,
        loop=args.loop,
        topics=tuple(args.topics) if args.topics else None,
        remaps=tuple(parse_remap(r) for r in args.remap),
        clock=args.clock,
        clock_hz=args.clock_hz,
        start_offset_sec=args.start_offset,
        delay_sec=args.delay,
    )
    with cli_context(args.lan) as (context, interrupts), BagPlayer(args.bag, options, context=context) as player:
        interrupts.callbacks.append(player.request_stop)
        for source, target in player.topic_map.items():
            print(f"playing {source}" + (f" as {target}" if target != source else ""), flush=True)
        try:
            player.run()
        finally:
            print(player.result().format(), flush=True)
    return 0
