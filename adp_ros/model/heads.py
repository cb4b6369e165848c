"""Projector, proprio projector and L1 regression action head, with the released parameter names."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FusedMLPProjector(nn.Module):
    """`no-align+fused-gelu-mlp`: fc1 (D_vis → 4·D_vis), GELU, fc2 (→ D_llm), GELU, fc3 (D_llm → D_llm)."""

    def __init__(self, vision_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(vision_dim, 4 * vision_dim)
        self.fc2 = nn.Linear(4 * vision_dim, llm_dim)
        self.fc3 = nn.Linear(llm_dim, llm_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(F.gelu(self.fc2(F.gelu(self.fc1(x)))))


class ProprioProjector(nn.Module):
    """Normalised proprio → one LLM token: fc1, exact GELU, fc2."""

    def __init__(self, proprio_dim: int, llm_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(proprio_dim, llm_dim)
        self.fc2 = nn.Linear(llm_dim, llm_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class MLPResNetBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        # Indices 0/1 match the released keys `ffn.0` (LayerNorm) and `ffn.1` (Linear); 2 is the ReLU.
        self.ffn = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ffn(x)


class MLPResNet(nn.Module):
    def __init__(self, num_blocks: int, input_dim: int, hidden_dim: int, output_dim: int) -> None:
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(input_dim)
        self.fc1 = nn.Linear(input_dim, hidden_dim)
        self.mlp_resnet_blocks = nn.ModuleList(MLPResNetBlock(hidden_dim) for _ in range(num_blocks))
        self.layer_norm2 = nn.LayerNorm(hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc1(self.layer_norm1(x)))
        for block in self.mlp_resnet_blocks:
            x = block(x)
        return self.fc2(self.layer_norm2(x))


class L1RegressionActionHead(nn.Module):
    """ACTION_DIM consecutive readout states form one chunk step: input (1, chunk, action_dim · D_llm)."""

    def __init__(self, llm_dim: int, action_dim: int, hidden_dim: int | None = None) -> None:
        super().__init__()
        self.action_dim = action_dim
        self.model = MLPResNet(2, llm_dim * action_dim, hidden_dim or llm_dim, action_dim)

    def forward(self, actions_hidden_states: torch.Tensor, chunk_len: int) -> torch.Tensor:
        batch = actions_hidden_states.shape[0]
        return self.model(actions_hidden_states.reshape(batch, chunk_len, -1))
