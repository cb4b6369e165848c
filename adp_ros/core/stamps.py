"""ROS time values ↔ integer nanoseconds, duck-typed (no message packages): the one stamp reader and the one
ns → (sec, nanosec) split. The message builders are in `ros/stamps.py` (`time_msg`, `duration_msg`).

Works on rclpy messages, rosbags-deserialised messages and dataclasses alike: a time is anything with `sec` and
`nanosec` (builtin_interfaces/Time and Duration) or with `nanoseconds` (rclpy.time.Time, rclpy.duration.Duration).
"""

from __future__ import annotations

from typing import Any

NS_PER_SEC = 1_000_000_000


def sec_nanosec(ns: int) -> tuple[int, int]:
    """Nanoseconds → (sec, nanosec) as builtin_interfaces/Time and Duration hold them: nanosec in [0, 1e9)."""
    sec, nanosec = divmod(int(ns), NS_PER_SEC)
    return sec, nanosec


def ns_of(t: Any) -> int:
    """A Time or Duration (`sec` + `nanosec`, or rclpy's `nanoseconds`) → nanoseconds."""
    nanoseconds = getattr(t, "nanoseconds", None)
    if nanoseconds is not None:
        return int(nanoseconds)
    return int(t.sec) * NS_PER_SEC + int(t.nanosec)


def stamp_ns_of(msg: object) -> int | None:
    """`msg.header.stamp` in ns, or None for a message without a header stamp (no `header`, no `header.stamp`,
    or a stamp that is not a time)."""
    header = getattr(msg, "header", None)
    stamp = getattr(header, "stamp", None)
    if stamp is None or not (hasattr(stamp, "nanoseconds") or hasattr(stamp, "nanosec")):
        return None
    return ns_of(stamp)
