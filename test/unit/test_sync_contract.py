"""One contract for every approximate-time synchroniser: ours (`adp_ros.core.sync`) and, where importable,
ROS 2 `message_filters.ApproximateTimeSynchronizer` (not installable from the package index here, so that
parameter is skipped with a reason). The expected sets follow message_filters' Python algorithm
(ros2/message_filters `src/message_filters/__init__.py`); any difference between the two fails here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.core.sync import ApproximateTimeSynchronizer, SyncConfig, seconds_to_ns, stamp_ns_of

NS = 1_000_000_000


@dataclass
class _Stamp:
    sec: int
    nanosec: int


@dataclass
class _Header:
    stamp: object


@dataclass
class _Msg:
    """A stamped message that remembers which input and stamp it was made for."""

    input: int
    stamp_ns: int
    header: _Header = field(init=False)

    def __post_init__(self) -> None:
        self.header = _Header(_Stamp(self.stamp_ns // NS, self.stamp_ns % NS))


class OursHarness:
    name = "adp_ros"

    def __init__(self, num_inputs: int, queue_size: int, slop_ns: int) -> None:
        self.emitted: list[tuple[_Msg, ...]] = []
        self.sync = ApproximateTimeSynchronizer(
            SyncConfig(num_inputs=num_inputs, queue_size=queue_size, slop_ns=slop_ns),
            lambda *msgs: self.emitted.append(msgs),
        )

    def add(self, index: int, stamp_ns: int) -> _Msg:
        msg = _Msg(index, stamp_ns)
        self.sync.add_message(index, msg)
        return msg

    def dropped(self) -> tuple[int, ...]:
        return self.sync.stats().dropped

    def queued(self) -> tuple[int, ...]:
        return self.sync.stats().queued


class MessageFiltersHarness:
    """Drives message_filters with SimpleFilter inputs; drops = received - used - queued (it counts none)."""

    name = "message_filters"

    def __init__(self, num_inputs: int, queue_size: int, slop_ns: int) -> None:
        import message_filters
        from rclpy.duration import Duration

        self.emitted: list[tuple[object, ...]] = []
        self.inputs = [message_filters.SimpleFilter() for _ in range(num_inputs)]
        self.received = [0] * num_inputs
        self.used = [0] * num_inputs
        for i, f in enumerate(self.inputs):
            f.registerCallback(self._count, i)
        self.sync = message_filters.ApproximateTimeSynchronizer(self.inputs, queue_size, slop_ns / NS)
        self.sync.slop = Duration(nanoseconds=slop_ns)  # exact, no float round trip
        self.sync.registerCallback(self._on_set)

    def _count(self, msg: object, index: int) -> None:
        self.received[index] += 1

    def _on_set(self, *msgs: object) -> None:
        self.used = [u + 1 for u in self.used]
        self.emitted.append(tuple(m.payload for m in msgs))

    def add(self, index: int, stamp_ns: int) -> _Msg:
        from builtin_interfaces.msg import Time
        from std_msgs.msg import Header

        msg = _Msg(index, stamp_ns)
        wrapped = type("Wrapped", (), {})()
        wrapped.header = Header(stamp=Time(sec=stamp_ns // NS, nanosec=stamp_ns % NS))
        wrapped.payload = msg
        self.inputs[index].signalMessage(wrapped)
        return msg

    def queued(self) -> tuple[int, ...]:
        return tuple(len(q) for q in self.sync.queues)

    def dropped(self) -> tuple[int, ...]:
        return tuple(r - u - q for r, u, q in zip(self.received, self.used, self.queued(), strict=True))


def _message_filters_param():
    try:
        import message_filters  # noqa: F401
    except ImportError:
        return pytest.param(
            MessageFiltersHarness,
            id="message_filters",
            marks=pytest.mark.skip(reason="message_filters is not importable (not on the package index)"),
        )
    return pytest.param(MessageFiltersHarness, id="message_filters")


@pytest.fixture(params=[pytest.param(OursHarness, id="adp_ros"), _message_filters_param()])
def make(request):
    return request.param


MS = 1_000_000
SLOP = 10 * MS


def _stamps(msgs) -> list[tuple[int, int]]:
    return [(m.input, m.stamp_ns) for m in msgs]


def test_exact_match_in_input_order_whatever_the_arrival_order(make):
    h = make(2, 10, SLOP)
    h.add(1, 100 * MS)
    assert h.emitted == []
    h.add(0, 100 * MS)
    assert [_stamps(s) for s in h.emitted] == [[(0, 100 * MS), (1, 100 * MS)]]
    assert h.queued() == (0, 0)
    assert h.dropped() == (0, 0)


def test_within_slop_matches(make):
    h = make(2, 10, SLOP)
    h.add(0, 100 * MS)
    h.add(1, 100 * MS + SLOP - 1)
    assert [_stamps(s) for s in h.emitted] == [[(0, 100 * MS), (1, 100 * MS + SLOP - 1)]]


@pytest.mark.parametrize("gap", [SLOP, SLOP + 1, 5 * SLOP], ids=["equal_to_slop", "just_over", "far"])
def test_at_or_beyond_slop_does_not_match(make, gap):
    """A spread equal to the slop is not enough: message_filters requires max - min < slop."""
    h = make(2, 10, SLOP)
    h.add(0, 100 * MS)
    h.add(1, 100 * MS + gap)
    assert h.emitted == []
    assert h.queued() == (1, 1)
    assert h.dropped() == (0, 0)


def test_sets_are_only_emitted_when_a_message_arrives(make):
    """Each arrival emits at most one set: leftovers wait for the next message."""
    h = make(2, 10, SLOP)
    h.add(0, 100 * MS)
    h.add(0, 200 * MS)
    h.add(1, 200 * MS)
    assert [_stamps(s) for s in h.emitted] == [[(0, 200 * MS), (1, 200 * MS)]]
    h.add(1, 101 * MS)
    assert [_stamps(s) for s in h.emitted][-1] == [(0, 100 * MS), (1, 101 * MS)]


def test_queue_overflow_evicts_the_oldest_stamp(make):
    h = make(2, 2, SLOP)
    h.add(0, 100 * MS)
    h.add(0, 200 * MS)
    h.add(0, 300 * MS)  # queue 0 holds 200, 300; 100 is evicted unused
    assert h.queued() == (2, 0)
    assert h.dropped() == (1, 0)
    h.add(1, 100 * MS)  # its partner is gone
    assert h.emitted == []
    h.add(1, 300 * MS)
    assert [_stamps(s) for s in h.emitted] == [[(0, 300 * MS), (1, 300 * MS)]]
    assert h.queued() == (1, 1)


def test_a_late_message_older_than_a_full_queue_is_evicted_at_once(make):
    h = make(2, 2, SLOP)
    h.add(1, 50 * MS)
    h.add(0, 200 * MS)
    h.add(1, 250 * MS)
    h.add(1, 300 * MS)  # queue 1 is full (250, 300) and 50 was evicted
    assert h.dropped() == (0, 1)
    h.add(1, 51 * MS)  # older than everything queued on a full queue: evicted immediately, never matched
    assert h.emitted == []
    assert h.dropped() == (0, 2)
    assert h.queued() == (1, 2)


def test_out_of_order_arrival_pairs_with_the_right_stamp(make):
    h = make(2, 10, SLOP)
    h.add(0, 300 * MS)
    h.add(0, 100 * MS)  # arrives late, older stamp
    h.add(1, 103 * MS)
    assert [_stamps(s) for s in h.emitted] == [[(0, 100 * MS), (1, 103 * MS)]]
    h.add(1, 295 * MS)
    assert [_stamps(s) for s in h.emitted][-1] == [(0, 300 * MS), (1, 295 * MS)]
    assert h.queued() == (0, 0)


def test_the_closest_candidate_is_tried_first(make):
    h = make(2, 10, SLOP)
    h.add(1, 100 * MS)
    h.add(1, 104 * MS)
    h.add(0, 103 * MS)  # 104 is 1 ms away, 100 is 3 ms away
    assert [_stamps(s) for s in h.emitted] == [[(0, 103 * MS), (1, 104 * MS)]]
    assert h.queued() == (0, 1)


def test_three_inputs(make):
    h = make(3, 10, SLOP)
    h.add(0, 100 * MS)
    h.add(1, 105 * MS)
    assert h.emitted == []  # input 2 still empty
    h.add(2, 108 * MS)
    assert [_stamps(s) for s in h.emitted] == [[(0, 100 * MS), (1, 105 * MS), (2, 108 * MS)]]


def test_three_inputs_need_the_whole_set_within_slop(make):
    """Each message within slop of the new one is not enough: the set's spread must be < slop."""
    h = make(3, 10, SLOP)
    h.add(0, 100 * MS)
    h.add(1, 110 * MS)
    h.add(2, 105 * MS)  # 5 ms from each, but spread 10 ms
    assert h.emitted == []
    h.add(1, 104 * MS)
    assert [_stamps(s) for s in h.emitted] == [[(0, 100 * MS), (1, 104 * MS), (2, 105 * MS)]]
    assert h.queued() == (0, 1, 0)


