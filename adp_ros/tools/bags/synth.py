"""Write a realistic rosbag2 test bag (cameras, joint states, end-effector pose, instruction), no robot needed.

The robot does a deterministic pick-and-place: coarse reach, slow fine approach, standstill grasp (the gripper
closes), coarse transport, fine place (the gripper opens), so an action-aware gate has fast, slow and still
segments to decide on. Joint positions follow the end effector through an approximate inverse kinematics. The
cameras render a textured table, plates, coloured blocks and the arm; wrist cameras ride on the hand (closer,
faster-moving views). Header stamps precede log times by a few ms of sensor latency with jitter.

topics:
  /camera/<name>/image_raw   sensor_msgs/msg/Image (rgb8, frame <name>_camera_optical_frame, sensor-data QoS)
                             libero: primary, wrist; aloha: primary, left_wrist, right_wrist
  /joint_states              sensor_msgs/msg/JointState (position, velocity, effort)
  /eef_pose                  geometry_msgs/msg/PoseStamped in the base frame (libero)
  /left_eef_pose, /right_eef_pose  the same per arm (aloha)
  /instruction               std_msgs/msg/String, once near the start (transient-local QoS)
The ground-truth phases are stored in the bag's custom_data ("adp_ros.synth", JSON).

examples:
  adp-ros bag synth /tmp/libero_bag
  adp-ros bag synth /tmp/aloha_bag --preset aloha --size 640x480 --storage mcap --seed 3
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adp_ros.core.errors import ConfigError, closest
from adp_ros.core.platform import PRESETS, get_platform
from adp_ros.ros.image_conversion import array_to_imgmsg
from adp_ros.tools.bags.io import (
    LATCHED_QOS,
    RELIABLE_QOS,
    SENSOR_DATA_QOS,
    STORAGES,
    BagSummary,
    BagWriter,
)

DEFAULT_START_NS = 1_718_035_200_000_000_000
"""2024-06-10 16:00:00 UTC: a realistic epoch, so stamps look like a recording's."""

DEFAULT_INSTRUCTIONS = {
    "libero": "pick up the red block and place it on the plate",
    "aloha": "pick up the red and the blue block and place each on its plate",
}

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


@dataclass(frozen=True)
class SynthOptions:
    """What `synthesize_bag` writes. Each field is a `bag synth` option."""

    preset: str = "libero"
    duration_sec: float = 6.0
    fps: float = 15.0
    """Camera rate."""
    joint_rate_hz: float = 100.0
    """Rate of /joint_states and of the end-effector pose."""
    width: int = 256
    height: int = 256
    storage: str = "sqlite3"
    seed: int = 0
    instruction: str | None = None
    """None: the preset's default (DEFAULT_INSTRUCTIONS)."""
    eef_pose: bool = True
    start_time_ns: int = DEFAULT_START_NS
    progress: bool = True
    """tqdm bar on stderr."""
    overwrite: bool = False

    def __post_init__(self) -> None:
        get_platform(self.preset)  # ConfigError naming the valid presets
        if self.preset not in DEFAULT_INSTRUCTIONS:
            raise ConfigError(f"preset={self.preset!r} has no synthetic scene (valid: {sorted(DEFAULT_INSTRUCTIONS)})")
        checks = (
            ("duration_sec", self.duration_sec, 0.2, 600.0, "--duration 6"),
            ("fps", self.fps, 0.5, 120.0, "--fps 15"),
            ("joint_rate_hz", self.joint_rate_hz, 1.0, 2000.0, "--joint-rate 100"),
            ("width", self.width, 16, 4096, "--size 256x256"),
            ("height", self.height, 16, 4096, "--size 256x256"),
        )
        for name, value, low, high, fix in checks:
            if not low <= value <= high:
                raise ConfigError(f"{name}={value} outside [{low}, {high}]; e.g. {fix}")
        if self.storage not in STORAGES:
            raise ConfigError(f"storage={self.storage!r} not in {STORAGES}{closest(self.storage, STORAGES)}")
        if self.instruction is not None and not self.instruction.strip():
            raise ConfigError("instruction is empty; pass --instruction 'pick up the red block' or leave it out")
        if self.start_time_ns < 0:
            raise ConfigError(f"start_time_ns={self.start_time_ns} must be >= 0")

    @property
    def camera_names(self) -> tuple[str, ...]:
        return PRESETS[self.preset].camera_names

    @property
    def instruction_text(self) -> str:
        return self.instruction or DEFAULT_INSTRUCTIONS[self.preset]

    @property
    def duration_ns(self) -> int:
        return round(self.duration_sec * 1e9)

    @property
    def pose_topics(self) -> tuple[str, ...]:
        if not self.eef_pose:
            return ()
        return ("/eef_pose",) if self.preset == "libero" else ("/left_eef_pose", "/right_eef_pose")


