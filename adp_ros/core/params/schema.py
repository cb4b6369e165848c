"""The parameter schema: every tunable of the node, once, and what reads it parameter by parameter.

`SPECS` is the single source of truth. From it come the `ParameterDescriptor`s the node declares
(`adp_ros/ros/parameters.py`), `config/adp_ros.yaml`, the platform presets `config/libero.yaml` and
`config/aloha.yaml`, and the table in `docs/parameters.md` (`adp-ros params --write`; `--check` fails on drift).
The rows live in `specs_interface` and `specs_behaviour`; this module joins them, names the platform presets,
and looks values up and checks them one parameter at a time (`get_spec`, `validate_value`, `check_values`).
Consistency between parameters is `resolution`'s.

Names use dots for groups (`gate.window`); in a params file they nest (`gate: {window: 3}`).
`live` parameters may change while the node is configured or active and apply at the next chunk; the others
are read at configure (set them before, or deactivate + clean up, set, configure again). `read_only` ones (the
model's identity) can only be given at start (params file or `-p`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from adp_ros.core.errors import ConfigError, closest
from adp_ros.core.gate import GateConfig
from adp_ros.core.motion import ALOHA_ARM_JOINTS, LIBERO_DELTA_SCALE_M_PER_UNIT
from adp_ros.core.params.spec import ParamSpec, check_value, param_error
from adp_ros.core.params.specs_behaviour import DIAGNOSTICS_SPECS, GATE_SPECS, PRUNING_SPECS, SAFETY_SPECS
from adp_ros.core.params.specs_interface import (
    CONTROL_SPECS,
    MODEL_SPECS,
    NODE_SPECS,
    OUTPUT_SPECS,
    PROPRIO_SPECS,
    SYNC_SPECS,
    TOPIC_SPECS,
    camera_topics,
)
from adp_ros.core.platform import ALOHA, LIBERO
from adp_ros.core.pruning import PruneConfig

NODE_NAME = "adp_policy_node"

SPECS: tuple[ParamSpec, ...] = (
    *NODE_SPECS,
    *MODEL_SPECS,
    *TOPIC_SPECS,
    *SYNC_SPECS,
    *PROPRIO_SPECS,
    *CONTROL_SPECS,
    *OUTPUT_SPECS,
    *GATE_SPECS,
    *PRUNING_SPECS,
    *SAFETY_SPECS,
    *DIAGNOSTICS_SPECS,
)
SPEC_BY_NAME: dict[str, ParamSpec] = {s.name: s for s in SPECS}
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(s.group for s in SPECS))
GATE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(GateConfig))
PRUNE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(PruneConfig))

# Platform presets (config/libero.yaml, config/aloha.yaml): only what differs from the defaults, plus the
# platform. Joint names are those of the synthetic bags (`adp-ros bag synth`) and of common drivers.
PLATFORM_PRESETS: dict[str, dict[str, Any]] = {
    "libero": {
        "model.platform": LIBERO.name,
        "topics.cameras": camera_topics(LIBERO),
        "proprio.source": "eef_pose_and_joints",
        "proprio.joint_names": ["panda_finger_joint1", "panda_finger_joint2"],
        "gate.motion_source": "eef_pose",
        "output.type": "multi_dof_joint_trajectory",
        "output.translation_scale": LIBERO_DELTA_SCALE_M_PER_UNIT,
        "output.rotation_scale": 0.5,
        "output.frame_id": "panda_link0",
    },
    "aloha": {
        "model.platform": ALOHA.name,
        "topics.cameras": camera_topics(ALOHA),
        "proprio.source": "joint_states",
        "proprio.joint_names": [f"{arm}_{j}" for arm in ("left", "right") for j in (*ALOHA_ARM_JOINTS, "gripper")],
        "gate.motion_source": "joint_states",
        "gate.joint_names": [f"{arm}_{j}" for arm in ("left", "right") for j in ALOHA_ARM_JOINTS],
        "gate.joint_groups": [len(ALOHA_ARM_JOINTS), len(ALOHA_ARM_JOINTS)],
        "output.type": "joint_trajectory",
    },
}


def defaults() -> dict[str, Any]:
    """name → default value (lists copied)."""
    return {s.name: (list(s.default) if s.is_array else s.default) for s in SPECS}


def preset_values(name: str) -> dict[str, Any]:
    """Defaults with a platform preset applied."""
    try:
        overrides = PLATFORM_PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown parameter preset {name!r}{closest(name, PLATFORM_PRESETS)}") from None
    values = defaults()
    values.update({k: (list(v) if isinstance(v, list) else v) for k, v in overrides.items()})
    return values


def get_spec(name: str) -> ParamSpec:
    try:
        return SPEC_BY_NAME[name]
    except KeyError:
        raise ConfigError(f"unknown parameter {name!r}{closest(name, SPEC_BY_NAME)}") from None


def validate_value(name: str, value: Any) -> Any:
    """Check one value against its spec; returns it normalised (ints for doubles become floats, lists)."""
    spec = get_spec(name)
    problem = check_value(spec, value)
    if problem:
        raise param_error(spec, value, problem)
    if spec.type == "double":
        return float(value)
    if spec.type == "double_array":
        return [float(v) for v in value]
    if spec.is_array:
        return list(value)
    return value


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params-file mapping (`gate: {window: 3}`) → dotted names."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def check_values(values: Mapping[str, Any], names: Iterable[str] | None = None) -> dict[str, Any]:
    """Per-parameter checks (type, range, choices) for `names` (default: all specs). Missing → default."""
    out = defaults()
    unknown = sorted(set(values) - set(SPEC_BY_NAME))
    if unknown:
        hint = closest(unknown[0], SPEC_BY_NAME)
        raise ConfigError(f"unknown parameter(s) {', '.join(unknown)}{hint}; `adp-ros params` lists them all")
    for name in names if names is not None else SPEC_BY_NAME:
        if name in values and values[name] is not None:
            out[name] = validate_value(name, values[name])
    return out
