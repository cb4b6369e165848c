"""The simulated LIBERO arm as a ROS 2 robot: what a camera driver, a Franka driver and an OSC controller would
publish and consume, so the policy node runs against it unchanged.

Publishes (stamps in sim time; `/clock` drives every node that runs with use_sim_time):
- the two cameras as `sensor_msgs/Image` rgb8, upright (the 180° turn of the original evaluation is the
  camera driver's business, here, never the policy's);
- `JointState` (7 arm joints + 2 finger joints, panda names), end-effector `PoseStamped` (world frame), every step;
- `/clock`.
Consumes the node's `MultiDOFJointTrajectory` of delta end-effector actions + gripper (config/libero.yaml) and
executes it point by point, with the original loop's gripper processing: g → −sign(2g − 1). An empty
trajectory (the node's stop message) drops whatever is queued: the arm holds.

Timing:
- **lockstep** (the original evaluation, reproducible): publish an observation, wait (sim time stopped) for the
  chunk stamped with it, execute `execute_steps` of its points, repeat. Pair it with the node's
  `control.mode: on_observation`, which requests one chunk per observation whatever the clock says.
- **realtime**: the simulation steps at the control rate on the wall clock and never waits; cameras publish
  every `camera_period_steps`; each step executes the point of the newest chunk scheduled for that instant
  (header.stamp + time_from_start − dt), holding (no motion, last gripper) when none is. Policy latency now costs
  motion, as on a robot. Rendering stalls the wall clock; the achieved real-time factor is reported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.tools.sim.libero_env import (
    ARM_JOINTS,
    CAMERAS,
    CONTROL_HZ,
    FINGER_JOINTS,
    NOOP_ACTION,
    NUM_NOOP_STEPS,
    LiberoTask,
)

Timing = Literal["lockstep", "realtime"]
TIMINGS: tuple[str, ...] = get_args(Timing)
_NS = 1_000_000_000
SIM_START_NS = 100 * _NS
"""Sim time of the first step (0 would read as "no stamp")."""


@dataclass(frozen=True)
class BridgeConfig:
    camera_topics: tuple[str, ...] = ("camera/primary/image_raw", "camera/wrist/image_raw")
    joint_states_topic: str = "joint_states"
    eef_pose_topic: str = "eef_pose"
    command_topic: str = "/adp_policy_node/command"
    frame_id: str = "world"
    eef_joint_name: str = "end_effector"
    gripper_joint_name: str = "gripper"
    translation_scale: float = 0.05
    """Metres per action unit (the node's output.translation_scale)."""
    rotation_scale: float = 0.5
    timing: Timing = "lockstep"
    execute_steps: int = 8
    """Lockstep: points of each chunk executed before the next observation (the original: 8)."""
    camera_period_steps: int = 4
    """Realtime: publish the cameras every this many steps."""
    blind: bool = False
    """Publish black frames (the control that shows whether a policy uses vision at all)."""
    chunk_timeout_sec: float = 60.0
    """Lockstep: give the episode up when no chunk arrives for this long (wall clock)."""
    resend_after_sec: float = 5.0
    """Lockstep: publish the same observation again after this long without a chunk (a lost frame)."""

    def __post_init__(self) -> None:
        if self.timing not in TIMINGS:
            raise ConfigError(f"timing={self.timing!r}: choose one of {TIMINGS}")
        if len(self.camera_topics) != len(CAMERAS):
            raise ConfigError(f"camera_topics: LIBERO has {len(CAMERAS)} cameras ({', '.join(CAMERAS)})")
        if self.execute_steps < 1 or self.camera_period_steps < 1:
            raise ConfigError("execute_steps and camera_period_steps must be >= 1")


@dataclass
class EpisodeResult:
    success: bool
    steps: int
    chunks: int
    """Chunks executed (lockstep) or received (realtime)."""
    status: str
    """success, max_steps, timeout (no chunk in time), teleop_finished, stopped."""
    wall_sec: float
    held_steps: int = 0
    """Realtime: steps executed with no chunk point scheduled (the policy was late)."""
    real_time_factor: float = 1.0
    """Sim seconds per wall second over the episode (realtime timing)."""
    phases: list[str] = field(default_factory=list)


def env_gripper(g: float) -> float:
    """Policy gripper (LIBERO datasets: 1 open, 0 close) → environment (−1 open, +1 close): the original loop's
    `normalize_gripper_action(binarize=True)` then `invert_gripper_action`."""
    return -float(np.sign(2.0 * g - 1.0))


def policy_gripper(env_g: float) -> float:
    """Inverse of `env_gripper` for a teleoperator's (or the expert's) binary command."""
    return 1.0 if env_g < 0 else 0.0


class _Chunk:
    def __init__(self, stamp_ns: int, actions: np.ndarray, times_ns: list[int]) -> None:
        self.stamp_ns = stamp_ns
        self.actions = actions
        self.times_ns = times_ns


class LiberoBridge:
    """The ROS side of one simulated arm. Create it with a node (any rclpy Node; spin it elsewhere), then drive
    episodes from one thread with `reset` + `run_lockstep` / `run_realtime` (or `step_with` for teleoperation)."""

    def __init__(self, node: Any, task: LiberoTask, config: BridgeConfig | None = None) -> None:
        from geometry_msgs.msg import PoseStamped
        from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from rosgraph_msgs.msg import Clock
        from sensor_msgs.msg import Image, JointState
        from trajectory_msgs.msg import MultiDOFJointTrajectory

        self.node = node
        self.task = task
        self.config = config or BridgeConfig()
        c = self.config
        self.dt_ns = round(_NS / CONTROL_HZ)
        self.now_ns = SIM_START_NS
        state_qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self._clock_pub = node.create_publisher(Clock, "/clock", 10)
        self._image_pubs = [node.create_publisher(Image, t, qos_profile_sensor_data) for t in c.camera_topics]
        self._joint_pub = node.create_publisher(JointState, c.joint_states_topic, state_qos)
        self._pose_pub = node.create_publisher(PoseStamped, c.eef_pose_topic, state_qos)
        self._command_sub = node.create_subscription(
            MultiDOFJointTrajectory, c.command_topic, self._on_command, QoSProfile(depth=10)
        )
        self._msg_types = (Clock, Image, JointState, PoseStamped)
        self._lock = threading.Condition()
        self._chunks: list[_Chunk] = []
        self._bad_commands = 0
        self.received = 0
        self.stops = 0
        self._gripper = -1.0
        self.last_frames: list[np.ndarray] = []

    # -------------------------------------------------------------------------------------------- commands
    def _on_command(self, msg: Any) -> None:
        from adp_ros.core.stamps import stamp_ns_of
        from adp_ros.ros.outputs import multi_dof_trajectory_to_chunk

        if not msg.points:  # the stop message: drop what is queued, the arm holds
            with self._lock:
                self.stops += 1
                self._chunks.clear()
            return
        c = self.config
        try:
            actions, times = multi_dof_trajectory_to_chunk(
                msg,
                eef_joint_name=c.eef_joint_name,
                gripper_joint_name=c.gripper_joint_name,
                translation_scale=c.translation_scale,
                rotation_scale=c.rotation_scale,
            )
        except InputError as exc:
            self._bad_commands += 1
            self.node.get_logger().warning(f"command ignored: {exc}", throttle_duration_sec=5.0)
            return
        with self._lock:
            self.received += 1
            self._chunks.append(_Chunk(stamp_ns_of(msg), actions, times))
            del self._chunks[:-4]
            self._lock.notify_all()

    def _take_chunk(self, stamp_ns: int, timeout_sec: float) -> _Chunk | None:
        deadline = time.monotonic() + timeout_sec
        with self._lock:
            while True:
                for chunk in self._chunks:
                    if chunk.stamp_ns == stamp_ns:
                        self._chunks.clear()
                        return chunk
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(min(left, 0.05))

    def clear_commands(self) -> None:
        with self._lock:
            self._chunks.clear()

    def to_env_action(self, row: np.ndarray) -> np.ndarray:
        action = np.asarray(row, dtype=np.float64).copy()
        if np.isfinite(action[6]):
            self._gripper = env_gripper(action[6])
        action[6] = self._gripper
        return action

    # ---------------------------------------------------------------------------------------- publishing
    def publish_state(self) -> None:
        from adp_ros.ros.stamps import time_msg

        clock_type, _, joint_state_type, pose_type = self._msg_types
        stamp = time_msg(self.now_ns)
        self._clock_pub.publish(clock_type(clock=stamp))
        s = self.task.robot_state()
        js = joint_state_type()
        js.header.stamp = stamp
        js.name = [*ARM_JOINTS, *FINGER_JOINTS]
        js.position = [*s.arm_q.tolist(), *s.finger_q.tolist()]
        js.velocity = [*s.arm_dq.tolist(), *s.finger_dq.tolist()]
        self._joint_pub.publish(js)
        pose = pose_type()
        pose.header.stamp = stamp
        pose.header.frame_id = self.config.frame_id
        p, q = s.eef_pos, s.eef_quat
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(v) for v in p)
        o = pose.pose.orientation
        o.x, o.y, o.z, o.w = (float(v) for v in q)
        self._pose_pub.publish(pose)

    def publish_cameras(self) -> None:
        from adp_ros.ros.image_conversion import array_to_imgmsg

        frames = []
        for camera in CAMERAS:
            frame = self.task.render(camera)
            frames.append(np.zeros_like(frame) if self.config.blind else frame)
        self.last_frames = frames
        for pub, frame, topic in zip(self._image_pubs, frames, self.config.camera_topics, strict=True):
            pub.publish(array_to_imgmsg(frame, "rgb8", stamp_ns=self.now_ns, frame_id=topic.split("/")[-2]))

    # ------------------------------------------------------------------------------------------ episodes
    def reset(
        self, init_state: np.ndarray | None = None, *, seed: int | None = None, noop_steps: int = NUM_NOOP_STEPS
    ) -> None:
        """New episode (time keeps running: sim time never goes backwards), then the original's no-op steps.
        `seed`: the scene's fixture placement (`LiberoTask.reset`)."""
        self.task.reset(init_state, seed=seed)
        self.clear_commands()
        self._gripper = -1.0
        self.now_ns += _NS  # a visible gap between episodes
        self.publish_state()
        for _ in range(noop_steps):
            self._step(np.asarray(NOOP_ACTION))
        self.task.steps = 0  # the budget counts policy steps, as in the original

    def _step(self, action: np.ndarray) -> bool:
        done = self.task.step(action)
        self.now_ns += self.dt_ns
        self.publish_state()
        return done

    def step_with(self, env_action: np.ndarray) -> bool:
        """One step with an environment action (teleoperation / expert); publishes the new state."""
        return self._step(env_action)

    def run_lockstep(
        self,
        max_steps: int,
        stop: threading.Event | None = None,
        on_observation: Callable[[int], bool] | None = None,
    ) -> EpisodeResult:
        """`on_observation(stamp_ns)` runs after each observation is published (a teleoperator answers it);
        returning False ends the episode."""
        c = self.config
        started = time.monotonic()
        chunks = 0
        status = "max_steps"
        while self.task.steps < max_steps:
            if stop is not None and stop.is_set():
                status = "stopped"
                break
            self.publish_cameras()
            stamp = self.now_ns
            if on_observation is not None and not on_observation(stamp):
                status = "teleop_finished"
                break
            chunk = None
            waited = 0.0
            while chunk is None and waited < c.chunk_timeout_sec:
                wait = min(c.resend_after_sec, c.chunk_timeout_sec - waited)
                chunk = self._take_chunk(stamp, wait)
                waited += wait
                if chunk is None and waited < c.chunk_timeout_sec:
                    self.publish_state()
                    self.publish_cameras()  # the same stamp: a lost frame is sent again
            if chunk is None:
                status = "timeout"
                break
            chunks += 1
            for row in chunk.actions[: c.execute_steps]:
                if self._step(self.to_env_action(row)) or self.task.steps >= max_steps:
                    break
            if self.task.done:
                status = "success"
                break
        return EpisodeResult(
            success=self.task.done,
            steps=self.task.steps,
            chunks=chunks,
            status=status,
            wall_sec=time.monotonic() - started,
        )

    def _scheduled_action(self, at_ns: int) -> np.ndarray | None:
        """The newest chunk's point scheduled for the step that starts at `at_ns` (None: hold)."""
        with self._lock:
            chunks = list(self._chunks)
        for chunk in reversed(chunks):  # a newer chunk replaces the rest of the older one
            starts = [chunk.stamp_ns + t - self.dt_ns for t in chunk.times_ns]
            if not starts or at_ns < starts[0] - self.dt_ns // 2:
                continue  # not started yet: the older chunk still runs
            if at_ns >= starts[-1] + self.dt_ns // 2:
                return None  # the newest chunk ran out: hold (an older one never resumes)
            k = int(np.searchsorted(np.asarray(starts) - self.dt_ns // 2, at_ns, side="right")) - 1
            return chunk.actions[k]
        return None

    def run_realtime(self, max_steps: int, stop: threading.Event | None = None) -> EpisodeResult:
        c = self.config
        started = time.monotonic()
        next_tick = started
        held = 0
        received_before = self.received
        sim_start = self.now_ns
        status = "max_steps"
        while self.task.steps < max_steps:
            if stop is not None and stop.is_set():
                status = "stopped"
                break
            if self.task.steps % c.camera_period_steps == 0:
                self.publish_cameras()
            row = self._scheduled_action(self.now_ns)
            if row is None:
                held += 1
                action = np.array([0, 0, 0, 0, 0, 0, self._gripper], dtype=np.float64)
            else:
                action = self.to_env_action(row)
            if self._step(action):
                status = "success"
                break
            next_tick += self.dt_ns / _NS
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_tick = time.monotonic()  # fell behind (rendering): do not rush to catch up
        wall = time.monotonic() - started
        return EpisodeResult(
            success=self.task.done,
            steps=self.task.steps,
            chunks=self.received - received_before,
            status=status,
            wall_sec=wall,
            held_steps=held,
            real_time_factor=((self.now_ns - sim_start) / _NS) / wall if wall > 0 else 1.0,
        )
