"""adp_ros: OpenVLA-OFT with Action-aware Dynamic Pruning (ADP) as a ROS 2 node.

Layers, imported one way only: `core` (numpy + stdlib) → `model` (torch) → `ros` (rclpy adapter) → `tools` (CLI).
"""

__version__ = "0.1.0"
