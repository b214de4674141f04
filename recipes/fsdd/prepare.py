#!/usr/bin/env python3
"""Prepare the Free Spoken Digit Dataset (FSDD): manifests and a character vocabulary.

FSDD is 3000 WAV files (8 kHz, 6 speakers, 50 takes of each digit per speaker) named
``recordings/{digit}_{speaker}_{index}.wav``; the transcript is the digit's English word.

Split (the dataset's own): takes with index 0-4 are test (300 files), 5-49 train. Dev holds out
indices 5-9 of train (300 files), leaving 2400 for training. All six speakers are in every split
(FSDD's official test set is not speaker-disjoint).

    python prepare.py [--corpus-dir $DFCNN_DATA/fsdd] [--out recipes/fsdd/data]

writes OUT/{train,dev,test}.jsonl (absolute audio paths, durations from the headers) and
OUT/vocab.txt (characters of the train transcripts).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script from a checkout: make `dfcnn` importable

from dfcnn.audio import audio_info  # noqa: E402
from dfcnn.data import Utterance, write_manifest  # noqa: E402
from dfcnn.errors import DfcnnError  # noqa: E402
from dfcnn.text import build_vocab, normalize_english, save_vocab  # noqa: E402

CORPUS = "fsdd"
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
NAME = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[A-Za-z]+)_(?P<index>[0-9]+)$")
TEST_INDICES = range(0, 5)  # official test set
DEV_INDICES = range(5, 10)  # held out of the official train set


def data_root() -> Path:
    """$DFCNN_DATA, or ../shared/data beside the repository."""
    return Path(os.environ.get("DFCNN_DATA") or REPO.parent / "shared" / "data")


def split_of(index: int) -> str:
    if index in TEST_INDICES:
        return "test"
    if index in DEV_INDICES:
        return "dev"
    return "train"


def prepare(corpus_dir: str | Path, out_dir: str | Path) -> dict[str, list[Utterance]]:
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
    for name, utterances in splits.items():
        if not utterances:
            raise DfcnnError(f"{recordings}: the {name} split came out empty")
        write_manifest(out_dir / f"{name}.jsonl", utterances)
    save_vocab(build_vocab(u.text for u in splits["train"]), out_dir / "vocab.txt")
    return splits


def summary(splits: dict[str, list[Utterance]], out_dir: Path) -> str:
    lines = [f"{CORPUS}: wrote {out_dir}/{{{','.join(splits)}}}.jsonl and vocab.txt", "  split   utts   hours"]
    for name, utterances in splits.items():
        lines.append(f"  {name:<5} {len(utterances):>6} {sum(u.duration for u in utterances) / 3600:>7.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus-dir", type=Path, default=None, help=f"default: $DFCNN_DATA/{CORPUS}")
    parser.add_argument("--out", type=Path, default=HERE / "data", help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    corpus_dir = args.corpus_dir or data_root() / CORPUS
    if not corpus_dir.is_dir():
        print(
            f"error: corpus directory {corpus_dir} not found "
            f"(DFCNN_DATA={os.environ.get('DFCNN_DATA') or 'unset, default ' + str(data_root())}; "
            f"point DFCNN_DATA at the folder holding {CORPUS}/ or pass --corpus-dir)",
            file=sys.stderr,
        )
        return 2
    try:
        splits = prepare(corpus_dir, args.out)
    except DfcnnError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary(splits, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
