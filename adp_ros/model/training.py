"""Training an OpenVLA-OFT-architecture policy at tiny size on the CPU: for tests and demos, not a replacement
for OFT's GPU fine-tuning of the 7B model.

What it keeps from OFT: parallel decoding with bidirectional attention over [BOS | vision | proprio | prompt |
zeroed action placeholders | stop] (the same `build_llm_inputs` and readout the policy runs), the L1 regression
head on normalised action chunks, the proprio projector, q01/q99 statistics with the gripper left unnormalised
(LIBERO's mask), random 90 %-area crops in training and the centre crop at inference. The result is saved in
the released layout and loads through the normal path (`OftPolicy`).
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from adp_ros.core.errors import ConfigError
from adp_ros.core.normalization import Bounds, normalize_proprio
from adp_ros.core.platform import CENTER_CROP_AREA, PlatformConfig
from adp_ros.model.loader import CheckpointFiles, load_heads, load_image_normalization, load_vla
from adp_ros.model.openvla_oft import VlaArchitecture
from adp_ros.model.prompt import STOP_ID, PromptTokenizer, finalize_prompt_ids
from adp_ros.model.sequence import build_llm_inputs

WEIGHT_FILES = ("model.safetensors", "action_head--tiny_checkpoint.pt", "proprio_projector--tiny_checkpoint.pt")
STATE_FILE = "train_state.pt"


@dataclass
class TrainingSet:
    """Samples: camera frames already resized to the policy's input size (uncropped), raw proprio, raw action
    chunks (the next `chunk_len` commanded steps), and the episode each sample came from."""

    images: np.ndarray
    """(N, cameras, S, S, 3) uint8."""
    proprio: np.ndarray
    """(N, proprio_dim) float64."""
    actions: np.ndarray
    """(N, chunk_len, action_dim) float64."""
    episodes: np.ndarray
    instruction: str

    def __post_init__(self) -> None:
        n = len(self.images)
        if n == 0:
            raise ConfigError("the training set is empty: no sample had every camera, the state and a command")
        if not (len(self.proprio) == len(self.actions) == len(self.episodes) == n):
            raise ConfigError("training arrays differ in length")

    def save(self, path: Path) -> None:
        np.savez(
            path,
            images=self.images,
            proprio=self.proprio,
            actions=self.actions,
            episodes=self.episodes,
            instruction=np.asarray(self.instruction),
        )

    @classmethod
    def load(cls, path: Path) -> TrainingSet:
        with np.load(path) as z:
            return cls(z["images"], z["proprio"], z["actions"], z["episodes"], str(z["instruction"]))


def dataset_statistics(data: TrainingSet, *, unnormalized_dims: tuple[int, ...] = (-1,)) -> dict:
    """The released `dataset_statistics.json` entry: per-dimension mean/std/min/max/q01/q99 (+ mask)."""

    def block(x: np.ndarray, mask: list[bool] | None) -> dict:
        out = {
            "mean": x.mean(0).tolist(),
            "std": x.std(0).tolist(),
            "max": x.max(0).tolist(),
            "min": x.min(0).tolist(),
            "q01": np.quantile(x, 0.01, axis=0).tolist(),
            "q99": np.quantile(x, 0.99, axis=0).tolist(),
        }
        if mask is not None:
            out["mask"] = mask
        return out

    steps = data.actions[:, 0, :]  # each commanded step once
    dim = steps.shape[1]
    mask = [True] * dim
    for d in unnormalized_dims:
        mask[d] = False
    return {
        "action": block(steps, mask),
        "proprio": block(data.proprio, None),
        "num_transitions": len(steps),
        "num_trajectories": len(np.unique(data.episodes)),
    }


def normalize_actions(actions: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Inverse of `unnormalize_actions`, clipped to [-1, 1] as OFT's data pipeline does."""
    scaled = 2 * (actions - bounds.low) / (bounds.high - bounds.low + 1e-8) - 1
    return np.clip(np.where(bounds.mask, scaled, actions), -1.0, 1.0)


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 6000
    batch_size: int = 16
    lr: float = 5e-4
    warmup_steps: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    crop_area: float = CENTER_CROP_AREA
    """Random crops of this image area in training; the policy centre-crops the same area at inference."""
    seed: int = 0

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        return self.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


