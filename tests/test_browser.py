"""The page at / in a real headless Chromium: a fake microphone streams a real recording through the
AudioWorklet and the WebSocket and the words appear; a chosen file is transcribed and its words are
lit as it plays. A real model (yesno, trained by the fixture) so the words mean something."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import jiwer
import numpy as np
import pytest
import soundfile
from cdp import CHROMIUM, Chromium
from conftest import missing, shared_corpus
from helpers import dfcnn_serve

pytest.importorskip("fastapi")
pytest.importorskip("websockets")
pytestmark = pytest.mark.slow

RECORDING = "1_0_0_0_0_0_0_1"  # a yesno test file, never trained on: "yes no no no no no no yes"
SCREENSHOTS = os.environ.get("DFCNN_SCREENSHOTS")  # a folder to keep the screenshots in (else tmp_path)


@pytest.fixture(scope="module")
def served(yesno_model):
    if not Path(CHROMIUM).exists():
        missing(f"no Chromium at {CHROMIUM} (make browser installs it)")
    with dfcnn_serve("--model", yesno_model, "--model-name", "yesno") as (_, url):
        yield url


@pytest.fixture
def recording(tmp_path) -> tuple[Path, str]:
    """The recording as a 48 kHz PCM16 WAV (a microphone's rate) with 2 s of silence after it, and its words."""
    wave, rate = soundfile.read(shared_corpus("yesno") / "waves_yesno" / f"{RECORDING}.wav", dtype="float32")
    import soxr

    wave = np.concatenate([soxr.resample(wave, rate, 48000), np.zeros(96000, np.float32)])
    path = tmp_path / f"{RECORDING}.wav"
    soundfile.write(path, wave, 48000, subtype="PCM_16")
    return path, " ".join("yes" if bit == "1" else "no" for bit in RECORDING.split("_"))


def keep(path: Path) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SCREENSHOTS) / path.name)


def test_the_microphone_is_transcribed_live(served, recording, tmp_path):
    path, reference = recording
    seconds = soundfile.info(path).duration + 0.5
    fake_microphone = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={path}%noloop",
    ]
    with Chromium(fake_microphone) as browser:
        page = browser.open(f"{served}/?autostart=mic&seconds={seconds:.1f}")
        page.wait_for("['done', 'error'].includes(document.body.dataset.state)", timeout=seconds + 60)
        state = page.evaluate("document.body.dataset.state")
        status = page.evaluate("document.getElementById('live-status').textContent")
        text = page.evaluate("document.getElementById('live-final').textContent")
        page.screenshot(tmp_path / "live.png")
    keep(tmp_path / "live.png")
    assert state == "done", status
    words = text.split()
    assert {"yes", "no"} <= set(words), text
    assert jiwer.wer(reference, " ".join(words)) <= 0.25, (reference, text)  # the live path keeps the words


def test_a_chosen_file_is_transcribed_and_its_words_lit_as_it_plays(served, recording, yesno_model, tmp_path):
    from dfcnn.loading import load_model

    path, _ = recording
    expected = [w.word for w in load_model(yesno_model, "cpu").transcribe(path).words]
    with Chromium() as browser:
        page = browser.open(f"{served}/")
        page.set_file("#file-input", path)
        page.wait_for("['ready', 'error'].includes(document.body.dataset.fileState)", timeout=60)
        status = page.evaluate("document.getElementById('file-status').textContent")
        assert page.evaluate("document.body.dataset.fileState") == "ready", status
        words = page.evaluate("[...document.querySelectorAll('#drop .word')].map(w => w.textContent)")
        assert words == expected and len(words) >= 6
        page.evaluate("document.getElementById('player').play()")
        lit = page.wait_for(
            """(() => {
            const active = document.querySelector('#drop .word.active');
            const now = document.getElementById('player').currentTime;
            return active && [Number(active.dataset.start), Number(active.dataset.end), now];
        })()""",
            timeout=30,
            interval=0.05,
        )
        page.screenshot(tmp_path / "file.png")
    keep(tmp_path / "file.png")
    start, end, now = lit
    assert start - 0.1 <= now <= max(end, start + 0.08) + 0.5  # the lit word is the one being played
