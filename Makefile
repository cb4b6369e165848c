# adp_ros: every set-up step lives here, so a clean clone needs only `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PKG_SOURCES := $(shell find adp_ros launch config models -type f 2>/dev/null | grep -v __pycache__) \
               setup.py setup.cfg package.xml resource/adp_ros
ISOLATED := scripts/isolated
export AMENT_PREFIX_PATH := $(abspath $(VENV))
export PYTHONDONTWRITEBYTECODE := 1

DEMO_OUT ?= out/demo
.PHONY: setup sim-setup demo demo-streams test lint format params clean help
help:
	@echo "make demo   - set up .venv + the LIBERO simulator, then the node drives the simulated arm for one episode per mode (dense, then gated ADP)"
	@echo "make demo-streams - the node on the tiny model with generated camera/joint streams (no simulator)"
	@echo "make test   - set up .venv, lint, then run all tests (ROS tests in a loopback-only network namespace)"
	@echo "make params - regenerate config/*.yaml and docs/parameters.md from adp_ros/core/params/"

# The pinned environment (requirements.txt). Re-created when the pins change.
$(VENV)/.requirements.stamp: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# Non-editable install: an editable one misses share/adp_ros (PEP 660 ignores data_files).
$(VENV)/.package.stamp: $(VENV)/.requirements.stamp $(PKG_SOURCES)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --force-reinstall .
	rm -rf build *.egg-info
	touch $@

setup: $(VENV)/.package.stamp

# The LIBERO simulator (requirements-sim.txt explains the two steps: no opencv-python beside the headless one).
$(VENV)/.sim.stamp: $(VENV)/.requirements.stamp requirements-sim.txt requirements-sim-nodeps.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-sim.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-sim-nodeps.txt
	touch $@

sim-setup: $(VENV)/.sim.stamp

# One closed-loop episode: the committed tiny policy drives the simulated LIBERO arm through ROS 2.
demo: setup sim-setup
	$(ISOLATED) $(VENV)/bin/adp-ros sim eval --episodes 1 --modes dense,adp --video 1 --out $(DEMO_OUT) --overwrite $(DEMO_ARGS)

demo-streams: setup
	$(ISOLATED) $(VENV)/bin/adp-ros demo $(DEMO_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint sim-setup
	$(ISOLATED) $(PY) -m pytest $(PYTEST_ARGS)

params: setup
	$(PY) -m adp_ros.tools.gen_params --write

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
