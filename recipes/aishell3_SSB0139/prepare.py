#!/usr/bin/env python3
"""Prepare AISHELL-3 speaker SSB0139 (490 utterances): manifests and a pinyin vocabulary.

One male speaker (age 14-25, southern accent). ``train_sample/content.txt`` (476 lines) and
``test_sample/content_sample.txt`` (14) hold ``<file>.wav<TAB>char pinyin char pinyin ...``; the
audio is ``<split>_sample/SSB0139/<stem>.opus``. The characters (every other token) go through the
Mandarin normaliser and our tokenizer converts them to tonal pinyin (``unit="pinyin"``), so the
vocabulary and the scoring agree with every other Mandarin recipe. The corpus's own pinyin, which
follows what the speaker said (tone sandhi, accent: 知 zi1) and writes erhua as one syllable (块儿
kuair4), is only compared against: the share of syllables on which the two agree is printed.

Split: the corpus's train / test (476 / 14). Dev is the first ``--dev-fraction`` (5 %, 24) of the
train utterances ranked by an MD5 hash of their id. One speaker: only a held-out-sentence split
exists (no held-out-speaker one).

    python -m recipes.aishell3_SSB0139.prepare [--corpus-dir $DFCNN_DATA/aishell3_SSB0139]
        [--out recipes/aishell3_SSB0139/data]

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
from dfcnn.text import is_cjk, normalize_mandarin, to_pinyin
from recipes.common import Splits, check_fractions, held_out, run_prepare, write_splits

CORPUS = "aishell3_SSB0139"
SPEAKER = "SSB0139"
TRANSCRIPTS = {"train": "train_sample/content.txt", "test": "test_sample/content_sample.txt"}
DEV_FRACTION = 0.05
SYLLABLE = re.compile(r"[a-z]+[1-5]")  # the corpus's pinyin: ni3, de5


def read_content(path: Path) -> list[tuple[str, str, list[str]]]:
    """(file stem, characters, the corpus's pinyin) of each line of an AISHELL-3 content file."""
    if not path.is_file():
        raise DfcnnError(f"{path}: file not found (expected <file>.wav<TAB>char pinyin char pinyin ...)")
    entries, seen = [], set()
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            tokens = fields[1].split() if len(fields) == 2 else []
            if len(fields) != 2 or not fields[0].endswith(".wav") or not tokens or len(tokens) % 2:
                raise DfcnnError(
                    f"{path}:{number}: expected <file>.wav<TAB>char pinyin char pinyin ..., got {line.strip()[:60]!r}"
                )
            chars, pinyin = tokens[0::2], tokens[1::2]
            # a syllable per character, but erhua is one token of two: 块儿 kuair4
            wrong = [s for s in pinyin if not SYLLABLE.fullmatch(s)] + [c for c in chars if not all(map(is_cjk, c))]
            if wrong:
                raise DfcnnError(f"{path}:{number}: {wrong[0]!r} breaks the char pinyin char pinyin ... pattern")
            stem = fields[0][: -len(".wav")]
            if stem in seen:
                raise DfcnnError(f"{path}:{number}: duplicate file {fields[0]!r}")
            seen.add(stem)
            entries.append((stem, "".join(chars), pinyin))
    return entries


def prepare_aishell3_SSB0139(corpus_dir: str | Path, out_dir: str | Path, dev_fraction: float = DEV_FRACTION) -> Splits:
    """Write OUT/{train,dev,test}.jsonl and OUT/vocab.txt; return the utterances of each split."""
    check_fractions(dev_fraction)
    corpus_dir = Path(corpus_dir).resolve()
    out_dir = Path(out_dir)
    given: dict[str, list[Utterance]] = {}
    agree = toneless = total = same_length = 0
    for split, name in TRANSCRIPTS.items():
        given[split] = []
        for stem, chars, pinyin in read_content(corpus_dir / name):
            audio = corpus_dir / Path(name).parent / SPEAKER / f"{stem}.opus"
            if not audio.is_file():
                raise DfcnnError(f"{audio}: audio of {stem} (listed in {corpus_dir / name}) not found")
            text = normalize_mandarin(chars)
            ours = to_pinyin(text)
            if len(ours) == len(pinyin):
                same_length += 1
                agree += sum(a == b for a, b in zip(ours, pinyin))
                toneless += sum(a[:-1] == b[:-1] for a, b in zip(ours, pinyin))
                total += len(pinyin)
            duration, _, _ = audio_info(audio)
            given[split].append(Utterance(audio, duration, text, stem))
    (dev_ids,) = held_out((u.utt_id for u in given["train"]), (dev_fraction,))
    splits: Splits = {
        "train": [u for u in given["train"] if u.utt_id not in dev_ids],
        "dev": [u for u in given["train"] if u.utt_id in dev_ids],
        "test": given["test"],
    }
    shared = {u.utt_id for u in given["train"]} & {u.utt_id for u in given["test"]}
    if shared:
        raise DfcnnError(f"{corpus_dir}: {len(shared)} files are in both train and test: {sorted(shared)[:3]}")
    write_splits(splits, out_dir, corpus_dir, unit="pinyin")
    print(
        f"pinyin agreement with the corpus's own: {agree}/{total} syllables ({100 * agree / total:.1f} %) "
        f"({100 * toneless / total:.1f} % without tones) over the {same_length} of "
        f"{sum(map(len, given.values()))} utterances with as many syllables (erhua makes the others differ)"
    )
    return splits


def add_arguments(parser) -> None:
    parser.add_argument(
        "--dev-fraction",
        type=float,
        default=DEV_FRACTION,
        help="share of the train utterances held out as dev (default: %(default)s)",
    )


def main(argv: list[str] | None = None) -> int:
    return run_prepare(CORPUS, __doc__.split("\n\n")[0], prepare_aishell3_SSB0139, argv, add_arguments)


if __name__ == "__main__":
    sys.exit(main())
