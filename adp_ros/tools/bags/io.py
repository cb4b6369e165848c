"""Read and write rosbag2 bags (sqlite3 `.db3` and `mcap`) holding exactly the CDR bytes rclpy produces.

rosbags does the storage; rclpy does the (de)serialisation, so the bytes in a bag are the bytes a ROS 2 node
sends and receives. rosbags' own deserialiser is not used on message data: it rejects valid rclpy bytes that
end in an empty `float64[]` (Fast-CDR writes 4 pad bytes there; environment.md gotcha 7), e.g. `JointState`
with `effort=[]`. Pad bytes are uninitialised: compare decoded fields (`message_to_dict`), never CDR bytes.

Bad input never crashes midway without saying why: a missing path, a folder that is not a bag, missing topics,
and truncated or corrupt storage files raise `InputError` naming the file; messages of types that are not
installed, or that do not decode, are skipped, counted in `ReadStats` and reported as warnings.
"""

from __future__ import annotations

import array
import importlib
import logging
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from adp_ros.core.errors import ConfigError, InputError, closest

if TYPE_CHECKING:
    from rosbags.interfaces import Qos

# rosbags and rclpy are imported inside functions: `adp-ros --help` imports this module through the CLI.

log = logging.getLogger(__name__)

STORAGES: tuple[str, ...] = ("sqlite3", "mcap")
_SUFFIX_STORAGE = {".db3": "sqlite3", ".mcap": "mcap"}
_MSGTYPE_RE = re.compile(r"^([A-Za-z_]\w*)/(?:(msg|srv|action)/)?([A-Za-z_]\w*)$")
# rosbag2 writes "infinite" durations this way in offered_qos_profiles.
_INFINITE_SEC_NSEC = (9223372036, 854775807)


# -------------------------------------------------------------------------------------------------- messages


def message_class(msgtype: str) -> type:
    """The rclpy message class for a type name: `sensor_msgs/msg/Image` -> `sensor_msgs.msg.Image`.

    Raises `InputError` when the name is malformed or its Python package is not installed.
    """
    match = _MSGTYPE_RE.match(msgtype)
    if not match:
        raise InputError(f"message type {msgtype!r} is not of the form 'package/msg/Name'")
    package, kind, name = match.group(1), match.group(2) or "msg", match.group(3)
    try:
        module = importlib.import_module(f"{package}.{kind}")
        cls = getattr(module, name)
    except (ImportError, AttributeError):
        raise InputError(
            f"message type {msgtype!r} is not installed (no class {name} in Python module {package}.{kind}); "
            f"install its message package, e.g. `pip install ros-{package.replace('_', '-')}` pinned to Jazzy"
        ) from None
    if not hasattr(cls, "get_fields_and_field_types"):
        raise InputError(f"{package}.{kind}.{name} is not a ROS message class")
    return cls


def message_type_name(msg: object) -> str:
    """`sensor_msgs/msg/Image` for an rclpy message instance or class."""
    cls = msg if isinstance(msg, type) else type(msg)
    module = cls.__module__.split(".")  # e.g. sensor_msgs.msg._image
    if len(module) < 2 or not hasattr(cls, "get_fields_and_field_types"):
        raise InputError(f"{cls!r} is not an rclpy message class")
    return f"{module[0]}/{module[1]}/{cls.__name__}"


def serialize(msg: object) -> bytes:
    """CDR bytes exactly as rclpy publishes them."""
    from rclpy.serialization import serialize_message

    return serialize_message(msg)


def deserialize(data: bytes | bytearray | memoryview, msgtype: str | type) -> Any:
    """An rclpy message from CDR bytes (from rclpy's or rosbags' serialiser: both decode here)."""
    from rclpy.serialization import deserialize_message

    cls = message_class(msgtype) if isinstance(msgtype, str) else msgtype
    return deserialize_message(bytes(data), cls)


