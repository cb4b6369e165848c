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
Core code never reads a clock: headerless messages get the `now_ns` the caller passes. Stamps are read with
`core.stamps.stamp_ns_of` (importable from here too).

High-rate state streams (joint states, pose at 500-1000 Hz) do not go through this synchroniser: with a queue of
10, 20 ms of 500 Hz states, a camera frame arriving 100 ms after its stamp never found a partner and nearly
every frame was dropped (issue 12). The cameras are synchronised among themselves here, and `StateMatcher`
takes each state input's sample nearest to the camera set's stamp from a stamped buffer (`StampedMessages`).
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.core.stamps import NS_PER_SEC, stamp_ns_of

BACKEND_NAME = "adp_ros"
"""What `ApproximateTimeSynchronizer.backend` reports (the ROS factory may report 'message_filters')."""

SyncCallback = Callable[..., Any]
"""Called with one message per input, in input order."""


def seconds_to_ns(seconds: float) -> int:
    """Seconds → integer ns exactly as `rclpy.duration.Duration(seconds=...)` converts (truncation)."""
    return int(seconds * NS_PER_SEC)


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


# ------------------------------------------------------------------------------------------- state lookup


class StampedMessages:
    """Messages of one high-rate input (joint states, pose) in stamp order, the newest `history_ns` of them.

    `ring_buffer.StampedRingBuffer` keeps numeric vectors; the observation needs the messages themselves (joint
    names, the pose's frame), so this is its message-holding counterpart: appends are O(1) for stamps in order,
    an out-of-order stamp is inserted, an equal stamp replaces (a republished sample), and lookups bisect.
    """

    __slots__ = ("_history_ns", "_max_messages", "_msgs", "_stamps")

    def __init__(self, history_ns: int, max_messages: int = 100_000) -> None:
        self._history_ns = int(history_ns)
        self._max_messages = int(max_messages)
        self._stamps: list[int] = []
        self._msgs: list[object] = []

    def __len__(self) -> int:
        return len(self._stamps)

    @property
    def newest_stamp_ns(self) -> int | None:
        return self._stamps[-1] if self._stamps else None

    def push(self, stamp_ns: int, msg: object) -> None:
        """Buffer `msg`. A stamp more than the history behind the newest one is a clock jump (bag loop, sim
        reset): the old timeline is forgotten."""
        stamps = self._stamps
        if stamps and stamp_ns < stamps[-1] - self._history_ns:
            self.clear()
        if not stamps or stamp_ns > stamps[-1]:
            stamps.append(stamp_ns)
            self._msgs.append(msg)
        else:
            i = bisect.bisect_left(stamps, stamp_ns)
            if i < len(stamps) and stamps[i] == stamp_ns:
                self._msgs[i] = msg
            else:
                stamps.insert(i, stamp_ns)
                self._msgs.insert(i, msg)
        cut = max(bisect.bisect_left(stamps, stamps[-1] - self._history_ns), len(stamps) - self._max_messages)
        if cut > 0:
            del stamps[:cut], self._msgs[:cut]

    def nearest(self, stamp_ns: int) -> tuple[int, object] | None:
        """The buffered message nearest to `stamp_ns` (the older one on a tie), or None when empty."""
        stamps = self._stamps
        if not stamps:
            return None
        i = bisect.bisect_left(stamps, stamp_ns)
        if i == len(stamps) or (i > 0 and stamp_ns - stamps[i - 1] <= stamps[i] - stamp_ns):
            i -= 1
        return stamps[i], self._msgs[i]

    def clear(self) -> None:
        self._stamps.clear()
        self._msgs.clear()


