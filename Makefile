# One command to set up and run the demo, one to run the tests (see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: demo test test-quick bench clean serve

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# The main job on its embedded default: ephemeral Prefect, local outbox, SQLite ledger, no credentials.
# Three demo reviewers (content/reviewers.yaml) are enrolled into var/ and sign with the codes their phones
# would show, computed by scripts/demo-code.py from var/ (a real reviewer reads theirs off the phone).
DEMO_REVIEWERS := 演示编辑 演示主任 演示领导
demo: $(BIN)/.installed
	bash scripts/system-deps.sh
	$(BIN)/pressroom validate
	for n in $(DEMO_REVIEWERS); do $(BIN)/pressroom reviewer enroll $$n --again --no-qr || exit 1; done
	for n in $(DEMO_REVIEWERS); do \
	  $(BIN)/pressroom approve notice-2017-78 --reviewer $$n --code $$($(BIN)/python scripts/demo-code.py $$n) || exit 1; \
	done
	$(BIN)/pressroom publish notice-2017-78-interpretation
	@echo "open outbox/portal/index.html"

# Two workers (the machine's two cores), one test file at a time each, the longest files first (tests/conftest.py):
# much of the suite waits on servers in real time, and the other worker runs meanwhile.
TEST_WORKERS ?= 2
XDIST := -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
test: $(BIN)/.installed
	bash scripts/system-deps.sh --test
	$(BIN)/python -m pytest -q $(XDIST)

# Everything but `pressroom serve` end to end (tests/test_serve.py: cold Prefect servers, minutes).
test-quick: $(BIN)/.installed
	bash scripts/system-deps.sh --test
	$(BIN)/python -m pytest -q $(XDIST) -m "not slow"

# The newsroom on this machine (README "One machine"): Prefect server + UI, the deployments, the automations.
serve: $(BIN)/.installed
	$(BIN)/pressroom serve

clean:
	rm -rf outbox var

# The production layout on this machine (README "Production"): PostgreSQL from Debian's package, Prefect
# server on it, the process work pool and WORKERS workers. `make stack-stop` stops it; data stays in var/stack.
.PHONY: stack stack-stop
WORKERS ?= 2
stack: $(BIN)/.installed
	bash scripts/stack.sh start $(WORKERS)

stack-stop:
	bash scripts/stack.sh stop
