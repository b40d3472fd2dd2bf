# Two commands a new user needs: `make demo` and `make test`. Both create .venv.
#
# .venv is installed from uv.lock (exact versions, hashes), so a fresh clone gets what CI
# last ran green; pyproject.toml keeps ranges. `make test-latest` tries today's newest
# releases in .venv-latest without touching the lock; `make lock` moves the lock to them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
UV_VERSION := 0.13.9
UV := .uv/bin/uv
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
SUITE = -m pytest -q -p no:cacheprovider -n $(JOBS)
JOBS ?= auto

.PHONY: demo serve test test-fast test-latest lock bench soak lint clean

$(UV):  ## uv itself, pinned, in a venv of its own (uv sync would remove it from .venv)
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet uv==$(UV_VERSION)

$(STAMP): pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --extra dev --quiet
	touch $(STAMP) $(DEMO_STAMP)

# the demo and the server need the package with pandas and the server extra, not the test
# tools: --inexact keeps whatever `make test` installed in the same .venv
$(DEMO_STAMP): pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --extra pandas --extra server --inexact --quiet
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)  ## a pipeline run (raw data -> features -> model) on the embedded catalog
	$(PY) examples/demo.py

# the catalog `make demo` filled when it exists, else the default one (./.archivist)
serve: $(DEMO_STAMP)  ## the web UI and REST API on http://127.0.0.1:8765/ (single user, loopback only)
	$(VENV)/bin/archivist $(if $(wildcard .archivist-demo),--home .archivist-demo,) server --insecure-single-user

test: $(STAMP)  ## the whole suite, in parallel; "no tests collected" (exit 5) is a failure
	$(PY) $(SUITE); status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: no tests were collected"; exit 1; fi; exit $$status

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -x

test-latest: | $(UV)  ## the suite on the newest releases the ranges allow (not the lock)
	rm -rf .venv-latest
	$(UV) venv --quiet .venv-latest
	VIRTUAL_ENV=.venv-latest $(UV) pip install --quiet --upgrade -e '.[dev]'
	VIRTUAL_ENV=.venv-latest $(UV) pip freeze > .venv-latest/resolved.txt
	.venv-latest/bin/python $(SUITE); status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: no tests were collected"; exit 1; fi; \
	echo "(resolved versions: .venv-latest/resolved.txt)"; exit $$status

lock: | $(UV)  ## move uv.lock to the newest releases; then run make test and commit both
	$(UV) lock --upgrade

bench: $(STAMP)  ## benchmarks against MLflow and DVC (installs them under benchmarks/.peers)
	$(PY) benchmarks/run.py
	$(PY) benchmarks/server.py  # the catalog server on PostgreSQL vs an MLflow server; needs wrk
	$(PY) benchmarks/ui.py  # the web UI: pages at 100,000 versions, a 500-ancestor lineage in Chromium

SOAK_MINUTES ?= 5
SOAK_CLIENTS ?= 16
soak: $(STAMP)  ## clients against a server on PostgreSQL + S3 that gets SIGKILLed; lost/duplicated versions
	$(PY) benchmarks/soak.py --minutes $(SOAK_MINUTES) --clients $(SOAK_CLIENTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .venv-latest .uv .archivist .pytest_cache .mypy_cache .ruff_cache
