"""The neural-voice English corpus: which sentence, voice and augmentation each utterance gets, and its
incremental build (dev, test, then train, in blocks; the manifests are rewritten after each block).

    config = NeuralConfig(num_train=200, num_dev=20, num_test=20)
    split_voices = default_voices(config)                  # {split: voice keys}, speakers disjoint
    jobs, babble = plan(config, sentences, split_voices)
    build(out, config, sentences, split_voices, workers=1)

Every utterance draws its settings from its own generator, seeded by (seed, split, index): the first N
train clips of a larger corpus are those of a smaller one, so 5, 10 and 20 h corpora are prefixes of
one another, and the sizes can grow between runs without touching the audio already made.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dfcnn import augment
from dfcnn.data import Utterance, write_manifest
from dfcnn.fileio import atomic_write_text
from dfcnn.text import build_vocab, save_vocab
from recipes.synth_english import generate, neural_voices, texts, voices

VERSION = 1  # bump when the same settings would give different audio
SPLITS = ("dev", "test", "train")  # the rendering order: dev and test exist early
SPLIT_CODE = {"train": 0, "dev": 1, "test": 2, "babble": 3, "mixtures": 4}  # seeds each one's generators
BLOCK = 100  # utterances between manifest rewrites (and progress lines)
HELDOUT_SHARES = {"pack": 0.8, "mixture": 0.2}  # dev and test: utterances by held-out packs, by their mixtures
LANGUAGES = {"en": "char", "zh": "pinyin"}  # corpus language: the token unit of its vocab.txt

# Kokoro packs never heard in training (their persons): American, British, Mandarin and other-L1 voices
DEV_PACKS = ("af_nova", "am_eric", "bf_lily", "zm_yunyang", "if_sara", "jm_kumo")
TEST_PACKS = ("af_sky", "am_liam", "bm_lewis", "zf_xiaobei", "hf_beta", "pm_alex", "ef_dora")


@dataclass(frozen=True)
class NeuralConfig:
    """Everything the corpus depends on. The sizes are not in its fingerprint: they only cut prefixes."""

    seed: int = 0  # every random choice derives from it
    num_train: int = 25000  # utterances per split (about 2.9 s each: 20 h of train audio)
    num_dev: int = 600
    num_test: int = 600
    dev_fraction: float = 0.05  # share of the sentences held out for dev (by hash rank)
    test_fraction: float = 0.05  # share held out for test; train never speaks a dev or test sentence
    # share of train utterances per voice group (dev and test: HELDOUT_SHARES)
    shares: dict = field(default_factory=lambda: {"english": 0.30, "mandarin": 0.25, "other": 0.15,
                                                  "mixture": 0.20, "piper": 0.05, "pico": 0.05})  # fmt: skip
    train_mixtures: int = 48  # new speakers: half Mandarin x English packs, half any two train packs
    heldout_mixtures: int = 3  # per held-out split, of that split's packs
    mix_weight: tuple[float, float] = (0.3, 0.7)  # weight of a mixture's first pack
    stretch: tuple[float, float] = (0.85, 1.2)  # speaking-duration factor (Kokoro speed 1/stretch)
    pitch: tuple[int, int] = (25, 75)  # Pico pitch 90-110%
    level_dbfs: tuple[float, float] = (-32.0, -18.0)  # final RMS level of the clip
    pad_s: tuple[float, float] = (0.05, 0.35)  # silence before and after the speech, before augmentation
    babble_clips: int = 40  # clean train-voice clips of the last train sentences, for babble noise
    augment: augment.AugmentConfig = field(default_factory=augment.AugmentConfig)  # per-utterance effects
    language: str = "en"  # en: Kokoro reads through eSpeak NG's English; zh: misaki's Mandarin phonemes

    def __post_init__(self):
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {self.language!r}")


def _group(pack: str) -> str:
    return "english" if pack[0] in "ab" else "mandarin" if pack[0] == "z" else "other"


def draw_mixtures(rng: np.random.Generator, packs: list[str], count: int, config: NeuralConfig,
              first: list[str] | None = None, second: list[str] | None = None) -> list[str]:  # fmt: skip
    """``count`` distinct two-pack mixtures: the first pack from ``first`` (default: packs), the other
    from ``second`` (default: packs), weight of the first drawn from ``config.mix_weight``."""
    names: list[str] = []
    while len(names) < count:
        a = (first or packs)[int(rng.integers(len(first or packs)))]
        b = (second or packs)[int(rng.integers(len(second or packs)))]
        weight = float(rng.uniform(*config.mix_weight))
        name = neural_voices.mixture_name([(a, weight), (b, 1.0 - weight)])
        if a != b and name not in names:
            names.append(name)
    return names


def default_voices(config: NeuralConfig, packs: list[str] | None = None) -> dict[str, dict[str, list[str]]]:
    """{split: {group: voice keys}}: Kokoro packs by accent group, mixtures, Piper and Pico (train only).
    The held-out splits' packs and mixtures are of ``DEV_PACKS``/``TEST_PACKS`` only."""
    packs = neural_voices.available_packs() if packs is None else sorted(packs)
    missing = sorted(set(DEV_PACKS + TEST_PACKS) - set(packs))
    if missing:
        raise voices.VoiceError(f"Kokoro packs {', '.join(missing)} not found in {neural_voices.packs_dir()}")
    train = [p for p in packs if p not in DEV_PACKS + TEST_PACKS]
    rng = np.random.default_rng([config.seed, SPLIT_CODE["mixtures"]])
    mandarin = [p for p in train if _group(p) == "mandarin"]
    english = [p for p in train if _group(p) == "english"]
    half = config.train_mixtures // 2
    mixtures = draw_mixtures(rng, train, half, config, mandarin, english)
    mixtures += [m for m in draw_mixtures(rng, train, config.train_mixtures, config) if m not in mixtures]
    groups = {g: [f"kokoro:{p}" for p in train if _group(p) == g] for g in ("english", "mandarin", "other")}
    groups["mixture"] = [f"kokoro:{m}" for m in mixtures[: config.train_mixtures]]
    groups["piper"], groups["pico"] = [neural_voices.PIPER.key], [v.key for v in neural_voices.PICO]
    split_voices = {"train": groups}
    for split, held in (("dev", DEV_PACKS), ("test", TEST_PACKS)):
        mixed = draw_mixtures(rng, list(held), config.heldout_mixtures, config)
        split_voices[split] = {"pack": [f"kokoro:{p}" for p in held], "mixture": [f"kokoro:{m}" for m in mixed]}
    return split_voices


