# adp_ros: every set-up step lives here, so a clean clone needs only `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PKG_SOURCES := $(shell find adp_ros launch config -type f \( -name '*.py' -o -name '*.yaml' \) 2>/dev/null) \
               setup.py setup.cfg package.xml resource/adp_ros
ISOLATED := scripts/isolated
export AMENT_PREFIX_PATH := $(abspath $(VENV))
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup demo test lint format params clean help
help:
	@echo "make demo   - set up .venv, then run the node on the tiny model with generated camera/joint streams"
	@echo "make test   - set up .venv, lint, then run all tests (ROS tests in a loopback-only network namespace)"
	@echo "make params - regenerate config/*.yaml and the README parameter table from adp_ros/core/params.py"

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

demo: setup
	$(ISOLATED) $(VENV)/bin/adp-ros demo $(DEMO_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	$(ISOLATED) $(PY) -m pytest $(PYTEST_ARGS)

params: setup
	$(PY) -m adp_ros.tools.gen_params --write

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