@dataclass(frozen=True)
class StateMatchConfig:
    """How state samples are matched to a camera set's stamp.

    `tolerance_ns`: the largest |state stamp - camera stamp| accepted (`sync.state_tolerance_sec`).
    `wait_ns`: how long (ROS time) a camera set whose stamp is newer than every state sample waits for one
    (`sync.state_wait_sec`): states may arrive after the cameras. `history_ns`: how much state history is kept
    behind the newest sample (`sync.state_history_sec`), at least the cameras' delay. `max_pending`: camera sets
    waiting at once; the oldest is dropped beyond it.
    """

    num_states: int
    tolerance_ns: int
    wait_ns: int
    history_ns: int
    max_pending: int = 10
    names: tuple[str, ...] = ()
    """One per state input, for the drop reasons (default 'state 0', ...)."""

    def __post_init__(self) -> None:
        for name in ("num_states", "tolerance_ns", "wait_ns", "history_ns", "max_pending"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name}={value!r} must be an integer")
        if self.num_states < 0 or self.tolerance_ns < 0 or self.wait_ns < 0:
            raise ConfigError(
                f"num_states={self.num_states}, tolerance_ns={self.tolerance_ns}, wait_ns={self.wait_ns} must be >= 0"
            )
        if self.history_ns <= 0 or self.max_pending < 1:
            raise ConfigError(
                f"history_ns={self.history_ns} must be > 0 (at least the cameras' delay) and "
                f"max_pending={self.max_pending} >= 1"
            )
        if self.names and len(self.names) != self.num_states:
            raise ConfigError(f"names={self.names!r}: need one per state input ({self.num_states})")

    def name(self, index: int) -> str:
        return self.names[index] if self.names else f"state {index}"


@dataclass(frozen=True)
class StateMatchStats:
    """Counters of a `StateMatcher`. Per state input: `received` messages, `rejected` ones (no header stamp),
    `buffered` now, and `missing`: camera sets dropped because this input had no sample within the tolerance.
    State messages that age out of the history unused are not drops: at 500 Hz nearly all of them do, by
    design. Camera sets: `sets_received == sets_emitted + sets_dropped + pending`."""

    received: tuple[int, ...]
    rejected: tuple[int, ...]
    buffered: tuple[int, ...]
    missing: tuple[int, ...]
    sets_received: int
    sets_emitted: int
    sets_dropped: int
    pending: int
    last_drop_reason: str
    """Why the latest camera set was dropped ('' if none was)."""
    last_drop_ns: int | None = None
    """The caller's `now_ns` when it was dropped."""


@dataclass
class _PendingSet:
    msgs: tuple[object, ...]
    stamp_ns: int
    deadline_ns: int


