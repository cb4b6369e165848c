"""`output.streams`: the node's per-period outputs (twist, pose target, gripper), one step of the current chunk at
each tick of a timer at the control rate. Which step is current and the hand-over between chunks are
`core.streaming.ChunkStream`'s; the messages are `ros/outputs.py`'s (docs/controllers.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rclpy.duration import Duration

from adp_ros.core.errors import InputError
from adp_ros.core.runner import ChunkInputs
from adp_ros.core.streaming import ChunkStream, StreamChunk
from adp_ros.ros import qos
from adp_ros.ros.outputs import stream_messages, stream_preview_topic, stream_topic, stream_types, zero_twist


class StreamOutputs:
    """A preview and a command publisher per stream, and the timer. `settings()` gives the node's current
    `params.NodeConfig` (live changes of scales, frame and control rate apply at once; None: unconfigured);
    `may_command()` is read at every tick, so a chunk streamed while commands were enabled is never commanded
    after they are disabled; `active()` gates the ticks."""

    def __init__(
        self,
        node: Any,
        n: Any,
        settings: Callable[[], Any],
        may_command: Callable[[], bool],
        active: Callable[[], bool],
    ) -> None:
        self._node = node
        self._settings = settings
        self._may_command = may_command
        self._active = active
        self.publishers: dict[str, tuple[Any, Any]] = {}  # kind → (preview, command)
        for kind, msg_type in stream_types(n.output).items():
            preview = node.create_lifecycle_publisher(msg_type, stream_preview_topic(kind, n.topics), qos.COMMAND_QOS)
            command = node.create_lifecycle_publisher(msg_type, stream_topic(kind, n.topics), qos.COMMAND_QOS)
            self.publishers[kind] = (preview, command)
        self.stream = ChunkStream()
        self._timer = node.create_timer(n.control.dt_ns / 1e9, self._on_tick)

    @classmethod
    def create(
        cls, node: Any, n: Any, settings: Callable[[], Any], may_command: Callable[[], bool], active: Callable[[], bool]
    ) -> StreamOutputs | None:
        """None when `output.streams` (in `n`, the configured settings) is empty."""
        return cls(node, n, settings, may_command, active) if stream_types(n.output) else None

    def add(self, inputs: ChunkInputs, actions: Any, *, start_ns: int, commanded: bool) -> None:
        """A published chunk (hand-over at `start_ns`)."""
        n = self._settings()
        if n is None:
            return
        out = n.output
        logger = self._node.get_logger()
        base = inputs.eef_pose if out.streams_pose else None
        measured, wanted = inputs.eef_frame_id.lstrip("/"), out.frame_id.lstrip("/")
        if base is not None and measured and wanted and measured != wanted:
            logger.error(
                f"no pose targets: the measured pose on {n.topics.eef_pose} is in frame {measured!r} but "
                f"output.frame_id is {wanted!r} (the frame of the deltas); publish the pose in that frame or set "
                "output.frame_id",
                throttle_duration_sec=5.0,
            )
            base = None
        try:
            chunk = StreamChunk.from_actions(
                actions,
                start_ns=start_ns,
                dt_ns=n.control.dt_ns,
                translation_scale=out.translation_scale,
                rotation_scale=out.rotation_scale,
                base_pose=base,
            )
        except InputError as exc:
            logger.error(f"chunk not streamed: {exc}", throttle_duration_sec=5.0)
            return
        self.stream.add(chunk, commanded=commanded)
        if commanded and not self._may_command():  # disabled meanwhile (executor thread): never command it
            self.stream.revoke()

    def _on_tick(self) -> None:
        """The current step of each stream to its preview, and to the arm when the chunk was commanded and
        commands are still enabled."""
        n = self._settings()
        if n is None or not self._active():
            return
        dt = n.control.dt_ns
        if self._timer.timer_period_ns != dt:  # control.control_hz changed live
            self._timer.timer_period_ns = dt
        now = self._node.get_clock().now().nanoseconds
        cmd = self.stream.at(now)
        if cmd is None:
            return
        commanding = cmd.commanded and self._may_command()
        for kind, msg in stream_messages(cmd, n.output, stamp_ns=now, dt_ns=dt).items():
            preview, command = self.publishers[kind]
            preview.publish(msg)
            if commanding:
                command.publish(msg)

    def stop(self, was_commanding: bool, *, wait_acked: bool = False) -> None:
        """Commands were disabled: the chunks streamed so far are never commanded again, and a zero twist stops
        the arm (MoveIt Servo would otherwise keep the last twist until its command timeout)."""
        self.stream.revoke()
        n = self._settings()
        if not was_commanding or n is None or "twist" not in self.publishers:
            return
        command = self.publishers["twist"][1]
        now = self._node.get_clock().now().nanoseconds
        command.publish(zero_twist(stamp_ns=now, frame_id=n.output.frame_id))
        if wait_acked:
            command.wait_for_all_acked(Duration(seconds=1.0))

    def destroy(self) -> None:
        self._node.destroy_timer(self._timer)
        for preview, command in self.publishers.values():
            self._node.destroy_lifecycle_publisher(preview)
            self._node.destroy_lifecycle_publisher(command)
        self.publishers = {}
