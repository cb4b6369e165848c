"""The parameter schema: every tunable of the node, once.

`SPECS` is the single source of truth. From it come the `ParameterDescriptor`s the node declares
(`adp_ros/ros/parameters.py`), `config/adp_ros.yaml`, the platform presets `config/libero.yaml` and
`config/aloha.yaml`, and the table in `docs/parameters.md` (`adp-ros params --write`; `--check` fails on drift).
Defaults of the gate and pruning parameters are read from `GateConfig()` and `PruneConfig()` themselves.

Names use dots for groups (`gate.window`); in a params file they nest (`gate: {window: 3}`).
`live` parameters may change while the node is configured or active and apply at the next chunk; the others
are read at configure (set them before, or deactivate + clean up, set, configure again). `read_only` ones (the
model's identity) can only be given at start (params file or `-p`).

`resolve(values)` turns a complete name → value mapping into frozen configs (`NodeConfig`, `GateConfig`,
`PruneConfig`), checking each value against its spec and then the whole set for consistency. Every error names
the parameter, the value, what is allowed and how to fix it. No rclpy here: the ROS layer passes plain values.
"""

from __future__ import annotations

import inspect
import math
import re
import typing
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from adp_ros.core.errors import ConfigError, closest
from adp_ros.core.gate import (
    DEFAULT as DEFAULT_GATE,
)
from adp_ros.core.gate import (
    GATE_PRESETS,
    MAX_CAP,
    MAX_DISTANCE,
    WINDOW_RANGE,
    ActionAwareGate,
    DeadbandHistory,
    DecisionMethod,
    DisplacementKind,
    GateConfig,
    GateState,
    MiddleBand,
    get_gate_preset,
)
from adp_ros.core.motion import ALOHA_ARM_JOINTS, COMBINE_METHODS, LIBERO_DELTA_SCALE_M_PER_UNIT
from adp_ros.core.platform import ALOHA, LIBERO, PRESETS, PlatformConfig, get_platform
from adp_ros.core.pruning import (
    POSITION_MODES,
    PRUNE_MODES,
    READOUTS,
    PruneConfig,
    validate_split,
)
from adp_ros.core.safety import GUARD_MODES, STATISTICS_MARGIN, ActionGuardConfig, StalenessConfig
from adp_ros.core.streaming import GripperMapping

ParamType = Literal["bool", "int", "double", "string", "int_array", "double_array", "string_array"]
PARAM_TYPES: tuple[str, ...] = typing.get_args(ParamType)

NODE_NAME = "adp_policy_node"

IMAGE_TRANSPORTS = ("raw", "compressed")
PROPRIO_SOURCES = ("joint_states", "eef_pose_and_joints")
CONTROL_MODES = ("chunk_end", "fixed_rate", "on_observation")
TRAJECTORY_STARTS = ("publish", "observation")
OUTPUT_TYPES = ("auto", "joint_trajectory", "multi_dof_joint_trajectory", "float32_multi_array")
STREAMS = ("twist", "pose", "gripper")
GRIPPER_TYPES = ("joint_trajectory", "float64")
MOTION_SOURCES = ("eef_pose", "predicted_delta", "joint_states")
GATE_PRESET_CHOICES = ("auto", *GATE_PRESETS)
SYNC_BACKENDS = ("auto", "message_filters", "adp_ros")
DTYPES = ("auto", "float32", "bfloat16", "float16")
ACCELERATIONS = ("auto", "eager", "cuda_graph")

EEF_POSE_PROPRIO_DIMS = 6
"""xyz + axis-angle from the end-effector pose, as LIBERO's proprio starts (then the gripper joints)."""

_PRUNE = PruneConfig()
_BUFFER_CAPACITY = inspect.signature(ActionAwareGate).parameters["buffer_capacity"].default
_STALE_FUTURE_NS = StalenessConfig(max_age_ns=1).max_future_ns
_GUARD_MODE = ActionGuardConfig(action_dim=1).mode

START_DISTANCE_RAD = 0.3
"""Default bound of an absolute-joint policy's first point from the measured joints: 7.5 rad/s over one 40 ms
ALOHA step, already a fast move; a random or wrong checkpoint's first point was 2.2–2.5 rad away (issue 12)."""
DEFAULT_MAX_START_DISTANCE: dict[str, tuple[float, ...]] = {
    # Per arm: the joints, then the gripper, whose command may stay away from the measured opening (a grasp).
    ALOHA.name: ((START_DISTANCE_RAD,) * len(ALOHA_ARM_JOINTS) + (math.inf,)) * 2,
}
"""safety.max_start_distance when empty, per platform (absolute joint-position policies only)."""


