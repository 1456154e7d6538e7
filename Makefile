# Jinqiao: `make demo` runs the engine against the simulated switch; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install system-deps bench clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || (bash scripts/system-deps.sh python3-venv && $(PYTHON) -m venv $(VENV))

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

install: system-deps $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(BIN)/jinqiao demo --serve

test: install
	bash scripts/run-tests.sh

bench: install
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
