#!/usr/bin/env python3
"""Prepare speechocean762 (OpenSLR 101): manifests, a character and a phone vocabulary.

The corpus comes as two Kaldi data folders, ``train/`` and ``test/`` (125 and 63 speakers,
speaker-disjoint), each with ``text`` (upper-case words), ``wav.scp`` (paths relative to the corpus
folder, here ``WAVE/SPEAKERxxxx/<utt>.opus``), ``utt2spk`` and ``spk2age``. Half of the speakers are
children; all are Mandarin L1 speakers reading English.

Split: test is Kaldi's ``test/``. Dev holds out ``--dev-fraction`` (8 %) of the TRAIN speakers, all
of their utterances, so dev is speaker-disjoint from train. The choice is deterministic: speakers
are ranked by an MD5 hash of their id and taken from children (age < 18) and adults in proportion,
so dev has both (5 + 5 of 125 speakers at 8 %).

    python -m recipes.speechocean762.prepare [--corpus-dir $DFCNN_DATA/speechocean762]
        [--out recipes/speechocean762/data]

writes OUT/{train,dev,test}.jsonl (absolute audio paths, durations from the headers) and
OUT/vocab.txt (characters of the train transcripts) and OUT/vocab_phone.txt (the 39 ARPAbet phones and |).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dfcnn.audio import audio_info
from dfcnn.data import Utterance
from dfcnn.errors import DfcnnError
from dfcnn.text import build_vocab, normalize_english, save_vocab
from recipes.common import Splits, held_out_speakers, run_prepare, write_splits

CORPUS = "speechocean762"
DEV_FRACTION = 0.08
ADULT_AGE = 18  # speakers younger than this count as children when dev speakers are drawn


def read_kaldi_map(path: Path, required: bool = True) -> dict[str, str]:
    """A Kaldi ``key value...`` file as a dict (value: the rest of the line, stripped)."""
    if not path.is_file():
        if required:
            raise DfcnnError(f"{path}: file not found (expected a Kaldi data folder)")
        return {}
    table = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            fields = line.strip().split(maxsplit=1)
            if not fields:
                continue
            key = fields[0]
            if key in table:
                raise DfcnnError(f"{path}:{number}: duplicate key {key!r}")
            table[key] = fields[1].strip() if len(fields) > 1 else ""
    return table


def read_kaldi_dir(corpus_dir: Path, split: str) -> tuple[list[Utterance], dict[str, str], dict[str, str]]:
    """(utterances sorted by id, utt -> speaker, speaker -> age) of the Kaldi folder ``corpus_dir/split``."""
    folder = corpus_dir / split
    texts = read_kaldi_map(folder / "text")
    wavs = read_kaldi_map(folder / "wav.scp")
    utt2spk = read_kaldi_map(folder / "utt2spk")
    spk2age = read_kaldi_map(folder / "spk2age", required=False)
    utterances = []
    for utt_id in sorted(texts):
        for table, name in ((wavs, "wav.scp"), (utt2spk, "utt2spk")):
            if utt_id not in table:
                raise DfcnnError(f"{folder / name}: no entry for utterance {utt_id!r} of {folder / 'text'}")
        location = wavs[utt_id]
        if location.endswith("|"):
            raise DfcnnError(f"{folder / 'wav.scp'}: {utt_id}: piped commands are not supported, only file paths")
        audio = Path(location)
        if not audio.is_absolute():
            audio = corpus_dir / audio  # speechocean762's wav.scp is relative to the corpus folder
        duration, _, _ = audio_info(audio)
        utterances.append(Utterance(audio, duration, normalize_english(texts[utt_id]), utt_id))
    return utterances, utt2spk, spk2age


def is_child(speaker: str, spk2age: dict[str, str]) -> bool:
    age = spk2age.get(speaker, "")
    return age.isdigit() and int(age) < ADULT_AGE


def prepare_speechocean762(corpus_dir: str | Path, out_dir: str | Path, dev_fraction: float = DEV_FRACTION) -> Splits:
    """Write OUT/{train,dev,test}.jsonl, OUT/vocab.txt and OUT/vocab_phone.txt; return each split's utterances."""
    if not 0 < dev_fraction < 1:
        raise DfcnnError(f"--dev-fraction must be between 0 and 1, got {dev_fraction}")
    corpus_dir = Path(corpus_dir).resolve()
    out_dir = Path(out_dir)
    train_all, train_utt2spk, train_spk2age = read_kaldi_dir(corpus_dir, "train")
    test, test_utt2spk, _ = read_kaldi_dir(corpus_dir, "test")
    shared = {train_utt2spk[u.utt_id] for u in train_all} & {test_utt2spk[u.utt_id] for u in test}
    if shared:
        print(f"warning: {len(shared)} speakers are in both train/ and test/: {sorted(shared)[:5]}", file=sys.stderr)
    speakers = sorted({train_utt2spk[u.utt_id] for u in train_all})
    children = [s for s in speakers if is_child(s, train_spk2age)]
    adults = [s for s in speakers if not is_child(s, train_spk2age)]
    dev_speakers = held_out_speakers([children, adults], dev_fraction)  # both in proportion
    splits = {
        "train": [u for u in train_all if train_utt2spk[u.utt_id] not in dev_speakers],
        "dev": [u for u in train_all if train_utt2spk[u.utt_id] in dev_speakers],
        "test": test,
    }
    write_splits(splits, out_dir, corpus_dir)
    save_vocab(build_vocab([], unit="phone"), out_dir / "vocab_phone.txt")
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
    return run_prepare(CORPUS, __doc__.split("\n\n")[0], prepare_speechocean762, argv, add_arguments)


if __name__ == "__main__":
    sys.exit(main())
