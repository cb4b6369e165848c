"""`sim eval` finds the installed policy and parameter file without AMENT_PREFIX_PATH (pip's data files)."""

from __future__ import annotations

import sys

from adp_ros.tools.sim.evaluate import package_file


def test_installed_data_files_are_found_without_the_ament_index(tmp_path, monkeypatch):
    # A plain `.venv/bin/adp-ros sim eval` (no AMENT_PREFIX_PATH) looked in site-packages/models and failed.
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    installed = tmp_path / "share" / "adp_ros" / "models" / "only_installed"
    installed.mkdir(parents=True)
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert package_file("models/only_installed") == installed
    # What is in neither place resolves into the source tree (the error then names that path).
    assert package_file("models/nowhere").parts[-2:] == ("models", "nowhere")
