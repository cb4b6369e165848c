"""The one place that builds the LLM input sequence and says where the action readout is.

Layout (fixture README, "Sequence layout"): [BOS] + vision tokens (kept ones, camera/raster order) + [proprio] +
prompt tokens after BOS (ending with 29871) + K zeroed action placeholders + [stop]. Dense, ADP, static, random and
FastV all go through `build_llm_inputs` / `SequenceLayout`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from adp_ros.core.pruning import PositionMode, Readout


@dataclass(frozen=True)
class SequenceLayout:
    num_vision: int
    """Vision tokens in this sequence (after pruning)."""
    num_vision_dense: int
    num_prompt: int
    """T: prompt ids after BOS, counted after the 29871 append."""
    num_action: int
    has_proprio: bool = True
    readout: Readout = "oft"

    @property
    def num_patches(self) -> int:
        """The original's NUM_PATCHES: vision tokens plus the proprio token."""
        return self.num_vision + int(self.has_proprio)

    @property
    def length(self) -> int:
        return 1 + self.num_patches + self.num_prompt + self.num_action + 1

    @property
    def dense_length(self) -> int:
        return self.length + self.num_vision_dense - self.num_vision

    @property
    def vision_span(self) -> tuple[int, int]:
        return 1, 1 + self.num_vision

    @property
    def proprio_index(self) -> int | None:
        return 1 + self.num_vision if self.has_proprio else None

    @property
    def text_span(self) -> tuple[int, int]:
        start = 1 + self.num_patches
        return start, start + self.num_prompt

    @property
    def placeholder_span(self) -> tuple[int, int]:
        start = self.text_span[1]
        return start, start + self.num_action

    @property
    def stop_index(self) -> int:
        return self.length - 1

    @property
    def readout_span(self) -> tuple[int, int]:
        """OFT reads from the 29871 token (next-token alignment of training), leaving out the last placeholder.

        `reference`: ADP's code reads one position later (`1 + NUM_PATCHES + NUM_PROMPT_TOKENS`), on dense chunks
        too; offered to reproduce its published numbers.
        """
        start = self.num_patches + self.num_prompt + (1 if self.readout == "reference" else 0)
        return start, start + self.num_action


def build_llm_inputs(
    prompt_embeds: torch.Tensor,
    stop_embed: torch.Tensor,
    vision: torch.Tensor,
    proprio: torch.Tensor | None,
    num_action: int,
    *,
    num_vision_dense: int | None = None,
    kept_index: torch.Tensor | None = None,
    position_mode: PositionMode = "repacked",
    readout: Readout = "oft",
) -> tuple[torch.Tensor, torch.Tensor, SequenceLayout]:
    """Concatenate the sequence; return (inputs_embeds (B, L, D), position_ids (L,), layout).

    prompt_embeds: (1 or B, 1 + T, D) embeddings of BOS + prompt ids. vision: (B, V, D), already pruned when
    `kept_index` (the kept positions among the dense vision tokens, ascending, on the model device) is given.
    position_mode `repacked` numbers 0…L′−1 (the reference); `original` keeps each token's dense RoPE position.
    """
    _, n_prompt, dim = prompt_embeds.shape
    batch, n_vision = vision.shape[0], vision.shape[1]
    dense = n_vision if num_vision_dense is None else num_vision_dense
    prompt = prompt_embeds.expand(batch, -1, -1)  # one prompt for the batch (training), or per sample
    parts = [prompt[:, :1], vision]
    if proprio is not None:
        parts.append(proprio.reshape(batch, 1, dim))
    parts += [
        prompt[:, 1:],
        prompt_embeds.new_zeros(batch, num_action, dim),
        stop_embed.reshape(-1, 1, dim).expand(batch, 1, dim),
    ]
    embeds = torch.cat(parts, dim=1)
    layout = SequenceLayout(
        num_vision=n_vision,
        num_vision_dense=dense,
        num_prompt=n_prompt - 1,
        num_action=num_action,
        has_proprio=proprio is not None,
        readout=readout,
    )
    device = embeds.device
    if position_mode == "original" and kept_index is not None:
        rest = layout.length - 1 - n_vision
        positions = torch.cat(
            [
                torch.zeros(1, dtype=torch.long, device=device),
                kept_index.to(device=device, dtype=torch.long) + 1,
                torch.arange(1 + dense, 1 + dense + rest, device=device),
            ]
        )
    else:
        positions = torch.arange(layout.length, device=device)
    return embeds, positions, layout
