"""The policy API without ROS: load a checkpoint once, then `predict(observation)` → an action chunk.

Dense, ADP-selected (what the gate runs on a pruned chunk; also `static`), random and FastV chunks all go
through `OftPolicy.predict`; which one runs is the caller's `PruneConfig` (the gate lives outside the model).
`predict` composes stages (`stages.py`): preprocess → encode (vision towers + projector) → the mode's token
selector (`selectors.py`) → LLM → action head, timed under `core.diagnostics.MODEL_STAGES`.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch

from adp_ros.core.diagnostics import MODEL_STAGES
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
from adp_ros.model.selectors import Selection, SelectionRequest, TokenSelector, make_selectors
from adp_ros.model.sequence import SequenceLayout, build_llm_inputs
from adp_ros.model.stages import Encoded, ForwardObserver, ForwardTrace, LlmRun, PreparedInputs, StageDump
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
    """What an observer returned (`predict(..., dump=True)`: every intermediate); None without one."""
    views: tuple[np.ndarray, ...] = field(default=(), repr=False)
    """Per camera, the 224×224×3 uint8 RGB image the model saw (after its resize and centre crop, before
    normalisation): the frames for a debug image, patch p at row p // 16, column p % 16 (14×14 pixels each)."""


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
        self._selectors = make_selectors(self.device)  # one per pruning mode; `random` keeps its generator
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
        for selector in self._selectors.values():
            selector.reset()  # warm-up draws must not shift the sequence the first real chunks get

    # ---------------------------------------------------------------------------------------------- predict
    def predict_chunk(
        self, images: Sequence[np.ndarray], proprio: np.ndarray, instruction: str, prune: PruneConfig | None
    ) -> PolicyOutput:
        """`predict` in the shape of `core.runner.Predict`: what the chunk pipeline calls (node, `bag eval`)."""
        return self.predict(Observation(images=images, proprio=proprio, instruction=instruction), prune)

    def predict(
        self,
        observation: Observation,
        prune: PruneConfig | None = None,
        *,
        dump: bool = False,
        observer: ForwardObserver | None = None,
    ) -> PolicyOutput:
        """One action chunk. `prune=None` (or mode `dense`, or ρ = 1) runs every visual token.

        Stages (timed under `core.diagnostics.MODEL_STAGES`): preprocess → vision → projector → scoring (the
        mode's selector) → llm → head. `observer` sees every intermediate afterwards (`stages.ForwardTrace`; the
        chunk then runs eagerly, without CUDA graphs); `dump=True` is `observer=StageDump()`, filling `stages`.
        """
        if dump:
            if observer is not None:
                raise ConfigError("predict: pass either dump=True or an observer, not both")
            observer = StageDump()
        self._check_observation(observation)
        self.check_prune(prune)
        selector = self._selector(prune)
        observed = observer is not None
        graphs = GraphCache(enabled=False) if observed else self.graphs

        timer = StageTimer(self.device, MODEL_STAGES)
        inputs = self._preprocess(observation)
        timer.mark("preprocess")
        with torch.inference_mode():
            encoded = self._encode(inputs, graphs, timer)
            selection = selector.select(self._selection_request(prune, selector, inputs, encoded))
            vision = selection.apply(encoded.vision)
            timer.mark("scoring")
            llm = self._run_llm(inputs, encoded, vision, selection, prune, graphs, observed)
            timer.mark("llm")
            actions_hidden, normalized = self._head(llm.hidden, llm.layout)
            timer.mark("head")

        output = self._output(prune, selector, selection, llm, normalized, timer.elapsed_ms(), inputs.views)
        if observer is None:
            return output
        stages = observer(ForwardTrace(self, inputs, encoded, selection, llm, actions_hidden, output))
        return output if stages is None else dataclasses.replace(output, stages=dict(stages))

    def _selector(self, prune: PruneConfig | None) -> TokenSelector:
        """The mode's selector; every mode at ρ = 1 runs dense (the reference does not score at all)."""
        if prune is None or prune.keep_ratio >= 1.0:
            return self._selectors["dense"]
        return self._selectors[prune.mode]

    def _preprocess(self, observation: Observation) -> PreparedInputs:
        ids = self.prompt_ids(observation)
        views, pixels_np = prepare_images(observation.images, self.image_norm, self.config.use_center_crop)
        proprio_np = normalize_proprio(observation.proprio, self.norm_stats.proprio)
        pixels = torch.from_numpy(pixels_np).to(self.device, self.dtype, non_blocking=True)
        proprio = torch.from_numpy(proprio_np).float().to(self.device, self.dtype)
        prompt_embeds, stop_embed = self._embed_prompt(ids)
        return PreparedInputs(ids, tuple(views), pixels, proprio_np, proprio, prompt_embeds, stop_embed)

    def _encode(self, inputs: PreparedInputs, graphs: GraphCache, timer: StageTimer) -> Encoded:
        pixels = inputs.pixels
        patches, _ = graphs.run(("vision", tuple(pixels.shape)), self.vla.vision_backbone, (pixels,))
        timer.mark("vision")
        vision = self.vla.projector(patches)
        proprio_token = self.proprio_projector(inputs.proprio_tensor[None])
        timer.mark("projector")
        return Encoded(patches, vision, proprio_token)

    def _selection_request(
        self, prune: PruneConfig | None, selector: TokenSelector, inputs: PreparedInputs, encoded: Encoded
    ) -> SelectionRequest:
        p = self.patches_per_camera
        counts = self.camera_counts(prune) if prune is not None and selector.prunes else (p,) * self.platform.num_images
        return SelectionRequest(prune, counts, p, encoded.vision, inputs.prompt_embeds, inputs.stop_embed, self.llm)

    def _run_llm(
        self,
        inputs: PreparedInputs,
        encoded: Encoded,
        vision: torch.Tensor,
        selection: Selection,
        prune: PruneConfig | None,
        graphs: GraphCache,
        observed: bool,
    ) -> LlmRun:
        embeds, positions, layout = build_llm_inputs(
            inputs.prompt_embeds,
            inputs.stop_embed,
            vision,
            encoded.proprio_token,
            self.platform.num_action_tokens,
            num_vision_dense=encoded.vision.shape[1],
            kept_index=selection.kept,
            position_mode=prune.position_mode if prune is not None else "repacked",
            readout=prune.readout if prune is not None else "oft",
        )
        self._check_length(layout)
        pruner = selection.layer_pruner
        hook = None if pruner is None else partial(pruner, llm=self.llm)
        collect: dict[str, torch.Tensor] | None = {} if observed else None
        hidden, pruner = graphs.run(
            ("llm", layout.length, self._causal, None if pruner is None else pruner.graph_key),
            partial(self.llm, causal=self._causal, hook=hook, collect=collect),
            (embeds, positions),
            extra=pruner,
        )
        kept, scores = selection.kept, selection.scores
        if pruner is not None:  # graph replay returns the captured pruner, its tensors refreshed
            kept, scores = pruner.kept_index, pruner.scores
            layout = dataclasses.replace(layout, num_vision=int(sum(pruner.counts)))
        return LlmRun(vision, embeds, positions, layout, hidden, kept, scores, pruner, collect or {})

    def _head(self, hidden: torch.Tensor, layout: SequenceLayout) -> tuple[torch.Tensor, np.ndarray]:
        start, end = layout.readout_span
        actions_hidden = hidden[:, start:end]
        normalized = self.action_head(actions_hidden, self.platform.chunk_len)
        normalized_np = normalized.reshape(self.platform.chunk_len, self.platform.action_dim).float().cpu().numpy()
        return actions_hidden, normalized_np

    def _output(
        self,
        prune: PruneConfig | None,
        selector: TokenSelector,
        selection: Selection,
        llm: LlmRun,
        normalized: np.ndarray,
        timings: dict[str, float],
        views: tuple[np.ndarray, ...],
    ) -> PolicyOutput:
        """Host-side accounting: de-normalised actions, per-camera indices and scores, tokens, FLOPs."""
        layout = llm.layout
        timings["total"] = sum(timings.values())
        per_camera = self._split_per_camera(None if llm.kept is None else llm.kept.cpu().numpy())
        score_split = None
        if llm.scores is not None:
            s = llm.scores.float().cpu().numpy()
            score_split = tuple(s.reshape(self.platform.num_images, self.patches_per_camera))
        tokens = TokenCounts(
            vision_dense=layout.num_vision_dense,
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
            scored_queries=selection.scored_queries,
            dense_layers=llm.layer_pruner.layer if llm.layer_pruner is not None else 0,
        )
        return PolicyOutput(
            actions=unnormalize_actions(normalized, self.norm_stats.action),
            normalized_actions=normalized,
            timings_ms=timings,
            tokens=tokens,
            mode="dense" if prune is None else prune.mode,
            pruned=selector.prunes,
            kept_indices=per_camera,
            scores=score_split,
            layout=layout,
            flops=flops,
            views=views,
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
