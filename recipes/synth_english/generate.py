"""Plan and render the synthetic English corpus: which sentence, voice and augmentation each utterance
gets (all drawn from one seed), and the audio, rendered in parallel, resumable, byte-identical on rerun.

    config = CorpusConfig(num_train=20, num_dev=5, num_test=5)
    jobs, babble = plan(config, sentences, default_voices())
    results = render_all(babble + jobs, out_dir / "audio", workers=2)
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile

from dfcnn import augment
from dfcnn.audio import resample
from dfcnn.fileio import atomic_write_bytes
from recipes.espeak.prepare import split_variants
from recipes.synth_english import texts, voices

SAMPLE_RATE = 16000
SPLITS = ("train", "dev", "test")
CHUNK = 16  # utterances per work unit: one Festival process serves a chunk's Festival takes
SPEECH_DBFS = -20.0  # speech RMS before augmentation, so noise and reverb see one level

# Which natural voices each split hears. Dev and test speakers are never heard in training: a held-out
# Flite voice for dev; one Flite and one Festival voice (other persons) for test. Kal and SLT, each
# through two or three engines, are the training speakers.
NATURAL_SPLITS = {
    "train": ("flite:kal", "flite:kal16", "flite:slt", "festival:kal_diphone", "festival:cmu_us_slt_arctic_hts"),
    "dev": ("flite:awb",),
    "test": ("flite:rms", "festival:ked_diphone"),
}


def default_voices() -> dict[str, tuple[str, ...]]:
    """Voice keys per split: ``NATURAL_SPLITS`` plus eSpeak variants split as the eSpeak demo corpus
    splits them (held-out families for dev and test, the base voice and the rest for train)."""
    variants = split_variants(voices.espeak.list_variants())
    return {split: NATURAL_SPLITS[split] + tuple(voices.espeak_voice(v).key for v in variants[split])
            for split in SPLITS}  # fmt: skip


@dataclass(frozen=True)
class CorpusConfig:
    """Everything the corpus depends on: the same config gives the same bytes."""

    seed: int = 0  # every random choice derives from it
    num_train: int = 16800  # utterances per split, each a different sentence: about 13.5 + 0.65 + 0.8 hours
    num_dev: int = 800
    num_test: int = 1000
    dev_fraction: float = 0.05  # share of the sentences held out for dev (by hash rank)
    test_fraction: float = 0.05  # share held out for test; train never speaks a dev or test sentence
    espeak_share: float = 0.35  # share of utterances spoken by eSpeak voices; Flite and Festival speak the rest
    stretch: tuple[float, float] = (0.85, 1.2)  # speaking-duration factor (engine rate); HTS ignores it
    espeak_pitch: tuple[int, int] = (25, 75)  # eSpeak base pitch, 0..100
    level_dbfs: tuple[float, float] = (-32.0, -18.0)  # final RMS level of the clip
    pad_s: tuple[float, float] = (0.05, 0.35)  # silence before and after the speech, before augmentation
    babble_clips: int = 40  # clean train-voice clips of unused train sentences that babble noise mixes
    augment: augment.AugmentConfig = field(default_factory=augment.AugmentConfig)  # per-utterance effects


def _ranked(items: Sequence[texts.Sentence], seed: int) -> list[texts.Sentence]:
    """The order of MD5(seed, transcript): stable across machines and Python versions."""
    return sorted(items, key=lambda s: hashlib.md5(f"{seed}:{s.text}".encode()).hexdigest())


def split_sentences(sentences: Sequence[texts.Sentence], config: CorpusConfig) -> dict[str, list[texts.Sentence]]:
    """Sentences per split, disjoint by transcript: dev and test are hash-ranked held-out shares.

    Within a split the small hand-picked sources (LJSpeech, ARCTIC, speechocean762) come first, then
    WordNet's examples, each in seeded hash order, so they are used in full before WordNet fills up.
    """
    from recipes.common import held_out  # with dfcnn.data (torch): not in the render workers

    dev, test = held_out((s.text for s in sentences), (config.dev_fraction, config.test_fraction))
    pools = {"train": [], "dev": [], "test": []}
    for sentence in sentences:
        split = "dev" if sentence.text in dev else "test" if sentence.text in test else "train"
        pools[split].append(sentence)
    for split, pool in pools.items():
        small = [s for s in pool if s.source != "wordnet"]
        pools[split] = _ranked(small, config.seed) + _ranked([s for s in pool if s.source == "wordnet"], config.seed)
    return pools


def _take_settings(rng: np.random.Generator, config: CorpusConfig, key: str) -> dict:
    accents = _english_accents()
    return {
        "voice": key,
        "stretch": round(float(rng.uniform(*config.stretch)), 3),
        "accent": accents[int(rng.integers(len(accents)))] if key.startswith("espeak:") else "",
        "pitch": int(rng.integers(config.espeak_pitch[0], config.espeak_pitch[1] + 1)),
        "take_seed": int(rng.integers(2**31)),
    }


@lru_cache(maxsize=1)
def _english_accents() -> tuple[str, ...]:
    return tuple(v.name for v in voices.espeak.list_english_voices())


def plan(config: CorpusConfig, sentences: Sequence[texts.Sentence], split_voices: dict[str, Sequence[str]]):
    """(utterance jobs, babble jobs): one dict per clip to render, every setting drawn from ``config.seed``."""
    for split in SPLITS:
        if not split_voices.get(split):
            raise texts.TextError(f"no voices for the {split} split")
    speakers = {split: {voices.voice(k).speaker for k in split_voices[split]} for split in SPLITS}
    for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
        if speakers[a] & speakers[b]:
            raise texts.TextError(f"{a} and {b} share speakers {sorted(speakers[a] & speakers[b])}")
    pools = split_sentences(sentences, config)
    sizes = {"train": config.num_train, "dev": config.num_dev, "test": config.num_test}
    rng = np.random.default_rng([config.seed, 20260])
    jobs = []
    for split in SPLITS:
        if len(pools[split]) < sizes[split]:
            raise texts.TextError(f"the {split} split needs {sizes[split]} sentences, the sources give "
                                  f"{len(pools[split])} (lower --num-{split} or raise its fraction)")  # fmt: skip
        keys = list(split_voices[split])
        espeak_keys = [k for k in keys if k.startswith("espeak:")]
        natural_keys = [k for k in keys if not k.startswith("espeak:")]
        for index, sentence in enumerate(pools[split][: sizes[split]]):
            use_espeak = bool(espeak_keys) and (not natural_keys or rng.random() < config.espeak_share)
            group = espeak_keys if use_espeak else natural_keys
            job = {"utt_id": f"{split}-{index:05d}", "split": split, "text": sentence.text,
                   "spoken": sentence.spoken, "source": sentence.source, "ref": sentence.ref}  # fmt: skip
            job.update(_take_settings(rng, config, group[int(rng.integers(len(group)))]))
            job.update({
                "level_dbfs": round(float(rng.uniform(*config.level_dbfs)), 2),
                "lead_s": round(float(rng.uniform(*config.pad_s)), 3),
                "trail_s": round(float(rng.uniform(*config.pad_s)), 3),
                "augment": config.augment.draw(rng),
            })  # fmt: skip
            jobs.append(job)
    spare = pools["train"][config.num_train : config.num_train + config.babble_clips]
    train_keys = list(split_voices["train"])
    babble = []
    for index, sentence in enumerate(spare):
        job = {"utt_id": f"babble-{index:03d}", "split": "babble", "text": sentence.text, "spoken": sentence.spoken}
        job.update(_take_settings(rng, config, train_keys[index % len(train_keys)]))
        babble.append(job)
    return jobs, babble


def _trim(wave: np.ndarray) -> np.ndarray:
    """Drop leading and trailing samples below 1/1000 of the peak (the engines' own silences)."""
    peak = float(np.abs(wave).max()) if len(wave) else 0.0
    loud = np.flatnonzero(np.abs(wave) > 1e-3 * peak)
    if peak < 1e-3 or len(loud) == 0:
        raise voices.VoiceError("the voice returned silence")
    return wave[loud[0] : loud[-1] + 1]


def finish(wave: np.ndarray, rate: int, job: dict, babble_sources: Sequence[np.ndarray]) -> np.ndarray:
    """Engine output -> the clip: trim, resample to 16 kHz, level, pad, augment, final level, peak <= 0.98."""
    wave = _trim(wave)
    wave = resample(wave, rate, SAMPLE_RATE, fix=False)  # soxr's own length: the corpus's bytes stay
    wave = wave * np.float32(10 ** (SPEECH_DBFS / 20) / (np.sqrt(np.mean(wave**2)) + 1e-12))
    if "lead_s" in job:
        lead, trail = round(job["lead_s"] * SAMPLE_RATE), round(job["trail_s"] * SAMPLE_RATE)
        wave = np.pad(wave, (lead, trail))
    if "augment" in job:
        wave = augment.augment(wave, SAMPLE_RATE, job["augment"], babble_sources)
    level = job.get("level_dbfs", SPEECH_DBFS)
    wave = wave * np.float32(10 ** (level / 20) / (np.sqrt(np.mean(wave**2)) + 1e-12))
    peak = float(np.abs(wave).max())
    if peak > 0.98:
        wave = wave * np.float32(0.98 / peak)
    return wave.astype(np.float32)


def audio_path(audio_dir: Path, job: dict) -> Path:
    return Path(audio_dir) / job["split"] / f"{job['utt_id']}.flac"


@lru_cache(maxsize=1)
def _babble_bank(folder: str) -> tuple[np.ndarray, ...]:
    paths = sorted(Path(folder).glob("babble-*.flac"))
    return tuple(soundfile.read(str(p), dtype="float32")[0] for p in paths)


def render_chunk(jobs: Sequence[dict], audio_dir: str) -> list[dict]:
    """Render the jobs whose file is missing; {utt_id, samples, peak, rms} for each (None levels when it
    already existed). Each file is written whole and renamed into place: a stop leaves none half-written."""
    results, todo = {}, []
    for job in jobs:
        path = audio_path(audio_dir, job)
        if path.is_file():
            results[job["utt_id"]] = {"utt_id": job["utt_id"], "samples": soundfile.info(str(path)).frames,
                                      "peak": None, "rms": None}  # fmt: skip
        else:
            todo.append(job)
    takes = [voices.Take(j["voice"], j["spoken"], j["stretch"], j["accent"] or "en-us", j["pitch"], j["take_seed"])
             for j in todo]  # fmt: skip
    needs_babble = any(j.get("augment", {}).get("noise") == "babble" for j in todo)
    bank = _babble_bank(str(Path(audio_dir) / "babble")) if needs_babble else ()
    for job, (wave, rate) in zip(todo, voices.synthesize(takes) if takes else []):
        try:
            clip = finish(wave, rate, job, bank)
        except voices.VoiceError as error:
            raise voices.VoiceError(f"{job['utt_id']} ({job['voice']}, {job['spoken']!r}): {error}") from None
        encoded = io.BytesIO()  # encode in memory, then one write
        soundfile.write(encoded, clip, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        atomic_write_bytes(audio_path(audio_dir, job), encoded.getvalue())
        results[job["utt_id"]] = {"utt_id": job["utt_id"], "samples": len(clip), "peak": float(np.abs(clip).max()),
                                  "rms": float(np.sqrt(np.mean(clip**2)))}  # fmt: skip
    return [results[job["utt_id"]] for job in jobs]


def chunks(jobs: Sequence[dict]) -> list[list[dict]]:
    """Work units of up to ``CHUNK`` jobs; Festival's are grouped so one process serves a chunk."""
    festival = [j for j in jobs if j["voice"].startswith("festival:")]
    others = [j for j in jobs if not j["voice"].startswith("festival:")]
    return [group[i : i + CHUNK] for group in (festival, others) for i in range(0, len(group), CHUNK)]


def _worker_start():
    voices._die_with_parent()  # a pool worker ends with the run that started it


def _render_star(args):
    return render_chunk(*args)


def render_all(jobs: Sequence[dict], audio_dir: Path, workers: int = 2,
               progress: Callable[[str], None] = print) -> dict[str, dict]:  # fmt: skip
    """Render every job (babble clips first, so babble noise can use them); results by utt_id."""
    results, begin = {}, time.time()
    babble = [j for j in jobs if j["split"] == "babble"]
    rest = [j for j in jobs if j["split"] != "babble"]
    for stage in (babble, rest):
        work = [(chunk, str(audio_dir)) for chunk in chunks(stage)]
        if workers == 1:
            done = map(_render_star, work)
        else:
            import multiprocessing

            # spawn: clean workers (no inherited threads or eSpeak state); each loads its engines itself
            pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_worker_start)
            done = pool.imap(_render_star, work, chunksize=1)
        try:
            for number, chunk_results in enumerate(done, 1):
                results.update((r["utt_id"], r) for r in chunk_results)
                if number % 50 == 0:
                    progress(f"  {len(results)}/{len(jobs)} clips ({time.time() - begin:.0f} s)")
        finally:
            if workers != 1:
                pool.terminate()
                pool.join()
    return results
