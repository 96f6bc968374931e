# Two commands on a fresh machine (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE ?= ../shared/data/sports2d_demo.mp4
DEMO_OUT ?= out/demo

.PHONY: demo test setup lint docs bench clean

$(BIN)/handoff-cv: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

setup: $(BIN)/handoff-cv

demo: setup
	$(BIN)/handoff-cv track $(SAMPLE) -o $(DEMO_OUT)

test: setup
	$(BIN)/ruff check handoff_cv tests benchmarks
	$(BIN)/ruff format --check handoff_cv tests benchmarks
	$(BIN)/python -m pytest

docs: setup
	$(BIN)/handoff-cv config docs > docs/settings.md

bench: setup
	$(BIN)/python benchmarks/bench_track.py $(SAMPLE)

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
