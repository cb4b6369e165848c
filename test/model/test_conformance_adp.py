"""ADP token selection and pruned forward against the reference implementation, through the normal policy path.

Fixture: test/fixtures/adp/selection_{libero,aloha}.{npz,json} (copied from the shared set; TerryPei/VLA-ADP
9a861459 `predict_action` run on the tiny OFT checkpoint). Must match: kept sets exactly; scores and pruned LLM
input atol 1e-5; positions, lengths and readout slices exactly; hidden states and actions atol 1e-4.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from oft_fixtures import golden, golden_observation

from adp_ros.core.pruning import PruneConfig

FIXTURE = __import__("pathlib").Path(__file__).resolve().parent.parent / "fixtures" / "adp"


def _selection(platform: str):
    info = json.loads((FIXTURE / f"selection_{platform}.json").read_text())
    return np.load(FIXTURE / f"selection_{platform}.npz"), info


def _params():
    out = []
    for platform in ("libero", "aloha"):
        _, info = _selection(platform)
        for case in info["cases"]:
            for r in case["ratios"]:
                out.append((platform, case["case"], r["ratio"]))
    return out


@pytest.mark.parametrize(("platform", "case", "ratio"), _params())
def test_pruned_forward_matches_reference(request, platform: str, case: str, ratio: float):
    data, info = _selection(platform)
    meta = next(r for c in info["cases"] if c["case"] == case for r in c["ratios"] if r["ratio"] == ratio)
    policy = request.getfixturevalue(f"{platform}_policy")
    obs = golden_observation(golden(platform), case)
    prefix = f"{case}/r{round(ratio * 100):03d}"
    split = tuple(info["qk_keep_split"])
    prune = PruneConfig(mode="static", keep_ratio=ratio, camera_split=split, readout="reference")
    out = policy.predict(obs, prune, dump=True)
    stages = out.stages

    assert out.layout.length == meta["seq_len"]
    assert out.layout.num_patches == meta["NUM_PATCHES"]
    assert out.layout.num_prompt == meta["NUM_PROMPT_TOKENS"]
    assert list(out.layout.readout_span) == meta["readout_slice_reference"]
    np.testing.assert_array_equal(stages["positions"], data[f"{prefix}/position_ids"])
    np.testing.assert_allclose(stages["actions_hidden_states"][0], data[f"{prefix}/actions_hidden_states"], atol=1e-4)
    np.testing.assert_allclose(out.actions, data[f"{prefix}/actions"], atol=1e-4, rtol=1e-4)

    if ratio < 1.0:
        np.testing.assert_allclose(stages["scores"], data[f"{case}/scores"], atol=1e-5)
        assert list(out.tokens.per_camera_kept) == meta["per_camera_keep"]
        for cam, kept in enumerate(out.kept_indices):
            np.testing.assert_array_equal(kept, data[f"{prefix}/kept_cam{cam}_patch_idx"])
        np.testing.assert_allclose(
            stages["multimodal_embeddings"][0], data[f"{prefix}/pruned_inputs_embeds"], atol=1e-5
        )
    else:
        assert out.scores is None and not out.pruned

    oft = policy.predict(obs, PruneConfig(mode="static", keep_ratio=ratio, camera_split=split, readout="oft"))
    assert list(oft.layout.readout_span) == meta["readout_slice_original_oft"]
    np.testing.assert_allclose(oft.actions, data[f"{prefix}/actions_original_oft_readout"], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("platform", ["libero", "aloha"])
def test_keep_ratio_one_is_exactly_dense(request, platform: str):
    policy = request.getfixturevalue(f"{platform}_policy")
    obs = golden_observation(golden(platform), "case0")
    dense = policy.predict(obs)
    for mode in ("adp", "static", "random", "fastv"):
        full = policy.predict(obs, PruneConfig(mode=mode, keep_ratio=1.0, fastv_layer=1))
        np.testing.assert_array_equal(full.actions, dense.actions)
        assert full.tokens == dense.tokens
