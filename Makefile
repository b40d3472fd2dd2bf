# Two commands a new user needs: `make demo` and `make test`. Both create .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo serve test test-fast bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## raw data -> features -> model on the embedded default catalog
	$(PY) examples/demo.py

serve: $(STAMP)  ## the embedded catalog over HTTP on 127.0.0.1:8765 (single user, loopback only)
	$(VENV)/bin/archivist server --insecure-single-user

test: $(STAMP)  ## the whole suite; "no tests collected" (exit 5) counts as a failure
	$(PY) -m pytest -q -p no:cacheprovider; status=$$?; \
	if [ $$status -eq 5 ]; then echo "error: no tests were collected"; exit 1; fi; exit $$status

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -x

bench: $(STAMP)  ## benchmarks against MLflow and DVC (installs them under benchmarks/.peers)
	$(PY) benchmarks/run.py
	$(PY) benchmarks/server.py  # the catalog server on PostgreSQL vs an MLflow server; needs wrk

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .archivist .pytest_cache .mypy_cache .ruff_cache
