"""`adp-ros sim eval`: the real `adp_node` drives the simulated LIBERO arm through ROS 2; success per mode.

One loopback-only ROS graph: this process runs the bridge (the simulated arm: cameras, joint states, pose,
/clock; executes the node's commands) and starts the node's console script as a child process, with the LIBERO
preset plus overrides (use_sim_time, the task's instruction, the model). Per episode the node is deactivated,
the arm reset to the suite's init state (plus the original's 10 no-op steps), then the node is activated and its
commands enabled: a fresh gate, scheduler and chunk queue every episode. Modes change through live parameters.

Modes: dense | adp[:ρ] (the gate decides per chunk) | static:ρ | random:ρ | fastv:ρ | blind (dense, the bridge
publishes black frames: does the policy use vision at all?). Timing: lockstep (default; the original
evaluation's semantics, the node on `control.mode: on_observation`) or --realtime (the arm keeps moving while
the policy thinks; `chunk_end` scheduling).

With a released LIBERO checkpoint (`--model DIR`, unnorm key = suite name, `_no_noops` when present, as the
original) and a GPU this runs the original evaluation protocol (256 px frames turned upright by the bridge,
8-D proprio, 10 no-ops, binarised and inverted gripper, 8 steps open loop, the suite's step budget and init
states). Without --model it evaluates the committed tiny policy (trained here on scripted demonstrations of
libero_spatial task 0; see `models/README.md`).

Outputs in --out: summary.json / summary.csv / summary.md (one row per mode × timing), episodes.jsonl (one
record per episode, with per-chunk latency, keep ratio and gate decisions), success.png, and with --video N the
first N episodes of each mode as MP4 (the wrist-less third-person view with the pruned patches shaded, from the
node's debug image). Resumable: finished episodes in episodes.jsonl are skipped when the same command runs again.

Network: when ROS_AUTOMATIC_DISCOVERY_RANGE is unset it is set to LOCALHOST for this process and the node; run
inside scripts/isolated for a loopback-only namespace (make demo does).

examples:
  scripts/isolated .venv/bin/adp-ros sim eval --episodes 20 --modes dense,adp,static:0.5,random:0.3,blind --out /tmp/e
  scripts/isolated .venv/bin/adp-ros sim eval --model ~/ckpt/openvla-7b-oft-finetuned-libero-spatial \\
      --suite libero_spatial --tasks 0,1,2 --episodes 50 --modes dense,adp --out /tmp/e
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adp_ros.core.errors import AdpRosError, CheckpointError, ConfigError
from adp_ros.core.pruning import PRUNE_MODES, validate_keep_ratio
from adp_ros.tools.common import add_lan_argument, int_list
from adp_ros.tools.sim.results import episode_record, markdown_table, write_outputs

NODE = "/adp_policy_node"
EPISODES_FILE = "episodes.jsonl"


# ------------------------------------------------------------------------------------------------ modes
@dataclass(frozen=True)
class EvalMode:
    name: str
    """As written on the command line: dense, adp, adp:0.3, static:0.5, blind, ..."""
    prune_mode: str
    keep_ratio: float
    blind: bool = False

    @classmethod
    def parse(cls, text: str, default_keep: float = 0.5) -> EvalMode:
        name = text.strip()
        kind, _, ratio = name.partition(":")
        if kind == "blind":
            if ratio:
                raise ConfigError("blind takes no keep ratio (it runs dense on black frames)")
            return cls(name, "dense", 1.0, blind=True)
        if kind not in PRUNE_MODES:
            raise ConfigError(
                f"unknown mode {kind!r} in --modes; use {', '.join(PRUNE_MODES)} or blind (e.g. static:0.5)"
            )
        if kind == "dense":
            return cls(name, "dense", 1.0)
        try:
            keep = float(ratio) if ratio else default_keep
            validate_keep_ratio(keep)
        except (ValueError, ConfigError):
            raise ConfigError(f"mode {name!r}: the keep ratio after ':' must be in (0, 1], e.g. {kind}:0.5") from None
        return cls(name if ratio else f"{kind}:{keep:g}", kind, keep)


def parse_modes(text: str) -> list[EvalMode]:
    modes = [EvalMode.parse(m) for m in text.split(",") if m.strip()]
    if not modes:
        raise ConfigError("--modes is empty; e.g. --modes dense,adp,static:0.5")
    names = [m.name for m in modes]
    if len(set(names)) != len(names):
        raise ConfigError(f"--modes repeats a mode: {names}")
    return modes


# ------------------------------------------------------------------------------------------- checkpoint
def package_file(relative: str) -> Path:
    """A file installed to share/adp_ros: found through the ament index, else next to this interpreter's
    installation (`pip install` puts the data files under sys.prefix/share/adp_ros, found even without
    AMENT_PREFIX_PATH), else in the source tree."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("adp_ros")))
    except (ImportError, LookupError, ValueError, OSError):  # no index (AMENT_PREFIX_PATH unset), no package
        pass
    candidates += [Path(sys.prefix) / "share" / "adp_ros", Path(__file__).resolve().parents[3]]
    for root in candidates:
        if (root / relative).exists():
            return root / relative
    return candidates[-1] / relative


