"""The gate against the reference: test/fixtures/adp/gate_cases.json (provenance in README_gate.md there).

Every case × configuration must match: `modes` and `next_state` exactly, `delta` to 1e-12, and the explanatory
fields (band, thresholds, cap) where the fixture has them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adp_ros.core.gate import (
    REFERENCE,
    ActionAwareGate,
    GateConfig,
    config_from_reference,
    get_gate_preset,
    replay_trajectory,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "adp" / "gate_cases.json"
DATA = json.loads(FIXTURE.read_text())
CASES = {c["name"]: c for c in DATA["cases"]}
VARIANTS = DATA["variants"]
CHUNK = DATA["chunk_len"]
STATE = {0: "dense", 1: "pruned"}

# The same six configurations written out by hand, so the mapping itself is checked too.
HAND_MAPPED = {
    "reference_default": REFERENCE,
    "reference_last_state_hold": REFERENCE.replace(middle_band="hold"),
    "reference_no_cap": REFERENCE.replace(max_consecutive_pruned=0),
    "reference_sum_path_length": REFERENCE.replace(displacement="path_length"),
    "reference_window5": REFERENCE.replace(window=5),
    "reference_avg_dataclass_default": REFERENCE.replace(decision_method="avg"),
}

PAIRS = [(c, v) for c in CASES for v in VARIANTS]


def test_fixture_shape():
    assert len(CASES) == 10 and len(VARIANTS) == 6
    assert set(HAND_MAPPED) == set(VARIANTS)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_reference_mapping_matches_hand_mapping(variant):
    assert config_from_reference(VARIANTS[variant]) == HAND_MAPPED[variant]


def test_reference_preset_is_reference_default():
    assert get_gate_preset("reference") == config_from_reference(VARIANTS["reference_default"])
    assert get_gate_preset("reference").standstill_deadband == 0.0


@pytest.mark.parametrize(("case", "variant"), PAIRS)
def test_matches_reference(case, variant):
    c = CASES[case]
    expected = c["decisions"][variant]
    config = config_from_reference(VARIANTS[variant])
    decisions = replay_trajectory(c["eef_positions"], CHUNK, config)
    n = c["n_chunks"]
    assert len(decisions) == n + 1

    modes = "".join(d.mode_letter for d in decisions[:-1])
    assert modes == expected["modes"]
    for k, rec in enumerate(expected["per_chunk"]):
        after = decisions[k + 1]
        assert decisions[k].state == STATE[rec["state_used"]]
        assert after.state == STATE[rec["next_state"]], f"chunk {k}"
        assert after.displacement == pytest.approx(rec["delta"], abs=1e-12, rel=0)
        if config.max_consecutive_pruned:
            assert after.pruned_streak == rec["ones_streak_after"]
        if "forced_dense_by_cap" in rec:
            assert after.forced_dense_by_cap == rec["forced_dense_by_cap"]
            assert after.decision_before_cap == STATE[rec["decision_before_cap"]]
        if "avg_delta_after" in rec:
            assert after.average == pytest.approx(rec["avg_delta_after"], abs=1e-12, rel=0)
        if "cold_start" in rec:
            assert (after.band == "cold_start") == rec["cold_start"]
        if rec.get("band") is not None:
            assert after.band == rec["band"]
            assert after.up_threshold == pytest.approx(rec["up_thr"], abs=1e-12, rel=0)
            assert after.down_threshold == pytest.approx(rec["dn_thr"], abs=1e-12, rel=0)
            np.testing.assert_allclose(after.reference_values, rec["reference_values"], atol=1e-12, rtol=0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_online_stamps_need_not_align_with_requests(case):
    """A node requests chunks between samples: the window starts at the last sample before the request."""
    c = CASES[case]
    expected = c["decisions"]["reference_default"]
    pos = np.asarray(c["eef_positions"])
    step = 10_000_000  # 100 Hz samples
    gate = ActionAwareGate(REFERENCE, buffer_capacity=64)
    decisions = []
    for k in range(c["n_chunks"] + 1):
        lo = 0 if k == 0 else CHUNK * (k - 1) + 1
        for i in range(lo, CHUNK * k + 1):
            gate.observe(1_000 + i * step, pos[i])
        decisions.append(gate.decide(1_000 + CHUNK * k * step + step // 2))  # half a sample after the pose
    assert "".join(d.mode_letter for d in decisions[:-1]) == expected["modes"]
    for k, rec in enumerate(expected["per_chunk"]):
        assert decisions[k + 1].displacement == pytest.approx(rec["delta"], abs=1e-12, rel=0)
        assert decisions[k + 1].num_samples == CHUNK + 1


def test_every_fixture_config_is_a_plain_gate_config():
    for variant in VARIANTS.values():
        assert isinstance(config_from_reference(variant), GateConfig)
