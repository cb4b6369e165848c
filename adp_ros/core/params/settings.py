"""The settings the node runs with: frozen dataclasses, one per parameter group, plus `NodeConfig` and
`ResolvedConfig` that bundle them.

They exist apart from the schema so that code which only consumes a configuration (the node, the worker, the
message builders, bag evaluation) reads typed fields instead of dotted names, and so that their shape is
visible in one place. They hold resolved values only (no 'auto', no 0 placeholders); building them from
parameter values, with every check between parameters, is `resolution.resolve`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adp_ros.core.gate import GateConfig
from adp_ros.core.platform import PlatformConfig
from adp_ros.core.pruning import PruneConfig
from adp_ros.core.safety import STATISTICS_MARGIN, ActionGuardConfig, StalenessConfig
from adp_ros.core.streaming import GripperMapping


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
