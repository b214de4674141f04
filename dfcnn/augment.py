"""Waveform augmentation: speed, tempo, pitch, vocal-tract length, additive noise, reverberation, and
what a microphone adds to speech (silence before and after it, room noise, pauses).

Every function maps a mono float32 wave of shape (N,) to a new float32 array and draws random
numbers only from the ``np.random.Generator`` it is given, so one seed gives the same samples on
every run and machine. numpy, scipy and soxr only.

    rng = np.random.default_rng(7)
    params = AugmentConfig().draw(rng)                       # plain dict: store it beside the audio
    wave = augment(wave, 16000, params, babble_sources=clips)

or one effect at a time:

    speed(wave, 1.1)                          # 10% faster and higher: N / 1.1 samples
    pitch_shift(wave, 16000, -2.0)            # two semitones down, same duration
    vtlp(wave, 16000, 1.1)                    # formants 10% up (a shorter vocal tract), same F0
    add_noise(wave, pink_noise(rng, len(wave)), snr_db=15)
    reverberate(wave, synthetic_rir(rng, 16000, rt60=0.5))

Training draws the microphone's share per utterance (``RobustnessConfig``, on by default):

    params = RobustnessConfig().draw(rng)   # {"seed", "lead_s", "trail_s", "hiss_dbfs", "noise", "snr_db", ...}
    wave = add_microphone(wave, 16000, params)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.signal
import soxr

from .errors import check_field

_LN1000 = math.log(1000.0)  # -60 dB of amplitude is a factor 1000: decay rate a = ln(1000) / RT60


def _f32(wave: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(wave, dtype=np.float32)


def _fit(wave: np.ndarray, size: int) -> np.ndarray:
    """Trim or zero-pad to exactly ``size`` samples."""
    return np.pad(wave, (0, max(0, size - len(wave))))[:size]


def _rms(wave: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))) if len(wave) else 0.0


def speed(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster, like tape or ``sox speed``: tempo and pitch both scale by ``factor``.

    (N,) -> (round(N / factor),), band-limited resampling (soxr HQ).
    """
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    if factor == 1.0:
        return _f32(wave).copy()
    return _f32(soxr.resample(_f32(wave), factor, 1.0, quality="HQ"))


def time_stretch(wave: np.ndarray, rate: int, factor: float, frame_s: float = 0.03, tolerance_s: float = 0.01):
    """Make ``wave`` ``factor`` times longer without changing its pitch (WSOLA).

    Waveform-similarity overlap-add: output frames of ``frame_s`` at 50% overlap (periodic Hann, which
    sums to one) are cut from the input near their nominal position, shifted by up to ``tolerance_s``
    to line up best with the natural continuation of the previous frame, so periods join in phase.
    (N,) -> (round(N * factor),).
    """
    if factor <= 0:
        raise ValueError(f"stretch factor must be positive, got {factor}")
    wave, size = _f32(wave), round(len(wave) * factor)
    if factor == 1.0 or len(wave) == 0:
        return _fit(wave.copy(), size)
    frame = 2 * max(8, round(frame_s * rate / 2))
    hop, tol = frame // 2, max(1, round(tolerance_s * rate))
    window = scipy.signal.get_window("hann", frame).astype(np.float32)  # periodic: sums to 1 at hop frame/2
    pad = tol + frame
    x = np.pad(wave, (pad, pad + frame + math.ceil(hop / factor) + tol))
    count = math.ceil(size / hop) + 1
    out = np.zeros(count * hop + frame, np.float32)
    previous = pad
    for k in range(count):
        nominal = pad + round(k * hop / factor)
        if k == 0:
            start = nominal
        else:
            target = x[previous + hop : previous + hop + frame]  # what would follow the last frame
            region = x[nominal - tol : nominal + tol + frame]
            similarity = scipy.signal.correlate(region, target, mode="valid", method="fft")  # (2 tol + 1,)
            start = nominal - tol + int(np.argmax(similarity))
        out[k * hop : k * hop + frame] += window * x[start : start + frame]
        previous = start
    # frames are centred on their nominal times: drop the half frame before time zero
    return _fit(out[hop:], size)


