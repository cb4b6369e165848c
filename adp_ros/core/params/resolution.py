"""Cross-field resolution: parameter values → validated `ResolvedConfig`, or one `ConfigError` that says why.

`resolve` first checks each value on its own (`schema.check_values`), then what no single spec can: camera
count and proprio size against the platform, execute/lead steps against the chunk, 'auto' and 0 placeholders
(output type, control rate, gate preset, start-distance bound) resolved from the platform and motion source,
gate presets merged with explicitly set fields, and the pruning, guard and gripper settings against the action
layout. Every error names the parameter, the value, what is allowed and how to fix it. No rclpy here: the ROS
layer passes plain values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from adp_ros.core.errors import ConfigError
from adp_ros.core.gate import DEFAULT as DEFAULT_GATE
from adp_ros.core.gate import GateConfig, get_gate_preset
from adp_ros.core.motion import ALOHA_ARM_JOINTS
from adp_ros.core.params.schema import GATE_FIELDS, SPEC_BY_NAME, check_values
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
from adp_ros.core.params.spec import format_value, param_error
from adp_ros.core.platform import ALOHA, PlatformConfig, get_platform
from adp_ros.core.pruning import PruneConfig, validate_split
from adp_ros.core.safety import ActionGuardConfig, StalenessConfig
from adp_ros.core.streaming import GripperMapping

EEF_POSE_PROPRIO_DIMS = 6
"""xyz + axis-angle from the end-effector pose, as LIBERO's proprio starts (then the gripper joints)."""

START_DISTANCE_RAD = 0.3
"""Default bound of an absolute-joint policy's first point from the measured joints: 7.5 rad/s over one 40 ms
ALOHA step, already a fast move; a random or wrong checkpoint's first point was 2.2–2.5 rad away (issue 12)."""
DEFAULT_MAX_START_DISTANCE: dict[str, tuple[float, ...]] = {
    # Per arm: the joints, then the gripper, whose command may stay away from the measured opening (a grasp).
    ALOHA.name: ((START_DISTANCE_RAD,) * len(ALOHA_ARM_JOINTS) + (math.inf,)) * 2,
}
"""safety.max_start_distance when empty, per platform (absolute joint-position policies only)."""


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