def test_three_inputs_first_combination_in_search_order_wins(make):
    """Greedy, like message_filters: candidate lists sorted by distance, tried in itertools.product order."""
    h = make(3, 10, SLOP)
    h.add(0, 93 * MS)
    h.add(0, 106 * MS)
    h.add(1, 95 * MS)
    h.add(1, 108 * MS)
    assert h.emitted == []
    # New message at 100 on input 2: input 0 candidates [106, 93], input 1 candidates [95, 108].
    # (106, 95) spreads 11 ms (no); (106, 108) spreads 8 ms: emitted, though (93, 95) would spread only 7 ms.
    h.add(2, 100 * MS)
    assert [_stamps(s) for s in h.emitted] == [[(0, 106 * MS), (1, 108 * MS), (2, 100 * MS)]]
    assert h.queued() == (1, 1, 0)


def test_drop_counting_balances(make):
    """received == used + dropped + queued per input, across eviction, replacement and matches."""
    h = make(2, 3, SLOP)
    sent = [0, 0]
    for k in range(10):
        h.add(0, (100 + 33 * k) * MS)
        sent[0] += 1
    h.add(0, 5 * MS)  # older than a full queue: evicted at once
    sent[0] += 1
    h.add(1, (100 + 33 * 9) * MS)
    sent[1] += 1
    h.add(1, 5 * MS)  # nothing near any more
    sent[1] += 1
    used = len(h.emitted)
    assert used == 1
    dropped, queued = h.dropped(), h.queued()
    assert dropped == (8, 0)
    assert queued == (2, 1)
    assert tuple(sent[i] - used - dropped[i] for i in range(2)) == queued


