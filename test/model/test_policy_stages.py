"""`OftPolicy.predict` as stages: the timer's stage names, the selector registry, observers and the views."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from oft_fixtures import golden, golden_observation

from adp_ros.core.diagnostics import MODEL_STAGES
from adp_ros.core.errors import ConfigError
from adp_ros.core.pruning import PRUNE_MODES, PruneConfig
from adp_ros.model.preprocess import pixel_values
from adp_ros.model.selection import adp_scores
from adp_ros.model.selectors import SELECTORS, make_selectors
from adp_ros.model.timing import StageTimer

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def obs():
    return golden_observation(golden("libero"), "case0")


def test_stage_timer_refuses_a_stage_not_in_model_stages():
    timer = StageTimer(CPU)
    with pytest.raises(ValueError, match=r"unknown timing stage 'scorer'.*MODEL_STAGES"):
        timer.mark("scorer")
    for stage in MODEL_STAGES[:-1]:
        timer.mark(stage)
    with pytest.raises(RuntimeError, match=rf"never marked: \['{MODEL_STAGES[-1]}'\]"):
        timer.elapsed_ms()  # a stage that was not timed is an error, never a silent 0 ms
    timer.mark(MODEL_STAGES[-1])
    timings = timer.elapsed_ms()
    assert list(timings) == list(MODEL_STAGES) and all(v >= 0 for v in timings.values())


@pytest.mark.parametrize("mode", PRUNE_MODES)
def test_predict_times_exactly_the_model_stages(libero_policy, obs, mode):
    out = libero_policy.predict(obs, PruneConfig(mode=mode, keep_ratio=0.3, fastv_layer=1))
    assert list(out.timings_ms) == [*MODEL_STAGES, "total"]
    assert out.timings_ms["total"] == pytest.approx(sum(out.timings_ms[s] for s in MODEL_STAGES))
    assert out.mode == mode and out.pruned == (mode != "dense")


def test_one_selector_per_pruning_mode():
    assert set(SELECTORS) == set(PRUNE_MODES)
    assert all(cls.mode == mode for mode, cls in SELECTORS.items())
    assert [m for m, cls in SELECTORS.items() if not cls.prunes] == ["dense"]
    selectors = make_selectors(CPU)
    assert {m: type(s) for m, s in selectors.items()} == SELECTORS
    with pytest.raises(ConfigError, match=r"'fastV'.*did you mean 'fastv'"):
        make_selectors(CPU, ["fastV"])


def test_adp_scores_run_layer_zeros_own_projections(libero_policy):
    """The scores go through the attention module's q/k path (the same weights the decoder uses) and equal the
    reference formula: layer-0 input norm, q/k projections without RoPE, q·k/√d averaged over heads and queries."""
    llm = libero_policy.llm
    layer = llm.model.layers[0]
    attn = layer.self_attn
    gen = torch.Generator().manual_seed(0)
    queries = torch.randn(1, 9, libero_policy.arch.llm.hidden_size, generator=gen)
    vision = torch.randn(1, 20, libero_policy.arch.llm.hidden_size, generator=gen)
    called = []
    handles = [m.register_forward_hook(lambda m, i, o: called.append(m)) for m in (attn.q_proj, attn.k_proj)]
    try:
        with torch.inference_mode():
            scores = adp_scores(llm, queries, vision)
    finally:
        for h in handles:
            h.remove()
    assert called == [attn.q_proj, attn.k_proj]
    with torch.inference_mode():
        q = attn.q_proj(layer.input_layernorm(queries)).view(1, 9, attn.num_heads, attn.head_dim).transpose(1, 2)
        k = attn.k_proj(layer.input_layernorm(vision)).view(1, 20, attn.num_kv_heads, attn.head_dim).transpose(1, 2)
        k = k.repeat_interleave(attn.num_heads // attn.num_kv_heads, dim=1)
        expected = (q @ k.transpose(-2, -1) * (1.0 / math.sqrt(attn.head_dim))).mean(dim=(0, 1, 2))
    torch.testing.assert_close(scores, expected, rtol=0, atol=0)


def test_an_observer_sees_every_stage_and_the_output(libero_policy, obs):
    seen = []

    def observer(trace):
        seen.append(trace)

    prune = PruneConfig(mode="adp", keep_ratio=0.3)
    out = libero_policy.predict(obs, prune, observer=observer)
    (trace,) = seen
    assert out.stages is None  # the observer returned nothing
    assert trace.output.layout == out.layout and np.array_equal(trace.output.actions, out.actions)
    assert trace.llm.vision.shape[1] == out.tokens.vision_kept < trace.encoded.vision.shape[1]
    assert "hidden_after_layer0" in trace.llm.layer_states
    np.testing.assert_array_equal(out.actions, libero_policy.predict(obs, prune).actions)
    with pytest.raises(ConfigError, match="dump=True or an observer"):
        libero_policy.predict(obs, dump=True, observer=observer)


@pytest.mark.parametrize(("center_crop", "image_key"), [(False, "center_cropped_224"), (True, "raw_images")])
def test_views_are_the_images_the_model_was_fed(libero_policy, center_crop, image_key):
    policy = libero_policy
    if center_crop:
        from adp_ros.model.policy import OftPolicy

        policy = OftPolicy(dataclasses.replace(libero_policy.config, center_crop=True))
    data = golden("libero")
    key = image_key if f"case0/{image_key}" in data.files else "resized_224"
    observation = golden_observation(data, "case0", key)
    out = policy.predict(observation, dump=True)
    assert len(out.views) == policy.platform.num_images
    for view, frame in zip(out.views, observation.images, strict=True):
        assert view.dtype == np.uint8 and view.shape == (224, 224, 3)
        assert not np.may_share_memory(view, frame)
    # Exactly the pixels the towers got: re-normalising the views gives the model's pixel values bit for bit.
    np.testing.assert_array_equal(pixel_values(out.views, policy.image_norm), out.stages["pixel_values"])
    crop_key = "center_cropped_224" if center_crop else "resized_224"
    np.testing.assert_array_equal(np.stack(out.views), out.stages[crop_key])
    plain = policy.predict(observation)  # no dump: the same views, from the normal path
    for a, b in zip(plain.views, out.views, strict=True):
        np.testing.assert_array_equal(a, b)
