# One-command setup: `make run` and `make test` create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
export MAKERKIT_DATA ?= $(abspath ../shared/data)

.PHONY: run test lint typecheck imports unit bench format clean help

help:
	@echo "make run    - create .venv, install makerkit, run the main job (makerkit demo)"
	@echo "make test   - install dev extras, then lint, type check, import contracts and the suite"
	@echo "make bench  - order-book benchmark (table + benchmarks/results/bench_book.json)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml CMakeLists.txt | $(BIN)/python
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml CMakeLists.txt | $(BIN)/python
	$(PIP) install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/makerkit demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

imports: $(VENV)/.installed-dev
	$(BIN)/lint-imports

unit: $(VENV)/.installed-dev
	$(BIN)/pytest -n auto

test: lint typecheck imports unit

bench: $(VENV)/.installed-run
	$(BIN)/python benchmarks/bench_book.py

format: $(VENV)/.installed-dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
