"""Fixed-capacity buffer of stamped vectors, ordered by stamp, for the gate's motion samples.

Joint states arrive at 100+ Hz and the gate reads one chunk's worth at each chunk request, so writes must be
O(1) and reads must be cheap slices. Every sample is written twice (at `i` and `i + capacity`), so the samples
in stamp order are always one contiguous slice `[head, head + size)`: `np.searchsorted` works on it directly
and no read ever has to stitch two halves together.

Stamps must not go backwards. A sample older than the newest one is, by `out_of_order`:
- `"reject"` (default): `InputError`. On a robot an old stamp means a clock jump or a bag loop; the caller
  should `clear()` rather than mix two timelines.
- `"insert"`: put in stamp order (O(capacity), meant to be rare), for several publishers whose messages
  interleave slightly out of order. A sample older than everything in a full buffer is dropped.
Equal stamps are accepted and kept in arrival order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from adp_ros.core.errors import ConfigError, InputError

OutOfOrderPolicy = Literal["reject", "insert"]
OUT_OF_ORDER_POLICIES: tuple[str, ...] = get_args(OutOfOrderPolicy)
MAX_CAPACITY = 1_000_000


@dataclass(frozen=True)
class StampedSample:
    stamp_ns: int
    value: NDArray[np.float64]


def _check_capacity(capacity: object) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer):
        raise ConfigError(f"capacity={capacity!r} must be an integer in [1, {MAX_CAPACITY}]")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise ConfigError(
            f"capacity={capacity} outside [1, {MAX_CAPACITY}]; size it to hold at least one chunk of samples "
            "(sample rate × chunk duration, with margin for inference latency)"
        )
    return int(capacity)


class StampedRingBuffer:
    """The newest `capacity` samples `(stamp_ns, value)` with `value` a float64 vector of length `dim`."""

    __slots__ = ("_capacity", "_dim", "_head", "_num_evicted", "_out_of_order", "_size", "_stamps", "_values")

    def __init__(self, capacity: int, dim: int, *, out_of_order: OutOfOrderPolicy = "reject") -> None:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise ConfigError(f"dim={dim!r} must be an integer >= 1 (length of each sample vector)")
        if out_of_order not in OUT_OF_ORDER_POLICIES:
            raise ConfigError(f"out_of_order={out_of_order!r} not in {OUT_OF_ORDER_POLICIES}")
        self._dim = int(dim)
        self._out_of_order: OutOfOrderPolicy = out_of_order
        self._allocate(_check_capacity(capacity))
        self._num_evicted = 0

    def _allocate(self, capacity: int) -> None:
        self._capacity = capacity
        self._stamps = np.zeros(2 * capacity, dtype=np.int64)
        self._values = np.zeros((2 * capacity, self._dim), dtype=np.float64)
        self._head = 0
        self._size = 0

    # ---- properties ----
    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def out_of_order(self) -> OutOfOrderPolicy:
        return self._out_of_order

    @property
    def num_evicted(self) -> int:
        """Samples pushed out by newer ones (or dropped as too old) since construction or `clear()`."""
        return self._num_evicted

    def __len__(self) -> int:
        return self._size

    def _view(self) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        sl = slice(self._head, self._head + self._size)
        return self._stamps[sl], self._values[sl]

    # ---- writing ----
    def _check_value(self, value: ArrayLike) -> NDArray[np.float64]:
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != (self._dim,):
            raise InputError(f"sample shape {arr.shape} != ({self._dim},); pass one vector of {self._dim} values")
        if not np.isfinite(arr).all():
            raise InputError(f"sample {arr.tolist()} has NaN or inf; drop the message instead of buffering it")
        return arr

    def push(self, stamp_ns: int, value: ArrayLike) -> bool:
        """Add a sample; False if it was dropped (older than everything in a full buffer, `"insert"` only)."""
        stamp = int(stamp_ns)
        arr = self._check_value(value)
        if self._size and stamp < self._stamps[self._head + self._size - 1]:
            newest = int(self._stamps[self._head + self._size - 1])
            if self._out_of_order == "reject":
                raise InputError(
                    f"sample stamp {stamp} ns is older than the newest buffered sample ({newest} ns); "
                    "stamps must not go backwards: clear() after a clock jump or bag loop, or build the "
                    "buffer with out_of_order='insert' for interleaved publishers"
                )
            return self._insert_sorted(stamp, arr)
        cap = self._capacity
        if self._size < cap:
            pos = (self._head + self._size) % cap
            self._size += 1
        else:
            pos = self._head
            self._head = (self._head + 1) % cap
            self._num_evicted += 1
        self._stamps[pos] = stamp
        self._stamps[pos + cap] = stamp
        self._values[pos] = arr
        self._values[pos + cap] = arr
        return True

    def _insert_sorted(self, stamp: int, arr: NDArray[np.float64]) -> bool:
        stamps, values = self._view()
        i = int(np.searchsorted(stamps, stamp, side="right"))
        if self._size == self._capacity and i == 0:
            self._num_evicted += 1
            return False
        new_stamps = np.insert(stamps, i, stamp)
        new_values = np.insert(values, i, arr, axis=0)
        if new_stamps.shape[0] > self._capacity:
            new_stamps, new_values = new_stamps[1:], new_values[1:]
            self._num_evicted += 1
        self._rewrite(new_stamps, new_values)
        return True

    def _rewrite(self, stamps: NDArray[np.int64], values: NDArray[np.float64]) -> None:
        n, cap = stamps.shape[0], self._capacity
        self._stamps[:n] = stamps
        self._stamps[cap : cap + n] = stamps
        self._values[:n] = values
        self._values[cap : cap + n] = values
        self._head, self._size = 0, n

    def clear(self) -> None:
        self._head = 0
        self._size = 0
        self._num_evicted = 0

    def resize(self, capacity: int) -> None:
        """Change capacity at run time, keeping the newest samples that fit."""
        capacity = _check_capacity(capacity)
        stamps, values = self._view()
        keep = min(self._size, capacity)
        stamps, values = stamps[self._size - keep :].copy(), values[self._size - keep :].copy()
        self._num_evicted += self._size - keep
        self._allocate(capacity)
        self._rewrite(stamps, values)

    # ---- reading (copies: later pushes overwrite the storage) ----
    def stamps(self) -> NDArray[np.int64]:
        return self._view()[0].copy()

    def values(self) -> NDArray[np.float64]:
        return self._view()[1].copy()

    @property
    def oldest_stamp_ns(self) -> int | None:
        return int(self._stamps[self._head]) if self._size else None

    @property
    def newest_stamp_ns(self) -> int | None:
        return int(self._stamps[self._head + self._size - 1]) if self._size else None

    def latest(self) -> StampedSample | None:
        if not self._size:
            return None
        i = self._head + self._size - 1
        return StampedSample(int(self._stamps[i]), self._values[i].copy())

    def index_at_or_before(self, stamp_ns: int) -> int:
        """Index (0 = oldest) of the newest sample with stamp <= `stamp_ns`, or -1 if there is none."""
        return int(np.searchsorted(self._view()[0], int(stamp_ns), side="right")) - 1

    def latest_at_or_before(self, stamp_ns: int) -> StampedSample | None:
        i = self.index_at_or_before(stamp_ns)
        if i < 0:
            return None
        j = self._head + i
        return StampedSample(int(self._stamps[j]), self._values[j].copy())

    def between(self, start_ns: int, end_ns: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Samples with `start_ns <= stamp <= end_ns` (both ends inclusive), oldest first."""
        stamps, values = self._view()
        lo = int(np.searchsorted(stamps, int(start_ns), side="left"))
        hi = int(np.searchsorted(stamps, int(end_ns), side="right"))
        hi = max(lo, hi)
        return stamps[lo:hi].copy(), values[lo:hi].copy()

    def range_by_index(self, start: int, stop: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Samples by index (0 = oldest), clipped like a Python slice with non-negative bounds."""
        stamps, values = self._view()
        return stamps[start:stop].copy(), values[start:stop].copy()
