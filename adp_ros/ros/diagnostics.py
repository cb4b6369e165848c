"""`core/diagnostics.py` records → `diagnostic_msgs/DiagnosticArray` (levels are bytes: OK is b'\\x00').

Two streams: per chunk on the node's latency topic (status `adp_ros: latency`, stage times and the chunk's
tokens and gate), and ~1 Hz on `/diagnostics` (status `adp_ros: policy`, percentiles, counters, the level and
why), which rqt_runtime_monitor and diagnostic_aggregator read.
"""

from __future__ import annotations

from collections.abc import Iterable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from adp_ros.core.diagnostics import (
    ERROR,
    OK,
    STALE,
    WARN,
    ChunkRecord,
    DiagnosticsSnapshot,
    Thresholds,
    chunk_key_values,
    chunk_level,
)
from adp_ros.ros.stamps import time_msg

POLICY_STATUS_NAME = "adp_ros: policy"
LATENCY_STATUS_NAME = "adp_ros: latency"

LEVEL_BYTES: dict[int, bytes] = {
    OK: DiagnosticStatus.OK,
    WARN: DiagnosticStatus.WARN,
    ERROR: DiagnosticStatus.ERROR,
    STALE: DiagnosticStatus.STALE,
}


def level_byte(level: int) -> bytes:
    return LEVEL_BYTES[level]


def status(
    name: str, hardware_id: str, level: int, message: str, values: Iterable[tuple[str, str]]
) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=level_byte(level),
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[KeyValue(key=k, value=v) for k, v in values],
    )


def array(stamp_ns: int, statuses: Iterable[DiagnosticStatus]) -> DiagnosticArray:
    msg = DiagnosticArray()
    msg.header.stamp = time_msg(stamp_ns)
    msg.status = list(statuses)
    return msg


def snapshot_array(snapshot: DiagnosticsSnapshot, *, hardware_id: str) -> DiagnosticArray:
    """The `/diagnostics` message."""
    return array(
        snapshot.stamp_ns,
        [status(POLICY_STATUS_NAME, hardware_id, snapshot.level, snapshot.message, snapshot.key_values())],
    )


def chunk_array(
    record: ChunkRecord,
    thresholds: Thresholds,
    *,
    hardware_id: str,
    stamp_ns: int,
    extra: Iterable[tuple[str, str]] = (),
) -> DiagnosticArray:
    """The latency-topic message of one published chunk."""
    level, message = chunk_level(record, thresholds)
    return array(
        stamp_ns, [status(LATENCY_STATUS_NAME, hardware_id, level, message, [*chunk_key_values(record), *extra])]
    )


def skipped_chunk_array(
    kind: str, reason: str, level: int, *, hardware_id: str, stamp_ns: int, extra: Iterable[tuple[str, str]] = ()
) -> DiagnosticArray:
    """The latency-topic message of a chunk that was not published (stale, bad input, error, refused)."""
    values = [("skipped", kind), ("reason", reason), *extra]
    return array(stamp_ns, [status(LATENCY_STATUS_NAME, hardware_id, level, f"no chunk: {kind}: {reason}", values)])


def values_of(msg: DiagnosticStatus) -> dict[str, str]:
    """KeyValues as a dict (tests, tools)."""
    return {kv.key: kv.value for kv in msg.values}
