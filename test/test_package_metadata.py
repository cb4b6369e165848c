"""Package metadata, checked with the standard library (plus the YAML reader and the ROS-free schema):
package.xml declares what adp_ros imports, setup.py installs the executables and share files, the launch
file names the right executable and existing configs, config/*.yaml hold only schema parameters."""

from __future__ import annotations

import ast
import contextlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from adp_ros.core import params as P

REPO = Path(__file__).resolve().parent.parent
ROS_PACKAGES = re.compile(
    r"^(rclpy|rcl_interfaces|ament_index_python|message_filters|launch|launch_ros|\w+_(msgs|srvs))$"
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _exec_depends() -> set[str]:
    root = ET.parse(REPO / "package.xml").getroot()
    return {e.text.strip() for e in root.iter() if e.tag in ("exec_depend", "depend") and e.text}


def test_package_xml_declares_every_ros_package_imported():
    used = set()
    for path in [*REPO.joinpath("adp_ros").rglob("*.py"), *REPO.joinpath("launch").glob("*.py")]:
        used |= {name for name in _imports(path) if ROS_PACKAGES.match(name)}
    missing = sorted(used - _exec_depends())
    assert missing == [], f"add <exec_depend> for {missing} to package.xml"
    assert ET.parse(REPO / "package.xml").getroot().find("export/build_type").text == "ament_python"


def _setup_call() -> ast.Call:
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    return next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")


def test_setup_installs_the_executables_and_share_files():
    call = _setup_call()
    source = ast.unparse(call)
    scripts = re.findall(r"'([\w-]+) = ([\w.]+):(\w+)'", source)
    assert ("adp_node", "adp_ros.ros.main", "main") in scripts
    assert ("adp-ros", "adp_ros.tools.cli", "main") in scripts
    for _, module, function in scripts:
        tree = ast.parse((REPO / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
        assert any(isinstance(n, ast.FunctionDef) and n.name == function for n in tree.body), module
    for pattern in ("launch/*.py", "config/*.yaml", "package.xml", "resource/"):
        assert pattern in source, pattern
    assert (REPO / "resource" / "adp_ros").is_file()
    assert "install_scripts=$base/lib/adp_ros" in (REPO / "setup.cfg").read_text()


def _launch_constants(path: Path) -> dict[str, object]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(ValueError):
                out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def test_launch_file_names_the_executable_and_existing_configs():
    files = list((REPO / "launch").glob("*.launch.py"))
    assert files == [REPO / "launch" / "adp.launch.py"]
    constants = _launch_constants(files[0])
    assert constants["EXECUTABLE"] == "adp_node"
    assert constants["PACKAGE"] == ET.parse(REPO / "package.xml").getroot().findtext("name")
    assert constants["NODE_NAME"] == P.NODE_NAME
    for preset in constants["PRESETS"]:
        assert (REPO / "config" / f"{preset}.yaml").is_file(), preset
    arguments = {name for name, _, _ in constants["ARGUMENTS"]}
    assert {"model_path", "config_file", "namespace"} <= arguments
    text = files[0].read_text(encoding="utf-8")
    assert "def generate_launch_description" in text and "LifecycleNode" in text


def test_config_files_hold_only_schema_parameters():
    files = sorted((REPO / "config").glob("*.yaml"))
    assert {f.name for f in files} >= {"adp_ros.yaml", "libero.yaml", "aloha.yaml"}
    for path in files:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
        (node_key,) = tree
        values = P.flatten(tree[node_key]["ros__parameters"])
        unknown = sorted(set(values) - set(P.SPEC_BY_NAME))
        assert unknown == [], f"{path.name}: {unknown}"
        P.check_values(values)


def test_safe_defaults():
    assert P.SPEC_BY_NAME["safety.enable_on_activate"].default is False  # commands start disabled
    assert P.SPEC_BY_NAME["node.autostart"].default is False  # a lifecycle manager decides
    assert P.SPEC_BY_NAME["model.checkpoint"].read_only
