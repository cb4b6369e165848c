"""What is in a bag: topics, types, counts, QoS and time span (`adp-ros bag info`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from adp_ros.core.errors import InputError, closest
from adp_ros.tools.bags.topic_qos import TopicQos, default_qos


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