def _accent(key: str, language: str) -> str:
    """The phonemiser Kokoro gets: misaki's Mandarin for zh; British English for a British pack (first
    pack of a mixture)."""
    return "zh" if language == "zh" else "en-gb" if key.startswith("kokoro:b") else "en-us"


def _job(config: NeuralConfig, split: str, index: int, sentence: texts.Sentence, groups: dict[str, list[str]]) -> dict:
    rng = np.random.default_rng([config.seed, SPLIT_CODE[split], index])
    shares = config.shares if split == "train" else {"babble": 1.0} if split == "babble" else HELDOUT_SHARES
    names = [g for g in shares if groups.get(g)]
    weights = np.array([shares[g] for g in names])
    group = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    key = groups[group][int(rng.integers(len(groups[group])))]
    job = {"utt_id": f"{split}-{index:05d}", "split": split, "text": sentence.text, "spoken": sentence.spoken,
           "source": sentence.source, "ref": sentence.ref, "voice": key, "group": group,
           "stretch": round(float(rng.uniform(*config.stretch)), 3),
           "accent": _accent(key, config.language) if key.startswith("kokoro:") else "",
           "pitch": int(rng.integers(config.pitch[0], config.pitch[1] + 1)),
           "take_seed": int(rng.integers(2**31))}  # fmt: skip
    if split != "babble":
        job.update({"level_dbfs": round(float(rng.uniform(*config.level_dbfs)), 2),
                    "lead_s": round(float(rng.uniform(*config.pad_s)), 3),
                    "trail_s": round(float(rng.uniform(*config.pad_s)), 3),
                    "augment": config.augment.draw(rng)})  # fmt: skip
    return job


