"""Shared fixtures. Real speech comes from ../shared/data (or $DFCNN_DATA); tests needing it skip
with the reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DFCNN_DATA", REPO.parent / "shared" / "data"))


def shared_corpus(name: str) -> Path:
    """The folder of a corpus in the shared data, or skip the test saying where it was looked for."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"corpus {name} not found at {path} (set DFCNN_DATA to the shared data folder)")
    return path


@pytest.fixture
def kenlm():
    """Skip when KenLM's lmplz is not built (`make test` builds it with tools/install_kenlm.sh)."""
    from dfcnn.errors import DfcnnError
    from dfcnn.lm import find_kenlm_binary

    try:
        find_kenlm_binary("lmplz"), find_kenlm_binary("build_binary")
    except DfcnnError as error:
        pytest.skip(f"KenLM not available: {error}")


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
def tiny_model(tmp_path_factory) -> Path:
    """An experiment folder (exp/ with best.pt) of a tiny model trained one epoch on noise (helpers.py):
    real files and a real pipeline, nonsense output."""
    from helpers import tiny_config

    from dfcnn.training.train import train

    folder = tmp_path_factory.mktemp("tiny-model")
    train(tiny_config(folder, "train.epochs=1"), progress=False)
    return folder / "exp"


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
        [sys.executable, str(recipe / "prepare.py"), "--corpus-dir", str(corpus), "--out", "data"],
        [sys.executable, "-m", "dfcnn", "train", "conf.yaml", f"train.epochs={YESNO_EPOCHS}", "data.num_workers=0",
         "--quiet"],
    ):
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-2000:]
    exp = folder / "exp"
    tokenizer = Tokenizer.from_dict(load_checkpoint(exp / "best.pt")["tokenizer"])
    write_lexicon(["yes", "no"], tokenizer, exp / "lexicon.txt")
    (exp / "decoder.json").write_text('{"lexicon": "lexicon.txt", "beam_size": 8}\n')
    return exp
