"""LIBERO without ROS: one task's environment, with the original OpenVLA-OFT evaluation conventions.

Cameras render only when asked (`render()`), not on every physics step: robosuite's camera observables would
render both cameras at every step (~0.3 s on 2 cores), while the policy reads one frame per chunk. Frames come
out of MuJoCo upside down (OpenGL); `render()` returns them upright, as a camera driver would publish them
(the original evaluation's `img[::-1, ::-1]`).
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adp_ros.core.errors import ConfigError

SUITE_MAX_STEPS = {"libero_spatial": 220, "libero_object": 280, "libero_goal": 300, "libero_10": 520, "libero_90": 400}
"""The original evaluation's step budget per suite (after the no-op steps)."""
NUM_NOOP_STEPS = 10
"""No-op steps after reset, while the objects settle (the original loop)."""
NOOP_ACTION = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0)
CAMERAS = ("agentview", "robot0_eye_in_hand")
"""Third person first, then the wrist: the order the LIBERO checkpoints take."""
ARM_JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("panda_finger_joint1", "panda_finger_joint2")
"""Names published on JointState, as a Franka driver names them (the libero preset's proprio.joint_names)."""
CONTROL_HZ = 20.0

INSTALL_HINT = (
    "the LIBERO simulator is not installed in this environment: run `make sim-setup` (or `pip install -r "
    "requirements-sim.txt && pip install --no-deps -r requirements-sim-nodeps.txt`)"
)


def import_libero() -> tuple[Any, Any]:
    """(benchmark module, get_libero_path), or ConfigError saying how to install the simulator."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # robosuite prints a macro warning on import
            from libero.libero import benchmark, get_libero_path
    except ImportError as exc:
        raise ConfigError(f"{INSTALL_HINT} ({exc})") from None
    return benchmark, get_libero_path


@dataclass(frozen=True)
class TaskInfo:
    suite: str
    index: int
    name: str
    instruction: str
    bddl_file: Path
    num_init_states: int
    max_steps: int


def task_info(suite: str, index: int) -> TaskInfo:
    benchmark, get_libero_path = import_libero()
    suites = benchmark.get_benchmark_dict()
    if suite not in suites:
        known = ", ".join(s for s in sorted(suites) if s in SUITE_MAX_STEPS) or ", ".join(sorted(suites))
        raise ConfigError(f"unknown LIBERO suite {suite!r}; choose one of {known}")
    bench = suites[suite]()
    if not 0 <= index < bench.n_tasks:
        raise ConfigError(f"suite {suite} has tasks 0..{bench.n_tasks - 1}; task {index} does not exist")
    task = bench.get_task(index)
    init_states = bench.get_task_init_states(index)
    return TaskInfo(
        suite=suite,
        index=index,
        name=task.name,
        instruction=task.language,
        bddl_file=Path(get_libero_path("bddl_files")) / task.problem_folder / task.bddl_file,
        num_init_states=len(init_states),
        max_steps=SUITE_MAX_STEPS.get(suite, 400),
    )


def init_states(suite: str, index: int) -> np.ndarray:
    benchmark, _ = import_libero()
    return np.asarray(benchmark.get_benchmark_dict()[suite]().get_task_init_states(index))


@dataclass(frozen=True)
class RobotState:
    """What the robot's own sensors report (no privileged object state)."""

    eef_pos: np.ndarray
    eef_quat: np.ndarray
    """xyzw, as robosuite and geometry_msgs order it."""
    arm_q: np.ndarray
    arm_dq: np.ndarray
    finger_q: np.ndarray
    finger_dq: np.ndarray


class LiberoTask:
    """One LIBERO task's environment. `step(action)` takes the 7-D OSC_POSE action in [-1, 1]
    (dx dy dz dax day daz, gripper −1 open / +1 close)."""

    def __init__(self, suite: str, index: int, *, image_size: int = 256, seed: int = 0) -> None:
        self.info = task_info(suite, index)
        from libero.libero.envs.env_wrapper import ControlEnv

        self.image_size = int(image_size)
        with contextlib.redirect_stdout(io.StringIO()):
            self._env = ControlEnv(
                bddl_file_name=str(self.info.bddl_file),
                use_camera_obs=False,
                has_renderer=False,
                has_offscreen_renderer=True,
                camera_heights=self.image_size,
                camera_widths=self.image_size,
            )
        self._env.seed(seed)
        self._obs: dict[str, np.ndarray] = {}
        self.done = False
        self.steps = 0

    # ------------------------------------------------------------------------------------------- episodes
    def reset(self, init_state: np.ndarray | None = None, *, seed: int | None = None) -> None:
        """A new episode: the suite's `init_state` (evaluation) or the environment's own randomised placement
        (demonstrations, so that evaluation on the init states measures generalisation). No no-op steps here.

        `seed` first: `reset()` places the fixtures from numpy's global generator and `set_init_state` restores
        only the simulator state, so without it the same init state renders a scene that depends on the
        episodes before it (test/sim/test_libero_scene.py)."""
        if seed is not None:
            self.seed(seed)
        self._obs = self._env.reset()
        if init_state is not None:
            self._obs = self._env.set_init_state(np.asarray(init_state))
        self.done = False
        self.steps = 0

    def seed(self, seed: int) -> None:
        self._env.seed(int(seed))
        np.random.seed(int(seed))  # robosuite's placement samplers draw from numpy's global generator

    def step(self, action: np.ndarray) -> bool:
        """One control step (50 ms); True once the task's goal holds (it stays done)."""
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(7), -1.0, 1.0)
        self._obs, _, done, _ = self._env.step(action)
        self.steps += 1
        self.done = self.done or bool(done) or bool(self._env.check_success())
        return self.done

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._env.close()

    # ---------------------------------------------------------------------------------------- observations
    def render(self, camera: str) -> np.ndarray:
        """Upright RGB frame (H×W×3 uint8) of one camera."""
        raw = self._env.env.sim.render(width=self.image_size, height=self.image_size, camera_name=camera)
        return np.ascontiguousarray(raw[::-1, ::-1])

    def robot_state(self) -> RobotState:
        o = self._obs
        return RobotState(
            eef_pos=np.asarray(o["robot0_eef_pos"], np.float64),
            eef_quat=np.asarray(o["robot0_eef_quat"], np.float64),
            arm_q=np.asarray(o["robot0_joint_pos"], np.float64),
            arm_dq=np.asarray(o["robot0_joint_vel"], np.float64),
            finger_q=np.asarray(o["robot0_gripper_qpos"], np.float64),
            finger_dq=np.asarray(o["robot0_gripper_qvel"], np.float64),
        )

    def object_positions(self) -> dict[str, np.ndarray]:
        """Privileged object positions (for the scripted expert only; the policy never sees them)."""
        return {
            k[: -len("_pos")]: np.asarray(v, np.float64)
            for k, v in self._obs.items()
            if k.endswith("_pos") and not k.startswith("robot0") and "_to_" not in k
        }

    def goal_predicates(self) -> list[list[str]]:
        """The BDDL goal, e.g. [['on', 'akita_black_bowl_1', 'plate_1']]."""
        goal = self._env.env.parsed_problem["goal_state"]
        return [[str(t).lower() for t in g] for g in goal]
