"""Write a realistic rosbag2 test bag (cameras, joint states, end-effector pose, instruction), no robot needed.

The robot does a deterministic pick-and-place: coarse reach, slow fine approach, standstill grasp (the gripper
closes), coarse transport, fine place (the gripper opens), so an action-aware gate has fast, slow and still
segments to decide on. Joint positions follow the end effector through an approximate inverse kinematics. The
cameras render a textured table, plates, coloured blocks and the arm; wrist cameras ride on the hand (closer,
faster-moving views). Header stamps precede log times by a few ms of sensor latency with jitter.
The task (arms, kinematics, trajectory) is in `synth_task.py`, the rendering in `synth_scene.py`; this module
holds the options, the sensor timelines, the messages and the CLI.

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
from adp_ros.core.stamps import sec_nanosec
from adp_ros.ros.image_conversion import array_to_imgmsg
from adp_ros.tools.bags.storage import STORAGES
from adp_ros.tools.bags.summary import BagSummary
from adp_ros.tools.bags.synth_scene import build_scene, wrist_camera
from adp_ros.tools.bags.synth_task import PHASES, ArmState, quaternion_down
from adp_ros.tools.bags.topic_qos import LATCHED_QOS, RELIABLE_QOS, SENSOR_DATA_QOS
from adp_ros.tools.bags.writer import BagWriter

DEFAULT_START_NS = 1_718_035_200_000_000_000
"""2024-06-10 16:00:00 UTC: a realistic epoch, so stamps look like a recording's."""

DEFAULT_INSTRUCTIONS = {
    "libero": "pick up the red block and place it on the plate",
    "aloha": "pick up the red and the blue block and place each on its plate",
}


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


# -------------------------------------------------------------------------------------------------- messages


def _set_stamp(header: Any, stamp_ns: int) -> None:
    header.stamp.sec, header.stamp.nanosec = sec_nanosec(stamp_ns)


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
    size = (options.width, options.height)
    scene, tasks, primary = build_scene(options.preset, size, np.random.default_rng(seeds[0]))
    start, duration = options.start_time_ns, options.duration_ns

    def states_at(stamp_ns: int) -> list[ArmState]:
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

    def joints(states: list[ArmState]) -> np.ndarray:
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
        orientation.x, orientation.y, orientation.z, orientation.w = quaternion_down(state.yaw - task.arm.base_yaw)
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
            pixels = scene.render(wrist_camera(states[own], size), states, None, image_noise, own)
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