def header_stamp_ns(msg: object) -> int | None:
    """`header.stamp` in nanoseconds, or None when the message has no std_msgs/Header."""
    header = getattr(msg, "header", None)
    stamp = getattr(header, "stamp", None)
    if stamp is None or not hasattr(stamp, "nanosec"):
        return None
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def message_to_dict(msg: Any) -> Any:
    """Plain Python values of a message (nested dicts, lists, bytes for uint8 arrays), for comparisons."""
    if hasattr(msg, "get_fields_and_field_types"):
        return {name: message_to_dict(getattr(msg, name)) for name in msg.get_fields_and_field_types()}
    if isinstance(msg, array.array):
        return bytes(msg) if msg.typecode == "B" else msg.tolist()
    if isinstance(msg, (bytes, bytearray, memoryview)):
        return bytes(msg)
    if isinstance(msg, (list, tuple)):
        return [message_to_dict(x) for x in msg]
    if hasattr(msg, "tolist"):  # numpy arrays of fixed-size array fields
        return msg.tolist()
    return msg


# ------------------------------------------------------------------------------------------------------- QoS


@dataclass(frozen=True)
class TopicQos:
    """The QoS settings that matter for replay; stored in the bag's `offered_qos_profiles`."""

    reliability: Literal["reliable", "best_effort"] = "reliable"
    durability: Literal["volatile", "transient_local"] = "volatile"
    depth: int = 10
    history: Literal["keep_last", "keep_all"] = "keep_last"

    def __post_init__(self) -> None:
        if self.reliability not in ("reliable", "best_effort"):
            raise ConfigError(f"reliability={self.reliability!r} not in ('reliable', 'best_effort')")
        if self.durability not in ("volatile", "transient_local"):
            raise ConfigError(f"durability={self.durability!r} not in ('volatile', 'transient_local')")
        if self.history not in ("keep_last", "keep_all"):
            raise ConfigError(f"history={self.history!r} not in ('keep_last', 'keep_all')")
        if self.depth < 0:
            raise ConfigError(f"depth={self.depth} must be >= 0")

    def to_rclpy(self) -> Any:
        """An rclpy QoSProfile (deadline, lifespan and liveliness stay at their defaults)."""
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

        return QoSProfile(
            history=HistoryPolicy.KEEP_ALL if self.history == "keep_all" else HistoryPolicy.KEEP_LAST,
            depth=self.depth,
            reliability=(
                ReliabilityPolicy.BEST_EFFORT if self.reliability == "best_effort" else ReliabilityPolicy.RELIABLE
            ),
            durability=(
                DurabilityPolicy.TRANSIENT_LOCAL if self.durability == "transient_local" else DurabilityPolicy.VOLATILE
            ),
        )

    @staticmethod
    def from_rclpy(profile: Any) -> TopicQos:
        """From an rclpy QoSProfile, e.g. a discovered publisher's `TopicEndpointInfo.qos_profile`."""
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, ReliabilityPolicy

        keep_all = profile.history == HistoryPolicy.KEEP_ALL
        return TopicQos(
            reliability="best_effort" if profile.reliability == ReliabilityPolicy.BEST_EFFORT else "reliable",
            durability="transient_local" if profile.durability == DurabilityPolicy.TRANSIENT_LOCAL else "volatile",
            depth=int(profile.depth) if keep_all else max(int(profile.depth), 1),
            history="keep_all" if keep_all else "keep_last",
        )

    @staticmethod
    def combine(profiles: Sequence[TopicQos]) -> TopicQos:
        """One profile compatible with every recorded publisher (as `ros2 bag play` adapts)."""
        if not profiles:
            return TopicQos()
        return TopicQos(
            reliability="reliable" if all(p.reliability == "reliable" for p in profiles) else "best_effort",
            durability=("transient_local" if all(p.durability == "transient_local" for p in profiles) else "volatile"),
            depth=max(p.depth for p in profiles),
            history="keep_all" if any(p.history == "keep_all" for p in profiles) else "keep_last",
        )


