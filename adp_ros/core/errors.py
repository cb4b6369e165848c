"""Errors a user can act on. Each message says what was wrong, the allowed values and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AdpRosError(Exception):
    """Base class: anything raised on purpose by adp_ros."""


class ConfigError(AdpRosError, ValueError):
    """A configuration value or parameter is invalid."""


class CheckpointError(AdpRosError):
    """A checkpoint directory is missing files, holds the wrong shapes or cannot be read."""


class InputError(AdpRosError, ValueError):
    """An observation, message or file given at run time is unusable."""


class MissingDependencyError(AdpRosError, ImportError):
    """An optional dependency is not installed."""


def closest(name: str, valid: Iterable[str]) -> str:
    """`" (did you mean 'x'?)"` or a list of valid names, for error messages."""
    valid = sorted(valid)
    match = difflib.get_close_matches(name, valid, n=1)
    if match:
        return f" (did you mean {match[0]!r}?)"
    return f" (valid: {', '.join(valid)})"
