"""QoS profiles of the node's topics.

Inputs subscribe best effort: a best-effort subscriber matches both best-effort and reliable publishers, and a
late sensor message is worth less than the next one. Cameras use the sensor-data profile (depth 5). Commands,
previews and diagnostics are reliable (joint_trajectory_controller subscribes reliable), depth 10. The
instruction has two subscriptions: reliable + volatile matches every publisher, and reliable + transient-local
also receives an instruction latched before the node subscribed (a task manager, or a replayed bag: a once-only
message is easily lost while discovery settles). A volatile publisher matches only the first; a latched one
delivers to both, and the repeat of the same text changes nothing. `task.instruction` sets it at start.
"""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

CAMERA_QOS = qos_profile_sensor_data
STATE_QOS = QoSProfile(depth=20, reliability=ReliabilityPolicy.BEST_EFFORT)
COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
DIAGNOSTICS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
INSTRUCTION_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED_INSTRUCTION_QOS = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
DEBUG_IMAGE_QOS = qos_profile_sensor_data
