"""The parameter schema: one spec per tunable, defaults from the dataclasses, whole-config validation with
errors that name parameter, value, allowed range and fix."""

from __future__ import annotations

import ast
import dataclasses
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from adp_ros.core import params as P
from adp_ros.core.errors import ConfigError
from adp_ros.core.gate import GATE_PRESETS, GateConfig
from adp_ros.core.motion import COMBINE_METHODS
from adp_ros.core.params import choices
from adp_ros.core.platform import PRESETS
from adp_ros.core.pruning import PRUNE_MODES, PruneConfig
from adp_ros.core.safety import GUARD_MODES
from adp_ros.core.schedule import CONTROL_MODES
from adp_ros.core.sync import BACKEND_NAME


def test_names_are_unique_grouped_and_described():
    names = [s.name for s in P.SPECS]
    assert len(names) == len(set(names))
    for spec in P.SPECS:
        assert "." in spec.name, spec.name
        assert spec.description.strip(), spec.name
        assert P.check_value(spec, spec.default) == "", spec.name
        assert not (spec.read_only and spec.live)


def test_every_gate_and_prune_field_is_a_parameter_with_the_dataclass_default():
    gate, prune = GateConfig(), PruneConfig()
    for field in dataclasses.fields(GateConfig):
        spec = P.get_spec(f"gate.{field.name}")
        assert spec.default == getattr(gate, field.name), field.name
        assert spec.live
    for field in dataclasses.fields(PruneConfig):
        spec = P.get_spec(f"pruning.{field.name}")
        expected = getattr(prune, field.name)
        assert spec.default == ([] if expected is None else expected), field.name
    assert P.get_spec("gate.preset").choices == ("auto", *GATE_PRESETS)


def test_defaults_resolve_to_the_dataclass_defaults():
    resolved = P.resolve({})
    assert resolved.gate == GateConfig()
    assert resolved.prune == PruneConfig()
    node = resolved.node
    assert node.model.platform.name == "libero"
    assert node.control.control_hz == 20.0 and node.control.execute_steps == 8
    assert node.output.type == "multi_dof_joint_trajectory"
    assert node.safety.dry_run is False and node.safety.enable_on_activate is False
    assert node.motion.gate_preset == "default"


def test_platform_presets_resolve():
    aloha = P.resolve(P.preset_values("aloha"))
    assert aloha.node.output.type == "joint_trajectory"
    assert len(aloha.node.output.joint_names) == 14
    assert aloha.node.motion.joint_groups == (6, 6)
    assert aloha.gate == GATE_PRESETS["default_joint"]
    libero = P.resolve(P.preset_values("libero"))
    assert libero.node.output.translation_scale == 0.05
    assert set(P.PLATFORM_PRESETS["libero"]) <= set(P.SPEC_BY_NAME)


def test_gate_preset_with_field_overrides():
    resolved = P.resolve({"gate.preset": "reference", "gate.window": 5})
    assert resolved.gate == GATE_PRESETS["reference"].replace(window=5)
    assert resolved.node.motion.gate_preset == "reference"


@pytest.mark.parametrize(
    ("values", "parts"),
    [
        ({"gate.window": 2}, ["'gate.window'", "= 2", "[3, 64]", "-p gate.window:=3"]),
        ({"pruning.keep_ratio": 1.5}, ["'pruning.keep_ratio'", "1.5", "[1e-06, 1]"]),
        ({"pruning.mode": "fastvv"}, ["'pruning.mode'", "did you mean 'fastv'"]),
        ({"gate.window": 3.0}, ["wrong type"]),
        ({"sync.slop_sec": 1}, ["'sync.slop_sec'"]),  # ints are fine for doubles in the schema
        ({"gate.window_min": 9}, ["'gate.window_min' = 9", "window_max=8"]),
        ({"topics.cameras": ["a"]}, ["'topics.cameras'", "expects 2 (primary, wrist)"]),
        ({"proprio.joint_names": ["j"] * 2}, ["lists 'j' twice"]),
        ({"proprio.source": "joint_states"}, ["proprio_dim=8", "list 8 joint names"]),
        ({"control.execute_steps": 9}, ["chunk length 8"]),
        ({"safety.max_delta": [0.1]}, ["action_dim=7"]),
        ({"safety.action_lower": [1.0] * 7, "safety.action_upper": [0.0] * 7}, ["lower[0]=1.0 > upper[0]=0.0"]),
        ({"gate.motion_source": "joint_states"}, ["'gate.joint_names'", "is empty"]),
        ({"output.type": "joint_trajectory"}, ["'output.joint_names'"]),
        ({"pruning.camera_split": [1.0, 1.0, 1.0, 1.0]}, ["'pruning.camera_split'", "2 camera(s)"]),
        ({"diagnostics.debug_image_camera": 2}, ["has 2 camera(s)"]),
        ({"nonexistent.param": 1}, ["unknown parameter"]),
    ],
)
def test_errors_name_the_parameter_value_range_and_fix(values, parts):
    if values == {"sync.slop_sec": 1}:
        assert P.resolve(values).node.sync.slop_sec == 1.0
        return
    with pytest.raises(ConfigError) as info:
        P.resolve(values)
    for part in parts:
        assert part in str(info.value), str(info.value)


