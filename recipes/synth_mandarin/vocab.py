#!/usr/bin/env python3
"""The vocabulary of a model fine-tuned from the synthetic corpus's pre-training: the pre-trained
model's syllables plus those of the fine-tuning transcripts, so fine-tuning keeps every syllable the
corpus taught (``train.init_from`` carries the output rows over by syllable) and can learn new ones.

    python -m recipes.synth_mandarin.vocab --base data/neural_mandarin/vocab.txt --out data/vocab_pretrained.txt \\
        recipes/aishell1_sample/data/train.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dfcnn.data import ManifestError, read_manifest
from dfcnn.mandarin import normalize_mandarin
from dfcnn.text import VocabError, build_vocab, save_vocab


def merged_vocab(base: Path, manifests: list[Path]) -> list[str]:
    """``base``'s tokens (a pinyin vocab.txt), then the manifests' syllables it lacks, sorted together
    after the blank and separator. Raises ``VocabError`` or ``ManifestError`` naming a bad file (and line)."""
    try:
        tokens = base.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise VocabError(f"{base}: {error.strerror}") from None
    texts = [normalize_mandarin(u.text) for manifest in manifests for u in read_manifest(manifest)]
    own = build_vocab(texts, unit="pinyin")
    head = own[:2]  # blank, word separator
    if tokens[:2] != head:
        raise VocabError(f"{base}: not a pinyin vocabulary (its first lines should be {' and '.join(head)})")
    return head + sorted(set(tokens[2:]) | set(own[2:]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="the pre-training vocab.txt")
    parser.add_argument("--out", type=Path, required=True, help="the merged vocab.txt to write")
    parser.add_argument("manifests", type=Path, nargs="+", help="the fine-tuning manifests (train)")
    args = parser.parse_args(argv)
    try:
        tokens = merged_vocab(args.base, args.manifests)
    except (VocabError, ManifestError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    save_vocab(tokens, args.out)
    print(f"{args.out}: {len(tokens)} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