SENSOR_DATA_QOS = TopicQos(reliability="best_effort", depth=5)
"""rclpy's `qos_profile_sensor_data`: cameras."""
RELIABLE_QOS = TopicQos()
"""Commands and state: reliable, depth 10."""
LATCHED_QOS = TopicQos(durability="transient_local", depth=1)
"""A message published once (the instruction) that late subscribers still get."""

_SENSOR_TYPES = frozenset(
    {
        "sensor_msgs/msg/Image",
        "sensor_msgs/msg/CompressedImage",
        "sensor_msgs/msg/CameraInfo",
        "sensor_msgs/msg/PointCloud2",
        "sensor_msgs/msg/LaserScan",
    }
)


def default_qos(msgtype: str) -> TopicQos:
    """QoS for a topic whose bag stores none: sensor-data for cameras, reliable depth 10 otherwise."""
    return SENSOR_DATA_QOS if msgtype in _SENSOR_TYPES else RELIABLE_QOS


def _to_rosbags_qos(qos: TopicQos) -> Qos:
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    infinite = QosTime(*_INFINITE_SEC_NSEC)
    return Qos(
        QosHistory[qos.history.upper()],
        qos.depth,
        QosReliability[qos.reliability.upper()],
        QosDurability[qos.durability.upper()],
        infinite,
        infinite,
        QosLiveliness.AUTOMATIC,
        infinite,
        False,
    )


def _from_rosbags_qos(qos: Qos) -> TopicQos:
    """Unknown / system-default / best-available values map to the ROS defaults (reliable, volatile)."""
    from rosbags.interfaces import QosDurability, QosHistory, QosReliability

    keep_all = qos.history == QosHistory.KEEP_ALL
    return TopicQos(
        reliability="best_effort" if qos.reliability == QosReliability.BEST_EFFORT else "reliable",
        durability="transient_local" if qos.durability == QosDurability.TRANSIENT_LOCAL else "volatile",
        depth=int(qos.depth) if keep_all else max(int(qos.depth), 1),
        history="keep_all" if keep_all else "keep_last",
    )


# --------------------------------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class TopicSummary:
    name: str
    msgtype: str
    count: int
    offered_qos: tuple[TopicQos, ...] = ()
    """As recorded; empty when the bag stores none (bags written by rosbags without QoS)."""

    @property
    def playback_qos(self) -> TopicQos:
        return TopicQos.combine(self.offered_qos) if self.offered_qos else default_qos(self.msgtype)


@dataclass(frozen=True)
class BagSummary:
    """Topics, types, counts and time span of a bag (what `adp-ros bag info` prints)."""

    path: Path
    storage: str
    start_ns: int
    """Log time of the first message (0 for an empty bag)."""
    end_ns: int
    """Log time of the last message."""
    topics: tuple[TopicSummary, ...]
    custom_data: Mapping[str, str] = field(default_factory=dict)

    @property
    def message_count(self) -> int:
        return sum(t.count for t in self.topics)

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)

    @property
    def duration_sec(self) -> float:
        return self.duration_ns / 1e9

    @property
    def counts(self) -> dict[str, int]:
        return {t.name: t.count for t in self.topics}

    def topic(self, name: str) -> TopicSummary:
        for t in self.topics:
            if t.name == name:
                return t
        raise InputError(f"{self.path}: no topic {name!r}{closest(name, [t.name for t in self.topics])}")

    def approx_rate_hz(self, name: str) -> float:
        """count / bag duration: the topic's mean rate when it spans the whole bag."""
        count = self.topic(name).count
        return count / self.duration_sec if self.duration_sec > 0 else 0.0

    def format(self) -> str:
        lines = [
            f"bag:       {self.path}",
            f"storage:   {self.storage}",
            f"duration:  {self.duration_sec:.3f} s",
            f"start:     {self.start_ns / 1e9:.6f} (log time, s since epoch)",
            f"messages:  {self.message_count}",
            "topics:",
        ]
        width = max((len(t.name) for t in self.topics), default=0)
        type_width = max((len(t.msgtype) for t in self.topics), default=0)
        for t in self.topics:
            qos = t.playback_qos
            source = "recorded" if t.offered_qos else "default"
            lines.append(
                f"  {t.name:<{width}}  {t.msgtype:<{type_width}}  {t.count:>6} msgs"
                f"  ~{self.approx_rate_hz(t.name):7.2f} Hz  qos {qos.reliability}/{qos.durability} ({source})"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- reader


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


def _locate(path: Path) -> Path:
    """The path to hand to rosbags: a bag folder with metadata.yaml, or one .db3/.mcap file."""
    if not path.exists():
        raise InputError(f"bag {path} does not exist")
    hint = "expected a rosbag2 folder (metadata.yaml + .db3/.mcap files) or one .db3/.mcap file"
    if path.is_file():
        if path.name == "metadata.yaml":
            return _locate(path.parent)
        if path.suffix in _SUFFIX_STORAGE:
            return path
        raise InputError(f"{path} is not a rosbag2 bag: {hint}")
    if (path / "metadata.yaml").is_file():
        return path
    files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIX_STORAGE)
    if len(files) == 1:
        log.warning("%s has no metadata.yaml (recorder stopped early?); reading %s directly", path, files[0].name)
        return files[0]
    if files:
        names = ", ".join(p.name for p in files)
        raise InputError(f"{path} has no metadata.yaml and several storage files ({names}); pass one of them")
    raise InputError(f"{path} is not a rosbag2 bag: {hint}")


