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
	$(BIN)/pip install --quiet -e ".[dev,synth]"
	touch $@

setup: $(BIN)/handoff-cv

demo: setup
	$(BIN)/handoff-cv analyze $(SAMPLE) -o $(DEMO_OUT)/video
	$(BIN)/handoff-cv synth clip -o $(DEMO_OUT)/simulated
	$(BIN)/handoff-cv analyze --from-landmarks $(DEMO_OUT)/simulated -o $(DEMO_OUT)/simulated-report
	$(BIN)/handoff-cv evaluate $(DEMO_OUT)/simulated-report $(DEMO_OUT)/simulated

test: setup
	$(BIN)/ruff check handoff_cv tests benchmarks
	$(BIN)/ruff format --check handoff_cv tests benchmarks
	$(BIN)/python -m pytest

docs: setup
	$(BIN)/handoff-cv config docs > docs/settings.md

bench: setup
	$(BIN)/python benchmarks/bench_track.py $(SAMPLE)
	$(BIN)/python benchmarks/bench_analysis.py --cases 240

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
