"""dfcnn.augment: each effect does what its name promises, measured on signals whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from dfcnn import augment

RATE = 16000


def _voice(f0: float = 120.0, formant: float = 1000.0, seconds: float = 1.0) -> np.ndarray:
    """A vowel-like buzz: an impulse train at ``f0`` through one resonance at ``formant`` Hz."""
    pulses = np.zeros(int(seconds * RATE))
    pulses[:: int(round(RATE / f0))] = 1.0
    radius = np.exp(-np.pi * 80.0 / RATE)  # 80 Hz bandwidth
    theta = 2 * np.pi * formant / RATE
    wave = scipy.signal.lfilter([1.0], [1.0, -2 * radius * np.cos(theta), radius**2], pulses)
    return (0.3 * wave / np.abs(wave).max()).astype(np.float32)


def _f0(wave: np.ndarray, low: float = 60.0, high: float = 400.0) -> float:
    """Fundamental frequency from the autocorrelation peak of the clip's middle, with parabolic refinement."""
    middle = wave[len(wave) // 4 : 3 * len(wave) // 4].astype(np.float64)
    corr = np.correlate(middle, middle, "full")[len(middle) - 1 :]
    lo, hi = int(RATE / high), int(RATE / low)
    lag = lo + int(np.argmax(corr[lo:hi]))
    a, b, c = corr[lag - 1 : lag + 2]
    return RATE / (lag + 0.5 * (a - c) / (a - 2 * b + c))


def _formant(wave: np.ndarray) -> float:
    """Frequency of the peak of the cepstrally smoothed mean log spectrum between 300 and 3000 Hz."""
    _, _, spec = scipy.signal.stft(wave, RATE, nperseg=1024)
    log_mag = np.log(np.mean(np.abs(spec), axis=1) + 1e-9)
    cepstrum = np.fft.irfft(log_mag)
    cepstrum[30:-29] = 0
    envelope = np.fft.rfft(cepstrum).real[: len(log_mag)]
    freqs = np.linspace(0, RATE / 2, len(log_mag))
    band = (freqs > 300) & (freqs < 3000)
    return float(freqs[band][np.argmax(envelope[band])])


@pytest.mark.parametrize("factor", [0.9, 1.1, 1.25])
def test_speed_changes_duration_by_one_over_factor_and_pitch_by_factor(factor):
    wave = _voice()
    out = augment.speed(wave, factor)
    assert abs(len(out) - len(wave) / factor) <= 1
    assert _f0(out) == pytest.approx(120.0 * factor, rel=0.02)


@pytest.mark.parametrize("factor", [0.8, 1.3])
def test_time_stretch_keeps_pitch(factor):
    wave = _voice()
    out = augment.time_stretch(wave, RATE, factor)
    assert len(out) == round(len(wave) * factor)
    assert _f0(out) == pytest.approx(120.0, rel=0.02)


@pytest.mark.parametrize("semitones", [-3.0, 2.0, 4.0])
def test_pitch_shift_keeps_duration_and_moves_f0(semitones):
    wave = _voice(f0=150.0)
    out = augment.pitch_shift(wave, RATE, semitones)
    assert len(out) == len(wave)
    assert _f0(out) == pytest.approx(150.0 * 2 ** (semitones / 12), rel=0.02)
    # the sound is all there: no silent stretches or dropped frames
    frames = out[: len(out) // 400 * 400].reshape(-1, 400)
    assert np.sqrt(np.mean(frames[1:-1] ** 2, axis=1)).min() > 0.2 * np.sqrt(np.mean(wave**2))


@pytest.mark.parametrize("alpha", [0.88, 1.15])
def test_vtlp_moves_the_formant_not_the_pitch(alpha):
    # F0 100 Hz: harmonics dense enough to sample the moved resonance (the measurement's resolution)
    wave = _voice(f0=100.0, formant=1000.0)
    assert _formant(wave) == pytest.approx(1000.0, abs=40)
    out = augment.vtlp(wave, RATE, alpha)
    assert len(out) == len(wave)
    assert _formant(out) == pytest.approx(1000.0 * alpha, abs=50)
    assert _f0(out) == pytest.approx(100.0, rel=0.01)


def test_vtlp_warp_is_monotonic_and_keeps_the_ends():
    freqs = np.linspace(0, RATE / 2, 257)
    for alpha in (0.8, 0.9, 1.1, 1.2):
        warped = augment.vtlp_warp(freqs, alpha, RATE)
        assert warped[0] == 0 and warped[-1] == pytest.approx(RATE / 2)
        assert np.all(np.diff(warped) > 0)
        assert warped[16] == pytest.approx(freqs[16] * alpha)  # 500 Hz: below the knee


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 25.0])
@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
def test_noise_lands_at_the_requested_snr(kind, snr_db):
    rng = np.random.default_rng(3)
    wave = _voice()
    if kind == "babble":
        noise = augment.babble_noise(rng, len(wave), [_voice(f0=f, formant=700.0 + f) for f in (100, 170, 220)], 4)
    else:
        noise = getattr(augment, f"{kind}_noise")(rng, len(wave))
    assert np.sqrt(np.mean(noise**2)) == pytest.approx(1.0, rel=1e-3)
    out = augment.add_noise(wave, noise, snr_db)
    measured = 10 * np.log10(np.mean(wave.astype(np.float64) ** 2) / np.mean((out - wave).astype(np.float64) ** 2))
    assert abs(measured - snr_db) < 0.5


