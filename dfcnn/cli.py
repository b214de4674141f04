"""The ``dfcnn`` command: arguments -> the functions each subcommand runs. The top floor: nothing imports it.

    dfcnn train CONFIG.yaml [key=value ...] [--resume | --force]
    dfcnn finetune --model english --train data/train.jsonl --out exp/mine [key=value ...] [--resume]
    dfcnn evaluate --model exp/ --manifest data/test.jsonl [--out exp/eval-test] [--decoder-config best.json]
    dfcnn transcribe speech.flac talks/ 'calls/*.mp3' [--model exp/] [--format srt --output-dir subs]
    dfcnn serve [--model exp/] [--host 127.0.0.1 --port 8000] [--backend onnx]
    dfcnn models [english]
    dfcnn ship exp/ --name english --card-info card.yaml --test test=data/test.jsonl [--results RESULTS.md]
    dfcnn export --model exp/ --format onnx --int8 --calibration data/dev.jsonl --out deploy/
    dfcnn manifest my_recordings/ --out data/ --dev-fraction 0.1 --write-vocab
    dfcnn lm --text corpus.txt train.jsonl --vocab data/vocab.txt --out lm [--order 3]
    dfcnn average --out exp/avg5.pt exp/epoch-{11..15}.pt
    dfcnn tune --model exp/best.pt --manifest data/dev.jsonl --lm lm/lm.bin --out exp/tune [--ship]
    dfcnn inspect --model exp/best.pt speech.flac --out inspect/speech
    dfcnn report --eval exp/eval-test --metrics exp/metrics.jsonl --out exp/report

Errors caused by input (missing files, malformed manifests, bad configs) print one line and exit 1.
Defaults and choices come from the dataclasses and constants they configure.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path

from .arguments import add_decoder_options, decoder_from_args, device_name, positive_int
from .device import DEVICE_HELP
from .errors import ConfigError, DfcnnError, Interrupted


def _train(args: argparse.Namespace) -> int:
    import os

    from .config import load_config
    from .training.train import ExperimentConfig, train

    config = load_config(ExperimentConfig, args.config, args.overrides)  # a bad config: one line, before any rank
    if args.nproc < 1:
        raise DfcnnError(f"--nproc must be at least 1, got {args.nproc}")
    if args.nproc > 1:
        if "RANK" in os.environ:
            raise DfcnnError("--nproc starts the ranks itself: run dfcnn train --nproc without torchrun")
        from .training.distributed import launch

        flags = [flag for flag in ("resume", "force", "quiet") if getattr(args, flag)]
        rank = [sys.executable, "-m", "dfcnn", "train", str(args.config), *args.overrides, *(f"--{f}" for f in flags)]
        return launch(args.nproc, rank)
    best = train(config, resume=args.resume, progress=not args.quiet, force=args.force)
    print(f"best checkpoint: {best}")
    return 0


def _average(args: argparse.Namespace) -> int:
    from .checkpoint import average_checkpoints, save_checkpoint
    from .fileio import check_writable_folder

    check_writable_folder(args.out.parent, "--out folder")
    save_checkpoint(args.out, average_checkpoints(args.checkpoints))
    print(f"mean of {len(args.checkpoints)} checkpoints written to {args.out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate
    from .fileio import check_writable_folder

    if args.out is not None:
        check_writable_folder(args.out, "--out")
    _, table = evaluate(
        args.model,
        args.manifest,
        args.out,
        args.device,
        args.max_batch_duration,
        progress=not args.quiet,
        decoder=decoder_from_args(args),
        compare=args.compare,
    )
    print(table)
    if args.out is not None:
        print(f"alignments and hypotheses written to {args.out}")
    return 0


def _output_stems(paths: list[Path]) -> dict[Path, str]:
    """A distinct output name (without the format's suffix) for each input, so no transcript overwrites
    another: the file's stem; where stems clash, its name (yes.mp3 beside yes.ogg); then its last
    folders and stem or name (a__yes beside b__yes); a numbered suffix for whatever still clashes."""

    def qualified(path: Path, name: str) -> str:
        folders = [part for part in path.parent.parts if part not in (path.anchor, ".", "..")]
        return "__".join([*folders[-2:], name])

    namings = (lambda p: p.stem, lambda p: p.name, lambda p: qualified(p, p.stem), lambda p: qualified(p, p.name))
    stems: dict[Path, str] = {}
    for naming in namings:
        pending = [path for path in paths if path not in stems]
        counts = Counter(naming(path) for path in pending)
        taken = set(stems.values())
        stems.update(
            {path: naming(path) for path in pending if counts[naming(path)] == 1 and naming(path) not in taken}
        )
    taken = set(stems.values())
    for path in paths:
        if path not in stems:  # the same path in two spellings, or names alike to the last folder
            base, number = namings[-1](path), 2
            while f"{base}-{number}" in taken:
                number += 1
            stems[path] = f"{base}-{number}"
            taken.add(stems[path])
    return stems


def _transcribe(args: argparse.Namespace) -> int:
    from .audio import audio_info, expand_audio_paths
    from .fileio import check_writable_folder
    from .loading import load_model
    from .options import ChunkConfig, TranscribeConfig
    from .progress import AudioProgress
    from .transcript import FORMATS, escape_path, format_transcript, to_json, write_transcript

    paths = expand_audio_paths(args.paths)
    formats = list(FORMATS) if args.format == "all" else [args.format]
    to_stdout = args.output_dir is None
    if to_stdout and len(formats) > 1:
        raise DfcnnError("--format all writes files: give --output-dir")
    if to_stdout and formats[0] in ("srt", "vtt", "tsv") and len(paths) > 1:
        raise DfcnnError(f"--format {formats[0]} for {len(paths)} files writes one file each: give --output-dir")
    if not to_stdout:
        check_writable_folder(args.output_dir, "--output-dir")
    config = TranscribeConfig(
        chunk=ChunkConfig(chunk_seconds=args.chunk_seconds), max_batch_duration=args.max_batch_duration
    )
    decoder = decoder_from_args(args)
    model = args.model
    if model is None:
        from .shipped import DEFAULT_MODEL, WHERE_MODELS_COME_FROM, names_line, shipped_root

        model = DEFAULT_MODEL
        if not (shipped_root() / model).is_dir():
            raise DfcnnError(
                f"no --model given, and the shipped model {model} is not installed (shipped: "
                f"{names_line()}): give --model; {WHERE_MODELS_COME_FROM}"
            )
        print(f"dfcnn: using the shipped model {model} (--model to choose)", file=sys.stderr)
    recognizer = load_model(model, args.device, decoder=decoder, config=config, backend=args.backend)
    stems = _output_stems(paths)

    def seconds(path: Path) -> float:
        try:
            return audio_info(path)[0]
        except DfcnnError:
            return 0.0

    bar = AudioProgress(sum(seconds(path) for path in paths), len(paths), quiet=args.quiet)
    failed = 0
    for path, _, result in recognizer.transcribe_files(paths, progress=bar.advance):
        bar.file_done()
        if isinstance(result, DfcnnError):
            bar.write(f"dfcnn: error: {result}", file=sys.stderr)
            failed += 1
            continue
        if to_stdout:
            if formats[0] == "txt":
                with_path = len(paths) > 1 or args.with_path
                bar.write(f"{escape_path(path)}\t{result.text}" if with_path else result.text, file=sys.stdout)
            elif formats[0] == "json":
                bar.write(to_json(result.to_dict()), file=sys.stdout)
            else:
                sys.stdout.write(format_transcript(result, formats[0]))
            sys.stdout.flush()
        else:
            for fmt in formats:
                write_transcript(result, fmt, args.output_dir, stems[path])
    bar.close()
    if not to_stdout and len(paths) - failed:
        done = len(paths) - failed
        print(
            f"{done} transcript{'s' * (done != 1)} ({', '.join(formats)}) written to {args.output_dir}", file=sys.stderr
        )
    if failed and len(paths) > 1:  # one file: its error line says it all
        print(f"dfcnn: {failed} of {len(paths)} files failed", file=sys.stderr)
    return 1 if failed else 0


def _lm(args: argparse.Namespace) -> int:
    from .fileio import check_writable_folder
    from .lm import build_lm
    from .text import Tokenizer

    tokenizer = None
    if args.model is not None:
        from .checkpoint import load_checkpoint
        from .loading import find_model

        tokenizer = Tokenizer.from_dict(load_checkpoint(find_model(args.model).network)["tokenizer"])
    elif args.vocab is not None:
        tokenizer = Tokenizer.from_file(args.vocab, args.normalizer, args.unit, args.pronunciations)
    check_writable_folder(args.out, "--out")
    normalizer = tokenizer.normalizer if tokenizer is not None else args.normalizer
    lm = build_lm(
        args.text, args.out, args.order, normalizer, args.memory, args.prune, not args.arpa_only, tokenizer, args.hanzi
    )
    print(f"{args.order}-gram LM on {lm.sentences} sentences, {lm.vocabulary_size} words: {lm.arpa}")
    if lm.binary is not None:
        print(f"KenLM binary: {lm.binary}")
    if lm.lexicon is not None:
        left_out = (
            f", {lm.lexicon_skipped} left out: spelt outside the vocabulary, or past 6 homophones"
            if lm.lexicon_skipped
            else ""
        )
        print(f"lexicon: {lm.lexicon} ({lm.vocabulary_size - lm.lexicon_skipped} words{left_out})")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from .evaluate import tune_decoder
    from .fileio import check_writable_folder

    base = decoder_from_args(args)
    if not hasattr(base, "lm") or base.lm is None:
        raise DfcnnError("dfcnn tune needs --lm (the LM whose weight is tuned)")
    if args.out is not None:
        check_writable_folder(args.out, "--out")
    best, table = tune_decoder(
        args.model,
        args.manifest,
        base,
        args.lm_weights,
        args.word_scores,
        args.out,
        args.device,
        args.max_batch_duration,
        progress=not args.quiet,
        ship=args.ship,
        # a --blank-penalty given is kept; else the grid's best greedy output picks one
        blank_penalties=None if args.blank_penalty is not None else args.blank_penalties,
        max_rounds=args.max_rounds,
    )
    print(table)
    print(
        f"best: --lm-weight {best.lm_weight:g} --word-score {best.word_score:g} --blank-penalty {best.blank_penalty:g}"
    )
    if args.ship:
        print("shipped: the model now decodes with it by default (decoder.json beside its checkpoint)")
    return 0


def _manifest(args: argparse.Namespace) -> int:
    from .config import load_config
    from .manifest import ManifestConfig, make_manifests
    from .training.experiment import ExperimentConfig

    training = load_config(ExperimentConfig, args.config)
    given = {
        "unit": args.unit,
        "normalizer": args.normalizer,
        "pronunciations": args.pronunciations,
        "max_utterance_duration": args.max_duration,
    }
    if args.unit == "pinyin" and args.normalizer is None:
        given["normalizer"] = "mandarin"
    training.data = replace(training.data, **{key: value for key, value in given.items() if value is not None})
    try:
        config = ManifestConfig(
            str(args.source),
            str(args.out or ""),
            args.layout or "",
            training,
            str(args.vocab or ""),
            args.write_vocab,
            args.speaker_pattern,
            args.dev_fraction,
            args.dev_speakers,
            args.seed,
            args.skip_bad,
            args.decode,
        )
    except ConfigError as error:
        raise DfcnnError(f"--{error.field.replace('_', '-')} {str(error).split(' ', 1)[1]}") from None
    report = make_manifests(config)
    for problem in report.bad:
        print(problem)
    print(report.text(), flush=True)
    if report.bad and not args.skip_bad:
        written = "nothing written; " if args.out is not None else ""
        count = f"{len(report.bad)} bad entries" if len(report.bad) > 1 else "1 bad entry"
        raise DfcnnError(f"{count} (listed above): {written}fix them, or pass --skip-bad to leave them out")
    return 0


def _add_manifest_command(commands, defaults) -> None:
    from .layouts import LAYOUTS
    from .text import NORMALIZERS, UNITS

    manifest = commands.add_parser(
        "manifest",
        help="turn a folder of recordings and transcripts into checked manifests",
        formatter_class=defaults,
        description="Read a corpus in a common layout, check every entry as the trainer will use it, and write "
        "OUT/<split>.jsonl. Bad entries are listed one a line; nothing is written while one is bad "
        "unless --skip-bad. Layouts: folder (audio with a same-stem .txt/.lab beside it), ljspeech "
        "(metadata.csv, wavs/), commonvoice (clips/, train/dev/test.tsv), kaldi (wav.scp, text, "
        "segments, utt2spk), tsv (a file of AUDIO<TAB>TEXT[<TAB>SPEAKER] lines).",
    )
    manifest.add_argument("source", type=Path, help="the corpus folder (or the file of the ljspeech and tsv layouts)")
    manifest.add_argument(
        "--out", type=Path, default=None, help="folder for the manifests; unset: check and report only"
    )
    manifest.add_argument(
        "--layout", choices=LAYOUTS, default=None, help="the layout; unset: detected from what SOURCE holds"
    )
    manifest.add_argument(
        "--config",
        type=Path,
        default=None,
        help="training YAML whose data.unit, normalizer, max_utterance_duration, speed_perturb, "
        "features and model pooling the checks use; unset: the trainer's defaults",
    )
    manifest.add_argument("--unit", choices=UNITS, default=None, help="token unit; unset: --config's, else char")
    manifest.add_argument(
        "--normalizer",
        choices=NORMALIZERS,
        default=None,
        help="text normaliser; unset: --config's, else english (mandarin for --unit pinyin)",
    )
    manifest.add_argument(
        "--pronunciations",
        default=None,
        help="unit phone: cmudict or a CMUdict-format file; unset: --config's, else cmudict",
    )
    manifest.add_argument(
        "--vocab",
        type=Path,
        default=None,
        help="spell the transcripts in this vocabulary, e.g. the model's you fine-tune",
    )
    manifest.add_argument("--write-vocab", action="store_true", help="write OUT/vocab.txt of the training texts")
    manifest.add_argument(
        "--max-duration",
        type=_positive_seconds,
        default=None,
        help="longest training utterance; unset: --config's data.max_utterance_duration",
    )
    manifest.add_argument(
        "--speaker-pattern",
        default="",
        help=r"regex searched in each id, its first group the speaker, e.g. '^\d_([a-z]+)_'",
    )
    manifest.add_argument(
        "--dev-fraction", type=float, default=0.0, help="split off this share of the training utterances as dev.jsonl"
    )
    manifest.add_argument("--dev-speakers", type=int, default=0, help="or this many training speakers, whole")
    manifest.add_argument("--seed", type=int, default=0, help="which utterances or speakers dev draws")
    manifest.add_argument("--skip-bad", action="store_true", help="leave bad entries out and write the rest")
    manifest.add_argument(
        "--decode",
        action="store_true",
        help="decode every file, not only its header (slower; finds corrupt data past the header)",
    )
    manifest.set_defaults(run=_manifest)


def _floats(text: str) -> list[float]:
    try:
        values = [float(item) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not all(math.isfinite(value) for value in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive finite number of seconds, got {text!r}")
    return value


def _add_run_options(parser: argparse.ArgumentParser, batch_help: str) -> None:
    from .options import TranscribeConfig

    parser.add_argument("--device", type=device_name, default="auto", help=DEVICE_HELP)
    parser.add_argument(
        "--max-batch-duration", type=_positive_seconds, default=TranscribeConfig.max_batch_duration, help=batch_help
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress (a bar on a terminal; in a log, a line every 10 s)"
    )


def _add_core_commands(commands, defaults) -> None:
    from .options import BACKENDS, ChunkConfig
    from .text import NORMALIZERS, UNITS
    from .transcript import FORMATS

    train = commands.add_parser(
        "train",
        help="train a model from a YAML config",
        formatter_class=defaults,
        description="Train a DFCNN. The YAML holds only what differs from the defaults.",
    )
    train.add_argument("config", type=Path, help="YAML config (sections: data, features, specaugment, model, train)")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.lr=5e-4")
    train.add_argument("--resume", action="store_true", help="continue exp_dir/last.pt exactly where it stopped")
    train.add_argument(
        "--force",
        action="store_true",
        help="start over in an exp_dir holding an earlier run: its checkpoints and metrics are removed",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="data-parallel on N processes of this machine (DDP; one a GPU), started as torchrun would",
    )
    train.set_defaults(run=_train)

    average = commands.add_parser(
        "average",
        help="average the weights of a run's last checkpoints",
        formatter_class=defaults,
        description="Element-wise mean of the models of several checkpoints of one run (e.g. the last 5 epochs); "
        "the result evaluates and transcribes like best.pt.",
    )
    average.add_argument("checkpoints", type=Path, nargs="+", metavar="CHECKPOINT", help="epoch-N.pt files of one run")
    average.add_argument("--out", type=Path, required=True, help="averaged checkpoint to write")
    average.set_defaults(run=_average)

    evaluate = commands.add_parser(
        "evaluate",
        help="WER/CER of a model on a manifest",
        formatter_class=defaults,
        description="Score a model. A model that ships a decoder gets two rows: the network's own greedy output "
        "and the shipped decoder.",
    )
    evaluate.add_argument(
        "--model",
        type=Path,
        required=True,
        help="checkpoint, a folder with best.pt, or a shipped model's name (dfcnn models)",
    )
    evaluate.add_argument("--manifest", type=Path, required=True, help="JSONL manifest with reference texts")
    evaluate.add_argument("--out", type=Path, default=None, help="folder for results.md, alignments.txt, hyps.jsonl")
    evaluate.add_argument(
        "--compare",
        action="store_true",
        help="with beam search options: one row each for greedy, beam, beam+lexicon, beam+lexicon+LM",
    )
    _add_run_options(evaluate, "seconds of audio per batch")
    add_decoder_options(evaluate)
    evaluate.set_defaults(run=_evaluate)

    transcribe = commands.add_parser(
        "transcribe",
        help="transcribe audio files: text, JSON with word times, subtitles",
        formatter_class=defaults,
        description="Transcribe files of any length. Without --output-dir the text goes to stdout: one "
        "PATH<TAB>TEXT line per file (a tab, newline or backslash in PATH is written \\t, \\n, \\\\).",
    )
    transcribe.add_argument(
        "--model",
        type=Path,
        default=None,
        help="checkpoint, a folder with best.pt, or a shipped model's name (dfcnn models); unset: the shipped english",
    )
    transcribe.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="audio files (wav, flac, ogg/opus, mp3, ...), folders (searched recursively) or globs",
    )
    transcribe.add_argument(
        "--format",
        default="txt",
        choices=[*FORMATS, "all"],
        help="output format; json has segments and words with start, end and confidence",
    )
    transcribe.add_argument("--output-dir", type=Path, default=None, help="write FILE_STEM.FORMAT here, not stdout")
    transcribe.add_argument("--with-path", action="store_true", help="txt on stdout: prefix the path even for one file")
    transcribe.add_argument(
        "--chunk-seconds",
        type=_positive_seconds,
        default=ChunkConfig.chunk_seconds,
        help="longer audio is processed in chunks this long",
    )
    transcribe.add_argument(
        "--backend",
        default="torch",
        choices=BACKENDS,
        help="onnx: the network in onnxruntime (CPU); --model may be an exported .onnx, its folder",
    )
    _add_run_options(transcribe, "seconds of short files decoded together")
    add_decoder_options(transcribe)
    transcribe.add_argument(
        "--nbest", type=int, default=None, help="beam search: json lists the next-best texts of each segment"
    )
    transcribe.set_defaults(run=_transcribe)

    lm = commands.add_parser(
        "lm",
        help="train an n-gram word LM (KenLM) and its lexicon",
        formatter_class=defaults,
        description="Estimate a Kneser-Ney n-gram LM with KenLM's lmplz: writes OUT/lm.arpa, "
        "OUT/lm.bin and OUT/lexicon.txt (with --vocab or --model).",
    )
    lm.add_argument(
        "--text", type=Path, nargs="+", required=True, help="text files (a sentence a line) or JSONL manifests"
    )
    lm.add_argument("--out", type=Path, required=True, help="output folder")
    lm.add_argument("--order", type=int, default=3, help="n-gram order")
    lm.add_argument(
        "--vocab", type=Path, default=None, help="vocabulary of the acoustic model: spell the lexicon in it"
    )
    lm.add_argument("--model", type=Path, default=None, help="or take vocabulary and normaliser from a checkpoint")
    lm.add_argument("--normalizer", default=NORMALIZERS[0], choices=NORMALIZERS, help="text normaliser")
    lm.add_argument("--unit", default=UNITS[0], choices=UNITS, help="token unit of --vocab")
    lm.add_argument(
        "--pronunciations",
        default="cmudict",
        help="unit phone: pronunciation dictionary (cmudict, or a file in its format)",
    )
    lm.add_argument("--memory", default="1G", help="lmplz -S: memory it reserves for sorting (e.g. 4G, or 20%%)")
    lm.add_argument("--prune", type=int, nargs="+", default=None, help="lmplz --prune thresholds per order, e.g. 0 0 1")
    lm.add_argument("--arpa-only", action="store_true", help="skip build_binary")
    lm.add_argument(
        "--hanzi",
        action="store_true",
        help="pinyin models: an LM over Chinese characters spelt by their readings; decoding writes hanzi",
    )
    lm.set_defaults(run=_lm)

    tune = commands.add_parser(
        "tune",
        help="pick the blank penalty and grid-search LM weight and word score on a dev set, in turn",
        formatter_class=defaults,
    )
    tune.add_argument("--model", type=Path, required=True, help="checkpoint, or a folder with best.pt")
    tune.add_argument("--manifest", type=Path, required=True, help="dev manifest with reference texts")
    tune.add_argument("--lm-weights", type=_floats, default=[0.0, 0.5, 1.0, 1.5, 2.0, 3.0], help="comma-separated grid")
    tune.add_argument("--word-scores", type=_floats, default=[-2.0, -1.0, 0.0, 1.0, 2.0], help="comma-separated grid")
    tune.add_argument(
        "--blank-penalties",
        type=_floats,
        default=[0.0, 0.5, 1.0, 1.5, 2.0],
        help="comma-separated: the best greedy one runs the grid, then each is decoded at the grid's best; "
        "another winner runs the grid again (0: none)",
    )
    tune.add_argument(
        "--max-rounds",
        type=positive_int,
        default=3,
        help="grids at most, alternating with the blank penalties until they agree",
    )
    tune.add_argument("--out", type=Path, default=None, help="folder for tune.md and best.json")
    tune.add_argument(
        "--ship",
        action="store_true",
        help="write the best decoder as decoder.json beside the checkpoint: the model's default decoder",
    )
    _add_run_options(tune, "seconds of audio per batch")
    add_decoder_options(tune)
    tune.set_defaults(run=_tune)


class _Parser(argparse.ArgumentParser):
    """argparse with a usage error on one line, as dfcnn's other errors, pointing at --help (not the
    whole usage block); its subcommands' parsers are of this class too."""

    def error(self, message: str):
        self.exit(2, f"dfcnn: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .deploy.commands import add_commands as add_deploy_commands
    from .serve.commands import add_commands as add_serve_commands
    from .shipped.commands import add_commands as add_shipped_commands
    from .training.commands import add_commands as add_training_commands
    from .viz.commands import add_commands as add_viz_commands

    parser = _Parser(
        prog="dfcnn", description="DFCNN speech recognition: train, evaluate, transcribe, and look inside the network."
    )
    parser.add_argument("--version", action="version", version=f"dfcnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = argparse.ArgumentDefaultsHelpFormatter
    _add_core_commands(commands, defaults)
    add_training_commands(commands, defaults)
    _add_manifest_command(commands, defaults)
    add_viz_commands(commands, defaults)
    add_serve_commands(commands, defaults)
    add_deploy_commands(commands, defaults)
    add_shipped_commands(commands, defaults)
    return parser


def report_error(error: DfcnnError) -> int:
    """Print ``error`` on one line; the exit code: 128 + signal for a stop on a signal (as a shell
    reports a process killed by it), else 1."""
    if isinstance(error, Interrupted):  # "stopped by SIGTERM at epoch 3, step 1200: state saved to ..."
        print(f"dfcnn: {error}", file=sys.stderr)
        return 128 + error.signal_number
    print(f"dfcnn: error: {error}", file=sys.stderr)
    return 1


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings on one line, as errors are (not Python's file:line and source line)."""
    print(f"dfcnn: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command in ("train", "finetune"):  # key=value overrides may follow options such as --resume
        args.overrides += [item for item in extra if "=" in item and not item.startswith("-")]
        extra = [item for item in extra if item not in args.overrides]
    if extra:
        parser.prog = f"dfcnn {args.command}"  # the command whose --help lists what it takes
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command in ("train", "finetune") and argv is None:  # command line: rerun under jemalloc if installed
            from .training.allocator import run_under_jemalloc

            run_under_jemalloc()
        code = args.run(args)
    except DfcnnError as error:
        code = report_error(error)
    except KeyboardInterrupt:
        print("dfcnn: interrupted", file=sys.stderr)
        code = 130
    if args.command in ("train", "finetune"):  # a DDP rank (under torchrun) ends here, whatever ended its run
        from .training.distributed import end_rank

        return end_rank(code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
