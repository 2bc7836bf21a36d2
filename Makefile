# One command to set up and run the demo, one to run the tests (see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: demo test bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	bash scripts/system-deps.sh
	$(BIN)/pressroom validate

test: $(BIN)/.installed
	bash scripts/system-deps.sh --test
	$(BIN)/python -m pytest -q

clean:
	rm -rf outbox var
