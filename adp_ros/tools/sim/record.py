"""`adp-ros sim record`: demonstrations of a scripted expert, recorded through the bridge as rosbag2 (mcap).

The recording path is a teleoperated arm's: the expert (the "operator", who sees the scene: privileged object
positions) answers each observation with a short chunk of commands on the same `MultiDOFJointTrajectory` topic
the policy node uses; the bridge executes them; a bag recorder subscribed to the robot's topics writes cameras,
joint states, end-effector pose and commands. Episodes start from the environment's own randomised placement
(seeded), never from the suite's evaluation init states, so evaluation on those measures generalisation.

One bag per successful episode (`OUT/episode_0000/`), and `OUT/manifest.jsonl` with every attempt (seed,
success, steps, phases per step). Failed attempts are not kept. Resumable: run the same command again and it
continues after the last attempt in the manifest.

Network: when ROS_AUTOMATIC_DISCOVERY_RANGE is unset it is set to LOCALHOST; run it inside scripts/isolated
for a loopback-only network namespace (tests, demos), or pass --lan.

examples:
  scripts/isolated .venv/bin/adp-ros sim record /tmp/demos --episodes 50
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from adp_ros.core.errors import ConfigError
from adp_ros.tools.common import add_lan_argument

COMMAND_TOPIC = "/teleop/command"
MANIFEST = "manifest.jsonl"


def _read_manifest(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, metavar="OUT", help="folder for the bags and manifest.jsonl")
    parser.add_argument("--suite", default="libero_spatial", help="LIBERO suite (default libero_spatial)")
    parser.add_argument("--task", type=int, default=0, help="task index in the suite (default 0)")
    parser.add_argument("--episodes", type=int, default=50, help="successful demonstrations to keep (default 50)")
    parser.add_argument("--seed", type=int, default=1000, help="seed of the first attempt; attempt i uses seed+i")
    parser.add_argument(
        "--chunk",
        type=int,
        default=2,
        help="steps the operator commands per observation (cameras render once per chunk)",
    )
    parser.add_argument("--max-attempts", type=int, default=0, help="give up after this many attempts (0: 2×episodes)")
    add_lan_argument(parser)


def run(args: argparse.Namespace) -> int:
    from adp_ros.tools.sim.libero_env import LiberoTask, task_info

    if args.episodes < 1 or args.chunk < 1:
        raise ConfigError("--episodes and --chunk must be >= 1")
    info = task_info(args.suite, args.task)  # a clear error for an unknown suite/task or a missing simulator
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    done = _read_manifest(manifest_path)
    kept = sum(1 for d in done if d["success"])
    attempt = len(done)
    max_attempts = args.max_attempts or 2 * args.episodes
    if kept >= args.episodes:
        print(f"{out}: already {kept} demonstrations", file=sys.stderr)
        return 0
    task = LiberoTask(args.suite, args.task)
    try:
        return _record(args, info, task, out, manifest_path, kept, attempt, max_attempts)
    finally:
        task.close()


def _record(args, info, task, out: Path, manifest_path: Path, kept: int, attempt: int, max_attempts: int) -> int:
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile
    from tqdm import tqdm
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    from adp_ros.ros.outputs import chunk_to_multi_dof_trajectory
    from adp_ros.tools.bags.play import cli_context
    from adp_ros.tools.bags.record import BagRecorder, RecordOptions
    from adp_ros.tools.sim.bridge import BridgeConfig, LiberoBridge, policy_gripper
    from adp_ros.tools.sim.expert import ScriptedExpert

    config = BridgeConfig(command_topic=COMMAND_TOPIC, execute_steps=args.chunk)
    with cli_context(args.lan) as (context, interrupts):
        stop = threading.Event()
        interrupts.callbacks.append(stop.set)
        node = Node("libero_bridge", context=context)
        teleop = Node("scripted_teleop", context=context)
        bridge = LiberoBridge(node, task, config)
        command_pub = teleop.create_publisher(MultiDOFJointTrajectory, COMMAND_TOPIC, QoSProfile(depth=10))
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        executor.add_node(teleop)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        topics = (*config.camera_topics, config.joint_states_topic, config.eef_pose_topic, COMMAND_TOPIC)
        topics = tuple(node.resolve_topic_name(t) for t in topics)
        bar = tqdm(total=args.episodes, initial=kept, desc="demonstrations", unit="demo")
        try:
            while kept < args.episodes and attempt < max_attempts and not stop.is_set():
                seed = args.seed + attempt
                task.seed(seed)
                bridge.reset(None)
                expert = ScriptedExpert.for_goal(task.goal_predicates())
                phases: list[str] = []
                episode_dir = out / f"episode_{kept:04d}"
                if episode_dir.exists():
                    shutil.rmtree(episode_dir)  # a half-written bag of an interrupted attempt
                recorder = BagRecorder(episode_dir, RecordOptions(topics=topics, storage="mcap"), context=context)
                recorder.start()
                rec_exec = SingleThreadedExecutor(context=context)
                rec_exec.add_node(recorder.node)
                rec_thread = threading.Thread(target=rec_exec.spin, daemon=True)
                rec_thread.start()

                def answer(stamp_ns: int, expert: Any = expert, phases: list[str] = phases) -> bool:
                    # The operator looks once per observation and commands `chunk` steps from what it saw.
                    eef, objects = task.robot_state().eef_pos, task.object_positions()
                    rows = []
                    for _ in range(args.chunk):
                        action = expert.act(eef, objects)
                        phases.append(expert.phase)
                        rows.append([*action[:6], policy_gripper(action[6])])
                    if expert.finished:
                        return False
                    command_pub.publish(
                        chunk_to_multi_dof_trajectory(
                            np.asarray(rows),
                            stamp_ns=stamp_ns,
                            dt_ns=bridge.dt_ns,
                            translation_scale=config.translation_scale,
                            rotation_scale=config.rotation_scale,
                            frame_id=config.frame_id,
                        )
                    )
                    return True

                result = bridge.run_lockstep(info.max_steps, stop, on_observation=answer)
                rec_exec.shutdown(timeout_sec=1.0)
                recorder.stop()
                recorder.close()
                record = {
                    "attempt": attempt,
                    "seed": seed,
                    "success": result.success,
                    "steps": result.steps,
                    "status": result.status,
                    "suite": info.suite,
                    "task": info.index,
                    "instruction": info.instruction,
                    "bag": episode_dir.name if result.success else None,
                    "chunk": args.chunk,
                    "phases": phases,
                }
                if result.status == "stopped":
                    shutil.rmtree(episode_dir, ignore_errors=True)
                    break
                if result.success:
                    kept += 1
                    bar.update(1)
                else:
                    shutil.rmtree(episode_dir, ignore_errors=True)
                with manifest_path.open("a") as f:
                    f.write(json.dumps(record) + "\n")
                attempt += 1
                bar.set_postfix(attempts=attempt, steps=result.steps)
        finally:
            bar.close()
            executor.shutdown(timeout_sec=1.0)
    print(f"{kept} demonstrations in {out} ({attempt} attempts)")
    return 0 if kept >= args.episodes else 1
