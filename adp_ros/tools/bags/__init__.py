"""rosbag2 tools: read (`reader`, `summary`) and write (`writer`, `typestore`) bags, their messages (`messages`) and
QoS (`topic_qos`); synthesise (`synth`), play (`play`), record (`record`) and evaluate (`evaluate`) them.

Import the submodules directly; this package imports nothing heavy so `adp-ros --help` stays instant.
"""
