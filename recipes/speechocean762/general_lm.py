"""speechocean762's general English LM (run.sh stage 4, after the corpus LM): PocketSphinx's US
English 3-gram, from the installed pocketsphinx package (nothing is downloaded), converted to
ARPA and a KenLM trie -> EXP/lm-general; interpolated with the corpus LM at the weights that minimise
the dev text's perplexity, pruned to ship inside the package -> EXP/lm-mix, the LM stage 5 tunes.

    python -m recipes.speechocean762.general_lm --corpus-lm recipes/speechocean762/exp/lm/lm.arpa \\
        --dev recipes/speechocean762/data/dev.jsonl --model recipes/speechocean762/exp/best.pt \\
        --exp recipes/speechocean762/exp
    python -m recipes.speechocean762.general_lm ... --prune 0   # the interpolated LM unpruned (lm-mix-full)

Each folder holds lm.arpa, lm.bin (KenLM trie, 8-bit quantised), lexicon.txt (the LM's words in the
model's phones) and a summary JSON (weights, n-gram counts, dev perplexities). PocketSphinx's model is
under its BSD-style CMU licence (recipes/speechocean762/README.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dfcnn.checkpoint import load_checkpoint
from dfcnn.errors import DfcnnError
from dfcnn.fileio import atomic_write_text
from dfcnn.lm import lm_corpus
from dfcnn.lm.mix import POCKETSPHINX, load_backoff_model, mix_lms, write_lm
from dfcnn.lm.sphinx import pocketsphinx_lm_path
from dfcnn.loading import find_model
from dfcnn.text import Tokenizer

SHIPPED_PRUNE = 3e-8  # arpa.prune threshold of the shipped LM: 9.9 MB trie instead of 18.5 MB (bench/lm.md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-lm", type=Path, required=True, help="the corpus LM's ARPA file (dfcnn lm)")
    parser.add_argument("--dev", type=Path, required=True, help="text the weights are tuned on: a manifest or text")
    parser.add_argument("--model", type=Path, required=True, help="checkpoint whose phones spell the lexicons")
    parser.add_argument("--exp", type=Path, required=True, help="writes EXP/lm-general and EXP/lm-mix")
    parser.add_argument(
        "--general",
        default=POCKETSPHINX,
        help="the general LM: pocketsphinx (its en-us.lm.bin), or an ARPA or PocketSphinx .lm.bin file",
    )
    parser.add_argument("--prune", type=float, default=SHIPPED_PRUNE, help="pruning threshold of lm-mix; 0: none")
    parser.add_argument("--mix-name", default="lm-mix", help="folder name of the interpolated LM under EXP")
    args = parser.parse_args()
    try:
        run(args)
    except DfcnnError as error:
        sys.exit(f"general_lm.py: error: {error}")


def run(args: argparse.Namespace) -> None:
    source = pocketsphinx_lm_path() if args.general == POCKETSPHINX else Path(args.general)  # one clear line if absent
    tokenizer = Tokenizer.from_dict(load_checkpoint(find_model(args.model).network)["tokenizer"])
    dev = [sentence.split() for sentence in lm_corpus([args.dev], tokenizer.normalizer)]
    general = load_backoff_model(source)
    corpus = load_backoff_model(args.corpus_lm)

    out = args.exp / "lm-general"
    lm = write_lm(general, out, tokenizer)
    atomic_write_text(out / "source.json", json.dumps({"source": str(source), "ngrams": general.counts}) + "\n")
    print(
        f"general LM, {general.counts} n-grams from {source} -> {lm.binary} "
        f"({lm.binary.stat().st_size / 1e6:.1f} MB), {lm.lexicon} "
        f"({lm.vocabulary_size - lm.lexicon_skipped} of {lm.vocabulary_size} words)"
    )

    mixed = mix_lms(
        {"corpus": corpus, "general": general},
        args.exp / args.mix_name,
        tokenizer,
        dev,
        prune_threshold=args.prune or None,
    )
    weights = ", ".join(f"{name} {weight:.3f}" for name, weight in mixed.weights.items())
    print(
        f"interpolated LM ({weights}; pruned at {args.prune:g}): {mixed.counts} n-grams, "
        f"{mixed.lm.binary.stat().st_size / 1e6:.1f} MB trie -> {mixed.lm.binary}"
    )
    scores = mixed.perplexity.items()
    print("dev perplexity: " + ", ".join(f"{name} {p.value:.1f} ({p.oovs} OOV)" for name, p in scores))


if __name__ == "__main__":
    main()
