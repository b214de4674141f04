#!/usr/bin/env python3
"""Build the demo corpus: English digit strings and short sentences spoken by eSpeak NG voices.

    python -m recipes.espeak.prepare --out recipes/espeak/data [--num-train 4000] [--num-dev 200]
        [--num-test 300] [--seed 0] [--jobs 2] [--force]

    from recipes.espeak.prepare import prepare_espeak
    splits = prepare_espeak("recipes/espeak/data", num_train=4000)   # {split: [Utterance, ...]}

Writes, under --out:
    audio/<split>/<utt_id>.flac     16 kHz mono 16-bit FLAC
    train.jsonl dev.jsonl test.jsonl  manifests (audio_filepath absolute, duration, text, utt_id)
    vocab.txt                       character vocabulary of the training transcripts
    voices.json                     which voices went to which split, and every utterance's settings
    .done                           the settings of a finished build: a rerun with the same ones is a no-op

Speakers: the test split speaks with eSpeak voice variants (formants, pitch, synthesiser) that the
training split never uses, and the dev split with yet other held-out variants; every split uses all
the English accents. See README.md beside this file. The output depends only on the settings (not
on --jobs); an interrupted build resumes, keeping the audio files it had finished.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from dfcnn.audio import resample
from dfcnn.fileio import atomic_write_bytes, atomic_write_text
from recipes.espeak import synth

VERSION = 4  # bump when the generated corpus changes for the same settings
SAMPLE_RATE = 16000
SPLITS = ("train", "dev", "test")
VOLUME = 70  # eSpeak amplitude (100 = its default): some variants clip inside eSpeak at 100

# ---------------------------------------------------------------------------------------------
# Voices. A voice is an accent (base voice) plus a variant (the speaker). The variants held out
# from training are whole families: eSpeak ships near-copies of some variants (Gene/Gene2 differ
# only in pitch, f4/aunty share their formants, Andy/AnxiousAndy/Lee ...), and a copy left in
# training would leak the held-out speaker. klatt2 and klatt3 are the only users of Klatt glottal
# sources 2 and 3. Each held-out split has female, male and Klatt-synthesised speakers.
TEST_VARIANTS = ("f2", "f5", "Annie", "Andy", "AnxiousAndy", "Lee", "m6", "travis", "Gene", "Gene2", "klatt3")
DEV_VARIANTS = ("f4", "aunty", "shelby", "m2", "Jacky", "klatt2")
# Not used at all: whispering / voiceless, heavy echo or robot effects, and eSpeak's test variant
# ("fast" sounds exactly like the base voice).
EXCLUDED_VARIANTS = (
    "whisper", "whisperf", "caleb", "Demonic", "fast", "UniRobot", "anikaRobot", "announcer",
    "RicishayMax", "RicishayMax2", "RicishayMax3",
    "robosoft", "robosoft2", "robosoft3", "robosoft4", "robosoft5", "robosoft6", "robosoft7", "robosoft8",
)  # fmt: skip
assert not set(TEST_VARIANTS) & set(DEV_VARIANTS), "dev and test speakers must differ"
BASE = ""  # the accent's own voice, without a variant: a training speaker

RATE_WPM = (110, 175)
PITCH = (25, 75)
PITCH_RANGE = (30, 80)
LEVEL_DBFS = (-32.0, -18.0)  # speech RMS
SNR_DB = (20.0, 40.0)
PAD_S = (0.05, 0.35)  # silence before and after the speech

# ---------------------------------------------------------------------------------------------
# Texts: lower-case letters, spaces and apostrophes only (they pass dfcnn.text.normalize_english).
NOUNS = """
apple bag ball banana basket bed bell bike bird boat book bottle bowl box bread bridge brush bucket
bus button cake camera candle cap car card carpet chair cheese chicken clock coat coin computer
cookie cup desk dog door dress drum egg engine fan flag flower fork garden gate glass glove guitar
hammer hat horse house jacket jar key kite ladder lamp letter lemon map mirror mug nail needle nest
onion orange oven package pan paper pen pencil phone piano picture pillow pizza plant plate pocket
pot radio ring river rock rope sandwich scarf shirt shoe shovel sign sock sofa spoon stamp star
stick stone sweater table ticket tomato towel toy train tree truck umbrella wallet watch window
""".split()
ADJECTIVES = """
big small old new red blue green yellow black white brown pink warm cold hot wet dry clean dirty
heavy light long short soft hard quiet loud bright dark happy tiny huge empty full cheap fresh round
sharp broken lovely funny strange simple plain
""".split()
VERBS = [  # (base, third person, past)
    ("take", "takes", "took"), ("open", "opens", "opened"), ("close", "closes", "closed"),
    ("find", "finds", "found"), ("buy", "buys", "bought"), ("sell", "sells", "sold"),
    ("bring", "brings", "brought"), ("carry", "carries", "carried"), ("clean", "cleans", "cleaned"),
    ("paint", "paints", "painted"), ("wash", "washes", "washed"), ("fix", "fixes", "fixed"),
    ("move", "moves", "moved"), ("hold", "holds", "held"), ("drop", "drops", "dropped"),
    ("push", "pushes", "pushed"), ("pull", "pulls", "pulled"), ("lift", "lifts", "lifted"),
    ("check", "checks", "checked"), ("watch", "watches", "watched"), ("keep", "keeps", "kept"),
    ("need", "needs", "needed"), ("want", "wants", "wanted"), ("like", "likes", "liked"),
    ("see", "sees", "saw"), ("show", "shows", "showed"), ("send", "sends", "sent"),
    ("build", "builds", "built"), ("break", "breaks", "broke"), ("borrow", "borrows", "borrowed"),
    ("pack", "packs", "packed"), ("order", "orders", "ordered"), ("count", "counts", "counted"),
    ("fill", "fills", "filled"), ("catch", "catches", "caught"), ("throw", "throws", "threw"),
    ("hide", "hides", "hid"), ("draw", "draws", "drew"), ("cut", "cuts", "cut"), ("lose", "loses", "lost"),
    ("pick up", "picks up", "picked up"), ("put away", "puts away", "put away"),
]  # fmt: skip
NAMES = """
anna ben carlos david emma frank grace henry isabel jack kate leo maria nina oscar paul rosa sam
tom victor wendy zoe lucy peter
""".split()
PLACES = """
kitchen garden office station market park school library beach shop bank hospital airport
museum cinema hotel farm garage church harbour village city forest corner
""".split()
ROOMS = "kitchen bedroom hall garden attic basement office bathroom".split()
# A demo that trains in minutes on a CPU: every third word of the lists above, about 150 word types
# in all with the digits, so that a small character model can learn to spell all of them.
NOUNS, ADJECTIVES, VERBS, NAMES, PLACES = NOUNS[::3], ADJECTIVES[::3], VERBS[::3], NAMES[::3], PLACES[::3]
NUMBERS = "two three four five six seven eight nine ten eleven twelve twenty".split()
TIMES = [
    "today", "tomorrow", "tonight", "now", "later", "soon", "this morning", "this evening",
    "on monday", "on friday", "next week", "at noon",
]  # fmt: skip
SIMPLE = [  # fixed everyday sentences
    "what time is it", "i don't know", "that's a good idea", "see you later", "thank you very much",
    "how are you today", "it's raining again", "where are my keys", "let's go home", "i'm very hungry",
    "the shop is closed", "we're running late", "can you hear me", "please call me back",
    "it's too cold outside", "he isn't here yet", "she'll be back soon", "they can't come tonight",
]  # fmt: skip
TEMPLATES = [
    "the {A} {N} is on the {N2}",
    "{NAME} {VD} the {A} {N}",
    "please {V} the {N}",
    "can you {V} the {A} {N} {T}",
    "i don't want the {A} {N}",
    "we need {NUM} {NS} {T}",
    "where is my {A} {N}",
    "{NAME} can't find the {N}",
    "they {VD} {NUM} {NS} at the {P}",
    "let's go to the {P} {T}",
    "my {N} is {A}",
    "she {VS} the {N} every day",
    "he has {NUM} {A} {NS}",
    "i'm going to the {P} {T}",
    "the {NS} are {A}",
    "{NAME} and {NAME2} {VD} a {A} {N}",
    "do you like {A} {NS}",
    "there are {NUM} {NS} in the {R}",
    "the {N} was very {A}",
    "don't {V} the {N}",
    "i think the {N} is {A}",
    "he'll {V} the {N} {T}",
    "you'll see the {A} {N} in the {R}",
    "{NAME} {VS} {NUM} {NS}",
    "we {VD} the {N} near the {P}",
    "it's a {A} {N}",
    "who {VD} my {N}",
    "put the {N} next to the {N2}",
    "{NAME} said the {N} is {A}",
    "i can't {V} this {A} {N}",
]


def plural(noun: str) -> str:
    if noun.endswith(("s", "x", "ch", "sh")) or noun in ("tomato",):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun == "knife":
        return "knives"
    return noun + "s"


def with_article(template: str, words: dict[str, str]) -> str:
    text = template.format(**words)
    tokens = text.split()
    for i, token in enumerate(tokens[:-1]):
        if token == "a" and tokens[i + 1][0] in "aeiou":
            tokens[i] = "an"
    return " ".join(tokens)


def digit_text(rng: np.random.Generator) -> str:
    count = int(rng.integers(2, 8))  # 2..7 digits
    return synth.digits_to_words("".join(str(int(d)) for d in rng.integers(0, 10, count)))


def sentence_text(rng: np.random.Generator) -> str:
    def pick(items):
        return items[int(rng.integers(len(items)))]

    if rng.random() < 0.08:
        return pick(SIMPLE)
    for _ in range(100):
        verb = pick(VERBS)
        name, name2 = rng.choice(len(NAMES), 2, replace=False)
        noun, noun2 = rng.choice(len(NOUNS), 2, replace=False)
        words = {
            "N": NOUNS[noun], "N2": NOUNS[noun2], "NS": plural(pick(NOUNS)), "A": pick(ADJECTIVES),
            "V": verb[0], "VS": verb[1], "VD": verb[2], "NAME": NAMES[name], "NAME2": NAMES[name2],
            "P": pick(PLACES), "R": pick(ROOMS), "NUM": pick(NUMBERS), "T": pick(TIMES),
        }  # fmt: skip
        text = with_article(pick(TEMPLATES), words)
        if 3 <= len(text.split()) <= 8:
            return text
    raise AssertionError("no template gives 3..8 words")


def make_texts(rng: np.random.Generator, count: int, avoid: set[str]) -> list[tuple[str, str]]:
    """``count`` (kind, text) pairs, about half digit strings; none of them in ``avoid``."""
    texts = []
    while len(texts) < count:
        kind = "digits" if rng.random() < 0.5 else "sentence"
        for _ in range(50):
            text = digit_text(rng) if kind == "digits" else sentence_text(rng)
            if text not in avoid:
                break
        texts.append((kind, text))
    return texts


# ---------------------------------------------------------------------------------------------


def split_variants(available: list[str]) -> dict[str, list[str]]:
    """Variants per split: held-out ones for dev and test, the rest (and the base voice) for train."""
    have = set(available)
    test = [v for v in TEST_VARIANTS if v in have]
    dev = [v for v in DEV_VARIANTS if v in have]
    if not test or not dev:
        raise SystemExit(f"error: eSpeak data lacks the held-out variants (have {sorted(have)})")
    held = set(test) | set(dev) | set(EXCLUDED_VARIANTS)
    train = [BASE] + [v for v in available if v not in held]
    return {"train": train, "dev": dev, "test": test}


def voice_name(accent: str, variant: str) -> str:
    return f"{accent}+{variant}" if variant else accent


def plan(seed: int, sizes: dict[str, int]) -> tuple[list[dict], dict]:
    """Every utterance's text, voice and settings, drawn from ``seed`` alone; ``sizes``: utterances per split."""
    accents = [v.name for v in synth.list_english_voices()]
    variants = split_variants(synth.list_variants())
    rng = np.random.default_rng([seed, VERSION])
    jobs, seen = [], set()
    for split in SPLITS:
        # no dev or test transcript occurs in train
        texts = make_texts(rng, sizes[split], avoid=seen if split != "train" else set())
        if split == "train":
            seen = {text for _, text in texts}
        for index, (kind, text) in enumerate(texts):
            variant = variants[split][int(rng.integers(len(variants[split])))]
            accent = accents[int(rng.integers(len(accents)))]
            utt_id = f"{split}-{index:05d}"
            jobs.append({
                "utt_id": utt_id, "split": split, "kind": kind, "text": text,
                "voice": voice_name(accent, variant), "accent": accent, "variant": variant,
                "rate_wpm": int(rng.integers(RATE_WPM[0], RATE_WPM[1] + 1)),
                "pitch": int(rng.integers(PITCH[0], PITCH[1] + 1)),
                "pitch_range": int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1)),
                "level_dbfs": round(float(rng.uniform(*LEVEL_DBFS)), 2),
                "snr_db": round(float(rng.uniform(*SNR_DB)), 2),
                "noise": "pink" if rng.random() < 0.5 else "white",
                "lead_s": round(float(rng.uniform(*PAD_S)), 3),
                "trail_s": round(float(rng.uniform(*PAD_S)), 3),
                "noise_seed": int(rng.integers(2**31)),
            })  # fmt: skip
    return jobs, {"accents": accents, "variants": variants}


