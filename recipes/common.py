"""What every recipes/<corpus>/prepare.py shares: where the corpora live, one-line transcript files,
hash-ranked held-out sets (of keys, or of speakers), writing the splits, and the command line
(``--corpus-dir``, ``--out``, one-line errors).

A recipe's prepare.py holds ``prepare_<corpus>(corpus_dir, out_dir, ...)`` and its command line
calls ``run_prepare``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from dfcnn.data import Utterance, write_manifest
from dfcnn.errors import DfcnnError
from dfcnn.text import build_vocab, save_vocab
from recipes.download import DOWNLOAD_ROOT  # data/ at the repository root

REPO = Path(__file__).resolve().parents[1]

Splits = dict[str, list[Utterance]]


def data_root() -> Path:
    """$DFCNN_DATA, or ../shared/data beside the repository: the shared corpora, used in place."""
    return Path(os.environ.get("DFCNN_DATA") or REPO.parent / "shared" / "data")


def read_transcript(path: Path, normalize: Callable[[str], str]) -> str:
    """The one-line transcript file ``path`` (a byte-order mark is dropped), normalised.

    Blank lines are ignored; no content, a second line, or nothing left after ``normalize`` is a
    one-line error naming the file and line.
    """
    if not path.is_file():
        raise DfcnnError(f"{path}: transcript not found (expected one beside each audio file)")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    content = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    if not content:
        raise DfcnnError(f"{path}:1: empty transcript")
    if len(content) > 1:
        raise DfcnnError(f"{path}:{content[1][0]}: expected one line of transcript, found a second")
    number, line = content[0]
    text = normalize(line)
    if not text:
        raise DfcnnError(f"{path}:{number}: nothing left of the transcript once normalised: {line.strip()!r}")
    return text


def hash_ranked(keys: Iterable[str]) -> list[str]:
    """The distinct ``keys`` in the order of their MD5 digests.

    A shuffle that is the same on every machine and Python version (``hash()`` is salted per
    process), so a split drawn from it never changes.
    """
    return sorted(set(keys), key=lambda key: hashlib.md5(key.encode("utf-8")).hexdigest())


def held_out(keys: Iterable[str], fractions: tuple[float, ...]) -> list[set[str]]:
    """Disjoint sets of keys: the k-th holds ``round(fractions[k] * n)`` of the n distinct keys, in hash-rank order."""
    ranked, sets, start = hash_ranked(keys), [], 0
    for fraction in fractions:
        count = round(fraction * len(ranked))
        sets.append(set(ranked[start : start + count]))
        start += count
    return sets


def held_out_speakers(groups: Iterable[Iterable[str]], fraction: float) -> set[str]:
    """Speakers to hold out (all their utterances) as dev: ``round(fraction * n)`` of the n distinct
    speakers, at least one, taken by hash rank from each group in proportion to its size.

    ``groups`` partitions the speakers (children, adults; or a single group): the shares are
    apportioned by largest remainder, ties going to the earlier group, so every group large enough
    is in dev. Deterministic, like ``held_out``.
    """
    ranked = [hash_ranked(group) for group in groups]
    ranked = [group for group in ranked if group]
    speakers = sum(len(group) for group in ranked)
    if not speakers:
        return set()
    total = max(1, round(fraction * speakers))
    shares = [total * len(group) / speakers for group in ranked]
    counts = [int(share) for share in shares]
    for index in sorted(range(len(ranked)), key=lambda i: shares[i] - counts[i], reverse=True)[: total - sum(counts)]:
        counts[index] += 1
    return {speaker for group, count in zip(ranked, counts) for speaker in group[:count]}


def check_fractions(dev_fraction: float, test_fraction: float | None = None) -> None:
    """Each held-out share in (0, 1), their sum below 1; else a one-line error naming the options."""
    if test_fraction is None:
        if not 0 < dev_fraction < 1:
            raise DfcnnError(f"--dev-fraction must be between 0 and 1, got {dev_fraction}")
    elif not (0 < dev_fraction < 1 and 0 < test_fraction < 1 and dev_fraction + test_fraction < 1):
        raise DfcnnError(
            f"--dev-fraction and --test-fraction must be in (0, 1) with a sum below 1, "
            f"got {dev_fraction} and {test_fraction}"
        )


def write_splits(splits: Splits, out_dir: Path, source: Path, unit: str = "char") -> None:
    """OUT/<split>.jsonl for each split and OUT/vocab.txt from the train texts; no split may be empty.

    ``unit`` is the vocabulary's token unit: char, or pinyin for tonal syllables of Mandarin texts.
    """
    for name, utterances in splits.items():
        if not utterances:
            raise DfcnnError(f"{source}: the {name} split came out empty")
        write_manifest(out_dir / f"{name}.jsonl", utterances)
    save_vocab(build_vocab((u.text for u in splits["train"]), unit=unit), out_dir / "vocab.txt")


def summary(corpus: str, splits: Splits, out_dir: Path) -> str:
    lines = [f"{corpus}: wrote {out_dir}/{{{','.join(splits)}}}.jsonl and vocab.txt", "  split   utts   hours"]
    for name, utterances in splits.items():
        lines.append(f"  {name:<5} {len(utterances):>6} {sum(u.duration for u in utterances) / 3600:>7.3f}")
    return "\n".join(lines)


def run_prepare(
    corpus: str,
    description: str,
    prepare: Callable[..., Splits],
    argv: list[str] | None = None,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    downloaded: bool = False,
) -> int:
    """The prepare command line: parse, check the corpus folder, call ``prepare``, print a summary.

    ``prepare(corpus_dir, out_dir, **extra)`` gets the values of the options ``add_arguments`` adds.
    The corpus folder defaults to ``$DFCNN_DATA/<corpus>`` (the shared corpora), or for a corpus
    that the recipe's fetch.py downloads (``downloaded``) to ``data/<corpus>`` at the repository root.
    Exit codes: 0 done, 1 bad corpus content, 2 corpus folder missing.
    """
    home = DOWNLOAD_ROOT if downloaded else data_root()
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--corpus-dir",
        type=Path,
        default=None,
        help=f"default: {home / corpus}" if downloaded else f"default: $DFCNN_DATA/{corpus}",
    )
    here = REPO / "recipes" / corpus
    parser.add_argument("--out", type=Path, default=here / "data", help="output folder (default: %(default)s)")
    if add_arguments is not None:
        add_arguments(parser)
    args = vars(parser.parse_args(argv))
    corpus_dir, out_dir = args.pop("corpus_dir") or home / corpus, args.pop("out")
    if not corpus_dir.is_dir():
        if downloaded:
            hint = f"download it with python -m recipes.{corpus}.fetch (run.sh's stage 0) or pass --corpus-dir"
        else:
            hint = (
                f"DFCNN_DATA={os.environ.get('DFCNN_DATA') or 'unset, default ' + str(data_root())}; "
                f"point DFCNN_DATA at the folder holding {corpus}/ or pass --corpus-dir"
            )
        print(f"error: corpus directory {corpus_dir} not found ({hint})", file=sys.stderr)
        return 2
    try:
        splits = prepare(corpus_dir, out_dir, **args)
    except DfcnnError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary(corpus, splits, out_dir))
    return 0