def pitch_shift(wave: np.ndarray, rate: int, semitones: float) -> np.ndarray:
    """Move the pitch (F0 and formants alike) by ``semitones``, keeping the duration: stretch, then speed.

    (N,) -> (N,).
    """
    if semitones == 0:
        return _f32(wave).copy()
    ratio = 2.0 ** (semitones / 12.0)
    return _fit(speed(time_stretch(wave, rate, ratio), ratio), len(wave))


def vtlp_warp(freqs: np.ndarray, alpha: float, rate: int, boundary_hz: float = 4800.0) -> np.ndarray:
    """Piecewise-linear vocal-tract-length warp (Jaitly & Hinton 2013): f -> alpha f below a knee, then
    a straight line that keeps the Nyquist frequency in place. Monotonic for alpha in about (0.5, 2)."""
    nyquist = rate / 2
    knee = min(boundary_hz, 0.9 * nyquist) * min(alpha, 1.0) / alpha
    low = freqs * alpha
    high = nyquist - (nyquist - knee * alpha) / (nyquist - knee) * (nyquist - freqs)
    return np.where(freqs <= knee, low, high)


def _lpc_log_envelope(spec: np.ndarray, order: int, n_fft: int, rate: int) -> np.ndarray:
    """Log-magnitude all-pole (LPC) envelope of each STFT frame, up to a per-frame constant.

    spec: (F, T) complex -> (F, T). The autocorrelation is the inverse FFT of the power spectrum; a
    Gaussian lag window (40 Hz) and a -60 dB white-noise floor keep the solution stable.
    """
    autocorr = np.fft.irfft(np.abs(spec) ** 2, n=n_fft, axis=0)[: order + 1]  # (order + 1, T)
    lags = np.arange(order + 1)[:, None]
    autocorr = autocorr * np.exp(-0.5 * (2 * np.pi * 40.0 * lags / rate) ** 2)
    autocorr[0] = autocorr[0] * (1 + 1e-6) + 1e-12
    envelope = np.empty(spec.shape)
    for t in range(spec.shape[1]):
        r = autocorr[:, t]
        a = scipy.linalg.solve_toeplitz(r[:-1], -r[1:])  # the normal equations of linear prediction
        envelope[:, t] = -np.log(np.abs(np.fft.rfft(np.concatenate([[1.0], a]), n=n_fft)) + 1e-12)
    return envelope


def vtlp(wave: np.ndarray, rate: int, alpha: float, n_fft: int = 512) -> np.ndarray:
    """Vocal-tract-length perturbation: warp the spectral envelope by ``alpha``, keep F0 and timing.

    Per STFT frame (32 ms at 16 kHz) the envelope is an all-pole (LPC) fit of order rate / 1000 + 2,
    two poles per formant per kHz; the frame is multiplied by (warped envelope / envelope), moving the
    formants to ``vtlp_warp(f, alpha)`` while the harmonics (F0) and the phases stay where they were.
    alpha > 1 sounds like a shorter vocal tract. (N,) -> (N,).
    """
    wave = _f32(wave)
    if alpha == 1.0 or len(wave) == 0:
        return wave.copy()
    n_fft = max(n_fft, 2 * round(0.016 * rate))
    hop = n_fft // 4
    _, _, spec = scipy.signal.stft(wave, rate, nperseg=n_fft, noverlap=n_fft - hop)  # (F, T), F = n_fft/2 + 1
    envelope = _lpc_log_envelope(spec, round(rate / 1000) + 2, n_fft, rate)
    freqs = np.linspace(0, rate / 2, spec.shape[0])
    warped_at = vtlp_warp(freqs, alpha, rate)
    # new envelope at warp(f) is the old one at f: sample the old envelope at the inverse warp
    warped = np.stack([np.interp(freqs, warped_at, column) for column in envelope.T], axis=1)
    gain = np.exp(np.clip(warped - envelope, -6.0, 6.0))  # bounded: no +-52 dB jumps from silent frames
    _, out = scipy.signal.istft(spec * gain, rate, nperseg=n_fft, noverlap=n_fft - hop)
    return _fit(_f32(out), len(wave))


