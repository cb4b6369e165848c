"""Approximate-time synchronisation of several message streams, with the semantics of ROS 2 message_filters.

`message_filters` is not installable from the package index, so this reimplements the algorithm of its Python
`ApproximateTimeSynchronizer` (ros2/message_filters, `src/message_filters/__init__.py`) step for step:

1. Each input has a queue of messages keyed by stamp (ns). A message whose stamp is already queued replaces
   the queued one. While a queue holds more than `queue_size` messages, the one with the *smallest stamp* is
   removed (which may be the message that just arrived, if it is older than everything queued).
2. On each new message (stamp `t`, input `i`), every other queue is searched for stamps `s` with
   `|s - t| <= slop`, sorted by `|s - t|` (ties in queue insertion order). If some queue has none, stop.
3. The combinations are tried in `itertools.product` order of those sorted lists (the new message fixed at
   position `i`); the first whose `max - min < slop` (strict) and whose messages are all still queued is
   emitted, in input order, and its messages are removed from the queues. At most one set per new message.

Consequences kept on purpose: a slop of 0 could never emit (strict `<`), so it is refused here as a
configuration error; the search is greedy (first combination, not the tightest); a set is only ever emitted
when a message arrives.

Unlike message_filters this also counts what it drops (evicted, replaced or headerless messages), because the
node reports dropped frames: per input, `received == used + dropped + queued` always holds.
Core code never reads a clock: headerless messages get the `now_ns` the caller passes.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from adp_ros.core.errors import ConfigError, InputError

BACKEND_NAME = "adp_ros"
"""What `ApproximateTimeSynchronizer.backend` reports (the ROS factory may report 'message_filters')."""

_NS_PER_SEC = 1_000_000_000

SyncCallback = Callable[..., Any]
"""Called with one message per input, in input order."""


def seconds_to_ns(seconds: float) -> int:
    """Seconds → integer ns exactly as `rclpy.duration.Duration(seconds=...)` converts (truncation)."""
    return int(seconds * _NS_PER_SEC)


def stamp_ns_of(msg: object) -> int | None:
    """`msg.header.stamp` in ns, or None for a message without a header stamp.

    Accepts a `builtin_interfaces/Time`-like stamp (`sec`, `nanosec`) or an `rclpy.time.Time` (`nanoseconds`).
    """
    header = getattr(msg, "header", None)
    stamp = getattr(header, "stamp", None)
    if stamp is None:
        return None
    nanoseconds = getattr(stamp, "nanoseconds", None)
    if nanoseconds is not None:
        return int(nanoseconds)
    return int(stamp.sec) * _NS_PER_SEC + int(stamp.nanosec)


@dataclass(frozen=True)
class SyncConfig:
    """How many inputs, how many messages each may hold, and how far apart (ns) a synchronised set may be."""

    num_inputs: int
    queue_size: int
    slop_ns: int
    allow_headerless: bool = False
    """Stamp messages without `header.stamp` with the caller's `now_ns` (message_filters: ROS time now)."""

    def __post_init__(self) -> None:
        for name in ("num_inputs", "queue_size", "slop_ns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name}={value!r} must be an integer")
        if self.num_inputs < 1:
            raise ConfigError(f"num_inputs={self.num_inputs} must be >= 1 (one per synchronised topic)")
        if self.queue_size < 1:
            raise ConfigError(f"queue_size={self.queue_size} must be >= 1; 10 is a common choice")
        if self.slop_ns <= 0:
            raise ConfigError(
                f"slop_ns={self.slop_ns} must be > 0: a set is emitted only when max - min stamp < slop, "
                "so a slop of 0 never synchronises anything; use e.g. half the camera frame period"
            )


@dataclass(frozen=True)
class SyncStats:
    """Counters per input. `received[i] == used[i] + dropped[i] + queued[i]`."""

    received: tuple[int, ...]
    used: tuple[int, ...]
    """Messages delivered in a synchronised set."""
    dropped: tuple[int, ...]
    """Messages evicted (queue overflow, replaced by one with the same stamp, headerless), never used."""
    queued: tuple[int, ...]
    emitted_sets: int

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped)


