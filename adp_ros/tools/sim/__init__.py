"""The simulated robot side of the closed loop: LIBERO as a ROS 2 robot (bridge), a scripted expert, and the
evaluation and recording drivers behind `adp-ros sim`. Nothing here is imported by the policy node."""