def default_model() -> Path:
    """The committed tiny policy (models/ in the source tree, share/adp_ros/models when installed)."""
    return package_file("models/libero_spatial_task0_tiny")


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    unnorm_key: str
    llm_layers: int


def preflight_model(path: Path, suite: str, unnorm_key: str | None) -> ModelInfo:
    """Fail before the simulator starts: missing files, action/proprio dims that the LIBERO arm cannot take,
    statistics without the suite's key."""
    import torch

    from adp_ros.core.platform import LIBERO
    from adp_ros.model.loader import CheckpointFiles, load_heads
    from adp_ros.model.openvla_oft import VlaArchitecture

    files = CheckpointFiles.discover(path)
    arch = VlaArchitecture.from_dir(files.directory)
    try:
        load_heads(files, arch.llm.hidden_size, LIBERO, torch.device("cpu"), torch.float32)
    except AdpRosError as exc:
        raise CheckpointError(
            f"{path} does not fit the LIBERO arm (7-D delta end-effector actions + gripper, 8-D proprio): {exc}"
        ) from None
    keys: list[str] = []
    if files.dataset_statistics is not None:
        keys = list(json.loads(files.dataset_statistics.read_text()))
    if unnorm_key is None:
        # The original evaluation: the suite name, with `_no_noops` when the checkpoint has that key.
        unnorm_key = f"{suite}_no_noops" if f"{suite}_no_noops" in keys else suite
    if keys and unnorm_key not in keys:
        raise CheckpointError(
            f"{path}/dataset_statistics.json has no {unnorm_key!r} (it has {keys}); pass --unnorm-key"
        )
    return ModelInfo(Path(path), unnorm_key, arch.llm.num_hidden_layers)


# ------------------------------------------------------------------------------------------- the node
def node_command(model: ModelInfo, instruction: str, realtime: bool, extra: list[str]) -> list[str]:
    exe = Path(sys.executable).with_name("adp_node")
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "adp_ros.ros.main"]
    overrides = {
        "use_sim_time": "true",
        "model.checkpoint": str(model.path),
        "model.unnorm_key": model.unnorm_key,
        "task.instruction": instruction,
        "control.mode": "chunk_end" if realtime else "on_observation",
        "diagnostics.debug_image": "true",
        "output.frame_id": "world",  # the bridge's frame (robosuite's world; the preset names a real Franka's base)
        "pruning.fastv_layer": str(min(2, max(1, model.llm_layers - 1))),
    }
    args = [*base, "--ros-args", "--params-file", str(package_file("config/libero.yaml"))]
    for key, value in overrides.items():
        args += ["-p", f"{key}:={value}"]
    for item in extra:
        args += ["-p", item]
    return args


