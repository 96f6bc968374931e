# Two commands on a fresh machine (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE ?= sample_videos/blind_right_to_left
DEMO_OUT ?= out/demo

.PHONY: demo test browser setup lint docs samples bench clean

$(BIN)/handoff-cv: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,synth]"
	touch $@

setup: $(BIN)/handoff-cv

# Analyse a bundled sample video with its camera's settings file, then score the report
# against the clip's known answers.
demo: setup
	$(BIN)/handoff-cv analyze $(SAMPLE).mp4 -c $(SAMPLE).toml -o $(DEMO_OUT)
	$(BIN)/handoff-cv evaluate $(DEMO_OUT) $(SAMPLE).labels.json

# The browser test of the reports (tests/test_browser.py) drives Debian's Chromium.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -qq -y
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(APT) install chromium chromium-driver >/dev/null || { \
	  $(APT) update >/dev/null && $(APT) install chromium chromium-driver >/dev/null; }; }

test: setup browser
	$(BIN)/ruff check handoff_cv tests benchmarks
	$(BIN)/ruff format --check handoff_cv tests benchmarks
	$(BIN)/python -m pytest

docs: setup
	$(BIN)/handoff-cv config docs > docs/settings.md

samples: setup
	$(BIN)/handoff-cv synth samples -o sample_videos

bench: setup
	$(BIN)/python benchmarks/bench_track.py ../shared/data/sports2d_demo.mp4
	$(BIN)/python benchmarks/bench_analysis.py --cases 240

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
