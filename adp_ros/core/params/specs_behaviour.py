"""The parameters of what the node computes and how it is guarded: gate, pruning, safety and diagnostics.

The other half of the schema table (`specs_interface` holds node, model, topics, ..., output); split only so
that each file stays readable, `schema.SPECS` joins them. Every `gate.*` field of `GateConfig` and `pruning.*`
field of `PruneConfig` takes its default from the dataclass itself (`GateConfig()`, `PruneConfig()`), and the
safety defaults from `StalenessConfig` / `ActionGuardConfig`, so the schema cannot drift from the core configs.
"""

from __future__ import annotations

import inspect
from typing import Any

from adp_ros.core.gate import DEFAULT as DEFAULT_GATE
from adp_ros.core.gate import MAX_CAP, MAX_DISTANCE, WINDOW_RANGE, ActionAwareGate
from adp_ros.core.motion import LIBERO_DELTA_SCALE_M_PER_UNIT
from adp_ros.core.params.choices import (
    COMBINE_METHODS,
    DEADBAND_HISTORIES,
    DECISION_METHODS,
    DISPLACEMENT_KINDS,
    GATE_PRESET_CHOICES,
    GATE_STATES,
    GUARD_MODES,
    MIDDLE_BANDS,
    MOTION_SOURCES,
    POSITION_MODES,
    PRUNE_MODES,
    READOUTS,
)
from adp_ros.core.params.spec import ParamSpec, ParamType
from adp_ros.core.pruning import PruneConfig
from adp_ros.core.safety import STATISTICS_MARGIN, ActionGuardConfig, StalenessConfig

_s = ParamSpec  # the rows give name, type, default and description positionally

_PRUNE = PruneConfig()
_BUFFER_CAPACITY = inspect.signature(ActionAwareGate).parameters["buffer_capacity"].default
_STALE_FUTURE_NS = StalenessConfig(max_age_ns=1).max_future_ns
_GUARD_MODE = ActionGuardConfig(action_dim=1).mode


def _gate(field_name: str, type_: ParamType, description: str, **kw: Any) -> ParamSpec:
    """A GateConfig field: default from `GateConfig()`, always live."""
    return ParamSpec(f"gate.{field_name}", type_, getattr(DEFAULT_GATE, field_name), description, live=True, **kw)


def _prune(field_name: str, type_: ParamType, description: str, default: Any = None, **kw: Any) -> ParamSpec:
    value = getattr(_PRUNE, field_name) if default is None else default
    return ParamSpec(f"pruning.{field_name}", type_, value, description, live=True, **kw)


