"""The synthetic robot's task (`bag synth`): arm kinematics and a deterministic pick-and-place trajectory.

Coarse reach, slow fine approach, standstill grasp (the gripper closes), coarse transport, fine place (the
gripper opens), so an action-aware gate has fast, slow and still segments to decide on. Joint positions follow
the end effector through an approximate inverse kinematics (Franka Panda for libero, Interbotix vx300s for aloha).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PHASES: tuple[tuple[str, float, str], ...] = (
    ("reach", 0.22, "coarse"),
    ("approach", 0.20, "fine"),
    ("grasp", 0.13, "standstill"),
    ("transport", 0.25, "coarse"),
    ("place", 0.20, "fine"),
)
"""(name, fraction of the duration, kind). Kinds: coarse = fast, fine = slow, standstill = still."""

_GRIP_CLOSE_FRACTION = 0.6  # of the grasp phase: fingers closed, block attached
_PLACE_DESCEND_FRACTION = 0.7  # of the place phase: lowering, then holding still
_PLACE_RELEASE_FRACTION = 0.75  # of the place phase: the gripper starts opening


def _min_jerk(s: float) -> float:
    s = min(max(s, 0.0), 1.0)
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


def _planar_ik(reach: float, height: float, l1: float, l2: float) -> tuple[float, float]:
    """Elbow-up two-link IK: (upper-arm angle from vertical, elbow interior angle)."""
    d = min(max(math.hypot(reach, height), abs(l1 - l2) + 1e-3), l1 + l2 - 1e-3)
    gamma = math.acos((l1 * l1 + l2 * l2 - d * d) / (2 * l1 * l2))
    beta = math.acos((l1 * l1 + d * d - l2 * l2) / (2 * l1 * d))
    return math.pi / 2 - (math.atan2(height, reach) + beta), gamma


@dataclass(frozen=True)
class Arm:
    """An arm's kinematic sketch: enough for plausible, smooth joint angles and a drawing."""

    kind: str  # "panda" | "vx300"
    prefix: str  # joint-name prefix: "" (Franka) or "left_" / "right_" (ALOHA)
    base: tuple[float, float, float]
    base_yaw: float
    shoulder_z: float
    l1: float
    l2: float
    hand: float  # wrist centre above the fingertips when the hand points down
    finger_max: float  # finger opening per side (m)

    @property
    def joint_names(self) -> tuple[str, ...]:
        if self.kind == "panda":
            return (*(f"panda_joint{i}" for i in range(1, 8)), "panda_finger_joint1", "panda_finger_joint2")
        names = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")
        return tuple(self.prefix + n for n in names)

    @property
    def base_frame(self) -> str:
        return "panda_link0" if self.kind == "panda" else f"{self.prefix}base_link"

    def to_local(self, point: np.ndarray) -> np.ndarray:
        c, s = math.cos(self.base_yaw), math.sin(self.base_yaw)
        dx, dy = point[0] - self.base[0], point[1] - self.base[1]
        return np.array([c * dx + s * dy, -s * dx + c * dy, point[2] - self.base[2]])

    def to_world(self, local: np.ndarray) -> np.ndarray:
        c, s = math.cos(self.base_yaw), math.sin(self.base_yaw)
        x, y = self.base[0] + c * local[0] - s * local[1], self.base[1] + s * local[0] + c * local[1]
        return np.array([x, y, local[2] + self.base[2]])

    def _solve(self, tip_world: np.ndarray) -> tuple[float, float, float, np.ndarray]:
        local = self.to_local(tip_world)
        waist = math.atan2(local[1], local[0])
        reach = math.hypot(local[0], local[1])
        theta1, gamma = _planar_ik(reach, local[2] + self.hand - self.shoulder_z, self.l1, self.l2)
        return waist, theta1, gamma, local

    def joints(self, tip_world: np.ndarray, yaw_world: float, grip: float) -> np.ndarray:
        """Joint positions for the fingertip centre at `tip_world`, hand pointing down; grip 1 = open."""
        waist, theta1, gamma, _ = self._solve(tip_world)
        yaw_local = yaw_world - self.base_yaw
        if self.kind == "panda":
            # Franka: the hand points down with q6 = q2 - q4; q7 = yaw - q1 + pi/4 aligns the fingers.
            q4 = -(math.pi - gamma)
            finger = self.finger_max * grip
            return np.array([waist, theta1, 0.0, q4, 0.0, theta1 - q4, yaw_local - waist + math.pi / 4, finger, finger])
        # Interbotix vx300s: elbow 0 = forearm horizontal under a vertical upper arm. The gripper is in motor
        # radians like the ALOHA puppets' (1.4910 open, -0.6213 closed).
        theta2 = theta1 + (math.pi - gamma)  # forearm angle from vertical
        gripper = -0.6213 + (1.4910 + 0.6213) * grip
        return np.array([waist, theta1, math.pi / 2 - gamma, 0.0, math.pi - theta2, yaw_local - waist, gripper])

    def link_points(self, tip_world: np.ndarray) -> list[np.ndarray]:
        """World points base, shoulder, elbow, wrist centre, fingertips: the arm drawn as a polyline."""
        waist, theta1, _, local = self._solve(tip_world)
        direction = np.array([math.cos(waist), math.sin(waist), 0.0])
        shoulder = np.array([0.0, 0.0, self.shoulder_z])
        elbow = shoulder + self.l1 * (math.sin(theta1) * direction + np.array([0.0, 0.0, math.cos(theta1)]))
        wrist = local + np.array([0.0, 0.0, self.hand])
        return [self.to_world(p) for p in (np.zeros(3), shoulder, elbow, wrist, local)]


