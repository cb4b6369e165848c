"""The QoS a bag stores per topic (rosbag2 `offered_qos_profiles`) and replays with, and its defaults."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from adp_ros.core.errors import ConfigError

if TYPE_CHECKING:
    from rosbags.interfaces import Qos

# rosbag2 writes "infinite" durations this way in offered_qos_profiles.
_INFINITE_SEC_NSEC = (9223372036, 854775807)


Reliability = Literal["reliable", "best_effort"]
Durability = Literal["volatile", "transient_local"]
History = Literal["keep_last", "keep_all"]


def _check(name: str, value: object, kind: Any) -> None:
    choices = get_args(kind)
    if value not in choices:
        raise ConfigError(f"{name}={value!r} not in {choices}")


@dataclass(frozen=True)
class TopicQos:
    """The QoS settings that matter for replay; stored in the bag's `offered_qos_profiles`."""

    reliability: Reliability = "reliable"
    durability: Durability = "volatile"
    depth: int = 10
    history: History = "keep_last"

    def __post_init__(self) -> None:
        _check("reliability", self.reliability, Reliability)
        _check("durability", self.durability, Durability)
        _check("history", self.history, History)
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

        return TopicQos.of(
            best_effort=profile.reliability == ReliabilityPolicy.BEST_EFFORT,
            transient_local=profile.durability == DurabilityPolicy.TRANSIENT_LOCAL,
            keep_all=profile.history == HistoryPolicy.KEEP_ALL,
            depth=int(profile.depth),
        )

    @staticmethod
    def of(*, best_effort: bool, transient_local: bool, keep_all: bool, depth: int) -> TopicQos:
        """From the policies as flags (rclpy's and rosbags' enums differ); anything else is the ROS default."""
        return TopicQos(
            reliability="best_effort" if best_effort else "reliable",
            durability="transient_local" if transient_local else "volatile",
            depth=depth if keep_all else max(depth, 1),
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


def to_rosbags_qos(qos: TopicQos) -> Qos:
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


def from_rosbags_qos(qos: Qos) -> TopicQos:
    """Unknown / system-default / best-available values map to the ROS defaults (reliable, volatile)."""
    from rosbags.interfaces import QosDurability, QosHistory, QosReliability

    return TopicQos.of(
        best_effort=qos.reliability == QosReliability.BEST_EFFORT,
        transient_local=qos.durability == QosDurability.TRANSIENT_LOCAL,
        keep_all=qos.history == QosHistory.KEEP_ALL,
        depth=int(qos.depth),
    )