GATE_SPECS: tuple[ParamSpec, ...] = (
    _s(
        "gate.preset",
        "string",
        "auto",
        "Base gate settings. A gate.* field overrides it when set while the node runs (any value) or, given "
        "at start, when it differs from the 'default' preset (config/adp_ros.yaml lists every field at that "
        "value). auto: 'default_joint' for joint_states motion, else 'default'. 'reference' = the paper's code "
        "exactly.",
        choices=GATE_PRESET_CHOICES,
        live=True,
    ),
    _gate(
        "decision_method",
        "string",
        "adjacent: compare the chunk's displacement with the previous window−1 (reference); avg: running mean.",
        choices=DECISION_METHODS,
    ),
    _gate(
        "window",
        "int",
        "Lw: displacements compared (adjacent); also the cold start. Changing it keeps the history.",
        unit="chunks",
        min=WINDOW_RANGE[0],
        max=WINDOW_RANGE[1],
    ),
    _gate(
        "max_consecutive_pruned",
        "int",
        "At most this many pruned chunks in a row, then one dense (0 = no cap).",
        unit="chunks",
        min=0,
        max=MAX_CAP,
    ),
    _gate(
        "displacement",
        "string",
        "net: ‖last − first‖ over the chunk; path_length: sum of step norms (steps below min_step count 0).",
        choices=DISPLACEMENT_KINDS,
    ),
    _gate(
        "middle_band",
        "string",
        "Between min and max of the previous values: prune (reference) or hold the current state.",
        choices=MIDDLE_BANDS,
    ),
    _gate(
        "initial_state",
        "string",
        "State of the first chunk and during the cold start.",
        choices=GATE_STATES,
    ),
    _gate(
        "min_step",
        "double",
        "path_length only: per-step motion below this counts as 0 (m, or rad for joint motion).",
        unit="m|rad",
        min=0.0,
        max=MAX_DISTANCE,
    ),
    _gate(
        "standstill_deadband",
        "double",
        "A chunk displacement below this runs dense (standstill, fine work); 0 = off (reference).",
        unit="m|rad",
        min=0.0,
        max=MAX_DISTANCE,
    ),
    _gate(
        "deadband_history",
        "string",
        "What a below-deadband displacement does to the history: exclude, include (reference) or reset it.",
        choices=DEADBAND_HISTORIES,
    ),
    _gate("adaptive_window", "bool", "Let the window follow recent motion within [window_min, window_max]."),
    _gate("window_min", "int", "Smallest adaptive window.", unit="chunks", min=WINDOW_RANGE[0], max=WINDOW_RANGE[1]),
    _gate("window_max", "int", "Largest adaptive window.", unit="chunks", min=WINDOW_RANGE[0], max=WINDOW_RANGE[1]),
    _gate(
        "adaptive_change_scale",
        "double",
        "Mean relative change of successive displacements at which the adaptive window reaches window_min.",
        min=1e-6,
        max=100.0,
    ),
    _s(
        "gate.motion_source",
        "string",
        "eef_pose",
        "What the gate measures: eef_pose (PoseStamped on topics.eef_pose; the reference signal), "
        "predicted_delta (integrate the published translation deltas; delta policies without a pose topic), "
        "joint_states (gate.joint_names; joint-position policies).",
        choices=MOTION_SOURCES,
    ),
    _s(
        "gate.delta_scale_m_per_unit",
        "double",
        LIBERO_DELTA_SCALE_M_PER_UNIT,
        "predicted_delta: metres per action unit of the translation deltas (robosuite OSC_POSE: 0.05).",
        unit="m/unit",
        min=1e-9,
        max=10.0,
    ),
    _s(
        "gate.delta_translation_indices",
        "int_array",
        [0, 1, 2],
        "predicted_delta: indices of dx, dy, dz in the action vector.",
        min=0,
        max=1000,
    ),
    _s(
        "gate.joint_names",
        "string_array",
        [],
        "joint_states motion: the arm joints measured (grippers left out), arm after arm.",
    ),
    _s(
        "gate.joint_groups",
        "int_array",
        [],
        "joint_states motion: joints per arm in gate.joint_names, e.g. [6, 6]; empty = one arm.",
        min=1,
        max=1000,
    ),
    _s(
        "gate.arm_combine",
        "string",
        "max",
        "Two or more arms: combine their displacements by max (safe default), sum or l2.",
        choices=COMBINE_METHODS,
    ),
    _s(
        "gate.buffer_capacity",
        "int",
        _BUFFER_CAPACITY,
        "Motion samples kept (ring buffer by header stamp); hold at least one chunk of samples.",
        unit="samples",
        min=16,
        max=1_000_000,
    ),
)

PRUNING_SPECS: tuple[ParamSpec, ...] = (
    _prune(
        "mode",
        "string",
        "adp: the gate decides per chunk (dense or pruned); static/random/fastv prune every chunk; dense never.",
        choices=PRUNE_MODES,
    ),
    _prune(
        "keep_ratio",
        "double",
        "Fraction of visual tokens kept on a pruned chunk, in (0, 1].",
        min=1e-6,
        max=1.0,
    ),
    _prune(
        "camera_split",
        "double_array",
        "Keep budget per camera (or [main, wrists]); empty = the platform's (0.4 / 0.6 split).",
        default=[],
        min=0.0,
        max=1e6,
    ),
    _prune(
        "position_mode",
        "string",
        "repacked: contiguous positions after pruning (reference); original: keep the dense positions.",
        choices=POSITION_MODES,
    ),
    _prune(
        "readout",
        "string",
        "oft: action read-out as OpenVLA-OFT trained it; reference: ADP's one-token shift.",
        choices=READOUTS,
    ),
    _prune("fastv_layer", "int", "fastv: dense LLM layers before pruning by attention.", min=1, max=1000),
    _prune("random_seed", "int", "random: seed of the token sampler.", min=0, max=2**31 - 1),
)

