"""Nanoseconds → builtin_interfaces Time and Duration messages: the one stamp writer. No rclpy import.

Reading goes the other way through `core.stamps` (`stamp_ns_of` for a header stamp, `ns_of` for any Time or
Duration), which also splits ns into (sec, nanosec) for objects that are not messages (`image_conversion`).
"""

from __future__ import annotations

from builtin_interfaces.msg import Duration, Time

from adp_ros.core.stamps import sec_nanosec


def time_msg(stamp_ns: int) -> Time:
    """ns → builtin_interfaces/Time (header.stamp, /clock)."""
    sec, nanosec = sec_nanosec(stamp_ns)
    return Time(sec=sec, nanosec=nanosec)


def duration_msg(duration_ns: int) -> Duration:
    """ns → builtin_interfaces/Duration (a trajectory point's time_from_start)."""
    sec, nanosec = sec_nanosec(duration_ns)
    return Duration(sec=sec, nanosec=nanosec)
