"""What the general English LM costs on disk, and what shrinking it costs in perplexity: PocketSphinx's
US English 3-gram (from the installed pocketsphinx) and its interpolation with speechocean762's corpus
LM, as KenLM binaries (probing, trie, 8-bit quantised trie) and pruned at several thresholds, with
the phone lexicon of each.

    .venv/bin/python bench/lm_size.py --corpus-lm recipes/speechocean762/exp/lm/lm.arpa \
        --dev recipes/speechocean762/data/dev.jsonl --test recipes/speechocean762/data/test.jsonl \
        --model recipes/speechocean762/exp

The interpolation weights are tuned on dev text (as run.sh stage 4 does); perplexities are of the ARPA
model and, for binaries, of the file as flashlight's decoder reads it (the quantisation's cost). "gzip"
is the size after gzip -6, about what a wheel's zip stores. Writes bench/lm_size.md/.json.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dfcnn.checkpoint import load_checkpoint  # noqa: E402
from dfcnn.fileio import atomic_write_text  # noqa: E402
from dfcnn.lm import KENLM_TRIE_Q8, build_kenlm_binary, lm_corpus  # noqa: E402
from dfcnn.lm.arpa import best_mix_weights, interpolate, perplexity, prune  # noqa: E402
from dfcnn.lm.mix import POCKETSPHINX, kenlm_perplexity, load_backoff_model, write_lm  # noqa: E402
from dfcnn.loading import find_model  # noqa: E402
from dfcnn.text import Tokenizer  # noqa: E402

BINARIES = {"probing": (), "trie": ("trie",), "trie -q 8 -b 8 -a 22": KENLM_TRIE_Q8}
PRUNE = (1e-8, 3e-8, 1e-7, 3e-7)  # arpa.prune thresholds of the interpolated LM


def gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=6))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus-lm", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="checkpoint whose units spell the lexicons")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "lm_size.md")
    args = parser.parse_args()
    tokenizer = Tokenizer.from_dict(load_checkpoint(find_model(args.model).network)["tokenizer"])
    dev, test = ([s.split() for s in lm_corpus([path], tokenizer.normalizer)] for path in (args.dev, args.test))
    corpus, general = load_backoff_model(args.corpus_lm), load_backoff_model(POCKETSPHINX)
    weights = best_mix_weights([corpus, general], dev)
    mixed = interpolate([corpus, general], weights)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        variants = [("corpus", corpus, None), ("general", general, None), ("interpolated", mixed, None)]
        variants += [("interpolated", None, threshold) for threshold in PRUNE]
        for name, model, threshold in variants:
            start = time.perf_counter()
            model = model if threshold is None else prune(mixed, threshold)
            folder = scratch / f"{name}-{threshold}"
            lm = write_lm(model, folder, tokenizer, binary_options=None)
            row = {
                "lm": name,
                "prune": threshold,
                "ngrams": model.counts,
                "lexicon_words": lm.vocabulary_size - lm.lexicon_skipped,
                "lexicon_mb": lm.lexicon.stat().st_size / 1e6,
                "lexicon_gzip_mb": gzip_size(lm.lexicon) / 1e6,
                "arpa_mb": lm.arpa.stat().st_size / 1e6,
                "dev_ppl": perplexity(model, dev).value,
                "test_ppl": perplexity(model, test).value,
                "dev_oovs": perplexity(model, dev).oovs,
                "binaries": {},
            }
            kinds = BINARIES if threshold is None else {"trie -q 8 -b 8 -a 22": KENLM_TRIE_Q8}
            for kind, options in kinds.items():
                binary = build_kenlm_binary(lm.arpa, folder / f"{kind.replace(' ', '')}.bin", options)
                row["binaries"][kind] = {
                    "mb": binary.stat().st_size / 1e6,
                    "gzip_mb": gzip_size(binary) / 1e6,
                    "dev_ppl": kenlm_perplexity(binary, model, dev).value,
                }
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            print(json.dumps(row), flush=True)

    lines = []
    for row in rows:
        for kind, binary in row["binaries"].items():
            lines.append(
                f"| {row['lm']} | {row['prune'] if row['prune'] is not None else '-'} | "
                f"{' / '.join(f'{n:,}' for n in row['ngrams'])} | {kind} | {binary['mb']:.1f} | "
                f"{binary['gzip_mb']:.1f} | "
                f"{row['dev_ppl']:.1f} | {binary['dev_ppl']:.1f} | {row['test_ppl']:.1f} | {row['lexicon_words']:,} | "
                f"{row['lexicon_mb']:.1f} / {row['lexicon_gzip_mb']:.1f} |\n"
            )
    text = (
        f"# General English LM: size and perplexity ({datetime.date.today()})\n\n"
        f"    {' '.join(['bench/lm_size.py', *sys.argv[1:]])}\n\n"
        f"Interpolation weights tuned on `{args.dev}` text: corpus {weights[0]:.3f}, general {weights[1]:.3f}. "
        "Perplexity over each LM's own vocabulary (the corpus LM scores unknown words as <unk>; the general LM, "
        "which has no <unk>, skips them: "
        f"{rows[1]['dev_oovs']} dev words).\n\n"
        "| LM | pruned at | 1/2/3-grams | KenLM binary | MB | gzip MB | dev ppl (ARPA) | dev ppl (binary) | "
        "test ppl | lexicon words | lexicon MB / gzip |\n"
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n" + "".join(lines)
    )
    atomic_write_text(args.out, text)
    atomic_write_text(args.out.with_suffix(".json"), json.dumps({"weights": weights, "rows": rows}, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