def noise(rng: np.random.Generator, size: int, colour: str) -> np.ndarray:
    white = rng.standard_normal(size)
    if colour == "pink":  # 1/f power: shape white noise in the frequency domain
        length = 1 << max(size - 1, 1).bit_length()  # a power of two: a fast FFT
        spectrum = np.fft.rfft(white, length)
        spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
        white = np.fft.irfft(spectrum, length)[:size]
    return (white / (np.sqrt(np.mean(white**2)) + 1e-12)).astype(np.float32)


def render(job: dict, audio_dir: str) -> dict:
    """Synthesise, trim, resample, pad, level, add noise, write FLAC; return duration and levels."""
    import soundfile as sf

    path = Path(audio_dir) / job["split"] / f"{job['utt_id']}.flac"
    if path.is_file():  # finished by an interrupted run (files are renamed into place when complete)
        info = sf.info(str(path))
        return {"utt_id": job["utt_id"], "samples": info.frames, "rms": None, "peak": None}
    wave, rate = synth.synthesize(
        job["text"],
        job["voice"],
        job["rate_wpm"],
        job["pitch"],
        job["pitch_range"],
        volume=VOLUME,
        seed=job["noise_seed"],
    )
    loud = np.flatnonzero(np.abs(wave) > 1e-3 * max(float(np.abs(wave).max()), 1e-9))
    if len(loud) == 0 or float(np.abs(wave).max()) < 1e-3:
        raise RuntimeError(f"{job['utt_id']}: eSpeak returned silence for {job['voice']} {job['text']!r}")
    wave = resample(wave[loud[0] : loud[-1] + 1], rate, SAMPLE_RATE)
    speech_rms = float(np.sqrt(np.mean(wave**2)))
    wave *= 10 ** (job["level_dbfs"] / 20) / speech_rms
    lead, trail = round(job["lead_s"] * SAMPLE_RATE), round(job["trail_s"] * SAMPLE_RATE)
    wave = np.concatenate([np.zeros(lead, np.float32), wave, np.zeros(trail, np.float32)])
    rng = np.random.default_rng(job["noise_seed"])
    noise_rms = 10 ** ((job["level_dbfs"] - job["snr_db"]) / 20)
    wave += noise_rms * noise(rng, len(wave), job["noise"])
    peak = float(np.abs(wave).max())
    if peak > 0.98:
        wave *= 0.98 / peak
    encoded = io.BytesIO()  # encode in memory, then one write: much faster than libsndfile's seeks
    sf.write(encoded, wave, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    atomic_write_bytes(path, encoded.getvalue())  # a complete file or none: an interrupted run resumes safely
    return {"utt_id": job["utt_id"], "samples": len(wave), "rms": float(np.sqrt(np.mean(wave**2))), "peak": peak}


def _render_star(args):
    return render(*args)


def prepare_espeak(
    out_dir: str | Path,
    num_train: int = 4000,
    num_dev: int = 200,
    num_test: int = 300,
    seed: int = 0,
    jobs: int = 2,
    force: bool = False,
) -> dict[str, list]:
    """Synthesise the corpus into ``out_dir`` (nothing to do when its .done holds these settings);
    return the utterances of each split ({split: [dfcnn.data.Utterance, ...]}).

    Raises ``synth.EspeakError`` (with the install hint) when eSpeak NG is missing.
    """
    from dfcnn.data import Utterance, read_manifest, write_manifest  # torch: not in the render workers
    from dfcnn.text import build_vocab, normalize_english, save_vocab

    if min(num_train, num_dev, num_test) < 1 or jobs < 1:
        raise ValueError("sizes and jobs must be at least 1")
    synth.sample_rate()  # fails early, with the install hint, when espeakng-loader is missing
    out = Path(out_dir).resolve()
    config = {"version": VERSION, "seed": seed, "num_train": num_train, "num_dev": num_dev, "num_test": num_test}
    done, started = out / ".done", out / ".config"
    if not force and done.is_file() and _read_json(done) == config:
        print(f"{out}: up to date (remove {done.name} or pass --force to rebuild)")
        return {split: read_manifest(out / f"{split}.jsonl") for split in SPLITS}
    done.unlink(missing_ok=True)
    if force or _read_json(started) != config:  # other settings: the old audio is stale
        for split in SPLITS:
            shutil.rmtree(out / "audio" / split, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(started, json.dumps(config) + "\n")
    for stale in (out / "audio").glob("*/.*.tmp"):  # half-written by an interrupted run
        stale.unlink(missing_ok=True)

    begin = time.time()
    jobs_planned, voices = plan(seed, {"train": num_train, "dev": num_dev, "test": num_test})
    work = [(job, str(out / "audio")) for job in jobs_planned]
    if jobs == 1:
        results = [render(*item) for item in work]
    else:
        import multiprocessing

        # spawn: workers start clean (no torch or other threads inherited); each loads eSpeak itself
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            results = []
            for result in pool.imap(_render_star, work, chunksize=8):
                results.append(result)
                if len(results) % 500 == 0:
                    print(f"  {len(results)}/{len(work)} utterances ({time.time() - begin:.0f} s)", flush=True)
    seconds = time.time() - begin

    by_split = {split: [] for split in SPLITS}
    for job, result in zip(jobs_planned, results):
        if normalize_english(job["text"]) != job["text"]:
            raise AssertionError(f"{job['utt_id']}: text {job['text']!r} is not normalised")
        job["duration"] = round(result["samples"] / SAMPLE_RATE, 4)
        path = out / "audio" / job["split"] / f"{job['utt_id']}.flac"
        by_split[job["split"]].append(Utterance(path, job["duration"], job["text"], job["utt_id"]))
    for split in SPLITS:
        write_manifest(out / f"{split}.jsonl", by_split[split])
    save_vocab(build_vocab(u.text for u in by_split["train"]), out / "vocab.txt")

    summary = {}
    for split in SPLITS:
        split_jobs = [j for j in jobs_planned if j["split"] == split]
        used = {}
        for job in split_jobs:
            used[job["voice"]] = used.get(job["voice"], 0) + 1
        summary[split] = {
            "utterances": len(split_jobs),
            "hours": round(sum(j["duration"] for j in split_jobs) / 3600, 4),
            "variants": [v or "(base)" for v in voices["variants"][split]],
            "voices_used": dict(sorted(used.items())),
        }
    description = {
        "version": VERSION,
        "seed": seed,
        "sample_rate": SAMPLE_RATE,
        "design": "a voice is accent+variant; dev and test use variants (speakers) never used in train, "
        "dev's differ from test's; all splits share the accents",
        "accents": voices["accents"],
        "excluded_variants": list(EXCLUDED_VARIANTS),
        "splits": summary,
        "utterances": {j["utt_id"]: {k: v for k, v in j.items() if k not in ("utt_id", "text", "split")}
                       for j in jobs_planned},
    }  # fmt: skip
    atomic_write_text(out / "voices.json", json.dumps(description, indent=1) + "\n")
    atomic_write_text(done, json.dumps(config) + "\n")
    started.unlink(missing_ok=True)
    for split in SPLITS:
        print(f"{split:5s}: {summary[split]['utterances']:5d} utterances, {summary[split]['hours']:.3f} h, "
              f"{len(summary[split]['variants'])} variants x {len(voices['accents'])} accents")  # fmt: skip
    print(f"synthesised in {seconds:.1f} s with {jobs} job(s) -> {out}")
    return by_split


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--num-train", type=int, default=4000)
    parser.add_argument("--num-dev", type=int, default=200)
    parser.add_argument("--num-test", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--force", action="store_true", help="rebuild even when .done says up to date")
    args = parser.parse_args(argv)
    if min(args.num_train, args.num_dev, args.num_test) < 1 or args.jobs < 1:
        parser.error("sizes and --jobs must be at least 1")
    try:
        prepare_espeak(args.out, args.num_train, args.num_dev, args.num_test, args.seed, args.jobs, args.force)
    except synth.EspeakError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


if __name__ == "__main__":
    sys.exit(main())
