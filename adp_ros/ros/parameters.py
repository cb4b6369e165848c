"""Declare the schema's parameters on a node, read them back, and validate changes as a whole.

Every `ParamSpec` of `adp_ros.core.params` becomes a parameter with a `ParameterDescriptor`: description (with
unit and whether it is live), range (`FloatingPointRange` / `IntegerRange`, checked by rclpy itself), choices
and array ranges in `additional_constraints`, `read_only` for the model's identity.

Changes (`ros2 param set`, a SetParameters client, the instruction topic) pass `ParameterValidator`: while the
node is configured it rebuilds the whole configuration with the new values (`params.resolve`), so a change that
is fine alone but inconsistent with the rest is rejected too, and a non-live parameter is refused with the way
to change it. Rejected = nothing changes, and the reason names parameter, value, allowed range and fix.
Unconfigured, only per-parameter checks run (configure checks the whole).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import ParameterUninitializedException
from rclpy.parameter import Parameter

from adp_ros.core.errors import ConfigError
from adp_ros.core.params import (
    SPEC_BY_NAME,
    SPECS,
    ParamSpec,
    ResolvedConfig,
    format_value,
    non_live_changes,
    resolve,
    validate_value,
)

PARAMETER_TYPES: dict[str, Parameter.Type] = {
    "bool": Parameter.Type.BOOL,
    "int": Parameter.Type.INTEGER,
    "double": Parameter.Type.DOUBLE,
    "string": Parameter.Type.STRING,
    "int_array": Parameter.Type.INTEGER_ARRAY,
    "double_array": Parameter.Type.DOUBLE_ARRAY,
    "string_array": Parameter.Type.STRING_ARRAY,
}


def _finite(value: float, fallback: float) -> float:
    return float(value) if value is not None and math.isfinite(value) else fallback


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    unit = f" [{spec.unit}]" if spec.unit else ""
    if spec.read_only:
        when = "Read-only: give it at start (params file or -p)."
    elif spec.live:
        when = "Live: applies at the next chunk."
    else:
        when = "Read at configure (deactivate + cleanup to change)."
    desc = ParameterDescriptor(
        name=spec.name,
        type=PARAMETER_TYPES[spec.type].value,
        description=f"{spec.description}{unit} {when}",
        read_only=spec.read_only,
    )
    constraints = []
    if spec.choices:
        constraints.append(f"one of: {', '.join(spec.choices)}")
    if spec.min is not None or spec.max is not None:
        if spec.type == "double":
            desc.floating_point_range = [
                FloatingPointRange(from_value=_finite(spec.min, -1e308), to_value=_finite(spec.max, 1e308), step=0.0)
            ]
        elif spec.type == "int":
            lo = int(spec.min) if spec.min is not None else -(2**63)
            hi = int(spec.max) if spec.max is not None else 2**63 - 1
            desc.integer_range = [IntegerRange(from_value=lo, to_value=hi, step=1)]
        else:
            constraints.append(spec.allowed())
    desc.additional_constraints = "; ".join(constraints)
    return desc


def declare_all(node: Any, specs: Iterable[ParamSpec] = SPECS) -> None:
    """Declare every spec (values from overrides: params file, -p, launch).

    An empty list has no type (rclpy would guess BYTE_ARRAY, and `[]` in a params file arrives unset), so empty
    array parameters are declared by type and then given a typed empty value: `ros2 param get` shows `[]`.
    """
    for spec in specs:
        kind = PARAMETER_TYPES[spec.type]
        default: Any = kind if spec.is_array and not spec.default else spec.default
        declared = node.declare_parameter(spec.name, default, descriptor(spec))
        if declared.type_ == Parameter.Type.NOT_SET:
            node.set_parameters([Parameter(spec.name, kind, list(spec.default) if spec.is_array else spec.default)])


def plain(value: Any) -> Any:
    """rclpy parameter value → plain Python (arrays as lists)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return list(value)


def read_values(node: Any, specs: Iterable[ParamSpec] = SPECS) -> dict[str, Any]:
    """name → value; None for a parameter without a value (an empty array in a params file), i.e. its default."""
    out: dict[str, Any] = {}
    for spec in specs:
        try:
            param = node.get_parameter(spec.name)
        except ParameterUninitializedException:
            out[spec.name] = None
            continue
        out[spec.name] = None if param.type_ == Parameter.Type.NOT_SET else plain(param.value)
    return out


def read_config(node: Any, explicit: Collection[str] = ()) -> ResolvedConfig:
    """All parameters → validated configs (`ConfigError` naming the parameter otherwise). `explicit`: names
    set on purpose, see `params.resolve`."""
    return resolve(read_values(node), explicit=explicit)


class ParameterValidator:
    """On-set callback: accept a change only if the resulting configuration is valid (and live, if running)."""

    def __init__(
        self,
        node: Any,
        is_configured: Callable[[], bool],
        check_model: Callable[[ResolvedConfig], None] | None = None,
        explicit: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        self._node = node
        self._is_configured = is_configured
        self._check_model = check_model
        """Model-dependent checks (e.g. FastV's layer against the loaded LLM's depth), once configured."""
        self._explicit = explicit
        """Names set explicitly so far: checked as the node will resolve them once the change is in."""

    def __call__(self, parameters: list[Parameter]) -> SetParametersResult:
        changes = {p.name: plain(p.value) for p in parameters if p.name in SPEC_BY_NAME}
        if not changes:
            return SetParametersResult(successful=True)
        try:
            self.check(changes)
        except ConfigError as exc:
            self._node.get_logger().warning(f"parameter change rejected: {exc}")
            return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def check(self, changes: Mapping[str, Any]) -> None:
        current = read_values(self._node)
        for name, value in changes.items():
            if value is None:
                raise ConfigError(f"parameter '{name}' cannot be unset; give a value (see `adp-ros params`)")
            validate_value(name, value)
        if not self._is_configured():
            return
        differing = [n for n, v in changes.items() if _normalised(n, v) != _normalised(n, current.get(n))]
        frozen = non_live_changes(differing)
        if frozen:
            shown = ", ".join(f"{n} = {format_value(changes[n])}" for n in frozen)
            raise ConfigError(
                f"{shown}: not live, so it cannot change while the node is configured; deactivate and clean up "
                "the node, set it, then configure again (or put it in the params file)"
            )
        merged = dict(current)
        merged.update(changes)
        resolved = resolve(merged, explicit={*self._explicit(), *changes})
        if self._check_model is not None:
            self._check_model(resolved)


def _normalised(name: str, value: Any) -> Any:
    if value is None:
        spec = SPEC_BY_NAME[name]
        value = spec.default
    if isinstance(value, list):
        return [float(v) if isinstance(v, int) and SPEC_BY_NAME[name].type == "double_array" else v for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and SPEC_BY_NAME[name].type == "double":
        return float(value)
    return value
