"""A real ROS 2 workspace: `colcon build` of adp_ros, `source install/setup.bash`, the installed adp_node runs.

The package sources are copied into `<tmp>/ws/src/adp_ros` (so nothing the build writes can land in this
repository) and built with the colcon from requirements.txt, run by the environment's python (`colcon build` uses
the interpreter it runs under for `setup.py` and the scripts' shebangs). The environment's prefix stays on
AMENT_PREFIX_PATH as the underlay, as /opt/ros/<distro> would be: it holds an adp_ros of its own (`make setup`), so
the checks also show that the sourced overlay wins.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "adp_ros"
VENV_BIN = Path(sys.executable).parent
# Not part of a clone's package build, or written by one.
SKIP_TOP = {".git", ".venv", "test", "build", "install", "log", "out"}
SKIP_ANYWHERE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*_cache")


def _ignore(directory: str, names: list[str]) -> set[str]:
    skipped = set(SKIP_ANYWHERE(directory, names))
    if Path(directory) == REPO:
        skipped |= SKIP_TOP & set(names)
    return skipped


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COLCON_PREFIX_PATH", "CMAKE_PREFIX_PATH")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["AMENT_PREFIX_PATH"] = sys.prefix  # the underlay
    env["COLCON_HOME"] = str(tmp / "colcon_home")  # no user defaults or mixins
    return env


def _sourced(ws: Path, script: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", f"source install/setup.bash && {script}"],
        cwd=ws,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        **kwargs,
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    colcon = VENV_BIN / "colcon"
    if not colcon.exists():
        pytest.fail(f"{colcon} missing: colcon-common-extensions is in requirements.txt, run `make setup`")
    tmp = tmp_path_factory.mktemp("colcon")
    ws = tmp / "ws"
    shutil.copytree(REPO, ws / "src" / PACKAGE, ignore=_ignore, symlinks=True)
    env = _env(tmp)
    cmd = [str(colcon), "--log-base", "log", "build", "--base-paths", "src", "--packages-select", PACKAGE]
    cmd += ["--build-base", "build", "--install-base", "install"]
    cmd += ["--event-handlers", "console_cohesion+", "desktop_notification-", "status-", "terminal_title-"]
    # PYTHONDONTWRITEBYTECODE (`make test`) makes setuptools warn; the venv underlay has no local_setup.* for colcon.
    build_env = {k: v for k, v in env.items() if k not in ("PYTHONDONTWRITEBYTECODE", "AMENT_PREFIX_PATH")}
    result = subprocess.run(cmd, cwd=ws, env=build_env, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, f"colcon build failed:\n{result.stdout}\n{result.stderr}"
    assert "1 package finished" in result.stdout, result.stdout
    # colcon-ros installs a missing index marker or package.xml itself, with a warning: the check that setup.py does.
    warnings = [line for line in (result.stdout + result.stderr).splitlines() if "warn" in line.lower()]
    output = f"{result.stdout}\n{result.stderr}"
    assert "stderr output" not in result.stdout and not warnings, f"warnings in the build:\n{output}"
    return ws, env


def test_colcon_build_installs_the_ament_python_layout(workspace):
    ws, _ = workspace
    prefix = ws / "install" / PACKAGE
    share = prefix / "share" / PACKAGE
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / PACKAGE).is_file()
    assert (share / "package.xml").read_bytes() == (REPO / "package.xml").read_bytes()
    assert (share / "launch" / "adp.launch.py").is_file()
    assert sorted(p.name for p in (share / "config").glob("*.yaml")) == sorted(
        p.name for p in (REPO / "config").glob("*.yaml")
    )
    for script in ("adp_node", "adp-ros"):  # lib/<package>/<executable>: where `ros2 run` looks
        path = prefix / "lib" / PACKAGE / script
        assert path.is_file() and os.access(path, os.X_OK), path
        assert path.read_text().startswith(f"#!{VENV_BIN}/python"), path.read_text().splitlines()[0]
    assert not (prefix / "bin").exists()
    src = ws / "src" / PACKAGE
    assert not (src / "build").exists() and not list(src.glob("*.egg-info")), "the build wrote into the sources"
    assert (ws / "install" / "setup.bash").is_file()


def test_sourced_workspace_finds_the_package_through_the_ament_index(workspace):
    ws, env = workspace
    code = (
        "import json, os, adp_ros; from ament_index_python.packages import get_package_prefix as p, "
        "get_package_share_directory as s; "
        "print(json.dumps({'prefix': p('adp_ros'), 'share': s('adp_ros'), 'module': adp_ros.__file__, "
        "'ament': os.environ['AMENT_PREFIX_PATH']}))"
    )
    result = _sourced(ws, f'python -c "{code}"', env, timeout=60)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    install = ws / "install" / PACKAGE
    assert found["prefix"] == str(install)
    assert found["share"] == str(install / "share" / PACKAGE)
    assert Path(found["module"]).is_relative_to(install), found["module"]  # the overlay's code, not the venv's
    assert found["ament"].split(os.pathsep) == [str(install), sys.prefix]
    share = Path(found["share"])
    assert (share / "launch" / "adp.launch.py").is_file()
    assert {"libero.yaml", "aloha.yaml", "adp_ros.yaml"} <= {p.name for p in (share / "config").glob("*.yaml")}


def test_installed_adp_node_starts_from_the_workspace_and_stops_on_ctrl_c(workspace, ros_context, tmp_path):
    # ros_context only enforces the loopback-only network namespace: the node is its own process.
    ws, env = workspace
    checkpoint = tmp_path / "tiny"
    tool = f"install/{PACKAGE}/lib/{PACKAGE}/adp-ros"  # the other installed executable
    made = _sourced(ws, f"{tool} make-tiny-model {checkpoint} --preset libero", env, timeout=120)
    assert made.returncode == 0, made.stdout + made.stderr
    # What `ros2 run adp_ros adp_node --ros-args ...` runs: <prefix from the ament index>/lib/adp_ros/adp_node.
    run = (
        "prefix=$(python -c \"from ament_index_python.packages import get_package_prefix as p; print(p('adp_ros'))\")"
        ' && exec "$prefix/lib/adp_ros/adp_node" --ros-args'
        ' --params-file "$prefix/share/adp_ros/config/libero.yaml"'
        f" -p model.checkpoint:={checkpoint} -p node.autostart:=true -p model.warmup:=false"
    )
    log = tmp_path / "adp_node.log"
    with log.open("w") as out:
        # exec: the bash process becomes the node, so the SIGINT below reaches it.
        node = subprocess.Popen(
            ["bash", "-c", f"source install/setup.bash && {run}"], cwd=ws, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "active;" not in log.read_text() and node.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "active;" in log.read_text(), f"adp_node never became active:\n{log.read_text()}"
        node.send_signal(signal.SIGINT)
        assert node.wait(timeout=30) == 0, log.read_text()
        assert "Traceback" not in log.read_text(), log.read_text()
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