def _camera_topics(platform: PlatformConfig) -> list[str]:
    return [f"camera/{name}/image_raw" for name in platform.camera_names]


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter: name (dots for groups), type, default and what a person needs to set it."""

    name: str
    type: ParamType
    default: Any
    description: str
    unit: str = ""
    min: float | None = None
    """Inclusive lower bound (per element for arrays)."""
    max: float | None = None
    """Inclusive upper bound (per element for arrays)."""
    choices: tuple[str, ...] = ()
    read_only: bool = False
    live: bool = False
    """May change while configured/active (applies at the next chunk)."""
    example: str = ""
    """A valid value for error messages (defaults to the default)."""

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ConfigError(f"ParamSpec {self.name}: type {self.type!r} not in {PARAM_TYPES}")
        if self.read_only and self.live:
            raise ConfigError(f"ParamSpec {self.name}: read_only parameters cannot be live")
        problem = check_value(self, self.default)
        if problem:
            raise ConfigError(f"ParamSpec {self.name}: default {self.default!r} {problem}")

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0] if "." in self.name else "node"

    @property
    def is_array(self) -> bool:
        return self.type.endswith("_array")

    @property
    def element_type(self) -> str:
        return self.type.removesuffix("_array")

    def allowed(self) -> str:
        """The allowed values in words: 'one of (a, b)', 'in [0, 1]', 'any string'."""
        if self.choices:
            return f"one of ({', '.join(self.choices)})"
        lo = "-inf" if self.min is None else _fmt(self.min)
        hi = "inf" if self.max is None else _fmt(self.max)
        if self.min is None and self.max is None:
            return f"any {self.type.replace('_', ' ')}"
        each = " (each element)" if self.is_array else ""
        return f"in [{lo}, {hi}]{each}"

    def example_text(self) -> str:
        """A value as typed after `-p name:=` (strings unquoted)."""
        if self.example:
            return self.example
        if isinstance(self.default, str):
            return self.default or '""'
        return format_value(self.default)


def _fmt(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}"


def format_value(value: Any) -> str:
    """A value as it is written in YAML and on the command line (doubles always with a decimal point)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text or "E" in text:
            mantissa, exponent = text.lower().split("e")
            if "." not in mantissa:
                mantissa += ".0"
            sign = "" if exponent.startswith(("-", "+")) else "+"
            return f"{mantissa}e{sign}{exponent}"
        return text
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    raise ConfigError(f"cannot format {value!r} as a parameter value")


def _scalar_ok(kind: str, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "double":
        return isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool))
    return isinstance(value, str)


def check_value(spec: ParamSpec, value: Any) -> str:
    """'' when `value` fits `spec` (type, range, choices), else what is wrong (without the name)."""
    kind = spec.element_type
    if spec.is_array:
        if not isinstance(value, (list, tuple)):
            return f"is not a list (expected {spec.type})"
        items = list(value)
    else:
        items = [value]
    for item in items:
        if not _scalar_ok(kind, item):
            expected = "a number with a decimal point" if kind == "double" else f"a {kind}"
            return f"has the wrong type ({type(item).__name__}; expected {expected})"
        if kind == "double" and math.isnan(float(item)):
            return "is NaN"
        if kind in ("int", "double"):
            outside = (spec.min is not None and item < spec.min) or (spec.max is not None and item > spec.max)
            if outside:
                return f"is outside the allowed range: {spec.allowed()}"
        if spec.choices and item not in spec.choices:
            hint = closest(str(item), spec.choices)
            return f"is not {spec.allowed()}{hint if hint.startswith(' (did') else ''}"
    return ""


def param_error(spec: ParamSpec | str, value: Any, problem: str, fix: str = "") -> ConfigError:
    """`parameter 'x' = v <problem>; fix: ...` with the standard ways to set it."""
    name = spec if isinstance(spec, str) else spec.name
    if not fix:
        example = "" if isinstance(spec, str) else spec.example_text()
        fix = f"e.g. -p {name}:={example} or set it in the params file" if example else "fix it in the params file"
    shown = format_value(value) if isinstance(value, (bool, int, float, str, list, tuple)) else repr(value)
    return ConfigError(f"parameter '{name}' = {shown} {problem}; {fix}")


# ------------------------------------------------------------------------------------------------- schema


def _s(name: str, type_: ParamType, default: Any, description: str, **kw: Any) -> ParamSpec:
    return ParamSpec(name, type_, default, description, **kw)


def _gate(field_name: str, type_: ParamType, description: str, **kw: Any) -> ParamSpec:
    """A GateConfig field: default from `GateConfig()`, always live."""
    return ParamSpec(f"gate.{field_name}", type_, getattr(DEFAULT_GATE, field_name), description, live=True, **kw)


def _prune(field_name: str, type_: ParamType, description: str, default: Any = None, **kw: Any) -> ParamSpec:
    value = getattr(_PRUNE, field_name) if default is None else default
    return ParamSpec(f"pruning.{field_name}", type_, value, description, live=True, **kw)


_MODEL = (
    _s(
        "model.checkpoint",
        "string",
        "",
        "Checkpoint directory in the released OpenVLA-OFT layout (config.json, model.safetensors, heads, "
        "dataset_statistics.json). Required.",
        read_only=True,
        example="/models/openvla-7b-oft-finetuned-libero-spatial",
    ),
    _s(
        "model.platform",
        "string",
        LIBERO.name,
        "Platform constants the checkpoint was trained with (cameras, chunk length, action/proprio dims).",
        choices=tuple(PRESETS),
        read_only=True,
    ),
    _s(
        "model.unnorm_key",
        "string",
        "",
        "Dataset statistics key to de-normalise actions with; empty = the checkpoint's only key.",
        read_only=True,
        example="libero_spatial_no_noops",
    ),
    _s(
        "model.device",
        "string",
        "auto",
        "Torch device: auto (first CUDA device, else CPU), cpu, cuda:0, …",
        read_only=True,
    ),
    _s(
        "model.dtype",
        "string",
        "auto",
        "Weights dtype: auto = bfloat16 on CUDA, float32 on the CPU.",
        choices=DTYPES,
        read_only=True,
    ),
    _s(
        "model.center_crop",
        "bool",
        LIBERO.center_crop,
        "90 %-area centre crop before resizing (the released checkpoints were trained with random crops).",
        read_only=True,
    ),
    _s(
        "model.acceleration",
        "string",
        "auto",
        "auto = CUDA graphs per static shape on CUDA (captured at warm-up), eager elsewhere.",
        choices=ACCELERATIONS,
        read_only=True,
    ),
    _s(
        "model.warmup",
        "bool",
        True,
        "Run each configuration once on blank frames at configure, so the first chunk is not slow.",
    ),
)

