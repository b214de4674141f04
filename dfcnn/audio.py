"""Audio in: any file libsndfile reads (wav, flac, ogg/vorbis, ogg/opus, mp3, NIST sphere, ...), at
any sample rate and channel count, becomes float32 mono at 16 kHz.

    wave = load_audio("speech.opus")          # np.ndarray, shape (N,), float32, 16 kHz

A file cut short or damaged part-way (a copy that stopped, a broken download) is handled by one rule
for every format: what decodes is used, with a one-line ``DfcnnWarning`` naming the file and how
much was decoded of what its header declares; ``strict=True`` (training and scoring, where a
transcript must match all of its audio) makes it an ``AudioError`` instead. "Cut short" is what the
file itself can tell: a decoding error part-way (FLAC, MP3), fewer samples than its header declares
(WAV's data chunk, FLAC's STREAMINFO, MP3's Xing/Info frame count), or an Ogg stream (Vorbis, Opus)
that ends without its end-of-stream page. A file cut at a frame boundary of a format that declares
no length (a raw MP3 without a Xing header) cannot be told from a shorter recording.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import soundfile

from .errors import AudioError, DfcnnWarning

SAMPLE_RATE = 16_000  # Hz: DFCNN's rate; everything is resampled to it
# rates outside these are no recording of speech but a broken or hostile header: telephony records at
# 8 kHz (4 kHz is half of it, 2 kHz of bandwidth); 768 kHz is the fastest rate audio converters run at
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 4_000, 768_000
SALVAGE_FRAMES = 256  # block read when a decoding error makes a file be read again up to it (a FLAC frame is 4096)
LENGTH_SLACK = 0.05  # seconds a decoder may fall short of the header's length (encoder delay and padding)
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
    """What keeps ``path`` from being read as a file, in words ("" when nothing does)."""
    try:
        path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symlink loop (following its links leads back to a link already followed)"
        if error.errno == errno.ENOENT and path.is_symlink():
            return f"a broken symlink (to {os.readlink(path)}, which does not exist)"
        if error.errno == errno.ENOENT:
            return "no such file"
        return f"cannot be reached ({error.strerror or error})"
    if path.is_dir():
        if any(p.suffix.lower() in AUDIO_SUFFIXES for p in path.rglob("*")):
            return "is a folder, not an audio file (give it to dfcnn transcribe to transcribe what it holds)"
        return f"is a folder with no audio files in it (looked for {', '.join(AUDIO_SUFFIXES)})"
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
        raise AudioError(
            f"{where}: samples reach {peak:.3g}, far outside [-1, 1]: not audio at a level any recording has{hint}"
        )


def _check_rate(path: Path, rate: int) -> None:
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"{path}: a sample rate of {rate:,} Hz is outside what any speech recording uses (dfcnn "
            f"reads {MIN_SAMPLE_RATE:,} to {MAX_SAMPLE_RATE:,} Hz)"
        )


def audio_info(path: str | Path) -> tuple[float, int, int]:
    """(duration in seconds, sample rate, channels) from the header, without decoding the audio."""
    path = Path(path)
    problem = _describe(path)
    if problem:
        raise AudioError(f"{path}: {problem}")
    info = _through_libsndfile(path, soundfile.info)
    _check_rate(path, int(info.samplerate))
    return float(info.duration), int(info.samplerate), int(info.channels)


def resample(wave: np.ndarray, orig_rate: int, target_rate: int = SAMPLE_RATE, fix: bool = True) -> np.ndarray:
    """Resample a (N,) float32 signal to ceil(N * target / orig) samples; a no-op when the rates agree.

    The numbers of ``librosa.resample(res_type="soxr_hq")`` (soxr, then librosa's length fix),
    without importing librosa: it pulls numba in, seconds of start-up a server's first request would pay.
    ``fix=False`` (librosa's ``fix``) keeps soxr's own length, N * target / orig rounded: audio
    generated that way keeps its bytes.
    """
    if orig_rate == target_rate:
        return wave
    import soxr

    resampled = soxr.resample(wave, orig_rate, target_rate, quality=RESAMPLER)
    if not fix:
        return resampled
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


def _declared_frames(handle: soundfile.SoundFile) -> int:
    """Frames the header declares. libsndfile sizes a WAV (AIFF, AU, ...) whose data chunk runs past
    the end of the file to what is there, and logs "data : DECLARED (should be FOUND)" bytes."""
    found = re.search(r"^\s*data\s*:\s*(\d+) \(should be (\d+)\)", handle.extra_info, re.MULTILINE)
    if found and int(found.group(2)) > 0:
        return round(handle.frames * int(found.group(1)) / int(found.group(2)))
    return handle.frames


def _shortfall(path: Path, handle: soundfile.SoundFile, frames_read: int, failure: Exception | None) -> str | None:
    """Why ``path`` is cut short or damaged (a line naming it and how much was decoded), or None."""
    rate, declared = handle.samplerate, _declared_frames(handle)
    short = declared - frames_read > LENGTH_SLACK * rate
    unended = "lacks an end-of-stream bit" in handle.extra_info  # libsndfile's note on a cut Ogg stream
    if failure is None and not short and not unended:
        return None
    reason = (
        "a decoding error"
        if failure is not None
        else "the audio data ends early"
        if short
        else "its Ogg stream ends without the end-of-stream page"
    )
    of = f" of the {declared / rate:.2f} s its header declares" if short else ""
    return f"{path}: cut short or damaged ({reason}): decoded {frames_read / rate:.2f} s{of}"


def _report(message: str | None, strict: bool) -> None:
    if message is None:
        return
    if strict:
        raise AudioError(message)
    warnings.warn(DfcnnWarning(f"{message}; using what was decoded"), stacklevel=3)


def _read_blocks(path: Path, block_seconds: float | None, strict: bool):
    """Decode ``path`` block by block (``block_seconds`` long, or ``SALVAGE_FRAMES``): yields
    ((n, channels) float32 blocks, sample rate). What decodes before a decoding error is yielded;
    the error, or a file shorter than its header, is then reported by the module's one rule."""
    handle = _through_libsndfile(path, soundfile.SoundFile)
    with handle:
        _check_rate(path, handle.samplerate)
        frames = SALVAGE_FRAMES if block_seconds is None else max(1, int(block_seconds * handle.samplerate))
        total, failure = 0, None
        while True:
            try:
                with _decoder_notes(path):  # around the decoder only: never across a yield
                    block = handle.read(frames, dtype="float32", always_2d=True)  # (n, channels)
            except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
                failure = error
                break
            total += block.shape[0]
            if block.shape[0]:
                yield block, handle.samplerate
            if block.shape[0] < frames:
                break
        message = _shortfall(path, handle, total, failure)
    if total == 0:
        if failure is not None:
            raise _unreadable(path, failure, [])
        raise AudioError(f"{path}: holds no audio samples")
    _report(message, strict)


def _mono(block: np.ndarray, where: str) -> np.ndarray:
    """(n, channels) -> (n,), every sample checked."""
    mono = block.mean(axis=1) if block.shape[1] > 1 else block[:, 0]
    check_samples(mono, where)
    return mono


def load_audio(
    path: str | Path,
    sample_rate: int = SAMPLE_RATE,
    strict: bool = False,
    offset: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """Decode ``path`` (or its ``duration`` seconds from ``offset`` on: a Kaldi segment, read by
    seeking, not by decoding the whole recording) to float32 mono at ``sample_rate``.

    Returns:
        np.ndarray of shape (N,), dtype float32, values in [-1, 1].
    Raises:
        AudioError naming the file when it is missing, empty, corrupt, not audio, holds no samples (for
        a segment: none from ``offset`` on) or has an absurd sample rate; and with ``strict``, when it
        is cut short or damaged (otherwise what decodes is returned, with a ``DfcnnWarning``).
    """
    path = Path(path)
    problem = _describe(path)
    if problem:
        raise AudioError(f"{path}: {problem}")
    if offset != 0.0 or duration is not None:
        wave, rate = _read_segment(path, offset, duration)  # (N, C)
        if wave.shape[0] == 0:
            raise AudioError(f"{path}: holds no audio samples from {offset:g} s on")
        return np.ascontiguousarray(resample(_mono(wave, str(path)), rate, sample_rate), dtype=np.float32)
    handle = _through_libsndfile(path, soundfile.SoundFile)
    with handle:
        _check_rate(path, handle.samplerate)
        rate = handle.samplerate
        try:  # the whole file in one read
            with _decoder_notes(path):
                wave = handle.read(dtype="float32", always_2d=True)  # (N, C)
            message = _shortfall(path, handle, wave.shape[0], None)
        except (soundfile.LibsndfileError, RuntimeError, ValueError):
            wave = None  # damaged part-way: read again, block by block, up to the damage
    if wave is None:
        wave, message = np.concatenate([block for block, _ in _read_blocks(path, None, strict)]), None
    if wave.shape[0] == 0:
        raise AudioError(f"{path}: holds no audio samples")
    _report(message, strict)
    return np.ascontiguousarray(resample(_mono(wave, str(path)), rate, sample_rate), dtype=np.float32)


def _read_segment(path: Path, offset: float, duration: float | None) -> tuple[np.ndarray, int]:
    """((N, C) samples of ``duration`` seconds (None: to the end) from ``offset`` on, the file's rate)."""
    if not (math.isfinite(offset) and offset >= 0) or (duration is not None and not duration > 0):
        raise AudioError(f"{path}: a segment needs offset >= 0 and duration > 0, got {offset} and {duration}")
    with _through_libsndfile(path, soundfile.SoundFile) as handle:
        _check_rate(path, handle.samplerate)
        start = round(offset * handle.samplerate)
        frames = -1 if duration is None else max(1, round(duration * handle.samplerate))
        try:
            if start < handle.frames:
                handle.seek(start)
                with _decoder_notes(path):
                    return handle.read(frames, dtype="float32", always_2d=True), handle.samplerate
        except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
            raise AudioError(f"{path}: reading from {offset:g} s failed ({error})") from None
        return np.zeros((0, handle.channels), dtype=np.float32), handle.samplerate


def stream_audio(path: str | Path, block_seconds: float = 30.0, sample_rate: int = SAMPLE_RATE):
    """Decode ``path`` block by block: memory stays bounded whatever the file's length. A file cut
    short or damaged yields what decodes, with a ``DfcnnWarning`` at its end (see the module docstring).

    Yields:
        np.ndarray blocks of shape (n,), float32 mono at ``sample_rate``; their concatenation matches
        ``load_audio(path)`` (exactly at 16 kHz; up to resampler edge effects otherwise).
    """
    path = Path(path)
    problem = _describe(path)
    if problem:
        raise AudioError(f"{path}: {problem}")
    resampler, pending = None, None  # pending: the last block read, resampled once the next shows it is not the last
    for block, rate in _read_blocks(path, block_seconds, strict=False):
        if resampler is None:
            resampler = stream_resampler(rate, sample_rate)
        if pending is not None:
            yield from _resampled(pending, resampler, last=False)
        pending = _mono(block, str(path))
    if pending is not None:
        yield from _resampled(pending, resampler, last=True)


def _resampled(mono: np.ndarray, resampler, last: bool):
    if resampler is not None:
        mono = resampler.resample_chunk(mono, last=last)
    if mono.shape[0]:
        yield np.ascontiguousarray(mono, dtype=np.float32)


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".sph", ".aiff", ".aif", ".au", ".w64", ".caf")


def expand_audio_paths(patterns: list[str | Path]) -> list[Path]:
    """Files, folders (searched recursively for audio suffixes) and glob patterns -> sorted unique paths.

    What cannot be read is kept, for the caller to report by name while it goes on with the rest: a
    pattern matching nothing, a folder without audio files, and inside a folder anything named like
    audio that is not a readable file (a symlink loop or a broken link, a pipe).
    """
    import glob

    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and not p.is_dir())
            found += inside or [path]
        elif not path.exists() and not path.is_symlink() and glob.has_magic(str(pattern)):
            matches = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
            found += [p for p in matches if not p.is_dir()] or [path]
        else:
            found.append(path)
    return list(dict.fromkeys(found))
