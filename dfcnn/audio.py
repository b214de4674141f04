"""Audio in: any file libsndfile reads (wav, flac, ogg/vorbis, ogg/opus, mp3, NIST sphere, ...), at
any sample rate and channel count, becomes float32 mono at 16 kHz.

    wave = load_audio("speech.opus")          # np.ndarray, shape (N,), float32, 16 kHz
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

from .errors import AudioError

SAMPLE_RATE = 16_000  # Hz: DFCNN's rate; everything is resampled to it
RESAMPLER = "soxr_hq"  # soxr's high quality (librosa's default res_type): band-limited, fast
# Float files may go past full scale (1.0) a little; 100 (40 dB over) is no recording's level but a
# file written with integer values (peaks of 32767) or garbage (1e30), which would decode to nonsense
MAX_ABS_SAMPLE = 100.0
CHATTY_DECODERS = (".mp3", ".mp2", ".mpga")  # libsndfile's mpg123 writes notes straight to stderr


def _through_libsndfile(path: Path, call):
    """``call(path)`` (soundfile.info or SoundFile) with the path as bytes, so names that are not
    UTF-8 open too; a file libsndfile cannot read is one AudioError naming it."""
    with _decoder_notes(path) as notes:
        try:
            return call(os.fsencode(path))
        except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
            failure = error
    raise _unreadable(path, failure, notes) from None


def _describe(path: Path) -> str:
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "is a directory, not an audio file"
    if not path.is_file():
        return "not a regular file (a pipe or a device)"
    if not os.access(path, os.R_OK):
        return "permission denied"
    if path.stat().st_size == 0:
        return "empty file (0 bytes)"
    return ""


@contextlib.contextmanager
def _decoder_notes(path: Path):
    """Keep what a C decoder prints on stderr (mpg123's "Illegal Audio-MPEG-Header ..." lines) off
    the user's terminal; yields a list that holds its first line once the block ends."""
    notes: list[str] = []
    if path.suffix.lower() not in CHATTY_DECODERS:
        yield notes
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield notes
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = [line.strip() for line in capture.read(4096).decode("utf-8", "replace").splitlines()]
            notes += [line for line in lines if line][:1]


def _unreadable(path: Path, error: Exception, notes: list[str]) -> AudioError:
    """The error for a file libsndfile could not open. Its "File does not exist or is not a regular
    file" also means "no decoder understood it" (a corrupt MP3): the file is there, so say that."""
    reason = str(error)
    if "does not exist" in reason or "not a regular file" in reason:
        reason = "unknown format or corrupt data"
    else:
        reason = re.sub(r"^Error opening .*?: ", "", reason)
    detail = f"; the decoder said: {notes[0]}" if notes else ""
    return AudioError(f"{path}: not a readable audio file ({reason}{detail})")


def check_samples(wave: np.ndarray, where: str) -> None:
    """``AudioError`` unless every sample is finite and within ``MAX_ABS_SAMPLE`` of zero."""
    if not np.isfinite(wave).all():
        raise AudioError(f"{where}: contains NaN or infinite samples")
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    if peak > MAX_ABS_SAMPLE:
        hint = " (a float file written with 16-bit integer values? divide them by 32768)" if peak < 40000 else ""
        raise AudioError(f"{where}: samples reach {peak:.3g}, far outside [-1, 1]: not audio at a level any "
                         f"recording has{hint}")


def audio_info(path: str | Path) -> tuple[float, int, int]:
    """(duration in seconds, sample rate, channels) from the header, without decoding the audio."""
    path = Path(path)
    problem = _describe(path)
    if problem:
        raise AudioError(f"{path}: {problem}")
    info = _through_libsndfile(path, soundfile.info)
    return float(info.duration), int(info.samplerate), int(info.channels)


def resample(wave: np.ndarray, orig_rate: int, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a (N,) float32 signal to ceil(N * target / orig) samples; a no-op when the rates agree.

    The numbers of ``librosa.resample(res_type="soxr_hq")`` (soxr, then librosa's length fix),
    without importing librosa: it pulls numba in, seconds of start-up a server's first request would pay.
    """
    if orig_rate == target_rate:
        return wave
    import soxr

    resampled = soxr.resample(wave, orig_rate, target_rate, quality=RESAMPLER)
    size = math.ceil(wave.shape[0] * (float(target_rate) / orig_rate))
    return np.asarray(np.pad(resampled, (0, max(0, size - resampled.shape[0])))[:size], dtype=wave.dtype)


def stream_resampler(orig_rate: int, target_rate: int = SAMPLE_RATE):
    """A resampler for audio that arrives in blocks (soxr's, HQ: ``resample``'s quality), or None when
    the rates agree: ``resampler.resample_chunk(block, last=False)`` -> the block at ``target_rate``;
    ``last=True`` flushes what it holds back."""
    if orig_rate == target_rate:
        return None
    import soxr

    return soxr.ResampleStream(orig_rate, target_rate, 1, dtype="float32", quality="HQ")


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
    wave, rate = _through_libsndfile(path, lambda name: soundfile.read(name, dtype="float32", always_2d=True))  # (N, C)
    if wave.shape[0] == 0:
        raise AudioError(f"{path}: holds no audio samples")
    mono = wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]  # (N,)
    check_samples(mono, str(path))
    return np.ascontiguousarray(resample(mono, rate, sample_rate), dtype=np.float32)


def stream_audio(path: str | Path, block_seconds: float = 30.0, sample_rate: int = SAMPLE_RATE):
    """Decode ``path`` block by block: memory stays bounded whatever the file's length.

    Yields:
        np.ndarray blocks of shape (n,), float32 mono at ``sample_rate``; their concatenation matches
        ``load_audio(path)`` (exactly at 16 kHz; up to resampler edge effects otherwise).
    """
    path = Path(path)
    problem = _describe(path)
    if problem:
        raise AudioError(f"{path}: {problem}")
    handle = _through_libsndfile(path, soundfile.SoundFile)
    with handle:
        resampler = stream_resampler(handle.samplerate, sample_rate)
        block_frames = max(1, int(block_seconds * handle.samplerate))
        total = 0
        while True:
            try:
                block = handle.read(block_frames, dtype="float32", always_2d=True)  # (n, channels)
            except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
                raise AudioError(f"{path}: decoding failed after {total / handle.samplerate:.1f} s ({error})") from None
            last = block.shape[0] < block_frames
            mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
            check_samples(mono, str(path))
            total += mono.shape[0]
            if resampler is not None:
                mono = resampler.resample_chunk(mono, last=last)
            if mono.shape[0]:
                yield np.ascontiguousarray(mono, dtype=np.float32)
            if last:
                break
        if total == 0:
            raise AudioError(f"{path}: holds no audio samples")


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".sph", ".aiff", ".aif", ".au", ".w64", ".caf")


def expand_audio_paths(patterns: list[str | Path]) -> list[Path]:
    """Files, folders (searched recursively for audio suffixes) and glob patterns -> sorted unique files.

    A pattern matching nothing is kept as given, so the caller reports it as a missing file; a
    folder without audio files is an error naming it.
    """
    import glob

    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not inside:
                raise AudioError(f"{path}: no audio files in this folder (looked for {', '.join(AUDIO_SUFFIXES)})")
            found += inside
        elif not path.exists() and glob.has_magic(str(pattern)):
            matches = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
            found += [p for p in matches if p.is_file()] or [path]
        else:
            found.append(path)
    return list(dict.fromkeys(found))
