"""The latest-observation mailbox between subscription callbacks and the inference worker.

Callbacks only `put` the newest synchronised observation (size one; replacing an unconsumed one counts a dropped
frame), so nothing queues without bound and a frame that arrives during inference is never processed late.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """A mailbox of size one: `put` replaces, `take` empties. Thread-safe; counts what it drops."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._has_item = False
        self.received = 0
        self.taken = 0
        self.dropped = 0
        """Items replaced before anyone took them, or cleared."""

    def put(self, item: T) -> bool:
        """Store `item`; True when it replaced one nobody took (a dropped frame)."""
        with self._cond:
            replaced = self._has_item
            if replaced:
                self.dropped += 1
            self._item, self._has_item = item, True
            self.received += 1
            self._cond.notify_all()
            return replaced

    def take(self) -> T | None:
        with self._cond:
            if not self._has_item:
                return None
            item, self._item, self._has_item = self._item, None, False
            self.taken += 1
            return item

    def wait(self, timeout_sec: float) -> bool:
        """Until an item is there, `wake()` is called or the timeout passes; True when an item is there."""
        with self._cond:
            if not self._has_item:
                self._cond.wait(timeout=max(0.0, timeout_sec))
            return self._has_item

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def clear(self) -> int:
        with self._cond:
            n = int(self._has_item)
            self.dropped += n
            self._item, self._has_item = None, False
            return n

    def __len__(self) -> int:
        return int(self._has_item)
