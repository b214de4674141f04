"""The eSpeak NG demo corpus: speech from the binding (recipes/espeak/synth.py on dfcnn.espeak) and prepare.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import MISSING

from dfcnn.audio import resample
from recipes.espeak import prepare, synth

pytest.importorskip("espeakng_loader", reason=f"{MISSING} eSpeak NG (pip install espeakng-loader)")

REPO = Path(__file__).resolve().parents[1]
SPEECH = "three seven zero nine"


def test_synthesize_gives_speech():
    wave, rate = synth.synthesize(SPEECH, "en-us")
    assert rate == 22050 and wave.dtype == np.float32
    audio = resample(wave, rate, 16000)
    seconds = len(audio) / 16000
    assert 0.8 < seconds < 3.0
    assert np.sqrt(np.mean(audio**2)) > 0.01 and np.abs(audio).max() <= 1.0


def test_voices_differ_and_repeat_exactly():
    waves = {voice: synth.synthesize(SPEECH, voice)[0] for voice in ("en-us", "en-us+f3", "en-us+klatt", "en+m2")}
    names = list(waves)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            n = min(len(waves[a]), len(waves[b]))
            assert not np.allclose(waves[a][:n], waves[b][:n], atol=1e-3), (a, b)
    again = synth.synthesize(SPEECH, "en-us+f3")[0]  # history-independent, breath noise seeded
    assert np.array_equal(again, waves["en-us+f3"])


def test_voice_listing_and_errors():
    accents = {voice.name for voice in synth.list_english_voices()}
    assert {"en-us", "en", "en-gb-scotland"} <= accents and "en-shaw" not in accents
    assert {"m1", "f3", "klatt", "Alex"} <= set(synth.list_variants())
    with pytest.raises(synth.EspeakError, match="case-sensitive"):
        synth.synthesize(SPEECH, "en-us+alex")  # eSpeak itself would silently ignore it
    with pytest.raises(synth.EspeakError, match="no voice"):
        synth.synthesize(SPEECH, "xx-nosuch")
    with pytest.raises(synth.EspeakError):
        synth.synthesize(SPEECH, rate_wpm=10)


def test_texts_are_normalised_words():
    from dfcnn.text import normalize_english

    rng = np.random.default_rng(0)
    for kind, text in prepare.make_texts(rng, 300, avoid=set()):
        assert normalize_english(text) == text
        words = text.split()
        if kind == "digits":
            assert 2 <= len(words) <= 7 and set(words) <= set(synth.DIGIT_WORDS)
        else:
            assert 3 <= len(words) <= 8


def _corpus(folder: Path) -> dict:
    from dfcnn.data import read_manifest

    return {split: read_manifest(folder / f"{split}.jsonl") for split in prepare.SPLITS}


def test_prepare_tiny_corpus(tmp_path):
    import soundfile as sf

    sizes = ["--num-train", "6", "--num-dev", "2", "--num-test", "2", "--seed", "7"]
    first = tmp_path / "a"
    command = [sys.executable, "-m", "recipes.espeak.prepare", "--out", str(first), *sizes, "--jobs", "2"]
    subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
    corpus = _corpus(first)
    assert [len(corpus[s]) for s in prepare.SPLITS] == [6, 2, 2]
    for split, utterances in corpus.items():
        for utt in utterances:
            assert utt.audio_filepath.is_absolute() and utt.audio_filepath.parent.name == split
            audio, rate = sf.read(str(utt.audio_filepath), dtype="float32")
            assert rate == 16000 and audio.ndim == 1
            assert abs(len(audio) / rate - utt.duration) < 1e-3 and 0.5 < utt.duration < 6
            assert np.sqrt(np.mean(audio**2)) > 1e-3
    voices = json.loads((first / "voices.json").read_text())
    used = {s: {voices["utterances"][u.utt_id]["voice"] for u in corpus[s]} for s in prepare.SPLITS}
    assert not used["test"] & used["train"] and not used["dev"] & used["train"]
    variants = {s: set(voices["splits"][s]["variants"]) for s in prepare.SPLITS}
    assert not variants["test"] & variants["train"] and not variants["dev"] & variants["train"]
    assert not variants["test"] & variants["dev"]
    vocab = (first / "vocab.txt").read_text().split("\n")
    assert vocab[0] == "<blank>" and "|" in vocab

    rerun = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
    assert "up to date" in rerun.stdout

    second = tmp_path / "b"  # same seed, one in-process job: the same corpus, byte for byte
    returned = prepare.prepare_espeak(second, num_train=6, num_dev=2, num_test=2, seed=7, jobs=1)
    assert {s: [u.utt_id for u in us] for s, us in returned.items()} == {
        s: [u.utt_id for u in us] for s, us in corpus.items()
    }
    for split, utterances in _corpus(second).items():
        for mine, theirs in zip(utterances, corpus[split]):
            assert (mine.utt_id, mine.text, mine.duration) == (theirs.utt_id, theirs.text, theirs.duration)
            assert mine.audio_filepath.read_bytes() == theirs.audio_filepath.read_bytes()


def test_missing_loader_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # import now raises ImportError
    with pytest.raises(synth.EspeakError, match="pip install espeakng-loader"):
        synth.library_paths()
