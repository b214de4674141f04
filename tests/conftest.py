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
