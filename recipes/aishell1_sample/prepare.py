#!/usr/bin/env python3
"""Prepare the AISHELL-1 sample (2 speakers, 1000 utterances): manifests and a pinyin vocabulary.

``AISHELL_Sample_data/BAC009S0150W0001.opus`` and its transcript ``BAC009S0150W0001.txt`` (one line
of characters, no word segmentation; a few files start with a byte-order mark), 500 utterances each
of speakers S0150 and S0252. Texts go through the Mandarin normaliser; the vocabulary is tonal pinyin
syllables of the train texts (``unit="pinyin"``), as in the DFCNN reference implementation. The 71
utterances with Latin words (``想听歌曲Let It Go``, ``S A M S U N G P A Y``, ``E Y N``) are left out
(``--keep-latin`` keeps them): a Latin word has no syllable, so training would drop them and a test
one could never be right. A ``[n]`` noise mark (one transcript) is removed.

Two splits (none is given):

- ``--split sentence`` (default, into data/): sentences held out. Utterances whose normalised texts
  are equal are one group (12 sentences were recorded twice, one of them by both speakers); groups
  are ranked by an MD5 hash of their text and the first ``--test-fraction`` (7.5 %) are test, the
  next ``--dev-fraction`` (7.5 %) dev, the rest train. Both speakers are in every split; no sentence
  is in two.
- ``--split speaker`` (into data-speaker/: pass ``--out``): the speaker held out. Test is every
  utterance of ``--test-speaker`` (S0252); train and dev are the other speaker's, dev the first
  ``--dev-fraction`` of its sentence groups by the same hash rank.

    python -m recipes.aishell1_sample.prepare [--corpus-dir $DFCNN_DATA/aishell1_sample]
        [--out recipes/aishell1_sample/data]
    python -m recipes.aishell1_sample.prepare --split speaker --out data-speaker

writes OUT/{train,dev,test}.jsonl (absolute audio paths, durations from the headers) and
OUT/vocab.txt (tonal pinyin syllables of the train transcripts).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from dfcnn.audio import audio_info
from dfcnn.data import Utterance
from dfcnn.errors import DfcnnError
from dfcnn.text import normalize_mandarin
from recipes.common import Splits, check_fractions, held_out, read_transcript, run_prepare, write_splits

CORPUS = "aishell1_sample"
SPLITS = ("sentence", "speaker")
DEV_FRACTION = 0.075
TEST_FRACTION = 0.075
TEST_SPEAKER = "S0252"
NOISE_TAG = re.compile(r"\[[a-z]+\]")  # "[n]" before one transcript: a noise mark, not speech
LATIN = re.compile(r"[a-z0-9]")  # left by normalize_mandarin only in Latin words (digits become characters)
STEM = re.compile(r"^BAC009(?P<speaker>S[0-9]{4})W[0-9]{4}$")  # BAC009S0150W0001


def normalize(line: str) -> str:
    """A transcript line without its noise marks, through the Mandarin normaliser."""
    return normalize_mandarin(NOISE_TAG.sub(" ", line))


def prepare_aishell1_sample(
    corpus_dir: str | Path,
    out_dir: str | Path,
    split: str = "sentence",
    dev_fraction: float = DEV_FRACTION,
    test_fraction: float = TEST_FRACTION,
    test_speaker: str = TEST_SPEAKER,
    keep_latin: bool = False,
) -> Splits:
    """Write OUT/{train,dev,test}.jsonl and OUT/vocab.txt; return the utterances of each split."""
    if split not in SPLITS:
        raise DfcnnError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    check_fractions(dev_fraction, test_fraction)
    corpus_dir = Path(corpus_dir).resolve()
    out_dir = Path(out_dir)
    audio_dir = corpus_dir / "AISHELL_Sample_data"
    if not audio_dir.is_dir():
        raise DfcnnError(f"{audio_dir}: folder not found (expected BAC009S....W....opus and .txt)")
    utterances, speaker_of = [], {}
    for audio in sorted(p for p in audio_dir.iterdir() if p.suffix == ".opus"):
        match = STEM.match(audio.stem)
        if not match:
            raise DfcnnError(f"{audio}: not an AISHELL-1 file name (expected BAC009S0150W0001.opus)")
        text = read_transcript(audio.with_suffix(".txt"), normalize)
        duration, _, _ = audio_info(audio)
        utterances.append(Utterance(audio, duration, text, audio.stem))
        speaker_of[audio.stem] = match["speaker"]
    if not utterances:
        raise DfcnnError(f"{audio_dir}: no .opus files")
    latin = [u for u in utterances if LATIN.search(u.text)]
    if not keep_latin:
        utterances = [u for u in utterances if not LATIN.search(u.text)]
        print(
            f"left out {len(latin)} utterances with Latin words (no pinyin for them): "
            f"{' '.join(u.utt_id for u in latin[:4])} ..."
        )
    speakers = sorted(set(speaker_of.values()))
    if split == "sentence":
        test_texts, dev_texts = held_out((u.text for u in utterances), (test_fraction, dev_fraction))
        splits: Splits = {
            "train": [u for u in utterances if u.text not in test_texts | dev_texts],
            "dev": [u for u in utterances if u.text in dev_texts],
            "test": [u for u in utterances if u.text in test_texts],
        }
    else:
        if test_speaker not in speakers:
            raise DfcnnError(f"--test-speaker {test_speaker!r} is not a speaker of {audio_dir} ({', '.join(speakers)})")
        rest = [u for u in utterances if speaker_of[u.utt_id] != test_speaker]
        (dev_texts,) = held_out((u.text for u in rest), (dev_fraction,))
        splits = {
            "train": [u for u in rest if u.text not in dev_texts],
            "dev": [u for u in rest if u.text in dev_texts],
            "test": [u for u in utterances if speaker_of[u.utt_id] == test_speaker],
        }
    write_splits(splits, out_dir, audio_dir, unit="pinyin")
    for name, members in splits.items():
        print(f"{name}: speakers {' '.join(sorted({speaker_of[u.utt_id] for u in members}))}")
    return splits


def add_arguments(parser) -> None:
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="sentence",
        help="sentence: held-out sentences, both speakers everywhere; speaker: one speaker "
        "is test (default: %(default)s)",
    )
    parser.add_argument(
        "--dev-fraction",
        type=float,
        default=DEV_FRACTION,
        help="share of sentences held out as dev (default: %(default)s)",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=TEST_FRACTION,
        help="share of sentences held out as test, --split sentence (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-latin",
        action="store_true",
        help="keep the utterances with Latin words (A P P L E P A Y); training drops them anyway "
        "(no syllable), and a test one can never be recognised right",
    )
    parser.add_argument(
        "--test-speaker", default=TEST_SPEAKER, help="the held-out speaker, --split speaker (default: %(default)s)"
    )


def main(argv: list[str] | None = None) -> int:
    return run_prepare(CORPUS, __doc__.split("\n\n")[0], prepare_aishell1_sample, argv, add_arguments)


if __name__ == "__main__":
    sys.exit(main())
