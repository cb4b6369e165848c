"""The node's observation synchronisation without subscriptions: cameras synchronised among themselves
(`ApproximateTimeSynchronizer`), each state input (joint states, pose) matched at the camera set's stamp
(`StateMatcher`). `ros/sync.py` feeds it from subscriptions; `bag eval` feeds it from the bag in log order, so
a bag is synchronised exactly as the node would synchronise it on replay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from adp_ros.core.stamps import stamp_ns_of
from adp_ros.core.sync import (
    ApproximateTimeSynchronizer,
    ObservationSyncStats,
    StateMatchConfig,
    StateMatcher,
    SyncConfig,
    SyncStats,
    seconds_to_ns,
)


def state_match_config(
    names: Sequence[str], *, queue_size: int, tolerance_sec: float, wait_sec: float, history_sec: float
) -> StateMatchConfig:
    """`sync.state_tolerance_sec`, `state_wait_sec`, `state_history_sec` (and `queue_size` waiting camera sets)
    for the state inputs `names`."""
    return StateMatchConfig(
        num_states=len(names),
        tolerance_ns=seconds_to_ns(tolerance_sec),
        wait_ns=seconds_to_ns(wait_sec),
        history_ns=max(1, seconds_to_ns(history_sec)),
        max_pending=queue_size,
        names=tuple(names),
    )


class ObservationSynchronizer:
    """`callback(*camera_msgs, *state_msgs)` per observation. Feed it in arrival order with the clock's `now_ns`
    (ROS time in the node, log time in a bag); `poll` settles camera sets whose wait for a state ran out.
    `cameras` None: the cameras are synchronised elsewhere (message_filters) and arrive through `add_camera_set`."""

    def __init__(
        self,
        cameras: SyncConfig | None,
        states: StateMatchConfig,
        callback: Callable[..., Any],
        camera_topics: Sequence[str] = (),
    ) -> None:
        self.matcher = StateMatcher(states, callback)
        self.cameras = ApproximateTimeSynchronizer(cameras, self._on_cameras) if cameras is not None else None
        self.topics = (*camera_topics, *states.names)
        self._now_ns = 0

    @classmethod
    def from_settings(
        cls, sync: Any, camera_topics: Sequence[str], state_topics: Sequence[str], callback: Callable[..., Any]
    ) -> ObservationSynchronizer:
        """From `params.SyncSettings` (`sync.*`), as the node builds it."""
        cameras = SyncConfig(len(camera_topics), sync.queue_size, seconds_to_ns(sync.slop_sec))
        states = state_match_config(
            state_topics,
            queue_size=sync.queue_size,
            tolerance_sec=sync.state_tolerance_sec,
            wait_sec=sync.state_wait_sec,
            history_sec=sync.state_history_sec,
        )
        return cls(cameras, states, callback, camera_topics)

    def _on_cameras(self, *msgs: Any) -> None:
        stamp = max(stamp_ns_of(m) or 0 for m in msgs)
        self.matcher.add_cameras(msgs, stamp, self._now_ns)

    def add_camera(self, index: int, msg: Any, now_ns: int) -> None:
        if self.cameras is None:
            raise TypeError("this synchroniser takes whole camera sets (add_camera_set)")
        self._now_ns = now_ns
        self.cameras.add_message(index, msg)

    def add_camera_set(self, msgs: Sequence[Any], now_ns: int) -> None:
        """A set already synchronised among the cameras (e.g. by message_filters)."""
        self._now_ns = now_ns
        self._on_cameras(*msgs)

    def add_state(self, index: int, msg: Any, now_ns: int) -> None:
        self.matcher.add_state(index, msg, stamp_ns_of(msg), now_ns)

    def poll(self, now_ns: int) -> None:
        self.matcher.poll(now_ns)

    def stats(self, camera_stats: SyncStats | None = None) -> ObservationSyncStats:
        """Per input counters (cameras first); `camera_stats` when another synchroniser did the cameras."""
        if camera_stats is None:
            if self.cameras is None:
                raise TypeError("pass the camera synchroniser's stats")
            camera_stats = self.cameras.stats()
        return ObservationSyncStats.combine(self.topics, camera_stats, self.matcher.stats())

    def clear(self) -> None:
        if self.cameras is not None:
            self.cameras.clear()
        self.matcher.clear()
