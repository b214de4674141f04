# make demo   set up .venv, synthesise the eSpeak NG corpus, train, evaluate, transcribe (CPU, < 15 min)
# make test   set up .venv and run the test suite
# make bench  parameter count, FLOPs, training throughput and real-time factor of the default model
# make kenlm  build KenLM's lmplz and build_binary into tools/kenlm/bin (for `dfcnn lm`)
# make browser  install headless Chromium (apt) for the HTML page tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup kenlm browser demo test test-fast bench clean-demo

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

kenlm: tools/kenlm/bin/lmplz

tools/kenlm/bin/lmplz: tools/install_kenlm.sh | $(VENV)/.installed
	PYTHON=$(PY) bash tools/install_kenlm.sh

browser:
	bash tools/install_chromium.sh

demo: setup kenlm
	bash recipes/espeak/run.sh

test: setup kenlm browser
	$(PY) -m pytest -q

test-fast: setup kenlm browser
	$(PY) -m pytest -q -m "not slow"

bench: setup
	$(PY) bench/bench.py

clean-demo:
	rm -rf recipes/espeak/data recipes/espeak/exp