def test_validate_value_normalises_numbers():
    assert P.validate_value("pruning.keep_ratio", 1) == 1.0
    assert P.validate_value("pruning.camera_split", [1, 2]) == [1.0, 2.0]
    with pytest.raises(ConfigError, match="wrong type"):
        P.validate_value("gate.adaptive_window", 1)


def test_format_value_round_trips_through_yaml():
    for value in (0.05, 1e-9, 1e-6, 1000.0, 2.5e10, -3.0, math.inf, -math.inf, 3, True, 'a "q" \\ b', [1.0, 2.0], []):
        text = P.format_value(value)
        assert yaml.safe_load(f"k: {text}")["k"] == value, text


def test_flatten_and_non_live():
    assert P.flatten({"gate": {"window": 3}, "node": {"autostart": True}}) == {
        "gate.window": 3,
        "node.autostart": True,
    }
    assert P.non_live_changes(["gate.window", "topics.cameras", "use_sim_time"]) == ["topics.cameras"]


# The package's modules, lowest first: each may import only those before it (no cycles, no upward imports).
PARAMS_LAYERS = ("spec", "choices", "specs_interface", "specs_behaviour", "schema", "settings", "resolution")


def test_params_modules_import_only_lower_ones_and_say_why_they_exist():
    package = Path(P.__file__).parent
    assert {p.stem for p in package.glob("*.py")} == {"__init__", *PARAMS_LAYERS}, "place a new module in the order"
    bad = []
    for rank, name in enumerate(PARAMS_LAYERS):
        tree = ast.parse((package / f"{name}.py").read_text())
        assert (ast.get_docstring(tree) or "").strip(), f"{name}.py needs a docstring saying why it exists"
        for node in ast.walk(tree):
            modules = []
            if isinstance(node, ast.ImportFrom):
                modules = [node.module or ""] if node.level == 0 else [f"adp_ros.core.params.{node.module or ''}"]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            for module in modules:
                if module == "adp_ros.core.params" or module.startswith("adp_ros.core.params."):
                    target = module.removeprefix("adp_ros.core.params").lstrip(".").split(".")[0]
                    if target not in PARAMS_LAYERS[:rank]:
                        bad.append(f"{name} imports {module}")
    assert not bad, bad


def test_choice_lists_come_from_their_one_definition():
    assert P.get_spec("pruning.mode").choices is PRUNE_MODES
    assert P.get_spec("control.mode").choices is CONTROL_MODES
    assert P.get_spec("safety.guard_mode").choices is GUARD_MODES
    assert P.get_spec("gate.arm_combine").choices is COMBINE_METHODS
    assert P.get_spec("model.platform").choices == tuple(PRESETS)
    assert BACKEND_NAME in P.get_spec("sync.backend").choices
    assert P.get_spec("output.type").choices is P.OUTPUT_TYPE_NAMES
    assert P.get_spec("output.gripper_type").choices is P.GRIPPER_TYPE_NAMES
    for spec in P.SPECS:  # every choices= of the tables is a list named in `choices`
        if spec.choices:
            assert any(spec.choices is getattr(choices, n) for n in choices.__all__), spec.name


def test_core_params_imports_neither_rclpy_nor_torch():
    code = "import sys, adp_ros.core.params; print(sorted(m for m in ('rclpy', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_explicit_gate_field_overrides_the_preset_whatever_its_value():
    """A value equal to the 'default' preset's is indistinguishable from "not set" by value alone (issue 12)."""
    values = {"gate.preset": "reference", "gate.standstill_deadband": GATE_PRESETS["default"].standstill_deadband}
    assert P.resolve(values).gate == GATE_PRESETS["reference"]  # at start: a default-valued field is not set
    explicit = P.resolve(values, explicit={"gate.standstill_deadband"}).gate
    assert explicit == GATE_PRESETS["reference"].replace(standstill_deadband=0.005)
    joint = P.resolve(
        P.preset_values("aloha") | {"gate.standstill_deadband": 0.005}, explicit={"gate.standstill_deadband"}
    )
    assert joint.gate.standstill_deadband == 0.005 and joint.node.motion.gate_preset == "default_joint"


def test_max_start_distance_defaults_per_platform():
    inf = float("inf")
    aloha = P.preset_values("aloha")
    assert P.resolve(aloha).node.safety.guard.max_start_distance == ((0.3,) * 6 + (inf,)) * 2  # grippers free
    assert P.resolve(aloha | {"safety.max_start_distance": [0.5]}).node.safety.guard.max_start_distance == (0.5,) * 14
    libero = P.resolve(P.preset_values("libero")).node.safety
    assert libero.guard.max_start_distance == () and libero.limits_from_statistics and not libero.allow_unbounded
    assert P.resolve({"safety.max_start_distance": [inf]}).node.safety.guard.max_start_distance == ()
    with pytest.raises(ConfigError, match="bounds absolute joint positions, but libero outputs eef_delta"):
        P.resolve({"safety.max_start_distance": [0.3]})
    with pytest.raises(ConfigError, match="has 2 entries but the aloha policy has action_dim=14"):
        P.resolve(aloha | {"safety.max_start_distance": [0.3, 0.3]})