def white_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Gaussian white noise of unit RMS, shape (size,)."""
    noise = rng.standard_normal(size)
    return _f32(noise / (_rms(noise) + 1e-12))


def pink_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """1/f (pink) noise of unit RMS, shape (size,): white noise shaped in the frequency domain."""
    length = 1 << max(size - 1, 1).bit_length()  # a power of two: a fast FFT
    spectrum = np.fft.rfft(rng.standard_normal(length))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))  # power falls as 1/f
    noise = np.fft.irfft(spectrum, length)[:size]
    return _f32(noise / (_rms(noise) + 1e-12))


def brown_noise(rng: np.random.Generator, size: int, rate: int, corner_hz: float = 50.0) -> np.ndarray:
    """Brown (red) noise of unit RMS, shape (size,): power falling as 1/f^2 above ``corner_hz`` and flat
    below it (a leaky integrator), no DC. The rumble of ventilation and traffic; pure 1/f^2 down to DC
    would put nearly all the power below hearing, making an SNR meaningless."""
    length = 1 << max(size - 1, 1).bit_length()
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.fft.rfftfreq(length, 1.0 / rate)
    spectrum /= np.sqrt(freqs**2 + corner_hz**2)
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, length)[:size]
    return _f32(noise / (_rms(noise) + 1e-12))


def _looped(rng: np.random.Generator, source: np.ndarray, size: int) -> np.ndarray:
    """``source`` from a random offset, repeated to ``size`` samples."""
    return np.resize(np.roll(source, -int(rng.integers(len(source)))), size)  # np.resize repeats


def babble_noise(rng: np.random.Generator, size: int, sources: Sequence[np.ndarray], talkers: int) -> np.ndarray:
    """Several talkers at once, unit RMS, shape (size,): ``talkers`` of ``sources`` (other utterances at
    the same rate), each from a random offset, looped to ``size`` and at equal level, then summed."""
    usable = [s for s in sources if _rms(s) > 0]
    if not usable:
        raise ValueError("babble noise needs at least one non-silent source")
    mix = np.zeros(size, np.float64)
    for index in rng.choice(len(usable), size=talkers, replace=talkers > len(usable)):
        source = usable[int(index)]
        mix += _looped(rng, source, size) / _rms(source)
    return _f32(mix / (_rms(mix) + 1e-12))


def add_noise(wave: np.ndarray, noise: np.ndarray, snr_db: float, signal_rms: float | None = None) -> np.ndarray:
    """``wave`` plus ``noise`` scaled so that 10 log10(P_wave / P_noise) = ``snr_db``, powers being mean
    squares over the whole clip. (N,) + (N,) -> (N,); a silent ``wave`` comes back unchanged.
    ``signal_rms``: the level the SNR refers to, when not the whole wave's (speech padded with silence)."""
    if len(noise) != len(wave):
        raise ValueError(f"noise has {len(noise)} samples, the wave {len(wave)}")
    signal, noise_rms = _rms(wave) if signal_rms is None else signal_rms, _rms(noise)
    if signal == 0 or noise_rms == 0:
        return _f32(wave).copy()
    scale = signal / noise_rms * 10.0 ** (-snr_db / 20.0)
    return _f32(wave + scale * noise)


def synthetic_rir(
    rng: np.random.Generator, rate: int, rt60: float, drr_db: float = 3.0, predelay_s: float = 0.003
) -> np.ndarray:
    """A room impulse response: the direct sound, then exponentially decaying noise (the diffuse tail).

    The tail's amplitude envelope is exp(-ln(1000) t / rt60), i.e. its energy falls 60 dB in ``rt60``
    seconds; it starts ``predelay_s`` after the direct path, is slightly low-passed (walls and air
    absorb highs), and its energy is ``drr_db`` below the direct sound's. Shape (round(rt60 * rate),),
    peak 1 at index 0.
    """
    if rt60 <= 0:
        raise ValueError(f"rt60 must be positive, got {rt60}")
    size = max(2, round(rt60 * rate))
    t = np.arange(size) / rate
    tail = rng.standard_normal(size) * np.exp(-_LN1000 * t / rt60)
    tail = scipy.signal.lfilter([0.6], [1.0, -0.4], tail)  # one-pole low-pass, unity gain at DC
    tail[: max(1, round(predelay_s * rate))] = 0.0
    tail *= math.sqrt(10.0 ** (-drr_db / 10.0) / (np.sum(tail**2) + 1e-20))
    tail[0] = 1.0
    return _f32(tail)


