"""Where a rosbag2 bag's files are: the storage plugins, a bag folder or single `.db3`/`.mcap` file, and whether a
folder holds nothing but a bag (so `--overwrite` may delete it)."""

from __future__ import annotations

import logging
from pathlib import Path

from adp_ros.core.errors import InputError

log = logging.getLogger(__name__)

STORAGES: tuple[str, ...] = ("sqlite3", "mcap")
SUFFIX_STORAGE = {".db3": "sqlite3", ".mcap": "mcap"}


def locate(path: Path) -> Path:
    """The path to hand to rosbags: a bag folder with metadata.yaml, or one .db3/.mcap file."""
    if not path.exists():
        raise InputError(f"bag {path} does not exist")
    hint = "expected a rosbag2 folder (metadata.yaml + .db3/.mcap files) or one .db3/.mcap file"
    if path.is_file():
        if path.name == "metadata.yaml":
            return locate(path.parent)
        if path.suffix in SUFFIX_STORAGE:
            return path
        raise InputError(f"{path} is not a rosbag2 bag: {hint}")
    if (path / "metadata.yaml").is_file():
        return path
    files = sorted(p for p in path.iterdir() if p.suffix in SUFFIX_STORAGE)
    if len(files) == 1:
        log.warning("%s has no metadata.yaml (recorder stopped early?); reading %s directly", path, files[0].name)
        return files[0]
    if files:
        names = ", ".join(p.name for p in files)
        raise InputError(f"{path} has no metadata.yaml and several storage files ({names}); pass one of them")
    raise InputError(f"{path} is not a rosbag2 bag: {hint}")


def storage_files(located: Path) -> list[Path]:
    if located.is_file():
        return [located]
    return sorted(p for p in located.iterdir() if p.suffix in SUFFIX_STORAGE or p.name.endswith(".zstd"))


def storage_of(files: list[Path]) -> str:
    """The storage plugin of a bag's files (by suffix), "unknown" when none matches."""
    for p in files:
        for suffix, name in SUFFIX_STORAGE.items():
            if suffix in p.suffixes:
                return name
    return "unknown"


def is_bag_dir(path: Path) -> bool:
    return path.is_dir() and all(
        p.name == "metadata.yaml" or p.suffix in SUFFIX_STORAGE or p.name.endswith((".db3-shm", ".db3-wal"))
        for p in path.iterdir()
    )
