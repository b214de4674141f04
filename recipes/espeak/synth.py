"""Speech from eSpeak NG for the demo corpus, on dfcnn's binding to the library (``dfcnn.espeak``: the
library and voices of the PyPI package ``espeakng-loader``).

Synthesis runs in-process (``AUDIO_OUTPUT_SYNCHRONOUS`` and a synth callback that collects the
samples), so no ``espeak-ng`` program, audio device or temporary WAV file is involved:

    audio, rate = synthesize("three seven zero nine", voice="en-us+f3", rate_wpm=160, pitch=60)
    # audio: float32 numpy array in [-1, 1]; rate: 22050 (eSpeak's native sample rate)

A voice is a base voice (an accent: ``en-us``, ``en`` (British), ``en-gb-scotland``, ...) plus an
optional variant from ``espeak-ng-data/voices/!v`` (``+m3``, ``+f2``, ``+klatt4``, ``+Alex``, ...)
that changes the speaker: formants, pitch, voicing, the Klatt synthesiser.

Things eSpeak NG does that this module hides:

* Unknown variants are ignored without an error (``en-us+nosuch`` speaks as ``en-us``), and variant
  file names are case-sensitive (``+alex`` is silently not ``+Alex``). ``synthesize`` checks the
  variant file itself and raises ``EspeakError``.
* The library keeps static state between utterances that ``espeak_Terminate``/``espeak_Initialize``
  do not reset (the pitch-flutter phase and the like), so the same call gives slightly different
  audio depending on what was spoken before in the process. With ``fresh=True`` (the default) the
  shared library is unloaded and loaded again (dlclose/dlopen and initialisation, about 6 ms) before each utterance:
  the audio is then a pure function of the arguments, whatever the worker or order.
* Breath noise (variants with a ``breath`` setting: f2, f3, Reed, ...) comes from the C library's
  ``rand()``, whose state belongs to the whole process. ``synthesize`` seeds it (``srand(seed)``)
  before each utterance, so other ``rand()`` users in the process see a reseeded generator
  (numpy and Python's ``random`` have their own generators and are not affected).
* The library is global state: calls are serialised by a lock. For parallelism use processes
  (each loads its own copy), e.g. ``multiprocessing`` with a couple of workers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dfcnn.espeak import SYNTH_CALLBACK, EspeakError, close_library, library_paths, open_library

# espeak_POSITION_TYPE, flags, espeak_PARAMETER and espeak_ERROR (speak_lib.h)
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE, ESPEAK_VOLUME, ESPEAK_PITCH, ESPEAK_RANGE, ESPEAK_WORDGAP = 1, 2, 3, 4, 7
EE_OK = 0
_ERRORS = {-1: "internal error", 1: "buffer full", 2: "not found"}

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class Voice:
    """A base voice, as ``espeak_ListVoices`` reports it."""

    name: str  # what to pass to ``synthesize`` (``en-us``, ``en``, ``en-gb-scotland``, ...)
    description: str  # eSpeak's own name ("English (America)")
    identifier: str  # file under espeak-ng-data/voices or lang ("gmw/en-US")
    languages: tuple[str, ...]  # language tags, best match first
    gender: str  # "male", "female" or "" (eSpeak's base voices are all "male")


def _private_copy(library: str) -> str:
    """A path to a copy of the library that only this engine opens (Linux: an in-memory file).

    ``dlopen`` shares one instance per file: were the library opened elsewhere in the process
    (dfcnn.pronounce's letter-to-sound, another copy of this module), ``dlclose`` would not unload
    it and ``fresh`` could not reset its state. The copy lives as long as the process holds the descriptor.
    """
    if not (hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")):
        return library
    try:
        fd = os.memfd_create("libespeak-ng.so", os.MFD_CLOEXEC)
        with open(library, "rb") as source, open(fd, "wb", closefd=False) as target:
            shutil.copyfileobj(source, target)
    except OSError:
        return library
    return f"/proc/self/fd/{fd}"


def _still_mapped(path: str) -> bool:
    """Whether the file at ``path`` is still mapped into this process (Linux; False elsewhere)."""
    try:
        inode = str(os.stat(path).st_ino)
        with open("/proc/self/maps") as maps:
            return any(len(f) > 5 and f[4] == inode and "espeak" in f[5] for f in map(str.split, maps))
    except OSError:
        return False


class _Engine:
    """The loaded library with its callback; one per process (re-created after a fork)."""

    def __init__(self):
        self.load_path = _private_copy(library_paths()[0])
        self.checked_unload = False
        self.pid = os.getpid()
        self.lib = None
        self.sample_rate = 0
        self.chunks: list[np.ndarray] = []
        self.callback = SYNTH_CALLBACK(self._collect)  # kept referenced: eSpeak holds the pointer
        self.load()

    def _collect(self, wav, count, events):
        if wav and count > 0:
            self.chunks.append(np.frombuffer(ctypes.string_at(wav, count * 2), dtype=np.int16))
        return 0  # 0: go on; 1 would abort the synthesis

    def seed(self, seed: int):
        """Seed the random numbers eSpeak draws: libc's ``rand()`` and, where present, its own."""
        _libc().srand(ctypes.c_uint(seed & 0xFFFFFFFF))
        if hasattr(self.lib, "espeak_ng_SetRandSeed"):  # eSpeak NG >= 1.52
            self.lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))

    def load(self):
        """Load (or unload and load again) the library and initialise it: a clean state."""
        if self.lib is not None:
            close_library(self.lib)
            self.lib = None
            if not self.checked_unload:
                self.checked_unload = True
                if _still_mapped(self.load_path):
                    warnings.warn(
                        "eSpeak NG could not be unloaded: its audio will depend on earlier calls", stacklevel=3
                    )
        lib, rate = open_library(self.load_path)
        lib.espeak_SetSynthCallback(self.callback)
        self.lib, self.sample_rate = lib, rate


