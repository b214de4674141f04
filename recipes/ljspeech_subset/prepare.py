#!/usr/bin/env python3
"""Prepare the LJSpeech subset (385 clips of LJ001/LJ002): manifests and a character vocabulary.

One native US English speaker reading non-fiction; ``LJSpeech-1.1/metadata_subset.csv`` lists the
clips present, ``ID|raw text|normalized text`` a line (numbers spelt out in the third field, which is
the one used), and ``LJSpeech-1.1/wavs/<ID>.opus`` holds the audio. (``metadata.csv`` is the full
13,100-line list and names clips that are not here.)

Split (none is given): the clips are ranked by an MD5 hash of their id; the first
``--test-fraction`` (7.5 %, 29 clips) are test, the next ``--dev-fraction`` (7.5 %, 29) dev, the
rest (327) train. Same speaker and book in every split; the ids, and the texts, are disjoint.

    python -m recipes.ljspeech_subset.prepare [--corpus-dir $DFCNN_DATA/ljspeech_subset]
        [--out recipes/ljspeech_subset/data]

writes OUT/{train,dev,test}.jsonl (absolute audio paths, durations from the headers) and
OUT/vocab.txt (characters of the train transcripts).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dfcnn.audio import audio_info
from dfcnn.data import Utterance
from dfcnn.errors import DfcnnError
from dfcnn.text import normalize_english
from recipes.common import Splits, check_fractions, held_out, run_prepare, write_splits

CORPUS = "ljspeech_subset"
METADATA = "LJSpeech-1.1/metadata_subset.csv"
DEV_FRACTION = 0.075
TEST_FRACTION = 0.075


def read_metadata(path: Path) -> dict[str, str]:
    """clip id -> normalised text (third field) of an LJSpeech ``ID|raw|normalized`` file."""
    if not path.is_file():
        raise DfcnnError(f"{path}: file not found (expected LJSpeech's ID|raw text|normalized text list)")
    texts = {}
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("|")
            if len(fields) != 3 or not fields[0].strip():
                raise DfcnnError(
                    f"{path}:{number}: expected ID|raw text|normalized text (3 fields), "
                    f"got {len(fields)} field(s): {line.strip()[:60]!r}"
                )
            clip, text = fields[0].strip(), normalize_english(fields[2])
            if not text:
                raise DfcnnError(f"{path}:{number}: the normalized text of {clip} has no words")
            if clip in texts:
                raise DfcnnError(f"{path}:{number}: duplicate id {clip!r}")
            texts[clip] = text
    return texts


def prepare_ljspeech_subset(
    corpus_dir: str | Path,
    out_dir: str | Path,
    dev_fraction: float = DEV_FRACTION,
    test_fraction: float = TEST_FRACTION,
) -> Splits:
    """Write OUT/{train,dev,test}.jsonl and OUT/vocab.txt; return the utterances of each split."""
    check_fractions(dev_fraction, test_fraction)
    corpus_dir = Path(corpus_dir).resolve()
    out_dir = Path(out_dir)
    texts = read_metadata(corpus_dir / METADATA)
    if not texts:
        raise DfcnnError(f"{corpus_dir / METADATA}: no clips listed")
    test_clips, dev_clips = held_out(texts, (test_fraction, dev_fraction))
    split_of = {clip: "test" for clip in test_clips} | {clip: "dev" for clip in dev_clips}
    splits: Splits = {"train": [], "dev": [], "test": []}
    for clip in sorted(texts):
        audio = corpus_dir / "LJSpeech-1.1" / "wavs" / f"{clip}.opus"
        if not audio.is_file():
            raise DfcnnError(f"{audio}: audio of {clip} (listed in {corpus_dir / METADATA}) not found")
        duration, _, _ = audio_info(audio)
        splits[split_of.get(clip, "train")].append(Utterance(audio, duration, texts[clip], clip))
    write_splits(splits, out_dir, corpus_dir / METADATA)
    return splits


def add_arguments(parser) -> None:
    parser.add_argument(
        "--dev-fraction", type=float, default=DEV_FRACTION, help="share of clips held out as dev (default: %(default)s)"
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=TEST_FRACTION,
        help="share of clips held out as test (default: %(default)s)",
    )


def main(argv: list[str] | None = None) -> int:
    return run_prepare(CORPUS, __doc__.split("\n\n")[0], prepare_ljspeech_subset, argv, add_arguments)


if __name__ == "__main__":
    sys.exit(main())
