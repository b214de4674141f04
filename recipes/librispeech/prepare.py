#!/usr/bin/env python3
"""Prepare LibriSpeech (OpenSLR 12): manifests and a character vocabulary.

The corpus as its archives unpack: ``LibriSpeech/<subset>/<speaker>/<chapter>/`` holds
``<speaker>-<chapter>-<nnnn>.flac`` (16 kHz) and one ``<speaker>-<chapter>.trans.txt`` with a line
``<speaker>-<chapter>-<nnnn> TRANSCRIPT IN UPPER CASE`` per file. Text: ``normalize_english``
(lower case; apostrophes kept, as in ``DON'T``).

Splits, the standard ones: train = ``--train-subsets`` (default train-clean-100, the 100 h
single-GPU setup; add train-clean-360 train-other-500 for all 960 h), dev = dev-clean,
test = test-clean; dev-other and test-other, when unpacked, become dev-other.jsonl and
test-other.jsonl. The subsets are speaker-disjoint by construction.

    python -m recipes.librispeech.prepare [--corpus-dir /corpora/LibriSpeech]
        [--train-subsets train-clean-100 train-clean-360]

``--corpus-dir`` (default ``data/librispeech`` at the repository root, where ``fetch.py`` puts it)
may also be the folder holding ``LibriSpeech/``. Writes OUT/{train,dev,test}.jsonl,
OUT/{dev,test}-other.jsonl when present (absolute audio paths, durations from the headers) and
OUT/vocab.txt (characters of the train transcripts).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dfcnn.audio import audio_info
from dfcnn.data import Utterance
from dfcnn.errors import DfcnnError
from dfcnn.text import normalize_english
from recipes.common import Splits, run_prepare, write_splits

CORPUS = "librispeech"
TRAIN_SUBSETS = ("train-clean-100", "train-clean-360", "train-other-500")
DEFAULT_TRAIN = ("train-clean-100",)
EVAL_SPLITS = {"dev": "dev-clean", "test": "test-clean", "dev-other": "dev-other", "test-other": "test-other"}
REQUIRED = ("dev", "test")  # dev-other and test-other are optional


def find_root(corpus_dir: Path) -> Path:
    """The folder holding the subsets: ``corpus_dir`` itself or its ``LibriSpeech/``."""
    subsets = TRAIN_SUBSETS + tuple(EVAL_SPLITS.values())
    for candidate in (corpus_dir, corpus_dir / "LibriSpeech"):
        if any((candidate / s).is_dir() for s in subsets):
            return candidate
    raise DfcnnError(f"{corpus_dir}: no LibriSpeech subset folder (expected e.g. LibriSpeech/dev-clean/ in it)")


def read_subset(folder: Path) -> list[Utterance]:
    """The utterances of one subset folder, in transcript order (sorted by speaker, chapter, number)."""
    transcripts = sorted(folder.glob("*/*/*.trans.txt"))
    if not transcripts:
        raise DfcnnError(f"{folder}: no <speaker>/<chapter>/<speaker>-<chapter>.trans.txt files")
    utterances = []
    for trans in transcripts:
        prefix = trans.name[: -len(".trans.txt")] + "-"
        with trans.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                utt_id, _, text = line.strip().partition(" ")
                if not utt_id:
                    continue
                if not utt_id.startswith(prefix):
                    raise DfcnnError(f"{trans}:{number}: utterance {utt_id!r} does not belong to chapter {prefix[:-1]}")
                audio = trans.parent / f"{utt_id}.flac"
                if not audio.is_file():
                    raise DfcnnError(f"{trans}:{number}: audio {audio.name} not found beside the transcript")
                text = normalize_english(text)
                if not text:
                    raise DfcnnError(f"{trans}:{number}: empty transcript for {utt_id}")
                duration, _, _ = audio_info(audio)
                utterances.append(Utterance(audio, duration, text, utt_id))
    return utterances


def prepare_librispeech(
    corpus_dir: str | Path, out_dir: str | Path, train_subsets: list[str] | tuple[str, ...] = DEFAULT_TRAIN
) -> Splits:
    """Write OUT/<split>.jsonl and OUT/vocab.txt; return the utterances of each split."""
    root = find_root(Path(corpus_dir).resolve())
    unknown = set(train_subsets) - set(TRAIN_SUBSETS)
    if unknown:
        raise DfcnnError(f"unknown training subsets {sorted(unknown)}; choose from {', '.join(TRAIN_SUBSETS)}")
    splits: Splits = {"train": []}
    for subset in train_subsets:
        if not (root / subset).is_dir():
            raise DfcnnError(f"{root / subset}: training subset not found (download it or change --train-subsets)")
        splits["train"] += read_subset(root / subset)
    for split, subset in EVAL_SPLITS.items():
        if (root / subset).is_dir():
            splits[split] = read_subset(root / subset)
        elif split in REQUIRED:
            raise DfcnnError(f"{root / subset}: folder not found ({split} is {subset})")
        else:
            print(f"note: {root / subset} not found: no {split}.jsonl", file=sys.stderr)
    write_splits(splits, Path(out_dir), root)
    return splits


def add_arguments(parser) -> None:
    parser.add_argument(
        "--train-subsets",
        nargs="+",
        default=list(DEFAULT_TRAIN),
        choices=TRAIN_SUBSETS,
        metavar="SUBSET",
        help=f"subsets pooled for training, of {', '.join(TRAIN_SUBSETS)} (default: %(default)s)",
    )


def main(argv: list[str] | None = None) -> int:
    return run_prepare(CORPUS, __doc__.split("\n\n")[0], prepare_librispeech, argv, add_arguments, downloaded=True)


if __name__ == "__main__":
    sys.exit(main())