class ApproximateTimeSynchronizer:
    """Pure-Python approximate-time synchroniser; thread-safe (one lock, like message_filters).

    Callbacks run while the lock is held, as in message_filters: they must not call `add` themselves.
    The messages of a set are removed from the queues before the callbacks run, so an exception raised by a
    callback propagates to the caller of `add` without leaving the synchroniser inconsistent.
    """

    backend = BACKEND_NAME

    def __init__(self, config: SyncConfig, callback: SyncCallback | None = None) -> None:
        self.config = config
        self._queues: list[dict[int, object]] = [{} for _ in range(config.num_inputs)]
        self._received = [0] * config.num_inputs
        self._used = [0] * config.num_inputs
        self._dropped = [0] * config.num_inputs
        self._emitted_sets = 0
        self._callbacks: list[SyncCallback] = []
        self._lock = threading.Lock()
        if callback is not None:
            self.register_callback(callback)

    def register_callback(self, callback: SyncCallback) -> None:
        """Add a callback; each emitted set is passed to every callback in registration order."""
        self._callbacks.append(callback)

    def add_message(self, index: int, msg: object, now_ns: int | None = None) -> tuple[object, ...] | None:
        """Add `msg` by its `header.stamp`; a headerless message gets `now_ns` if allowed, else is dropped."""
        stamp_ns = stamp_ns_of(msg)
        if stamp_ns is None:
            if not self.config.allow_headerless:
                self._check_index(index)
                with self._lock:
                    self._received[index] += 1
                    self._dropped[index] += 1
                return None
            if now_ns is None:
                raise InputError(
                    f"input {index}: message {type(msg).__name__} has no header.stamp and "
                    "allow_headerless=True, but no now_ns was passed to stamp it with"
                )
            stamp_ns = now_ns
        return self.add(index, msg, stamp_ns)

    def add(self, index: int, msg: object, stamp_ns: int) -> tuple[object, ...] | None:
        """Queue `msg` on input `index` at `stamp_ns`; return (and pass to callbacks) the set it completes."""
        self._check_index(index)
        stamp_ns = int(stamp_ns)
        slop = self.config.slop_ns
        with self._lock:
            self._received[index] += 1
            my_queue = self._queues[index]
            if stamp_ns in my_queue:
                self._dropped[index] += 1  # replaced: message_filters overwrites the dict entry
            my_queue[stamp_ns] = msg
            while len(my_queue) > self.config.queue_size:
                del my_queue[min(my_queue)]
                self._dropped[index] += 1
            if stamp_ns not in my_queue:
                # The new message was the oldest of a full queue: no combination can hold it.
                return None

            candidates: list[list[int]] = []
            for other, queue in enumerate(self._queues):
                if other == index:
                    continue
                near = [(s, abs(s - stamp_ns)) for s in queue if abs(s - stamp_ns) <= slop]
                if not near:
                    return None
                near.sort(key=lambda pair: pair[1])  # stable: ties keep queue insertion order
                candidates.append([s for s, _ in near])

            for combination in itertools.product(*candidates):
                stamps = list(combination)
                stamps.insert(index, stamp_ns)
                # All candidate stamps are still queued (nothing is removed during the search), so only the
                # spread needs checking.
                if max(stamps) - min(stamps) < slop:
                    msgs = tuple(queue.pop(s) for queue, s in zip(self._queues, stamps, strict=True))
                    for i in range(len(self._used)):
                        self._used[i] += 1
                    self._emitted_sets += 1
                    for callback in self._callbacks:
                        callback(*msgs)
                    return msgs
            return None

    def stats(self) -> SyncStats:
        with self._lock:
            return SyncStats(
                received=tuple(self._received),
                used=tuple(self._used),
                dropped=tuple(self._dropped),
                queued=tuple(len(q) for q in self._queues),
                emitted_sets=self._emitted_sets,
            )

    def clear(self) -> int:
        """Drop everything queued (e.g. on deactivation); returns how many messages were dropped."""
        with self._lock:
            total = 0
            for i, queue in enumerate(self._queues):
                self._dropped[i] += len(queue)
                total += len(queue)
                queue.clear()
            return total

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.config.num_inputs:
            raise InputError(f"input index {index} outside [0, {self.config.num_inputs - 1}]")
