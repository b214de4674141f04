#!/usr/bin/env python3
"""Prepare THCHS-30 (OpenSLR 18): manifests and a character vocabulary.

The corpus as ``data_thchs30.tgz`` unpacks: ``data_thchs30/data/`` holds every recording
``<speaker>_<n>.wav`` (16 kHz) with its transcript ``<speaker>_<n>.wav.trn``: line 1 the text in
words (``绿 是 阳春 烟 景 大块 文章 的 底色 ...``), line 2 its tonal pinyin, line 3 its phones.
``train/``, ``dev/`` and ``test/`` hold the split's ``.wav`` files, and beside each a ``.wav.trn``
that only points at the real one (its content is ``../data/<speaker>_<n>.wav.trn``; a symbolic
link in some copies). The first line is the transcript; ``normalize_mandarin`` drops the word spaces.

Splits: the corpus's own train / dev / test folders (10,000 / 893 / 2,495 utterances). As in Kaldi's
recipe, the transcript is looked up in ``data/``; a split folder's own ``.wav.trn`` is followed when
``data/`` lacks it.

    python -m recipes.thchs30.prepare [--corpus-dir /corpora/data_thchs30]

``--corpus-dir`` (default ``data/thchs30`` at the repository root, where ``fetch.py`` puts it) may
also be the folder holding ``data_thchs30/``. Writes OUT/{train,dev,test}.jsonl
(absolute audio paths, durations from the headers) and OUT/vocab.txt (characters of train).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dfcnn.audio import audio_info
from dfcnn.data import Utterance
from dfcnn.errors import DfcnnError
from dfcnn.text import is_cjk, normalize_mandarin
from recipes.common import Splits, run_prepare, write_splits

CORPUS = "thchs30"
SPLITS = ("train", "dev", "test")


def find_root(corpus_dir: Path) -> Path:
    """The folder holding ``data/`` and the split folders: ``corpus_dir`` or its ``data_thchs30/``."""
    for candidate in (corpus_dir, corpus_dir / "data_thchs30"):
        if all((candidate / name).is_dir() for name in ("data",) + SPLITS):
            return candidate
    raise DfcnnError(f"{corpus_dir}: expected THCHS-30's data_thchs30/ with data/, train/, dev/ and test/ in it")


def _read_lines(path: Path) -> list[str]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")  # never seen in the official archive; older re-packs use GBK
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_trn(path: Path) -> str:
    """The first (word) line of a ``.wav.trn``, following a one-line pointer ``../data/X.wav.trn``."""
    lines = _read_lines(path)
    if len(lines) == 1 and lines[0].endswith(".trn") and not any(is_cjk(c) for c in lines[0]):
        target = (path.parent / lines[0]).resolve()
        if not target.is_file():
            raise DfcnnError(f"{path}: points at {lines[0]}, which is not there")
        lines = _read_lines(target)
        path = target
    if not lines:
        raise DfcnnError(f"{path}: empty transcript")
    return lines[0]


def transcript_of(root: Path, audio: Path) -> Path:
    for candidate in (root / "data" / f"{audio.name}.trn", audio.with_name(f"{audio.name}.trn")):
        if candidate.is_file():
            return candidate
    raise DfcnnError(f"{audio}: no transcript {audio.name}.trn in data/ or beside it")


def read_split(root: Path, split: str) -> list[Utterance]:
    utterances = []
    for audio in sorted((root / split).glob("*.wav")):
        trn = transcript_of(root, audio)
        text = normalize_mandarin(read_trn(trn))
        if not text:
            raise DfcnnError(f"{trn}: empty transcript")
        duration, _, _ = audio_info(audio)
        utterances.append(Utterance(audio, duration, text, audio.stem))
    return utterances


def prepare_thchs30(corpus_dir: str | Path, out_dir: str | Path) -> Splits:
    """Write OUT/{train,dev,test}.jsonl and OUT/vocab.txt; return the utterances of each split."""
    root = find_root(Path(corpus_dir).resolve())
    splits: Splits = {split: read_split(root, split) for split in SPLITS}
    write_splits(splits, Path(out_dir), root)
    return splits


def main(argv: list[str] | None = None) -> int:
    return run_prepare(CORPUS, __doc__.split("\n\n")[0], prepare_thchs30, argv, downloaded=True)


if __name__ == "__main__":
    sys.exit(main())
