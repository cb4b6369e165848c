"""One parameter: `ParamSpec`, and how a single value is checked against it and written.

It exists apart from the schema table because everything else builds on it and it needs nothing from the rest
of the package: a `ParamSpec` checks its own default on construction (`check_value`), the tables are made of
`ParamSpec`s, `schema` checks values by name with `check_value`, and the cross-field resolution words its
errors with `param_error` / `format_value`. `format_value` is also how `gen_params` writes YAML and how the
ROS layer shows values. Type, range and choices of one value only; relations between values are `resolution`'s.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Any, Literal

from adp_ros.core.errors import ConfigError, closest

ParamType = Literal["bool", "int", "double", "string", "int_array", "double_array", "string_array"]
PARAM_TYPES: tuple[str, ...] = typing.get_args(ParamType)


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter: name (dots for groups), type, default and what a person needs to set it."""

    name: str
    type: ParamType
    default: Any
    description: str
    unit: str = ""
    min: float | None = None
    """Inclusive lower bound (per element for arrays)."""
    max: float | None = None
    """Inclusive upper bound (per element for arrays)."""
    choices: tuple[str, ...] = ()
    read_only: bool = False
    live: bool = False
    """May change while configured/active (applies at the next chunk)."""
    example: str = ""
    """A valid value for error messages (defaults to the default)."""

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ConfigError(f"ParamSpec {self.name}: type {self.type!r} not in {PARAM_TYPES}")
        if self.read_only and self.live:
            raise ConfigError(f"ParamSpec {self.name}: read_only parameters cannot be live")
        problem = check_value(self, self.default)
        if problem:
            raise ConfigError(f"ParamSpec {self.name}: default {self.default!r} {problem}")

    @property
    def group(self) -> str:
        return self.name.split(".", 1)[0] if "." in self.name else "node"

    @property
    def is_array(self) -> bool:
        return self.type.endswith("_array")

    @property
    def element_type(self) -> str:
        return self.type.removesuffix("_array")

    def allowed(self) -> str:
        """The allowed values in words: 'one of (a, b)', 'in [0, 1]', 'any string'."""
        if self.choices:
            return f"one of ({', '.join(self.choices)})"
        lo = "-inf" if self.min is None else _fmt(self.min)
        hi = "inf" if self.max is None else _fmt(self.max)
        if self.min is None and self.max is None:
            return f"any {self.type.replace('_', ' ')}"
        each = " (each element)" if self.is_array else ""
        return f"in [{lo}, {hi}]{each}"

    def example_text(self) -> str:
        """A value as typed after `-p name:=` (strings unquoted)."""
        if self.example:
            return self.example
        if isinstance(self.default, str):
            return self.default or '""'
        return format_value(self.default)


def _fmt(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}"


def format_value(value: Any) -> str:
    """A value as it is written in YAML and on the command line (doubles always with a decimal point)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text or "E" in text:
            mantissa, exponent = text.lower().split("e")
            if "." not in mantissa:
                mantissa += ".0"
            sign = "" if exponent.startswith(("-", "+")) else "+"
            return f"{mantissa}e{sign}{exponent}"
        return text
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    raise ConfigError(f"cannot format {value!r} as a parameter value")


def _scalar_ok(kind: str, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "double":
        return isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool))
    return isinstance(value, str)


def check_value(spec: ParamSpec, value: Any) -> str:
    """'' when `value` fits `spec` (type, range, choices), else what is wrong (without the name)."""
    kind = spec.element_type
    if spec.is_array:
        if not isinstance(value, (list, tuple)):
            return f"is not a list (expected {spec.type})"
        items = list(value)
    else:
        items = [value]
    for item in items:
        if not _scalar_ok(kind, item):
            expected = "a number with a decimal point" if kind == "double" else f"a {kind}"
            return f"has the wrong type ({type(item).__name__}; expected {expected})"
        if kind == "double" and math.isnan(float(item)):
            return "is NaN"
        if kind in ("int", "double"):
            outside = (spec.min is not None and item < spec.min) or (spec.max is not None and item > spec.max)
            if outside:
                return f"is outside the allowed range: {spec.allowed()}"
        if spec.choices and item not in spec.choices:
            hint = closest(str(item), spec.choices)
            return f"is not {spec.allowed()}{hint if hint.startswith(' (did') else ''}"
    return ""


def param_error(spec: ParamSpec | str, value: Any, problem: str, fix: str = "") -> ConfigError:
    """`parameter 'x' = v <problem>; fix: ...` with the standard ways to set it."""
    name = spec if isinstance(spec, str) else spec.name
    if not fix:
        example = "" if isinstance(spec, str) else spec.example_text()
        fix = f"e.g. -p {name}:={example} or set it in the params file" if example else "fix it in the params file"
    shown = format_value(value) if isinstance(value, (bool, int, float, str, list, tuple)) else repr(value)
    return ConfigError(f"parameter '{name}' = {shown} {problem}; {fix}")