def reverberate(wave: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with ``rir`` and keep the first N samples at the input's RMS: (N,) -> (N,).

    The tail that rings past the end is cut, so pad the input with silence first to keep it."""
    wave = _f32(wave)
    if len(wave) == 0:
        return wave.copy()
    wet = scipy.signal.fftconvolve(wave, rir)[: len(wave)]
    return _f32(wet * (_rms(wave) / (_rms(wet) + 1e-12)))


def rt60_schroeder(rir: np.ndarray, rate: int, fit_db: tuple[float, float] = (-5.0, -25.0)) -> float:
    """RT60 measured from an impulse response: Schroeder's backward-integrated energy decay, a straight
    line fitted between ``fit_db`` (T20 by default) and extrapolated to -60 dB."""
    energy = np.cumsum(np.square(rir[::-1], dtype=np.float64))[::-1]
    decay_db = 10 * np.log10(energy / energy[0] + 1e-30)
    upper, lower = fit_db
    span = np.flatnonzero((decay_db <= upper) & (decay_db >= lower))
    if len(span) < 2:
        raise ValueError("the impulse response does not decay through the fitting range")
    slope, _ = np.polyfit(span / rate, decay_db[span], 1)  # dB per second, negative
    return float(-60.0 / slope)


@dataclass(frozen=True)
class AugmentConfig:
    """How often each effect is applied and the ranges its setting is drawn from (uniformly)."""

    speed_p: float = 0.5  # probability of speed perturbation
    speed: tuple[float, float] = (0.9, 1.1)  # speed factor (tempo and pitch together)
    pitch_p: float = 0.5  # probability of a pitch shift
    pitch_semitones: tuple[float, float] = (-3.0, 3.0)  # pitch shift, semitones
    vtlp_p: float = 0.5  # probability of vocal-tract-length perturbation
    vtlp_alpha: tuple[float, float] = (0.9, 1.1)  # formant scale factor
    reverb_p: float = 0.4  # probability of reverberation
    rt60_s: tuple[float, float] = (0.2, 0.8)  # reverberation time, seconds
    drr_db: tuple[float, float] = (0.0, 10.0)  # direct-to-reverberant energy ratio, dB
    noise_p: float = 0.7  # probability of additive noise
    noise_kinds: tuple[str, ...] = ("white", "pink", "babble")  # drawn with equal probability
    snr_db: tuple[float, float] = (10.0, 30.0)  # signal-to-noise ratio, dB
    babble_talkers: tuple[int, int] = (3, 7)  # talkers in babble noise, inclusive range

    def draw(self, rng: np.random.Generator) -> dict:
        """The settings of one utterance: a JSON-ready dict; absent keys mean the effect is off.
        The dict includes a ``seed`` for the noise and the room impulse response."""

        def uniform(bounds):
            return round(float(rng.uniform(*bounds)), 4)

        params = {"seed": int(rng.integers(2**31))}
        if rng.random() < self.speed_p:
            params["speed"] = uniform(self.speed)
        if rng.random() < self.pitch_p:
            params["pitch_semitones"] = uniform(self.pitch_semitones)
        if rng.random() < self.vtlp_p:
            params["vtlp_alpha"] = uniform(self.vtlp_alpha)
        if rng.random() < self.reverb_p:
            params["rt60_s"], params["drr_db"] = uniform(self.rt60_s), uniform(self.drr_db)
        if rng.random() < self.noise_p:
            params["noise"] = self.noise_kinds[int(rng.integers(len(self.noise_kinds)))]
            params["snr_db"] = uniform(self.snr_db)
            if params["noise"] == "babble":
                params["babble_talkers"] = int(rng.integers(self.babble_talkers[0], self.babble_talkers[1] + 1))
        return params


def augment(wave: np.ndarray, rate: int, params: dict, babble_sources: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Apply ``AugmentConfig.draw``'s settings in a fixed order: speed, pitch, VTLP, reverberation, noise.

    (N,) -> (M,), M = round(N / speed) (every other effect keeps the length).
    """
    rng = np.random.default_rng(params["seed"])
    wave = _f32(wave)
    if "speed" in params:
        wave = speed(wave, params["speed"])
    if "pitch_semitones" in params:
        wave = pitch_shift(wave, rate, params["pitch_semitones"])
    if "vtlp_alpha" in params:
        wave = vtlp(wave, rate, params["vtlp_alpha"])
    if "rt60_s" in params:
        wave = reverberate(wave, synthetic_rir(rng, rate, params["rt60_s"], params["drr_db"]))
    if "noise" in params:
        kind = params["noise"]
        if kind == "white":
            noise = white_noise(rng, len(wave))
        elif kind == "pink":
            noise = pink_noise(rng, len(wave))
        elif kind == "babble":
            noise = babble_noise(rng, len(wave), babble_sources, params["babble_talkers"])
        else:
            raise ValueError(f"unknown noise kind {kind!r} (white, pink, babble)")
        wave = add_noise(wave, noise, params["snr_db"])
    return wave


# What a microphone adds: training clips start right at the speech, recordings do not.
GAP_FRAME_S, GAP_HOP_S = 0.02, 0.01  # energy frames for finding pauses: 20 ms windows every 10 ms
GAP_BELOW_PEAK_DB = 40.0  # a frame this far under the loudest is silence, not a weak consonant (/f/, /h/)
GAP_MIN_S = 0.15  # shortest silent run that counts as a pause: a stop's closure (50-130 ms) is part of a phone
MICROPHONE_NOISES = ("pink", "brown")  # generated room noise; "file" joins them when recordings are given


def hiss(rng: np.random.Generator, size: int, level_dbfs: float) -> np.ndarray:
    """Near-silence, shape (size,): white noise whose RMS is ``level_dbfs`` dB relative to full scale
    (amplitude 1), as a microphone and its preamplifier give when nobody speaks."""
    return white_noise(rng, size) * np.float32(10.0 ** (level_dbfs / 20.0))


def quiet_gaps(
    wave: np.ndarray, rate: int, min_gap_s: float = GAP_MIN_S, below_peak_db: float = GAP_BELOW_PEAK_DB
) -> list[tuple[int, int]]:
    """The pauses inside ``wave``, as (start, end) samples: runs of at least ``min_gap_s`` whose 20 ms
    frames are all ``below_peak_db`` under the loudest frame. Runs touching either end (the leading and
    trailing silence) are left out. A cut inside one cuts no phone."""
    frame, hop = round(GAP_FRAME_S * rate), round(GAP_HOP_S * rate)
    if len(wave) < frame:
        return []
    windows = np.lib.stride_tricks.sliding_window_view(wave, frame)[::hop]  # (T, frame), no copy
    energy_db = 10 * np.log10(np.mean(np.square(windows, dtype=np.float64), axis=1) + 1e-20)  # (T,)
    quiet = (energy_db < energy_db.max() - below_peak_db).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet, [0]])))  # run starts and ends, alternating
    gaps = []
    for first, stop in zip(edges[::2], edges[1::2]):  # quiet frames [first, stop)
        start, end = int(first) * hop, int(stop - 1) * hop + frame
        if first > 0 and stop < len(quiet) and end - start >= min_gap_s * rate:
            gaps.append((start, end))
    return gaps