class NodeClient:
    """Lifecycle, parameters and ~/enable of the node under test, through its services."""

    def __init__(self, node: Any) -> None:
        from lifecycle_msgs.srv import ChangeState, GetState
        from rcl_interfaces.srv import SetParameters
        from std_srvs.srv import SetBool

        self.node = node
        self.change = node.create_client(ChangeState, f"{NODE}/change_state")
        self.get = node.create_client(GetState, f"{NODE}/get_state")
        self.params = node.create_client(SetParameters, f"{NODE}/set_parameters")
        self.enable_client = node.create_client(SetBool, f"{NODE}/enable")

    def _call(self, client: Any, request: Any, timeout: float = 120.0) -> Any:
        future = client.call_async(request)
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                raise AdpRosError(f"{client.srv_name} did not answer within {timeout:.0f} s")
            time.sleep(0.005)
        return future.result()

    def wait_ready(self, process: subprocess.Popen, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for client in (self.change, self.get, self.params, self.enable_client):
            while not client.wait_for_service(timeout_sec=0.2):
                if process.poll() is not None:
                    raise AdpRosError(f"adp_node exited with code {process.returncode} before it was ready")
                if time.monotonic() > deadline:
                    raise AdpRosError(f"adp_node's {client.srv_name} did not appear within {timeout:.0f} s")

    def state(self) -> str:
        from lifecycle_msgs.srv import GetState

        return self._call(self.get, GetState.Request()).current_state.label

    def transition(self, label: str) -> None:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        ids = {
            "configure": Transition.TRANSITION_CONFIGURE,
            "activate": Transition.TRANSITION_ACTIVATE,
            "deactivate": Transition.TRANSITION_DEACTIVATE,
            "cleanup": Transition.TRANSITION_CLEANUP,
        }
        request = ChangeState.Request()
        request.transition.id = ids[label]
        if not self._call(self.change, request).success:
            raise AdpRosError(f"adp_node refused to {label} (its log above says why)")

    def set(self, values: dict[str, Any]) -> None:
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        request = SetParameters.Request()
        request.parameters = [Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]
        for (key, _), result in zip(values.items(), self._call(self.params, request).results, strict=True):
            if not result.successful:
                raise ConfigError(f"adp_node rejected {key}: {result.reason}")

    def enable(self) -> None:
        from std_srvs.srv import SetBool

        response = self._call(self.enable_client, SetBool.Request(data=True))
        if not response.success:
            raise AdpRosError(f"adp_node refused ~/enable: {response.message}")


class ChunkLog:
    """The node's per-chunk latency diagnostics, for the episode records."""

    def __init__(self, node: Any) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        self._lock = threading.Lock()
        self._records: list[dict[str, str]] = []
        qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.sub = node.create_subscription(DiagnosticArray, f"{NODE}/latency", self._on_latency, qos)

    def _on_latency(self, msg: Any) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if "chunk_index" in values:
                with self._lock:
                    self._records.append(values)
            elif values.get("event"):
                with self._lock:
                    self._records.append({"skipped": values.get("event", ""), "reason": status.message})

    def take(self) -> list[dict[str, str]]:
        with self._lock:
            records, self._records = self._records, []
        return records


class VideoWriter:
    """The node's debug image (the policy's view with pruned patches shaded), one MP4 per episode."""

    def __init__(self, node: Any) -> None:
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        self._frames: list[np.ndarray] = []
        self.active = False
        self.sub = node.create_subscription(Image, f"{NODE}/debug_image", self._on_image, qos_profile_sensor_data)

    def _on_image(self, msg: Any) -> None:
        if self.active:
            from adp_ros.ros.image_conversion import imgmsg_to_rgb8

            self._frames.append(np.array(imgmsg_to_rgb8(msg)))

    def start(self) -> None:
        self._frames = []
        self.active = True

    def finish(self, path: Path, fps: float = 2.5) -> Path | None:
        import cv2

        self.active = False
        if not self._frames:
            return None
        h, w, _ = self._frames[0].shape
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        for frame in self._frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        return path


# ---------------------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, help="checkpoint directory (default: the committed tiny policy)")
    parser.add_argument("--unnorm-key", help="dataset statistics key (default: the suite, + _no_noops if present)")
    parser.add_argument("--suite", default="libero_spatial", help="LIBERO suite (default libero_spatial)")
    parser.add_argument("--tasks", type=int_list, default=[0], help="task indices, comma-separated (default 0)")
    parser.add_argument("--episodes", type=int, default=20, help="episodes per task and mode (default 20)")
    parser.add_argument(
        "--init-states",
        type=int_list,
        help="the suite's init-state indices, one episode each (default 0..N-1 with N = --episodes)",
    )
    parser.add_argument(
        "--modes",
        default="dense,adp,static:0.5,random:0.3,blind",
        help="comma-separated: dense, adp[:ρ], "
        "static:ρ, random:ρ, fastv:ρ, blind (default dense,adp,static:0.5,random:0.3,blind)",
    )
    parser.add_argument("--realtime", action="store_true", help="real-time timing instead of lockstep")
    parser.add_argument(
        "--camera-period",
        type=int,
        default=4,
        metavar="STEPS",
        help="realtime: publish the cameras every this many 50 ms steps (default 4: 5 Hz; rendering costs ~0.3 s "
        "a frame pair on 2 cores, so faster cameras slow the simulation down)",
    )
    parser.add_argument("--max-steps", type=int, help="step budget per episode (default: the suite's, as the original)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (resumable)")
    parser.add_argument("--overwrite", action="store_true", help="discard the episodes already in --out")
    parser.add_argument("--video", type=int, default=0, metavar="N", help="write MP4s of the first N episodes per mode")
    parser.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME:=VALUE", help="extra node parameter (repeatable)"
    )
    parser.add_argument("--node-log", action="store_true", help="show the node's log (default: OUT/node.log)")
    add_lan_argument(parser)


