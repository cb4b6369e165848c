"""The policy API without ROS: load a checkpoint once, then `predict(observation)` → an action chunk.

Dense, ADP-selected (what the gate runs on a pruned chunk; also `static`), random and FastV chunks all go
through `OftPolicy.predict`; which one runs is the caller's `PruneConfig` (the gate lives outside the model).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch

from adp_ros.core.errors import ConfigError, InputError
from adp_ros.core.flops import FlopsBreakdown, forward_flops
from adp_ros.core.normalization import normalize_proprio, unnormalize_actions
from adp_ros.core.pruning import PruneConfig, keep_counts, validate_split
from adp_ros.model.accel import GraphCache
from adp_ros.model.config import PolicyConfig
from adp_ros.model.loader import (
    CheckpointFiles,
    load_heads,
    load_image_normalization,
    load_norm_stats,
    load_vla,
    offline_environment,
)
from adp_ros.model.openvla_oft import VlaArchitecture, model_dims
from adp_ros.model.preprocess import prepare_images
from adp_ros.model.prompt import STOP_ID, PromptTokenizer, finalize_prompt_ids
from adp_ros.model.selection import FastVPruner, adp_scores, random_per_camera, topk_per_camera
from adp_ros.model.sequence import SequenceLayout, build_llm_inputs
from adp_ros.model.timing import StageTimer


@dataclass(frozen=True)
class Observation:
    """Camera frames (H×W×3 uint8 RGB, in the platform's camera order), raw proprio, and the task as an
    instruction string or as prompt token ids (BOS first, as a tokenizer returns them)."""

    images: Sequence[np.ndarray]
    proprio: np.ndarray
    instruction: str | None = None
    prompt_ids: Sequence[int] | None = None


@dataclass(frozen=True)
class TokenCounts:
    vision_dense: int
    vision_kept: int
    per_camera_kept: tuple[int, ...]
    prompt: int
    action: int
    sequence: int
    dense_sequence: int

    @property
    def keep_ratio(self) -> float:
        return self.vision_kept / self.vision_dense


@dataclass(frozen=True)
class PolicyOutput:
    actions: np.ndarray
    """(chunk, action_dim) float64, de-normalised: what goes to the robot."""
    normalized_actions: np.ndarray
    timings_ms: dict[str, float]
    tokens: TokenCounts
    mode: str
    pruned: bool
    kept_indices: tuple[np.ndarray, ...]
    """Per camera, the kept patch indices 0–255 ascending (all of them on a dense chunk)."""
    scores: tuple[np.ndarray, ...] | None
    """Per camera, every patch's relevance (ADP scores, or attention received for FastV); None if not scored."""
    layout: SequenceLayout
    flops: FlopsBreakdown
    stages: dict[str, np.ndarray] | None = field(default=None, repr=False)


class OftPolicy:
    """OpenVLA-OFT loaded from a released checkpoint directory (offline, read-only)."""

    def __init__(self, config: PolicyConfig) -> None:
        offline_environment()
        self.config = config
        self.platform = config.platform
        self.device = config.resolve_device()
        self.dtype = config.resolve_dtype(self.device)
        files = CheckpointFiles.discover(config.checkpoint)
        self.files: CheckpointFiles | None = files
        self.arch = VlaArchitecture.from_dir(files.directory)
        # Cheaper checks first, so a wrong preset or key fails before gigabytes are read; the heads tell the
        # true action and proprio dims, so they are checked before the statistics.
        self.action_head, self.proprio_projector = load_heads(
            files, self.arch.llm.hidden_size, self.platform, self.device, self.dtype
        )
        self.norm_stats = load_norm_stats(files, config.unnorm_key, self.platform)
        self.image_norm = load_image_normalization(files)
        self.vla = load_vla(files, self.arch, self.device, self.dtype)
        self._init_runtime()

    @classmethod
    def random_weights(
        cls, config: PolicyConfig, arch: VlaArchitecture, *, seed: int = 0, stats_scale: float = 1.0
    ) -> OftPolicy:
        """Any architecture (e.g. the full 7B one) with random weights made directly on the device, no files.

        For benchmarks: latency does not depend on the weight values. Statistics are synthetic (±stats_scale).
        """
        from adp_ros.core.normalization import Bounds
        from adp_ros.model.loader import NormStats
        from adp_ros.model.openvla_oft import OpenVlaOft, build_heads
        from adp_ros.model.preprocess import ImageNormalization

        self = cls.__new__(cls)
        self.config = config
        self.platform = config.platform
        self.device = config.resolve_device()
        self.dtype = config.resolve_dtype(self.device)
        self.files = None
        self.arch = arch
        torch.manual_seed(seed)
        with torch.device("meta"):
            vla = OpenVlaOft(arch)
            head, proprio = build_heads(arch.llm.hidden_size, self.platform.action_dim, self.platform.proprio_dim)
        modules = []
        for meta_module in (vla, head, proprio):
            module = meta_module.to_empty(device=self.device).to(self.dtype)
            with torch.no_grad():
                for name, p in module.named_parameters():
                    if p.ndim > 1:
                        p.normal_(0, p.shape[-1] ** -0.5 if "embed" not in name else 1.0)
                    else:
                        p.fill_(1.0 if "norm" in name or "scale_factor" in name else 0.0)
            modules.append(module.eval().requires_grad_(False))
        self.vla, self.action_head, self.proprio_projector = modules

        def bounds(dim: int) -> Bounds:
            return Bounds(low=-stats_scale * np.ones(dim), high=stats_scale * np.ones(dim), mask=np.ones(dim, bool))

        self.norm_stats = NormStats("random", bounds(self.platform.action_dim), bounds(self.platform.proprio_dim))
        self.image_norm = ImageNormalization(
            means=((0.484375, 0.455078125, 0.40625), (0.5, 0.5, 0.5)),
            stds=((0.228515625, 0.2236328125, 0.224609375), (0.5, 0.5, 0.5)),
        )
        self._init_runtime()
        return self

    def _init_runtime(self) -> None:
        config = self.config
        self.llm = self.vla.language_model
        self.dims = model_dims(self.arch, self.platform)
        self._tokenizer: PromptTokenizer | None = None
        self._prompt_cache: OrderedDict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        # `random` mode's sampler: seeded from `pruning.random_seed` at its first chunk and again whenever the seed
        # changes (a live parameter), then one fresh draw per chunk, so a seed replays the same sequence.
        self._generator = torch.Generator(device=self.device)
        self._random_seed: int | None = None
        self._causal = config.attention == "causal"
        if config.acceleration == "cuda_graph" and self.device.type != "cuda":
            raise ConfigError("acceleration='cuda_graph' needs a CUDA device; use 'auto' or 'eager'")
        self.graphs = GraphCache(enabled=self.device.type == "cuda" and config.acceleration != "eager")

    # ----------------------------------------------------------------------------------------------- inputs
    @property
    def patches_per_camera(self) -> int:
        return self.arch.patches_per_image

    def prompt_ids(self, observation: Observation) -> list[int]:
        if observation.prompt_ids is not None:
            ids = list(observation.prompt_ids)
        elif observation.instruction is not None:
            if self._tokenizer is None:
                if self.files is None:
                    raise InputError("a policy with random weights has no tokenizer: pass prompt token ids")
                self._tokenizer = PromptTokenizer(self.files.directory)
            ids = self._tokenizer.encode_instruction(observation.instruction)
        else:
            raise InputError("the observation needs an instruction or prompt token ids")
        return finalize_prompt_ids(ids, self.arch.llm.vocab_size)

    def _embed_prompt(self, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings of BOS + prompt and of the stop token, cached per prompt (instructions repeat)."""
        key = tuple(ids)
        if key not in self._prompt_cache:
            embed = self.llm.model.embed_tokens
            tokens = torch.tensor([*ids, STOP_ID], device=self.device)
            with torch.inference_mode():
                both = embed(tokens)[None]
            self._prompt_cache[key] = (both[:, :-1], both[:, -1:])
            while len(self._prompt_cache) > 16:
                self._prompt_cache.popitem(last=False)
        self._prompt_cache.move_to_end(key)
        return self._prompt_cache[key]

    def check_prune(self, prune: PruneConfig | None) -> None:
        """Raise ConfigError when `prune` does not fit this model (checked before any chunk runs)."""
        if prune is None:
            return
        if prune.mode == "fastv" and prune.fastv_layer >= self.arch.llm.num_hidden_layers:
            raise ConfigError(
                f"fastv_layer={prune.fastv_layer} must be below the LLM depth {self.arch.llm.num_hidden_layers} "
                "(FastV prunes after that many dense layers; the paper uses 2 of 32)"
            )
        validate_split(prune.camera_split or self.platform.camera_split, self.platform.num_images)

    def camera_counts(self, prune: PruneConfig) -> tuple[int, ...]:
        split = prune.camera_split or self.platform.camera_split
        validate_split(split, self.platform.num_images)
        return keep_counts(prune.keep_ratio, self.platform.num_images, self.patches_per_camera, split)

    def _check_observation(self, observation: Observation) -> None:
        n = len(observation.images)
        if n != self.platform.num_images:
            raise InputError(
                f"got {n} camera images, platform {self.platform.name!r} expects {self.platform.num_images} "
                f"({', '.join(self.platform.camera_names)})"
            )

    def warmup(
        self,
        prunes: Sequence[PruneConfig | None] = (None,),
        prompt_ids: Sequence[int] | None = None,
        instruction: str | None = None,
    ) -> None:
        """Run each configuration once on blank frames, so first-call costs (allocator growth, kernel selection,
        CUDA graph capture) are paid when the node is configured, not on the robot's first chunk.

        Graphs are per sequence length, which depends on the prompt: pass the instruction the robot will run.
        """
        frame = np.zeros((self.image_norm.image_size, self.image_norm.image_size, 3), np.uint8)
        center = (self.norm_stats.proprio.low + self.norm_stats.proprio.high) / 2
        ids = list(prompt_ids) if prompt_ids is not None else None
        if ids is None and not instruction:
            ids = [1, *([29871] * 20)]
        observation = Observation(
            images=[frame] * self.platform.num_images, proprio=center, instruction=instruction, prompt_ids=ids
        )
        for prune in prunes:
            self.predict(observation, prune)
        self._random_seed = None  # warm-up draws must not shift the sequence the first real chunks get

    # ---------------------------------------------------------------------------------------------- predict
    def predict(
        self, observation: Observation, prune: PruneConfig | None = None, *, dump: bool = False
    ) -> PolicyOutput:
        """One action chunk. `prune=None` (or mode `dense`, or ρ = 1) runs every visual token."""
        self._check_observation(observation)
        self.check_prune(prune)
        timer = StageTimer(self.device)
        ids = self.prompt_ids(observation)
        images, pixels_np = prepare_images(observation.images, self.image_norm, self.config.use_center_crop)
        proprio_np = normalize_proprio(observation.proprio, self.norm_stats.proprio)
        pixels = torch.from_numpy(pixels_np).to(self.device, self.dtype, non_blocking=True)
        proprio_in = torch.from_numpy(proprio_np).float().to(self.device, self.dtype)
        prompt_embeds, stop_embed = self._embed_prompt(ids)
        timer.mark("preprocess")

        mode = "dense" if prune is None else prune.mode
        pruned = mode != "dense" and prune is not None and prune.keep_ratio < 1.0
        stages: dict[str, Any] = {}
        with torch.inference_mode():
            graphs = self.graphs if not dump else GraphCache(enabled=False)
            patches, _ = graphs.run(("vision", tuple(pixels.shape)), self.vla.vision_backbone, (pixels,))
            timer.mark("vision")
            vision = self.vla.projector(patches)
            proprio_token = self.proprio_projector(proprio_in[None])
            timer.mark("projector")

            n_dense = vision.shape[1]
            kept = scores = None
            hook = fastv = None
            if pruned:
                assert prune is not None
                counts = self.camera_counts(prune)
                if mode in ("adp", "static"):
                    scores = adp_scores(self.llm, torch.cat([prompt_embeds, stop_embed], dim=1), vision)
                    kept = topk_per_camera(scores, counts, self.patches_per_camera)
                elif mode == "random":
                    if prune.random_seed != self._random_seed:
                        self._generator.manual_seed(prune.random_seed)
                        self._random_seed = prune.random_seed
                    kept = random_per_camera(counts, self.patches_per_camera, self._generator, self.device)
                elif mode == "fastv":
                    fastv = FastVPruner(prune.fastv_layer, 1, counts, self.patches_per_camera)
                    hook = partial(fastv, llm=self.llm)
                if kept is not None:
                    vision = vision.index_select(1, kept)
            timer.mark("scoring")

            readout = prune.readout if prune is not None else "oft"
            position_mode = prune.position_mode if prune is not None else "repacked"
            embeds, positions, layout = build_llm_inputs(
                prompt_embeds,
                stop_embed,
                vision,
                proprio_token,
                self.platform.num_action_tokens,
                num_vision_dense=n_dense,
                kept_index=kept,
                position_mode=position_mode,
                readout=readout,
            )
            self._check_length(layout)
            collect: dict[str, torch.Tensor] | None = {} if dump else None
            fastv_key = None if fastv is None else (fastv.layer, fastv.counts)
            hidden, fastv = graphs.run(
                ("llm", layout.length, self._causal, fastv_key),
                partial(self.llm, causal=self._causal, hook=hook, collect=collect),
                (embeds, positions),
                extra=fastv,
            )
            if fastv is not None:
                kept, scores = fastv.kept_index, fastv.scores
                layout = dataclasses.replace(layout, num_vision=int(sum(fastv.counts)))
            timer.mark("llm")

            start, end = layout.readout_span
            actions_hidden = hidden[:, start:end]
            normalized = self.action_head(actions_hidden, self.platform.chunk_len)
            normalized_np = normalized.reshape(self.platform.chunk_len, self.platform.action_dim).float().cpu().numpy()
            timer.mark("head")
            if dump:
                stages = self._dump(images, pixels, proprio_np, ids, patches, vision, proprio_token, embeds, collect)
                stages |= {
                    "positions": positions,
                    "last_hidden_states": hidden,
                    "actions_hidden_states": actions_hidden,
                }

        actions = unnormalize_actions(normalized_np, self.norm_stats.action)
        timings = timer.elapsed_ms()
        timings["total"] = sum(timings.values())
        kept_np = None if kept is None else kept.cpu().numpy()
        per_camera = self._split_per_camera(kept_np)
        score_split = None
        if scores is not None:
            s = scores.float().cpu().numpy()
            score_split = tuple(s.reshape(self.platform.num_images, self.patches_per_camera))
        tokens = TokenCounts(
            vision_dense=n_dense,
            vision_kept=layout.num_vision,
            per_camera_kept=tuple(len(k) for k in per_camera),
            prompt=layout.num_prompt,
            action=layout.num_action,
            sequence=layout.length,
            dense_sequence=layout.dense_length,
        )
        flops = forward_flops(
            self.dims,
            self.platform.num_images,
            layout.length,
            dense_seq_len=layout.dense_length,
            scored_queries=layout.num_prompt + 2 if mode in ("adp", "static") and pruned else 0,
            dense_layers=fastv.layer if fastv is not None else 0,
        )
        if dump:
            stages = {k: (v.float().cpu().numpy() if isinstance(v, torch.Tensor) else v) for k, v in stages.items()}
            stages |= {"normalized_actions": normalized_np, "actions": actions}
            if score_split is not None:
                stages["scores"] = np.concatenate(score_split)
        return PolicyOutput(
            actions=actions,
            normalized_actions=normalized_np,
            timings_ms=timings,
            tokens=tokens,
            mode=mode,
            pruned=pruned,
            kept_indices=per_camera,
            scores=score_split,
            layout=layout,
            flops=flops,
            stages=stages if dump else None,
        )

    def _split_per_camera(self, kept: np.ndarray | None) -> tuple[np.ndarray, ...]:
        n, p = self.platform.num_images, self.patches_per_camera
        if kept is None:
            return tuple(np.arange(p) for _ in range(n))
        return tuple(kept[(kept >= c * p) & (kept < (c + 1) * p)] - c * p for c in range(n))

    def _check_length(self, layout: SequenceLayout) -> None:
        if layout.dense_length > self.arch.llm.max_position_embeddings:
            raise InputError(
                f"the sequence has {layout.dense_length} tokens, more than the LLM's "
                f"{self.arch.llm.max_position_embeddings} positions; shorten the instruction"
            )

    def _dump(self, images, pixels, proprio_np, ids, patches, vision, proprio_token, embeds, collect) -> dict[str, Any]:
        dino, siglip = self.vla.vision_backbone.tower_features(pixels)
        out: dict[str, Any] = {
            "center_cropped_224" if self.config.use_center_crop else "resized_224": np.stack(images),
            "pixel_values": pixels,
            "proprio_normalized": proprio_np,
            "input_ids_prompt_final": np.asarray(ids),
            "featurizer_patches": dino,
            "fused_featurizer_patches": siglip,
            "projected_patch_embeddings": self.vla.projector(patches),
            "kept_projected_patch_embeddings": vision,
            "proprio_token": proprio_token,
            "multimodal_embeddings": embeds,
        }
        if collect:
            out.update(collect)
        return out
