from __future__ import annotations

import numpy as np
import pytest

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.core.ring_buffer import StampedRingBuffer


def filled(capacity: int, n: int, dim: int = 3) -> StampedRingBuffer:
    buf = StampedRingBuffer(capacity, dim)
    for i in range(n):
        buf.push(i * 10, np.full(dim, float(i)))
    return buf


def test_push_and_read_in_order():
    buf = filled(4, 3)
    assert len(buf) == 3
    np.testing.assert_array_equal(buf.stamps(), [0, 10, 20])
    np.testing.assert_array_equal(buf.values()[:, 0], [0, 1, 2])
    latest = buf.latest()
    assert latest is not None and latest.stamp_ns == 20 and latest.value.tolist() == [2.0, 2.0, 2.0]
    assert buf.oldest_stamp_ns == 0 and buf.newest_stamp_ns == 20


def test_full_buffer_keeps_newest_across_many_wraps():
    buf = filled(5, 23)
    assert len(buf) == 5
    np.testing.assert_array_equal(buf.stamps(), [180, 190, 200, 210, 220])
    np.testing.assert_array_equal(buf.values()[:, 1], [18, 19, 20, 21, 22])
    assert buf.num_evicted == 18


def test_empty_buffer_queries():
    buf = StampedRingBuffer(3, 2)
    assert buf.latest() is None
    assert buf.latest_at_or_before(100) is None
    assert buf.index_at_or_before(100) == -1
    assert buf.oldest_stamp_ns is None and buf.newest_stamp_ns is None
    s, v = buf.between(0, 100)
    assert s.shape == (0,) and v.shape == (0, 2)


def test_between_is_inclusive_and_latest_at_or_before():
    buf = filled(8, 6)  # stamps 0..50
    s, v = buf.between(10, 30)
    np.testing.assert_array_equal(s, [10, 20, 30])
    assert v.shape == (3, 3)
    s, _ = buf.between(11, 29)
    np.testing.assert_array_equal(s, [20])
    s, _ = buf.between(30, 10)
    assert s.size == 0
    assert buf.latest_at_or_before(25).stamp_ns == 20
    assert buf.latest_at_or_before(20).stamp_ns == 20
    assert buf.latest_at_or_before(-1) is None
    assert buf.index_at_or_before(1000) == 5


def test_reads_are_copies():
    buf = filled(3, 3)
    vals = buf.values()
    vals[:] = -1
    sample = buf.latest()
    sample.value[:] = -1
    assert buf.values()[0, 0] == 0.0 and buf.latest().value[0] == 2.0
    buf.push(30, [9, 9, 9])  # overwrite the storage the old copy came from
    assert vals[0, 0] == -1


def test_out_of_order_rejected_by_default():
    buf = filled(4, 3)
    with pytest.raises(InputError, match=r"older than the newest.*clear\(\)"):
        buf.push(15, [0, 0, 0])
    assert len(buf) == 3
    buf.push(20, [5, 5, 5])  # equal stamps are fine, arrival order kept
    np.testing.assert_array_equal(buf.stamps(), [0, 10, 20, 20])
    assert buf.values()[-1, 0] == 5


def test_out_of_order_insert_policy():
    buf = StampedRingBuffer(4, 1, out_of_order="insert")
    for t in (0, 20, 30):
        buf.push(t, [t])
    assert buf.push(10, [10])
    np.testing.assert_array_equal(buf.stamps(), [0, 10, 20, 30])
    assert buf.push(25, [25])  # full: the oldest goes
    np.testing.assert_array_equal(buf.stamps(), [10, 20, 25, 30])
    np.testing.assert_array_equal(buf.values()[:, 0], [10, 20, 25, 30])
    assert not buf.push(5, [5])  # older than everything kept in a full buffer
    np.testing.assert_array_equal(buf.stamps(), [10, 20, 25, 30])
    buf.push(40, [40])  # back to O(1) appends after an insert
    np.testing.assert_array_equal(buf.stamps(), [20, 25, 30, 40])


@pytest.mark.parametrize("policy", ["reject", "insert"])
def test_matches_a_sorted_list_model(policy):
    rng = np.random.default_rng(0)
    cap = 7
    buf = StampedRingBuffer(cap, 2, out_of_order=policy)
    model: list[tuple[int, float]] = []
    t = 0
    for i in range(500):
        t += int(rng.integers(0, 5))
        stamp = t - int(rng.integers(0, 12)) if policy == "insert" and rng.random() < 0.2 else t
        try:
            buf.push(stamp, [float(i), -float(i)])
        except InputError:
            assert policy == "reject" and model and stamp < model[-1][0]
            continue
        pos = len([m for m in model if m[0] <= stamp])
        model.insert(pos, (stamp, float(i)))
        model = model[-cap:]  # a sample older than a whole full buffer drops out here, as in the buffer
        np.testing.assert_array_equal(buf.stamps(), [m[0] for m in model])
        np.testing.assert_array_equal(buf.values()[:, 0], [m[1] for m in model])
        q = int(rng.integers(0, t + 5))
        want = [m for m in model if m[0] <= q]
        got = buf.latest_at_or_before(q)
        assert (got is None) == (not want)
        if want:
            assert got.stamp_ns == want[-1][0] and got.value[0] == want[-1][1]


def test_resize_keeps_most_recent():
    buf = filled(6, 9)  # keeps 30..80
    buf.resize(3)
    assert buf.capacity == 3
    np.testing.assert_array_equal(buf.stamps(), [60, 70, 80])
    buf.push(90, [9, 9, 9])
    np.testing.assert_array_equal(buf.stamps(), [70, 80, 90])
    buf.resize(10)
    np.testing.assert_array_equal(buf.stamps(), [70, 80, 90])
    for i in range(10, 20):
        buf.push(i * 10, [i, i, i])
    np.testing.assert_array_equal(buf.stamps(), np.arange(100, 200, 10))


def test_clear():
    buf = filled(3, 5)
    buf.clear()
    assert len(buf) == 0 and buf.num_evicted == 0
    buf.push(0, [1, 2, 3])  # earlier stamp than before the clear is fine now
    assert len(buf) == 1


@pytest.mark.parametrize("capacity", [0, -1, 2.5, True, 10**9])
def test_bad_capacity(capacity):
    with pytest.raises(ConfigError, match="capacity"):
        StampedRingBuffer(capacity, 3)


def test_bad_dim_and_policy():
    with pytest.raises(ConfigError, match="dim"):
        StampedRingBuffer(4, 0)
    with pytest.raises(ConfigError, match="out_of_order"):
        StampedRingBuffer(4, 3, out_of_order="sort")  # type: ignore[arg-type]


def test_bad_samples():
    buf = StampedRingBuffer(4, 3)
    with pytest.raises(InputError, match=r"shape \(2,\) != \(3,\)"):
        buf.push(0, [1, 2])
    with pytest.raises(InputError, match="NaN"):
        buf.push(0, [1, np.nan, 2])
    assert len(buf) == 0


def test_push_is_cheap():
    """O(1) per sample: 20k pushes into a full buffer stay far below a 100 Hz joint-state period."""
    import time

    buf = StampedRingBuffer(256, 12)
    v = np.zeros(12)
    t0 = time.perf_counter()
    for i in range(20_000):
        buf.push(i, v)
    per_push_us = (time.perf_counter() - t0) / 20_000 * 1e6
    assert per_push_us < 200
