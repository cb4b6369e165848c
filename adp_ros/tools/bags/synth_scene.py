"""The synthetic cameras' view (`bag synth`): a textured table, plates, coloured blocks and the arms, rendered
with OpenCV through pinhole cameras; wrist cameras ride on the hand (closer, faster-moving views)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from adp_ros.tools.bags.synth_task import Arm, ArmState, Task


def _cv2() -> Any:
    import cv2

    return cv2


class Camera:
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


class Scene:
    """Table texture, plates, blocks and arms; renders any camera."""

    TABLE_PX = 0.002  # metres per texture pixel

    def __init__(self, tasks: list[Task], table: tuple[float, float, float, float], rng: np.random.Generator):
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

    def _background(self, camera: Camera, static_key: int | None) -> np.ndarray:
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

    def _draw_box(self, image: np.ndarray, camera: Camera, task: Task, state: ArmState) -> None:
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
        image: np.ndarray, camera: Camera, ends: tuple[np.ndarray, np.ndarray], width_m: float, colour: tuple[int, ...]
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

    def _draw_fingers(self, image: np.ndarray, camera: Camera, task: Task, state: ArmState) -> None:
        lateral = np.array([-math.sin(state.yaw), math.cos(state.yaw), 0.0])
        opening = task.arm.finger_max * state.grip + 0.006
        for side in (-1.0, 1.0):
            bottom = state.tip + side * opening * lateral - np.array([0, 0, 0.01])
            self._segment(image, camera, (bottom + np.array([0.0, 0.0, 0.05]), bottom), 0.014, (45, 45, 50))

    def _draw_arm(self, image: np.ndarray, camera: Camera, task: Task, state: ArmState) -> None:
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
        camera: Camera,
        states: list[ArmState],
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


def wrist_camera(state: ArmState, size: tuple[int, int]) -> Camera:
    """On the hand, 11 cm above the fingertips and 6 cm behind them, looking down and slightly forward."""
    forward = np.array([math.cos(state.yaw), math.sin(state.yaw), 0.0])
    position = state.tip + np.array([0.0, 0.0, 0.11]) - 0.06 * forward
    target = position + np.array([0.0, 0.0, -1.0]) + 0.35 * forward
    # Image "up" points backwards, so the fingers show at the bottom, as on a real wrist camera.
    return Camera(position, target, -forward, size, math.radians(80))


def build_scene(preset: str, size: tuple[int, int], rng: np.random.Generator) -> tuple[Scene, list[Task], Camera]:
    """The scene of a preset (libero: one Panda; aloha: two vx300s facing each other), its tasks and the
    primary camera."""
    if preset == "libero":
        arm = Arm("panda", "", (0.0, 0.0, 0.0), 0.0, 0.333, 0.32, 0.39, 0.21, 0.04)
        tasks = [Task(arm, rng, (0.56, 0.14), (0.46, -0.18), (205, 35, 30))]
        table = (-0.15, 1.05, -0.6, 0.6)
        # Third-person camera facing the robot across the table (LIBERO's agentview).
        primary = Camera(
            np.array([1.30, 0.0, 0.62]), np.array([0.45, 0.0, 0.05]), np.array([0.0, 0.0, 1.0]), size, math.radians(60)
        )
    else:
        # ALOHA: two arms facing each other across the table, a camera high above it.
        left = Arm("vx300", "left_", (-0.47, 0.0, 0.0), 0.0, 0.127, 0.305, 0.30, 0.16, 0.035)
        right = Arm("vx300", "right_", (0.47, 0.0, 0.0), math.pi, 0.127, 0.305, 0.30, 0.16, 0.035)
        tasks = [
            Task(left, rng, (-0.12, 0.14), (-0.10, -0.16), (205, 35, 30)),
            Task(right, rng, (0.12, -0.14), (0.10, 0.16), (35, 70, 205)),
        ]
        table = (-0.6, 0.6, -0.45, 0.45)
        primary = Camera(np.array([0.0, -0.42, 0.95]), np.zeros(3), np.array([0.0, 1.0, 0.0]), size, math.radians(75))
    return Scene(tasks, table, rng), tasks, primary