@dataclass
class RobustnessConfig:
    """What recordings hold around and under the speech that clean training clips lack, drawn per
    utterance in training only: a model trained on clips that start right at the speech writes words
    into the silence before it. Ranges are [low, high], drawn uniformly."""

    enabled: bool = True  # false: training clips are used as they are
    edge_silence_p: float = 0.5  # probability of silence before the speech; drawn again for after it
    edge_silence_s: list[float] = field(default_factory=lambda: [0.1, 1.0])  # seconds of it at each end
    # its level, RMS in dB re full scale: microphone hiss, never digital zero (it also lies under the speech)
    silence_dbfs: list[float] = field(default_factory=lambda: [-70.0, -45.0])
    pause_p: float = 0.2  # probability of a pause inserted in a silent gap between words (where the clip has one)
    pause_s: list[float] = field(default_factory=lambda: [0.2, 1.0])  # seconds of the inserted pause
    noise_p: float = 0.5  # probability of room noise (pink, brown, or a noise_dir recording) under the whole clip
    noise_snr_db: list[float] = field(default_factory=lambda: [10.0, 35.0])  # speech power over its power, dB
    noise_dir: str = ""  # folder of noise recordings, drawn alongside pink and brown noise ("": generated only)

    def __post_init__(self):
        for name in ("edge_silence_p", "pause_p", "noise_p"):
            value = getattr(self, name)
            check_field(0 <= value <= 1, name, f"must be a probability in [0, 1], got {value}")
        limits = {
            "edge_silence_s": (0.0, 30.0, "seconds"),
            "pause_s": (0.0, 30.0, "seconds"),
            "silence_dbfs": (-120.0, 0.0, "dB re full scale"),
            "noise_snr_db": (-10.0, 80.0, "dB"),
        }
        for name, (low, high, unit) in limits.items():
            value = getattr(self, name)
            check_field(
                len(value) == 2 and all(math.isfinite(v) for v in value) and value[0] <= value[1],
                name,
                f"must be [low, high] with low <= high, got {value}",
            )
            check_field(
                low <= value[0] and value[1] <= high, name, f"must lie in [{low:g}, {high:g}] {unit}, got {value}"
            )

    def draw(self, rng: np.random.Generator, noise_files: int = 0) -> dict:
        """The settings of one utterance, a JSON-ready dict ({} when off); absent keys mean the effect is
        off. ``noise_files``: how many noise recordings there are to draw from."""
        if not self.enabled:
            return {}

        def uniform(bounds):
            return round(float(rng.uniform(*bounds)), 4)

        params = {"seed": int(rng.integers(2**31)), "hiss_dbfs": uniform(self.silence_dbfs)}
        for end in ("lead_s", "trail_s"):
            if rng.random() < self.edge_silence_p:
                params[end] = uniform(self.edge_silence_s)
        if rng.random() < self.pause_p:
            params["pause_s"], params["pause_at"] = uniform(self.pause_s), round(float(rng.random()), 4)
        if rng.random() < self.noise_p:
            kinds = MICROPHONE_NOISES + (("file",) if noise_files else ())
            params["noise"], params["snr_db"] = kinds[int(rng.integers(len(kinds)))], uniform(self.noise_snr_db)
            if params["noise"] == "file":
                params["noise_file"] = int(rng.integers(noise_files))
                params["noise_start"] = round(float(rng.random()), 4)  # where in the recording, as a fraction
        return params


