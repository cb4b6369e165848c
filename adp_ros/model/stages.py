"""What each stage of `OftPolicy.predict` hands to the next, and the observers that may look at all of it.

preprocess → `PreparedInputs`; vision + projector → `Encoded`; scoring → `selectors.Selection`; LLM → `LlmRun`;
head → the normalised action chunk. A `ForwardObserver` (the caller passes one to `predict`) receives the whole
`ForwardTrace` after the chunk; `StageDump` is the one behind `predict(..., dump=True)` and `adp-predict
--dump-stages`: every intermediate named like the conformance fixture's keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from adp_ros.model.selection import FastVPruner
from adp_ros.model.selectors import Selection
from adp_ros.model.sequence import SequenceLayout

if TYPE_CHECKING:
    from adp_ros.model.policy import OftPolicy, PolicyOutput


@dataclass(frozen=True)
class PreparedInputs:
    """The preprocess stage: everything the model reads, on the model's device."""

    prompt_ids: list[int]
    """BOS + prompt ids as the model runs them (29871 appended)."""
    views: tuple[np.ndarray, ...]
    """Per camera, the 224×224×3 uint8 RGB image the vision towers see (after resize and centre crop)."""
    pixels: torch.Tensor
    """(1, 6·n, S, S) normalised pixel values of `views`."""
    proprio: np.ndarray
    """Normalised proprio (float32 host copy)."""
    proprio_tensor: torch.Tensor
    prompt_embeds: torch.Tensor
    """(1, 1 + T, D) embeddings of BOS + prompt."""
    stop_embed: torch.Tensor
    """(1, 1, D)."""


@dataclass(frozen=True)
class Encoded:
    """The vision and projector stages."""

    patches: torch.Tensor
    """(1, P, D_vision) fused DINOv2 + SigLIP patch features, every camera."""
    vision: torch.Tensor
    """(1, P, D) projected patches (dense, before any selection)."""
    proprio_token: torch.Tensor


@dataclass(frozen=True)
class LlmRun:
    """The LLM stage: its input sequence, its output and the visual tokens that ran."""

    vision: torch.Tensor
    """Projected patches that entered the LLM (kept ones for a pre-LLM selection)."""
    embeds: torch.Tensor
    positions: torch.Tensor
    layout: SequenceLayout
    """Layout of the sequence that reached the last layer (FastV: after its cut)."""
    hidden: torch.Tensor
    """Post-norm last hidden states."""
    kept: torch.Tensor | None
    scores: torch.Tensor | None
    layer_pruner: FastVPruner | None
    layer_states: dict[str, torch.Tensor] = field(default_factory=dict)
    """Intermediate LLM states; filled only when an observer runs (`hidden_after_layer0`)."""


@dataclass(frozen=True)
class ForwardTrace:
    """One chunk, stage by stage (tensors are the real intermediates: a chunk with an observer runs eagerly)."""

    policy: OftPolicy
    inputs: PreparedInputs
    encoded: Encoded
    selection: Selection
    llm: LlmRun
    actions_hidden: torch.Tensor
    """(1, K, D) the hidden states the action head reads."""
    output: PolicyOutput


class ForwardObserver(Protocol):
    """Called once per `predict` after the chunk, outside its timings. A mapping it returns becomes
    `PolicyOutput.stages`."""

    def __call__(self, trace: ForwardTrace) -> Mapping[str, Any] | None: ...


def _host(value: Any) -> Any:
    return value.float().cpu().numpy() if isinstance(value, torch.Tensor) else value


class StageDump:
    """Every intermediate of the chunk, as float32 numpy (images uint8), keyed like the conformance fixture."""

    def __call__(self, trace: ForwardTrace) -> dict[str, np.ndarray]:
        policy, inputs, encoded, llm = trace.policy, trace.inputs, trace.encoded, trace.llm
        with torch.inference_mode():
            dino, siglip = policy.vla.vision_backbone.tower_features(inputs.pixels)
        crop_key = "center_cropped_224" if policy.config.use_center_crop else "resized_224"
        stages: dict[str, Any] = {
            crop_key: np.stack(inputs.views),
            "pixel_values": inputs.pixels,
            "proprio_normalized": inputs.proprio,
            "input_ids_prompt_final": np.asarray(inputs.prompt_ids),
            "featurizer_patches": dino,
            "fused_featurizer_patches": siglip,
            "projected_patch_embeddings": encoded.vision,
            "kept_projected_patch_embeddings": llm.vision,
            "proprio_token": encoded.proprio_token,
            "multimodal_embeddings": llm.embeds,
            **llm.layer_states,
            "positions": llm.positions,
            "last_hidden_states": llm.hidden,
            "actions_hidden_states": trace.actions_hidden,
        }
        out = {name: _host(value) for name, value in stages.items()}
        out |= {"normalized_actions": trace.output.normalized_actions, "actions": trace.output.actions}
        if trace.output.scores is not None:
            out["scores"] = np.concatenate(trace.output.scores)
        return out
