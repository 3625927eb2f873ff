# imgflow: `make run` runs the workflow locally on the samples; `make test`
# runs every test and check. Both install what they need on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.13: use the same interpreter locally.
# (pyenv's shim may exist yet refuse to run, so each candidate is tried.)
PYTHON313 ?= $(shell for p in $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) python3.13; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { echo "$$p"; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
RUN_OUT ?= build/run

.PHONY: help venv run test unit tests typecheck lint clean

# Template and build checks (sam validate --lint, cfn-lint, checkov, ASL, sam build).
include tools/checks.mk
# Optional fragments: browser test deps (UNIT_DEPS += ...), soak, bench.
-include tools/browser.mk tools/soak.mk tools/bench.mk

help:
	@echo "make run    run the whole workflow locally on samples/ (no AWS, no Docker)"
	@echo "make test   every test and check (installs what it needs)"
	@echo "make unit   the unit tests alone (no moto)"

$(STAMP): pyproject.toml
	@test -n "$(PYTHON313)" || { echo "python3.13 not found (PATH or ~/.pyenv/versions/3.13*)"; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

venv: $(STAMP)

run: venv
	rm -rf $(RUN_OUT)
	$(BIN)/imgflow run samples --out $(RUN_OUT)

lint: venv
	$(BIN)/ruff check src toolkit functions tests tools benchmarks
	$(BIN)/ruff format --check src toolkit functions tests tools benchmarks

# tests/unit alone: the core without moto, in seconds to minutes.
unit: venv
	$(BIN)/pytest tests/unit

# Every suite (unit, integration, workflow, template, ops, browser).
tests: venv $(UNIT_DEPS)
	$(BIN)/pytest

# mypy over the core (the files and settings are in pyproject.toml).
typecheck: venv
	$(BIN)/mypy

test: lint typecheck tests checks

clean:
	rm -rf $(VENV) .aws-sam build .pytest_cache .ruff_cache .mypy_cache
