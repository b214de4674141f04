#!/usr/bin/env python3
"""Prepare the yesno corpus (OpenSLR 1): manifests and a character vocabulary.

The corpus is 60 WAV files (8 kHz, one speaker) named by their transcript: 1 = "yes" (Hebrew "ken"),
0 = "no" ("lo"), e.g. ``0_1_1_0_0_1_1_0.wav`` -> "no yes yes no no yes yes no". The words are the
English glosses, as in Kaldi's yesno lexicon.

Split: Kaldi's egs/yesno trains on 31 files and tests on 29 (its runs score 232 = 29 x 8 test
words). Its script puts the first half of an ``ls`` of the unpacked folder in train and the rest in
test (the non-audio entries of the listing land in test and are dropped there). Sorted by name,
the first 31 files are exactly those whose first word is "no" (``0_*``) and the last 29 those that
start with "yes" (``1_*``), so that is the rule used here: ``0_*`` train, ``1_*`` test (the test
set is thus every file that starts with "yes"; training never sees "yes" first). Dev is every 8th
training file (4 of them, spread over the sorted list), so train + dev still hold Kaldi's 31.

    python -m recipes.yesno.prepare [--corpus-dir $DFCNN_DATA/yesno] [--out recipes/yesno/data]

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

CORPUS = "yesno"
WORDS = {"0": "no", "1": "yes"}
NAME = re.compile(r"^[01](?:_[01])*$")  # file stem: the words, 0/1, joined by "_"
DEV_EVERY = 8  # dev = sorted train files [DEV_OFFSET::DEV_EVERY] -> 4 of 31
DEV_OFFSET = 3


def find_waves(corpus_dir: Path) -> list[Path]:
    """The corpus's .wav files, sorted by name (waves_yesno/ holds them; the corpus root is accepted too)."""
    waves_dir = corpus_dir / "waves_yesno"
    if not waves_dir.is_dir():
        waves_dir = corpus_dir
    waves = sorted(p for p in waves_dir.iterdir() if p.suffix.lower() == ".wav")
    if not waves:
        raise DfcnnError(f"{waves_dir}: no .wav files (expected the yesno corpus, waves_yesno/*.wav)")
    return waves


def transcript(stem: str) -> str:
    """``0_1_1`` -> ``no yes yes``."""
    return " ".join(WORDS[bit] for bit in stem.split("_"))


def prepare_yesno(corpus_dir: str | Path, out_dir: str | Path) -> Splits:
    """Write OUT/{train,dev,test}.jsonl and OUT/vocab.txt; return the utterances of each split."""
    corpus_dir = Path(corpus_dir).resolve()
    out_dir = Path(out_dir)
    train, test = [], []
    for wave in find_waves(corpus_dir):
        stem = wave.stem
        if not NAME.match(stem):
            raise DfcnnError(f"{wave}: not a yesno file name (expected 0/1 words joined by '_', e.g. 0_1_1_0.wav)")
        duration, _, _ = audio_info(wave)
        utt = Utterance(wave, duration, normalize_english(transcript(stem)), stem)
        (train if stem.startswith("0") else test).append(utt)
    dev = train[DEV_OFFSET::DEV_EVERY]
    dev_ids = {u.utt_id for u in dev}
    train = [u for u in train if u.utt_id not in dev_ids]
    splits = {"train": train, "dev": dev, "test": test}
    write_splits(splits, out_dir, corpus_dir)
    return splits


def main(argv: list[str] | None = None) -> int:
    return run_prepare(CORPUS, __doc__.split("\n\n")[0], prepare_yesno, argv)


if __name__ == "__main__":
    sys.exit(main())