def run(args: argparse.Namespace) -> int:
    from adp_ros.tools.sim.libero_env import import_libero, task_info

    modes = parse_modes(args.modes)
    if args.episodes < 1:
        raise ConfigError("--episodes must be >= 1")
    import_libero()  # one clear line when the simulator is missing, before anything starts
    infos = [task_info(args.suite, t) for t in args.tasks]
    init_ids = list(args.init_states) if args.init_states else list(range(args.episodes))
    if len(set(init_ids)) != len(init_ids):
        raise ConfigError(f"--init-states repeats an index: {init_ids} (each episode starts from a different one)")
    for info in infos:
        bad = [i for i in init_ids if not 0 <= i < info.num_init_states]
        if bad:
            raise ConfigError(
                f"init states {bad} do not exist: {info.suite} task {info.index} has 0..{info.num_init_states - 1}"
            )
    model_path = args.model if args.model is not None else default_model()
    if not model_path.exists():
        raise CheckpointError(f"{model_path} does not exist; pass --model DIR")
    model = preflight_model(model_path, args.suite, args.unnorm_key)
    for item in args.param:
        if ":=" not in item:
            raise ConfigError(f"-p {item!r}: write NAME:=VALUE")
    if args.max_steps is not None and args.max_steps < 1:
        raise ConfigError("--max-steps must be >= 1")
    if args.camera_period < 1:
        raise ConfigError("--camera-period must be >= 1 step")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.overwrite:
        for old in [out / EPISODES_FILE, *out.glob("*.mp4")]:
            old.unlink(missing_ok=True)
    from adp_ros.tools.bags.play import apply_network_default

    apply_network_default(args.lan)
    return Evaluation(args, modes, infos, init_ids, model, out).run()


