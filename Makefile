# One command for each habit. Each target installs what it needs first, into .venv and node_modules.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser demo up test test-fast lint format bench bench-streams bench-waiting soak clean

$(STAMP): pyproject.toml
	@echo "installing the engine and its dependencies into $(VENV) (a minute or two the first time)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

node_modules/.installed-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules/.installed-stamp

install: $(STAMP) node_modules/.installed-stamp

# The console's browser test drives Debian's Chromium (Playwright cannot download its own build here).
# Installed when missing and we are root (as in CI); otherwise say how, and the browser test is skipped.
CHROMIUM := /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
		else echo "$(CHROMIUM) is missing: sudo apt-get install -y chromium (the browser test is skipped without it)"; fi; \
	fi

demo: $(STAMP)
	$(BIN)/oee demo

up: $(STAMP)
	$(BIN)/oee up

test: install browser
	$(BIN)/python -m pytest

# The tests that start no server and no process (marked at collection by tests/conftest.py): seconds.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m fast -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m tools.bench
	$(BIN)/python -m tools.bench_streams
	$(BIN)/python -m tools.bench_waiting --routing both

soak: $(STAMP)
	$(BIN)/python -m tools.soak

bench-streams: $(STAMP)
	$(BIN)/python -m tools.bench_streams

bench-waiting: $(STAMP)
	$(BIN)/python -m tools.bench_waiting --routing both

clean:
	rm -rf $(VENV) node_modules .oee .pytest_cache .mypy_cache .ruff_cache
