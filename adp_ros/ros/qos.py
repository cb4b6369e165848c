"""QoS profiles of the node's topics.

Inputs subscribe best effort: a best-effort subscriber matches both best-effort and reliable publishers, and a
late sensor message is worth less than the next one. Cameras use the sensor-data profile (depth 5). Commands,
previews and diagnostics are reliable (joint_trajectory_controller subscribes reliable), depth 10. The
instruction is reliable and volatile, which matches every publisher (a transient-local subscriber would not
match a volatile publisher); the parameter `task.instruction` is the way to set it before the node starts.
"""

from __future__ import annotations

from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

CAMERA_QOS = qos_profile_sensor_data
STATE_QOS = QoSProfile(depth=20, reliability=ReliabilityPolicy.BEST_EFFORT)
COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
DIAGNOSTICS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
INSTRUCTION_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
DEBUG_IMAGE_QOS = qos_profile_sensor_data