class Evaluation:
    def __init__(self, args, modes, infos, init_ids, model: ModelInfo, out: Path) -> None:
        self.args, self.modes, self.infos, self.init_ids, self.model, self.out = (
            args,
            modes,
            infos,
            init_ids,
            model,
            out,
        )
        self.timing = "realtime" if args.realtime else "lockstep"
        self.records_path = out / EPISODES_FILE
        self.records = (
            [json.loads(x) for x in self.records_path.read_text().splitlines()] if self.records_path.exists() else []
        )
        self.protocol = {
            "suite": args.suite,
            "tasks": [i.index for i in infos],
            "instructions": [i.instruction for i in infos],
            "init_states": init_ids,
            "max_steps": args.max_steps or infos[0].max_steps,
            "model": str(model.path),
            "unnorm_key": model.unnorm_key,
            "timing": self.timing,
            "camera_period_steps": args.camera_period if args.realtime else None,
            "noop_steps": 10,
            "execute_steps": 8,
            "scene_seed": "init state index",
            "node_params": list(args.param),
        }

    def _done(self, mode: EvalMode, task: int, init_state: int) -> bool:
        return any(
            r["mode"] == mode.name
            and r["timing"] == self.timing
            and r["task"] == task
            and r["init_state"] == init_state
            for r in self.records
        )

    def run(self) -> int:
        from tqdm import tqdm

        todo = [
            (m, info, i)
            for info in self.infos
            for m in self.modes
            for i in self.init_ids
            if not self._done(m, info.index, i)
        ]
        if not todo:
            rows = write_outputs(self.out, self.records, self.protocol)
            print(markdown_table(rows), end="")
            return 0
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        from adp_ros.tools.bags.play import cli_context
        from adp_ros.tools.sim.bridge import BridgeConfig, LiberoBridge
        from adp_ros.tools.sim.libero_env import LiberoTask, init_states

        log = None if self.args.node_log else (self.out / "node.log").open("a")
        process = None
        task = None
        with cli_context(self.args.lan) as (context, interrupts):
            stop = threading.Event()
            interrupts.callbacks.append(stop.set)
            node = rclpy.create_node("libero_bridge", context=context)
            executor = SingleThreadedExecutor(context=context)
            executor.add_node(node)
            spinner = threading.Thread(target=executor.spin, daemon=True)
            spinner.start()
            client = NodeClient(node)
            chunk_log = ChunkLog(node)
            video = VideoWriter(node)
            current_task = None
            bar = tqdm(total=len(todo), desc=f"episodes ({self.timing})", unit="ep")
            try:
                for mode, info, init_index in todo:
                    if stop.is_set():
                        break
                    if current_task != info.index:
                        if process is not None:
                            _stop_process(process)
                        if task is not None:
                            task.close()
                        task = LiberoTask(info.suite, info.index)
                        states = init_states(info.suite, info.index)
                        config = BridgeConfig(timing=self.timing, camera_period_steps=self.args.camera_period)
                        bridge = LiberoBridge(node, task, config)
                        command = node_command(self.model, info.instruction, self.args.realtime, self.args.param)
                        process = subprocess.Popen(
                            command,
                            stdout=log or None,
                            stderr=subprocess.STDOUT if log else None,
                            env=os.environ.copy(),
                        )
                        client.wait_ready(process)
                        client.transition("configure")
                        current_task = info.index
                        active_mode = None
                    if active_mode != mode.name:
                        if client.state() == "active":
                            client.transition("deactivate")
                        client.set({"pruning.mode": mode.prune_mode, "pruning.keep_ratio": float(mode.keep_ratio)})
                        active_mode = mode.name
                    bridge.config = BridgeConfig(
                        timing=self.timing, blind=mode.blind, camera_period_steps=self.args.camera_period
                    )
                    if client.state() == "active":
                        client.transition("deactivate")
                    # Seeded by the init-state index: the scene of an episode never depends on what ran before
                    # it (the original seeds 0 once per task: its episode 0 is this one), so modes are paired.
                    bridge.reset(states[init_index], seed=init_index)
                    chunk_log.take()
                    episode_index = sum(
                        1 for r in self.records if r["mode"] == mode.name and r["timing"] == self.timing
                    )
                    record_video = episode_index < self.args.video
                    if record_video:
                        video.start()
                    client.transition("activate")
                    client.enable()
                    budget = self.args.max_steps or info.max_steps
                    if self.args.realtime:
                        result = bridge.run_realtime(budget, stop)
                    else:
                        result = bridge.run_lockstep(budget, stop)
                    client.transition("deactivate")
                    time.sleep(0.05)
                    if result.status == "stopped":
                        break
                    record = episode_record(mode, self.timing, info.index, init_index, result, chunk_log.take())
                    if record_video:
                        name = f"{mode.name.replace(':', '_')}_{self.timing}_task{info.index}_init{init_index}.mp4"
                        path = video.finish(self.out / name)
                        record["video"] = path.name if path else None
                    self.records.append(record)
                    with self.records_path.open("a") as f:
                        f.write(json.dumps(record) + "\n")
                    bar.update(1)
                    done = [r for r in self.records if r["mode"] == mode.name and r["timing"] == self.timing]
                    bar.set_postfix(mode=mode.name, success=f"{sum(r['success'] for r in done)}/{len(done)}")
            except AdpRosError as exc:
                where = "above" if log is None else f"in {self.out / 'node.log'}"
                raise type(exc)(f"{exc}; the node's log is {where}; finished episodes are kept") from None
            finally:
                bar.close()
                if process is not None:
                    _stop_process(process)
                if task is not None:
                    task.close()
                executor.shutdown(timeout_sec=1.0)
                if log is not None:
                    log.close()
        rows = write_outputs(self.out, self.records, self.protocol)
        print(markdown_table(rows), end="")
        print(f"results: {self.out / 'summary.md'}, {self.out / 'summary.json'}, {self.out / 'success.png'}")
        return 0 if not stop.is_set() else 130


def _stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(2)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
