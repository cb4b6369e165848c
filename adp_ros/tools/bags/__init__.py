"""rosbag2 tools: read/write (`io`), synthesise (`synth`), play (`play`) and record (`record`) bags.

Import the submodules directly; this package imports nothing heavy so `adp-ros --help` stays instant.
"""
