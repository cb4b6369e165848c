"""The 7B LIBERO architecture, built on the meta device from the released config, has exactly the released
parameter names and count (test/fixtures/oft_released_keys: metadata of moojink/openvla-7b-oft-finetuned-libero-10)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from adp_ros.model.openvla_oft import OpenVlaOft, VlaArchitecture, build_heads

RELEASED = Path(__file__).resolve().parent.parent / "fixtures" / "oft_released_keys"


def _released_vla() -> OpenVlaOft:
    arch = VlaArchitecture.from_config(json.loads((RELEASED / "config.json").read_text()))
    with torch.device("meta"):
        return OpenVlaOft(arch)


def test_released_key_names_and_parameter_count():
    index = json.loads((RELEASED / "model.safetensors.index.json").read_text())
    vla = _released_vla()
    assert set(vla.state_dict()) == set(index["weight_map"])
    total = sum(p.numel() for p in vla.parameters())
    assert total == 7_541_237_184
    assert total * 2 == index["metadata"]["total_size"]  # bf16


def test_released_component_sizes():
    vla = _released_vla()

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    assert count(vla.vision_backbone.featurizer) == 303_230_976
    assert count(vla.vision_backbone.fused_featurizer) == 427_680_704
    assert count(vla.projector) == 71_385_600
    assert count(vla.language_model) == 6_738_939_904
    with torch.device("meta"):
        head, proprio = build_heads(4096, 7, 8)
    assert count(head) == 151_117_831
    assert tuple(head.model.fc1.weight.shape) == (4096, 28672)
    assert tuple(proprio.fc1.weight.shape) == (4096, 8)


def test_released_architecture_gives_the_same_dims():
    """FLOPs of the released model, from the dims the loader derives: the paper's 7.91 TFLOPs within 1 %."""
    from adp_ros.core.flops import forward_flops
    from adp_ros.core.platform import LIBERO
    from adp_ros.model.openvla_oft import model_dims

    config = json.loads((RELEASED / "config.json").read_text())
    dims = model_dims(VlaArchitecture.from_config(config), LIBERO)
    assert abs(forward_flops(dims, 2, 599).llm / 7.91e12 - 1) < 0.01