_NODE = (
    _s(
        "node.autostart",
        "bool",
        False,
        "Configure and activate right after start. For environments without lifecycle tools (the pip-only "
        "install, the demo); leave false under a lifecycle manager or launch file that drives transitions.",
    ),
    _s(
        "task.instruction",
        "string",
        "",
        "Language instruction. Also set by messages on topics.instruction. A new instruction resets the gate "
        "history. Empty: wait for one.",
        live=True,
        example='"pick up the red block"',
    ),
)

_TOPICS = (
    _s(
        "topics.cameras",
        "string_array",
        _camera_topics(LIBERO),
        "Camera topics in the order the model expects (third-person first, then wrists). Relative names "
        "follow the namespace and remappings.",
    ),
    _s(
        "topics.image_transport",
        "string",
        "raw",
        "raw: sensor_msgs/Image; compressed: sensor_msgs/CompressedImage (JPEG/PNG) on the same topic names "
        "(give the .../compressed topics).",
        choices=IMAGE_TRANSPORTS,
    ),
    _s("topics.joint_states", "string", "joint_states", "sensor_msgs/JointState input (proprio, joint motion)."),
    _s(
        "topics.eef_pose",
        "string",
        "eef_pose",
        "geometry_msgs/PoseStamped end-effector pose (proprio with eef_pose_and_joints, gate motion eef_pose).",
    ),
    _s("topics.instruction", "string", "instruction", "std_msgs/String instructions (reliable, volatile)."),
    _s(
        "topics.command",
        "string",
        "~/command",
        "Action chunks for the arm controller, only while commands are enabled (remap it to e.g. "
        "/joint_trajectory_controller/joint_trajectory).",
    ),
    _s("topics.preview", "string", "~/preview", "Every guarded chunk, enabled or not (dry run output)."),
    _s(
        "topics.latency", "string", "~/latency", "diagnostic_msgs/DiagnosticArray per chunk: stage times, tokens, gate."
    ),
    _s("topics.debug_image", "string", "~/debug_image", "Camera image with the pruned patches shaded."),
    _s(
        "topics.twist",
        "string",
        "~/twist",
        "output.streams twist: geometry_msgs/TwistStamped per control period, only while commands are enabled "
        "(remap to e.g. /servo_node/delta_twist_cmds). Preview on <topics.preview>/twist.",
    ),
    _s(
        "topics.pose_target",
        "string",
        "~/pose_target",
        "output.streams pose: geometry_msgs/PoseStamped target per control period, only while commands are "
        "enabled. Preview on <topics.preview>/pose_target.",
    ),
    _s(
        "topics.gripper",
        "string",
        "~/gripper",
        "output.streams gripper: the gripper command per control period (output.gripper_type), only while "
        "commands are enabled. Preview on <topics.preview>/gripper.",
    ),
)

_SYNC = (
    _s(
        "sync.queue_size",
        "int",
        10,
        "Approximate-time synchroniser of the cameras: frames kept per camera while waiting for a match (and "
        "camera sets waiting for a state sample).",
        min=1,
        max=1000,
    ),
    _s(
        "sync.slop_sec",
        "double",
        0.05,
        "Largest stamp spread among the cameras of a synchronised set; exclusive. Joint state and pose are not "
        "in it: see sync.state_tolerance_sec.",
        unit="s",
        min=0.0005,
        max=10.0,
        example="0.05",
    ),
    _s(
        "sync.backend",
        "string",
        "adp_ros",
        "Camera synchroniser. adp_ros (default): the built-in approximate-time synchroniser, tested with this "
        "package; message_filters: ROS's own, same semantics, not tested here (not on the package index); auto: "
        "message_filters when importable, else adp_ros. Joint states and pose (500-1000 Hz) bypass it: they are "
        "looked up by stamp.",
        choices=SYNC_BACKENDS,
    ),
    _s(
        "sync.state_tolerance_sec",
        "double",
        0.05,
        "Joint state and pose are taken at a camera set's stamp (the sample nearest to it) when within this "
        "much of it; otherwise the set is dropped and counted (sync_missing.<topic>).",
        unit="s",
        min=0.0,
        max=10.0,
        example="0.01",
    ),
    _s(
        "sync.state_wait_sec",
        "double",
        0.1,
        "How long (ROS time) a camera set newer than every joint-state / pose sample waits for a newer one "
        "(states may arrive after the cameras) before it is matched within sync.state_tolerance_sec or dropped.",
        unit="s",
        min=0.0,
        max=10.0,
        example="0.1",
    ),
    _s(
        "sync.state_history_sec",
        "double",
        1.0,
        "Joint-state / pose history kept for the lookup, behind the newest sample; at least the cameras' delay "
        "(time from a frame's stamp to its arrival).",
        unit="s",
        min=0.01,
        max=60.0,
        example="1.0",
    ),
)

_PROPRIO = (
    _s(
        "proprio.source",
        "string",
        "eef_pose_and_joints",
        "joint_states: proprio = positions of proprio.joint_names. eef_pose_and_joints: eef xyz + axis-angle "
        "from topics.eef_pose, then proprio.joint_names (LIBERO: the two finger joints).",
        choices=PROPRIO_SOURCES,
    ),
    _s(
        "proprio.joint_names",
        "string_array",
        ["panda_finger_joint1", "panda_finger_joint2"],
        "Joint names taken from the JointState, in this order. A missing name is an input error, never a zero.",
    ),
)

