"""Command-line options that several commands share: the device, and the decoding group that
``transcribe``, ``evaluate``, ``tune`` and ``serve`` all take. Importable without torch (``dfcnn --help``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .device import DEVICE_HELP, DEVICE_PATTERN
from .errors import ConfigError, DfcnnError

BEAM_OPTIONS = (
    "beam_size",
    "beam_threshold",
    "lm_weight",
    "word_score",
    "nbest",
    "lexicon",
    "lm",
    "words",
    "words_weight",
    "grammar",
    "grammar_repeat",
    "blank_penalty",
)


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1 (one line naming the option otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {text!r}")
    return value


def device_name(text: str) -> str:
    """argparse type of --device: a name ``resolve_device`` knows."""
    if not DEVICE_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use {DEVICE_HELP}")
    return text


def add_decoder_options(parser: argparse.ArgumentParser) -> None:
    """The decoding group: --greedy, --decoder-config and the beam search options (``decoder_from_args``)."""
    from .decode import DEFAULT_BEAM_SIZE, DecoderConfig

    group = parser.add_argument_group(
        "decoding (default: the decoder the model ships with, decoder.json beside its checkpoint, else greedy)"
    )
    group.add_argument("--greedy", action="store_true", help="the network's own output: best path, no beam search")
    group.add_argument(
        "--decoder-config",
        type=Path,
        default=None,
        help="JSON decoder options (dfcnn tune's best.json); options below override its values",
    )
    group.add_argument(
        "--beam-size",
        type=int,
        default=None,
        help=f"beam search with this many hypotheses ({DEFAULT_BEAM_SIZE} when only --lm/--lexicon)",
    )
    group.add_argument(
        "--lexicon",
        type=Path,
        default=None,
        help="lexicon: only its words are output (default with --lm: lexicon.txt beside it)",
    )
    group.add_argument("--lm", type=Path, default=None, help="KenLM n-gram word LM, ARPA or binary (from dfcnn lm)")
    group.add_argument(
        "--lm-weight", type=float, default=None, help=f"weight of the LM score (default {DecoderConfig.lm_weight:g})"
    )
    group.add_argument(
        "--word-score", type=float, default=None, help=f"score added per word (default {DecoderConfig.word_score:g})"
    )
    group.add_argument(
        "--beam-threshold",
        type=float,
        default=None,
        help=f"prune hypotheses this far below the best (default {DecoderConfig.beam_threshold:g})",
    )
    group.add_argument(
        "--blank-penalty",
        type=float,
        default=None,
        help="subtract this from the blank's log-prob at every frame: > 0 writes more (a model that drops "
        "sounds); alone, on top of the shipped decoder (default: the shipped decoder's, else 0)",
    )
    group.add_argument(
        "--words",
        type=Path,
        default=None,
        help="your words: one word or phrase a line, optionally a pronunciation after a tab or two "
        "spaces; added to the (shipped) decoder's lexicon and LM, boosted by --words-weight",
    )
    group.add_argument(
        "--words-weight",
        type=float,
        default=None,
        help=f"score added each time one of --words is written (default {DecoderConfig.words_weight:g})",
    )
    group.add_argument(
        "--grammar",
        type=Path,
        default=None,
        help="only these phrases, one a line (format of --words): the output is always one of them",
    )
    group.add_argument(
        "--grammar-repeat",
        action="store_true",
        default=None,
        help="with --grammar: one or more of its phrases in a row (digit strings), not exactly one",
    )


def decoder_from_args(args: argparse.Namespace):
    """The decoder the decoding group asks for (``decode.decoder_config``: None for greedy, a
    ``DecoderConfig``, or "shipped"); a bad value is blamed on its option."""
    from .decode import decoder_config

    given = {key: getattr(args, key) for key in BEAM_OPTIONS if getattr(args, key, None) is not None}
    try:
        return decoder_config(args.greedy, args.decoder_config, **given)
    except ConfigError as error:
        if error.field is None or error.field not in given:
            raise
        raise DfcnnError(f"--{error.field.replace('_', '-')} {str(error).split(' ', 1)[1]}") from None
