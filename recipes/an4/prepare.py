#!/usr/bin/env python3
"""Prepare AN4 (CMU's alphanumeric census database): manifests and a character vocabulary.

The corpus as ``an4_sphere.tar.gz`` unpacks: ``an4/wav/an4_clstk/<speaker>/<id>.sph`` (train) and
``an4/wav/an4test_clstk/<speaker>/<id>.sph`` (test), 16 kHz 16-bit NIST SPHERE, uncompressed
(libsndfile reads them, so no sph2pipe is needed); ``an4/etc/an4_train.transcription`` and
``an4/etc/an4_test.transcription`` with one line per file, ``<s> RUBOUT G M E F THREE NINE </s> (an251-fash-b)``:
the words between sentence markers, then the file id in brackets, whose middle field is the
speaker (``fash``). Text: the ``<...>`` markers dropped, then ``normalize_english``.

Splits: the corpus's train (948 utterances, 74 speakers) and test (130 utterances, 10 speakers).
AN4 has no dev set: ``--dev-fraction`` (10 %) of the train speakers, all their utterances, are held
out as dev, chosen by the MD5 of the speaker id (deterministic, speaker-disjoint).

    python -m recipes.an4.prepare [--corpus-dir /corpora/an4]

``--corpus-dir`` (default ``data/an4`` at the repository root, where ``fetch.py`` puts it) may also
be the folder holding ``an4/``. Writes OUT/{train,dev,test}.jsonl (absolute
audio paths, durations from the headers) and OUT/vocab.txt (characters of the train transcripts).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from dfcnn.audio import audio_info
from dfcnn.data import Utterance
from dfcnn.errors import DfcnnError
from dfcnn.text import normalize_english
from recipes.common import Splits, held_out_speakers, run_prepare, write_splits

CORPUS = "an4"
DEV_FRACTION = 0.1
AUDIO_DIRS = {"train": "an4_clstk", "test": "an4test_clstk"}
LINE = re.compile(r"^(?P<words>.*?)\s*\((?P<file_id>[^()\s]+)\)\s*$")  # "<s> WORDS </s> (an251-fash-b)"
MARKER = re.compile(r"<[^<>]*>")  # <s>, </s> (and any other <...> tag)


def find_root(corpus_dir: Path) -> Path:
    """The folder holding ``etc/`` and ``wav/``: ``corpus_dir`` itself or its ``an4/``."""
    for candidate in (corpus_dir, corpus_dir / "an4"):
        if (candidate / "etc" / "an4_train.transcription").is_file():
            return candidate
    raise DfcnnError(f"{corpus_dir}: etc/an4_train.transcription not found (expected AN4's an4/ folder)")


def speaker_of(file_id: str) -> str:
    """``an251-fash-b`` -> ``fash``."""
    fields = file_id.split("-")
    if len(fields) != 3:
        raise ValueError(file_id)
    return fields[1]


def read_split(root: Path, split: str) -> list[Utterance]:
    """The utterances of ``etc/an4_<split>.transcription``, in file order."""
    path = root / "etc" / f"an4_{split}.transcription"
    if not path.is_file():
        raise DfcnnError(f"{path}: file not found")
    utterances = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            match = LINE.match(line.strip())
            try:
                speaker = speaker_of(match["file_id"]) if match else None
            except ValueError:
                speaker = None
            if speaker is None:
                raise DfcnnError(
                    f"{path}:{number}: expected '<s> WORDS </s> (<id>-<speaker>-<x>)', got {line.strip()!r}"
                )
            file_id = match["file_id"]
            audio = root / "wav" / AUDIO_DIRS[split] / speaker / f"{file_id}.sph"
            if not audio.is_file():
                raise DfcnnError(f"{path}:{number}: audio {audio} not found")
            text = normalize_english(MARKER.sub(" ", match["words"]))
            if not text:
                raise DfcnnError(f"{path}:{number}: empty transcript for {file_id}")
            duration, _, _ = audio_info(audio)
            utterances.append(Utterance(audio, duration, text, file_id))
    if not utterances:
        raise DfcnnError(f"{path}: no utterances")
    return utterances


def prepare_an4(corpus_dir: str | Path, out_dir: str | Path, dev_fraction: float = DEV_FRACTION) -> Splits:
    """Write OUT/{train,dev,test}.jsonl and OUT/vocab.txt; return the utterances of each split."""
    if not 0 < dev_fraction < 1:
        raise DfcnnError(f"--dev-fraction must be between 0 and 1, got {dev_fraction}")
    root = find_root(Path(corpus_dir).resolve())
    train_all = read_split(root, "train")
    test = read_split(root, "test")
    speakers = {speaker_of(u.utt_id) for u in train_all}
    if len(speakers) < 2:
        raise DfcnnError(f"{root}: only {len(speakers)} training speaker(s): cannot hold one out as dev")
    dev_speakers = held_out_speakers([speakers], dev_fraction)
    splits = {
        "train": [u for u in train_all if speaker_of(u.utt_id) not in dev_speakers],
        "dev": [u for u in train_all if speaker_of(u.utt_id) in dev_speakers],
        "test": test,
    }
    write_splits(splits, Path(out_dir), root)
    print(f"dev speakers ({len(dev_speakers)} of {len(speakers)}): {' '.join(sorted(dev_speakers))}")
    return splits


def add_arguments(parser) -> None:
    parser.add_argument(
        "--dev-fraction",
        type=float,
        default=DEV_FRACTION,
        help="share of train speakers held out as dev (default: %(default)s)",
    )


def main(argv: list[str] | None = None) -> int:
    return run_prepare(CORPUS, __doc__.split("\n\n")[0], prepare_an4, argv, add_arguments, downloaded=True)


if __name__ == "__main__":
    sys.exit(main())
