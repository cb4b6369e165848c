"""Approximate-time synchronised subscriptions: message_filters when installed, else `core/sync.py`.

Both backends apply the same algorithm (see `adp_ros.core.sync`) to `msg.header.stamp`, call `callback` with
one message per topic in topic order, and count received/used/dropped messages the same way, so the node does
not care which one it got. `SyncedSubscriptions.backend` says which is in use. The one difference: a
headerless message (with `allow_headerless=True`) gets the node's clock here (so `use_sim_time` replay behaves
like the robot) but a fresh `ROSClock()` inside message_filters.

`create_observation_sync` is what the node uses: the cameras through `create_approximate_sync` (either
backend), and the high-rate state streams (joint states, pose) through plain subscriptions into
`core.sync.StateMatcher`, which takes the sample nearest to each camera set's stamp. The states bypass
message_filters on purpose: in its queue (`sync.queue_size`) 500 Hz states covered 20 ms, so cameras that
arrive 100 ms after their stamp never found a partner (issue 12).

rclpy is not imported at module level; the node passes itself in.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from adp_ros.core.errors import ConfigError, MissingDependencyError, closest
from adp_ros.core.observation_sync import ObservationSynchronizer, state_match_config
from adp_ros.core.params import SYNC_BACKENDS
from adp_ros.core.sync import (
    BACKEND_NAME,
    ApproximateTimeSynchronizer,
    ObservationSyncStats,
    SyncConfig,
    SyncStats,
    seconds_to_ns,
    stamp_ns_of,
)

BACKEND_MESSAGE_FILTERS = "message_filters"
BACKEND_BUILTIN = BACKEND_NAME


def message_filters_available() -> bool:
    try:
        import message_filters  # noqa: F401 - optional dependency
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class SyncTopic:
    """One synchronised input: message type, (relative) topic name and QoS profile or depth."""

    msg_type: type
    topic: str
    qos: Any = 10


class SyncedSubscriptions:
    """What `create_approximate_sync` returns: the subscriptions, the backend in use and drop counters."""

    def __init__(self, node: Any, backend: str, subscriptions: list[Any], stats: Callable[[], SyncStats]) -> None:
        self._node = node
        self.backend = backend
        self.subscriptions = subscriptions
        """The rclpy `Subscription` objects, one per topic, in topic order."""
        self._stats = stats

    def stats(self) -> SyncStats:
        return self._stats()

    def destroy(self) -> None:
        """Destroy the subscriptions (e.g. on lifecycle cleanup); queued messages are simply forgotten."""
        for sub in self.subscriptions:
            self._node.destroy_subscription(sub)
        self.subscriptions = []


def _normalise_topics(topics: Sequence[SyncTopic | tuple[Any, ...]]) -> list[SyncTopic]:
    result = []
    for entry in topics:
        if isinstance(entry, SyncTopic):
            result.append(entry)
        elif isinstance(entry, tuple) and len(entry) in (2, 3):
            result.append(SyncTopic(*entry))
        else:
            raise ConfigError(f"sync topic {entry!r} must be a SyncTopic or (msg_type, topic[, qos])")
    if not result:
        raise ConfigError("create_approximate_sync needs at least one topic")
    return result


def create_approximate_sync(
    node: Any,
    topics: Sequence[SyncTopic | tuple[Any, ...]],
    queue_size: int,
    slop_sec: float,
    callback: Callable[..., Any],
    *,
    callback_group: Any = None,
    allow_headerless: bool = False,
    backend: str = "auto",
) -> SyncedSubscriptions:
    """Subscribe to `topics` on `node` and call `callback(msg_0, ..., msg_n)` for each synchronised set.

    `topics`: `SyncTopic`s or `(msg_type, topic[, qos])` tuples. `slop_sec`: the largest stamp spread of a
    set (exclusive), converted to ns as rclpy's `Duration(seconds=...)` does. `backend`: 'auto'
    (message_filters if importable), 'message_filters' (`MissingDependencyError` if absent) or 'adp_ros'.
    """
    if backend not in SYNC_BACKENDS:
        raise ConfigError(f"backend={backend!r} is not a sync backend{closest(backend, SYNC_BACKENDS)}")
    if not isinstance(slop_sec, (int, float)) or not math.isfinite(slop_sec):
        raise ConfigError(f"slop_sec={slop_sec!r} must be a finite number of seconds > 0")
    specs = _normalise_topics(topics)
    config = SyncConfig(
        num_inputs=len(specs),
        queue_size=queue_size,
        slop_ns=seconds_to_ns(slop_sec),
        allow_headerless=allow_headerless,
    )
    use_mf = backend == BACKEND_MESSAGE_FILTERS or (backend == "auto" and message_filters_available())
    if use_mf:
        if not message_filters_available():
            raise MissingDependencyError(
                "backend='message_filters' but the message_filters package is not importable; install "
                "ros-<distro>-message-filters (apt) or use backend='auto' / 'adp_ros'"
            )
        return _create_with_message_filters(
            node,
            specs=specs,
            config=config,
            slop_sec=slop_sec,
            callback=callback,
            callback_group=callback_group,
        )
    return _create_builtin(node, specs=specs, config=config, callback=callback, callback_group=callback_group)


class _HeaderlessWarning:
    """Warn once per topic (rclpy's `once=True` is once per call site, not per topic)."""

    def __init__(self, node: Any) -> None:
        self._node = node
        self._warned: set[str] = set()

    def __call__(self, topic: str) -> None:
        if topic not in self._warned:
            self._warned.add(topic)
            self._node.get_logger().warning(
                f"dropping messages on '{topic}': they have no header.stamp and allow_headerless is false"
            )


def _create_builtin(
    node: Any,
    *,
    specs: list[SyncTopic],
    config: SyncConfig,
    callback: Callable[..., Any],
    callback_group: Any,
) -> SyncedSubscriptions:
    sync = ApproximateTimeSynchronizer(config, callback)
    clock = node.get_clock()
    warn_headerless = _HeaderlessWarning(node)

    def make_handler(index: int, topic: str) -> Callable[[Any], None]:
        def handle(msg: Any) -> None:
            now_ns = None
            if stamp_ns_of(msg) is None:
                if not config.allow_headerless:
                    warn_headerless(topic)
                else:
                    now_ns = clock.now().nanoseconds
            sync.add_message(index, msg, now_ns)

        return handle

    subscriptions = [
        node.create_subscription(
            spec.msg_type, spec.topic, make_handler(i, spec.topic), spec.qos, callback_group=callback_group
        )
        for i, spec in enumerate(specs)
    ]
    return SyncedSubscriptions(node, BACKEND_BUILTIN, subscriptions, sync.stats)


def _create_with_message_filters(
    node: Any,
    *,
    specs: list[SyncTopic],
    config: SyncConfig,
    slop_sec: float,
    callback: Callable[..., Any],
    callback_group: Any,
) -> SyncedSubscriptions:
    import message_filters  # optional dependency

    n = config.num_inputs
    received = [0] * n
    used = [0] * n
    emitted = [0]
    count_lock = threading.Lock()
    warn_headerless = _HeaderlessWarning(node)

    def count_received(msg: Any, index: int) -> None:
        if stamp_ns_of(msg) is None and not config.allow_headerless:
            warn_headerless(specs[index].topic)
        with count_lock:
            received[index] += 1

    filters = []
    for i, spec in enumerate(specs):
        sub = message_filters.Subscriber(
            node, spec.msg_type, spec.topic, qos_profile=spec.qos, callback_group=callback_group
        )
        # Registered before the synchroniser's own callback, so a message is counted before it can be used.
        sub.registerCallback(count_received, i)
        filters.append(sub)
    synchronizer = message_filters.ApproximateTimeSynchronizer(
        filters, config.queue_size, slop_sec, allow_headerless=config.allow_headerless
    )

    def on_synced(*msgs: Any) -> None:
        with count_lock:
            for i in range(n):
                used[i] += 1
            emitted[0] += 1
        callback(*msgs)

    synchronizer.registerCallback(on_synced)

    def stats() -> SyncStats:
        # message_filters keeps no drop counter: whatever was received and is neither used nor queued was
        # dropped (evicted, replaced or headerless), exactly what core/sync.py counts.
        with synchronizer.lock, count_lock:
            queued = tuple(len(q) for q in synchronizer.queues)
            return SyncStats(
                received=tuple(received),
                used=tuple(used),
                dropped=tuple(r - u - q for r, u, q in zip(received, used, queued, strict=True)),
                queued=queued,
                emitted_sets=emitted[0],
            )

    subscriptions = [f.sub for f in filters]
    return SyncedSubscriptions(node, BACKEND_MESSAGE_FILTERS, subscriptions, stats)


class ObservationSync:
    """What `create_observation_sync` returns: cameras synchronised among themselves, states matched at the
    camera set's stamp. `subscriptions` and the per-input counters of `stats()` are in input order (cameras,
    then the state topics)."""

    def __init__(
        self, node: Any, cameras: SyncedSubscriptions, states: list[Any], observations: ObservationSynchronizer
    ) -> None:
        self._node = node
        self._cameras = cameras
        self._states = states
        self._observations = observations
        self.backend = cameras.backend
        """The camera synchroniser's backend ('message_filters' or 'adp_ros'); states never use it."""

    @property
    def subscriptions(self) -> list[Any]:
        return [*self._cameras.subscriptions, *self._states]

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(sub.topic_name for sub in self.subscriptions)

    def stats(self) -> ObservationSyncStats:
        return ObservationSyncStats.combine(self.topics, self._cameras.stats(), self._observations.matcher.stats())

    def poll(self) -> None:
        """Settle camera sets whose wait for a state sample ran out (the node calls it from a timer)."""
        self._observations.poll(self._node.get_clock().now().nanoseconds)

    def destroy(self) -> None:
        self._cameras.destroy()
        for sub in self._states:
            self._node.destroy_subscription(sub)
        self._states = []
        self._observations.matcher.clear()


def create_observation_sync(
    node: Any,
    cameras: Sequence[SyncTopic | tuple[Any, ...]],
    states: Sequence[SyncTopic | tuple[Any, ...]],
    callback: Callable[..., Any],
    *,
    queue_size: int,
    slop_sec: float,
    state_tolerance_sec: float,
    state_wait_sec: float,
    state_history_sec: float,
    backend: str = "auto",
    callback_group: Any = None,
) -> ObservationSync:
    """`callback(*camera_msgs, *state_msgs)` for each camera set (approximate time among the cameras:
    `queue_size`, `slop_sec`, `backend`) with, per state topic, the message nearest to the set's stamp (the
    newest camera stamp) within `state_tolerance_sec`; a set newer than every sample of a state topic waits up
    to `state_wait_sec` of ROS time; `state_history_sec` of states are kept (at least the cameras' delay)."""
    for name, value in (
        ("state_tolerance_sec", state_tolerance_sec),
        ("state_wait_sec", state_wait_sec),
        ("state_history_sec", state_history_sec),
    ):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{name}={value!r} must be a finite number of seconds >= 0")
    state_specs = _normalise_topics(states) if states else []
    clock = node.get_clock()
    names = tuple(node.resolve_topic_name(spec.topic) for spec in state_specs)
    states_config = state_match_config(
        names,
        queue_size=queue_size,
        tolerance_sec=state_tolerance_sec,
        wait_sec=state_wait_sec,
        history_sec=state_history_sec,
    )
    # The cameras' own synchroniser is `create_approximate_sync`'s (either backend); its sets go in whole.
    observations = ObservationSynchronizer(None, states_config, callback)

    def on_cameras(*msgs: Any) -> None:
        observations.add_camera_set(msgs, clock.now().nanoseconds)

    synced = create_approximate_sync(
        node, cameras, queue_size, slop_sec, on_cameras, callback_group=callback_group, backend=backend
    )
    warn_headerless = _HeaderlessWarning(node)

    def make_handler(index: int, topic: str) -> Callable[[Any], None]:
        def handle(msg: Any) -> None:
            stamp = stamp_ns_of(msg)
            if stamp is None:
                warn_headerless(topic)
            observations.add_state(index, msg, clock.now().nanoseconds)

        return handle

    subscriptions = [
        node.create_subscription(
            spec.msg_type, spec.topic, make_handler(i, spec.topic), spec.qos, callback_group=callback_group
        )
        for i, spec in enumerate(state_specs)
    ]
    return ObservationSync(node, synced, subscriptions, observations)
