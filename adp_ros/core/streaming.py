"""Streaming action chunks one control period at a time, for controllers that take one command per period
(MoveIt Servo's twists, Cartesian pose controllers, a gripper controller). numpy only; no clock reads: callers
pass ROS time.

Actions are end-effector deltas in the base frame, laid out as LIBERO / robosuite OSC_POSE: columns 0-2 the
translation (× `translation_scale` metres), 3-5 the axis-angle rotation (× `rotation_scale` radians), 6 the
gripper (policy units; absent in 6-dimensional actions).

Timing, the same as the trajectory outputs: a chunk that starts executing at `start_ns` has step k current on
[start + k·dt, start + (k+1)·dt), so step k ends where the trajectory's point k (time_from_start (k+1)·dt) is.
Per step the stream gives
- a twist: the step's delta over dt (m/s, rad/s);
- a pose target: the measured end-effector pose at the chunk's observation with steps 0..k applied, i.e. where
  the arm should be at the end of step k (robosuite's convention: position + Δp, orientation R(Δr) · R);
- the gripper value of the step.
After the last step the chunk *holds*: a zero twist, the last pose target, the last gripper value, until the next
chunk starts.

Hand-over (`ChunkStream.add`, the one place it is defined): a chunk that starts at t_s replaces, from t_s on,
whatever was scheduled. Chunks that start at or after t_s are dropped; an earlier one stays current until t_s
and its later steps are never sent. A chunk whose start is already past (trajectory_start = observation) begins
at the step current now: the steps in the past are skipped, as a joint_trajectory_controller skips past points.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.core.rotations import axis_angle_to_quat, check_unit_quat, quat_multiply

TRANSLATION = slice(0, 3)
ROTATION = slice(3, 6)
GRIPPER = 6
POSE_SIZE = 7
"""A pose as x y z qx qy qz qw (position in metres, unit quaternion)."""


# ---------------------------------------------------------------------------------------------- gripper


@dataclass(frozen=True)
class GripperMapping:
    """Policy gripper value → joint position: linear from (open_value → open_position) to
    (closed_value → closed_position), clipped to that range. LIBERO checkpoints: 1 open, 0 closed (their
    datasets' convention); a Panda finger joint is 0.04 m open and 0 closed."""

    open_value: float = 1.0
    closed_value: float = 0.0
    open_position: float = 0.04
    closed_position: float = 0.0

    def __post_init__(self) -> None:
        values = (self.open_value, self.closed_value, self.open_position, self.closed_position)
        if not all(math.isfinite(v) for v in values):
            raise ConfigError(f"gripper mapping {values} has NaN or inf")
        if self.open_value == self.closed_value:
            raise ConfigError(
                f"gripper mapping: open_value = closed_value = {self.open_value}; give the policy's open and "
                "closed values (LIBERO: -1 and 1)"
            )

    def position(self, value: float) -> float:
        fraction = (float(value) - self.open_value) / (self.closed_value - self.open_value)
        fraction = min(1.0, max(0.0, fraction))
        return self.open_position + fraction * (self.closed_position - self.open_position)


# ------------------------------------------------------------------------------------------------ chunk


@dataclass(frozen=True, eq=False)
class StreamChunk:
    """One chunk prepared for streaming: per-step twists, pose targets and gripper values."""

    start_ns: int
    """ROS time at which step 0 starts (the trajectory's start: publish time, or the observation stamp)."""
    dt_ns: int
    linear: np.ndarray
    """(steps, 3) m/s."""
    angular: np.ndarray
    """(steps, 3) rad/s, the axis-angle delta over dt."""
    positions: np.ndarray | None
    """(steps, 3) pose target positions, None without a measured pose."""
    orientations: np.ndarray | None
    """(steps, 4) pose target quaternions (x, y, z, w), None without a measured pose."""
    gripper: np.ndarray | None
    """(steps,) policy units, None for 6-dimensional actions."""

    @classmethod
    def from_actions(
        cls,
        actions: Any,
        *,
        start_ns: int,
        dt_ns: int,
        translation_scale: float,
        rotation_scale: float,
        base_pose: Any = None,
    ) -> StreamChunk:
        """`actions` (steps, >= 6) in policy units; `base_pose` the measured x y z qx qy qz qw at the chunk's
        observation (None: no pose targets)."""
        arr = np.asarray(actions, dtype=np.float64)
        if arr.ndim != 2:
            raise InputError(f"action chunk shape {arr.shape} is not (steps, action_dim)")
        if arr.shape[1] < 6:
            raise InputError(f"streaming needs >= 6 action dims (xyz + axis-angle), got {arr.shape[1]}")
        if arr.shape[0] == 0:
            raise InputError("action chunk has no steps")
        if not np.isfinite(arr).all():
            raise InputError("action chunk holds NaN or inf")
        if dt_ns <= 0:
            raise InputError(f"control period {dt_ns} ns is not positive")
        dt = dt_ns / 1e9
        translation = arr[:, TRANSLATION] * translation_scale
        rotation = arr[:, ROTATION] * rotation_scale
        positions = orientations = None
        if base_pose is not None:
            positions, orientations = _integrate(_check_pose(base_pose), translation, rotation)
        return cls(
            start_ns=int(start_ns),
            dt_ns=int(dt_ns),
            linear=translation / dt,
            angular=rotation / dt,
            positions=positions,
            orientations=orientations,
            gripper=arr[:, GRIPPER].copy() if arr.shape[1] > GRIPPER else None,
        )

    @property
    def steps(self) -> int:
        return int(self.linear.shape[0])

    @property
    def end_ns(self) -> int:
        """When its last step ends (the hold begins)."""
        return self.start_ns + self.steps * self.dt_ns


def _check_pose(pose: Any) -> np.ndarray:
    p = np.asarray(pose, dtype=np.float64)
    if p.shape != (POSE_SIZE,):
        raise InputError(f"measured pose has shape {p.shape}; expected x y z qx qy qz qw")
    if not np.isfinite(p).all():
        raise InputError(f"measured pose {p.tolist()} has NaN or inf")
    q = check_unit_quat(p[3:], "measured orientation")
    return np.concatenate([p[:3], q / np.linalg.norm(q)])


def _integrate(base: np.ndarray, translation: np.ndarray, rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    positions = base[:3] + np.cumsum(translation, axis=0)
    orientations = np.empty((translation.shape[0], 4))
    q = base[3:]
    for k, rotvec in enumerate(rotation):
        q = quat_multiply(axis_angle_to_quat(rotvec), q)  # the delta rotates in the base frame
        q = q / np.linalg.norm(q)
        orientations[k] = q
    return positions, orientations


# ---------------------------------------------------------------------------------------------- stream


@dataclass(frozen=True, eq=False)
class StreamCommand:
    """What to send at one control tick."""

    chunk_start_ns: int
    step: int
    """Index of the current step; == the chunk's steps while holding."""
    holding: bool
    """The chunk ran out: zero twist, last pose target, last gripper value."""
    linear: np.ndarray
    angular: np.ndarray
    position: np.ndarray | None
    orientation: np.ndarray | None
    gripper: float | None
    """Policy units."""
    commanded: bool
    """The chunk was published while commands were enabled, and they were not disabled since."""


@dataclass
class _Entry:
    chunk: StreamChunk
    commanded: bool


class ChunkStream:
    """The published chunks in execution order; `at(t)` says what is current at ROS time t. Thread-safe (the
    worker adds chunks, a timer reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def add(self, chunk: StreamChunk, *, commanded: bool) -> None:
        """Hand-over: `chunk` replaces everything scheduled from its start on (see the module docstring).
        `commanded`: whether it was sent to the arm (commands enabled when it was published)."""
        with self._lock:
            self._entries = [e for e in self._entries if e.chunk.start_ns < chunk.start_ns]
            self._entries.append(_Entry(chunk, bool(commanded)))

    def revoke(self) -> None:
        """Commands were disabled: the chunks added so far are never commanded again (still previewed)."""
        with self._lock:
            for entry in self._entries:
                entry.commanded = False

    def clear(self) -> None:
        with self._lock:
            self._entries = []

    def at(self, now_ns: int) -> StreamCommand | None:
        """The command current at `now_ns`; None before the first chunk starts. Forgets chunks replaced by then."""
        with self._lock:
            current = None
            for i, entry in enumerate(self._entries):
                if entry.chunk.start_ns <= now_ns:
                    current = i
            if current is None:
                return None
            del self._entries[:current]
            entry = self._entries[0]
        c = entry.chunk
        step = (int(now_ns) - c.start_ns) // c.dt_ns
        holding = step >= c.steps
        k = c.steps - 1 if holding else step
        zero = np.zeros(3)
        return StreamCommand(
            chunk_start_ns=c.start_ns,
            step=c.steps if holding else step,
            holding=holding,
            linear=zero if holding else c.linear[k],
            angular=zero if holding else c.angular[k],
            position=None if c.positions is None else c.positions[k],
            orientation=None if c.orientations is None else c.orientations[k],
            gripper=None if c.gripper is None else float(c.gripper[k]),
            commanded=entry.commanded,
        )