@dataclass(frozen=True)
class Phase:
    """One segment of the synthetic task, in header-stamp time."""

    name: str
    kind: str
    start_ns: int
    end_ns: int


def task_phases(options: SynthOptions) -> tuple[Phase, ...]:
    """The ground-truth phases of the bag `synthesize_bag(options)` writes."""
    phases, tau = [], 0.0
    for name, fraction, kind in PHASES:
        start = options.start_time_ns + round(tau * options.duration_ns)
        tau += fraction
        end = options.start_time_ns + round(min(tau, 1.0) * options.duration_ns)
        phases.append(Phase(name, kind, start, end))
    return tuple(phases)


def camera_topic(name: str) -> str:
    return f"/camera/{name}/image_raw"


def camera_frame(name: str) -> str:
    return f"{name}_camera_optical_frame"


def parse_size(text: str) -> tuple[int, int]:
    """`640x480` -> (640, 480)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ConfigError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 256x256 or 640x480") from None
    return width, height


def _cv2() -> Any:
    import cv2

    return cv2


# ---------------------------------------------------------------------------------------------------- motion


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
class _Arm:
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
class _ArmState:
    tip: np.ndarray  # fingertip centre, world frame
    yaw: float  # hand yaw, world frame
    grip: float  # 1 open ... 0 closed
    block: np.ndarray  # block centre, world frame
    block_yaw: float
    holding: bool


class _Task:
    """One arm's pick-and-place: waypoints in the world frame, evaluated at task time tau in [0, 1]."""

    def __init__(
        self,
        arm: _Arm,
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

    def state(self, tau: float, t_sec: float) -> _ArmState:
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
        return _ArmState(tip, yaw, grip, block, block_yaw, attached)


def _quaternion_down(yaw: float) -> tuple[float, float, float, float]:
    """(x, y, z, w) of a hand pointing down (pi about x), turned by yaw about z: q_yaw * q_down."""
    return (math.cos(yaw / 2), math.sin(yaw / 2), 0.0, 0.0)


# --------------------------------------------------------------------------------------------------- drawing


class _Camera:
    """A pinhole camera (optical frame: x right, y down, z forward)."""

    def __init__(self, position: np.ndarray, target: np.ndarray, up: np.ndarray, size: tuple[int, int], hfov: float):
        z = (target - position) / np.linalg.norm(target - position)
        x = np.cross(z, up)
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        self.rotation = np.stack([x, y, z])  # world -> camera
        self.position = position
        self.width, self.height = size
        self.f = (self.width / 2) / math.tan(hfov / 2)
        self.cx, self.cy = (self.width - 1) / 2, (self.height - 1) / 2

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (N, 2) and depths (N,) of world points (N, 3)."""
        cam = (np.atleast_2d(points) - self.position) @ self.rotation.T
        depth = cam[:, 2]
        safe = np.where(depth > 1e-4, depth, 1e-4)
        uv = np.stack([self.f * cam[:, 0] / safe + self.cx, self.f * cam[:, 1] / safe + self.cy], axis=1)
        return uv, depth

    def plane_homography(self, texture_origin: np.ndarray, metres_per_px: float) -> np.ndarray:
        """Texture pixel (col, row) on the table plane z=0 -> image pixel."""
        k = np.array([[self.f, 0, self.cx], [0, self.f, self.cy], [0, 0, 1.0]])
        t = -self.rotation @ self.position
        plane = np.stack([self.rotation[:, 0], self.rotation[:, 1], t], axis=1)  # [r1 r2 t] for z=0
        texture_to_world = np.array(
            [[metres_per_px, 0, texture_origin[0]], [0, metres_per_px, texture_origin[1]], [0, 0, 1.0]]
        )
        return k @ plane @ texture_to_world

    def sees_plane(self) -> np.ndarray | None:
        """(H, W) mask of pixels whose ray hits the plane z=0 in front of the camera; None when all do."""

        def down(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            rays = np.stack([(u - self.cx) / self.f, (v - self.cy) / self.f, np.ones_like(u)], axis=-1)
            return (rays @ self.rotation[:, 2] < -1e-6) & (self.position[2] > 0)

        # A ray's world z is linear in (u, v): when the four corners hit the plane, every pixel does.
        corners_u = np.array([0.0, self.width - 1.0, 0.0, self.width - 1.0])
        corners_v = np.array([0.0, 0.0, self.height - 1.0, self.height - 1.0])
        if down(corners_u, corners_v).all():
            return None
        v, u = np.mgrid[0 : self.height, 0 : self.width].astype(float)
        return down(u, v)


class _Scene:
    """Table texture, plates, blocks and arms; renders any camera."""

    TABLE_PX = 0.002  # metres per texture pixel

    def __init__(self, tasks: list[_Task], table: tuple[float, float, float, float], rng: np.random.Generator):
        cv2 = _cv2()
        self.tasks = tasks
        x0, x1, y0, y1 = table
        self.origin = np.array([x0, y0])
        rows, cols = round((y1 - y0) / self.TABLE_PX), round((x1 - x0) / self.TABLE_PX)
        # Wood-like grain plus speckles and 10 cm tiles: texture makes camera motion visible in every patch.
        yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
        grain = np.sin(yy * rng.uniform(0.03, 0.06) + 3.0 * np.sin(xx * 0.01 + rng.uniform(0, 6)) + rng.uniform(0, 6))
        texture = np.array([150, 108, 70], np.float32) + 18.0 * grain[..., None]
        texture += rng.normal(0, 6, size=(rows, cols, 1)).astype(np.float32)
        speckles = rng.integers(0, rows * cols, size=rows * cols // 400)
        texture.reshape(-1, 3)[speckles] *= 0.55
        tile = round(0.1 / self.TABLE_PX)
        texture[::tile, :] *= 0.8
        texture[:, ::tile] *= 0.8
        self.texture = np.clip(texture, 0, 255).astype(np.uint8)
        for task in tasks:
            cx, cy = ((task.plate[:2] - self.origin) / self.TABLE_PX).round().astype(int).tolist()
            radius = round(task.plate_radius / self.TABLE_PX)
            cv2.circle(self.texture, (cx, cy), radius, (235, 235, 228), -1, cv2.LINE_AA)
            cv2.circle(self.texture, (cx, cy), radius, (150, 150, 160), 3, cv2.LINE_AA)
        self.floor = (70, 72, 80)
        self._static: dict[int, np.ndarray] = {}

    def _background(self, camera: _Camera, static_key: int | None) -> np.ndarray:
        cv2 = _cv2()
        if static_key is not None and static_key in self._static:
            return self._static[static_key].copy()
        image = cv2.warpPerspective(
            self.texture,
            camera.plane_homography(self.origin, self.TABLE_PX),
            (camera.width, camera.height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=self.floor,
        )
        mask = camera.sees_plane()
        if mask is not None:  # above the horizon: a wall (a homography would mirror the table there)
            rows = np.linspace(0.0, 1.0, camera.height, dtype=np.float32)[:, None, None]
            wall = (np.array([190, 196, 205], np.float32) * (1.0 - 0.25 * rows)).astype(np.uint8)
            image = np.where(mask[..., None], image, np.broadcast_to(wall, image.shape))
        if static_key is not None:
            self._static[static_key] = image.copy()
        return image

    @staticmethod
    def _box_faces(centre: np.ndarray, size: float, yaw: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """(corners (4, 3), outward normal, shade) of the 6 faces of a cube."""
        c, s, h = math.cos(yaw), math.sin(yaw), size / 2
        ax, ay, az = np.array([c, s, 0.0]) * h, np.array([-s, c, 0.0]) * h, np.array([0.0, 0.0, h])
        faces = []
        for normal, u, v, shade in (
            (az, ax, ay, 1.0),
            (-az, ax, ay, 0.4),
            (ax, ay, az, 0.75),
            (-ax, ay, az, 0.6),
            (ay, ax, az, 0.85),
            (-ay, ax, az, 0.55),
        ):
            faces.append((centre + normal + np.array([u + v, u - v, -u - v, -u + v]), normal, shade))
        return faces

    def _draw_box(self, image: np.ndarray, camera: _Camera, task: _Task, state: _ArmState) -> None:
        cv2 = _cv2()
        for corners, normal, shade in self._box_faces(state.block, task.size, state.block_yaw):
            if np.dot(normal, camera.position - corners.mean(axis=0)) <= 0:
                continue  # back face
            uv, depth = camera.project(corners)
            if (depth < 0.01).any():
                continue
            colour = tuple(int(v * shade) for v in task.colour)
            cv2.fillConvexPoly(image, np.round(uv * 16).astype(np.int32), colour, cv2.LINE_AA, shift=4)

    @staticmethod
    def _segment(
        image: np.ndarray, camera: _Camera, ends: tuple[np.ndarray, np.ndarray], width_m: float, colour: tuple[int, ...]
    ) -> None:
        cv2 = _cv2()
        uv, depth = camera.project(np.stack(ends))
        if (depth < 0.02).any():
            return
        thickness = int(np.clip(camera.f * width_m / depth.mean(), 1, 200))
        p, q = np.round(uv * 16).astype(np.int64)
        if np.abs(np.concatenate([p, q])).max() > 16 * 10 * max(camera.width, camera.height):
            return  # far outside the image
        cv2.line(image, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), colour, thickness, cv2.LINE_AA, shift=4)

    def _draw_fingers(self, image: np.ndarray, camera: _Camera, task: _Task, state: _ArmState) -> None:
        lateral = np.array([-math.sin(state.yaw), math.cos(state.yaw), 0.0])
        opening = task.arm.finger_max * state.grip + 0.006
        for side in (-1.0, 1.0):
            bottom = state.tip + side * opening * lateral - np.array([0, 0, 0.01])
            self._segment(image, camera, (bottom + np.array([0.0, 0.0, 0.05]), bottom), 0.014, (45, 45, 50))

    def _draw_arm(self, image: np.ndarray, camera: _Camera, task: _Task, state: _ArmState) -> None:
        points = task.arm.link_points(state.tip)
        body = (236, 236, 232) if task.arm.kind == "panda" else (40, 40, 44)
        outline = (90, 90, 95) if task.arm.kind == "panda" else (15, 15, 18)
        for a, b in itertools.pairwise(points[:-1]):
            self._segment(image, camera, (a, b), 0.09, outline)
            self._segment(image, camera, (a, b), 0.075, body)
        self._segment(image, camera, (points[-2], points[-1] + np.array([0.0, 0.0, 0.05])), 0.07, body)
        self._draw_fingers(image, camera, task, state)

    def render(
        self,
        camera: _Camera,
        states: list[_ArmState],
        static_key: int | None,
        noise: np.random.Generator,
        own: int | None = None,
    ) -> np.ndarray:
        """rgb8 image. `own`: index of the arm carrying this (wrist) camera: only its fingers are drawn."""
        image = self._background(camera, static_key)
        items: list[tuple[float, Callable[[], None]]] = []
        for i, (task, state) in enumerate(zip(self.tasks, states, strict=True)):
            _, block_depth = camera.project(state.block[None])
            items.append((float(block_depth[0]), lambda t=task, s=state: self._draw_box(image, camera, t, s)))
            if own is None:
                _, tip_depth = camera.project(state.tip[None])
                draw_arm = lambda t=task, s=state: self._draw_arm(image, camera, t, s)  # noqa: E731
                items.append((float(tip_depth[0]) - 0.03, draw_arm))
            elif own == i:
                items.append((0.0, lambda t=task, s=state: self._draw_fingers(image, camera, t, s)))
        for _, draw in sorted(items, key=lambda item: -item[0]):  # far to near
            draw()
        # Sensor noise: consecutive frames differ even when nothing moves, as with a real camera.
        grain = noise.integers(-3, 4, size=image.shape, dtype=np.int16)
        return np.clip(image.astype(np.int16) + grain, 0, 255).astype(np.uint8)


def _wrist_camera(state: _ArmState, size: tuple[int, int]) -> _Camera:
    """On the hand, 11 cm above the fingertips and 6 cm behind them, looking down and slightly forward."""
    forward = np.array([math.cos(state.yaw), math.sin(state.yaw), 0.0])
    position = state.tip + np.array([0.0, 0.0, 0.11]) - 0.06 * forward
    target = position + np.array([0.0, 0.0, -1.0]) + 0.35 * forward
    # Image "up" points backwards, so the fingers show at the bottom, as on a real wrist camera.
    return _Camera(position, target, -forward, size, math.radians(80))


def _build_scene(options: SynthOptions, rng: np.random.Generator) -> tuple[_Scene, list[_Task], _Camera]:
    size = (options.width, options.height)
    if options.preset == "libero":
        arm = _Arm("panda", "", (0.0, 0.0, 0.0), 0.0, 0.333, 0.32, 0.39, 0.21, 0.04)
        tasks = [_Task(arm, rng, (0.56, 0.14), (0.46, -0.18), (205, 35, 30))]
        table = (-0.15, 1.05, -0.6, 0.6)
        # Third-person camera facing the robot across the table (LIBERO's agentview).
        primary = _Camera(
            np.array([1.30, 0.0, 0.62]), np.array([0.45, 0.0, 0.05]), np.array([0.0, 0.0, 1.0]), size, math.radians(60)
        )
    else:
        # ALOHA: two arms facing each other across the table, a camera high above it.
        left = _Arm("vx300", "left_", (-0.47, 0.0, 0.0), 0.0, 0.127, 0.305, 0.30, 0.16, 0.035)
        right = _Arm("vx300", "right_", (0.47, 0.0, 0.0), math.pi, 0.127, 0.305, 0.30, 0.16, 0.035)
        tasks = [
            _Task(left, rng, (-0.12, 0.14), (-0.10, -0.16), (205, 35, 30)),
            _Task(right, rng, (0.12, -0.14), (0.10, 0.16), (35, 70, 205)),
        ]
        table = (-0.6, 0.6, -0.45, 0.45)
        primary = _Camera(np.array([0.0, -0.42, 0.95]), np.zeros(3), np.array([0.0, 1.0, 0.0]), size, math.radians(75))
    return _Scene(tasks, table, rng), tasks, primary


# -------------------------------------------------------------------------------------------------- messages


def _set_stamp(header: Any, stamp_ns: int) -> None:
    header.stamp.sec, header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)


def _timeline(
    rng: np.random.Generator,
    window_ns: tuple[int, int],
    rate_hz: float,
    *,
    offset_ns: int,
    jitter_ns: float,
    latency_ns: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """(header stamps, log times) of a periodic sensor: stamps jitter about the period; log = stamp + latency."""
    start_ns, duration_ns = window_ns
    period = 1e9 / rate_hz
    count = int(duration_ns / period) + 1
    stamps = start_ns + offset_ns + np.arange(count) * period + rng.normal(0.0, jitter_ns, size=count)
    stamps = stamps[(stamps >= start_ns) & (stamps <= start_ns + duration_ns)]
    latency = rng.uniform(*latency_ns, size=stamps.size)
    # Strictly increasing, as a driver publishes them.
    stamps = np.maximum.accumulate(np.round(stamps).astype(np.int64)) + np.arange(stamps.size)
    logs = np.maximum.accumulate(stamps + np.round(latency).astype(np.int64)) + np.arange(stamps.size)
    return stamps, logs


def synthesize_bag(out: str | Path, options: SynthOptions | None = None) -> BagSummary:
    """Write the synthetic bag to `out` (a new folder) and return its summary."""
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String
    from tqdm import tqdm

    options = options or SynthOptions()
    out = Path(out)
    seeds = np.random.SeedSequence(options.seed).spawn(5)
    scene, tasks, primary = _build_scene(options, np.random.default_rng(seeds[0]))
    start, duration = options.start_time_ns, options.duration_ns
    size = (options.width, options.height)

    def states_at(stamp_ns: int) -> list[_ArmState]:
        t = (stamp_ns - start) / 1e9
        tau = min(max(t / options.duration_sec, 0.0), 1.0)
        return [task.state(tau, t) for task in tasks]

    # Events (log time, tie-break, topic, build) in log-time order; messages are built lazily while writing.
    events: list[tuple[int, int, str, Callable[[], Any]]] = []
    j_stamps, j_logs = _timeline(
        np.random.default_rng(seeds[1]),
        (start, duration),
        options.joint_rate_hz,
        offset_ns=0,
        jitter_ns=5e4,
        latency_ns=(3e5, 1.5e6),
    )
    joint_names = [n for task in tasks for n in task.arm.joint_names]
    effort_noise = np.random.default_rng(seeds[2])

    def joints(states: list[_ArmState]) -> np.ndarray:
        return np.concatenate([t.arm.joints(s.tip, s.yaw, s.grip) for t, s in zip(tasks, states, strict=True)])

    def joint_state(stamp_ns: int) -> Any:
        now = states_at(stamp_ns)
        position = joints(now)
        dt_ns = 1_000_000
        velocity = (joints(states_at(stamp_ns + dt_ns)) - joints(states_at(stamp_ns - dt_ns))) / (2 * dt_ns / 1e9)
        # Effort: viscous + gravity-like load on shoulder and elbow, grip force while holding, sensor noise.
        effort = 0.4 * velocity + effort_noise.normal(0.0, 0.05, size=position.size)
        offset = 0
        for task, state in zip(tasks, now, strict=True):
            n = len(task.arm.joint_names)
            panda = task.arm.kind == "panda"
            elbow = 3 if panda else 2
            effort[offset + 1] += (-22.0 if panda else -6.0) * math.sin(position[offset + 1])
            effort[offset + elbow] += (8.0 if panda else 3.0) * math.cos(position[offset + elbow])
            if state.holding:  # N per Franka finger; motor-current-like units on ALOHA
                effort[offset + (7 if panda else 6) : offset + n] -= 20.0 if panda else 0.6
            offset += n
        msg = JointState(name=joint_names, position=position.tolist(), velocity=velocity.tolist())
        msg.effort = effort.tolist()
        _set_stamp(msg.header, stamp_ns)
        return msg

    def eef_pose(stamp_ns: int, arm_index: int) -> Any:
        task = tasks[arm_index]
        state = states_at(stamp_ns)[arm_index]
        msg = PoseStamped()
        _set_stamp(msg.header, stamp_ns)
        msg.header.frame_id = task.arm.base_frame
        position, orientation = msg.pose.position, msg.pose.orientation
        position.x, position.y, position.z = (float(v) for v in task.arm.to_local(state.tip))
        orientation.x, orientation.y, orientation.z, orientation.w = _quaternion_down(state.yaw - task.arm.base_yaw)
        return msg

    for stamp, log_ns in zip(j_stamps.tolist(), j_logs.tolist(), strict=True):
        events.append((log_ns, 1, "/joint_states", lambda s=stamp: joint_state(s)))
        for arm_index, topic in enumerate(options.pose_topics):
            # Published by the controller right after the joint state it was computed from.
            events.append((log_ns + 150_000, 2, topic, lambda s=stamp, a=arm_index: eef_pose(s, a)))

    image_noise = np.random.default_rng(seeds[3])
    camera_seeds = seeds[4].spawn(len(options.camera_names))

    def camera_image(stamp_ns: int, index: int, name: str) -> Any:
        states = states_at(stamp_ns)
        if index == 0:
            pixels = scene.render(primary, states, 0, image_noise)
        else:
            own = index - 1 if len(tasks) > 1 else 0
            pixels = scene.render(_wrist_camera(states[own], size), states, None, image_noise, own)
        return array_to_imgmsg(pixels, "rgb8", stamp_ns=stamp_ns, frame_id=camera_frame(name))

    for index, name in enumerate(options.camera_names):
        cam_rng = np.random.default_rng(camera_seeds[index])
        offset = int(2_700_000 * index + cam_rng.uniform(0, 2e6))  # cameras are not hardware-synchronised
        stamps, logs = _timeline(
            cam_rng, (start, duration), options.fps, offset_ns=offset, jitter_ns=4e5, latency_ns=(4e6, 9e6)
        )
        for stamp, log_ns in zip(stamps.tolist(), logs.tolist(), strict=True):
            events.append((log_ns, 0, camera_topic(name), lambda s=stamp, i=index, n=name: camera_image(s, i, n)))

    events.append((start + 20_000_000, -1, "/instruction", lambda: String(data=options.instruction_text)))
    events.sort(key=lambda e: (e[0], e[1]))

    record = {
        "options": {k: v for k, v in asdict(options).items() if k not in ("progress", "overwrite")},
        "phases": [asdict(p) for p in task_phases(options)],
    }
    writer = BagWriter(
        out, options.storage, overwrite=options.overwrite, custom_data={"adp_ros.synth": json.dumps(record)}
    )
    try:
        for name in options.camera_names:
            writer.add_topic(camera_topic(name), "sensor_msgs/msg/Image", SENSOR_DATA_QOS)
        writer.add_topic("/joint_states", "sensor_msgs/msg/JointState", RELIABLE_QOS)
        for topic in options.pose_topics:
            writer.add_topic(topic, "geometry_msgs/msg/PoseStamped", RELIABLE_QOS)
        writer.add_topic("/instruction", "std_msgs/msg/String", LATCHED_QOS)
        progress = tqdm(
            total=len(events), desc=f"synth {out.name}", unit="msg", file=sys.stderr, disable=not options.progress
        )
        with progress:
            for log_ns, _, topic, build in events:
                writer.write(topic, log_ns, build())
                progress.update()
    except BaseException:
        writer.abort()  # no half-written bag that looks complete
        raise
    return writer.close()


# ------------------------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = SynthOptions()
    parser.add_argument("out", type=Path, metavar="OUT", help="bag folder to create (must not exist)")
    parser.add_argument("--preset", default=d.preset, choices=sorted(DEFAULT_INSTRUCTIONS), help="robot platform")
    parser.add_argument("--duration", type=float, default=d.duration_sec, metavar="SEC", help="bag length (s)")
    parser.add_argument("--fps", type=float, default=d.fps, help="camera rate (Hz)")
    parser.add_argument("--joint-rate", type=float, default=d.joint_rate_hz, metavar="HZ", help="joint state rate")
    parser.add_argument("--size", default=f"{d.width}x{d.height}", metavar="WxH", help="image size, e.g. 640x480")
    parser.add_argument("--storage", default=d.storage, choices=STORAGES, help="rosbag2 storage plugin")
    parser.add_argument("--seed", type=int, default=d.seed, help="block/plate placement, texture and noise")
    parser.add_argument("--instruction", metavar="TEXT", help="language instruction (default: the preset's)")
    parser.add_argument("--no-eef-pose", action="store_true", help="leave out the end-effector pose topic(s)")
    parser.add_argument(
        "--start-time", type=float, default=d.start_time_ns / 1e9, metavar="SEC", help="first stamp (Unix time)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it is an existing bag")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    width, height = parse_size(args.size)
    options = SynthOptions(
        preset=args.preset,
        duration_sec=args.duration,
        fps=args.fps,
        joint_rate_hz=args.joint_rate,
        width=width,
        height=height,
        storage=args.storage,
        seed=args.seed,
        instruction=args.instruction,
        eef_pose=not args.no_eef_pose,
        start_time_ns=round(args.start_time * 1e9),
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    summary = synthesize_bag(args.out, options)
    print(summary.format())
    print("phases (s from start):")
    for phase in task_phases(options):
        begin, end = ((t - options.start_time_ns) / 1e9 for t in (phase.start_ns, phase.end_ns))
        print(f"  {phase.name:<10} {phase.kind:<10} {begin:6.2f} - {end:6.2f}")
    return 0