def _storage_files(located: Path) -> list[Path]:
    if located.is_file():
        return [located]
    return sorted(p for p in located.iterdir() if p.suffix in _SUFFIX_STORAGE or p.name.endswith(".zstd"))


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
        located = _locate(self.path)
        self._files = _storage_files(located)
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
            qos = tuple(_from_rosbags_qos(q) for q in getattr(conn.ext, "offered_qos_profiles", None) or [])
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
        for p in self._files:
            for suffix, name in _SUFFIX_STORAGE.items():
                if suffix in p.suffixes:
                    return name
        return "unknown"

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
                stamp = header_stamp_ns(msg)
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


# ---------------------------------------------------------------------------------------------------- writer


def _is_bag_dir(path: Path) -> bool:
    return path.is_dir() and all(
        p.name == "metadata.yaml" or p.suffix in _SUFFIX_STORAGE or p.name.endswith((".db3-shm", ".db3-wal"))
        for p in path.iterdir()
    )


def _find_msg_file(msgtype: str) -> Path | None:
    """`share/<pkg>/msg/<Name>.msg` from the ament index (AMENT_PREFIX_PATH) or this interpreter's prefix."""
    package, kind, name = msgtype.split("/")
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    for prefix in prefixes:
        candidate = Path(prefix) / "share" / package / kind / f"{name}.msg"
        if candidate.is_file():
            return candidate
    return None


class _Definitions:
    """Message definitions and type hashes for the bag: rosbags' Jazzy store, then installed `.msg` files."""

    def __init__(self) -> None:
        from rosbags.typesys import Stores, get_typestore

        self.store = get_typestore(Stores.ROS2_JAZZY)

    def get(self, msgtype: str) -> tuple[str, str]:
        from rosbags.typesys import TypesysError, get_types_from_msg

        for _ in range(64):  # each pass registers one missing (possibly nested) type
            try:
                msgdef, _deps = self.store.generate_msgdef(msgtype, ros_version=2)
                return msgdef, self.store.hash_rihs01(msgtype)
            except TypesysError as exc:
                found = re.search(r"Type '([^']+)' is unknown", str(exc))
                missing = found.group(1) if found else msgtype
                path = _find_msg_file(missing) if missing.count("/") == 2 else None
                if path is None:
                    break
                self.store.register(get_types_from_msg(path.read_text(), missing))
        log.warning("no message definition found for %s; writing the bag without it", msgtype)
        return "", "RIHS01_" + "0" * 64


