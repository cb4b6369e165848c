"""When the next chunk is requested (`control.mode`), in ROS time, with back-off after failed requests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

ControlMode = Literal["chunk_end", "fixed_rate", "on_observation"]
CONTROL_MODES: tuple[str, ...] = get_args(ControlMode)
"""`control.mode` choices (the parameter schema takes them from here)."""


@dataclass(frozen=True)
class ScheduleConfig:
    mode: ControlMode
    query_period_ns: int
    dt_ns: int
    execute_steps: int
    lead_steps: int

    @classmethod
    def from_control(cls, control: Any) -> ScheduleConfig:
        """From `params.ControlSettings`."""
        return cls(
            mode=control.mode,
            query_period_ns=control.query_period_ns,
            dt_ns=control.dt_ns,
            execute_steps=control.execute_steps,
            lead_steps=control.lead_steps,
        )


class ChunkScheduler:
    """When to request the next chunk. `fixed_rate`: every query period. `chunk_end`: when at most `lead_steps`
    steps of the current chunk remain (its execution starts at `published(start_ns)`), one request at a time.
    `on_observation`: whenever an observation waits, one request at a time; time plays no part, so a lockstep
    simulator that stops its clock until the chunk arrives can never deadlock.

    Back-off: after a request that produced no chunk (`failed`: stale, refused, model error, ...) the next one
    waits the spacing a published chunk would have bought, `retry_period_ns` after the failed request. A
    policy that keeps failing then costs no more inference than a working one; retrying on every frame cost
    ~150 inferences in 6 s instead of 6 (issue 12). `on_observation` retries on the next observation.
    """

    def __init__(self, config: ScheduleConfig) -> None:
        self.config = config
        self.attempts = 0
        """Requests since construction (each one an inference, unless the input was rejected first)."""
        self.failed_attempts = 0
        self.consecutive_failures = 0
        """Failed requests since the last published chunk."""
        self.reset()

    def reset(self) -> None:
        self._last_request_ns: int | None = None
        self._chunk_start_ns: int | None = None
        self._retry_ns: int | None = None
        self._pending = False

    def reconfigure(self, config: ScheduleConfig) -> None:
        self.config = config

    @property
    def retry_period_ns(self) -> int:
        """Least ROS time from a failed request to the next: the spacing of requests while chunks succeed."""
        cfg = self.config
        if cfg.mode == "on_observation":
            return 0
        if cfg.mode == "fixed_rate":
            return cfg.query_period_ns
        return max(1, cfg.execute_steps - cfg.lead_steps) * cfg.dt_ns

    def request_time_ns(self) -> int | None:
        """ROS time at which the next request becomes due (None: due now / as soon as possible)."""
        at = self._schedule_time_ns()
        if self._retry_ns is not None and self.config.mode != "on_observation":
            at = self._retry_ns if at is None else max(at, self._retry_ns)
        return at

    def _schedule_time_ns(self) -> int | None:
        cfg = self.config
        if cfg.mode == "on_observation":
            return None
        if cfg.mode == "fixed_rate":
            return None if self._last_request_ns is None else self._last_request_ns + cfg.query_period_ns
        if self._chunk_start_ns is None:
            return None
        return self._chunk_start_ns + max(0, cfg.execute_steps - cfg.lead_steps) * cfg.dt_ns

    def due(self, now_ns: int) -> bool:
        if self._last_request_ns is not None and now_ns < self._last_request_ns:
            self.reset()  # time went backwards (bag loop, clock reset): start over
        if self.config.mode != "fixed_rate" and self._pending:
            return False
        at = self.request_time_ns()
        return at is None or now_ns >= at

    def requested(self, now_ns: int) -> None:
        self._last_request_ns = int(now_ns)
        self._pending = True
        self.attempts += 1

    def published(self, start_ns: int) -> None:
        """The requested chunk went out; its first step executes at `start_ns` + dt."""
        self._chunk_start_ns = int(start_ns)
        self._retry_ns = None
        self._pending = False
        self.consecutive_failures = 0

    def retry_now(self) -> None:
        """Drop the back-off: something changed (a live parameter, the instruction) that may make it work."""
        self._retry_ns = None

    def failed(self) -> None:
        """The request produced no chunk (stale, bad input, refused, error): retry after `retry_period_ns`."""
        self._pending = False
        self.failed_attempts += 1
        self.consecutive_failures += 1
        if self._last_request_ns is not None:
            self._retry_ns = self._last_request_ns + self.retry_period_ns


def seconds_until(target_ns: int | None, now_ns: int, cap_sec: float) -> float:
    """Wall seconds to wait for a ROS-time target (assumes real-time rate; capped so sim time is polled)."""
    if target_ns is None:
        return cap_sec
    return min(cap_sec, max(0.0, (target_ns - now_ns) / 1e9))
