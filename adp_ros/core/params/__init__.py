"""The node's parameters: schema, single-value checks, settings and their resolution, by concern.

This package was one 1,700-line module; its public names are re-exported here, so `from adp_ros.core.params
import X` is the import to use. Modules, lowest first (each imports only the ones before it; `test_params`
checks it):

- `spec`: `ParamSpec` and how one value is checked against it (`check_value`) and written (`format_value`,
  `param_error`).
- `choices`: every choice list of the schema, defined once (or imported from the core module that owns it).
- `specs_interface`, `specs_behaviour`: the rows of the schema table (node ... output; gate ... diagnostics).
- `schema`: `SPECS` and what reads it parameter by parameter (lookups, defaults, platform presets, per-value
  checks).
- `settings`: the frozen settings dataclasses the node runs with (`NodeConfig`, `ResolvedConfig`, ...).
- `resolution`: `resolve` (values → `ResolvedConfig`, with every check between parameters) and its helpers.
"""

from __future__ import annotations

from adp_ros.core.params.choices import (
    ACCELERATIONS,
    COMBINE_METHODS,
    CONTROL_MODES,
    DEADBAND_HISTORIES,
    DECISION_METHODS,
    DISPLACEMENT_KINDS,
    DTYPES,
    GATE_PRESET_CHOICES,
    GATE_STATES,
    GRIPPER_TYPE_NAMES,
    GUARD_MODES,
    IMAGE_TRANSPORTS,
    MIDDLE_BANDS,
    MOTION_SOURCES,
    OUTPUT_TYPE_NAMES,
    PLATFORMS,
    POSITION_MODES,
    PROPRIO_SOURCES,
    PRUNE_MODES,
    READOUTS,
    STREAMS,
    SYNC_BACKENDS,
    TRAJECTORY_STARTS,
)
from adp_ros.core.params.resolution import (
    DEFAULT_MAX_START_DISTANCE,
    EEF_POSE_PROPRIO_DIMS,
    START_DISTANCE_RAD,
    non_live_changes,
    require_checkpoint,
    resolve,
)
from adp_ros.core.params.schema import (
    GATE_FIELDS,
    GROUPS,
    NODE_NAME,
    PLATFORM_PRESETS,
    PRUNE_FIELDS,
    SPEC_BY_NAME,
    SPECS,
    check_values,
    defaults,
    flatten,
    get_spec,
    preset_values,
    validate_value,
)
from adp_ros.core.params.settings import (
    ControlSettings,
    DiagnosticsSettings,
    ModelSettings,
    MotionSettings,
    NodeConfig,
    OutputSettings,
    ProprioSettings,
    ResolvedConfig,
    SafetySettings,
    SyncSettings,
    TopicSettings,
)
from adp_ros.core.params.spec import PARAM_TYPES, ParamSpec, ParamType, check_value, format_value, param_error

__all__ = [
    "ACCELERATIONS",
    "COMBINE_METHODS",
    "CONTROL_MODES",
    "DEADBAND_HISTORIES",
    "DECISION_METHODS",
    "DEFAULT_MAX_START_DISTANCE",
    "DISPLACEMENT_KINDS",
    "DTYPES",
    "EEF_POSE_PROPRIO_DIMS",
    "GATE_FIELDS",
    "GATE_PRESET_CHOICES",
    "GATE_STATES",
    "GRIPPER_TYPE_NAMES",
    "GROUPS",
    "GUARD_MODES",
    "IMAGE_TRANSPORTS",
    "MIDDLE_BANDS",
    "MOTION_SOURCES",
    "NODE_NAME",
    "OUTPUT_TYPE_NAMES",
    "PARAM_TYPES",
    "PLATFORMS",
    "PLATFORM_PRESETS",
    "POSITION_MODES",
    "PROPRIO_SOURCES",
    "PRUNE_FIELDS",
    "PRUNE_MODES",
    "READOUTS",
    "SPECS",
    "SPEC_BY_NAME",
    "START_DISTANCE_RAD",
    "STREAMS",
    "SYNC_BACKENDS",
    "TRAJECTORY_STARTS",
    "ControlSettings",
    "DiagnosticsSettings",
    "ModelSettings",
    "MotionSettings",
    "NodeConfig",
    "OutputSettings",
    "ParamSpec",
    "ParamType",
    "ProprioSettings",
    "ResolvedConfig",
    "SafetySettings",
    "SyncSettings",
    "TopicSettings",
    "check_value",
    "check_values",
    "defaults",
    "flatten",
    "format_value",
    "get_spec",
    "non_live_changes",
    "param_error",
    "preset_values",
    "require_checkpoint",
    "resolve",
    "validate_value",
]
