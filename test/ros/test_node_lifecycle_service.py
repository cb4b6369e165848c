"""The `~/change_state` service of the `adp_node` process (issue 12): a transition that is not valid from the
current state is answered success=false and changes nothing (it used to raise RCLError out of the spin loop:
exit code 1, no answer), and the shutdown transition ends the process cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from node_harness import NODE, REPO_ROOT, Harness, wait_until

pytestmark = pytest.mark.ros


def _start_node(checkpoint: Path, log: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", "adp_ros.ros.main", "--ros-args"]
    args += ["--params-file", str(REPO_ROOT / "config" / "libero.yaml")]
    for key, value in {
        "model.checkpoint": str(checkpoint),
        "task.instruction": "pick up the red block",
        "safety.enable_on_activate": "true",
        "model.warmup": "false",
    }.items():
        args += ["-p", f"{key}:={value}"]
    with log.open("w") as out:
        return subprocess.Popen(
            args, cwd=REPO_ROOT, env=os.environ | {"PYTHONPATH": str(REPO_ROOT)}, stdout=out, stderr=subprocess.STDOUT
        )


class Lifecycle:
    """A client of the node's lifecycle services, as `ros2 lifecycle set` uses them."""

    def __init__(self, h: Harness, process: subprocess.Popen, log: Path) -> None:
        from lifecycle_msgs.srv import ChangeState, GetState

        self.process, self.log = process, log
        self._change = h.peer.create_client(ChangeState, NODE + "/change_state")
        self._get = h.peer.create_client(GetState, NODE + "/get_state")
        assert self._change.wait_for_service(timeout_sec=60.0), f"no lifecycle service:\n{log.read_text()}"

    def _call(self, client: Any, request: Any, *, resend: bool = False) -> Any:
        """One request; `resend` (only for requests that change nothing): send again every 5 s, because a
        request sent right after discovery can be lost (the server's endpoints may not have matched yet)."""
        deadline = time.monotonic() + 60.0
        while True:
            future = client.call_async(request)
            wait = 5.0 if resend else 60.0
            done = wait_until(lambda f=future: f.done() or self.process.poll() is not None, wait)
            if done or time.monotonic() > deadline:
                break
        assert future.done(), f"no answer (exit code {self.process.poll()}):\n{self.log.read_text()}"
        return future.result()

    def change(self, transition_id: int = 0, label: str = "", *, resend: bool = False) -> bool:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        request = ChangeState.Request(transition=Transition(id=transition_id, label=label))
        return self._call(self._change, request, resend=resend).success

    def state(self) -> str:
        from lifecycle_msgs.srv import GetState

        return self._call(self._get, GetState.Request(), resend=True).current_state.label


def test_invalid_transitions_are_refused_and_shutdown_exits(ros_context, tiny_libero_checkpoint, tmp_path):
    from lifecycle_msgs.msg import Transition
    from trajectory_msgs.msg import MultiDOFJointTrajectory

    log = tmp_path / "adp_node.log"
    process = _start_node(tiny_libero_checkpoint, log)
    h = None
    try:
        h = Harness(ros_context, None)  # the peer only: the node is the process
        command = h.record(MultiDOFJointTrajectory, NODE + "/command")
        lifecycle = Lifecycle(h, process, log)

        # Refused requests change nothing, so the first may be sent again until the service answers.
        assert not lifecycle.change(Transition.TRANSITION_ACTIVATE, resend=True), "activate while unconfigured"
        assert not lifecycle.change(Transition.TRANSITION_DEACTIVATE)
        assert not lifecycle.change(label="activate")
        assert lifecycle.state() == "unconfigured" and process.poll() is None

        assert lifecycle.change(Transition.TRANSITION_CONFIGURE)
        assert lifecycle.change(Transition.TRANSITION_ACTIVATE)
        assert h.stream_until(lambda: command, timeout=30.0), f"not commanding:\n{log.read_text()}"

        # Configure (and cleanup) while active and commanding: refused, and the arm keeps being commanded.
        assert not lifecycle.change(Transition.TRANSITION_CONFIGURE)
        assert not lifecycle.change(Transition.TRANSITION_CLEANUP)
        assert not lifecycle.change(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
        assert lifecycle.state() == "active" and process.poll() is None
        n = len(command)
        assert h.stream_until(lambda: len(command) > n + 1, timeout=30.0), log.read_text()
        assert all(len(m.points) > 0 for m in command), "a refused transition stopped the arm"

        assert lifecycle.change(Transition.TRANSITION_ACTIVE_SHUTDOWN)
        assert process.wait(timeout=30) == 0, log.read_text()
        assert wait_until(lambda: len(command[-1].points) == 0, 5.0), "shutdown did not stop the arm"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if h is not None:
            h.close()
