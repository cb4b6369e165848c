"""Motion sources: what the gate measures, and how a window of samples becomes one displacement.

The reference gate measures the simulator's end-effector xyz in metres (`robot0_eef_pos`). A real robot may
not publish that pose, so three sources feed the same gate:

- a measured end-effector position (metres, `motion.source: eef_pose`): pushed into the gate as is and measured
  with `EEF_METRIC`. The reference signal.
- `IntegratedDeltaSource`: delta-EE policies without a pose topic. The executed actions' translation deltas
  are integrated into a position. Policy deltas are controller units, not metres: `scale_m_per_unit` converts
  them (robosuite OSC_POSE, hence LIBERO, maps ±1 to ±0.05 m per control step). A commanded delta is what the
  policy *asked* for; the arm may move less, so this over-reads motion when the arm is blocked.
- `JointPositionSource`: joint-position policies (ALOHA: two 6-joint arms). Units are radians; grippers are
  left out by default because their travel is in metres (prismatic fingers) and a gripper closing is exactly
  the fine phase that must not look like coarse motion.

Two or more arms: each arm's displacement is computed on its own (net or path length over that arm's joints),
then the arms are combined, by default with `max`. Reasons: (1) the gate is scale-free, so the combined value
should have the scale of one arm whether one or both move — `sum` doubles it when both move and halves the
weight of a lone moving arm relative to two; (2) with `max`, a standstill deadband reads "no arm moved more
than X", the only reading that is safe for a per-arm threshold; (3) an idle arm does not dilute a moving one.
`sum` (total work) and `l2` (Euclidean norm of the per-arm values, equal to the plain joint-space norm for net
displacement) are available. Caveat of `max`: one arm moving coarsely while the other does fine work reads as
coarse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from adp_ros.core.errors import ConfigError, InputError

Combine = Literal["max", "sum", "l2"]
COMBINE_METHODS: tuple[str, ...] = get_args(Combine)
Unit = Literal["m", "rad"]
UNITS: tuple[str, ...] = get_args(Unit)

# Revolute arm joints of the ALOHA (Interbotix ViperX 300 S) arms, as on /puppet_{left,right}/joint_states.
# Fingers (prismatic, metres) are excluded on purpose (module docstring).
ALOHA_ARM_JOINTS: tuple[str, ...] = (
    "waist",
    "shoulder",
    "elbow",
    "forearm_roll",
    "wrist_angle",
    "wrist_rotate",
)

# robosuite OSC_POSE default `output_max` for position: an action of 1.0 asks for 0.05 m in one control step.
LIBERO_DELTA_SCALE_M_PER_UNIT = 0.05


@dataclass(frozen=True)
class DisplacementMetric:
    """How a window of position samples `(N, dim)` becomes one displacement.

    The vector is split into consecutive groups (one per arm; a single group for an end effector). Each
    group's displacement is measured on its own, then the groups are combined. With one group the arithmetic
    is exactly the reference's `_compute_window_delta` (same numpy calls, so results agree bit for bit).
    """

    group_sizes: tuple[int, ...] = (3,)
    combine: Combine = "max"
    unit: Unit = "m"
    group_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.group_sizes or any(
            isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in self.group_sizes
        ):
            raise ConfigError(
                f"group_sizes={self.group_sizes!r} must be a non-empty tuple of integers >= 1 "
                "(number of coordinates per arm, e.g. (3,) for xyz or (6, 6) for two 6-joint arms)"
            )
        if self.combine not in COMBINE_METHODS:
            raise ConfigError(f"combine={self.combine!r} not in {COMBINE_METHODS}; 'max' is the safe choice")
        if self.unit not in UNITS:
            raise ConfigError(f"unit={self.unit!r} not in {UNITS!r}")
        if self.group_names and len(self.group_names) != len(self.group_sizes):
            raise ConfigError(f"group_names {self.group_names} must match group_sizes {self.group_sizes}")

    @property
    def dim(self) -> int:
        return sum(self.group_sizes)

    def _bounds(self) -> list[tuple[int, int]]:
        out, start = [], 0
        for n in self.group_sizes:
            out.append((start, start + n))
            start += n
        return out

    def _combine(self, per_group: list[float]) -> float:
        if len(per_group) == 1:
            return per_group[0]
        if self.combine == "max":
            return max(per_group)
        if self.combine == "sum":
            return float(sum(per_group))
        return float(np.sqrt(np.sum(np.square(per_group))))

    def per_group_net(self, positions: NDArray[np.float64]) -> list[float]:
        if positions.shape[0] <= 1:
            return [0.0] * len(self.group_sizes)
        dp = positions[-1] - positions[0]
        return [float(np.linalg.norm(dp[a:b])) for a, b in self._bounds()]

    def per_group_path_length(self, positions: NDArray[np.float64], min_step: float = 0.0) -> list[float]:
        if positions.shape[0] <= 1:
            return [0.0] * len(self.group_sizes)
        steps = positions[1:] - positions[:-1]
        out = []
        for a, b in self._bounds():
            step = np.linalg.norm(steps[:, a:b], axis=1)
            # Steps below `min_step` are sensor noise or creep; the reference zeroes them the same way.
            step = np.where(step < min_step, 0.0, step)
            out.append(float(np.sum(step)))
        return out

    def net(self, positions: NDArray[np.float64]) -> float:
        """‖last − first‖ per group, combined. Fewer than two samples give 0.0, as in the reference."""
        return self._combine(self.per_group_net(positions))

    def path_length(self, positions: NDArray[np.float64], min_step: float = 0.0) -> float:
        """Σ‖p_i − p_{i−1}‖ per group (steps below `min_step` count as 0), combined."""
        return self._combine(self.per_group_path_length(positions, min_step))


EEF_METRIC = DisplacementMetric(group_sizes=(3,), combine="max", unit="m", group_names=("eef",))


class IntegratedDeltaSource:
    """Integrates the translation part of executed delta-EE actions into a position in metres.

    Feed it every action that is actually sent to the robot, one per control step; the origin is arbitrary
    (the gate only uses differences). Observe `position` once before the first chunk so the first window has a
    start.
    """

    metric = EEF_METRIC
    unit: Unit = "m"

    def __init__(
        self,
        scale_m_per_unit: float = LIBERO_DELTA_SCALE_M_PER_UNIT,
        translation_indices: Sequence[int] = (0, 1, 2),
    ) -> None:
        scale = float(scale_m_per_unit)
        if not np.isfinite(scale) or not 0.0 < scale <= 10.0:
            raise ConfigError(
                f"scale_m_per_unit={scale_m_per_unit!r} outside (0, 10]; it converts one policy action unit "
                f"to metres per step (LIBERO/robosuite OSC_POSE: {LIBERO_DELTA_SCALE_M_PER_UNIT})"
            )
        idx = tuple(int(i) for i in translation_indices)
        if len(idx) != 3 or len(set(idx)) != 3 or min(idx) < 0:
            raise ConfigError(
                f"translation_indices={tuple(translation_indices)!r} must be 3 distinct non-negative indices "
                "of (dx, dy, dz) in the action vector, e.g. (0, 1, 2) for OpenVLA-OFT"
            )
        self.scale_m_per_unit = scale
        self.translation_indices = idx
        self._index = np.asarray(idx, dtype=np.intp)
        self._position = np.zeros(3, dtype=np.float64)

    @property
    def position(self) -> NDArray[np.float64]:
        return self._position.copy()

    def reset(self) -> None:
        self._position = np.zeros(3, dtype=np.float64)

    def step(self, action: ArrayLike) -> NDArray[np.float64]:
        """Add one executed action; returns the integrated position after it."""
        arr = np.asarray(action, dtype=np.float64).reshape(-1)
        if arr.shape[0] <= int(self._index.max()):
            raise InputError(
                f"action has {arr.shape[0]} values; translation_indices {self.translation_indices} need "
                f"at least {int(self._index.max()) + 1}"
            )
        delta = arr[self._index]
        if not np.isfinite(delta).all():
            raise InputError(f"action translation {delta.tolist()} has NaN or inf; not integrated")
        self._position = self._position + self.scale_m_per_unit * delta
        return self._position.copy()

    def steps(self, actions: ArrayLike) -> NDArray[np.float64]:
        """Integrate a chunk `(n, action_dim)`; returns the `(n, 3)` positions after each step."""
        arr = np.asarray(actions, dtype=np.float64)
        if arr.ndim != 2:
            raise InputError(f"actions shape {arr.shape}: expected (steps, action_dim)")
        return np.stack([self.step(a) for a in arr]) if arr.shape[0] else np.zeros((0, 3))


@dataclass(frozen=True)
class ArmJoints:
    """One arm: the joints (by name) that measure its motion, with optional per-joint weights.

    Weights let a joint count more or less (e.g. down-weight a wrist roll that moves a lot in radians but
    little in Cartesian space); weight 1 everywhere is a plain joint-space norm in radians.
    """

    name: str
    joint_names: tuple[str, ...]
    weights: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.joint_names or len(set(self.joint_names)) != len(self.joint_names):
            raise ConfigError(f"arm {self.name!r}: joint_names {self.joint_names!r} must be non-empty and unique")
        if self.weights and (
            len(self.weights) != len(self.joint_names) or not all(np.isfinite(w) and w >= 0 for w in self.weights)
        ):
            raise ConfigError(
                f"arm {self.name!r}: weights {self.weights!r} must be {len(self.joint_names)} finite values "
                ">= 0 (one per joint) or empty for all ones"
            )


class JointPositionSource:
    """Joint states of one or more arms → one position vector (radians), with a per-arm metric.

    Arms may arrive on one topic (distinct joint names, e.g. `left_waist`) or on one topic each with
    identical names (ALOHA's `/puppet_left/joint_states`, `/puppet_right/joint_states`): then pass `arm=`.
    Each arm keeps its latest reading (sample-and-hold); no vector is produced until every arm has reported.
    """

    unit: Unit = "rad"

    def __init__(self, arms: Sequence[ArmJoints], combine: Combine = "max") -> None:
        arms = tuple(arms)
        if not arms:
            raise ConfigError("JointPositionSource needs at least one arm")
        names = [a.name for a in arms]
        if len(set(names)) != len(names):
            raise ConfigError(f"arm names {names} must be unique")
        self.arms = arms
        self.metric = DisplacementMetric(
            group_sizes=tuple(len(a.joint_names) for a in arms),
            combine=combine,
            unit="rad",
            group_names=tuple(names),
        )
        self._weights = [
            np.asarray(a.weights, dtype=np.float64) if a.weights else np.ones(len(a.joint_names)) for a in arms
        ]
        self._latest: list[NDArray[np.float64] | None] = [None] * len(arms)
        self._index_cache: dict[tuple[int, tuple[str, ...]], NDArray[np.intp] | None] = {}

    @classmethod
    def aloha(cls, combine: Combine = "max") -> JointPositionSource:
        """Two ViperX arms on separate topics with the same joint names: call `update(..., arm="left")`."""
        return cls(
            (ArmJoints("left", ALOHA_ARM_JOINTS), ArmJoints("right", ALOHA_ARM_JOINTS)),
            combine=combine,
        )

    def reset(self) -> None:
        self._latest = [None] * len(self.arms)

    def _indices(self, arm_i: int, names: tuple[str, ...]) -> NDArray[np.intp] | None:
        key = (arm_i, names)
        if key not in self._index_cache:
            lookup = {n: i for i, n in enumerate(names)}
            wanted = self.arms[arm_i].joint_names
            self._index_cache[key] = (
                np.asarray([lookup[n] for n in wanted], dtype=np.intp) if all(n in lookup for n in wanted) else None
            )
            if len(self._index_cache) > 64:  # a misbehaving publisher must not grow this without bound
                self._index_cache.pop(next(iter(self._index_cache)))
        return self._index_cache[key]

    def update(
        self, names: Sequence[str], positions: ArrayLike, *, arm: str | None = None
    ) -> NDArray[np.float64] | None:
        """Take one JointState; returns the combined vector once every arm has reported, else None."""
        names_t = tuple(names)
        pos = np.asarray(positions, dtype=np.float64).reshape(-1)
        if pos.shape[0] != len(names_t):
            raise InputError(f"joint state has {len(names_t)} names but {pos.shape[0]} positions")
        if arm is None:
            targets = range(len(self.arms))
        else:
            try:
                targets = [next(i for i, a in enumerate(self.arms) if a.name == arm)]
            except StopIteration:
                raise InputError(f"unknown arm {arm!r}; arms are {[a.name for a in self.arms]}") from None
        updated = False
        for i in targets:
            idx = self._indices(i, names_t)
            if idx is None:
                if arm is not None:
                    missing = [n for n in self.arms[i].joint_names if n not in names_t]
                    raise InputError(f"arm {arm!r}: joint state lacks joints {missing}; got {list(names_t)}")
                continue
            q = pos[idx]
            if not np.isfinite(q).all():
                raise InputError(f"arm {self.arms[i].name!r}: joint positions {q.tolist()} have NaN or inf")
            self._latest[i] = q * self._weights[i]
            updated = True
        if not updated:
            wanted = {a.name: list(a.joint_names) for a in self.arms}
            raise InputError(f"joint state names {list(names_t)} contain no complete arm; expected one of {wanted}")
        if any(v is None for v in self._latest):
            return None
        return np.concatenate(self._latest)  # type: ignore[arg-type]


class PredictedDeltaMotion:
    """Published delta-EE chunks → stamped positions for the gate (`gate.motion_source = predicted_delta`).

    Step k of a chunk that starts executing at t0 counts as done at t0 + (k+1)·dt; when the next chunk starts,
    the steps of the previous one that lie after its start are dropped (the arm never executes them).
    Positions are integrated translation deltas in metres (`IntegratedDeltaSource` scale and indices).
    """

    def __init__(self, source: IntegratedDeltaSource) -> None:
        self.source = source
        self._position = np.zeros(3)
        self._pending: list[tuple[int, np.ndarray]] = []
        self._last_stamp: int | None = None

    @property
    def metric(self) -> DisplacementMetric:
        return self.source.metric

    def reset(self) -> None:
        self._position = np.zeros(3)
        self._pending = []
        self._last_stamp = None

    def due_samples(self, up_to_ns: int) -> list[tuple[int, np.ndarray]]:
        """Samples executed by `up_to_ns`, oldest first (each returned once)."""
        out = [(s, p) for s, p in self._pending if s <= up_to_ns]
        self._pending = [(s, p) for s, p in self._pending if s > up_to_ns]
        if out:
            self._position = out[-1][1]
            self._last_stamp = out[-1][0]
        return out

    def start_chunk(self, start_ns: int, dt_ns: int, actions: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """A chunk starts executing at `start_ns`; returns the samples that became final (to observe now)."""
        final = self.due_samples(start_ns)
        self._pending = []  # the rest of the previous chunk is superseded
        if self._last_stamp is None or self._last_stamp < start_ns:
            final.append((int(start_ns), self._position.copy()))
            self._last_stamp = int(start_ns)
        idx = np.asarray(self.source.translation_indices)
        deltas = np.asarray(actions, dtype=np.float64)[:, idx] * self.source.scale_m_per_unit
        positions = self._position + np.cumsum(deltas, axis=0)
        self._pending = [(int(start_ns + (k + 1) * dt_ns), positions[k]) for k in range(positions.shape[0])]
        return final
