"""core/stamps.py (the stamp reader, ns ↔ sec/nanosec) and ros/stamps.py (the Time / Duration writer)."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from adp_ros.core import sync
from adp_ros.core.stamps import NS_PER_SEC, ns_of, sec_nanosec, stamp_ns_of


@dataclass
class _Time:
    sec: int
    nanosec: int


def test_sec_nanosec_and_back():
    for ns in (0, 1, NS_PER_SEC - 1, NS_PER_SEC, 1_718_035_200 * NS_PER_SEC + 5):
        sec, nanosec = sec_nanosec(ns)
        assert 0 <= nanosec < NS_PER_SEC and sec * NS_PER_SEC + nanosec == ns
        assert ns_of(_Time(sec, nanosec)) == ns
    assert ns_of(SimpleNamespace(nanoseconds=42)) == 42  # rclpy Time / Duration


def test_stamp_ns_of():
    assert stamp_ns_of(SimpleNamespace(header=SimpleNamespace(stamp=_Time(3, 7)))) == 3 * NS_PER_SEC + 7
    assert stamp_ns_of(SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(nanoseconds=42)))) == 42
    assert stamp_ns_of(object()) is None
    assert stamp_ns_of(SimpleNamespace(header=SimpleNamespace(stamp=None))) is None
    assert stamp_ns_of(SimpleNamespace(header=SimpleNamespace(stamp="not a time"))) is None
    assert sync.stamp_ns_of is stamp_ns_of  # the synchroniser reads stamps with the same function


def test_ros_writer_round_trips_through_the_reader():
    pytest.importorskip("builtin_interfaces")
    from builtin_interfaces.msg import Duration, Time

    from adp_ros.ros.stamps import duration_msg, time_msg

    t = time_msg(5 * NS_PER_SEC + 7)
    assert isinstance(t, Time) and (t.sec, t.nanosec) == (5, 7)
    d = duration_msg(1_500_000_000)
    assert isinstance(d, Duration) and (d.sec, d.nanosec) == (1, 500_000_000)
    assert ns_of(t) == 5 * NS_PER_SEC + 7 and ns_of(d) == 1_500_000_000
