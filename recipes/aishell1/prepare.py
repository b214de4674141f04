#!/usr/bin/env python3
"""Prepare AISHELL-1 (OpenSLR 33): manifests and a character vocabulary.

The corpus as ``data_aishell.tgz`` unpacks (and its per-speaker ``wav/S0002.tar.gz`` ... after
them, which ``fetch.py`` does): ``data_aishell/wav/{train,dev,test}/<speaker>/BAC009<speaker>W<nnnn>.wav``
(16 kHz) and one transcript for all of them, ``data_aishell/transcript/aishell_transcript_v0.8.txt``
(UTF-8), a line ``BAC009S0002W0122 而 对 楼市 成交 抑制 作用 最 大 的 限 购`` per utterance, its
words separated by spaces. Text: ``normalize_mandarin`` (the word spaces go: 而对楼市成交抑制作用最大的限购).

Splits: the corpus's own train / dev / test folders (340 / 40 / 20 speakers, disjoint). As in
Kaldi's recipe, audio without a transcript line is left out (and counted): 120,098 / 14,326 / 7,176
utterances remain.

    python -m recipes.aishell1.prepare [--corpus-dir /corpora/data_aishell]

``--corpus-dir`` (default ``data/aishell1`` at the repository root, where ``fetch.py`` puts it) may
also be the folder holding ``data_aishell/``. Writes OUT/{train,dev,test}.jsonl
(absolute audio paths, durations from the headers) and OUT/vocab.txt (characters of train).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dfcnn.audio import audio_info
from dfcnn.data import Utterance
from dfcnn.errors import DfcnnError
from dfcnn.text import normalize_mandarin
from recipes.common import Splits, run_prepare, write_splits

CORPUS = "aishell1"
SPLITS = ("train", "dev", "test")
TRANSCRIPT = Path("transcript") / "aishell_transcript_v0.8.txt"


def find_root(corpus_dir: Path) -> Path:
    """The folder holding ``wav/`` and ``transcript/``: ``corpus_dir`` itself or its ``data_aishell/``."""
    for candidate in (corpus_dir, corpus_dir / "data_aishell"):
        if (candidate / TRANSCRIPT).is_file():
            return candidate
    raise DfcnnError(f"{corpus_dir}: {TRANSCRIPT} not found (expected AISHELL-1's data_aishell/ folder)")


def read_transcripts(path: Path) -> dict[str, str]:
    """utterance id -> normalised text, from ``aishell_transcript_v0.8.txt``."""
    texts = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            utt_id, _, words = line.strip().partition(" ")
            if not utt_id:
                continue
            if utt_id in texts:
                raise DfcnnError(f"{path}:{number}: duplicate utterance {utt_id}")
            text = normalize_mandarin(words)
            if not text:
                raise DfcnnError(f"{path}:{number}: empty transcript for {utt_id}")
            texts[utt_id] = text
    return texts


def read_split(root: Path, split: str, texts: dict[str, str]) -> tuple[list[Utterance], int]:
    """(utterances of ``wav/<split>`` sorted by id, number of files without a transcript)."""
    folder = root / "wav" / split
    if not folder.is_dir():
        packed = sorted((root / "wav").glob("*.tar.gz"))
        hint = f"; unpack the {len(packed)} speaker archives in wav/ first (fetch.py does)" if packed else ""
        raise DfcnnError(f"{folder}: folder not found{hint}")
    utterances, untranscribed = [], 0
    for audio in sorted(folder.glob("*/*.wav"), key=lambda p: p.stem):
        if audio.stem not in texts:
            untranscribed += 1
            continue
        duration, _, _ = audio_info(audio)
        utterances.append(Utterance(audio, duration, texts[audio.stem], audio.stem))
    return utterances, untranscribed


def prepare_aishell1(corpus_dir: str | Path, out_dir: str | Path) -> Splits:
    """Write OUT/{train,dev,test}.jsonl and OUT/vocab.txt; return the utterances of each split."""
    root = find_root(Path(corpus_dir).resolve())
    texts = read_transcripts(root / TRANSCRIPT)
    splits: Splits = {}
    for split in SPLITS:
        splits[split], untranscribed = read_split(root, split, texts)
        if untranscribed:
            print(f"{split}: {untranscribed} audio files without a transcript line left out", file=sys.stderr)
    write_splits(splits, Path(out_dir), root)
    return splits


def main(argv: list[str] | None = None) -> int:
    return run_prepare(CORPUS, __doc__.split("\n\n")[0], prepare_aishell1, argv, downloaded=True)


if __name__ == "__main__":
    sys.exit(main())
