"""`adp-ros demo`: the node on the tiny model, driven by a replayed synthetic bag, prints a summary."""

from __future__ import annotations

import json

import pytest

from adp_ros.tools.cli import main

pytestmark = pytest.mark.ros


def test_demo_libero_commands_into_the_local_sink(ros_context, capsys, tmp_path):
    # ros_context only enforces the loopback-only namespace; the demo creates its own context.
    summary_file = tmp_path / "summary.json"
    rc = main(["demo", "--duration", "3", "--json", str(summary_file)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "chunks published" in out and "end-to-end" in out and "gate sequence" in out
    assert "ROS_AUTOMATIC_DISCOVERY_RANGE" in err
    summary = json.loads(summary_file.read_text())
    assert summary["chunks"] >= 3
    assert summary["commands"] >= 1 and summary["stop_messages"] == 1  # enabled, then the clean stop
    assert summary["gate_sequence"].startswith("DDD")  # the gate's cold start
    assert set(summary["stages_ms"]) >= {"preprocess", "vision", "llm", "head", "end-to-end"}
    assert summary["skipped"]["stale"] == 0 and summary["level"] == "OK"


def test_demo_aloha_dry_run(ros_context, capsys, tmp_path):
    summary_file = tmp_path / "summary.json"
    rc = main(["demo", "--preset", "aloha", "--duration", "2", "--dry-run", "--json", str(summary_file)])
    out, _ = capsys.readouterr()
    assert rc == 0
    summary = json.loads(summary_file.read_text())
    assert summary["chunks"] >= 1 and summary["commands"] == 0
    assert summary["tokens_dense"] == 768
    assert "dry run" in out


def test_demo_rejects_a_bad_duration(capsys):
    assert main(["demo", "--duration", "0"]) == 2
    assert "--duration" in capsys.readouterr().err
