"""Write rosbag2 bags (version 9, sqlite3 or mcap) holding exactly the CDR bytes rclpy produces."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from adp_ros.core.errors import ConfigError, InputError, closest
from adp_ros.tools.bags.messages import MSGTYPE_RE, message_type_name, serialize
from adp_ros.tools.bags.reader import read_summary
from adp_ros.tools.bags.storage import STORAGES, is_bag_dir
from adp_ros.tools.bags.summary import BagSummary
from adp_ros.tools.bags.topic_qos import TopicQos, to_rosbags_qos
from adp_ros.tools.bags.typestore import MessageDefinitions

# rosbags and rclpy are imported inside functions: `adp-ros --help` imports this module through the CLI.


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
            if not is_bag_dir(self.path):
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
        self._definitions: MessageDefinitions | None = None
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
        if not MSGTYPE_RE.match(msgtype) or msgtype.count("/") != 2:
            raise InputError(f"message type {msgtype!r} is not of the form 'package/msg/Name'")
        if self._definitions is None:
            self._definitions = MessageDefinitions()
        msgdef, rihs01 = self._definitions.get(msgtype)
        profiles = [qos] if isinstance(qos, TopicQos) else list(qos or [])
        self._connections[topic] = self._writer.add_connection(
            topic,
            msgtype,
            msgdef=msgdef,
            rihs01=rihs01,
            offered_qos_profiles=[to_rosbags_qos(q) for q in profiles],
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
