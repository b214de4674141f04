"""The ``dfcnn models`` and ``dfcnn ship`` commands (registered by ``dfcnn.cli``)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..errors import DfcnnError
from . import CARD_TEXT_FILE, ROOT_ENV, find_shipped, installed, shipped_root


def _headline(card: dict) -> str:
    """ "WER 70.5% (test)": the first test set's error rate as shipped."""
    if not card.get("tests"):
        return "-"
    test = card["tests"][0]
    return f"{test['shipped']['metric']} {test['shipped']['error_rate']:.1f}% ({test['name']})"


def _models(args: argparse.Namespace) -> int:
    from ..fileio import read_text

    if args.name is not None:
        model = find_shipped(args.name)  # unknown: one line listing the shipped names
        print(read_text(model.folder / CARD_TEXT_FILE, "model card").rstrip("\n"))
        return 0
    models = installed()
    if not models:
        raise DfcnnError(f"no shipped model is installed (none in {shipped_root()}); dfcnn ship makes one")
    rows = [("name", "language", "unit", "size", "test as shipped", "summary")]
    for model in models:
        card = model.card
        rows.append(
            (
                model.name,
                str(card.get("language", "-")),
                str(card.get("unit", "-")),
                f"{model.size_bytes / 1e6:.1f} MB",
                _headline(card),
                str(card.get("summary", "")),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    print(f"\n{len(models)} shipped in {shipped_root()}; 'dfcnn models NAME' prints a card", file=sys.stderr)
    return 0


def _test_set(text: str) -> tuple[str, str]:
    name, separator, manifest = text.partition("=")
    if not separator or not name or not manifest:
        raise argparse.ArgumentTypeError(f"expected NAME=MANIFEST (e.g. test=data/test.jsonl), got {text!r}")
    return name, manifest


def _ship(args: argparse.Namespace) -> int:
    from .make import ShipConfig, ship

    config = ShipConfig(
        exp=str(args.exp),
        name=args.name,
        card_info=str(args.card_info),
        tests=tuple(args.test),
        into=str(args.into if args.into is not None else shipped_root()),
        results=str(args.results) if args.results is not None else None,
        device=args.device,
        max_batch_duration=args.max_batch_duration,
        progress=not args.quiet,
        command=shlex.join(["dfcnn", "ship", *sys.argv[2:]]) if sys.argv[1:2] == ["ship"] else "",
    )
    folder = ship(config)
    print(f"shipped {args.name}: {folder}")
    print((folder / CARD_TEXT_FILE).read_text(encoding="utf-8").split("## Training data")[0].rstrip("\n"))
    if args.results is not None:
        print(f"{args.results}: its <!-- shipped:{args.name} --> block now holds the same table")
    return 0


def add_commands(subparsers, formatter_class) -> None:
    """``models``: what is shipped; ``ship``: make or replace a shipped model."""
    from ..arguments import device_name
    from ..device import DEVICE_HELP

    models = subparsers.add_parser(
        "models",
        help="list the models shipped with dfcnn, or print one's card",
        formatter_class=formatter_class,
        description="The shipped models: --model NAME (transcribe, serve, ...) and load_model(NAME) use them, "
        f"and transcribe without --model uses english. ${ROOT_ENV} points at another folder of them.",
    )
    models.add_argument("name", nargs="?", default=None, help="print this model's card (card.md)")
    models.set_defaults(run=_models)

    ship = subparsers.add_parser(
        "ship",
        help="make or replace a shipped model from a trained model folder, its card measured",
        formatter_class=formatter_class,
        description="Copy a trained model (its network without the training state, its decoder.json with the "
        "lexicon and LM it names) into INTO/NAME, score each --test greedy and as shipped, read the "
        "training's compute from the run's folder, merge the hand-written --card-info, and write "
        "card.json, card.md and SHA256SUMS. The old model is replaced only once all of it is done.",
    )
    ship.add_argument("exp", type=Path, help="the trained model: a dfcnn train folder (best.pt), or a checkpoint")
    ship.add_argument("--name", required=True, help="the shipped name (english, mandarin): --model NAME")
    ship.add_argument(
        "--card-info",
        type=Path,
        required=True,
        help="YAML of the hand-written card: summary, language, licence, training_data, rebuild, limits",
    )
    ship.add_argument(
        "--test",
        type=_test_set,
        action="append",
        default=[],
        metavar="NAME=MANIFEST",
        help="a test set to score greedy and as shipped (repeat for several)",
    )
    ship.add_argument(
        "--results",
        type=Path,
        default=None,
        help="a RESULTS.md whose <!-- shipped:NAME --> block gets the same table (appended if absent)",
    )
    ship.add_argument(
        "--into",
        type=Path,
        default=None,
        help=f"the folder of shipped models (unset: ${ROOT_ENV}, else dfcnn/shipped in the package)",
    )
    ship.add_argument("--device", type=device_name, default="auto", help=DEVICE_HELP)
    ship.add_argument("--max-batch-duration", type=float, default=200.0, help="seconds of audio per scoring batch")
    ship.add_argument("--quiet", action="store_true", help="no progress bars")
    ship.set_defaults(run=_ship)