class OftTrainer:
    """Loads an initial checkpoint through the normal loading path, trains every module, saves the released layout."""

    def __init__(self, init_dir: Path, platform: PlatformConfig, data: TrainingSet, config: TrainConfig) -> None:
        self.platform = platform
        self.config = config
        self.init_dir = Path(init_dir)
        files = CheckpointFiles.discover(self.init_dir)
        self.arch = VlaArchitecture.from_dir(files.directory)
        device, dtype = torch.device("cpu"), torch.float32
        self.head, self.proprio_projector = load_heads(files, self.arch.llm.hidden_size, platform, device, dtype)
        self.vla = load_vla(files, self.arch, device, dtype)
        self.image_norm = load_image_normalization(files)
        self.modules = [self.vla, self.head, self.proprio_projector]
        for m in self.modules:
            m.train().requires_grad_(True)
        self.data = data
        self.stats = dataset_statistics(data)
        self.action_bounds = Bounds.from_stats(self.stats["action"], "bounds_q99", "actions")
        self.proprio_bounds = Bounds.from_stats(self.stats["proprio"], "bounds_q99", "proprio")
        self.targets = torch.from_numpy(normalize_actions(data.actions, self.action_bounds)).float()
        self.proprio_in = torch.from_numpy(
            np.stack([normalize_proprio(p, self.proprio_bounds) for p in data.proprio])
        ).float()
        ids = finalize_prompt_ids(
            PromptTokenizer(self.init_dir).encode_instruction(data.instruction), self.arch.llm.vocab_size
        )
        self.prompt_tokens = torch.tensor([*ids, STOP_ID])
        params = [p for m in self.modules for p in m.parameters()]
        decay = [p for p in params if p.ndim > 1]
        no_decay = [p for p in params if p.ndim <= 1]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.lr,
        )
        self.step = 0
        self.generator = torch.Generator().manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        mean = [torch.tensor(m).view(1, 1, 3, 1, 1) for m in self.image_norm.means]
        std = [torch.tensor(s).view(1, 1, 3, 1, 1) for s in self.image_norm.stds]
        self._norm = (mean, std)

    # ------------------------------------------------------------------------------------------ forward
    def pixels(self, images: np.ndarray, *, augment: bool) -> torch.Tensor:
        """(B, cams, S, S, 3) uint8 → (B, 6·cams, S, S): a random (or the centre) crop of `crop_area`, resized
        back bilinearly, then both towers' normalisation, laid out as the policy's `pixel_values`."""
        x = torch.from_numpy(images).float().div_(255.0)  # B, C, H, W, 3
        b, cams, h, w, _ = x.shape
        x = x.permute(0, 1, 4, 2, 3).reshape(b * cams, 3, h, w)
        side = math.sqrt(self.config.crop_area)
        ch, cw = max(1, round(h * side)), max(1, round(w * side))
        crops = []
        for i in range(b * cams):
            top = int(self.rng.integers(0, h - ch + 1)) if augment else (h - ch) // 2
            left = int(self.rng.integers(0, w - cw + 1)) if augment else (w - cw) // 2
            crops.append(x[i : i + 1, :, top : top + ch, left : left + cw])
        x = F.interpolate(torch.cat(crops), size=(h, w), mode="bilinear", align_corners=True)
        x = x.reshape(b, cams, 3, h, w)
        (m0, m1), (s0, s1) = self._norm
        towers = torch.stack([(x - m0) / s0, (x - m1) / s1], dim=2)  # B, cams, 2, 3, H, W
        return towers.reshape(b, cams * 6, h, w)

    def forward(self, pixels: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        """Normalised action chunks (B, chunk, action_dim): the policy's dense forward, batched."""
        llm = self.vla.language_model
        embeds = llm.model.embed_tokens(self.prompt_tokens)[None]
        prompt_embeds, stop_embed = embeds[:, :-1], embeds[:, -1:]
        vision = self.vla.projector(self.vla.vision_backbone(pixels))
        proprio_token = self.proprio_projector(proprio)
        inputs, positions, layout = build_llm_inputs(
            prompt_embeds, stop_embed, vision, proprio_token, self.platform.num_action_tokens
        )
        hidden = llm(inputs, positions, causal=False)
        start, end = layout.readout_span
        return self.head(hidden[:, start:end], self.platform.chunk_len)

    def train_step(self, pool: np.ndarray | None = None) -> float:
        """One AdamW step on a random batch drawn from `pool` (sample indices; None: all samples)."""
        c = self.config
        pool = np.arange(len(self.data.images)) if pool is None else pool
        idx = pool[self.rng.integers(0, len(pool), size=c.batch_size)]
        pixels = self.pixels(self.data.images[idx], augment=True)
        predicted = self.forward(pixels, self.proprio_in[idx])
        loss = F.l1_loss(predicted, self.targets[idx])
        for group in self.optimizer.param_groups:
            group["lr"] = c.lr_at(self.step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for m in self.modules for p in m.parameters()], c.grad_clip)
        self.optimizer.step()
        self.step += 1
        return float(loss.detach())

    @torch.no_grad()
    def eval_loss(self, indices: np.ndarray, batch: int = 32) -> float:
        for m in self.modules:
            m.eval()
        total = 0.0
        for i in range(0, len(indices), batch):
            idx = indices[i : i + batch]
            pred = self.forward(self.pixels(self.data.images[idx], augment=False), self.proprio_in[idx])
            total += float(F.l1_loss(pred, self.targets[idx], reduction="sum")) / pred[0].numel()
        for m in self.modules:
            m.train()
        return total / max(1, len(indices))

    # ---------------------------------------------------------------------------------------- persistence
    def save_state(self, path: Path) -> None:
        torch.save(
            {
                "step": self.step,
                "modules": [m.state_dict() for m in self.modules],
                "optimizer": self.optimizer.state_dict(),
                "rng": self.rng.bit_generator.state,
                "config": asdict(self.config),
            },
            path,
        )

    def load_state(self, path: Path) -> None:
        state = torch.load(path, weights_only=False)
        for m, sd in zip(self.modules, state["modules"], strict=True):
            m.load_state_dict(sd)
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.step = int(state["step"])

    def export(self, out_dir: Path, unnorm_key: str) -> Path:
        """The released layout: the initial directory's config, tokenizer and tower files + trained weights and
        this data's statistics under `unnorm_key`."""
        from safetensors.torch import save_file

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for src in self.init_dir.iterdir():
            if src.is_file() and src.name not in WEIGHT_FILES and src.name != "dataset_statistics.json":
                shutil.copy2(src, out_dir / src.name)
        save_file(
            {k: v.detach().contiguous() for k, v in self.vla.state_dict().items()},
            str(out_dir / "model.safetensors"),
            metadata={"format": "pt"},
        )
        for name, module in (("action_head", self.head), ("proprio_projector", self.proprio_projector)):
            sd = {f"module.{k}": v.detach().clone() for k, v in module.state_dict().items()}
            torch.save(sd, out_dir / f"{name}--tiny_checkpoint.pt")
        (out_dir / "dataset_statistics.json").write_text(json.dumps({unnorm_key: self.stats}, indent=2))
        return out_dir
