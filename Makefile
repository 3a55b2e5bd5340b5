# One command for each habit. Each target installs what it needs first, into .venv and node_modules.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo up test lint format bench bench-streams soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

node_modules/.installed-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules/.installed-stamp

install: $(STAMP) node_modules/.installed-stamp

demo: $(STAMP)
	$(BIN)/oee demo

up: $(STAMP)
	$(BIN)/oee up

test: install
	$(BIN)/python -m pytest

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

soak: $(STAMP)
	$(BIN)/python -m tools.soak

bench-streams: $(STAMP)
	$(BIN)/python -m tools.bench_streams

clean:
	rm -rf $(VENV) node_modules .oee .pytest_cache .mypy_cache .ruff_cache
