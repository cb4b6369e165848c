"""rclpy message classes by type name, and CDR bytes exactly as rclpy (de)serialises them.

rosbags' own deserialiser is not used on message data: it rejects valid rclpy bytes that end in an empty
`float64[]` (Fast-CDR writes 4 pad bytes there; environment.md gotcha 7), e.g. `JointState` with `effort=[]`.
Pad bytes are uninitialised: compare decoded fields (`message_to_dict`), never CDR bytes.
"""

from __future__ import annotations

import array
import importlib
import re
from typing import Any

from adp_ros.core.errors import InputError

# rclpy is imported inside functions: `adp-ros --help` imports this module through the CLI.

MSGTYPE_RE = re.compile(r"^([A-Za-z_]\w*)/(?:(msg|srv|action)/)?([A-Za-z_]\w*)$")


def message_class(msgtype: str) -> type:
    """The rclpy message class for a type name: `sensor_msgs/msg/Image` -> `sensor_msgs.msg.Image`.

    Raises `InputError` when the name is malformed or its Python package is not installed.
    """
    match = MSGTYPE_RE.match(msgtype)
    if not match:
        raise InputError(f"message type {msgtype!r} is not of the form 'package/msg/Name'")
    package, kind, name = match.group(1), match.group(2) or "msg", match.group(3)
    try:
        module = importlib.import_module(f"{package}.{kind}")
        cls = getattr(module, name)
    except (ImportError, AttributeError):
        raise InputError(
            f"message type {msgtype!r} is not installed (no class {name} in Python module {package}.{kind}); "
            f"install its message package, e.g. `pip install ros-{package.replace('_', '-')}` pinned to Jazzy"
        ) from None
    if not hasattr(cls, "get_fields_and_field_types"):
        raise InputError(f"{package}.{kind}.{name} is not a ROS message class")
    return cls


def message_type_name(msg: object) -> str:
    """`sensor_msgs/msg/Image` for an rclpy message instance or class."""
    cls = msg if isinstance(msg, type) else type(msg)
    module = cls.__module__.split(".")  # e.g. sensor_msgs.msg._image
    if len(module) < 2 or not hasattr(cls, "get_fields_and_field_types"):
        raise InputError(f"{cls!r} is not an rclpy message class")
    return f"{module[0]}/{module[1]}/{cls.__name__}"


def serialize(msg: object) -> bytes:
    """CDR bytes exactly as rclpy publishes them."""
    from rclpy.serialization import serialize_message

    return serialize_message(msg)


def deserialize(data: bytes | bytearray | memoryview, msgtype: str | type) -> Any:
    """An rclpy message from CDR bytes (from rclpy's or rosbags' serialiser: both decode here)."""
    from rclpy.serialization import deserialize_message

    cls = message_class(msgtype) if isinstance(msgtype, str) else msgtype
    return deserialize_message(bytes(data), cls)


def message_to_dict(msg: Any) -> Any:
    """Plain Python values of a message (nested dicts, lists, bytes for uint8 arrays), for comparisons."""
    if hasattr(msg, "get_fields_and_field_types"):
        return {name: message_to_dict(getattr(msg, name)) for name in msg.get_fields_and_field_types()}
    if isinstance(msg, array.array):
        return bytes(msg) if msg.typecode == "B" else msg.tolist()
    if isinstance(msg, (bytes, bytearray, memoryview)):
        return bytes(msg)
    if isinstance(msg, (list, tuple)):
        return [message_to_dict(x) for x in msg]
    if hasattr(msg, "tolist"):  # numpy arrays of fixed-size array fields
        return msg.tolist()
    return msg
