"""Training-time robustness (dfcnn.augment.add_microphone via SpeechDataset): silence at the ends, room
noise and pauses, drawn from (seed, epoch, index), measured on signals whose answer is known."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.signal
import soundfile
import torch
from conftest import shared_corpus
from helpers import tiny_config

from dfcnn import augment
from dfcnn.augment import RobustnessConfig, add_microphone, quiet_gaps
from dfcnn.checkpoint import load_checkpoint, save_checkpoint
from dfcnn.config import load_config
from dfcnn.data import DurationBatchSampler, NoiseRecordings, SpeechDataset, Utterance, bucketed_length, collate
from dfcnn.errors import ConfigError
from dfcnn.training.experiment import DataConfig, ExperimentConfig
from dfcnn.training.train import Trainer

RATE = 16000
ALWAYS = RobustnessConfig(edge_silence_p=1.0, pause_p=1.0, noise_p=1.0)


def _word(seconds: float, f0: float = 130.0, formant: float = 900.0) -> np.ndarray:
    """A vowel-like buzz standing for a word: an impulse train through one resonance, at about -20 dBFS."""
    pulses = np.zeros(int(seconds * RATE))
    pulses[:: int(RATE / f0)] = 1.0
    radius, theta = np.exp(-np.pi * 80.0 / RATE), 2 * np.pi * formant / RATE
    wave = scipy.signal.lfilter([1.0], [1.0, -2 * radius * np.cos(theta), radius**2], pulses)
    return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


def _two_words(gap_s: float = 0.3) -> np.ndarray:
    return np.concatenate([_word(0.4), np.zeros(int(gap_s * RATE), np.float32), _word(0.5, f0=180.0)])


def _db(power: float) -> float:
    return 10 * np.log10(power)


def _power(wave: np.ndarray) -> float:
    return float(np.mean(np.square(wave, dtype=np.float64)))


@pytest.fixture
def corpus(tmp_path):
    """(utterances, their waves): 12 two-word clips of 1.2-1.6 s, on disk."""
    utterances, waves = [], []
    for index in range(12):
        wave = _two_words(0.3 + 0.02 * (index % 3))[: int((1.2 + 0.04 * index) * RATE)]
        path = tmp_path / f"u{index}.wav"
        soundfile.write(str(path), wave, RATE, subtype="FLOAT")
        utterances.append(Utterance(path, len(wave) / RATE, "a b", f"u{index}"))
        waves.append(wave)
    return utterances, waves


def test_on_by_default_and_off_for_inference(corpus):
    config = DataConfig().robustness
    assert config.enabled and min(config.edge_silence_p, config.noise_p, config.pause_p) > 0
    assert load_config(ExperimentConfig).data.robustness == config  # every recipe gets it unless it opts out
    utterances, waves = corpus
    plain = SpeechDataset(utterances, [[1]] * len(utterances))  # as inference and evaluation build it
    assert plain.microphone(0, 5) == {} and np.array_equal(plain[(5, 0)][1].numpy(), waves[0])
    off = SpeechDataset(utterances, seed=1, robustness=dataclasses.replace(ALWAYS, enabled=False))
    assert off.microphone(0, 5) == {}


def test_draws_follow_seed_epoch_and_index_alone(corpus):
    utterances, _ = corpus
    dataset = SpeechDataset(utterances, seed=4, robustness=ALWAYS)
    worker = SpeechDataset(utterances, seed=4, robustness=ALWAYS)  # another process: no state shared
    first = dataset[(2, 3)][1]
    assert torch.equal(first, dataset[(2, 3)][1]) and torch.equal(first, worker[(2, 3)][1])
    assert dataset.microphone(3, 2) == worker.microphone(3, 2)
    assert dataset.microphone(3, 2) != dataset.microphone(3, 3)  # a new epoch, new draws
    assert dataset.microphone(3, 2) != dataset.microphone(4, 2)
    assert dataset.microphone(3, 2) != SpeechDataset(utterances, seed=5, robustness=ALWAYS).microphone(3, 2)
    later = dataset[(3, 3)][1]
    assert len(later) != len(first) or not torch.equal(later, first)


def test_durations_and_levels_stay_in_their_ranges(corpus):
    utterances, waves = corpus
    config = dataclasses.replace(ALWAYS, noise_p=0.0)  # only the hiss in the added silence
    dataset = SpeechDataset(utterances, seed=0, robustness=config)
    for epoch in range(15):
        for index in (0, 7):
            params = dataset.microphone(index, epoch)
            assert 0.1 <= params["lead_s"] <= 1.0 and 0.1 <= params["trail_s"] <= 1.0
            assert 0.2 <= params["pause_s"] <= 1.0 and -70 <= params["hiss_dbfs"] <= -45
            out = dataset[(epoch, index)][1].numpy()
            lead, trail, pause = (round(params[key] * RATE) for key in ("lead_s", "trail_s", "pause_s"))
            assert len(out) == len(waves[index]) + lead + trail + pause == dataset.max_samples(index, epoch)
            for silence in (out[:lead], out[len(out) - trail :]):  # near-silence, not digital zero
                assert _db(_power(silence)) == pytest.approx(params["hiss_dbfs"], abs=0.5)
            assert np.allclose(out[lead + 100 : lead + 2000], waves[index][100:2000], atol=0.04)  # hiss < 0.006 RMS


@pytest.mark.parametrize("kind", ["pink", "brown", "file"])
@pytest.mark.parametrize("snr_db", [10.0, 22.5, 35.0])
def test_room_noise_lands_at_the_drawn_snr_of_the_speech(kind, snr_db):
    speech = _two_words()
    recording = augment.white_noise(np.random.default_rng(9), RATE // 3)  # shorter than the clip: looped
    params = {"seed": 3, "noise": kind, "snr_db": snr_db}
    out = add_microphone(speech, RATE, params, lambda size: np.resize(recording, size))
    assert _db(_power(speech) / _power(out - speech)) == pytest.approx(snr_db, abs=0.5)
    # with silence added, the SNR still refers to the speech, not to the speech diluted by silence
    padded = add_microphone(
        speech,
        RATE,
        {**params, "lead_s": 1.0, "trail_s": 0.5, "hiss_dbfs": -120.0},
        lambda size: np.resize(recording, size),
    )
    clean = np.pad(speech, (RATE, RATE // 2))
    assert _db(_power(speech) / _power(padded - clean)) == pytest.approx(snr_db, abs=0.5)


def test_brown_noise_falls_at_6_db_an_octave():
    noise = augment.brown_noise(np.random.default_rng(0), 1 << 16, RATE)
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(1.0, rel=1e-3) and abs(noise.mean()) < 0.05
    freqs, power = scipy.signal.welch(noise, RATE, nperseg=2048)
    low, high = power[(freqs > 400) & (freqs < 800)].mean(), power[(freqs > 3200) & (freqs < 6400)].mean()
    assert _db(low / high) == pytest.approx(_db(64), abs=3)  # 1/f^2: 64x over 3 octaves


def test_a_pause_goes_into_a_gap_between_words_and_nowhere_else():
    speech = _two_words(0.3)
    gap_start, gap_end = int(0.4 * RATE), int(0.7 * RATE)
    ((start, end),) = quiet_gaps(speech, RATE)
    assert gap_start - 320 <= start and end <= gap_end + 320
    params = {"seed": 1, "pause_s": 0.5, "pause_at": 0.7, "hiss_dbfs": -120.0}
    out = add_microphone(speech, RATE, params)
    assert len(out) == len(speech) + RATE // 2
    cut = (start + end) // 2
    assert np.allclose(out[:cut], speech[:cut], atol=1e-5)
    assert np.allclose(out[cut + RATE // 2 :], speech[cut:], atol=1e-5)
    assert np.max(np.abs(out[cut : cut + RATE // 2])) < 1e-5
    one_word = _word(1.0)  # no gap: no pause, the clip is left whole
    assert len(add_microphone(one_word, RATE, params)) == len(one_word)
    short = _two_words(0.08)  # a stop-closure-length gap is part of a phone, not a pause
    assert quiet_gaps(short, RATE) == []


def test_pauses_in_real_speech_fall_in_silence():
    root = shared_corpus("speechocean762")
    files = sorted((root / "WAVE").rglob("*.opus"))[:40] or sorted(root.rglob("*.opus"))[:40]
    if not files:
        pytest.skip(f"no .opus files under {root}")
    from dfcnn.audio import load_audio

    found = 0
    for path in files:
        wave = load_audio(path)
        peak = max(_power(w) for w in np.lib.stride_tricks.sliding_window_view(wave, 320)[::160])
        for start, end in quiet_gaps(wave, RATE):
            found += 1
            cut = (start + end) // 2
            assert _power(wave[cut - 160 : cut + 160]) < peak * 1e-4  # 40 dB under the loudest 20 ms
            assert end - start >= 0.15 * RATE
    assert found > 0


def test_noise_recordings_from_a_folder(tmp_path):
    folder = tmp_path / "noise"
    folder.mkdir()
    hum = 0.1 * np.sin(2 * np.pi * 60 * np.arange(RATE // 2) / RATE).astype(np.float32)
    soundfile.write(str(folder / "hum.wav"), hum, RATE)
    recordings = NoiseRecordings(folder)
    assert len(recordings.read(0, 0.5, 3 * RATE)) == 3 * RATE  # shorter than asked: repeated
    config = dataclasses.replace(ALWAYS, noise_dir=str(folder))
    kinds = {config.draw(np.random.default_rng(seed), noise_files=1).get("noise") for seed in range(60)}
    assert kinds == {"pink", "brown", "file"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"^data.robustness.noise_dir: .*empty holds no audio files"):
        NoiseRecordings(tmp_path / "empty")


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.robustness.edge_silence_p=1.5", "data.robustness.edge_silence_p must be a probability in [0, 1]"),
        ("data.robustness.noise_p=-0.1", "data.robustness.noise_p must be a probability in [0, 1]"),
        ("data.robustness.pause_s=[1.0, 0.2]", "data.robustness.pause_s must be [low, high] with low <= high"),
        ("data.robustness.edge_silence_s=[0.5]", "data.robustness.edge_silence_s must be [low, high]"),
        (
            "data.robustness.silence_dbfs=[-60, 3]",
            "data.robustness.silence_dbfs must lie in [-120, 0] dB re full scale",
        ),
        ("data.robustness.noise_snr_db=[5, 200]", "data.robustness.noise_snr_db must lie in [-10, 80] dB"),
        ("data.robustness.enabled=maybe", "data.robustness.enabled: expected bool"),
        ("data.robustness.hiss=1", "unknown key 'data.robustness.hiss'"),
    ],
)
def test_bad_settings_are_one_line_naming_the_key(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(ExperimentConfig, None, [override])
    assert message in str(error.value) and "\n" not in str(error.value)


def test_yaml_and_overrides_merge_inside_the_section(tmp_path):
    (tmp_path / "conf.yaml").write_text("data:\n  robustness:\n    pause_p: 0.05\n")
    config = load_config(ExperimentConfig, tmp_path / "conf.yaml", ["data.robustness.noise_snr_db=[15, 30]"])
    assert config.data.robustness.pause_p == 0.05 and config.data.robustness.noise_snr_db == [15.0, 30.0]
    assert config.data.robustness.edge_silence_p == 0.5  # the rest keep their defaults


@pytest.mark.parametrize("buckets", [0, 8])
def test_batches_stay_within_the_budget_with_the_added_silence(corpus, buckets):
    utterances, _ = corpus
    dataset = SpeechDataset(utterances, seed=2, robustness=ALWAYS)
    budget = 9.0
    sampler = DurationBatchSampler(
        dataset.durations, budget, seed=2, buckets_per_doubling=buckets, epoch_durations=dataset.epoch_durations
    )
    naive = DurationBatchSampler(dataset.durations, budget, seed=2, buckets_per_doubling=buckets)
    over_by_manifest = 0
    for epoch in range(3):
        sampler.set_epoch(epoch)
        naive.set_epoch(epoch)
        batches = list(sampler)
        assert sorted(index for batch in batches for _, index in batch) == list(range(len(utterances)))
        for keys in batches:
            batch = collate([dataset[key] for key in keys], buckets_per_doubling=buckets)
            assert batch.waves.numel() / RATE <= budget or len(keys) == 1
        for keys in naive:  # packed by the manifest's durations, the same items overflow the budget
            longest = max(len(dataset[key][1]) for key in keys)
            over_by_manifest += bucketed_length(longest, buckets) * len(keys) / RATE > budget
    assert over_by_manifest > 0


def test_a_run_begun_before_robustness_resumes_without_it(tmp_path):
    on = "data.robustness.enabled=true"  # the tiny runs of other tests leave it off
    Trainer(tiny_config(tmp_path, "train.epochs=1", on), progress=False).run()
    last = tmp_path / "exp" / "last.pt"
    payload = load_checkpoint(last)
    assert payload["config"]["data"]["robustness"]["enabled"] is True  # the checkpoint records the config
    del payload["config"]["data"]["robustness"]  # as an older dfcnn wrote it
    save_checkpoint(last, payload)
    resumed = Trainer(tiny_config(tmp_path, "train.epochs=2", on), resume=True, progress=False)
    try:
        assert resumed.dataset.robustness is None and resumed.config.data.robustness.enabled is False
    finally:
        resumed.close()
    fresh = Trainer(tiny_config(tmp_path / "fresh", "train.epochs=1", on), progress=False)
    try:
        assert fresh.dataset.robustness == DataConfig().robustness and fresh.sampler.epoch_durations is not None
    finally:
        fresh.close()