def test_pink_noise_power_falls_with_frequency():
    noise = augment.pink_noise(np.random.default_rng(0), 1 << 16)
    freqs, power = scipy.signal.welch(noise, RATE, nperseg=1024)
    low, high = power[(freqs > 100) & (freqs < 200)].mean(), power[(freqs > 3200) & (freqs < 6400)].mean()
    assert 10 * np.log10(low / high) == pytest.approx(10 * np.log10(32), abs=3)  # 1/f: 32x over 5 octaves


@pytest.mark.parametrize("rt60", [0.3, 0.6, 1.0])
def test_synthetic_rir_decays_at_its_rt60(rt60):
    rir = augment.synthetic_rir(np.random.default_rng(1), RATE, rt60, drr_db=-5.0)
    assert len(rir) == round(rt60 * RATE) and rir[0] == 1.0
    assert augment.rt60_schroeder(rir[1:], RATE) == pytest.approx(rt60, rel=0.15)


def test_reverb_adds_a_tail_that_decays_like_rt60():
    rt60 = 0.5
    click = np.zeros(RATE, np.float32)
    click[1000:1040] = np.hanning(40)  # a 2.5 ms burst, then silence
    out = augment.reverberate(click, augment.synthetic_rir(np.random.default_rng(2), RATE, rt60, drr_db=-3.0))
    assert len(out) == len(click)
    after = out[1040:]
    assert np.sqrt(np.mean(after[: RATE // 10] ** 2)) > 1e-3  # the dry click has nothing after it
    # the tail's level, in 50 ms windows, falls at 60 dB per rt60 (within 20%)
    windows = after[: int(0.6 * rt60 * RATE) // 800 * 800].reshape(-1, 800)
    level = 10 * np.log10(np.mean(windows.astype(np.float64) ** 2, axis=1))
    slope = np.polyfit(np.arange(len(level)) * 0.05, level, 1)[0]  # dB per second
    assert -60 / slope == pytest.approx(rt60, rel=0.2)


def test_draw_and_augment_are_deterministic_from_the_seed():
    config = augment.AugmentConfig(speed_p=1, pitch_p=1, vtlp_p=1, reverb_p=1, noise_p=1, noise_kinds=("babble",))
    wave, sources = _voice(), [_voice(f0=200.0), _voice(f0=90.0)]
    params = config.draw(np.random.default_rng(5))
    assert set(params) >= {"seed", "speed", "pitch_semitones", "vtlp_alpha", "rt60_s", "noise", "snr_db"}
    assert params == config.draw(np.random.default_rng(5))
    first = augment.augment(wave, RATE, params, sources)
    assert np.array_equal(first, augment.augment(wave, RATE, params, sources))
    assert abs(len(first) - len(wave) / params["speed"]) <= 1 and first.dtype == np.float32
    other = augment.augment(wave, RATE, config.draw(np.random.default_rng(6)), sources)
    assert not np.array_equal(first[: len(other)], other[: len(first)])
    off = augment.AugmentConfig(speed_p=0, pitch_p=0, vtlp_p=0, reverb_p=0, noise_p=0)
    assert np.array_equal(augment.augment(wave, RATE, off.draw(np.random.default_rng(0))), wave)


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="positive"):
        augment.speed(_voice(), 0)
    with pytest.raises(ValueError, match="samples"):
        augment.add_noise(_voice(), np.ones(10, np.float32), 10)
    with pytest.raises(ValueError, match="unknown noise"):
        augment.augment(_voice(), RATE, {"seed": 0, "noise": "brown", "snr_db": 10})
