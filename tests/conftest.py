"""Shared fixtures: the one tiny trained model of the session, real speech from ../shared/data (or
$DFCNN_DATA), and the skips of a missing dependency.

A test whose dependency (a package, a corpus, a tool such as KenLM or Chromium) is missing skips with
the reason (``missing``), as a user's ``make test-fast`` may; under CI (CI=true), which installs every
dependency, such a skip fails the test instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest
import soundfile
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DFCNN_DATA", REPO.parent / "shared" / "data"))
MISSING = "missing dependency:"  # how the skip of a missing dependency starts
IMPORT_SKIP = "could not import"  # how pytest.importorskip's skips start


def missing(what: str) -> NoReturn:
    """Skip the test: a dependency is missing (``what``: which, and how to install it). Fails under CI."""
    pytest.skip(f"{MISSING} {what}")


def shared_corpus(name: str) -> Path:
    """The folder of a corpus in the shared data, or skip the test saying where it was looked for."""
    path = SHARED_DATA / name
    if not path.is_dir():
        missing(f"corpus {name} not found at {path} (set DFCNN_DATA to the shared data folder)")
    return path


def in_ci() -> bool:
    """A CI run (CI=true, as .ci/run and hosted CI services set it): every dependency is installed."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _skip_reason(report) -> str:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return reason.removeprefix("Skipped: ")


def _dependency_skip(report) -> str | None:
    """The reason of a skip for a missing dependency (a test's, or a module's at collection), else None."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return None
    reason = _skip_reason(report)
    return reason if reason.startswith((MISSING, IMPORT_SKIP)) else None


_MODULES_SKIPPED: list[str] = []  # under CI: modules skipped whole for a missing dependency (the run fails)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI, a test skipped for a missing dependency fails."""
    outcome = yield
    report = outcome.get_result()
    reason = _dependency_skip(report)
    if reason and in_ci():
        report.outcome = "failed"
        report.longrepr = f"CI installs every dependency, but this test was skipped: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """Under CI, a module skipped whole (pytest.importorskip at its top) fails the run once it ends."""
    outcome = yield
    reason = _dependency_skip(outcome.get_result())
    if reason and in_ci():
        _MODULES_SKIPPED.append(f"{collector.nodeid}: {reason}")


def pytest_terminal_summary(terminalreporter):
    for line in _MODULES_SKIPPED:
        terminalreporter.write_line(f"FAILED (CI installs every dependency, but this module was skipped) {line}")


def pytest_sessionfinish(session, exitstatus):
    if _MODULES_SKIPPED and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def kenlm():
    """Skip when KenLM's lmplz is not built (`make test` builds it with tools/install_kenlm.sh)."""
    from dfcnn.errors import DfcnnError
    from dfcnn.lm import find_kenlm_binary

    try:
        find_kenlm_binary("lmplz"), find_kenlm_binary("build_binary")
    except DfcnnError as error:
        missing(f"KenLM: {error}")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture
def write_tone(tmp_path):
    """write_tone(name, rate, channels, seconds, freq, **soundfile kwargs) -> Path of a sine tone file."""

    def write(name: str, rate: int = 16000, channels: int = 1, seconds: float = 1.0, freq: float = 440.0, **kwargs):
        t = np.arange(int(rate * seconds)) / rate
        wave = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
        data = np.stack([wave] * channels, axis=1) if channels > 1 else wave
        path = tmp_path / name
        soundfile.write(str(path), data, rate, **kwargs)
        return path

    return write


@pytest.fixture(scope="session")
def tiny_trainer(tmp_path_factory):
    """The session's one tiny model, trained one epoch on noise (``helpers.tiny_config``): real files and
    a real pipeline, nonsense output. The ``Trainer`` after its run; leave its modules as they are."""
    from helpers import tiny_config, tiny_yaml

    from dfcnn.training.train import Trainer

    folder = tmp_path_factory.mktemp("tiny-model")
    trainer = Trainer(tiny_config(folder, "train.epochs=1"), progress=False)
    trainer.run()
    tiny_yaml(folder, "train.epochs=1", f"exp_dir={folder / 'new-exp'}")
    return trainer


@pytest.fixture(scope="session")
def tiny_experiment(tiny_trainer) -> Path:
    """The tiny model's folder: the noise corpus (utt*.wav, train.jsonl, vocab.txt), exp/ (the trained
    model) and conf.yaml (its config as a file, for ``dfcnn train``; exp_dir new-exp/)."""
    return tiny_trainer.exp_dir.parent


@pytest.fixture(scope="session")
def tiny_model(tiny_experiment) -> Path:
    """The tiny model's exp/ folder (best.pt, last.pt, metrics.jsonl)."""
    return tiny_experiment / "exp"


YESNO_EPOCHS = 30  # recipes/yesno/conf.yaml's model; dev WER reached 6% greedy by epoch 22 (RESULTS.md)


@pytest.fixture(scope="session")
def yesno_model(tmp_path_factory) -> Path:
    """A real model of real speech: recipes/yesno's conf trained on the shared yesno corpus, shipping a
    lexicon decoder (the words "yes" and "no"). Its exp/ folder; minutes on a CPU (slow tests only)."""
    import shutil
    import subprocess
    import sys

    from dfcnn.checkpoint import load_checkpoint
    from dfcnn.lm import write_lexicon
    from dfcnn.text import Tokenizer

    corpus = shared_corpus("yesno")
    folder = tmp_path_factory.mktemp("yesno")
    recipe = REPO / "recipes" / "yesno"
    shutil.copy(recipe / "conf.yaml", folder / "conf.yaml")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    for command in (
        [sys.executable, "-m", "recipes.yesno.prepare", "--corpus-dir", str(corpus), "--out", "data"],
        [
            sys.executable,
            "-m",
            "dfcnn",
            "train",
            "conf.yaml",
            f"train.epochs={YESNO_EPOCHS}",
            "data.num_workers=0",
            "data.robustness.enabled=false",  # a model that knows its words in few epochs: export is tested, not noise
            "--quiet",
        ],
    ):
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-2000:]
    exp = folder / "exp"
    tokenizer = Tokenizer.from_dict(load_checkpoint(exp / "best.pt")["tokenizer"])
    write_lexicon(["yes", "no"], tokenizer, exp / "lexicon.txt")
    (exp / "decoder.json").write_text('{"lexicon": "lexicon.txt", "beam_size": 8}\n')
    return exp
