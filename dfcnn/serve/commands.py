"""The ``dfcnn serve`` command (registered by ``dfcnn.cli``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import ConfigError, DfcnnError, Interrupted
from ..versions import require_extra


def _load(args: argparse.Namespace):
    """The recognizer the options ask for: backend, device and decoder (the shipped one by default);
    without --model, a ``ServedModel`` of every shipped model (each with its own decoder, or greedy)."""
    from ..arguments import decoder_from_args
    from ..decode import SHIPPED
    from ..loading import load_model

    decoder = decoder_from_args(args)
    if args.model is not None:
        return load_model(args.model, args.device, decoder=decoder, backend=args.backend)
    from ..shipped import installed, shipped_root
    from .app import ServedModel

    if decoder not in (SHIPPED, None):
        raise DfcnnError(
            "the decoder options choose one model's decoder: give --model (without it, each shipped "
            "model decodes with its own, or all --greedy)"
        )
    if args.language is not None or args.model_name is not None:
        raise DfcnnError(
            "--language and --model-name describe one model: give --model (without it, the shipped "
            "models are served under their own names and languages)"
        )
    models = installed()
    if not models:
        raise DfcnnError(f"no shipped model is installed (none in {shipped_root()}): give --model")
    return [
        ServedModel(
            model.name, load_model(model.name, args.device, decoder=decoder, backend=args.backend), model.language
        )
        for model in models
    ]


def _serve(args: argparse.Namespace) -> int:
    import torch

    require_extra("fastapi", "uvicorn", "multipart", "websockets", *(["onnxruntime"] if args.backend == "onnx" else []))
    from .server import serve

    try:
        config = _serve_config(args)
    except ConfigError as error:  # name the option, not the dataclass field
        if error.field is None:
            raise
        raise DfcnnError(f"--{error.field.replace('_', '-')} {str(error).split(' ', 1)[1]}") from None
    torch.set_num_threads(config.threads)  # per recognition (onnxruntime takes torch's); requests run side by side
    recognizer = _load(args)
    auth = "bearer token required" if config.api_key else "no token required"
    if isinstance(recognizer, list):
        served = ", ".join(f"{model.name} ({model.recognizer.decoder.config.describe()})" for model in recognizer)
        print(
            f"dfcnn serve: the shipped models {served}, chosen by the model field ({args.backend}, {auth})", flush=True
        )
    else:
        print(
            f"dfcnn serve: {config.model_name} ({args.backend}, decoder: "
            f"{recognizer.decoder.config.describe()}, {auth})",
            flush=True,
        )
    try:
        serve(recognizer, config, args.backend, args.log_level)
    except Interrupted as stop:  # Ctrl-C or SIGTERM: nothing is left to save, so exit now, not after the
        print(f"dfcnn: {stop}", file=sys.stderr, flush=True)  # seconds of tearing torch and the web stack down
        sys.stdout.flush()
        os._exit(128 + stop.signal_number)
    return 0


def _serve_config(args: argparse.Namespace):
    from .limits import ServeConfig, api_key_from_env

    return ServeConfig(
        host=args.host,
        port=args.port,
        model_name=args.model_name or ServeConfig.model_name,
        language=args.language,
        api_key=api_key_from_env(args.api_key),
        max_upload_mb=args.max_upload_mb,
        max_audio_seconds=args.max_audio_seconds,
        max_concurrency=args.max_concurrency,
        max_queue=args.max_queue,
        max_streams=args.max_streams,
        request_timeout=args.request_timeout,
        threads=args.threads,
        stream_chunk_seconds=args.stream_chunk_seconds,
        shutdown_grace=args.shutdown_grace,
    )


def add_commands(subparsers, formatter_class) -> None:
    """``serve``: the HTTP/WebSocket API and browser page."""
    from ..arguments import add_decoder_options, device_name
    from ..device import DEVICE_HELP
    from ..options import BACKENDS
    from .limits import API_KEY_ENV, ServeConfig

    serve = subparsers.add_parser(
        "serve",
        help="serve a model (or the shipped ones): OpenAI-compatible transcription API, WebSocket streaming, "
        "browser page",
        formatter_class=formatter_class,
        description="POST /v1/audio/transcriptions (OpenAI's API: the openai client works), GET /v1/models, "
        "GET /health, WS /v1/stream (PCM16 in, JSON partials and finals out) and a browser page at /. "
        "Binds to localhost unless --host says otherwise. SIGTERM lets open streams send their finals first.",
    )
    serve.add_argument(
        "--model",
        type=Path,
        default=None,
        help="checkpoint, folder with best.pt, a shipped model's name, or (--backend onnx) an exported .onnx / its "
        "folder; unset: every shipped model (dfcnn models), chosen per request by the API's model field",
    )
    serve.add_argument("--backend", default="torch", choices=BACKENDS, help="what runs the network")
    serve.add_argument("--device", type=device_name, default="auto", help=f"torch backend: {DEVICE_HELP}")
    defaults = ServeConfig()
    serve.add_argument("--host", default=defaults.host, help="interface to bind (0.0.0.0: all; mind --api-key)")
    serve.add_argument("--port", type=int, default=defaults.port, help="TCP port (0: any free port, printed)")
    serve.add_argument(
        "--model-name", default=None, help=f"with --model: the model id /v1/models lists (unset: {defaults.model_name})"
    )
    serve.add_argument(
        "--language",
        default=None,
        help="ISO 639-1 code of the speech the model hears (None: English for a phone model, Mandarin for a pinyin "
        "or Mandarin-character one, else unknown); requests naming another get 400",
    )
    serve.add_argument(
        "--api-key", default=None, help=f"bearer token clients must send (None: ${API_KEY_ENV} if set, else no token)"
    )
    serve.add_argument("--max-upload-mb", type=float, default=defaults.max_upload_mb, help="larger bodies get 413")
    serve.add_argument(
        "--max-audio-seconds",
        type=float,
        default=defaults.max_audio_seconds,
        help="longer uploads get 413; streams end here",
    )
    serve.add_argument(
        "--max-concurrency",
        type=int,
        default=defaults.max_concurrency,
        help="uploads recognised at once (and as many stream workers)",
    )
    serve.add_argument(
        "--max-queue",
        type=int,
        default=defaults.max_queue,
        help="uploads waiting for a worker; more get 503 with Retry-After",
    )
    serve.add_argument("--max-streams", type=int, default=defaults.max_streams, help="open WebSocket streams")
    serve.add_argument(
        "--request-timeout",
        type=float,
        default=defaults.request_timeout,
        help="seconds to answer an upload, queueing included (504 after); idle streams end",
    )
    serve.add_argument("--threads", type=int, default=defaults.threads, help="intra-op threads per recognition")
    serve.add_argument(
        "--stream-chunk-seconds",
        type=float,
        default=defaults.stream_chunk_seconds,
        help="audio per network pass of a stream: lower latency, more CPU",
    )
    serve.add_argument(
        "--shutdown-grace",
        type=float,
        default=defaults.shutdown_grace,
        help="seconds streams get to send their finals on SIGTERM",
    )
    serve.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (info: one line per request)",
    )
    add_decoder_options(serve)
    serve.set_defaults(run=_serve)
