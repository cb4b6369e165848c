"""Every choice list of the schema, each defined once.

The tables (`specs_interface`, `specs_behaviour`) take every `choices=` from here. Where a lower core module
already owns a list (pruning modes from `core/pruning.py`, control modes from `core/schedule.py`, guard modes
from `core/safety.py`, arm combination from `core/motion.py`, gate literals and presets from `core/gate.py`,
platform names from `core/platform.py`, the built-in synchroniser's name from `core/sync.py`) it is imported,
not re-listed; the lists defined below are the ones the parameters themselves own. Higher layers (model, ros,
tools) should import them from `adp_ros.core.params` rather than spell the values again. Names carry `_NAMES`
where the ROS layer maps the same names to message classes (output and gripper types, `ros/outputs.py`).
"""

from __future__ import annotations

from adp_ros.core.gate_config import (
    DEADBAND_HISTORIES,
    DECISION_METHODS,
    DISPLACEMENT_KINDS,
    GATE_PRESETS,
    GATE_STATES,
    MIDDLE_BANDS,
)
from adp_ros.core.motion import COMBINE_METHODS
from adp_ros.core.platform import PRESETS
from adp_ros.core.pruning import POSITION_MODES, PRUNE_MODES, READOUTS
from adp_ros.core.safety import GUARD_MODES
from adp_ros.core.schedule import CONTROL_MODES
from adp_ros.core.sync import BACKEND_NAME

__all__ = [
    "ACCELERATIONS",
    "COMBINE_METHODS",
    "CONTROL_MODES",
    "DEADBAND_HISTORIES",
    "DECISION_METHODS",
    "DISPLACEMENT_KINDS",
    "DTYPES",
    "GATE_PRESET_CHOICES",
    "GATE_STATES",
    "GRIPPER_TYPE_NAMES",
    "GUARD_MODES",
    "IMAGE_TRANSPORTS",
    "MIDDLE_BANDS",
    "MOTION_SOURCES",
    "OUTPUT_TYPE_NAMES",
    "PLATFORMS",
    "POSITION_MODES",
    "PROPRIO_SOURCES",
    "PRUNE_MODES",
    "READOUTS",
    "STREAMS",
    "SYNC_BACKENDS",
    "TRAJECTORY_STARTS",
]

# model.*
PLATFORMS: tuple[str, ...] = tuple(PRESETS)
DTYPES = ("auto", "float32", "bfloat16", "float16")
ACCELERATIONS = ("auto", "eager", "cuda_graph")

# topics.*, sync.*, proprio.*, control.*
IMAGE_TRANSPORTS = ("raw", "compressed")
SYNC_BACKENDS = ("auto", "message_filters", BACKEND_NAME)
PROPRIO_SOURCES = ("joint_states", "eef_pose_and_joints")
TRAJECTORY_STARTS = ("publish", "observation")

# output.*
OUTPUT_TYPE_NAMES = ("auto", "joint_trajectory", "multi_dof_joint_trajectory", "float32_multi_array")
"""output.type (the ROS layer maps each but auto to its message class)."""
STREAMS = ("twist", "pose", "gripper")
GRIPPER_TYPE_NAMES = ("joint_trajectory", "float64")
"""output.gripper_type (the ROS layer maps each to its message class)."""

# gate.*
GATE_PRESET_CHOICES = ("auto", *GATE_PRESETS)
MOTION_SOURCES = ("eef_pose", "predicted_delta", "joint_states")
