# make demo     set up .venv and KenLM, synthesise the eSpeak NG corpus, train, evaluate, transcribe (CPU)
# make test     set up .venv, KenLM and Chromium, lint, run the test suite
# make setup    .venv from requirements.lock (exact versions, hashes), then dfcnn itself with --no-deps;
#               and jemalloc for training (apt libjemalloc2, when run as root; optional)
# make lock     regenerate requirements.lock from pyproject.toml (after changing a dependency)
# make lint     ruff over the package, tests, recipes, bench and tools
# make wheel-check  build the sdist and wheel, install the wheel in a venv outside the checkout, run it
# make bench    parameter count, FLOPs, training throughput and real-time factor of the default model
# make kenlm    build KenLM's lmplz and build_binary into tools/kenlm/bin (for `dfcnn lm`)
# make browser  install headless Chromium (apt) for the HTML page tests
# make jemalloc install jemalloc (apt libjemalloc2), which dfcnn train runs under when it is found
# make tts      install the Flite and Festival voices and WordNet (apt) for recipes/synth_english
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LOCK := requirements.lock
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: setup lock lint kenlm browser jemalloc tts demo test test-fast wheel-check bench clean-demo

setup: $(VENV)/.installed jemalloc

# The lock holds every package, direct and transitive, at one version with its hashes; dfcnn itself
# goes in afterwards without dependencies, built by the setuptools the lock pinned.
$(VENV)/.installed: $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r $(LOCK)
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	# the checkout's recipes package (not in the wheel), for `python recipes/<corpus>/prepare.py` too
	$(PY) -c "import pathlib, site; pathlib.Path(site.getsitepackages()[0], 'dfcnn-checkout.pth').write_text('$(CURDIR)\n')"
	touch $@

lock: setup
	$(VENV)/bin/uv pip compile pyproject.toml --all-extras --universal --generate-hashes \
	    --custom-compile-command "make lock" -o $(LOCK)

lint: setup
	$(VENV)/bin/ruff check dfcnn tests recipes bench tools
	$(VENV)/bin/ruff format --check dfcnn tests recipes bench tools

kenlm: tools/kenlm/bin/lmplz

tools/kenlm/bin/lmplz: tools/install_kenlm.sh | $(VENV)/.installed
	PYTHON=$(PY) bash tools/install_kenlm.sh

browser:
	bash tools/install_chromium.sh

jemalloc:
	bash tools/install_jemalloc.sh

tts:
	bash tools/install_tts.sh

demo: setup kenlm
	bash recipes/espeak/run.sh

test: setup kenlm browser tts lint
	$(PY) -m pytest -q

test-fast: setup kenlm browser tts
	$(PY) -m pytest -q -m "not slow"

wheel-check: setup
	bash tools/check_wheel.sh

bench: setup
	$(PY) bench/bench.py

clean-demo:
	rm -rf recipes/espeak/data recipes/espeak/exp
