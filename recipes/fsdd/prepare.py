#!/usr/bin/env python3
"""Prepare the Free Spoken Digit Dataset (FSDD): manifests and a character vocabulary.

FSDD is 3000 WAV files (8 kHz, 6 speakers, 50 takes of each digit per speaker) named
``recordings/{digit}_{speaker}_{index}.wav``; the transcript is the digit's English word.

Split (the dataset's own): takes with index 0-4 are test (300 files), 5-49 train. Dev holds out
indices 5-9 of train (300 files), leaving 2400 for training. All six speakers are in every split
(FSDD's official test set is not speaker-disjoint).

    python -m recipes.fsdd.prepare [--corpus-dir $DFCNN_DATA/fsdd] [--out recipes/fsdd/data]

writes OUT/{train,dev,test}.jsonl (absolute audio paths, durations from the headers) and
OUT/vocab.txt (characters of the train transcripts).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from dfcnn.audio import audio_info
from dfcnn.data import Utterance
from dfcnn.errors import DfcnnError
from dfcnn.text import normalize_english
from recipes.common import Splits, run_prepare, write_splits

CORPUS = "fsdd"
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
NAME = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[A-Za-z]+)_(?P<index>[0-9]+)$")
TEST_INDICES = range(0, 5)  # official test set
DEV_INDICES = range(5, 10)  # held out of the official train set


def split_of(index: int) -> str:
    if index in TEST_INDICES:
        return "test"
    if index in DEV_INDICES:
        return "dev"
    return "train"


def prepare_fsdd(corpus_dir: str | Path, out_dir: str | Path) -> Splits:
    """Write OUT/{train,dev,test}.jsonl and OUT/vocab.txt; return the utterances of each split."""
    corpus_dir = Path(corpus_dir).resolve()
    out_dir = Path(out_dir)
    recordings = corpus_dir / "recordings"
    if not recordings.is_dir():
        raise DfcnnError(
            f"{recordings}: folder not found (expected FSDD's recordings/{{digit}}_{{speaker}}_{{index}}.wav)"
        )
    splits: dict[str, list[Utterance]] = {"train": [], "dev": [], "test": []}
    for wave in sorted(p for p in recordings.iterdir() if p.suffix.lower() == ".wav"):
        match = NAME.match(wave.stem)
        if not match:
            raise DfcnnError(f"{wave}: not an FSDD file name (expected {{digit}}_{{speaker}}_{{index}}.wav)")
        duration, _, _ = audio_info(wave)
        text = normalize_english(DIGITS[int(match["digit"])])
        splits[split_of(int(match["index"]))].append(Utterance(wave, duration, text, wave.stem))
    write_splits(splits, out_dir, recordings)
    return splits


def main(argv: list[str] | None = None) -> int:
    return run_prepare(CORPUS, __doc__.split("\n\n")[0], prepare_fsdd, argv)


if __name__ == "__main__":
    sys.exit(main())