def plan(config: NeuralConfig, sentences, split_voices: dict[str, dict[str, list[str]]]):
    """(utterance jobs in rendering order: dev, test, train; babble jobs)."""
    speakers = {s: {voices.voice(k).speaker for keys in split_voices[s].values() for k in keys} for s in split_voices}
    for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
        if speakers[a] & speakers[b]:
            raise texts.TextError(f"{a} and {b} share speakers {sorted(speakers[a] & speakers[b])}")
    pools = generate.split_sentences(sentences, config)
    usable = {"train": len(pools["train"]) - config.babble_clips, "dev": len(pools["dev"]), "test": len(pools["test"])}
    sizes = {"train": config.num_train, "dev": config.num_dev, "test": config.num_test}
    jobs = []
    for split in SPLITS:
        if usable[split] < sizes[split]:
            raise texts.TextError(f"the {split} split needs {sizes[split]} sentences, the sources give "
                                  f"{usable[split]} (lower --num-{split})")  # fmt: skip
        jobs += [_job(config, split, i, s, split_voices[split]) for i, s in enumerate(pools[split][: sizes[split]])]
    train = split_voices["train"]  # babble talkers: the English and Mandarin packs (else every train voice)
    talkers = train.get("english", []) + train.get("mandarin", []) or [k for keys in train.values() for k in keys]
    spare = pools["train"][-config.babble_clips :] if config.babble_clips else []  # never spoken in train
    babble = []
    for index, sentence in enumerate(spare):
        job = _job(config, "babble", index, sentence, {"babble": [talkers[index % len(talkers)]]})
        babble.append(job | {"utt_id": f"babble-{index:03d}"})
    return jobs, babble


def fingerprint(config: NeuralConfig, sentences, split_voices) -> dict:
    """What the audio depends on (not the sizes): a changed value makes the old audio stale."""
    digest = hashlib.md5("\n".join(f"{s.spoken}\t{s.source}" for s in sentences).encode()).hexdigest()
    settings = {k: v for k, v in dataclasses.asdict(config).items() if not k.startswith("num_")}
    if settings["language"] == "en":  # English corpora made before the field existed stay valid
        del settings["language"]
    return json.loads(json.dumps({"version": VERSION, "config": settings, "sentences_md5": digest,
                                  "voices": split_voices, "kokoro_sha256": neural_voices.KOKORO_SHA256}))  # fmt: skip


def rejected(out: Path) -> dict[str, str]:
    """{utt_id: reason} of the clips the speech check dropped (``rejected.json``; empty when unchecked)."""
    try:
        return json.loads((out / "rejected.json").read_text())["files"]
    except (OSError, ValueError, KeyError):
        return {}