@dataclass(frozen=True)
class ArmState:
    tip: np.ndarray  # fingertip centre, world frame
    yaw: float  # hand yaw, world frame
    grip: float  # 1 open ... 0 closed
    block: np.ndarray  # block centre, world frame
    block_yaw: float
    holding: bool


class Task:
    """One arm's pick-and-place: waypoints in the world frame, evaluated at task time tau in [0, 1]."""

    def __init__(
        self,
        arm: Arm,
        rng: np.random.Generator,
        block_xy: tuple[float, float],
        plate_xy: tuple[float, float],
        colour: tuple[int, int, int],
    ) -> None:
        self.arm = arm
        self.colour = colour
        self.size = 0.05 if arm.kind == "panda" else 0.04
        jitter = rng.uniform(-0.03, 0.03, size=4)
        self.block_start = np.array([block_xy[0] + jitter[0], block_xy[1] + jitter[1], self.size / 2])
        self.plate = np.array([plate_xy[0] + jitter[2], plate_xy[1] + jitter[3], 0.0])
        self.plate_radius = 0.06
        home_local = np.array([0.30, 0.0, 0.40]) if arm.kind == "panda" else np.array([0.25, 0.0, 0.30])
        self.home = arm.to_world(home_local)
        self.grasp = self.block_start.copy()
        self.pregrasp = self.grasp + np.array([0.0, 0.0, 0.06])
        self.place = np.array([self.plate[0], self.plate[1], self.size / 2 + 0.012])
        self.preplace = self.place + np.array([0.0, 0.0, 0.06])
        self.block_yaw0 = arm.base_yaw + float(rng.uniform(-0.5, 0.5))
        self.yaw_home = arm.base_yaw
        self.yaw_place = arm.base_yaw + float(rng.uniform(-0.4, 0.4))
        self.grip_closed = 0.5 * self.size / arm.finger_max if arm.kind == "panda" else 0.45
        self.tremor_freq = rng.uniform(1.5, 4.5, size=3)
        self.tremor_phase = rng.uniform(0, 2 * math.pi, size=3)
        self.transport_lift = 0.08
        bounds = np.cumsum([0.0] + [f for _, f, _ in PHASES])
        self.bounds = bounds / bounds[-1]

    def _phase(self, tau: float) -> tuple[str, float]:
        tau = min(max(tau, 0.0), 1.0)
        index = min(int(np.searchsorted(self.bounds, tau, side="right")) - 1, len(PHASES) - 1)
        start, end = self.bounds[index], self.bounds[index + 1]
        return PHASES[index][0], (tau - start) / (end - start)

    def state(self, tau: float, t_sec: float) -> ArmState:
        name, s = self._phase(tau)
        closed = self.grip_closed
        released = False
        if name == "reach":
            m = _min_jerk(s)
            tip = self.home + (self.pregrasp - self.home) * m
            yaw = self.yaw_home + (self.block_yaw0 - self.yaw_home) * m
            grip, attached = 1.0, False
        elif name == "approach":
            tip = self.pregrasp + (self.grasp - self.pregrasp) * _min_jerk(s)
            yaw, grip, attached = self.block_yaw0, 1.0, False
        elif name == "grasp":
            tip, yaw = self.grasp.copy(), self.block_yaw0
            grip = 1.0 - (1.0 - closed) * _min_jerk(s / _GRIP_CLOSE_FRACTION)
            attached = s >= _GRIP_CLOSE_FRACTION
        elif name == "transport":
            m = _min_jerk(s)
            tip = self.grasp + (self.preplace - self.grasp) * m
            tip[2] += self.transport_lift * math.sin(math.pi * m)
            yaw = self.block_yaw0 + (self.yaw_place - self.block_yaw0) * m
            grip, attached = closed, True
        else:  # place
            tip = self.preplace + (self.place - self.preplace) * _min_jerk(s / _PLACE_DESCEND_FRACTION)
            yaw = self.yaw_place
            opening = _min_jerk((s - _PLACE_RELEASE_FRACTION) / (1.0 - _PLACE_RELEASE_FRACTION))
            grip = closed + (1.0 - closed) * opening
            attached = s < _PLACE_RELEASE_FRACTION
            released = not attached
        # Tremor of 0.1 mm: the standstill is near zero, not exactly zero, as on a real arm.
        tip = tip + 1e-4 * np.sin(2 * math.pi * self.tremor_freq * t_sec + self.tremor_phase)
        if attached:
            block, block_yaw = tip.copy(), yaw
        elif released:
            block, block_yaw = np.array([self.place[0], self.place[1], self.size / 2]), self.yaw_place
        else:
            block, block_yaw = self.block_start, self.block_yaw0
        return ArmState(tip, yaw, grip, block, block_yaw, attached)


def quaternion_down(yaw: float) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a hand pointing down (pi about x), turned by yaw about z: q_yaw * q_down."""
    return (math.cos(yaw / 2), math.sin(yaw / 2), 0.0, 0.0)
