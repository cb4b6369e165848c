"""FLOPs accounting: the full-size LIBERO numbers the paper reports, and internal consistency."""

from __future__ import annotations

import pytest

from adp_ros.core.flops import ModelDims, TowerDims, forward_flops, llm_flops

LIBERO_7B = ModelDims(
    towers=(TowerDims(1024, 23, 4096, 261), TowerDims(1152, 26, 4304, 256)),
    llm_hidden=4096,
    llm_intermediate=11008,
    llm_layers=32,
    llm_heads=32,
    llm_kv_heads=32,
    action_dim=7,
    chunk_len=8,
    proprio_dim=8,
)


def test_dense_libero_llm_is_within_one_percent_of_the_paper():
    flops = forward_flops(LIBERO_7B, num_images=2, seq_len=599)
    assert flops.llm == pytest.approx(7.91e12, rel=0.01)
    assert 0.6e12 < flops.vision < 0.8e12  # research notes: ≈0.7 TFLOP for two images


@pytest.mark.parametrize(("seq_len", "ratio"), [(445, 0.7), (343, 0.5), (241, 0.3)])
def test_pruned_llm_scales_with_kept_tokens(seq_len, ratio):
    dense = forward_flops(LIBERO_7B, 2, 599).llm
    pruned = forward_flops(LIBERO_7B, 2, seq_len, dense_seq_len=599, scored_queries=30)
    assert pruned.llm < dense
    assert pruned.llm / dense == pytest.approx(seq_len / 599, rel=0.02)
    assert pruned.scoring < 5e-3 * dense  # k_proj over every patch: 0.2 % of the dense LLM


def test_fastv_pays_dense_layers_first():
    fastv = forward_flops(LIBERO_7B, 2, 241, dense_seq_len=599, dense_layers=2)
    assert fastv.llm == pytest.approx(llm_flops(LIBERO_7B, [599] * 2 + [241] * 30))
    assert forward_flops(LIBERO_7B, 2, 241).llm < fastv.llm < forward_flops(LIBERO_7B, 2, 599).llm
