"""The ``dfcnn finetune`` command (registered by ``dfcnn.cli``; ``dfcnn train`` is the cli's own)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _finetune(args: argparse.Namespace) -> int:
    from .finetune import FinetuneConfig, finetune

    config = FinetuneConfig(
        model=str(args.model),
        train_manifest=str(args.train),
        out=str(args.out),
        dev_manifest=str(args.dev or ""),
        overrides=tuple(args.overrides),
        dev_fraction=args.dev_fraction,
        decoder=not args.no_decoder,
        skip_bad=args.skip_bad,
        new_tokens=args.new_tokens,
        resume=args.resume,
        force=args.force,
        progress=not args.quiet,
    )
    best = finetune(config)
    print(f"best checkpoint: {best}")
    return 0


def add_commands(subparsers, formatter_class) -> None:
    """``finetune``: adapt a trained model to a manifest."""
    from ..options import FINETUNE_DEV_FRACTION

    finetune = subparsers.add_parser(
        "finetune",
        help="adapt a shipped or trained model to your own manifest",
        formatter_class=formatter_class,
        description="Fine-tune a model on your manifest into OUT, a normal training folder (best.pt, last.pt, "
        "metrics.jsonl, config.yaml): transcribe, evaluate, tune and ship take it. The model's features, "
        "network, vocabulary and normaliser come from its checkpoint; small-data defaults (a tenth of its "
        "learning rate, about 300 steps, a short warm-up, its SpecAugment) come next, key=value "
        "overrides last. Every transcript is checked first (one line per bad entry). The decoder the "
        "model ships is copied into OUT. Stopped (Ctrl-C)? The same command with --resume continues.",
    )
    finetune.add_argument(
        "--model",
        required=True,
        help="a shipped model's name (dfcnn models), a training folder with best.pt, or a checkpoint",
    )
    finetune.add_argument("--train", type=Path, required=True, help="JSONL manifest of your training utterances")
    finetune.add_argument(
        "--dev",
        type=Path,
        default=None,
        help="JSONL manifest scored each epoch (best.pt follows it); unset: split off --train",
    )
    finetune.add_argument("--out", type=Path, required=True, help="the training folder to write")
    finetune.add_argument(
        "overrides", nargs="*", metavar="key=value", help="training config overrides, e.g. train.epochs=5 train.lr=1e-4"
    )
    finetune.add_argument(
        "--dev-fraction",
        type=float,
        default=FINETUNE_DEV_FRACTION,
        help="without --dev: this share of --train, chosen by a hash of utt_id, is the dev set",
    )
    finetune.add_argument(
        "--no-decoder",
        action="store_true",
        help="do not carry the model's shipped decoder (lexicon, LM) into OUT: greedy output",
    )
    finetune.add_argument(
        "--skip-bad", action="store_true", help="leave bad manifest entries out (still listed) instead of stopping"
    )
    finetune.add_argument(
        "--new-tokens",
        action="store_true",
        help="add the characters (syllables) your transcripts spell and the model lacks, with untrained output "
        "rows, instead of refusing those entries",
    )
    finetune.add_argument("--resume", action="store_true", help="continue OUT/last.pt exactly where it stopped")
    finetune.add_argument(
        "--force",
        action="store_true",
        help="start over in an OUT holding an earlier run: its checkpoints and metrics are removed",
    )
    finetune.add_argument("--quiet", action="store_true", help="no progress bars")
    finetune.set_defaults(run=_finetune)
