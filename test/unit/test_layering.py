"""The layers import one way: core → model → ros → tools (docs/architecture.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "adp_ros"
FORBIDDEN = {
    "core": ("torch", "rclpy", "adp_ros.model", "adp_ros.ros", "adp_ros.tools", "transformers", "cv2"),
    "model": ("rclpy", "adp_ros.ros", "adp_ros.tools", "sensor_msgs", "std_msgs"),
    "ros": ("adp_ros.tools",),
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_upward_imports(layer: str):
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not bad, "\n".join(bad)


# The tiny-checkpoint generator is for tests, the demo and the benchmark (tools); nothing the node runs may need it.
TEST_CHECKPOINT_GENERATOR = "adp_ros.model.tiny"


def _all_imports(path: Path) -> set[str]:
    """Absolute and relative imports, at module level or inside functions, as dotted module names."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
    return names


def test_runtime_modules_do_not_import_the_test_checkpoint_generator():
    generator_path = PACKAGE.parent / (TEST_CHECKPOINT_GENERATOR.replace(".", "/") + ".py")
    bad = []
    for layer in ("core", "model", "ros"):
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            names = _all_imports(path)
            if path != generator_path and any(n.split(".")[:3] == TEST_CHECKPOINT_GENERATOR.split(".") for n in names):
                bad.append(str(path.relative_to(PACKAGE.parent)))
    assert not bad, f"runtime modules import {TEST_CHECKPOINT_GENERATOR}: {', '.join(bad)}"


def test_importing_core_loads_neither_torch_nor_rclpy():
    code = (
        "import sys, importlib, pkgutil, adp_ros.core as c\n"
        "[importlib.import_module(f'adp_ros.core.{m.name}') for m in pkgutil.iter_modules(c.__path__)]\n"
        "print(sorted(m for m in ('torch', 'rclpy', 'cv2') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent
    ).stdout
    assert out.strip() == "[]"
