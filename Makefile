# Two entry points, each doing its own set-up on a machine that has only Python 3.11.
# The work is in config/run.py and config/testrun.py; this file only prepares .venv.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Extra pytest arguments for `make test`, e.g. make test PYTEST_ARGS="-k ledger -x"
PYTEST_ARGS ?=

.PHONY: run test venv

run: venv
	$(PY) -m config.run

test: venv
	$(PY) -m config.testrun $(PYTEST_ARGS)

venv: $(VENV)/.requirements.stamp

# Reinstall only when requirements.txt changed since the last successful install.
$(VENV)/.requirements.stamp: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@