def _libc():
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None)
        _LIBC.srand.argtypes = [ctypes.c_uint]
        _LIBC.srand.restype = None
    return _LIBC


_LIBC = None
_lock = threading.RLock()
_engine: _Engine | None = None


def _get_engine() -> _Engine:
    global _engine
    if _engine is None or _engine.pid != os.getpid():
        _engine = _Engine()
    return _engine


def sample_rate() -> int:
    """eSpeak's output sample rate (22050 Hz)."""
    with _lock:
        return _get_engine().sample_rate


def _languages(pointer: int) -> tuple[str, ...]:
    tags = []
    while pointer:
        priority = ctypes.string_at(pointer, 1)[0]
        if priority == 0:
            break
        tag = ctypes.string_at(pointer + 1)
        tags.append((priority, tag.decode("utf-8", "replace")))
        pointer += 2 + len(tag)
    return tuple(tag for _, tag in sorted(tags, key=lambda pair: pair[0]))


def list_english_voices() -> list[Voice]:
    """The English base voices (accents) of the installed data, Shavian-script English excepted."""
    with _lock:
        engine = _get_engine()
        table = engine.lib.espeak_ListVoices(None)
        voices = []
        for index in range(100000):
            if not table[index]:
                break
            entry = table[index].contents
            identifier = entry.identifier.decode()
            languages = _languages(entry.languages)
            if identifier.startswith("!v/") or not any(tag == "en" or tag.startswith("en-") for tag in languages):
                continue
            name = identifier.rsplit("/", 1)[-1].lower()
            if name == "en-shaw":  # reads the Shavian alphabet, not Latin letters
                continue
            gender = {1: "male", 2: "female"}.get(entry.gender, "")
            voices.append(Voice(name, entry.name.decode(), identifier, languages, gender))
    return sorted(voices, key=lambda voice: voice.name)


def variants_dir() -> Path:
    return Path(library_paths()[1]) / "voices" / "!v"


def list_variants() -> list[str]:
    """Names of the voice variants (``m1``, ``f3``, ``klatt2``, ``Alex``, ...), case as on disk."""
    folder = variants_dir()
    return sorted((p.name for p in folder.iterdir() if p.is_file()), key=str.lower)


