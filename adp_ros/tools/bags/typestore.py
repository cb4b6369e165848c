"""Message definitions and RIHS01 type hashes for the bags we write: rosbags' Jazzy type store, extended with
the `.msg` files of installed packages for types it does not know."""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def find_msg_file(msgtype: str) -> Path | None:
    """`share/<pkg>/msg/<Name>.msg` from the ament index (AMENT_PREFIX_PATH) or this interpreter's prefix."""
    package, kind, name = msgtype.split("/")
    prefixes = [p for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    for prefix in prefixes:
        candidate = Path(prefix) / "share" / package / kind / f"{name}.msg"
        if candidate.is_file():
            return candidate
    return None


class MessageDefinitions:
    """Message definitions and type hashes for the bag: rosbags' Jazzy store, then installed `.msg` files."""

    def __init__(self) -> None:
        from rosbags.typesys import Stores, get_typestore

        self.store = get_typestore(Stores.ROS2_JAZZY)

    def get(self, msgtype: str) -> tuple[str, str]:
        from rosbags.typesys import TypesysError, get_types_from_msg

        for _ in range(64):  # each pass registers one missing (possibly nested) type
            try:
                msgdef, _deps = self.store.generate_msgdef(msgtype, ros_version=2)
                return msgdef, self.store.hash_rihs01(msgtype)
            except TypesysError as exc:
                found = re.search(r"Type '([^']+)' is unknown", str(exc))
                missing = found.group(1) if found else msgtype
                path = find_msg_file(missing) if missing.count("/") == 2 else None
                if path is None:
                    break
                self.store.register(get_types_from_msg(path.read_text(), missing))
        log.warning("no message definition found for %s; writing the bag without it", msgtype)
        return "", "RIHS01_" + "0" * 64
