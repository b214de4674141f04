"""The voices of the synthetic English corpus: Flite and Festival (Debian packages, run as programs)
and eSpeak NG (in-process, through recipes/espeak/synth.py).

    takes = [Take("flite:slt", "Hello there."), Take("festival:ked_diphone", "Good morning.", stretch=1.1)]
    for wave, rate in synthesize(takes): ...     # float32 (N,) in [-1, 1], each engine's own rate

A voice key is ``engine:name``: ``flite:kal16``, ``festival:cmu_us_slt_arctic_hts``, ``espeak:f3`` (an
eSpeak variant spoken with any English accent; ``espeak:base`` is the accent's own voice). Several
keys can be one person: Flite's kal/kal16 and Festival's kal_diphone are all Kal's diphones, Flite's
slt and Festival's HTS slt are both SLT of CMU ARCTIC. ``Voice.speaker`` names the person, so a split
that holds a voice out holds out the person.

Flite and Festival give the same samples for the same text and settings (checked by the tests);
eSpeak does with ``synth.synthesize(seed=...)``. Every child process is killed with its parent
(Linux PR_SET_PDEATHSIG) and has a timeout.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from recipes.espeak import synth as espeak

INSTALL_HINT = "bash tools/install_tts.sh (apt: flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts)"
ESPEAK_VOLUME = 70  # eSpeak amplitude (100 = default): some variants clip inside eSpeak at 100
ESPEAK_WPM = 150  # eSpeak rate at stretch 1 (its default, 175, is brisker than Flite and Festival)
NEURAL_ENGINES = ("kokoro", "piper", "pico")  # neural_voices.py: keys kokoro:<pack or mixture>, piper:joe, pico:en-US


class VoiceError(RuntimeError):
    """A voice is missing or failed; the message says which and how to install it."""


@dataclass(frozen=True)
class Voice:
    """One synthetic voice."""

    key: str  # engine:name, as used in plans and manifests
    engine: str  # flite, festival, espeak, or a neural engine: kokoro, piper, pico
    name: str  # the engine's own name for it (eSpeak: the variant, "" for the base voice)
    speaker: str  # the person (or eSpeak variant) it sounds like: one split per speaker
    about: str  # accent, sex and synthesis method


NATURAL = (
    Voice("flite:kal", "flite", "kal", "kal", "US male, diphone, 8 kHz"),
    Voice("flite:kal16", "flite", "kal16", "kal", "US male, diphone, 16 kHz"),
    Voice("flite:awb", "flite", "awb", "awb", "Scottish English male, clustergen"),
    Voice("flite:rms", "flite", "rms", "rms", "US male, clustergen"),
    Voice("flite:slt", "flite", "slt", "slt", "US female, clustergen"),
    Voice("festival:kal_diphone", "festival", "kal_diphone", "kal", "US male, diphone (Festival)"),
    Voice("festival:ked_diphone", "festival", "ked_diphone", "ked", "US male, diphone (Festival)"),
    Voice("festival:cmu_us_slt_arctic_hts", "festival", "cmu_us_slt_arctic_hts", "slt", "US female, HTS"),
)


def espeak_voice(variant: str) -> Voice:
    return Voice(f"espeak:{variant or 'base'}", "espeak", variant, f"espeak-{variant or 'base'}",
                 "eSpeak NG formant synthesis, any English accent")  # fmt: skip


def voice(key: str) -> Voice:
    """The ``Voice`` of a key; ``VoiceError`` for an unknown one."""
    for known in NATURAL:
        if known.key == key:
            return known
    if key.startswith("espeak:"):
        return espeak_voice("" if key == "espeak:base" else key.split(":", 1)[1])
    if key.split(":", 1)[0] in NEURAL_ENGINES:
        from recipes.synth_english import neural_voices  # Kokoro, Piper, Pico (the 'voices' extra)

        return neural_voices.neural_voice(key)
    raise VoiceError(f"unknown voice {key!r}: one of {', '.join(v.key for v in NATURAL)} or espeak:<variant>")


@dataclass(frozen=True)
class Take:
    """One sentence for one voice, with its delivery."""

    voice: str  # voice key
    spoken: str  # text to read (letters, apostrophes, pause punctuation)
    stretch: float = 1.0  # duration factor, > 1 slower: Flite/Festival duration_stretch, eSpeak 150/stretch wpm,
    #   Kokoro speed 1/stretch, Piper length_scale, Pico rate 100/stretch %
    accent: str = "en-us"  # eSpeak base voice (en-us, en, en-gb-scotland, ...); Kokoro: en-us or en-gb phonemes
    pitch: int = 50  # eSpeak base pitch 0..100; Pico 90-110% for 25-75; others ignore it
    seed: int = 0  # eSpeak breath noise; Piper's VITS noise


def _die_with_parent():  # runs in the child between fork and exec
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess:
    program = shutil.which(command[0])
    if program is None:
        raise VoiceError(f"{command[0]} is not installed: {INSTALL_HINT}")
    try:
        return subprocess.run([program, *command[1:]], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise VoiceError(f"{command[0]} took more than {timeout:.0f} s") from None


def _read(path: Path, what: str, stderr: str) -> tuple[np.ndarray, int]:
    if not path.is_file() or path.stat().st_size <= 44:
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        raise VoiceError(f"{what}: no audio written ({tail or 'no message'})")
    wave, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(wave.mean(axis=1)), rate


def _flite(take: Take, folder: Path) -> tuple[np.ndarray, int]:
    name = voice(take.voice).name
    out = folder / "flite.wav"
    out.unlink(missing_ok=True)
    done = _run(["flite", "-voice", name, "--setf", f"duration_stretch={take.stretch:.4f}",
                 "-t", take.spoken, "-o", str(out)], timeout=120)  # fmt: skip
    return _read(out, f"flite -voice {name} {take.spoken!r}", done.stderr)


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _festival(takes: Sequence[Take], folder: Path) -> list[tuple[np.ndarray, int]]:
    """All of ``takes`` in one Festival process (its start-up, ~0.45 s, dwarfs one sentence)."""
    lines = []
    for index, take in enumerate(takes):
        # every take sets its voice and stretch: the result does not depend on the takes before it
        lines += [
            f"(voice_{voice(take.voice).name})",
            f"(Parameter.set 'Duration_Stretch {take.stretch:.4f})",
            f'(utt.save.wave (SynthText {_scheme_string(take.spoken)}) "{folder / f"{index}.wav"}" \'riff)',
        ]
    script = folder / "takes.scm"
    script.write_text("\n".join(lines) + "\n")
    done = _run(["festival", "-b", str(script)], timeout=60 + 10 * len(takes))
    waves = []
    for index, take in enumerate(takes):
        waves.append(_read(folder / f"{index}.wav", f"festival {take.voice} {take.spoken!r}", done.stderr))
    return waves


def _espeak(take: Take) -> tuple[np.ndarray, int]:
    variant = voice(take.voice).name
    name = f"{take.accent}+{variant}" if variant else take.accent
    rate_wpm = int(np.clip(round(ESPEAK_WPM / take.stretch), 80, 450))
    try:
        return espeak.synthesize(take.spoken, name, rate_wpm, take.pitch, 50, volume=ESPEAK_VOLUME, seed=take.seed)
    except espeak.EspeakError as error:
        raise VoiceError(f"eSpeak {name}: {error}") from None


def synthesize(takes: Sequence[Take]) -> list[tuple[np.ndarray, int]]:
    """(float32 samples (N,), sample rate) for each take, in order; Festival takes share one process."""
    results: list[tuple[np.ndarray, int] | None] = [None] * len(takes)
    with tempfile.TemporaryDirectory(prefix="synth-english-") as tmp:
        folder = Path(tmp)
        festival = [i for i, take in enumerate(takes) if voice(take.voice).engine == "festival"]
        if festival:
            for index, result in zip(festival, _festival([takes[i] for i in festival], folder)):
                results[index] = result
        for index, take in enumerate(takes):
            engine = voice(take.voice).engine
            if engine == "flite":
                results[index] = _flite(take, folder)
            elif engine == "espeak":
                results[index] = _espeak(take)
            elif engine in NEURAL_ENGINES:
                from recipes.synth_english import neural_voices

                results[index] = neural_voices.synthesize(take)
    return results


def check_voices(keys: Sequence[str]) -> list[str]:
    """One line per voice that is missing or gives no plausible speech for a test sentence (empty: all work)."""
    problems = []
    sentence = "The quick brown fox jumps over the lazy dog."  # nine words: 1.5 to 6 s at any sane rate
    for key in keys:
        try:
            wave, rate = synthesize([Take(key, sentence)])[0]
        except VoiceError as error:
            problems.append(f"{key}: {error}")
            continue
        seconds, rms = len(wave) / rate, float(np.sqrt(np.mean(wave**2))) if len(wave) else 0.0
        if not (1.5 <= seconds <= 6.0 and rms > 1e-3):
            problems.append(f"{key}: implausible test sentence ({seconds:.2f} s, rms {rms:.4f}): {INSTALL_HINT}")
    return problems
