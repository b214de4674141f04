#!/usr/bin/env python3
"""Build the synthetic English pre-training corpus: real sentences with an open vocabulary, read by
Flite, Festival and eSpeak NG voices, then augmented (speed, pitch, vocal-tract length, reverb, noise).

    bash tools/install_tts.sh                       # Flite, Festival + voices, WordNet (apt, as root)
    python -m recipes.synth_english.prepare         # -> data/synth_english/ (about 15 hours)
    python -m recipes.synth_english.prepare --out /tmp/synth --num-train 200 --num-dev 20 --num-test 20

Writes, under --out:
    audio/<split>/<utt_id>.flac       16 kHz mono 16-bit FLAC; audio/babble/: the babble-noise sources
    train.jsonl dev.jsonl test.jsonl  manifests (audio_filepath absolute, duration, text, utt_id)
    vocab.txt                         character vocabulary of the train transcripts
    corpus.json                       voices per split, and every utterance's source, voice and settings
    .done                             the settings of a finished build: a rerun with the same ones is a no-op

Dev and test voices (speakers) and sentences never occur in train; no sentence of speechocean762's
test set is spoken. See README.md beside this file. The output depends only on the settings (not on
--jobs); an interrupted build resumes, keeping the audio files it had finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

from dfcnn.data import Utterance, write_manifest
from dfcnn.fileio import atomic_write_text
from dfcnn.text import build_vocab, save_vocab
from recipes.common import REPO, data_root
from recipes.synth_english import generate, texts, voices

VERSION = 1  # bump when the same settings would give different audio
DEFAULT_OUT = REPO / "data" / "synth_english"
WORDNET = Path("/usr/share/wordnet")  # Debian's wordnet-base


def fingerprint(config: generate.CorpusConfig, sentences, split_voices) -> dict:
    """What the audio depends on: a changed value makes the old audio stale."""
    digest = hashlib.md5("\n".join(f"{s.spoken}\t{s.source}" for s in sentences).encode()).hexdigest()
    return {"version": VERSION, "config": dataclasses.asdict(config), "sentences_md5": digest,
            "voices": {split: list(keys) for split, keys in split_voices.items()}}  # fmt: skip


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def build(out: Path, config: generate.CorpusConfig, sentences, split_voices, workers: int = 2,
          force: bool = False, log=print) -> dict | None:  # fmt: skip
    """Plan, render, and write manifests, vocabulary and corpus.json; None when already up to date."""
    out = out.resolve()
    settings = json.loads(json.dumps(fingerprint(config, sentences, split_voices)))  # tuples as lists
    done, started = out / ".done", out / ".config"
    if not force and _read_json(done) == settings:
        log(f"{out}: up to date (remove {done.name} or pass --force to rebuild)")
        return None
    done.unlink(missing_ok=True)
    if force or _read_json(started) != settings:  # other settings: the old audio is stale
        shutil.rmtree(out / "audio", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(started, json.dumps(settings) + "\n")
    for stale in (out / "audio").glob("*/.*.tmp"):  # half-written by an interrupted run
        stale.unlink(missing_ok=True)

    begin = time.time()
    jobs, babble = generate.plan(config, sentences, split_voices)
    results = generate.render_all(babble + jobs, out / "audio", workers, progress=log)
    seconds = time.time() - begin

    splits = {split: [] for split in generate.SPLITS}
    for job in jobs:
        job["duration"] = round(results[job["utt_id"]]["samples"] / generate.SAMPLE_RATE, 4)
        path = generate.audio_path(out / "audio", job)
        # relative to the manifest's folder: the corpus folder can move as a whole
        splits[job["split"]].append(Utterance(path.relative_to(out), job["duration"], job["text"], job["utt_id"]))
    for split, utterances in splits.items():
        write_manifest(out / f"{split}.jsonl", utterances)
    save_vocab(build_vocab(u.text for u in splits["train"]), out / "vocab.txt")

    summary = {}
    for split in generate.SPLITS:
        chosen = [j for j in jobs if j["split"] == split]
        counts = {}
        for job in chosen:
            counts[job["voice"]] = counts.get(job["voice"], 0) + 1
        summary[split] = {"utterances": len(chosen), "hours": round(sum(j["duration"] for j in chosen) / 3600, 4),
                          "voices": dict(sorted(counts.items()))}  # fmt: skip
    description = {
        "version": VERSION, "seed": config.seed, "sample_rate": generate.SAMPLE_RATE, "wall_seconds": round(seconds, 1),
        "workers": workers, "splits": summary,
        "speakers": {s: sorted({voices.voice(k).speaker for k in split_voices[s]}) for s in generate.SPLITS},
        "utterances": {j["utt_id"]: {k: v for k, v in j.items() if k not in ("utt_id", "split", "text")} for j in jobs},
    }  # fmt: skip
    atomic_write_text(out / "corpus.json", json.dumps(description, indent=1) + "\n")
    atomic_write_text(done, json.dumps(settings) + "\n")
    started.unlink(missing_ok=True)
    for split in generate.SPLITS:
        log(f"{split:5s}: {summary[split]['utterances']:6d} utterances, {summary[split]['hours']:7.3f} h, "
            f"{len(summary[split]['voices'])} voices")  # fmt: skip
    log(f"rendered in {seconds:.1f} s with {workers} worker(s) -> {out}")
    return description


def prepare_synth_english(
    out_dir: str | Path = DEFAULT_OUT,
    config: generate.CorpusConfig | None = None,
    data_dir: str | Path | None = None,
    wordnet_dir: str | Path = WORDNET,
    jobs: int = 2,
    force: bool = False,
    log=print,
) -> dict | None:
    """Build the corpus into ``out_dir`` from the sentence sources under ``data_dir`` (default: $DFCNN_DATA
    or ../shared/data) and WordNet, with every voice checked first; corpus.json's description, or None
    when it was already up to date. Raises ``texts.TextError``, ``voices.VoiceError`` or
    ``EspeakError``, one line each, for a bad source or a missing voice.
    """
    sentences = texts.load_sentences(Path(data_dir) if data_dir else data_root(), Path(wordnet_dir))
    split_voices = generate.default_voices()
    problems = voices.check_voices([k for keys in split_voices.values() for k in keys])
    if problems:
        raise voices.VoiceError("; ".join(problems))
    out_dir = Path(out_dir)
    ignored_by_git(out_dir, DEFAULT_OUT, "recipes/synth_english/prepare.py")
    return build(out_dir, config or generate.CorpusConfig(), sentences, split_voices, jobs, force, log)


def ignored_by_git(out_dir: Path, default: Path, made_by: str) -> None:
    """Generated audio in the checkout: the ``default`` folder, made for the first time, holds a
    .gitignore of everything, so git never sees it."""
    if out_dir.resolve() == default and not default.exists():
        default.mkdir(parents=True)
        (default / ".gitignore").write_text(f"# generated by {made_by}\n*\n")


def add_source_arguments(parser: argparse.ArgumentParser, default_out: Path, holds: str, wordnet: bool = True) -> None:
    """The synthetic corpora's --data-dir (the shared corpora, holding ``holds``), --wordnet-dir and --out."""
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"folder holding {holds} (default: $DFCNN_DATA or {data_root()})")  # fmt: skip
    if wordnet:
        parser.add_argument("--wordnet-dir", type=Path, default=WORDNET, help="WordNet 3.0 data (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=default_out, help="output folder (default: %(default)s)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = generate.CorpusConfig()
    add_source_arguments(parser, DEFAULT_OUT, "ljspeech_subset/, cathy_arctic/, speechocean762/")
    for split in generate.SPLITS:
        parser.add_argument(f"--num-{split}", type=int, default=getattr(defaults, f"num_{split}"),
                            help=f"{split} utterances (default: %(default)s)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=defaults.seed, help="default: %(default)s")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even when .done says up to date")
    args = parser.parse_args(argv)
    if min(args.num_train, args.num_dev, args.num_test) < 1 or args.jobs < 1:
        parser.error("sizes and --jobs must be at least 1")
    folder = args.data_dir or data_root()
    if not folder.is_dir():
        print(f"error: data folder {folder} not found (set DFCNN_DATA or pass --data-dir)", file=sys.stderr)
        return 2
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # workers: one thread each
    config = dataclasses.replace(defaults, seed=args.seed, num_train=args.num_train, num_dev=args.num_dev,
                                 num_test=args.num_test)  # fmt: skip
    try:
        prepare_synth_english(
            args.out,
            config,
            folder,
            args.wordnet_dir,
            jobs=args.jobs,
            force=args.force,
            log=functools.partial(print, flush=True),
        )  # progress shows in a log file as it happens
    except (texts.TextError, voices.VoiceError, voices.espeak.EspeakError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
