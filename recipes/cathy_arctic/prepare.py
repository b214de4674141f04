#!/usr/bin/env python3
"""Prepare cathy_arctic (Rhasspy "Cathy" voice, CMU ARCTIC prompts): manifests and a character vocabulary.

One native US English speaker read the 1132 CMU ARCTIC prompts, many of them 2-7 times: 1620 files
``data_16k/<prompt id>_<unix time>.opus`` (``arctic_a0001_1592748574``), each with its transcript
``<same stem>.txt`` (one line, mixed case, punctuated). ``cmuarctic.data`` is the festvox prompt list
``( arctic_a0001 "text" )``; the transcripts are used, not the prompts (20 files were read, and
transcribed, with a word changed: "needed" for "need").

Split (none is given): by prompt, never by file, so that no sentence is in two splits. Prompt ids
whose texts are the same after normalisation are one group (arctic_b0536 and arctic_b0537 are both
"Typhoid? Did I tell you?"); the groups are ranked by an MD5 hash of their first prompt id and the
first ``--test-fraction`` (5 %) of them are test, the next ``--dev-fraction`` (5 %) dev, the rest
train. Every take of a prompt goes where its group goes.

    python -m recipes.cathy_arctic.prepare [--corpus-dir $DFCNN_DATA/cathy_arctic] [--out recipes/cathy_arctic/data]

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
from recipes.common import Splits, check_fractions, held_out, read_transcript, run_prepare, write_splits

CORPUS = "cathy_arctic"
DEV_FRACTION = 0.05
TEST_FRACTION = 0.05
STEM = re.compile(r"^(?P<prompt>arctic_[ab][0-9]{4})_(?P<take>[0-9]+)$")  # arctic_a0001_1592748574
PROMPT_LINE = re.compile(r'^\(\s*(?P<prompt>\S+)\s+"(?P<text>.*)"\s*\)$')  # ( arctic_a0001 "text" )


def read_prompts(path: Path) -> dict[str, str]:
    """prompt id -> text of the festvox prompt list ``cmuarctic.data``."""
    if not path.is_file():
        raise DfcnnError(f"{path}: file not found (expected the CMU ARCTIC prompt list)")
    prompts = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            match = PROMPT_LINE.match(line.strip())
            if not match:
                raise DfcnnError(f'{path}:{number}: expected ( <prompt id> "<text>" ), got {line.strip()[:60]!r}')
            if match["prompt"] in prompts:
                raise DfcnnError(f"{path}:{number}: duplicate prompt id {match['prompt']!r}")
            prompts[match["prompt"]] = match["text"]
    return prompts


def prompt_groups(texts: dict[str, set[str]]) -> dict[str, str]:
    """prompt id -> its group (the smallest prompt id that shares a normalised text with it, transitively)."""
    parent = {prompt: prompt for prompt in texts}

    def find(prompt: str) -> str:
        while parent[prompt] != prompt:
            prompt = parent[prompt]
        return prompt

    first_with = {}
    for prompt in sorted(texts):
        for text in sorted(texts[prompt]):
            other = first_with.setdefault(text, prompt)
            a, b = sorted((find(prompt), find(other)))
            parent[b] = a
    return {prompt: find(prompt) for prompt in texts}


def prepare_cathy_arctic(
    corpus_dir: str | Path,
    out_dir: str | Path,
    dev_fraction: float = DEV_FRACTION,
    test_fraction: float = TEST_FRACTION,
) -> Splits:
    """Write OUT/{train,dev,test}.jsonl and OUT/vocab.txt; return the utterances of each split."""
    check_fractions(dev_fraction, test_fraction)
    corpus_dir = Path(corpus_dir).resolve()
    out_dir = Path(out_dir)
    audio_dir = corpus_dir / "data_16k"
    if not audio_dir.is_dir():
        raise DfcnnError(f"{audio_dir}: folder not found (expected data_16k/<prompt id>_<time>.opus and .txt)")
    prompts = read_prompts(corpus_dir / "cmuarctic.data")
    utterances, prompt_of, texts, differ = [], {}, {}, 0
    for audio in sorted(p for p in audio_dir.iterdir() if p.suffix == ".opus"):
        match = STEM.match(audio.stem)
        if not match:
            raise DfcnnError(f"{audio}: not a cathy_arctic file name (expected arctic_a0001_<time>.opus)")
        prompt = match["prompt"]
        if prompt not in prompts:
            raise DfcnnError(f"{audio}: prompt id {prompt!r} is not in {corpus_dir / 'cmuarctic.data'}")
        text = read_transcript(audio.with_suffix(".txt"), normalize_english)
        differ += text != normalize_english(prompts[prompt])
        duration, _, _ = audio_info(audio)
        utterances.append(Utterance(audio, duration, text, audio.stem))
        prompt_of[audio.stem] = prompt
        texts.setdefault(prompt, set()).add(text)
    if not utterances:
        raise DfcnnError(f"{audio_dir}: no .opus files")
    group_of = prompt_groups(texts)
    groups = set(group_of.values())
    test_groups, dev_groups = held_out(groups, (test_fraction, dev_fraction))
    split_of = {g: "test" for g in test_groups} | {g: "dev" for g in dev_groups}
    splits: Splits = {"train": [], "dev": [], "test": []}
    for utt in utterances:
        splits[split_of.get(group_of[prompt_of[utt.utt_id]], "train")].append(utt)
    write_splits(splits, out_dir, audio_dir)
    print(
        f"{len(utterances)} files of {len(texts)} prompts ({len(groups)} prompt groups with distinct texts; "
        f"{len(prompts)} prompts listed); {differ} transcripts differ from their prompt in cmuarctic.data"
    )
    return splits


def add_arguments(parser) -> None:
    parser.add_argument(
        "--dev-fraction",
        type=float,
        default=DEV_FRACTION,
        help="share of prompt groups held out as dev (default: %(default)s)",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=TEST_FRACTION,
        help="share of prompt groups held out as test (default: %(default)s)",
    )


def main(argv: list[str] | None = None) -> int:
    return run_prepare(CORPUS, __doc__.split("\n\n")[0], prepare_cathy_arctic, argv, add_arguments)


if __name__ == "__main__":
    sys.exit(main())
