# make demo   set up .venv, synthesise the eSpeak NG corpus, train, evaluate, transcribe (CPU, < 15 min)
# make test   set up .venv and run the test suite
# make bench  parameter count, FLOPs, training throughput and real-time factor of the default model
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test test-fast bench clean-demo

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

demo: setup
	bash recipes/espeak/run.sh

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

bench: setup
	$(PY) bench/bench.py

clean-demo:
	rm -rf recipes/espeak/data recipes/espeak/exp