def _check_variant(voice: str) -> None:
    if "+" not in voice:
        return
    variant = voice.split("+", 1)[1]
    if variant.isdigit():  # eSpeak reads "+3" as "+m3"
        variant = "m" + variant
    if not variant or not (variants_dir() / variant).is_file():
        close = [v for v in list_variants() if v.lower() == variant.lower()]
        hint = f"; did you mean +{close[0]}? (names are case-sensitive)" if close else ""
        raise EspeakError(f"unknown eSpeak voice variant {variant!r} in {voice!r}{hint}")


def synthesize(
    text: str,
    voice: str = "en-us",
    rate_wpm: int = 175,
    pitch: int = 50,
    pitch_range: int = 50,
    volume: int = 100,
    word_gap: int = 0,
    seed: int = 0,
    fresh: bool = True,
) -> tuple[np.ndarray, int]:
    """Speak ``text`` and return (float32 samples in [-1, 1], sample rate).

    Args:
        voice: base voice, optionally ``+variant`` (``en-us+f3``, ``en-gb-scotland+klatt2``).
        rate_wpm: speaking rate in words a minute (80..450; eSpeak's default is 175).
        pitch: base pitch, 0..100 (50: the voice's own).
        pitch_range: intonation range, 0..100 (0: monotone, 50: normal).
        volume: amplitude, 0..200 (100: normal; above it may clip).
        word_gap: extra pause between words, in units of 10 ms.
        seed: seeds eSpeak's random numbers (breath noise): same arguments, same samples.
        fresh: reload the library first so the result does not depend on earlier calls.
    """
    if not text.strip():
        raise EspeakError("nothing to say: empty text")
    for name, value, low, high in (
        ("rate_wpm", rate_wpm, 80, 450), ("pitch", pitch, 0, 100), ("pitch_range", pitch_range, 0, 100),
        ("volume", volume, 0, 200), ("word_gap", word_gap, 0, 1000),
    ):  # fmt: skip
        if not low <= int(value) <= high:
            raise EspeakError(f"{name}={value} is outside {low}..{high}")
    _check_variant(voice)
    with _lock:
        engine = _get_engine()
        if fresh:
            engine.load()
        lib = engine.lib
        status = lib.espeak_SetVoiceByName(voice.encode())
        if status != EE_OK:
            raise EspeakError(f"eSpeak has no voice {voice!r} ({_ERRORS.get(status, status)})")
        for parameter, value in (
            (ESPEAK_RATE, rate_wpm), (ESPEAK_PITCH, pitch), (ESPEAK_RANGE, pitch_range),
            (ESPEAK_VOLUME, volume), (ESPEAK_WORDGAP, word_gap),
        ):  # fmt: skip
            status = lib.espeak_SetParameter(parameter, int(value), 0)
            if status != EE_OK:
                raise EspeakError(f"espeak_SetParameter({parameter}, {value}) failed ({_ERRORS.get(status, status)})")
        data = text.encode("utf-8") + b"\0"
        engine.seed(seed)
        engine.chunks = []
        status = lib.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None)
        chunks, engine.chunks = engine.chunks, []
        if status != EE_OK:
            raise EspeakError(f"espeak_Synth failed for {text!r} ({_ERRORS.get(status, status)})")
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        return samples.astype(np.float32) / 32768.0, engine.sample_rate


def digits_to_words(digits: str) -> str:
    """``"3709"`` -> ``"three seven zero nine"``."""
    return " ".join(DIGIT_WORDS[int(d)] for d in digits)


if __name__ == "__main__":  # a quick look: python -m recipes.espeak.synth "hello world" en-us+f3
    import sys

    say = sys.argv[1] if len(sys.argv) > 1 else "three seven zero nine"
    who = sys.argv[2] if len(sys.argv) > 2 else "en-us"
    audio, rate = synthesize(say, who)
    print(f"{who}: {len(audio) / rate:.2f} s at {rate} Hz, rms {float(np.sqrt(np.mean(audio**2))):.4f}")
    print("base voices:", ", ".join(v.name for v in list_english_voices()))
    print("variants:", ", ".join(list_variants()))
