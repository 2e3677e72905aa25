# One-command setup: `make run` and `make test` create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
CPP    := $(shell find cpp -type f) CMakeLists.txt pyproject.toml
export MAKERKIT_DATA ?= $(abspath ../shared/data)

.PHONY: run test browser lint typecheck imports unit cpp-tests bench bench-venue bench-peers fuzz sanitize format clean help

help:
	@echo "make run    - create .venv, install makerkit, run the main job (makerkit demo)"
	@echo "make test   - install dev extras, then lint, type check, import contracts and the suite"
	@echo "make bench  - engine, simulator, backtest and strategy benchmarks (tables + benchmarks/results/*.json)"
	@echo "make bench-venue - venue load, live market driver and recovery time"
	@echo "make bench-peers - the same with hftbacktest and nautilus_trader (own venv)"
	@echo "make fuzz   - 10M-operation differential run, native engine vs reference"
	@echo "make sanitize - C++ tests and the differential test under ASan + UBSan"
	@echo "make docs   - the manual into site/ (strict, offline; runs the tutorials); make docs-serve"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# the C++ engine is built by pip (scikit-build-core); C++ edits trigger a rebuild
# the demo needs the venue (server), its report (matplotlib) and the rl strategy (PPO)
$(VENV)/.installed-run: $(CPP) | $(BIN)/python
	$(PIP) install --quiet -e '.[server,report,rl]'
	@touch $@

$(VENV)/.installed-dev: $(CPP) | $(BIN)/python
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

# the browser tests drive the system Chromium (Debian's package): installed here when missing
browser:
	@command -v chromium > /dev/null || { \
		echo "installing chromium (apt) for the dashboard's browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium > /dev/null; }

unit: $(VENV)/.installed-dev browser .venv-bench/.installed-hbt
	$(BIN)/python -c "import makerkit.book as b; print('book backends:', b.available_backends())"
	$(BIN)/pytest -n auto
	# the default-backend paths (CLI, golden run) once more on the reference engine
	MAKERKIT_BOOK_BACKEND=python $(BIN)/pytest -q -n auto tests/unit/cli tests/golden

cpp-tests:
	cmake -S . -B build/cpp-tests -DMAKERKIT_BUILD_TESTS=ON > /dev/null
	cmake --build build/cpp-tests -j 2 > /dev/null
	ctest --test-dir build/cpp-tests --output-on-failure

test: lint typecheck imports cpp-tests unit

# the manual: mkdocs-material, strict (a broken link or reference fails), offline; the
# tutorials under docs/tutorials run as notebooks while it builds
.PHONY: docs docs-serve
$(VENV)/.installed-docs: $(CPP) | $(BIN)/python
	$(PIP) install --quiet -e '.[server,data,report,rl,tune,docs]'
	@touch $@

docs: $(VENV)/.installed-docs
	rm -rf build/mkdocs-jupyter
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo '*' > site/.gitignore

docs-serve: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

fuzz: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/fuzz_engines.py --ops 10000000

sanitize: $(VENV)/.installed-dev
	scripts/sanitize.sh

bench: $(VENV)/.installed-run
	$(BIN)/python benchmarks/bench_book.py
	$(BIN)/python benchmarks/bench_sim.py
	-$(BIN)/python benchmarks/bench_backtest.py  # needs the Binance capture (MAKERKIT_DATA)
	$(BIN)/python benchmarks/bench_strategies.py

# the venue under load, the live market driver and recovery time (server extra)
bench-venue: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench_server.py
	$(BIN)/python benchmarks/bench_market.py
	$(BIN)/python benchmarks/bench_recovery.py
	$(BIN)/python benchmarks/bench_abuse.py

# the peers pin numpy/pandas versions of their own: they live in their own venv, driven by
# benchmarks/peers/ from `make bench`; make test builds the hftbacktest part, so the replay
# backtester is checked against it in every run
.venv-bench/.installed-hbt:
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet "hftbacktest==2.4.4"
	@touch $@

.venv-bench/.installed-peers: .venv-bench/.installed-hbt
	.venv-bench/bin/python -m pip install --quiet "nautilus_trader==1.221.0"
	@touch $@

bench-peers: .venv-bench/.installed-peers bench
	$(BIN)/makerkit bench parity --output benchmarks/results/bench_parity.json  # same rules: same fills and PnL
	$(BIN)/makerkit bench fidelity --output benchmarks/results/bench_fidelity.json  # books, queue models vs L3

format: $(VENV)/.installed-dev
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
