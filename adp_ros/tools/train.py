"""Train a tiny OpenVLA-OFT-architecture checkpoint on the CPU from demonstration bags (rosbag2).

A tool for tests and demos, NOT a replacement for OFT's GPU fine-tuning of the 7B model: it trains the
project's tiny architecture (both vision towers, projector, Llama decoder with bidirectional attention,
proprio projector, L1 action head) from scratch on a few dozen demonstrations of one task, so the closed loop
has a policy that actually solves something here. The output is a checkpoint in the released layout that loads
through the normal path (`adp_node`, `adp-ros predict`, `adp-ros sim eval --model`).

Input: bags as a teleoperated arm would record them, e.g. by `adp-ros sim record` (cameras, joint states,
end-effector pose, commands as `MultiDOFJointTrajectory` of delta end-effector actions + gripper). Each camera
frame becomes one sample: the frames, the proprio at its stamp (eef xyz + axis-angle + finger joints, as the
node builds it) and the next chunk_len commanded steps (the last one repeated at the episode's end).
Statistics (q01/q99, gripper unnormalised) go into `dataset_statistics.json` under --unnorm-key.

Resumable: OUT/train_state.pt is written every --save-every steps; run the same command again to continue.
OUT/checkpoint/ is refreshed at each save, OUT/loss.csv and OUT/loss.png hold the curve, OUT/provenance.json
the command, data, seed and git revision.

examples:
  adp-ros train .cache/sim/demos_spatial0 --out .cache/sim/train --steps 6000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from adp_ros.core.errors import ConfigError
from adp_ros.tools.sim.bridge import BridgeConfig
from adp_ros.tools.sim.libero_env import CONTROL_HZ, FINGER_JOINTS
from adp_ros.tools.sim.record import COMMAND_TOPIC

# The recorded robot's topics and command conventions: those of the simulated arm (`adp-ros sim record`).
_BRIDGE = BridgeConfig()
CAMERA_TOPICS = tuple(f"/{t}" for t in _BRIDGE.camera_topics)
JOINT_TOPIC = f"/{_BRIDGE.joint_states_topic}"
POSE_TOPIC = f"/{_BRIDGE.eef_pose_topic}"


def episode_samples(bag_dir: Path, chunk_len: int, image_size: int) -> tuple[list, list, list]:
    """(images, proprio, action chunks) of one recorded episode."""
    from adp_ros.core.stamps import stamp_ns_of
    from adp_ros.model.preprocess import resize_for_policy
    from adp_ros.ros.image_conversion import imgmsg_to_rgb8
    from adp_ros.ros.inputs import JointSelector, pose_to_xyz_axis_angle
    from adp_ros.ros.outputs import multi_dof_trajectory_to_chunk
    from adp_ros.tools.bags.reader import BagReader

    frames: dict[int, dict[str, np.ndarray]] = {}
    poses: dict[int, np.ndarray] = {}
    fingers: dict[int, np.ndarray] = {}
    steps: dict[int, np.ndarray] = {}
    select = JointSelector(FINGER_JOINTS)
    dt_ns = round(1e9 / CONTROL_HZ)
    with BagReader(bag_dir) as bag:
        for topic, _, msg in bag.messages([*CAMERA_TOPICS, JOINT_TOPIC, POSE_TOPIC, COMMAND_TOPIC]):
            stamp = stamp_ns_of(msg)
            if topic in CAMERA_TOPICS:
                frames.setdefault(stamp, {})[topic] = resize_for_policy(imgmsg_to_rgb8(msg), image_size)
            elif topic == POSE_TOPIC:
                poses[stamp] = pose_to_xyz_axis_angle(msg)
            elif topic == JOINT_TOPIC:
                fingers[stamp] = select(msg)
            else:
                actions, times = multi_dof_trajectory_to_chunk(
                    msg,
                    eef_joint_name=_BRIDGE.eef_joint_name,
                    gripper_joint_name=_BRIDGE.gripper_joint_name,
                    translation_scale=_BRIDGE.translation_scale,
                    rotation_scale=_BRIDGE.rotation_scale,
                )
                for row, t in zip(actions, times, strict=True):  # point k executes during [t - dt, t)
                    steps[stamp + t - dt_ns] = row
    if not steps:
        raise ConfigError(f"{bag_dir}: no commands on {COMMAND_TOPIC}")
    times = np.array(sorted(steps))
    images, proprio, chunks = [], [], []
    for stamp, cams in sorted(frames.items()):
        if len(cams) != len(CAMERA_TOPICS) or stamp not in poses or stamp not in fingers:
            continue
        k = int(np.searchsorted(times, stamp))
        if k >= len(times) or times[k] != stamp:
            continue
        rows = [steps[t] for t in times[k : k + chunk_len]]
        rows += [rows[-1]] * (chunk_len - len(rows))
        images.append(np.stack([cams[t] for t in CAMERA_TOPICS]))
        proprio.append(np.concatenate([poses[stamp], fingers[stamp]]))
        chunks.append(np.stack(rows))
    return images, proprio, chunks


def load_training_set(demos: list[Path], cache: Path, platform, image_size: int):
    from tqdm import tqdm

    from adp_ros.model.training import TrainingSet

    if cache.exists():
        return TrainingSet.load(cache)
    kept = []
    for folder in demos:
        manifest = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines() if line.strip()]
        kept += [(folder, m) for m in manifest if m["success"] and m["bag"]]
    if not kept:
        raise ConfigError(f"{', '.join(map(str, demos))}: manifest.jsonl lists no successful episode")
    instructions = {m["instruction"] for _, m in kept}
    if len(instructions) != 1:
        raise ConfigError(f"one task per training run; the demos hold {sorted(instructions)}")
    images, proprio, actions, episodes = [], [], [], []
    for i, (folder, m) in enumerate(tqdm(kept, desc="reading bags", unit="bag")):
        im, pr, ac = episode_samples(folder / m["bag"], platform.chunk_len, image_size)
        images += im
        proprio += pr
        actions += ac
        episodes += [i] * len(im)
    data = TrainingSet(
        images=np.stack(images),
        proprio=np.stack(proprio),
        actions=np.stack(actions),
        episodes=np.asarray(episodes),
        instruction=instructions.pop(),
    )
    data.save(cache)
    return data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "demos", type=Path, nargs="+", metavar="DEMOS", help="folder(s) of `adp-ros sim record` (manifest.jsonl + bags)"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="training folder (resumable); the result is OUT/checkpoint"
    )
    parser.add_argument("--steps", type=int, default=6000, help="optimizer steps in all (default 6000)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4, help="peak learning rate (AdamW, warm-up then cosine)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-every", type=int, default=250, help="steps between resumable saves")
    parser.add_argument(
        "--unnorm-key", default="libero_spatial", help="dataset_statistics.json key (default libero_spatial)"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--max-minutes", type=float, default=0, help="stop (resumably) after this long")


def _git_revision() -> str:
    """HEAD of the source tree this runs from, with `+dirty` when it has uncommitted changes."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False, cwd=here)
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=False, cwd=here)
    except OSError:
        return "unknown"
    revision = head.stdout.strip() or "unknown"
    return revision + ("+dirty" if head.returncode == 0 and dirty.stdout.strip() else "")