class StateMatcher:
    """Camera sets (already synchronised among themselves) + high-rate state streams → observations.

    Each camera set is matched with, per state input, the buffered message nearest to the set's stamp, if
    within `tolerance_ns`. A set whose stamp is newer than every sample of some input waits (until a newer
    sample arrives, or `wait_ns` of ROS time passed, checked whenever anything arrives and on `poll`); then it
    is emitted with the nearest sample within the tolerance or dropped, counted against that input with the
    reason. `callback(*camera_msgs, *state_msgs)`; called outside the lock, in stamp order.
    """

    def __init__(self, config: StateMatchConfig, callback: SyncCallback | None = None) -> None:
        self.config = config
        n = config.num_states
        self._buffers = [StampedMessages(config.history_ns) for _ in range(n)]
        self._received = [0] * n
        self._rejected = [0] * n
        self._missing = [0] * n
        self._pending: list[_PendingSet] = []
        self._sets_received = self._sets_emitted = self._sets_dropped = 0
        self._last_drop_reason = ""
        self._last_drop_ns: int | None = None
        self._now_ns: int | None = None
        self._callbacks: list[SyncCallback] = [callback] if callback is not None else []
        self._lock = threading.Lock()

    def register_callback(self, callback: SyncCallback) -> None:
        self._callbacks.append(callback)

    def add_cameras(self, msgs: tuple[object, ...], stamp_ns: int, now_ns: int) -> list[tuple[object, ...]]:
        """A synchronised camera set stamped `stamp_ns` (the newest camera stamp); returns the sets emitted."""
        with self._lock:
            self._sets_received += 1
            self._now_ns = int(now_ns)
            self._pending.append(_PendingSet(tuple(msgs), int(stamp_ns), int(now_ns) + self.config.wait_ns))
            self._pending.sort(key=lambda p: p.stamp_ns)
            while len(self._pending) > self.config.max_pending:
                oldest = self._pending.pop(0)
                self._drop(oldest, (), f"superseded: more than {self.config.max_pending} camera sets waited")
            ready = self._resolve(int(now_ns))
        return self._emit(ready)

    def add_state(self, index: int, msg: object, stamp_ns: int | None, now_ns: int) -> list[tuple[object, ...]]:
        """A state message (None stamp: headerless, rejected); returns the sets it completed."""
        if not 0 <= index < self.config.num_states:
            raise InputError(f"state input index {index} outside [0, {self.config.num_states - 1}]")
        with self._lock:
            self._received[index] += 1
            if stamp_ns is None:
                self._rejected[index] += 1
            else:
                self._buffers[index].push(int(stamp_ns), msg)
            ready = self._resolve(int(now_ns)) if self._pending else []
        return self._emit(ready)

    def poll(self, now_ns: int) -> list[tuple[object, ...]]:
        """Settle the camera sets whose wait ran out by `now_ns` (call it now and then: a timer)."""
        with self._lock:
            ready = self._resolve(int(now_ns)) if self._pending else []
        return self._emit(ready)

    def _resolve(self, now_ns: int) -> list[tuple[object, ...]]:
        self._now_ns = now_ns
        ready: list[tuple[object, ...]] = []
        keep: list[_PendingSet] = []
        tol = self.config.tolerance_ns
        for pending in self._pending:
            # ROS time going backwards (bag loop, sim reset) ends the wait too.
            expired = not pending.deadline_ns - self.config.wait_ns <= now_ns < pending.deadline_ns
            chosen: list[object] = []
            waiting = False
            failed: list[tuple[int, str]] = []
            for i, buffer in enumerate(self._buffers):
                near = buffer.nearest(pending.stamp_ns)
                newest = buffer.newest_stamp_ns
                complete = newest is not None and newest >= pending.stamp_ns  # no closer sample can come
                if near is not None and abs(near[0] - pending.stamp_ns) <= tol and (complete or expired):
                    chosen.append(near[1])
                elif not complete and not expired:
                    waiting = True
                else:
                    failed.append((i, self._why(i, pending.stamp_ns, near, newest)))
            if waiting:
                keep.append(pending)
            elif failed:
                self._drop(pending, [i for i, _ in failed], "; ".join(reason for _, reason in failed))
            else:
                self._sets_emitted += 1
                ready.append((*pending.msgs, *chosen))
        self._pending = keep
        return ready

    def _why(self, index: int, stamp_ns: int, near: tuple[int, object] | None, newest: int | None) -> str:
        name = self.config.name(index)
        tol_ms = self.config.tolerance_ns / 1e6
        if near is None or newest is None:
            return f"no message on {name} yet"
        offset_ms = (near[0] - stamp_ns) / 1e6
        if newest < stamp_ns:
            return (
                f"{name} late: its newest sample is {(stamp_ns - newest) / 1e6:.1f} ms older than the cameras' "
                f"stamp after waiting {self.config.wait_ns / 1e6:g} ms (tolerance {tol_ms:g} ms)"
            )
        return f"{name}: nearest sample {offset_ms:+.1f} ms from the cameras' stamp, beyond {tol_ms:g} ms"

    def _drop(self, pending: _PendingSet, missing: Sequence[int], reason: str) -> None:
        self._sets_dropped += 1
        for index in missing:
            self._missing[index] += 1
        self._last_drop_reason = reason
        self._last_drop_ns = self._now_ns

    def _emit(self, ready: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        for msgs in ready:
            for callback in self._callbacks:
                callback(*msgs)
        return ready

    def stats(self) -> StateMatchStats:
        with self._lock:
            return StateMatchStats(
                received=tuple(self._received),
                rejected=tuple(self._rejected),
                buffered=tuple(len(b) for b in self._buffers),
                missing=tuple(self._missing),
                sets_received=self._sets_received,
                sets_emitted=self._sets_emitted,
                sets_dropped=self._sets_dropped,
                pending=len(self._pending),
                last_drop_reason=self._last_drop_reason,
                last_drop_ns=self._last_drop_ns,
            )

    def clear(self) -> None:
        """Forget buffered states and waiting sets (e.g. after a clock jump); waiting sets count as dropped."""
        with self._lock:
            for pending in self._pending:
                self._drop(pending, (), "cleared")
            self._pending = []
            for buffer in self._buffers:
                buffer.clear()


@dataclass(frozen=True)
class ObservationSyncStats:
    """Per input (cameras first, then the state inputs), what the node reports as `sync_*.<topic>`.

    `dropped`: camera frames never used (unmatched among the cameras, or their set dropped for want of a state
    sample); state messages rejected (no header stamp). `missing`: camera sets dropped
    because this state input had no sample within sync.state_tolerance_sec (0 for cameras).
    """

    topics: tuple[str, ...]
    num_cameras: int
    received: tuple[int, ...]
    used: tuple[int, ...]
    dropped: tuple[int, ...]
    queued: tuple[int, ...]
    missing: tuple[int, ...]
    emitted_sets: int
    last_drop_reason: str = ""
    last_drop_ns: int | None = None

    @classmethod
    def combine(cls, topics: tuple[str, ...], cameras: SyncStats, states: StateMatchStats) -> ObservationSyncStats:
        n = len(cameras.received)
        emitted = states.sets_emitted
        return cls(
            topics=topics,
            num_cameras=n,
            received=cameras.received + states.received,
            used=(emitted,) * n + (emitted,) * len(states.received),
            dropped=tuple(d + states.sets_dropped for d in cameras.dropped) + states.rejected,
            queued=tuple(q + states.pending for q in cameras.queued) + states.buffered,
            missing=(0,) * n + states.missing,
            emitted_sets=emitted,
            last_drop_reason=states.last_drop_reason,
            last_drop_ns=states.last_drop_ns,
        )

    def problem(self, since_ns: int | None = None) -> str:
        """Which inputs keep observations from forming, and the parameter to change ('' when none is known).
        `since_ns`: name late state inputs only when a camera set was dropped at or after it (e.g. the last
        observation), not for old drops."""
        parts = []
        silent = [t for t, r in zip(self.topics, self.received, strict=True) if r == 0]
        if silent:
            parts.append("no message on " + ", ".join(silent))
        late = [
            f"{t} ({m} camera sets)" for t, m in zip(self.topics, self.missing, strict=True) if m and t not in silent
        ]
        if since_ns is not None and (self.last_drop_ns is None or self.last_drop_ns < since_ns):
            late = []
        if late:
            reason = f"; last: {self.last_drop_reason}" if self.last_drop_reason else ""
            parts.append(
                "no sample near the cameras' stamp on " + ", ".join(late) + reason + " (raise "
                "sync.state_tolerance_sec or sync.state_wait_sec, or fix that topic's stamps)"
            )
        cams = self.topics[: self.num_cameras]
        unmatched = [
            f"{t} ({d} dropped)"
            for t, d in zip(cams, self.dropped[: self.num_cameras], strict=True)
            if d and t not in silent
        ]
        if unmatched and not late and self.num_cameras > 1:
            parts.append(
                "camera frames not matched among the cameras: " + ", ".join(unmatched) + " (check their stamps "
                "against sync.slop_sec)"
            )
        return "; ".join(parts)
