"""The ``dfcnn`` command.

    dfcnn train CONFIG.yaml [key=value ...] [--resume]
    dfcnn evaluate --model exp/best.pt --manifest data/test.jsonl [--out exp/eval-test]
    dfcnn transcribe --model exp/best.pt speech.flac other.wav

Errors caused by input (missing files, malformed manifests, bad configs) print one line and exit 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import DfcnnError


def _train(args: argparse.Namespace) -> int:
    from .config import load_config
    from .train import ExperimentConfig, train

    config = load_config(ExperimentConfig, args.config, args.overrides)
    best = train(config, resume=args.resume, progress=not args.quiet)
    print(f"best checkpoint: {best}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    _, table = evaluate(
        args.model, args.manifest, args.out, args.device, args.max_batch_duration, progress=not args.quiet
    )
    print(table)
    if args.out is not None:
        print(f"alignments and hypotheses written to {args.out}")
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    from .inference import load_model

    recognizer = load_model(args.model, args.device)
    failed = 0
    for path in args.files:
        try:
            text = recognizer.transcribe(path).text
        except DfcnnError as error:
            print(f"dfcnn: error: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"{path}\t{text}", flush=True)
    if failed:
        print(f"dfcnn: {failed} of {len(args.files)} files failed", file=sys.stderr)
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dfcnn", description="DFCNN speech recognition: train, evaluate, transcribe.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = argparse.ArgumentDefaultsHelpFormatter

    train = commands.add_parser("train", help="train a model from a YAML config", formatter_class=defaults,
                                description="Train a DFCNN. The YAML holds only what differs from the defaults.")
    train.add_argument("config", type=Path, help="YAML config (sections: data, features, specaugment, model, train)")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.lr=5e-4")
    train.add_argument("--resume", action="store_true", help="continue exp_dir/last.pt exactly where it stopped")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("evaluate", help="WER/CER of a model on a manifest", formatter_class=defaults)
    evaluate.add_argument("--model", type=Path, required=True, help="checkpoint (e.g. exp/best.pt)")
    evaluate.add_argument("--manifest", type=Path, required=True, help="JSONL manifest with reference texts")
    evaluate.add_argument("--out", type=Path, default=None, help="folder for results.md, alignments.txt, hyps.jsonl")
    evaluate.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    evaluate.add_argument("--max-batch-duration", type=float, default=200.0, help="seconds of audio per batch")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(run=_evaluate)

    transcribe = commands.add_parser("transcribe", help="print the transcript of audio files", formatter_class=defaults)
    transcribe.add_argument("--model", type=Path, required=True, help="checkpoint (e.g. exp/best.pt)")
    transcribe.add_argument("files", nargs="+", type=Path, help="audio files (wav, flac, ogg/opus, mp3, ...)")
    transcribe.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    transcribe.set_defaults(run=_transcribe)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "train":  # key=value overrides may follow options such as --resume
        args.overrides += [item for item in extra if "=" in item and not item.startswith("-")]
        extra = [item for item in extra if item not in args.overrides]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.run(args)
    except DfcnnError as error:
        print(f"dfcnn: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dfcnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