def _plot(rows: list[list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arr = np.asarray(rows)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(arr[:, 0], arr[:, 1], lw=0.6, alpha=0.6, label="train L1 (batch, 50-step mean)")
    held = arr[~np.isnan(arr[:, 2])]
    if len(held):
        ax.plot(held[:, 0], held[:, 2], "o-", ms=3, label="held-out episodes L1")
    ax.set_xlabel("step")
    ax.set_ylabel("L1 (normalised actions)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from adp_ros.core.platform import LIBERO, POLICY_IMAGE_SIZE
    from adp_ros.model.tiny import make_tiny_checkpoint
    from adp_ros.model.training import STATE_FILE, OftTrainer, TrainConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for folder in args.demos:
        if not (folder / "manifest.jsonl").exists():
            raise ConfigError(f"{folder} holds no manifest.jsonl: record demonstrations with `adp-ros sim record`")
    data = load_training_set(args.demos, out / "samples.npz", LIBERO, POLICY_IMAGE_SIZE)
    init = out / "init"
    if not init.exists():
        make_tiny_checkpoint(init, LIBERO)  # random weights, tiny tokenizer, released layout
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    trainer = OftTrainer(init, LIBERO, data, config)
    # Two episodes held out to watch over-fitting (the loss on them is reported, never trained on).
    episodes = np.unique(data.episodes)
    held = np.isin(data.episodes, episodes[-2:]) if len(episodes) > 4 else np.zeros(len(data.episodes), bool)
    held_idx = np.flatnonzero(held)[::3]
    train_idx = np.flatnonzero(~held)
    state_path = out / STATE_FILE
    if state_path.exists():
        trainer.load_state(state_path)
    log_path = out / "loss.csv"
    rows = []
    if log_path.exists() and trainer.step:
        rows = [
            [float(v) if v else float("nan") for v in line.split(",")] for line in log_path.read_text().splitlines()[1:]
        ]
        rows = [r for r in rows if r[0] <= trainer.step]
    provenance = {
        "command": f"adp-ros train {' '.join(map(str, args.demos))} --out {out} --steps {args.steps} "
        f"--batch-size {args.batch_size} --lr {args.lr} --seed {args.seed} --unnorm-key {args.unnorm_key}",
        "demos": [str(d) for d in args.demos],
        "episodes": len(episodes),
        "held_out_episodes": [int(e) for e in episodes[-2:]] if held.any() else [],
        "samples": len(data.images),
        "instruction": data.instruction,
        "config": asdict(config),
        "git_revision": _git_revision(),
        "torch": torch.__version__,
        "unnorm_key": args.unnorm_key,
    }
    (out / "provenance.json").write_text(json.dumps(provenance, indent=2, default=str))
    started = time.monotonic()
    recent: list[float] = []
    bar = tqdm(total=config.steps, initial=trainer.step, desc="training", unit="step")

    def save() -> None:
        trainer.save_state(state_path)
        trainer.export(out / "checkpoint", args.unnorm_key)
        header = "step,train_l1,heldout_l1\n"
        log_path.write_text(header + "\n".join(",".join("" if np.isnan(v) else f"{v:.6g}" for v in r) for r in rows))
        if rows:
            _plot(rows, out / "loss.png")

    try:
        while trainer.step < config.steps:
            loss = trainer.train_step(train_idx)
            recent.append(loss)
            bar.update(1)
            if trainer.step % 50 == 0:
                heldout = float("nan")
                if trainer.step % args.save_every == 0 and len(held_idx):
                    heldout = trainer.eval_loss(held_idx)
                rows.append([trainer.step, float(np.mean(recent)), heldout])
                bar.set_postfix(l1=f"{np.mean(recent):.4f}", heldout=f"{heldout:.4f}")
                recent = []
            if trainer.step % args.save_every == 0:
                save()
            if args.max_minutes and time.monotonic() - started > args.max_minutes * 60:
                break
    finally:
        bar.close()
    save()
    done = trainer.step >= config.steps
    print(f"{'finished' if done else 'paused'} at step {trainer.step}/{config.steps}: {out / 'checkpoint'}")
    return 0
