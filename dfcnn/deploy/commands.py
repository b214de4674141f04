"""The ``dfcnn export`` command (registered by ``dfcnn.cli``): load a model, write its graph and decoder."""

from __future__ import annotations

import argparse
from pathlib import Path


def _export(args: argparse.Namespace) -> int:
    from ..fileio import check_writable_folder
    from ..loading import load_model
    from ..versions import require_extra

    if args.format == "onnx":
        require_extra("onnx", "onnxruntime")
    from .export import export_model

    check_writable_folder(args.out, "--out")
    recognizer = load_model(args.model, device="cpu")  # with the decoder it ships, copied beside the graph
    for path in export_model(recognizer, args.format, args.out, args.int8, args.calibration):
        print(f"written: {path}")
    return 0


def add_commands(subparsers, formatter_class) -> None:
    """``export``: ONNX / TorchScript graphs."""
    from ..options import EXPORT_FORMATS

    export = subparsers.add_parser(
        "export",
        help="export a model as ONNX (fp32, int8): waveform in, log-probs out",
        formatter_class=formatter_class,
        description="One graph from 16 kHz waveform to CTC log-probs, dynamic in batch and time, describing "
        "itself (configs, vocabulary). The shipped decoder (decoder.json, lexicon, LM) is copied beside it. "
        "Run it with --backend onnx (transcribe, serve) or any ONNX runtime.",
    )
    export.add_argument("--model", type=Path, required=True, help="checkpoint, or a folder with best.pt")
    export.add_argument("--format", default=EXPORT_FORMATS[0], choices=EXPORT_FORMATS, help="model.onnx")
    export.add_argument(
        "--int8", action="store_true", help="also model.int8.onnx: static int8 quantisation calibrated on --calibration"
    )
    export.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="JSONL manifest of real audio for the int8 activation ranges (e.g. data/dev.jsonl)",
    )
    export.add_argument("--out", type=Path, required=True, help="output folder")
    export.set_defaults(run=_export)
