"""A scripted expert for LIBERO pick-and-place tasks ("pick up X ... place it on Y"): a phase-wise
P-controller on the end-effector position, using the privileged object positions a teleoperator would see.

Phases (each ends when the position error is under 1 cm, or after `max_phase_steps`; grasp and release run a
fixed number of steps): above the grasp point, down to it, close, lift, over the place target, down, open.
The grasp point is the bowl's rim, not its centre (grasping the centre fails: research notes, libero_sim.md).
Actions are the environment's OSC_POSE units: xyz in [-1, 1], no rotation, gripper −1 open / +1 close.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from adp_ros.core.errors import ConfigError

OPEN, CLOSE = -1.0, 1.0


def _up(height_m: float) -> np.ndarray:
    return np.array([0.0, 0.0, height_m])


@dataclass(frozen=True)
class ExpertConfig:
    gain: float = 10.0
    """Action units per metre of position error."""
    tolerance_m: float = 0.01
    max_phase_steps: int = 60
    grip_steps: int = 12
    grasp_offset: tuple[float, float, float] = (0.0, 0.055, 0.02)
    """Grasp point relative to the object's origin: on the bowl's rim."""
    approach_height_m: float = 0.10
    carry_height_m: float = 0.20
    """Above the place target while transporting."""
    release_height_m: float = 0.08


@dataclass
class _Phase:
    name: str
    target: np.ndarray | None
    gripper: float
    fixed_steps: int = 0


@dataclass
class ScriptedExpert:
    """`act(eef_pos, objects)` → 7-D action; `phase` names the current phase (recorded beside the demos)."""

    pick: str
    place: str
    config: ExpertConfig = field(default_factory=ExpertConfig)

    def __post_init__(self) -> None:
        self._phases: list[_Phase] | None = None
        self._index = 0
        self._steps_in_phase = 0

    @classmethod
    def for_goal(cls, goal: list[list[str]], config: ExpertConfig | None = None) -> ScriptedExpert:
        """From a BDDL goal such as [['on', 'akita_black_bowl_1', 'plate_1']] (one `on` predicate)."""
        on = [g for g in goal if len(g) == 3 and g[0] == "on"]
        if len(goal) != 1 or not on:
            raise ConfigError(f"the scripted expert handles one 'on X Y' goal (pick and place); this task's is {goal}")
        return cls(pick=on[0][1], place=on[0][2], config=config or ExpertConfig())

    @property
    def phase(self) -> str:
        if self._phases is None:
            return "start"
        return self._phases[min(self._index, len(self._phases) - 1)].name

    @property
    def finished(self) -> bool:
        return self._phases is not None and self._index >= len(self._phases)

    def _plan(self, objects: dict[str, np.ndarray]) -> list[_Phase]:
        missing = [n for n in (self.pick, self.place) if n not in objects]
        if missing:
            raise ConfigError(f"objects {missing} are not in the scene ({sorted(objects)})")
        c = self.config
        offset = np.asarray(c.grasp_offset)
        grasp = objects[self.pick] + offset
        place = objects[self.place] + np.array([offset[0], offset[1], 0.0])  # re-planned once grasped
        return [
            _Phase("approach", grasp + _up(c.approach_height_m), OPEN),
            _Phase("descend", grasp, OPEN),
            _Phase("grasp", None, CLOSE, c.grip_steps),
            _Phase("lift", np.array([grasp[0], grasp[1], place[2] + c.carry_height_m]), CLOSE),
            _Phase("transport", place + _up(c.carry_height_m), CLOSE),
            _Phase("lower", place + _up(c.release_height_m), CLOSE),
            _Phase("release", None, OPEN, c.grip_steps),
        ]

    def _replan_place(self, eef_pos: np.ndarray, objects: dict[str, np.ndarray]) -> None:
        """Once the object hangs in the gripper, aim so that the object itself (not the fingers) ends over the
        target: the grasp point slips on the rim, so the planned offset is only approximate."""
        c = self.config
        held = eef_pos - objects[self.pick]
        place = objects[self.place] + np.array([held[0], held[1], 0.0])
        for phase in self._phases or []:
            if phase.name == "transport":
                phase.target = place + _up(c.carry_height_m)
            elif phase.name == "lower":
                phase.target = place + _up(c.release_height_m)

    def act(self, eef_pos: np.ndarray, objects: dict[str, np.ndarray]) -> np.ndarray:
        if self._phases is None:
            self._phases = self._plan(objects)
        c = self.config
        while not self.finished:
            phase = self._phases[self._index]
            if phase.name == "transport" and self._steps_in_phase == 0:
                self._replan_place(eef_pos, objects)
            if phase.target is None:
                done = self._steps_in_phase >= phase.fixed_steps
            else:
                error = float(np.linalg.norm(phase.target - eef_pos))
                done = error < c.tolerance_m or self._steps_in_phase >= c.max_phase_steps
            if not done:
                break
            self._index += 1
            self._steps_in_phase = 0
        action = np.zeros(7)
        if self.finished:
            action[6] = OPEN
            return action
        phase = self._phases[self._index]
        if phase.target is not None:
            action[:3] = np.clip(c.gain * (phase.target - eef_pos), -1.0, 1.0)
        action[6] = phase.gripper
        self._steps_in_phase += 1
        return action
