"""Thin rclpy adapter: parameters, message conversions, diagnostics, the node. No model math here."""