class BagWriter:
    """A new rosbag2 bag (version 9) in sqlite3 or mcap storage; use as a context manager.

    `write()` takes rclpy messages (serialised by rclpy) or CDR bytes with their type. Closing writes
    metadata.yaml; a bag closed after an exception or Ctrl-C holds everything written before it.
    """

    def __init__(
        self,
        path: str | Path,
        storage: str = "sqlite3",
        *,
        overwrite: bool = False,
        custom_data: Mapping[str, str] | None = None,
    ) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in STORAGES:
            raise ConfigError(f"storage={storage!r} not in {STORAGES}{closest(storage, STORAGES)}")
        self.path = Path(path)
        self.storage = storage
        if self.path.exists():
            if not overwrite:
                raise InputError(f"{self.path} exists; choose a new path or pass overwrite (--overwrite)")
            if not _is_bag_dir(self.path):
                raise InputError(f"{self.path} exists and is not a bag folder; refusing to overwrite it")
            shutil.rmtree(self.path)
        plugin = StoragePlugin.SQLITE3 if storage == "sqlite3" else StoragePlugin.MCAP
        self._writer = Writer(self.path, version=9, storage_plugin=plugin)
        for key, value in (custom_data or {}).items():
            self._writer.set_custom_data(key, value)
        try:
            self._writer.open()
        except Exception as exc:
            raise InputError(f"cannot create bag {self.path}: {exc}") from exc
        self._connections: dict[str, Any] = {}
        self._types: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._definitions: _Definitions | None = None
        self._closed = False

    @property
    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def add_topic(self, topic: str, msgtype: str, qos: TopicQos | Sequence[TopicQos] | None = None) -> None:
        """Declare a topic (else done on its first write); `qos` goes to offered_qos_profiles."""
        topic = topic if topic.startswith("/") else "/" + topic
        if topic in self._connections:
            if self._types[topic] != msgtype:
                raise InputError(f"topic {topic} already has type {self._types[topic]}, not {msgtype}")
            return
        if not _MSGTYPE_RE.match(msgtype) or msgtype.count("/") != 2:
            raise InputError(f"message type {msgtype!r} is not of the form 'package/msg/Name'")
        if self._definitions is None:
            self._definitions = _Definitions()
        msgdef, rihs01 = self._definitions.get(msgtype)
        profiles = [qos] if isinstance(qos, TopicQos) else list(qos or [])
        self._connections[topic] = self._writer.add_connection(
            topic,
            msgtype,
            msgdef=msgdef,
            rihs01=rihs01,
            offered_qos_profiles=[_to_rosbags_qos(q) for q in profiles],
        )
        self._types[topic] = msgtype
        self._counts[topic] = 0

    def write(self, topic: str, log_time_ns: int, msg: object, *, msgtype: str | None = None) -> None:
        """Append one message: an rclpy message, or CDR bytes (then give `msgtype` or add the topic first)."""
        if self._closed:
            raise InputError(f"bag {self.path} is closed")
        topic = topic if topic.startswith("/") else "/" + topic
        if isinstance(msg, (bytes, bytearray, memoryview)):
            data = bytes(msg)
            if topic not in self._connections:
                if msgtype is None:
                    raise InputError(f"writing bytes to new topic {topic}: pass msgtype or call add_topic first")
                self.add_topic(topic, msgtype)
        else:
            data = serialize(msg)
            self.add_topic(topic, msgtype or message_type_name(msg))
        self._writer.write(self._connections[topic], int(log_time_ns), data)
        self._counts[topic] += 1

    def close(self) -> BagSummary:
        """Finish the bag (idempotent) and return its summary."""
        if not self._closed:
            self._closed = True
            self._writer.close()
        return read_summary(self.path)

    def abort(self) -> None:
        """Drop the bag: nothing of it stays on disk."""
        self._closed = True
        try:
            self._writer.abort()
        finally:
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._closed:
            self._closed = True
            self._writer.close()
