# Two entry points for a fresh machine with only python3 and git:
#   make run   - simulate the default (baseline) scenario
#   make test  - run the test suite
# Each creates or refreshes .venv first (uv, installed into the venv, does the resolving).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-cluster

.PHONY: run test lint bench venv clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv setuptools wheel

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

# the test suite also checks the submitit and Ray launchers: dev + cluster extras
$(TEST_STAMP): $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev,cluster]'
	touch $(TEST_STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/exsim $(ARGS)

test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# benchmarks: the world (exsim vs a naive one-process-per-order SimPy model, 100k and 1M
# orders), the policy stage vs the world (both engines), a sweep in world-units, start-up
#   make bench BENCH_ARGS="--quick"   (passed to the world, policy and sweep benchmarks)
bench: $(STAMP)
	$(BIN)/python bench/world.py $(BENCH_ARGS)
	$(BIN)/python bench/policy.py $(BENCH_ARGS)
	$(BIN)/python bench/sweep.py $(BENCH_ARGS)
	$(BIN)/python bench/startup.py

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache .ruff_cache