_CONTROL = (
    _s(
        "control.mode",
        "string",
        "chunk_end",
        "chunk_end: request the next chunk when at most control.lead_steps steps of the current one remain; "
        "fixed_rate: request at control.query_rate_hz; on_observation: one chunk per new synchronised "
        "observation, whatever the clock (lockstep simulators that stop time while the policy thinks).",
        choices=CONTROL_MODES,
        live=True,
    ),
    _s(
        "control.query_rate_hz",
        "double",
        5.0,
        "Chunk requests per second in fixed_rate mode.",
        unit="Hz",
        min=0.01,
        max=1000.0,
        live=True,
    ),
    _s(
        "control.control_hz",
        "double",
        0.0,
        "Arm control rate: spacing of the trajectory points. 0 = the platform's (LIBERO 20, ALOHA 25).",
        unit="Hz",
        min=0.0,
        max=10000.0,
        live=True,
        example="20.0",
    ),
    _s(
        "control.execute_steps",
        "int",
        0,
        "Steps of each chunk sent to the arm. 0 = the whole chunk (LIBERO 8, ALOHA 25).",
        unit="steps",
        min=0,
        max=1000,
        live=True,
    ),
    _s(
        "control.lead_steps",
        "int",
        2,
        "chunk_end mode: request the next chunk this many steps before the current one ends (cover the "
        "inference latency).",
        unit="steps",
        min=0,
        max=1000,
        live=True,
    ),
    _s(
        "control.trajectory_start",
        "string",
        "publish",
        "header.stamp is always the observation stamp. publish: time_from_start = age at publish + (k+1)·dt, "
        "so the first point is one period after publishing. observation: (k+1)·dt, time-aligned with the "
        "observation (a joint_trajectory_controller skips points already in the past).",
        choices=TRAJECTORY_STARTS,
        live=True,
    ),
)

_OUTPUT = (
    _s(
        "output.type",
        "string",
        "auto",
        "auto: joint_trajectory for joint-position policies, multi_dof_joint_trajectory for end-effector "
        "delta policies. float32_multi_array: raw chunk × action_dim with a layout (no header).",
        choices=OUTPUT_TYPES,
    ),
    _s(
        "output.joint_names",
        "string_array",
        [],
        "joint_trajectory joint names, one per action dimension. Empty = proprio.joint_names (when they match).",
    ),
    _s(
        "output.eef_joint_name",
        "string",
        "end_effector",
        "multi_dof_joint_trajectory: joint name of the end-effector delta transform.",
    ),
    _s(
        "output.gripper_joint_name",
        "string",
        "gripper",
        "multi_dof_joint_trajectory: joint name carrying the gripper command in transforms[1].translation.x "
        "(empty = leave the gripper out).",
    ),
    _s(
        "output.translation_scale",
        "double",
        1.0,
        "Metres per action unit for the translation deltas (robosuite OSC_POSE / LIBERO: 0.05).",
        unit="m/unit",
        min=1e-9,
        max=1000.0,
        live=True,
    ),
    _s(
        "output.rotation_scale",
        "double",
        1.0,
        "Radians per action unit for the axis-angle rotation deltas (robosuite OSC_POSE / LIBERO: 0.5).",
        unit="rad/unit",
        min=1e-9,
        max=1000.0,
        live=True,
    ),
    _s(
        "output.frame_id",
        "string",
        "",
        "header.frame_id of the output trajectories, twists and pose targets (the frame the deltas are in: the "
        "arm's base). The measured pose on topics.eef_pose must be in it.",
        live=True,
    ),
    _s(
        "output.streams",
        "string_array",
        [],
        "End-effector delta policies: besides output.type, stream one command per control period from the "
        "current chunk: twist (the step's delta / period, topics.twist), pose (the deltas integrated from the "
        "measured pose at the chunk's observation, topics.pose_target), gripper (topics.gripper). After a chunk "
        "runs out: zero twist, last pose target. docs/controllers.md.",
        choices=STREAMS,
        example="[twist, gripper]",
    ),
    _s(
        "output.gripper_type",
        "string",
        "joint_trajectory",
        "Gripper stream message: joint_trajectory (trajectory_msgs/JointTrajectory of output.gripper_joints, "
        "one point one period ahead) or float64 (std_msgs/Float64). Both carry the mapped position.",
        choices=GRIPPER_TYPES,
    ),
    _s(
        "output.gripper_joints",
        "string_array",
        [],
        "Finger joints of the joint_trajectory gripper stream, each given the mapped position. Empty = "
        "proprio.joint_names (LIBERO: the two Panda finger joints).",
    ),
    _s(
        "output.gripper_open_value",
        "double",
        1.0,
        "Policy gripper value meaning open (LIBERO checkpoints predict the dataset's 1 = open, 0 = closed; the "
        "original evaluation turns that into the environment's -1 open / +1 close). Values map linearly onto "
        "the positions, clipped.",
        live=True,
        example="1.0",
    ),
    _s(
        "output.gripper_closed_value",
        "double",
        0.0,
        "Policy gripper value meaning closed (LIBERO checkpoints: 0).",
        live=True,
        example="0.0",
    ),
    _s(
        "output.gripper_open_position",
        "double",
        0.04,
        "Finger joint position when open (Panda: 0.04 m per finger).",
        live=True,
        example="0.04",
    ),
    _s(
        "output.gripper_closed_position",
        "double",
        0.0,
        "Finger joint position when closed (Panda: 0).",
        live=True,
        example="0.0",
    ),
)

