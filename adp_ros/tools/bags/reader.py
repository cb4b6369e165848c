"""Read rosbag2 bags (sqlite3 `.db3` and `mcap`): rosbags reads the storage, rclpy decodes the CDR bytes.

Bad input never crashes midway without saying why: a missing path, a folder that is not a bag, missing topics,
and truncated or corrupt storage files raise `InputError` naming the file; messages of types that are not
installed, or that do not decode, are skipped, counted in `ReadStats` and reported as warnings.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from adp_ros.core.errors import InputError, closest
from adp_ros.core.stamps import stamp_ns_of
from adp_ros.tools.bags.messages import deserialize, message_class
from adp_ros.tools.bags.storage import locate, storage_files, storage_of
from adp_ros.tools.bags.summary import BagSummary, TopicSummary
from adp_ros.tools.bags.topic_qos import from_rosbags_qos

# rosbags and rclpy are imported inside functions: `adp-ros --help` imports this module through the CLI.

log = logging.getLogger(__name__)


class BagMessage(NamedTuple):
    """One decoded message; unpacks as `(topic, log_time_ns, msg)`."""

    topic: str
    log_time_ns: int
    msg: Any


class RawMessage(NamedTuple):
    """One message as stored: CDR bytes ready for `Publisher.publish(bytes)`."""

    topic: str
    log_time_ns: int
    data: bytes
    msgtype: str


@dataclass
class ReadStats:
    """What one pass over a bag delivered and skipped."""

    per_topic: dict[str, int] = field(default_factory=dict)
    skipped_unknown_types: dict[str, int] = field(default_factory=dict)
    """msgtype -> messages skipped because the type is not installed."""
    undecodable: dict[str, int] = field(default_factory=dict)
    """topic -> messages whose bytes rclpy could not decode."""
    out_of_order_stamps: dict[str, int] = field(default_factory=dict)
    """topic -> messages stamped earlier than the previous one on that topic (log-time order is kept)."""

    @property
    def messages(self) -> int:
        return sum(self.per_topic.values())

    def report(self) -> list[str]:
        """One line per kind of problem; empty when there was none."""
        lines = []
        if self.skipped_unknown_types:
            items = ", ".join(f"{t} ({n} msgs)" for t, n in sorted(self.skipped_unknown_types.items()))
            lines.append(f"skipped messages of types that are not installed: {items}")
        if self.undecodable:
            items = ", ".join(f"{t} ({n})" for t, n in sorted(self.undecodable.items()))
            lines.append(f"skipped messages that do not decode: {items}")
        if self.out_of_order_stamps:
            items = ", ".join(f"{t} ({n})" for t, n in sorted(self.out_of_order_stamps.items()))
            lines.append(f"header stamps going backwards (kept in log-time order): {items}")
        return lines


class BagReader:
    """A rosbag2 bag opened for reading; use as a context manager.

    >>> with BagReader("run1") as bag:
    ...     print(bag.summary.format())
    ...     for topic, log_time_ns, msg in bag.messages(["/joint_states"]):
    ...         ...
    """

    def __init__(self, path: str | Path) -> None:
        from rosbags.rosbag2 import Reader

        self.path = Path(path)
        located = locate(self.path)
        self._files = storage_files(located)
        try:
            self._reader = Reader(located)
            self._reader.open()
        except Exception as exc:  # rosbags, sqlite (apsw) and OS errors alike: the bag is unusable
            raise InputError(
                f"cannot open bag {self._files_text()}: {str(exc).rstrip('.')}. The file is truncated or corrupt "
                "(was the recorder killed before closing it?)"
            ) from exc
        self.last_stats = ReadStats()
        self._summary = self._make_summary()

    def _files_text(self) -> str:
        return ", ".join(str(p) for p in self._files) or str(self.path)

    def _make_summary(self) -> BagSummary:
        reader = self._reader
        # One entry per topic (a topic recorded through several connections of one type is summed).
        merged: dict[str, TopicSummary] = {}
        for conn in reader.connections:
            qos = tuple(from_rosbags_qos(q) for q in getattr(conn.ext, "offered_qos_profiles", None) or [])
            old = merged.get(conn.topic)
            merged[conn.topic] = TopicSummary(
                conn.topic,
                conn.msgtype,
                int(conn.msgcount) + (old.count if old else 0),
                (old.offered_qos if old else ()) + qos,
            )
        count = reader.message_count
        custom = getattr(getattr(reader.storage, "metadata", None), "custom", None) or {}
        return BagSummary(
            path=self.path,
            storage=self.storage,
            start_ns=int(reader.start_time) if count else 0,
            end_ns=int(reader.end_time) - 1 if count else 0,  # rosbags' end_time is one past the last message
            topics=tuple(sorted(merged.values(), key=lambda t: t.name)),
            custom_data=dict(custom),
        )

    @property
    def storage(self) -> str:
        return storage_of(self._files)

    @property
    def summary(self) -> BagSummary:
        return self._summary

    @property
    def topics(self) -> dict[str, TopicSummary]:
        return {t.name: t for t in self._summary.topics}

    @property
    def start_ns(self) -> int:
        return self._summary.start_ns

    @property
    def end_ns(self) -> int:
        return self._summary.end_ns

    @property
    def duration_ns(self) -> int:
        return self._summary.duration_ns

    def _select(self, topics: Iterable[str] | None, stats: ReadStats, skip_unknown: bool) -> list[Any]:
        connections = list(self._reader.connections)
        if topics is not None:
            wanted = [t if t.startswith("/") else "/" + t for t in topics]
            available = sorted({c.topic for c in connections})
            missing = [t for t in wanted if t not in available]
            if missing:
                hint = closest(missing[0], available) if available else ""
                raise InputError(
                    f"{self.path}: topic(s) {', '.join(missing)} not in the bag{hint}; "
                    f"available: {', '.join(available) or '(none)'}"
                )
            connections = [c for c in connections if c.topic in wanted]
        if not skip_unknown:
            return connections
        kept, skipped = [], []
        for conn in connections:
            try:
                message_class(conn.msgtype)
            except InputError:
                count = stats.skipped_unknown_types.get(conn.msgtype, 0) + conn.msgcount
                stats.skipped_unknown_types[conn.msgtype] = count
                skipped.append(f"{conn.topic} [{conn.msgtype}]")
                continue
            kept.append(conn)
        if skipped:
            log.warning(
                "%s: skipping %d messages on %s: message type(s) not installed",
                self.path,
                sum(stats.skipped_unknown_types.values()),
                ", ".join(sorted(skipped)),
            )
        return kept

    def raw_messages(
        self,
        topics: Iterable[str] | None = None,
        *,
        start_ns: int | None = None,
        stop_ns: int | None = None,
        skip_unknown: bool = True,
    ) -> Iterator[RawMessage]:
        """Stored CDR bytes of the selected topics (None: all) in log-time order, `start_ns <= t < stop_ns`.

        Missing topics raise `InputError` here, before iterating. Messages of types that are not installed are
        skipped and counted in `last_stats` (skip_unknown=False yields them too, e.g. to copy a bag).
        """
        stats = ReadStats()
        self.last_stats = stats
        connections = self._select(topics, stats, skip_unknown)
        return self._read(connections, stats, start_ns, stop_ns)

    def _read(
        self, connections: list[Any], stats: ReadStats, start_ns: int | None, stop_ns: int | None
    ) -> Iterator[RawMessage]:
        if not connections:  # rosbags reads *every* topic when given none
            return
        source = self._reader.messages(connections, start=start_ns, stop=stop_ns)
        while True:
            try:
                conn, log_time_ns, data = next(source)
            except StopIteration:
                return
            except Exception as exc:  # not around the yield: the consumer's own errors pass through untouched
                raise InputError(
                    f"bag {self._files_text()} is truncated or corrupt: reading failed after {stats.messages} "
                    f"messages ({type(exc).__name__}: {exc})"
                ) from exc
            stats.per_topic[conn.topic] = stats.per_topic.get(conn.topic, 0) + 1
            yield RawMessage(conn.topic, int(log_time_ns), bytes(data), conn.msgtype)

    def messages(
        self,
        topics: Iterable[str] | None = None,
        *,
        start_ns: int | None = None,
        stop_ns: int | None = None,
    ) -> Iterator[BagMessage]:
        """Decoded rclpy messages of the selected topics (None: all) in log-time order.

        Missing topics raise `InputError` here, before iterating. Types that are not installed and messages
        that do not decode are skipped; header stamps that go backwards are counted (the log-time order is
        kept). All three are in `last_stats` and reported as warnings.
        """
        stats = ReadStats()
        self.last_stats = stats
        connections = self._select(topics, stats, skip_unknown=True)
        return self._decode(self._read(connections, stats, start_ns, stop_ns), stats)

    def _decode(self, raw: Iterator[RawMessage], stats: ReadStats) -> Iterator[BagMessage]:
        last_stamp: dict[str, int] = {}
        classes: dict[str, type] = {}
        try:
            for topic, log_time_ns, data, msgtype in raw:
                cls = classes.get(msgtype) or classes.setdefault(msgtype, message_class(msgtype))
                try:
                    msg = deserialize(data, cls)
                except Exception:  # rclpy raises RMWError (a RuntimeError) on malformed CDR
                    stats.undecodable[topic] = stats.undecodable.get(topic, 0) + 1
                    stats.per_topic[topic] -= 1
                    continue
                stamp = stamp_ns_of(msg)
                if stamp is not None:
                    if stamp < last_stamp.get(topic, stamp):
                        stats.out_of_order_stamps[topic] = stats.out_of_order_stamps.get(topic, 0) + 1
                    last_stamp[topic] = stamp
                yield BagMessage(topic, log_time_ns, msg)
        finally:
            for line in stats.report():
                if not line.startswith("skipped messages of types"):  # warned about when selecting
                    log.warning("%s: %s", self.path, line)

    def close(self) -> None:
        if self._reader.is_open:
            self._reader.close()

    def __enter__(self) -> BagReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_summary(path: str | Path) -> BagSummary:
    """Open a bag just for its summary."""
    with BagReader(path) as bag:
        return bag.summary
