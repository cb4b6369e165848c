"""`adp_policy_node`: cameras + joint states in, action chunks + latency diagnostics out (a thin adapter).

Lifecycle: configure = read and validate every parameter, load the checkpoint, warm up, create topics;
activate = start the inference worker and publishing; deactivate = stop it (and the arm: an empty trajectory)
without unloading; cleanup = unload. `node.autostart` (or `adp_node --autostart`) runs configure + activate at
start, for installs without lifecycle tools. A transition that is not valid from the current state is answered
success=false and changes nothing; after the shutdown transition `main` exits (code 0).

Threads: subscription callbacks store only the newest synchronised observation (`core.slot.LatestSlot`); one
worker thread drives `core.pipeline.ChunkPipeline` (schedule → staleness → gate → policy → guard → publish: the
same pipeline `bag eval` runs) with this node as its clock and sink.
With `output.streams`, a timer at the control rate sends the current step of the current chunk (twist, pose
target, gripper: `core.streaming`, `ros/outputs.py`, docs/controllers.md).
Spin the node with a SingleThreadedExecutor (as `main` does): with rclpy's MultiThreadedExecutor (2 threads)
under a ~500 msg/s bag replay, the worker thread was starved for the whole 3 s replay (one chunk instead of
seven; `test/ros/test_bag_replay_node.py` with the executor swapped).
Time is ROS time everywhere (header stamps and `get_clock()`), so `use_sim_time` replay behaves like the robot.
Commands start disabled: chunks go to the preview topic only until `~/enable` (std_srvs/SetBool) or
`safety.enable_on_activate`; `safety.dry_run` forbids commanding altogether, and enabling is refused while an
action dimension has no limit (the default limits come from the checkpoint's dataset statistics) unless
`safety.allow_unbounded`. Observations lost while commanding (none fresh for `safety.max_observation_age_sec`
after the last commanded chunk ran out): the stop message once, `/diagnostics` at ERROR until they return
(docs/safety.md).
A request that publishes no chunk (stale, refused, model error) is retried after the back-off of
`core.schedule.ChunkScheduler`, counted as `failed_attempts` in the diagnostics. While active without a
synchronised observation, the node logs the input topics with the messages seen on each (every
`core.diagnostics.WAITING_LOG_PERIOD_SEC`).

Size (~700 lines, over the project's ~600): one LifecycleNode class whose callbacks share the lifecycle, command
and pipeline state. What it calls already lives elsewhere (core/pipeline, core/safety, core/diagnostics,
ros/streams, ros/sync, ros/inputs, ros/outputs, ros/main); splitting the class itself would only spread that
shared state over mixins.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.duration import Duration
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import String
from std_srvs.srv import SetBool

from adp_ros.core.debug_image import shade_pruned
from adp_ros.core.diagnostics import (
    ERROR,
    EVENT_LEVELS,
    WAITING_LOG_PERIOD_SEC,
    DiagnosticsTracker,
    Thresholds,
    waiting_message,
)
from adp_ros.core.errors import AdpRosError, ConfigError, InputError
from adp_ros.core.params import NODE_NAME, ResolvedConfig, require_checkpoint
from adp_ros.core.pipeline import ChunkPipeline, PipelineSettings, PlannedChunk, guard_config
from adp_ros.core.runner import ChunkInputs, ChunkOutcome, ChunkRunner
from adp_ros.core.safety import (
    ActionGuardConfig,
    CommandGate,
    InputLossMonitor,
    check_staleness,
    describe_guard,
    statistics_limits,
)
from adp_ros.core.schedule import seconds_until
from adp_ros.core.stamps import stamp_ns_of
from adp_ros.ros import diagnostics as diag
from adp_ros.ros import qos
from adp_ros.ros.image_conversion import array_to_imgmsg
from adp_ros.ros.inputs import ObservationAssembler
from adp_ros.ros.motion_feed import feed_motion
from adp_ros.ros.outputs import (
    OUTPUT_MESSAGE_TYPES,
    build_chunk_message,
    stop_message,
)
from adp_ros.ros.parameters import ParameterValidator, declare_all, read_config
from adp_ros.ros.streams import StreamOutputs
from adp_ros.ros.sync import create_observation_sync

_POLL_SEC = 0.02
"""Longest the worker sleeps between looks at ROS time (sim time may jump)."""


class AdpPolicyNode(LifecycleNode):
    """The managed node. Extra keyword arguments go to `LifecycleNode` (context, parameter_overrides, ...)."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._state = "unconfigured"
        declare_all(self)
        self._explicit: set[str] = set()
        """Parameters set after start (services, the instruction topic): they win over gate.preset."""
        self.add_on_set_parameters_callback(
            ParameterValidator(
                self, lambda: self._state != "unconfigured", self._check_against_model, lambda: self._explicit
            )
        )
        self.add_post_set_parameters_callback(self._on_parameters_set)
        self._config: ResolvedConfig | None = None
        self._applied: ResolvedConfig | None = None
        self._policy: Any = None
        self._io: list[Any] = []  # subscriptions and lifecycle publishers created at configure
        self._streams: StreamOutputs | None = None  # output.streams
        self._sync: Any = None
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._pipeline: ChunkPipeline[tuple[Any, ...]] | None = None  # created at configure
        self._commands = CommandGate(dry_run=False, enabled=False)
        self._statistics_range: tuple[Any, Any] | None = None  # the actions' trained min/max (default limits)
        self._statistics_source = ""
        self._input_loss = InputLossMonitor()
        self._loss_message = ""
        self._counts_at_observation: tuple[int, ...] | None = None  # sync's received counts at the newest
        self._counts_observation = -1  # fresh observation (which inputs went silent), and its number
        self._tracker = DiagnosticsTracker()
        self._next_waiting_log_ns: int | None = None
        self._hardware_id = "adp_ros"
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", qos.DIAGNOSTICS_QOS)
        period = self.get_parameter("diagnostics.period_sec").value
        self._diag_timer = self.create_timer(period, self.publish_status)
        self.create_service(SetBool, "~/enable", self._on_enable)
        self._service_change_state.callback = self._guarded_change_state(self._service_change_state.callback)

    # ------------------------------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            cfg = read_config(self, self._explicit)
            require_checkpoint(cfg.node)
            self._load_policy(cfg)
            self._create_io(cfg)
        except Exception as exc:  # one clear line; lifecycle would swallow it silently otherwise
            reason = str(exc) if isinstance(exc, AdpRosError) else f"{type(exc).__name__}: {exc}"
            self.get_logger().error(f"configure failed: {reason}")
            self._tracker.record_event("configure_failed", reason, self._now_ns())
            self._teardown()
            return TransitionCallbackReturn.FAILURE
        self._config = self._applied = cfg
        self._state = "inactive"
        n = cfg.node
        self.get_logger().info(
            f"configured: {n.model.platform.name} policy on {self._hardware_id}, cameras {list(n.topics.cameras)}, "
            f"output {n.output.type}, pruning {cfg.prune.mode} (keep {cfg.prune.keep_ratio}), "
            f"gate preset {n.motion.gate_preset} on {n.motion.source}, sync backend {self._sync.backend}"
        )
        self.get_logger().info(f"safety: {describe_guard(self._pipeline.guard.config, self._limits_source(cfg))}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        cfg = self._config
        assert cfg is not None
        result = super().on_activate(state)  # enables the lifecycle publishers
        now = self._now_ns()
        self._tracker.activated(now)
        self._pipeline.reset()
        if self._streams is not None:
            self._streams.stream.clear()
        self._commands.set_dry_run(cfg.node.safety.dry_run)
        self._input_loss.disarm()
        self._counts_at_observation, self._counts_observation = None, -1
        self._state = "active"
        if cfg.node.safety.enable_on_activate and not cfg.node.safety.dry_run:
            refusal = self._unbounded_refusal(cfg)
            if refusal:
                self.get_logger().error(f"safety.enable_on_activate: {refusal}")
            else:
                self._enable_commands()
        self._stop.clear()
        self._worker = threading.Thread(target=self._worker_loop, name="adp_inference", daemon=True)
        self._worker.start()
        self.get_logger().info(f"active; commands: {self._commands.state}")
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        self._disable_commands("deactivated")
        self._input_loss.disarm()
        self._state = "inactive"
        self._tracker.deactivated()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self._state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        if self._state == "active":  # main exits next: make sure the controller got the stop
            self._disable_commands("shutting down", wait_acked=True)
        self._teardown()
        self._state = "finalized"
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        self._teardown()
        self._state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def _guarded_change_state(self, change_state: Any) -> Any:
        """Wrap rclpy's ChangeState handler: a transition id not valid from the current state (activate while
        unconfigured, configure while active) raises RCLError out of the executor, which ended the process
        with no answer to the client. rcl rejects it before any callback runs, so nothing has changed:
        answer success=false and keep running."""
        from rclpy.impl.implementation_singleton import rclpy_implementation

        def handle(request: Any, response: Any) -> Any:
            try:
                return change_state(request, response)
            except rclpy_implementation.RCLError:
                valid = sorted({t[1] for t in self._state_machine.available_transitions})
                self.get_logger().warning(
                    f"~/change_state: transition {request.transition.id} is not valid from {self._state!r} "
                    f"(valid: {', '.join(valid) or 'none'}); refused, nothing changed"
                )
                response.success = False
                return response

        return handle

    def start_up(self) -> bool:
        """configure + activate (what `node.autostart` does); True when active."""
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            return False
        return self.trigger_activate() == TransitionCallbackReturn.SUCCESS

    def destroy_node(self) -> None:
        self._stop_worker()
        if self._state == "active":
            with contextlib.suppress(Exception):  # the context may already be shut down
                self._disable_commands("node destroyed", wait_acked=True)  # the arm's stop (Ctrl-C, SIGTERM)
        super().destroy_node()

    @property
    def lifecycle_state(self) -> str:
        return self._state

    @property
    def policy(self) -> Any:
        """The loaded `OftPolicy` (None before configure and after cleanup)."""
        return self._policy

    # --------------------------------------------------------------------------------------------- set-up
    def _load_policy(self, cfg: ResolvedConfig) -> None:
        from adp_ros.model.config import PolicyConfig
        from adp_ros.model.policy import OftPolicy

        m = cfg.node.model
        self._policy = OftPolicy(PolicyConfig.from_settings(m))
        self._policy.check_prune(cfg.prune)
        if m.warmup:
            # With the configured instruction, the graphs captured here are the ones the first chunks replay.
            prunes = [None] if cfg.prune.mode == "dense" else [None, cfg.prune]
            self._policy.warmup(prunes, instruction=cfg.node.instruction or None)
        self._hardware_id = self._hardware_label(cfg.node.diagnostics.hardware_id)
        self._load_statistics_range()

    def _load_statistics_range(self) -> None:
        """The range of the actions the policy was trained on (min/max in its dataset statistics): the default
        limits of the action guard (safety.limits_from_statistics)."""
        stats, files = self._policy.norm_stats, self._policy.files
        source = "config.json norm_stats"
        if files is not None and files.dataset_statistics is not None:
            source = files.dataset_statistics.name
        self._statistics_source = f"{source}[{stats.key!r}]"
        self._statistics_range = getattr(stats, "action_range", None)
        if self._statistics_range is None:
            self.get_logger().warning(
                f"{self._statistics_source} has no action min/max: no default action limits (give "
                "safety.action_lower/upper)"
            )
            return
        try:
            statistics_limits(*self._statistics_range, 0.0)
        except InputError as exc:
            raise ConfigError(f"{self._statistics_source} action: {exc}") from None

    def _guard_config(self, cfg: ResolvedConfig) -> ActionGuardConfig:
        return guard_config(cfg.node.safety, self._statistics_range)

    def _limits_source(self, cfg: ResolvedConfig) -> str:
        s = cfg.node.safety
        stats = (
            f"{self._statistics_source} min/max +/-{s.statistics_margin * 100:g}% of the range"
            if s.limits_from_statistics and self._statistics_range is not None
            else "none"
        )
        lower = "safety.action_lower" if s.guard.lower else stats
        upper = "safety.action_upper" if s.guard.upper else stats
        return lower if lower == upper else f"{lower} (lower), {upper} (upper)"

    def _unbounded_refusal(self, cfg: ResolvedConfig) -> str:
        """Why commanding is refused for want of limits ('' when it is not)."""
        dims = self._guard_config(cfg).unbounded_dims
        if not dims or cfg.node.safety.allow_unbounded:
            return ""
        return (
            f"no action limit on dim(s) {list(dims)}, so commands stay disabled: give safety.action_lower/upper, "
            "keep safety.limits_from_statistics with a checkpoint whose dataset_statistics.json has the actions' "
            "min/max, or set safety.allow_unbounded:=true (docs/safety.md)"
        )

    def _hardware_label(self, hardware_id: str) -> str:
        """`diagnostics.hardware_id`, or the policy's device (with the GPU's name) when empty."""
        device = self._policy.device
        if hardware_id or device.type != "cuda":
            return hardware_id or str(device)
        import torch

        return f"{device} ({torch.cuda.get_device_name(device)})"

    def _check_against_model(self, cfg: ResolvedConfig) -> None:
        if self._policy is not None:
            self._policy.check_prune(cfg.prune)

    def _create_io(self, cfg: ResolvedConfig) -> None:
        n = cfg.node
        out_type = OUTPUT_MESSAGE_TYPES[n.output.type]
        self._preview_pub = self.create_lifecycle_publisher(out_type, n.topics.preview, qos.COMMAND_QOS)
        self._command_pub = self.create_lifecycle_publisher(out_type, n.topics.command, qos.COMMAND_QOS)
        self._latency_pub = self.create_lifecycle_publisher(DiagnosticArray, n.topics.latency, qos.DIAGNOSTICS_QOS)
        self._debug_pub = self.create_lifecycle_publisher(Image, n.topics.debug_image, qos.DEBUG_IMAGE_QOS)
        self._io = [self._preview_pub, self._command_pub, self._latency_pub, self._debug_pub]
        self._streams = StreamOutputs.create(
            self, n, self._current_settings, lambda: self._commands.may_command, self._is_active
        )
        self._assemble = ObservationAssembler(n)
        self._pipeline = ChunkPipeline(
            ChunkRunner.for_motion(cfg.gate, n.motion),
            PipelineSettings.from_config(cfg, self._statistics_range),
            predict=self._policy.predict_chunk,
            convert=self._assemble,
            sink=self,
            clock=self._now_ns,
        )
        motion_topics = {
            "joint_states": (JointState, n.topics.joint_states),
            "eef_pose": (PoseStamped, n.topics.eef_pose),
        }
        if n.motion.source in motion_topics:  # predicted_delta needs no topic
            kind, topic = motion_topics[n.motion.source]
            self._io.append(self.create_subscription(kind, topic, self._on_motion, qos.STATE_QOS))
        for profile in (qos.INSTRUCTION_QOS, qos.LATCHED_INSTRUCTION_QOS):
            self._io.append(self.create_subscription(String, n.topics.instruction, self._on_instruction, profile))
        self._tracker = DiagnosticsTracker(n.diagnostics.window, Thresholds.from_settings(n.diagnostics))
        image_type = CompressedImage if n.topics.image_transport == "compressed" else Image
        cameras = [(image_type, t, qos.CAMERA_QOS) for t in n.topics.cameras]
        # Joint states and pose (500-1000 Hz on robots) are looked up at the camera set's stamp, not synchronised
        # with the cameras: in the synchroniser's queue they starved it (issue 12; ros/sync.py).
        states = []
        if self._assemble.needs_joint_states:
            states.append((JointState, n.topics.joint_states, qos.STATE_QOS))
        if self._assemble.needs_pose:
            states.append((PoseStamped, n.topics.eef_pose, qos.STATE_QOS))
        self._sync = create_observation_sync(
            self,
            cameras,
            states,
            self._on_synced,
            queue_size=n.sync.queue_size,
            slop_sec=n.sync.slop_sec,
            state_tolerance_sec=n.sync.state_tolerance_sec,
            state_wait_sec=n.sync.state_wait_sec,
            state_history_sec=n.sync.state_history_sec,
            backend=n.sync.backend,
        )

    def _teardown(self) -> None:
        if self._streams is not None:
            self._streams.destroy()
            self._streams = None
        if self._sync is not None:
            self._sync.destroy()
            self._sync = None
        for entity in self._io:
            if hasattr(entity, "publish"):
                self.destroy_lifecycle_publisher(entity)
            else:
                self.destroy_subscription(entity)
        self._io = []
        if self._pipeline is not None:
            self._pipeline.slot.clear()
        self._pipeline = None
        self._statistics_range = None
        if self._policy is not None:
            self._policy = None
            _free_cuda_cache()
        self._config = self._applied = None

    # ------------------------------------------------------------------------------------------ callbacks
    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _is_active(self) -> bool:
        return self._state == "active"

    def _current_settings(self) -> Any:
        cfg = self._config
        return cfg.node if cfg is not None else None

    def _on_synced(self, *msgs: Any) -> None:
        if self._state != "active":
            return
        now = self._now_ns()
        cfg = self._config
        stamps = [stamp_ns_of(m) or 0 for m in msgs]
        fresh = cfg is not None and check_staleness(stamps, now, cfg.node.safety.staleness).is_fresh
        if fresh and self._input_loss.observed(min(stamps)):
            self.get_logger().info("inputs back: a fresh synchronised observation arrived")
        if self._pipeline is not None:
            self._pipeline.put(msgs, now)
        self._tracker.record_observation(now)

    def _on_motion(self, msg: Any) -> None:
        pipeline = self._pipeline
        if pipeline is None:
            return
        try:
            feed_motion(pipeline.runner, msg)
        except InputError as exc:
            self.get_logger().warning(f"motion sample dropped: {exc}", throttle_duration_sec=5.0)

    def _on_instruction(self, msg: String) -> None:
        # Through the parameter, so `task.instruction` always shows the instruction in use.
        result = self.set_parameters([Parameter("task.instruction", value=msg.data)])[0]
        if not result.successful:
            self.get_logger().warning(f"instruction rejected: {result.reason}")

    def _on_parameters_set(self, parameters: list[Parameter]) -> None:
        self._explicit.update(p.name for p in parameters)
        if self._state == "unconfigured":
            return  # read at configure
        try:
            self._config = read_config(self, self._explicit)
        except ConfigError as exc:  # validated by ParameterValidator; only a bug gets here
            self.get_logger().error(f"accepted parameters do not resolve: {exc}")
            return
        safety = self._config.node.safety
        self._commands.set_dry_run(safety.dry_run)
        if safety.dry_run:
            self._disable_commands("safety.dry_run set")
        refusal = self._unbounded_refusal(self._config) if self._commands.enabled else ""
        if refusal:
            self.get_logger().error(f"action limits removed while enabled: {refusal}")
            self._disable_commands("action limits removed")

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        if not request.data:
            self._disable_commands("disabled by ~/enable")
            response.success, response.message = True, "commands disabled: chunks go to the preview topic only"
        elif self._state != "active":
            response.success, response.message = False, f"node is {self._state}: activate it first"
        elif self._commands.dry_run:
            response.success, response.message = False, "safety.dry_run is true: set it to false to command the arm"
        elif refusal := self._unbounded_refusal(self._config):
            response.success, response.message = False, refusal
        else:
            self._enable_commands()
            topic = self._command_pub.topic_name
            response.success, response.message = True, f"commands enabled: chunks go to {topic}"
        self.get_logger().info(f"~/enable {request.data}: {response.message}")
        return response

    def _enable_commands(self) -> None:
        self._commands.enable()
        self._input_loss.arm(self._now_ns())

    def _disable_commands(self, reason: str, *, wait_acked: bool = False) -> None:
        was_commanding = self._commands.may_command
        self._commands.disable(reason)
        if self._streams is not None:
            self._streams.stop(was_commanding, wait_acked=wait_acked)
        cfg = self._config
        if was_commanding and cfg is not None and cfg.node.safety.stop_on_disable:
            self._command_pub.publish(stop_message(cfg.node.output))
            if wait_acked:  # the process may exit next: make sure the controller got it
                self._command_pub.wait_for_all_acked(Duration(seconds=1.0))

    # ------------------------------------------------------------------------------------------- worker
    def _stop_worker(self) -> None:
        self._stop.set()
        if self._pipeline is not None:
            self._pipeline.slot.wake()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=60.0)
        self._worker = None

    def _worker_loop(self) -> None:
        pipeline = self._pipeline
        assert pipeline is not None
        while not self._stop.is_set():
            now = self._now_ns()
            self._watch_inputs(now)
            cfg = self._config
            if cfg is not None and cfg is not self._applied:
                self._apply_live(cfg)
            result = pipeline.step(now)
            if result == "not_due":
                self._stop.wait(seconds_until(pipeline.scheduler.request_time_ns(), now, _POLL_SEC))
            elif result == "no_input":
                pipeline.slot.wait(_POLL_SEC)

    def _watch_inputs(self, now: int) -> None:
        """Observations lost while commanding: the stop message once per loss, and ERROR on /diagnostics (with
        the inputs that went silent) until a fresh observation arrives (core.safety.InputLossMonitor)."""
        cfg, sync = self._config, self._sync
        if cfg is None or sync is None:
            return
        if self._input_loss.observations != self._counts_observation:
            self._counts_observation = self._input_loss.observations
            self._counts_at_observation = sync.stats().received
        max_age = cfg.node.safety.staleness.max_age_ns
        if not self._commands.may_command or not self._input_loss.update(now, max_age):
            return
        topics = [sub.topic_name for sub in sync.subscriptions]
        before, counts = self._counts_at_observation, sync.stats().received
        silent = topics if before is None else [t for t, b, c in zip(topics, before, counts, strict=True) if b == c]
        arriving = [t for t in topics if t not in silent]
        since = self._input_loss.since_ns()
        age = f" for {(now - since) / 1e9:.2f} s" if since is not None else ""
        parts = [
            f"inputs lost while commanding: no fresh synchronised observation{age} (the last commanded chunk "
            f"ran out, then {max_age / 1e9:g} s, safety.max_observation_age_sec); stop message sent on "
            f"{self._command_pub.topic_name}"
        ]
        if silent:
            parts.append("no message on " + ", ".join(silent))
        if arriving:
            hint = self._input_problem() or "check their stamps, sync.slop_sec and sync.state_tolerance_sec"
            parts.append(f"stale or unsynchronised ({hint}): " + ", ".join(arriving))
        self._loss_message = "; ".join(parts)
        self._command_pub.publish(stop_message(cfg.node.output))
        self.get_logger().error(self._loss_message)

    def _apply_live(self, cfg: ResolvedConfig) -> None:
        """Live parameter changes take effect here, between chunks (worker thread)."""
        old, n = self._applied, cfg.node
        settings = PipelineSettings.from_config(cfg, self._statistics_range)
        guard_changed = settings.guard != self._pipeline.guard.config
        for note in self._pipeline.apply(settings):
            self.get_logger().info(note)
        if guard_changed:
            self.get_logger().info(f"safety: {describe_guard(settings.guard, self._limits_source(cfg))}")
        self._tracker.thresholds = Thresholds.from_settings(n.diagnostics)
        if old is None or old.node.diagnostics.hardware_id != n.diagnostics.hardware_id:
            self._hardware_id = self._hardware_label(n.diagnostics.hardware_id)
        self._applied = cfg

    # ------------------------------------------------------------------ the pipeline's sink (core.pipeline)
    def blocked(self) -> str:
        return "" if self._state == "active" else "node no longer active"

    def send(self, chunk: PlannedChunk) -> bool:
        n = self._applied.node  # the settings the pipeline runs under (a change lands at the next chunk)
        actions = chunk.outcome.actions
        msg = build_chunk_message(
            actions, n.output, stamp_ns=chunk.inputs.observation_stamp_ns, dt_ns=chunk.dt_ns, offset_ns=chunk.offset_ns
        )
        commanded = self._commands.may_command
        # The streams first: a control tick right after the trajectory went out must already see the chunk.
        if self._streams is not None:
            self._streams.add(chunk.inputs, actions, start_ns=chunk.start_ns, commanded=commanded)
        self._preview_pub.publish(msg)
        if commanded:
            self._command_pub.publish(msg)
            # Inputs lost counts from the end of the arm's last chunk.
            self._input_loss.commanded(chunk.start_ns + actions.shape[0] * chunk.dt_ns)
        return commanded

    def sent(self, chunk: PlannedChunk, record: Any) -> None:
        n = self._applied.node
        self._tracker.record_chunk(record)
        self._latency_pub.publish(
            diag.chunk_array(
                record,
                self._tracker.thresholds,
                hardware_id=self._hardware_id,
                stamp_ns=chunk.publish_ns,
                extra=self._counter_kv(),
            )
        )
        if n.diagnostics.debug_image:
            self._publish_debug_image(chunk.inputs, chunk.outcome, n, chunk.inputs.observation_stamp_ns)

    def skipped(self, status: str, reason: str, outcome: ChunkOutcome | None) -> None:
        if outcome is not None and outcome.out_of_memory:
            _free_cuda_cache()
        self._skip(status, reason)

    def _publish_debug_image(self, inputs: ChunkInputs, outcome: ChunkOutcome, n: Any, stamp: int) -> None:
        camera = n.diagnostics.debug_image_camera
        view = outcome.output.views[camera]  # what the policy saw: its own crop and resize
        shaded = shade_pruned(view, outcome.output.kept_indices[camera], shade=n.diagnostics.debug_image_shade)
        self._debug_pub.publish(array_to_imgmsg(shaded, "rgb8", stamp_ns=stamp, frame_id=n.topics.cameras[camera]))

    def _skip(self, kind: str, reason: str) -> None:
        now = self._now_ns()
        self._tracker.record_event(kind, reason, now)
        self.get_logger().warning(f"no chunk ({kind}): {reason}", throttle_duration_sec=2.0)
        if self._state == "active":
            self._latency_pub.publish(
                diag.skipped_chunk_array(
                    kind,
                    reason,
                    EVENT_LEVELS[kind],
                    hardware_id=self._hardware_id,
                    stamp_ns=now,
                    extra=self._counter_kv(),
                )
            )

    # -------------------------------------------------------------------------------------- diagnostics
    def counters(self) -> dict[str, int]:
        stats = self._sync.stats() if self._sync is not None else None
        pipeline = self._pipeline
        slot = pipeline.slot if pipeline is not None else None
        counters = {
            "observations_received": slot.received if slot is not None else 0,
            "dropped_frames": slot.dropped if slot is not None else 0,
            "observation_slot": len(slot) if slot is not None else 0,
            "sync_queued": 0,
        }
        if stats is not None:
            # Per input (core.sync.ObservationSyncStats): camera frames never used / state messages rejected,
            # and camera sets dropped for want of a state sample near their stamp.
            cams = stats.num_cameras
            counters.update({f"sync_dropped.{t}": d for t, d in zip(stats.topics, stats.dropped, strict=True)})
            states = zip(stats.topics[cams:], stats.missing[cams:], strict=True)
            counters.update({f"sync_missing.{t}": m for t, m in states})
            counters["sync_queued"] = sum(stats.queued[:cams])
        return counters | {
            "motion_samples_dropped": pipeline.runner.dropped_motion_samples if pipeline is not None else 0,
            # Chunk requests, and those that published nothing (each one delays the next: ChunkScheduler).
            "chunk_attempts": pipeline.scheduler.attempts if pipeline is not None else 0,
            "failed_attempts": pipeline.scheduler.failed_attempts if pipeline is not None else 0,
            "consecutive_failures": pipeline.scheduler.consecutive_failures if pipeline is not None else 0,
        }

    def _counter_kv(self) -> list[tuple[str, str]]:
        return [(k, str(v)) for k, v in self.counters().items()]

    def diagnostics_snapshot(self) -> Any:
        cfg = self._config
        return self._tracker.snapshot(
            self._now_ns(),
            lifecycle_state=self._state,
            command_state=self._commands.state,
            has_instruction=bool(cfg.node.instruction) if cfg is not None else False,
            extra_counters=self.counters(),
            input_problem=self._input_problem(),
            conditions=[(ERROR, self._loss_message or "inputs lost while commanding")] if self._input_loss.lost else (),
        )

    def _input_problem(self) -> str:
        """The inputs missing or late since the last synchronised observation, with the parameter to change."""
        if self._sync is None:
            return ""
        now = self._now_ns()
        idle = self._tracker.input_idle_ns(now)
        return self._sync.stats().problem(since_ns=now - idle if idle is not None else None)

    def publish_status(self) -> None:
        """The ~1 Hz `/diagnostics` status (timer callback; also callable)."""
        if self._sync is not None:
            self._sync.poll()  # camera sets whose wait for a state sample ran out: matched or dropped now
        self._diag_pub.publish(diag.snapshot_array(self.diagnostics_snapshot(), hardware_id=self._hardware_id))
        self._log_waiting()

    def _log_waiting(self) -> None:
        """While active without a synchronised observation for `diagnostics.input_timeout_sec`, log the inputs
        and the messages seen on each, once per wait and then every WAITING_LOG_PERIOD_SEC of ROS time: a node
        started alone otherwise went silent after "active" (issue 13)."""
        cfg, sync = self._config, self._sync
        now = self._now_ns()
        idle = self._tracker.input_idle_ns(now) if self._state == "active" else None
        if cfg is None or sync is None or idle is None or idle <= cfg.node.diagnostics.input_timeout_sec * 1e9:
            self._next_waiting_log_ns = None
            return
        due = self._next_waiting_log_ns
        if due is not None and now < due and due - now <= WAITING_LOG_PERIOD_SEC * 1e9:  # not due, not time-warped
            return
        self._next_waiting_log_ns = now + int(WAITING_LOG_PERIOD_SEC * 1e9)
        stats = sync.stats()
        inputs = list(zip(stats.topics, stats.received, strict=True))
        missing = "" if cfg.node.instruction else self.resolve_topic_name(cfg.node.topics.instruction)
        self.get_logger().info(waiting_message(inputs, idle / 1e9, missing, self._input_problem()))


def _free_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