def added_samples(params: dict, rate: int) -> int:
    """The most samples ``add_microphone`` adds with ``params`` (a pause only goes where the clip has a gap)."""
    return sum(round(params.get(key, 0.0) * rate) for key in ("lead_s", "trail_s", "pause_s"))


def add_microphone(
    wave: np.ndarray, rate: int, params: dict, read_noise: Callable[[int], np.ndarray] | None = None
) -> np.ndarray:
    """Apply ``RobustnessConfig.draw``'s settings: a pause in the middle of a gap between words
    (``quiet_gaps``; none where the clip has no gap), silence at the ends, room noise under the whole clip
    at ``snr_db`` relative to the speech, and, where silence was added, hiss under the whole at
    ``hiss_dbfs``, so the added silence is never digital zero and the hiss does not stop at the speech.

    (N,) -> (N + added,), added <= ``added_samples(params, rate)``. ``read_noise``: size -> (size,)
    samples of noise recording ``params["noise_file"]``; needed when ``params["noise"]`` is "file".
    """
    wave = _f32(wave)
    if not params:
        return wave.copy()
    rng = np.random.default_rng(params["seed"])
    speech_rms, silence_added = _rms(wave), False
    if "pause_s" in params:
        gaps = quiet_gaps(wave, rate)
        if gaps:
            start, end = gaps[min(int(params["pause_at"] * len(gaps)), len(gaps) - 1)]
            cut = (start + end) // 2
            pause = np.zeros(round(params["pause_s"] * rate), np.float32)
            wave, silence_added = np.concatenate([wave[:cut], pause, wave[cut:]]), True
    lead, trail = (round(params.get(end, 0.0) * rate) for end in ("lead_s", "trail_s"))
    if lead or trail:
        wave, silence_added = np.pad(wave, (lead, trail)), True
    if "noise" in params:
        kind = params["noise"]
        if kind == "pink":
            noise = pink_noise(rng, len(wave))
        elif kind == "brown":
            noise = brown_noise(rng, len(wave), rate)
        elif kind == "file" and read_noise is not None:
            noise = read_noise(len(wave))
        else:
            raise ValueError(f"unknown microphone noise {kind!r} (pink, brown, or file with read_noise)")
        wave = add_noise(wave, noise, params["snr_db"], signal_rms=speech_rms)
    if silence_added:
        wave = wave + hiss(rng, len(wave), params["hiss_dbfs"])
    return _f32(wave)
