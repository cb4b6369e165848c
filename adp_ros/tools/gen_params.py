"""Print or regenerate the parameter files from the one schema (the adp_ros/core/params package).

Without options, print config/adp_ros.yaml (every parameter with its default). --write regenerates
config/adp_ros.yaml, the platform presets config/libero.yaml and config/aloha.yaml, and docs/parameters.md
(the README's parameter table); --check exits 1 when any of them differs from the schema (a test runs it).

examples:
  adp-ros params                     # the defaults as a params file
  adp-ros params --markdown          # the parameter table
  adp-ros params --preset aloha      # the ALOHA-like preset file
  python -m adp_ros.tools.gen_params --write   # what `make params` runs
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from adp_ros.core.errors import ConfigError
from adp_ros.core.params import (
    GROUPS,
    NODE_NAME,
    PLATFORM_PRESETS,
    SPEC_BY_NAME,
    SPECS,
    ParamSpec,
    format_value,
)

DEFAULTS_FILE = "config/adp_ros.yaml"
DOCS_FILE = "docs/parameters.md"
# GENERATED_BY and the intro of `markdown()` are written into config/*.yaml and docs/parameters.md, so changing
# them means regenerating those files (`make params`) in the same change.
GENERATED_BY = "Generated from adp_ros/core/params/ by `make params`; do not edit by hand."


def preset_file(name: str) -> str:
    return f"config/{name}.yaml"


def _comment(spec: ParamSpec, indent: str) -> list[str]:
    facts = [spec.type]
    if spec.unit:
        facts.append(spec.unit)
    if spec.choices or spec.min is not None or spec.max is not None:
        facts.append(spec.allowed())
    facts.append("read-only" if spec.read_only else ("live" if spec.live else "at configure"))
    text = f"{spec.description} ({'; '.join(facts)})"
    return [f"{indent}# {line}" for line in textwrap.wrap(text, width=110 - len(indent), break_on_hyphens=False)]


def render_yaml(values: dict[str, object] | None = None, *, header: str = "", comments: bool = True) -> str:
    """A params file (`/**: ros__parameters:`) with `values` (all defaults when None), nested by group."""
    chosen = {s.name: s.default for s in SPECS} if values is None else dict(values)
    unknown = sorted(set(chosen) - set(SPEC_BY_NAME))
    if unknown:
        raise ConfigError(f"not schema parameters: {', '.join(unknown)}")
    lines = [f"# {line}" if line else "#" for line in header.strip("\n").split("\n")] if header else []
    lines += ["/**:", "  ros__parameters:"]
    for group in GROUPS:
        specs = [s for s in SPECS if s.group == group and s.name in chosen]
        if not specs:
            continue
        lines.append(f"    {group}:")
        for spec in specs:
            key = spec.name.split(".", 1)[1]
            if comments:
                lines += _comment(spec, "      ")
            lines.append(f"      {key}: {format_value(chosen[spec.name])}")
    return "\n".join(lines) + "\n"


def defaults_yaml() -> str:
    header = f"""adp_ros parameters, every one at its default.
{GENERATED_BY}
Use: adp_node --ros-args --params-file config/adp_ros.yaml -p model.checkpoint:=/path/to/checkpoint
Parameters are strictly typed: write doubles with a decimal point (5.0, not 5). `/**` matches the node
({NODE_NAME}) under any name or namespace."""
    return render_yaml(header=header)


def preset_yaml(name: str) -> str:
    values = PLATFORM_PRESETS[name]
    header = f"""{name.upper()}-like preset: only what differs from config/adp_ros.yaml.
{GENERATED_BY}
Use: adp_node --ros-args --params-file config/{name}.yaml -p model.checkpoint:=/path/to/checkpoint
     or: ros2 launch adp_ros adp.launch.py preset:={name} model_path:=/path/to/checkpoint
