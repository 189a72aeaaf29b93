# Entry points that need only Python 3.11 on the machine: run, test, check, and manage beside a run.
# The work is in config/run.py, config/testrun.py and manage.py; this file only prepares .venv.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Extra pytest arguments for `make test` and `make check`, e.g. make test PYTEST_ARGS="-k ledger -x"
PYTEST_ARGS ?=
# A management command and its arguments for `make manage`, e.g. make manage ARGS="payout_drill --count 20"
ARGS ?= help

.PHONY: run test check manage venv

run: venv
	$(PY) -m config.run

# Beside a running `make run`, manage.py uses its servers and secrets (config/runenv.py).
manage: venv
	$(PY) manage.py $(ARGS)

test: venv
	$(PY) -m config.testrun $(PYTEST_ARGS)

# The inner loop: lint, types, import contracts, and the tests without a live server, worker or browser.
check: venv
	$(PY) -m config.testrun --fast $(PYTEST_ARGS)

venv: $(VENV)/.requirements.stamp

# Reinstall only when requirements.txt changed since the last successful install.
$(VENV)/.requirements.stamp: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@