_GATE_SPECS = (
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
        choices=typing.get_args(DecisionMethod),
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
        choices=typing.get_args(DisplacementKind),
    ),
    _gate(
        "middle_band",
        "string",
        "Between min and max of the previous values: prune (reference) or hold the current state.",
        choices=typing.get_args(MiddleBand),
    ),
    _gate(
        "initial_state",
        "string",
        "State of the first chunk and during the cold start.",
        choices=typing.get_args(GateState),
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
        choices=typing.get_args(DeadbandHistory),
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

_PRUNING = (
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

_SAFETY = (
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

_DIAGNOSTICS = (
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

SPECS: tuple[ParamSpec, ...] = (
    *_NODE,
    *_MODEL,
    *_TOPICS,
    *_SYNC,
    *_PROPRIO,
    *_CONTROL,
    *_OUTPUT,
    *_GATE_SPECS,
    *_PRUNING,
    *_SAFETY,
    *_DIAGNOSTICS,
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
        "topics.cameras": _camera_topics(LIBERO),
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
        "topics.cameras": _camera_topics(ALOHA),
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


# ------------------------------------------------------------------------------------------- node config


@dataclass(frozen=True)
class ModelSettings:
    checkpoint: str
    platform: PlatformConfig
    unnorm_key: str | None
    device: str
    dtype: str
    center_crop: bool
    acceleration: str
    warmup: bool


@dataclass(frozen=True)
class TopicSettings:
    cameras: tuple[str, ...]
    image_transport: str
    joint_states: str
    eef_pose: str
    instruction: str
    command: str
    preview: str
    latency: str
    debug_image: str
    twist: str
    pose_target: str
    gripper: str


@dataclass(frozen=True)
class SyncSettings:
    queue_size: int
    slop_sec: float
    backend: str
    state_tolerance_sec: float = 0.05
    state_wait_sec: float = 0.1
    state_history_sec: float = 1.0


@dataclass(frozen=True)
class ProprioSettings:
    source: str
    joint_names: tuple[str, ...]

    @property
    def uses_eef_pose(self) -> bool:
        return self.source == "eef_pose_and_joints"


@dataclass(frozen=True)
class ControlSettings:
    mode: str
    query_rate_hz: float
    control_hz: float
    """Resolved: the platform's rate when the parameter is 0."""
    execute_steps: int
    """Resolved: the chunk length when the parameter is 0."""
    lead_steps: int
    trajectory_start: str

    @property
    def dt_ns(self) -> int:
        return round(1e9 / self.control_hz)

    @property
    def query_period_ns(self) -> int:
        return round(1e9 / self.query_rate_hz)


@dataclass(frozen=True)
class OutputSettings:
    type: str
    """Resolved: never 'auto'."""
    joint_names: tuple[str, ...]
    """Resolved joint_trajectory names (empty for the other types)."""
    eef_joint_name: str
    gripper_joint_name: str
    translation_scale: float
    rotation_scale: float
    frame_id: str
    streams: tuple[str, ...] = ()
    """output.streams, in the given order."""
    gripper_type: str = "joint_trajectory"
    gripper_joints: tuple[str, ...] = ()
    """Resolved: proprio.joint_names when the parameter is empty (joint_trajectory gripper only)."""
    gripper: GripperMapping = field(default_factory=GripperMapping)

    @property
    def streams_twist(self) -> bool:
        return "twist" in self.streams

    @property
    def streams_pose(self) -> bool:
        return "pose" in self.streams

    @property
    def streams_gripper(self) -> bool:
        return "gripper" in self.streams


@dataclass(frozen=True)
class MotionSettings:
    source: str
    delta_scale_m_per_unit: float
    delta_translation_indices: tuple[int, ...]
    joint_names: tuple[str, ...]
    joint_groups: tuple[int, ...]
    """Resolved: one group with all joint names when the parameter is empty."""
    arm_combine: str
    buffer_capacity: int
    gate_preset: str
    """Resolved preset name (never 'auto')."""


@dataclass(frozen=True)
class SafetySettings:
    dry_run: bool
    enable_on_activate: bool
    staleness: StalenessConfig
    guard: ActionGuardConfig
    """The explicit limits; empty lower/upper are filled from the dataset statistics by the node."""
    stop_on_disable: bool
    limits_from_statistics: bool = True
    statistics_margin: float = STATISTICS_MARGIN
    allow_unbounded: bool = False


@dataclass(frozen=True)
class DiagnosticsSettings:
    period_sec: float
    hardware_id: str
    window: int
    end_to_end_warn_ms: float
    end_to_end_error_ms: float
    min_rate_hz: float
    input_timeout_sec: float
    error_hold_sec: float
    debug_image: bool
    debug_image_camera: int
    debug_image_shade: float


@dataclass(frozen=True)
class NodeConfig:
    """Everything but the gate and pruning configs, validated and resolved (no 'auto' or 0 placeholders)."""

    autostart: bool
    instruction: str
    model: ModelSettings
    topics: TopicSettings
    sync: SyncSettings
    proprio: ProprioSettings
    control: ControlSettings
    output: OutputSettings
    motion: MotionSettings
    safety: SafetySettings
    diagnostics: DiagnosticsSettings


@dataclass(frozen=True)
class ResolvedConfig:
    """What `resolve` returns: the node settings, the gate and the pruning config, plus the raw values."""

    node: NodeConfig
    gate: GateConfig
    prune: PruneConfig
    values: Mapping[str, Any] = field(repr=False, compare=False)

    def changed(self, other: ResolvedConfig | None) -> set[str]:
        """Parameter names whose values differ from `other` (all when None)."""
        if other is None:
            return set(self.values)
        return {k for k, v in self.values.items() if other.values.get(k) != v}


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


def _unique(name: str, items: Sequence[str]) -> tuple[str, ...]:
    seen = [n for i, n in enumerate(items) if n in items[:i]]
    if seen:
        raise param_error(name, list(items), f"lists {seen[0]!r} twice", "give each name once")
    return tuple(items)


def _gate_config(v: Mapping[str, Any], motion_source: str, explicit: Collection[str]) -> tuple[GateConfig, str]:
    """The preset, overridden by every gate.* field that was set explicitly or differs from 'default'.

    The value test alone cannot tell "set to 0.005" from "left at the default 0.005", so a live set of the
    'default' preset's value under another preset used to be accepted and ignored; `explicit` settles it.
    """
    preset = v["gate.preset"]
    if preset == "auto":
        preset = "default_joint" if motion_source == "joint_states" else "default"
    base = get_gate_preset(preset)
    overrides = {
        f: v[name]
        for f in GATE_FIELDS
        if (name := f"gate.{f}") in v and (name in explicit or v[name] != getattr(DEFAULT_GATE, f))
    }
    try:
        return base.replace(**overrides), preset
    except ConfigError as exc:
        # GateConfig says "gate: window_min=9 ..."; name the parameter as the user sets it.
        message = re.sub(r"^gate: (\w+)=", r"parameter 'gate.\1' = ", str(exc))
        raise ConfigError(f"{message} (gate.preset {preset!r})") from None


def _prune_config(v: Mapping[str, Any], platform: PlatformConfig) -> PruneConfig:
    split = v["pruning.camera_split"]
    if split:
        try:
            validate_split(split, platform.num_images)
        except ConfigError as exc:
            raise param_error(
                "pruning.camera_split",
                split,
                f"does not fit {platform.num_images} camera(s): {exc}",
                "give one share per camera, [main, wrists], or [] for the platform's split",
            ) from None
    try:
        return PruneConfig(
            mode=v["pruning.mode"],
            keep_ratio=v["pruning.keep_ratio"],
            camera_split=tuple(split) if split else None,
            position_mode=v["pruning.position_mode"],
            readout=v["pruning.readout"],
            fastv_layer=v["pruning.fastv_layer"],
            random_seed=v["pruning.random_seed"],
        )
    except ConfigError as exc:
        raise ConfigError(f"pruning parameters: {exc}") from None


def _output(v: Mapping[str, Any], platform: PlatformConfig, proprio_names: tuple[str, ...]) -> OutputSettings:
    kind = v["output.type"]
    if kind == "auto":
        kind = "joint_trajectory" if platform.action_kind == "joint_position" else "multi_dof_joint_trajectory"
    names: tuple[str, ...] = ()
    if kind == "joint_trajectory":
        names = _unique("output.joint_names", list(v["output.joint_names"]))
        if not names:
            if len(proprio_names) != platform.action_dim:
                raise param_error(
                    "output.joint_names",
                    [],
                    f"is empty and proprio.joint_names has {len(proprio_names)} names, but the "
                    f"{platform.name} policy outputs {platform.action_dim} values per step",
                    f"list the {platform.action_dim} joint names the trajectory commands",
                )
            names = proprio_names
        elif len(names) != platform.action_dim:
            raise param_error(
                "output.joint_names",
                list(names),
                f"has {len(names)} names but the {platform.name} policy outputs {platform.action_dim} per step",
                f"give exactly {platform.action_dim} names (or [] to use proprio.joint_names)",
            )
    elif kind == "multi_dof_joint_trajectory":
        if platform.action_kind != "eef_delta" or platform.action_dim < 6:
            raise param_error(
                "output.type",
                kind,
                f"needs an end-effector delta policy with >= 6 action dims; {platform.name} is "
                f"{platform.action_kind} with {platform.action_dim}",
                "use joint_trajectory or float32_multi_array",
            )
        if not v["output.eef_joint_name"]:
            raise param_error("output.eef_joint_name", "", "is empty", "name the end-effector joint, e.g. end_effector")
    streams = _unique("output.streams", list(v["output.streams"]))
    gripper_joints = _unique("output.gripper_joints", list(v["output.gripper_joints"]))
    if streams and (platform.action_kind != "eef_delta" or platform.action_dim < 6):
        raise param_error(
            "output.streams",
            list(streams),
            f"needs an end-effector delta policy with >= 6 action dims; {platform.name} is "
            f"{platform.action_kind} with {platform.action_dim}",
            "use [] (joint-position policies: output.type joint_trajectory)",
        )
    if "gripper" in streams:
        if platform.action_dim <= 6:
            raise param_error(
                "output.streams",
                list(streams),
                f"asks for gripper but the {platform.name} policy has no gripper dimension (action_dim "
                f"{platform.action_dim})",
                "leave gripper out",
            )
        if v["output.gripper_type"] == "joint_trajectory":
            gripper_joints = gripper_joints or proprio_names
            if not gripper_joints:
                raise param_error(
                    "output.gripper_joints",
                    [],
                    "is empty and so is proprio.joint_names, but the joint_trajectory gripper stream needs names",
                    "list the finger joint(s), e.g. [panda_finger_joint1, panda_finger_joint2], or set "
                    "output.gripper_type to float64",
                )
    if v["output.gripper_open_value"] == v["output.gripper_closed_value"]:
        raise param_error(
            "output.gripper_closed_value",
            v["output.gripper_closed_value"],
            f"equals output.gripper_open_value={format_value(v['output.gripper_open_value'])}",
            "give the policy's open and closed values (LIBERO checkpoints: 1 and 0)",
        )
    return OutputSettings(
        type=kind,
        joint_names=names,
        eef_joint_name=v["output.eef_joint_name"],
        gripper_joint_name=v["output.gripper_joint_name"],
        translation_scale=v["output.translation_scale"],
        rotation_scale=v["output.rotation_scale"],
        frame_id=v["output.frame_id"],
        streams=streams,
        gripper_type=v["output.gripper_type"],
        gripper_joints=gripper_joints if "gripper" in streams else (),
        gripper=GripperMapping(
            open_value=v["output.gripper_open_value"],
            closed_value=v["output.gripper_closed_value"],
            open_position=v["output.gripper_open_position"],
            closed_position=v["output.gripper_closed_position"],
        ),
    )


def _motion(v: Mapping[str, Any], platform: PlatformConfig, gate_preset: str) -> MotionSettings:
    source = v["gate.motion_source"]
    names = _unique("gate.joint_names", list(v["gate.joint_names"]))
    groups = tuple(v["gate.joint_groups"])
    indices = tuple(v["gate.delta_translation_indices"])
    if source == "joint_states":
        if not names:
            raise param_error(
                "gate.joint_names",
                [],
                "is empty but gate.motion_source is joint_states",
                "list the arm joints to measure (grippers left out), e.g. config/aloha.yaml",
            )
        if not groups:
            groups = (len(names),)
        if sum(groups) != len(names):
            raise param_error(
                "gate.joint_groups",
                list(groups),
                f"sums to {sum(groups)} but gate.joint_names has {len(names)} names",
                "give the number of joints of each arm, in order (e.g. [6, 6])",
            )
    if source == "predicted_delta":
        if platform.action_kind != "eef_delta":
            raise param_error(
                "gate.motion_source",
                source,
                f"integrates end-effector deltas but {platform.name} outputs {platform.action_kind} actions",
                "use joint_states (or eef_pose with a pose topic)",
            )
        if len(indices) != 3 or len(set(indices)) != 3 or max(indices) >= platform.action_dim:
            raise param_error(
                "gate.delta_translation_indices",
                list(indices),
                f"must be 3 distinct indices below action_dim={platform.action_dim}",
                "e.g. [0, 1, 2]",
            )
    return MotionSettings(
        source=source,
        delta_scale_m_per_unit=v["gate.delta_scale_m_per_unit"],
        delta_translation_indices=indices,
        joint_names=names,
        joint_groups=groups,
        arm_combine=v["gate.arm_combine"],
        buffer_capacity=v["gate.buffer_capacity"],
        gate_preset=gate_preset,
    )


def _start_distance(values: Sequence[float], platform: PlatformConfig) -> tuple[float, ...]:
    """safety.max_start_distance resolved: the platform's when empty, one value spread over every dimension."""
    if platform.action_kind != "joint_position":
        if any(math.isfinite(d) for d in values):
            raise param_error(
                "safety.max_start_distance",
                list(values),
                f"bounds absolute joint positions, but {platform.name} outputs {platform.action_kind} actions",
                "leave it empty (the limits and max_delta apply to delta actions)",
            )
        return ()
    if not values:
        return DEFAULT_MAX_START_DISTANCE.get(platform.name, ())
    if len(values) == 1:
        return tuple(values) * platform.action_dim
    if len(values) != platform.action_dim:
        raise param_error(
            "safety.max_start_distance",
            list(values),
            f"has {len(values)} entries but the {platform.name} policy has action_dim={platform.action_dim}",
            f"give one value, {platform.action_dim} values (.inf for no bound on one dimension) or [] for the default",
        )
    return tuple(values)


def _safety(v: Mapping[str, Any], platform: PlatformConfig) -> SafetySettings:
    guard_values = {k: v[f"safety.{k}"] for k in ("action_lower", "action_upper", "max_delta")}
    for key, values in guard_values.items():
        if values and len(values) != platform.action_dim:
            raise param_error(
                f"safety.{key}",
                values,
                f"has {len(values)} entries but the {platform.name} policy has action_dim={platform.action_dim}",
                f"give {platform.action_dim} values (inf for no limit on one dimension) or [] for none",
            )
    try:
        guard = ActionGuardConfig(
            action_dim=platform.action_dim,
            lower=tuple(guard_values["action_lower"]),
            upper=tuple(guard_values["action_upper"]),
            max_delta=tuple(guard_values["max_delta"]),
            mode=v["safety.guard_mode"],
            max_start_distance=_start_distance(v["safety.max_start_distance"], platform),
        )
    except ConfigError as exc:
        raise ConfigError(
            f"safety limits (safety.action_lower/action_upper/max_delta/max_start_distance): {exc}"
        ) from None
    return SafetySettings(
        dry_run=v["safety.dry_run"],
        enable_on_activate=v["safety.enable_on_activate"],
        staleness=StalenessConfig(
            max_age_ns=round(v["safety.max_observation_age_sec"] * 1e9),
            max_future_ns=round(v["safety.max_future_sec"] * 1e9),
        ),
        guard=guard,
        stop_on_disable=v["safety.stop_on_disable"],
        limits_from_statistics=v["safety.limits_from_statistics"],
        statistics_margin=v["safety.statistics_margin"],
        allow_unbounded=v["safety.allow_unbounded"],
    )


def _diagnostics(v: Mapping[str, Any], platform: PlatformConfig) -> DiagnosticsSettings:
    warn, error = v["diagnostics.end_to_end_warn_ms"], v["diagnostics.end_to_end_error_ms"]
    if warn > error:
        raise param_error(
            "diagnostics.end_to_end_warn_ms",
            warn,
            f"is above diagnostics.end_to_end_error_ms={format_value(error)}",
            "make the WARN threshold <= the ERROR threshold",
        )
    camera = v["diagnostics.debug_image_camera"]
    if camera >= platform.num_images:
        raise param_error(
            "diagnostics.debug_image_camera",
            camera,
            f"but {platform.name} has {platform.num_images} camera(s)",
            f"use 0..{platform.num_images - 1}",
        )
    return DiagnosticsSettings(
        period_sec=v["diagnostics.period_sec"],
        hardware_id=v["diagnostics.hardware_id"],
        window=v["diagnostics.window"],
        end_to_end_warn_ms=warn,
        end_to_end_error_ms=error,
        min_rate_hz=v["diagnostics.min_rate_hz"],
        input_timeout_sec=v["diagnostics.input_timeout_sec"],
        error_hold_sec=v["diagnostics.error_hold_sec"],
        debug_image=v["diagnostics.debug_image"],
        debug_image_camera=camera,
        debug_image_shade=v["diagnostics.debug_image_shade"],
    )


def resolve(values: Mapping[str, Any], *, explicit: Collection[str] = ()) -> ResolvedConfig:
    """Parameter values (missing ones take their defaults) → validated, resolved configs, or `ConfigError`.

    `explicit`: names set on purpose (the node passes those set while it runs); a gate.* field among them
    overrides `gate.preset` even where its value equals the 'default' preset's.
    """
    v = check_values(values)
    platform = get_platform(v["model.platform"])

    cameras = tuple(v["topics.cameras"])
    if len(cameras) != platform.num_images:
        raise param_error(
            "topics.cameras",
            list(cameras),
            f"lists {len(cameras)} topic(s) but model.platform {platform.name!r} expects {platform.num_images} "
            f"({', '.join(platform.camera_names)})",
            f"list {platform.num_images} camera topics in that order (config/{platform.name}.yaml has them)",
        )
    _unique("topics.cameras", list(cameras))

    proprio_names = _unique("proprio.joint_names", list(v["proprio.joint_names"]))
    from_pose = EEF_POSE_PROPRIO_DIMS if v["proprio.source"] == "eef_pose_and_joints" else 0
    if from_pose + len(proprio_names) != platform.proprio_dim:
        raise param_error(
            "proprio.joint_names",
            list(proprio_names),
            f"gives {len(proprio_names)} joint(s){' after the 6 pose values' if from_pose else ''} but the "
            f"{platform.name} policy takes proprio_dim={platform.proprio_dim}",
            f"list {platform.proprio_dim - from_pose} joint names (or change proprio.source)",
        )

    control_hz = v["control.control_hz"] or platform.control_hz
    execute = v["control.execute_steps"] or platform.chunk_len
    if execute > platform.chunk_len:
        raise param_error(
            "control.execute_steps",
            execute,
            f"exceeds the chunk length {platform.chunk_len} of {platform.name}",
            f"use 1..{platform.chunk_len} (0 = all)",
        )
    lead = v["control.lead_steps"]
    if v["control.mode"] == "chunk_end" and lead >= execute:
        raise param_error(
            "control.lead_steps",
            lead,
            f"is not below the {execute} executed steps per chunk (chunk_end would request continuously)",
            f"use 0..{execute - 1}, or fixed_rate mode",
        )
    control = ControlSettings(
        mode=v["control.mode"],
        query_rate_hz=v["control.query_rate_hz"],
        control_hz=float(control_hz),
        execute_steps=int(execute),
        lead_steps=lead,
        trajectory_start=v["control.trajectory_start"],
    )

    if v["gate.motion_source"] == "eef_pose" and not v["topics.eef_pose"]:
        raise param_error("topics.eef_pose", "", "is empty but gate.motion_source is eef_pose", "name the pose topic")
    gate, gate_preset = _gate_config(v, v["gate.motion_source"], explicit)
    node = NodeConfig(
        autostart=v["node.autostart"],
        instruction=v["task.instruction"].strip(),
        model=ModelSettings(
            checkpoint=v["model.checkpoint"],
            platform=platform,
            unnorm_key=v["model.unnorm_key"] or None,
            device=v["model.device"],
            dtype=v["model.dtype"],
            center_crop=v["model.center_crop"],
            acceleration=v["model.acceleration"],
            warmup=v["model.warmup"],
        ),
        topics=TopicSettings(
            cameras=cameras,
            image_transport=v["topics.image_transport"],
            joint_states=v["topics.joint_states"],
            eef_pose=v["topics.eef_pose"],
            instruction=v["topics.instruction"],
            command=v["topics.command"],
            preview=v["topics.preview"],
            latency=v["topics.latency"],
            debug_image=v["topics.debug_image"],
            twist=v["topics.twist"],
            pose_target=v["topics.pose_target"],
            gripper=v["topics.gripper"],
        ),
        sync=SyncSettings(
            queue_size=v["sync.queue_size"],
            slop_sec=v["sync.slop_sec"],
            backend=v["sync.backend"],
            state_tolerance_sec=v["sync.state_tolerance_sec"],
            state_wait_sec=v["sync.state_wait_sec"],
            state_history_sec=v["sync.state_history_sec"],
        ),
        proprio=ProprioSettings(source=v["proprio.source"], joint_names=proprio_names),
        control=control,
        output=_output(v, platform, proprio_names),
        motion=_motion(v, platform, gate_preset),
        safety=_safety(v, platform),
        diagnostics=_diagnostics(v, platform),
    )
    return ResolvedConfig(node=node, gate=gate, prune=_prune_config(v, platform), values=v)


def require_checkpoint(config: NodeConfig) -> None:
    if not config.model.checkpoint:
        raise param_error(
            "model.checkpoint",
            "",
            "is empty",
            "pass the checkpoint folder: -p model.checkpoint:=/path/to/checkpoint (or model_path:=... in launch)",
        )


def non_live_changes(names: Iterable[str]) -> list[str]:
    """Which of `names` are schema parameters that cannot change while the node is configured."""
    return sorted(n for n in names if n in SPEC_BY_NAME and not SPEC_BY_NAME[n].live)