SAFETY_SPECS: tuple[ParamSpec, ...] = (
    _s(
        "safety.dry_run",
        "bool",
        False,
        "Never command the arm: chunks go only to the preview topic and the enable service refuses.",
        live=True,
    ),
    _s(
        "safety.enable_on_activate",
        "bool",
        False,
        "Enable commands at activation. Off: the node starts disabled (preview only) until ~/enable is called.",
        live=True,
    ),
    _s(
        "safety.max_observation_age_sec",
        "double",
        0.5,
        "Observations older than this (ROS time − oldest stamp of the set) are not acted on, checked when "
        "inference starts and again at publish. While commanding, no fresh observation for this long after the "
        "last commanded chunk ran out sends the stop message once and holds /diagnostics at ERROR (docs/safety.md).",
        unit="s",
        min=0.001,
        max=3600.0,
        live=True,
    ),
    _s(
        "safety.max_future_sec",
        "double",
        _STALE_FUTURE_NS / 1e9,
        "Tolerated stamps in the future (clock offset between camera host and this one).",
        unit="s",
        min=0.0,
        max=60.0,
        live=True,
    ),
    _s(
        "safety.guard_mode",
        "string",
        _GUARD_MODE,
        "clamp: clip to the limits and per-step deltas; reject: refuse the whole chunk on any violation. "
        "NaN/Inf always refuses the chunk.",
        choices=GUARD_MODES,
        live=True,
    ),
    _s(
        "safety.action_lower",
        "double_array",
        [],
        "Lower limit per action dimension; empty = from the checkpoint's dataset statistics "
        "(safety.limits_from_statistics); -.inf for no limit on one dimension.",
        live=True,
    ),
    _s(
        "safety.action_upper",
        "double_array",
        [],
        "Upper limit per action dimension; empty = from the checkpoint's dataset statistics; .inf for no limit on "
        "one dimension.",
        live=True,
    ),
    _s(
        "safety.limits_from_statistics",
        "bool",
        True,
        "Where safety.action_lower/upper are empty, limit each action dimension to the range the policy was "
        "trained on: min/max of the action in dataset_statistics.json, widened by safety.statistics_margin.",
        live=True,
    ),
    _s(
        "safety.statistics_margin",
        "double",
        STATISTICS_MARGIN,
        "Widening of the limits from the dataset statistics on each side, as a fraction of each dimension's "
        "training range (max − min).",
        min=0.0,
        max=10.0,
        live=True,
    ),
    _s(
        "safety.max_start_distance",
        "double_array",
        [],
        "Absolute joint-position policies (joint_trajectory output): largest distance of a chunk's first point "
        "from the measured joints; farther refuses the chunk. One value (every dimension) or one per dimension, "
        ".inf = no bound; empty = the platform's (ALOHA: 0.3 rad on the arm joints, none on the grippers).",
        live=True,
    ),
    _s(
        "safety.allow_unbounded",
        "bool",
        False,
        "Allow commanding (~/enable, safety.enable_on_activate) while an action dimension has no finite lower and "
        "upper limit. Off: ~/enable is refused until every dimension is limited.",
        live=True,
    ),
    _s(
        "safety.max_delta",
        "double_array",
        [],
        "Largest change per step per action dimension, also from the measured joint state to the first step "
        "(joint_trajectory); empty = none.",
        live=True,
    ),
    _s(
        "safety.stop_on_disable",
        "bool",
        True,
        "On disable/deactivate, publish an empty trajectory on the command topic (joint_trajectory_controller "
        "then stops and holds position).",
        live=True,
    ),
)

DIAGNOSTICS_SPECS: tuple[ParamSpec, ...] = (
    _s("diagnostics.period_sec", "double", 1.0, "Period of the /diagnostics status.", unit="s", min=0.05, max=60.0),
    _s(
        "diagnostics.hardware_id",
        "string",
        "",
        "hardware_id of the /diagnostics status; empty = the inference device.",
        live=True,
    ),
    _s(
        "diagnostics.window",
        "int",
        100,
        "Chunks kept for the percentiles and the rate.",
        unit="chunks",
        min=1,
        max=100_000,
    ),
    _s(
        "diagnostics.end_to_end_warn_ms",
        "double",
        250.0,
        "WARN when end-to-end latency (camera stamp → publish) exceeds this (p90 on /diagnostics).",
        unit="ms",
        min=0.0,
        max=1e7,
        live=True,
    ),
    _s(
        "diagnostics.end_to_end_error_ms",
        "double",
        1000.0,
        "ERROR when end-to-end latency exceeds this (p50 on /diagnostics).",
        unit="ms",
        min=0.0,
        max=1e7,
        live=True,
    ),
    _s(
        "diagnostics.min_rate_hz",
        "double",
        0.0,
        "WARN when the chunk rate falls below this (0 = off).",
        unit="Hz",
        min=0.0,
        max=1000.0,
        live=True,
    ),
    _s(
        "diagnostics.input_timeout_sec",
        "double",
        1.0,
        "WARN when active and no synchronised observation arrived for this long.",
        unit="s",
        min=0.01,
        max=3600.0,
        live=True,
    ),
    _s(
        "diagnostics.error_hold_sec",
        "double",
        5.0,
        "How long a model error (ERROR) or a refused/stale/bad input (WARN) keeps its level.",
        unit="s",
        min=0.0,
        max=3600.0,
        live=True,
    ),
    _s(
        "diagnostics.debug_image",
        "bool",
        False,
        "Publish the policy's view of one camera with the pruned 14×14 patches shaded.",
        live=True,
    ),
    _s("diagnostics.debug_image_camera", "int", 0, "Camera index of the debug image.", min=0, max=2, live=True),
    _s(
        "diagnostics.debug_image_shade",
        "double",
        0.7,
        "How much a pruned patch is darkened (0 = not, 1 = black).",
        min=0.0,
        max=1.0,
        live=True,
    ),
)
