"""The ``dfcnn inspect``, ``inspect-channel`` and ``report`` commands (registered by ``dfcnn.cli``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..arguments import positive_int


def _inspect(args: argparse.Namespace) -> int:
    from ..fileio import check_writable_folder
    from ..loading import load_model
    from .inspect import inspect_file

    out = check_writable_folder(args.out or Path("inspect") / args.file.stem, "--out")
    recognizer = load_model(args.model, args.device)
    print(f"written: {inspect_file(recognizer, args.file, out, args.channels)}")
    return 0


def _inspect_channel(args: argparse.Namespace) -> int:
    from ..fileio import check_writable_folder
    from ..loading import load_model
    from .channel import inspect_channel

    out = check_writable_folder(args.out or Path("inspect") / f"layer{args.layer}-channel{args.channel}", "--out")
    recognizer = load_model(args.model, args.device)
    page = inspect_channel(recognizer, args.manifest, args.layer, args.channel, out, args.top, args.limit)
    print(f"written: {page}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from ..fileio import check_writable_folder
    from .report import write_report

    check_writable_folder(args.out, "--out")
    print(f"written: {write_report(args.out, args.eval, args.metrics, args.worst)}")
    return 0


def add_commands(subparsers, formatter_class) -> None:
    """``inspect``, ``inspect-channel`` and ``report``: HTML pages of what the network does and how it scored."""
    inspect = subparsers.add_parser(
        "inspect",
        help="an HTML page of what every layer makes of one audio file",
        formatter_class=formatter_class,
        description="Waveform, input spectrogram, receptive fields, activation maps of every conv layer, "
        "first-layer filters, CTC posteriorgram and alignment, and an audio player: OUT/index.html.",
    )
    inspect.add_argument("--model", type=Path, required=True, help="checkpoint (e.g. exp/best.pt)")
    inspect.add_argument("file", type=Path, help="audio file (any format dfcnn reads)")
    inspect.add_argument("--out", type=Path, default=None, help="output folder (default: inspect/FILE_STEM)")
    inspect.add_argument("--channels", type=positive_int, default=4, help="most active channels shown per layer")
    inspect.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    inspect.set_defaults(run=_inspect)

    channel = subparsers.add_parser(
        "inspect-channel",
        help="the input patches that most excite one channel, across a data set",
        formatter_class=formatter_class,
        description="Zeiler-and-Fergus style: for each utterance the strongest unit of one channel; the receptive "
        "fields of the strongest ones, with what was said there. Layers are numbered as on the "
        "dfcnn inspect page (1 = the first conv), channels from 0.",
    )
    channel.add_argument("--model", type=Path, required=True, help="checkpoint (e.g. exp/best.pt)")
    channel.add_argument("--manifest", type=Path, required=True, help="JSONL manifest with reference texts")
    channel.add_argument("--layer", type=int, required=True, help="conv layer number, from 1")
    channel.add_argument("--channel", type=int, required=True, help="channel of that layer, from 0")
    channel.add_argument("--top", type=positive_int, default=16, help="patches shown")
    channel.add_argument(
        "--limit", type=positive_int, default=300, help="read at most this many utterances of the manifest"
    )
    channel.add_argument("--out", type=Path, default=None, help="output folder (default: inspect/layerL-channelC)")
    channel.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    channel.set_defaults(run=_inspect_channel)

    report = subparsers.add_parser(
        "report",
        help="an HTML report of an evaluation run and of training",
        formatter_class=formatter_class,
        description="WER/CER tables, worst utterances with REF/HYP alignments and audio, most frequent "
        "substitutions (from dfcnn evaluate --out DIR), and training curves (from metrics.jsonl).",
    )
    report.add_argument("--eval", type=Path, default=None, help="folder written by dfcnn evaluate --out")
    report.add_argument("--metrics", type=Path, default=None, help="metrics.jsonl written by dfcnn train")
    report.add_argument("--out", type=Path, required=True, help="output folder for index.html and its files")
    report.add_argument("--worst", type=int, default=20, help="worst utterances listed")
    report.set_defaults(run=_report)
