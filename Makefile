# poolform: `make demo` and `make test` work on a fresh machine (they create .venv).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PREFECT_VENV ?= .venv-prefect

.PHONY: install demo test compat bench bench-table schema clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	@$(PY) scripts/demo.py

test: install
	@$(PY) -m pytest -q -n 2 -m "not compat" tests

$(PREFECT_VENV)/.installed-stamp:
	@test -x $(PREFECT_VENV)/bin/python || $(PYTHON) -m venv $(PREFECT_VENV)
	@$(PREFECT_VENV)/bin/python -m pip install -q --disable-pip-version-check 'prefect==3.9.1'
	@touch $@

# pytest and pytest-asyncio in the Prefect venv run Prefect's own API tests against our server
# (tests/compat/test_upstream_api.py, with POOLFORM_PREFECT_SOURCE set).
$(PREFECT_VENV)/.test-tools-stamp: $(PREFECT_VENV)/.installed-stamp
	@$(PREFECT_VENV)/bin/python -m pip install -q --disable-pip-version-check 'pytest==9.2.0' 'pytest-asyncio==1.4.1.post1'
	@touch $@

compat: install $(PREFECT_VENV)/.installed-stamp $(PREFECT_VENV)/.test-tools-stamp
	@$(PY) scripts/compat.py --venv $(abspath $(PREFECT_VENV))

# Issue 10's table in one run (ours beside a Prefect 3.9.1 the bench starts, SQLite and PostgreSQL): ~15-20 min.
bench-table: install $(PREFECT_VENV)/.installed-stamp
	@$(PY) bench/all.py --prefect-venv $(abspath $(PREFECT_VENV))

bench: install
	@$(PY) bench/server_poll.py
	@$(PY) bench/server_scale.py --prefect-venv $(abspath $(PREFECT_VENV))  # ours only when that venv is absent
	@$(PY) bench/server_validation.py
	@$(PY) bench/reconcile.py
	@$(PY) bench/terraform_plan.py
	@$(PY) bench/plan_checks.py
	@$(PY) bench/field_diff.py

schema: install
	@$(PY) scripts/generate.py

clean:
	rm -rf $(VENV) $(PREFECT_VENV) .pytest_cache .hypothesis