def write_manifests(out: Path, jobs: list[dict], done: dict[str, dict], unit: str = "char") -> dict[str, dict]:
    """Each split's manifest of its finished clips (the finished prefix) less the rejected ones;
    vocab.txt of the train transcripts (``unit``: char, or pinyin syllables). {split: {utterances, hours}}."""
    dropped, summary = rejected(out), {}
    for split in SPLITS:
        utterances = []
        for job in (j for j in jobs if j["split"] == split):
            if job["utt_id"] not in done:
                break  # a prefix: the first gap ends it
            if job["utt_id"] in dropped:
                continue
            path = generate.audio_path(out / "audio", job).relative_to(out)
            duration = round(done[job["utt_id"]]["samples"] / generate.SAMPLE_RATE, 4)
            utterances.append(Utterance(path, duration, job["text"], job["utt_id"]))
        if utterances:
            write_manifest(out / f"{split}.jsonl", utterances)
            hours = round(sum(u.duration for u in utterances) / 3600, 4)
            summary[split] = {"utterances": len(utterances), "hours": hours}
        if split == "train" and utterances:
            save_vocab(build_vocab((u.text for u in utterances), unit=unit), out / "vocab.txt")
    return summary


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def build(out: Path, config: NeuralConfig, sentences, split_voices, workers: int = 1, log=print) -> dict:
    """Plan and render (resuming what an earlier run left), rewriting the manifests as splits and train
    blocks finish; corpus.json holds every utterance's settings, generation.json the time it took."""
    out = out.resolve()
    settings = fingerprint(config, sentences, split_voices)
    started = out / ".config"
    try:
        previous = json.loads(started.read_text())
    except (OSError, ValueError):
        previous = None
    if previous is not None and previous != settings:
        log(f"{out}: other settings than the audio there was made with: starting again")
        shutil.rmtree(out / "audio", ignore_errors=True)
        (out / "generation.json").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(started, json.dumps(settings) + "\n")
    for stale in (out / "audio").glob("*/.*.tmp"):  # half-written by an interrupted run
        stale.unlink(missing_ok=True)
    jobs, babble = plan(config, sentences, split_voices)
    settings_of = {j["utt_id"]: {k: v for k, v in j.items() if k not in ("utt_id", "split", "text")} for j in jobs}
    description = {"version": VERSION, "seed": config.seed, "sample_rate": generate.SAMPLE_RATE,
                   "voices": split_voices, "utterances": settings_of}  # fmt: skip
    atomic_write_text(out / "corpus.json", json.dumps(description, indent=1) + "\n")
    record_path = out / "generation.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {"runs": []}
    run = {"workers": workers, "start": time.strftime("%Y-%m-%d %H:%M:%S"), "wall_s": 0.0, "cpu_s": 0.0,
           "clips_made": 0, "audio_s_made": 0.0}  # fmt: skip
    record["runs"].append(run)
    begin, cpu0, done = time.time(), _cpu_seconds(), {}
    stages = [babble]
    for split in SPLITS:  # dev, test, train: each in blocks, each block's end rewrites the manifests
        chosen = [j for j in jobs if j["split"] == split]
        stages += [chosen[i : i + BLOCK] for i in range(0, len(chosen), BLOCK)]
    for stage in stages:
        if not stage:
            continue
        missing = sum(not generate.audio_path(out / "audio", j).is_file() for j in stage)
        results = generate.render_all(stage, out / "audio", workers, progress=log)
        done.update(results)
        made = [r for r in results.values() if r["peak"] is not None]
        run["clips_made"] += len(made)
        run["audio_s_made"] = round(run["audio_s_made"] + sum(r["samples"] for r in made) / generate.SAMPLE_RATE, 2)
        run["wall_s"], run["cpu_s"] = round(time.time() - begin, 1), round(_cpu_seconds() - cpu0, 1)
        summary = write_manifests(out, jobs, done, LANGUAGES[config.language])
        record["splits"] = summary
        atomic_write_text(record_path, json.dumps(record, indent=1) + "\n")
        if missing:
            per_hour = run["cpu_s"] / max(run["audio_s_made"] / 3600, 1e-9)
            hours = " ".join(f"{s} {v['utterances']} clips {v['hours']:.3f} h" for s, v in summary.items())
            log(f"[{time.strftime('%H:%M:%S')}] {stage[-1]['utt_id']}: {hours} | this run: {run['clips_made']} clips, "
                f"{run['audio_s_made'] / 3600:.3f} h in {run['wall_s']:.0f} s wall, {run['cpu_s']:.0f} s CPU "
                f"({per_hour / 3600:.2f} CPU h per audio h)")  # fmt: skip
    sizes = {"sizes": [config.num_train, config.num_dev, config.num_test]}
    atomic_write_text(out / ".done", json.dumps(settings | sizes) + "\n")
    return record