Joint names are those of `adp-ros bag synth --preset {name}`; rename them to your robot's."""
    return render_yaml(dict(values), header=header)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    lines = [
        "# Parameters",
        "",
        f"<!-- {GENERATED_BY} -->",
        "",
        "Every tunable of `adp_policy_node`, from the one schema in `adp_ros/core/params/`, which also gives",
        "the descriptors the node declares (`ros2 param describe`) and `config/adp_ros.yaml`.",
        "`adp-ros params --check` (run by the tests) fails when this file drifts from the schema.",
        "",
        "- **when**: `live` parameters may change while the node runs (`ros2 param set`, a SetParameters client)",
        "  and apply at the next chunk; `configure` ones are read at configure (deactivate, clean up, set,",
        "  configure again); `start` ones are read-only (params file or `-p` at start).",
        "- Invalid values are rejected with the reason and nothing changes. While the node is configured a change",
        "  is checked together with all other values, so it must leave the whole configuration valid.",
        "- Parameters are strictly typed: doubles need a decimal point (`-p pruning.keep_ratio:=0.5`,",
        "  `gate.min_step: 0.0`).",
        "- `gate.*` fields override `gate.preset` when set while the node runs (whatever the value) or, given at",
        "  start, when they differ from the `default` gate preset.",
        "",
    ]
    for group in GROUPS:
        lines += [f"## {group}", "", "| parameter | type | default | unit | allowed | when | description |"]
        lines.append("| --- | --- | --- | --- | --- | --- | --- |")
        for spec in (s for s in SPECS if s.group == group):
            allowed = spec.allowed() if (spec.choices or spec.min is not None or spec.max is not None) else ""
            when = "start" if spec.read_only else ("live" if spec.live else "configure")
            row = [
                f"`{spec.name}`",
                spec.type,
                f"`{format_value(spec.default)}`",
                spec.unit,
                allowed,
                when,
                spec.description,
            ]
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
        lines.append("")
    lines += ["## Platform presets", ""]
    for name, values in PLATFORM_PRESETS.items():
        lines.append(f"`config/{name}.yaml` sets:")
        lines.append("")
        lines += [f"- `{key}`: `{format_value(value)}`" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def generated_files() -> dict[str, str]:
    """Repository-relative path → content."""
    files = {DEFAULTS_FILE: defaults_yaml(), DOCS_FILE: markdown()}
    files.update({preset_file(name): preset_yaml(name) for name in PLATFORM_PRESETS})
    return files


def find_root(start: Path | None = None) -> Path:
    """The adp_ros checkout: the current directory or the one holding this module's package."""
    candidates = [start or Path.cwd(), Path(__file__).resolve().parents[2]]
    for root in candidates:
        xml = root / "package.xml"
        if xml.is_file() and "<name>adp_ros</name>" in xml.read_text(encoding="utf-8"):
            return root
    raise ConfigError(
        f"no adp_ros checkout (package.xml) in {candidates[0]} or {candidates[1]}; pass --root /path/to/adp_ros"
    )


def drift(root: Path) -> list[str]:
    """Generated files that differ from what is on disk."""
    return [
        path
        for path, content in generated_files().items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != content
    ]


def write(root: Path) -> list[str]:
    """Write every generated file that changed; returns their paths."""
    changed = drift(root)
    for path, content in generated_files().items():
        if path in changed:
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
    return changed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="regenerate the YAML files and docs/parameters.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when the files drift from the schema")
    mode.add_argument("--markdown", action="store_true", help="print the parameter table")
    mode.add_argument("--preset", choices=sorted(PLATFORM_PRESETS), help="print a platform preset file")
    parser.add_argument("--root", type=Path, help="adp_ros checkout (default: found from here)")


def run(args: argparse.Namespace) -> int:
    if args.write or args.check:
        root = find_root(args.root)
        if args.check:
            stale = drift(root)
            if stale:
                print(f"out of date with the schema (adp_ros/core/params/): {', '.join(stale)}; run `make params`")
                return 1
            print("parameter files match the schema")
            return 0
        changed = write(root)
        print(f"wrote {', '.join(changed)}" if changed else "parameter files already up to date")
        return 0
    if args.markdown:
        sys.stdout.write(markdown())
    elif args.preset:
        sys.stdout.write(preset_yaml(args.preset))
    else:
        sys.stdout.write(defaults_yaml())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m adp_ros.tools.gen_params",
        description=__doc__.split("\n\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except ConfigError as exc:
        print(f"gen_params: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
