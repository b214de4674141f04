"""Audio in: any file libsndfile reads (wav, flac, ogg/vorbis, ogg/opus, mp3, NIST sphere, ...), at
any sample rate and channel count, becomes float32 mono at 16 kHz.

    wave = load_audio("speech.opus")          # np.ndarray, shape (N,), float32, 16 kHz
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from .errors import AudioError

SAMPLE_RATE = 16_000  # Hz: DFCNN's rate; everything is resampled to it
RESAMPLER = "soxr_hq"  # librosa's soxr backend: band-limited, fast


def _describe(path: Path) -> str:
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "is a directory, not an audio file"
    if path.stat().st_size == 0:
        return "empty file (0 bytes)"
    return ""


def audio_info(path: str | Path) -> tuple[float, int, int]:
    """(duration in seconds, sample rate, channels) from the header, without decoding the audio."""
    path = Path(path)
    problem = _describe(path)
    if problem:
        raise AudioError(f"{path}: {problem}")
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{path}: not a readable audio file ({error})") from None
    return float(info.duration), int(info.samplerate), int(info.channels)


def resample(wave: np.ndarray, orig_rate: int, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a (N,) float32 signal; a no-op when the rates agree."""
    if orig_rate == target_rate:
        return wave
    import librosa  # imported lazily: it pulls numba in, slow to import for 16 kHz-only use

    return librosa.resample(wave, orig_sr=orig_rate, target_sr=target_rate, res_type=RESAMPLER)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode ``path`` to float32 mono at ``sample_rate``.

    Returns:
        np.ndarray of shape (N,), dtype float32, values in [-1, 1].
    Raises:
        AudioError naming the file when it is missing, empty, corrupt, not audio or holds no samples.
    """
    path = Path(path)
    problem = _describe(path)
    if problem:
        raise AudioError(f"{path}: {problem}")
    try:
        wave, rate = soundfile.read(str(path), dtype="float32", always_2d=True)  # (N, channels)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
        raise AudioError(f"{path}: not a readable audio file ({error})") from None
    if wave.shape[0] == 0:
        raise AudioError(f"{path}: holds no audio samples")
    mono = wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]  # (N,)
    if not np.isfinite(mono).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    return np.ascontiguousarray(resample(mono, rate, sample_rate), dtype=np.float32)
