"""`adp_node [--autostart] [--ros-args ...]`: the console script that spins `AdpPolicyNode` until Ctrl-C or the
shutdown transition (`python -m adp_ros.ros.main` does the same)."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from typing import Any

from adp_ros.core.errors import AdpRosError
from adp_ros.ros import node as node_module
from adp_ros.ros.node import AdpPolicyNode

_DESCRIPTION = (node_module.__doc__ or "").split("\n", 1)[0]
_FINALIZED_LINGER_SEC = 0.5
"""Spin this long after the shutdown transition before exiting, so its ChangeState answer gets out."""


class _StopRequest:
    """SIGINT/SIGTERM handler: the first signal asks the spin loop to stop (the node then sends the arm its
    stop message); a second one aborts. Raising KeyboardInterrupt at once could land inside rclpy's C calls."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, signum: int, frame: Any) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()


def main(args: list[str] | None = None) -> int:
    """`adp_node [--autostart] [--ros-args ...]`: spin the node until Ctrl-C or shutdown."""
    import rclpy
    from rclpy.exceptions import ParameterException
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions
    from rclpy.utilities import remove_ros_args

    parser = argparse.ArgumentParser(prog="adp_node", description=_DESCRIPTION)
    parser.add_argument(
        "--autostart", action="store_true", help="configure and activate at start (same as -p node.autostart:=true)"
    )
    options = parser.parse_args(remove_ros_args(args)[1:])
    # Our own SIGINT/SIGTERM handling: rclpy's would shut the context down before the node could send the arm
    # its stop message.
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = _StopRequest()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    node = None
    try:
        node = AdpPolicyNode()
        if (options.autostart or node.get_parameter("node.autostart").value) and not node.start_up():
            # Fail fast: the model's parameters are read-only, so a node that cannot configure stays useless.
            node.get_logger().fatal("autostart failed (the configure error is above); exiting")
            return 1
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while not stop.event.is_set() and rclpy.ok() and node.lifecycle_state != "finalized":
            executor.spin_once(timeout_sec=0.1)
        if node.lifecycle_state == "finalized":  # the shutdown transition: nothing left to do but exit
            node.get_logger().info("finalized by the shutdown transition; exiting")
            linger_until = time.monotonic() + _FINALIZED_LINGER_SEC
            while time.monotonic() < linger_until and rclpy.ok():
                executor.spin_once(timeout_sec=0.05)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (AdpRosError, ParameterException) as exc:
        # A value in the params file or -p that does not fit its declared type or range.
        hint = " (write doubles with a decimal point: 5.0, not 5)" if "expecting type 'DOUBLE'" in str(exc) else ""
        print(f"adp_node: error: {exc}{hint}")
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