def test_same_stamp_replaces_and_counts_a_drop(make):
    h = make(2, 10, SLOP)
    h.add(0, 100 * MS)
    second = h.add(0, 100 * MS)
    assert h.dropped() == (1, 0)
    h.add(1, 100 * MS)
    assert h.emitted[0][0] is second


def test_single_input_passes_every_message_through(make):
    h = make(1, 10, SLOP)
    h.add(0, 1)
    h.add(0, 2)
    assert [_stamps(s) for s in h.emitted] == [[(0, 1)], [(0, 2)]]


# ---- ours only: configuration, headerless handling, threads ------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"num_inputs": 0, "queue_size": 10, "slop_ns": 1}, "num_inputs=0"),
        ({"num_inputs": 2, "queue_size": 0, "slop_ns": 1}, "queue_size=0"),
        ({"num_inputs": 2, "queue_size": 10, "slop_ns": 0}, "slop_ns=0"),
        ({"num_inputs": 2, "queue_size": 10, "slop_ns": -5}, "slop_ns=-5"),
        ({"num_inputs": 2, "queue_size": 10.0, "slop_ns": 5}, "queue_size=10.0"),
    ],
)
def test_invalid_config_is_refused(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        SyncConfig(**kwargs)


def test_seconds_to_ns_truncates_like_rclpy_duration():
    assert seconds_to_ns(0.05) == 50_000_000
    assert seconds_to_ns(0.5014) == 501_399_999  # 0.5014 * 1e9 == 501399999.99999994 in binary floating point
    assert seconds_to_ns(2) == 2 * NS


def test_stamp_of_header_and_rclpy_time_like_stamps():
    assert stamp_ns_of(_Msg(0, 3 * NS + 7)) == 3 * NS + 7
    assert stamp_ns_of(_Header(stamp=None)) is None
    assert stamp_ns_of(object()) is None
    time_like = type("T", (), {"nanoseconds": 42})()
    assert stamp_ns_of(type("M", (), {"header": _Header(time_like)})()) == 42


def test_headerless_messages_are_dropped_unless_allowed():
    emitted = []
    sync = ApproximateTimeSynchronizer(SyncConfig(2, 10, SLOP), lambda *m: emitted.append(m))
    assert sync.add_message(0, object(), now_ns=100 * MS) is None
    assert sync.stats().dropped == (1, 0)
    assert sync.stats().received == (1, 0)

    allowed = ApproximateTimeSynchronizer(SyncConfig(2, 10, SLOP, allow_headerless=True))
    bare = object()
    allowed.add_message(0, bare, now_ns=100 * MS)
    got = allowed.add_message(1, _Msg(1, 102 * MS))
    assert got is not None and got[0] is bare
    with pytest.raises(InputError, match="now_ns"):
        allowed.add_message(0, object())


def test_bad_input_index():
    sync = ApproximateTimeSynchronizer(SyncConfig(2, 10, SLOP))
    with pytest.raises(InputError, match=r"input index 2 outside \[0, 1\]"):
        sync.add(2, object(), 0)


def test_clear_counts_queued_messages_as_dropped():
    sync = ApproximateTimeSynchronizer(SyncConfig(2, 10, SLOP))
    sync.add(0, "a", 1)
    sync.add(1, "b", 10 * SLOP)
    assert sync.clear() == 2
    stats = sync.stats()
    assert stats.queued == (0, 0)
    assert stats.dropped == (1, 1)
    assert stats.total_dropped == 2


def test_callback_exception_leaves_the_synchroniser_usable():
    def boom(*_msgs):
        raise RuntimeError("callback failed")

    sync = ApproximateTimeSynchronizer(SyncConfig(2, 10, SLOP), boom)
    sync.add(0, "a", 1)
    with pytest.raises(RuntimeError):
        sync.add(1, "b", 1)
    assert sync.stats().queued == (0, 0)
    assert sync.stats().used == (1, 1)
    sync.add(0, "c", 2)  # lock released: no deadlock


def test_concurrent_adds_keep_the_counters_consistent():
    sync = ApproximateTimeSynchronizer(SyncConfig(2, 5, SLOP))
    n = 2000

    def feed(index: int) -> None:
        for k in range(n):
            sync.add(index, (index, k), k * 3 * SLOP)

    threads = [threading.Thread(target=feed, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = sync.stats()
    assert stats.received == (n, n)
    for i in range(2):
        assert stats.received[i] == stats.used[i] + stats.dropped[i] + stats.queued[i]
    assert stats.emitted_sets == stats.used[0] > 0
