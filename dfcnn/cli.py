"""The ``dfcnn`` command.

    dfcnn train CONFIG.yaml [key=value ...] [--resume]
    dfcnn evaluate --model exp/best.pt --manifest data/test.jsonl [--out exp/eval-test] [--lm lm/lm.bin]
    dfcnn transcribe --model exp/best.pt speech.flac talks/ 'calls/*.mp3' [--format srt --output-dir subs]
    dfcnn lm --text corpus.txt train.jsonl --vocab data/vocab.txt --out lm [--order 3]
    dfcnn average --out exp/avg5.pt exp/epoch-{11..15}.pt
    dfcnn tune --model exp/best.pt --manifest data/dev.jsonl --lm lm/lm.bin --out exp/tune
    dfcnn inspect --model exp/best.pt speech.flac --out inspect/speech
    dfcnn report --eval exp/eval-test --metrics exp/metrics.jsonl --out exp/report

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


def _average(args: argparse.Namespace) -> int:
    from .checkpoint import average_checkpoints, save_checkpoint

    save_checkpoint(args.out, average_checkpoints(args.checkpoints))
    print(f"mean of {len(args.checkpoints)} checkpoints written to {args.out}")
    return 0


def _decoder_config(args: argparse.Namespace):
    """Greedy unless a beam size, lexicon or LM is asked for."""
    from .decode import BeamSearchConfig

    if args.beam_size is not None and args.beam_size < 1:
        raise DfcnnError(f"--beam-size must be at least 1, got {args.beam_size}")
    if getattr(args, "nbest", 1) < 1:
        raise DfcnnError(f"--nbest must be at least 1, got {args.nbest}")
    if args.beam_size is None and args.lexicon is None and args.lm is None and getattr(args, "nbest", 1) == 1:
        return None
    return BeamSearchConfig(
        beam_size=args.beam_size or 50, beam_threshold=args.beam_threshold, lm_weight=args.lm_weight,
        word_score=args.word_score, nbest=getattr(args, "nbest", 1), lexicon=str(args.lexicon) if args.lexicon else None,
        lm=str(args.lm) if args.lm else None,
    )


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate

    _, table = evaluate(
        args.model, args.manifest, args.out, args.device, args.max_batch_duration, progress=not args.quiet,
        decoder=_decoder_config(args), compare=args.compare,
    )
    print(table)
    if args.out is not None:
        print(f"alignments and hypotheses written to {args.out}")
    return 0


def _output_stems(paths: list[Path]) -> dict[Path, str]:
    """File name stems for outputs; files sharing a stem are told apart by their parent folders."""
    stems = {path: path.stem for path in paths}
    clashes = {stem for stem in stems.values() if list(stems.values()).count(stem) > 1}
    for path in paths:
        if path.stem in clashes:
            stems[path] = "__".join(path.with_suffix("").parts[-3:]).lstrip("_")
    return stems


def _transcribe(args: argparse.Namespace) -> int:
    import json

    from tqdm import tqdm

    from .audio import audio_info, expand_audio_paths
    from .inference import TranscribeConfig, load_model
    from .longform import ChunkConfig
    from .transcript import FORMATS, format_transcript, write_transcript

    paths = expand_audio_paths(args.paths)
    formats = list(FORMATS) if args.format == "all" else [args.format]
    to_stdout = args.output_dir is None
    if to_stdout and len(formats) > 1:
        raise DfcnnError("--format all writes files: give --output-dir")
    if to_stdout and formats[0] in ("srt", "vtt", "tsv") and len(paths) > 1:
        raise DfcnnError(f"--format {formats[0]} for {len(paths)} files writes one file each: give --output-dir")
    config = TranscribeConfig(
        chunk=ChunkConfig(chunk_seconds=args.chunk_seconds), max_batch_duration=args.max_batch_duration
    )
    recognizer = load_model(args.model, args.device, decoder=_decoder_config(args), config=config)
    stems = _output_stems(paths)

    def seconds(path: Path) -> float:
        try:
            return audio_info(path)[0]
        except DfcnnError:
            return 0.0

    total = sum(seconds(path) for path in paths)
    failed = 0
    bar = tqdm(total=round(total, 1), unit="s", desc="audio", disable=args.quiet or not sys.stderr.isatty(), leave=False)
    for done, (path, duration, result) in enumerate(recognizer.transcribe_files(paths), 1):
        bar.set_postfix_str(f"{done}/{len(paths)} files")
        bar.update(round(duration, 1))
        if isinstance(result, DfcnnError):
            bar.write(f"dfcnn: error: {result}", file=sys.stderr)
            failed += 1
            continue
        if to_stdout:
            if formats[0] == "txt":
                line = f"{path}\t{result.text}" if len(paths) > 1 or args.with_path else result.text
                bar.write(line, file=sys.stdout)
            elif formats[0] == "json":
                bar.write(json.dumps(result.to_dict(), ensure_ascii=False), file=sys.stdout)
            else:
                sys.stdout.write(format_transcript(result, formats[0]))
            sys.stdout.flush()
        else:
            for fmt in formats:
                write_transcript(result, fmt, args.output_dir, stems[path])
    bar.close()
    if not to_stdout:
        print(f"{len(paths) - failed} transcripts ({', '.join(formats)}) written to {args.output_dir}", file=sys.stderr)
    if failed:
        print(f"dfcnn: {failed} of {len(paths)} files failed", file=sys.stderr)
    return 1 if failed else 0


def _lm(args: argparse.Namespace) -> int:
    from .lm import build_lm
    from .text import Tokenizer

    tokenizer = None
    if args.model is not None:
        from .checkpoint import load_checkpoint

        tokenizer = Tokenizer.from_dict(load_checkpoint(args.model)["tokenizer"])
    elif args.vocab is not None:
        tokenizer = Tokenizer.from_file(args.vocab, args.normalizer, args.unit)
    normalizer = tokenizer.normalizer if tokenizer is not None else args.normalizer
    lm = build_lm(
        args.text, args.out, args.order, normalizer, args.memory, args.prune, not args.arpa_only, tokenizer, args.hanzi
    )
    print(f"{args.order}-gram LM on {lm.sentences} sentences, {lm.vocabulary_size} words: {lm.arpa}")
    if lm.binary is not None:
        print(f"KenLM binary: {lm.binary}")
    if lm.lexicon is not None:
        print(f"lexicon: {lm.lexicon} ({lm.vocabulary_size - lm.lexicon_skipped} words"
              f"{f', {lm.lexicon_skipped} left out: spelt outside the vocabulary, or past 6 homophones' if lm.lexicon_skipped else ''})")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from .evaluate import tune_decoder

    base = _decoder_config(args)
    if base is None or base.lm is None:
        raise DfcnnError("dfcnn tune needs --lm (the LM whose weight is tuned)")
    best, table = tune_decoder(
        args.model, args.manifest, base, args.lm_weights, args.word_scores, args.out, args.device,
        args.max_batch_duration, progress=not args.quiet,
    )
    print(table)
    print(f"best: --lm-weight {best.lm_weight:g} --word-score {best.word_score:g}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from .inference import load_model
    from .viz.inspect import inspect_file

    recognizer = load_model(args.model, args.device)
    out = args.out or Path("inspect") / args.file.stem
    print(f"written: {inspect_file(recognizer, args.file, out, args.channels)}")
    return 0


def _inspect_channel(args: argparse.Namespace) -> int:
    from .inference import load_model
    from .viz.channel import inspect_channel

    recognizer = load_model(args.model, args.device)
    out = args.out or Path("inspect") / f"layer{args.layer}-channel{args.channel}"
    page = inspect_channel(recognizer, args.manifest, args.layer, args.channel, out, args.top, args.limit)
    print(f"written: {page}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .viz.report import write_report

    print(f"written: {write_report(args.out, args.eval, args.metrics, args.worst)}")
    return 0


def _add_inspect_commands(subparsers, formatter_class) -> None:
    """``inspect``, ``inspect-channel`` and ``report``: HTML pages of what the network does and how it scored."""
    inspect = subparsers.add_parser(
        "inspect", help="an HTML page of what every layer makes of one audio file", formatter_class=formatter_class,
        description="Waveform, input spectrogram, receptive fields, activation maps of every conv layer, "
                    "first-layer filters, CTC posteriorgram and alignment, and an audio player: OUT/index.html.")
    inspect.add_argument("--model", type=Path, required=True, help="checkpoint (e.g. exp/best.pt)")
    inspect.add_argument("file", type=Path, help="audio file (any format dfcnn reads)")
    inspect.add_argument("--out", type=Path, default=None, help="output folder (default: inspect/FILE_STEM)")
    inspect.add_argument("--channels", type=int, default=4, help="most active channels shown per layer")
    inspect.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    inspect.set_defaults(run=_inspect)

    channel = subparsers.add_parser(
        "inspect-channel", help="the input patches that most excite one channel, across a data set",
        formatter_class=formatter_class,
        description="Zeiler-and-Fergus style: for each utterance the strongest unit of one channel; the receptive "
                    "fields of the strongest ones, with what was said there. Layers are numbered as on the "
                    "dfcnn inspect page (1 = the first conv), channels from 0.")
    channel.add_argument("--model", type=Path, required=True, help="checkpoint (e.g. exp/best.pt)")
    channel.add_argument("--manifest", type=Path, required=True, help="JSONL manifest with reference texts")
    channel.add_argument("--layer", type=int, required=True, help="conv layer number, from 1")
    channel.add_argument("--channel", type=int, required=True, help="channel of that layer, from 0")
    channel.add_argument("--top", type=int, default=16, help="patches shown")
    channel.add_argument("--limit", type=int, default=300, help="read at most this many utterances of the manifest")
    channel.add_argument("--out", type=Path, default=None, help="output folder (default: inspect/layerL-channelC)")
    channel.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    channel.set_defaults(run=_inspect_channel)

    report = subparsers.add_parser(
        "report", help="an HTML report of an evaluation run and of training", formatter_class=formatter_class,
        description="WER/CER tables, worst utterances with REF/HYP alignments and audio, most frequent "
                    "substitutions (from dfcnn evaluate --out DIR), and training curves (from metrics.jsonl).")
    report.add_argument("--eval", type=Path, default=None, help="folder written by dfcnn evaluate --out")
    report.add_argument("--metrics", type=Path, default=None, help="metrics.jsonl written by dfcnn train")
    report.add_argument("--out", type=Path, required=True, help="output folder for index.html and its files")
    report.add_argument("--worst", type=int, default=20, help="worst utterances listed")
    report.set_defaults(run=_report)


def _floats(text: str) -> list[float]:
    try:
        return [float(item) for item in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _add_decoder_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("decoding (greedy unless --beam-size, --lexicon or --lm is given)")
    group.add_argument("--beam-size", type=int, default=None, help="beam search with this many hypotheses (50 when only --lm/--lexicon)")
    group.add_argument("--lexicon", type=Path, default=None, help="lexicon: only its words are output (default with --lm: lexicon.txt beside it)")
    group.add_argument("--lm", type=Path, default=None, help="KenLM n-gram word LM, ARPA or binary (from dfcnn lm)")
    group.add_argument("--lm-weight", type=float, default=1.0, help="weight of the LM score")
    group.add_argument("--word-score", type=float, default=0.0, help="score added per word")
    group.add_argument("--beam-threshold", type=float, default=25.0, help="prune hypotheses this far below the best")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="dfcnn", description="DFCNN speech recognition: train, evaluate, transcribe, and look inside the network."
    )
    parser.add_argument("--version", action="version", version=f"dfcnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = argparse.ArgumentDefaultsHelpFormatter

    train = commands.add_parser("train", help="train a model from a YAML config", formatter_class=defaults,
                                description="Train a DFCNN. The YAML holds only what differs from the defaults.")
    train.add_argument("config", type=Path, help="YAML config (sections: data, features, specaugment, model, train)")
    train.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.lr=5e-4")
    train.add_argument("--resume", action="store_true", help="continue exp_dir/last.pt exactly where it stopped")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(run=_train)

    average = commands.add_parser(
        "average", help="average the weights of a run's last checkpoints", formatter_class=defaults,
        description="Element-wise mean of the models of several checkpoints of one run (e.g. the last 5 epochs); "
                    "the result evaluates and transcribes like best.pt.")
    average.add_argument("checkpoints", type=Path, nargs="+", metavar="CHECKPOINT", help="epoch-N.pt files of one run")
    average.add_argument("--out", type=Path, required=True, help="averaged checkpoint to write")
    average.set_defaults(run=_average)

    evaluate = commands.add_parser("evaluate", help="WER/CER of a model on a manifest", formatter_class=defaults)
    evaluate.add_argument("--model", type=Path, required=True, help="checkpoint (e.g. exp/best.pt)")
    evaluate.add_argument("--manifest", type=Path, required=True, help="JSONL manifest with reference texts")
    evaluate.add_argument("--out", type=Path, default=None, help="folder for results.md, alignments.txt, hyps.jsonl")
    evaluate.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    evaluate.add_argument("--max-batch-duration", type=float, default=200.0, help="seconds of audio per batch")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.add_argument("--compare", action="store_true",
                          help="with beam search options: one row each for greedy, beam, beam+lexicon, beam+lexicon+LM")
    _add_decoder_options(evaluate)
    evaluate.set_defaults(run=_evaluate)

    transcribe = commands.add_parser(
        "transcribe", help="transcribe audio files: text, JSON with word times, subtitles", formatter_class=defaults,
        description="Transcribe files of any length. Without --output-dir the text goes to stdout.")
    transcribe.add_argument("--model", type=Path, required=True, help="checkpoint (e.g. exp/best.pt)")
    transcribe.add_argument("paths", nargs="+", metavar="PATH",
                            help="audio files (wav, flac, ogg/opus, mp3, ...), folders (searched recursively) or globs")
    transcribe.add_argument("--format", default="txt", choices=["txt", "json", "srt", "vtt", "tsv", "all"],
                            help="output format; json has segments and words with start, end and confidence")
    transcribe.add_argument("--output-dir", type=Path, default=None, help="write FILE_STEM.FORMAT here instead of stdout")
    transcribe.add_argument("--with-path", action="store_true", help="txt on stdout: prefix the path even for one file")
    transcribe.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    transcribe.add_argument("--chunk-seconds", type=float, default=30.0, help="longer audio is processed in chunks this long")
    transcribe.add_argument("--max-batch-duration", type=float, default=200.0, help="seconds of short files decoded together")
    transcribe.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_decoder_options(transcribe)
    transcribe.add_argument("--nbest", type=int, default=1, help="beam search: json lists the next-best texts of each segment")
    transcribe.set_defaults(run=_transcribe)

    lm = commands.add_parser("lm", help="train an n-gram word LM (KenLM) and its lexicon", formatter_class=defaults,
                             description="Estimate a Kneser-Ney n-gram LM with KenLM's lmplz: writes OUT/lm.arpa, "
                                         "OUT/lm.bin and OUT/lexicon.txt (with --vocab or --model).")
    lm.add_argument("--text", type=Path, nargs="+", required=True, help="text files (a sentence a line) or JSONL manifests")
    lm.add_argument("--out", type=Path, required=True, help="output folder")
    lm.add_argument("--order", type=int, default=3, help="n-gram order")
    lm.add_argument("--vocab", type=Path, default=None, help="vocabulary of the acoustic model: spell the lexicon in it")
    lm.add_argument("--model", type=Path, default=None, help="or take vocabulary and normaliser from a checkpoint")
    lm.add_argument("--normalizer", default="english", choices=["english", "mandarin", "none"], help="text normaliser")
    lm.add_argument("--unit", default="char", choices=["char", "pinyin", "word"],
                    help="token unit of --vocab (pinyin: tonal syllables; word: whole words)")
    lm.add_argument("--memory", default="1G", help="lmplz -S: memory it reserves for sorting (e.g. 4G, or 20%%)")
    lm.add_argument("--prune", type=int, nargs="+", default=None, help="lmplz --prune thresholds per order, e.g. 0 0 1")
    lm.add_argument("--arpa-only", action="store_true", help="skip build_binary")
    lm.add_argument("--hanzi", action="store_true",
                    help="pinyin models: an LM over Chinese characters, each spelt by its readings: decoding writes hanzi")
    lm.set_defaults(run=_lm)

    tune = commands.add_parser("tune", help="grid-search LM weight and word score on a dev set", formatter_class=defaults)
    tune.add_argument("--model", type=Path, required=True, help="checkpoint (e.g. exp/best.pt)")
    tune.add_argument("--manifest", type=Path, required=True, help="dev manifest with reference texts")
    tune.add_argument("--lm-weights", type=_floats, default=[0.0, 0.5, 1.0, 1.5, 2.0, 3.0], help="comma-separated grid")
    tune.add_argument("--word-scores", type=_floats, default=[-2.0, -1.0, 0.0, 1.0, 2.0], help="comma-separated grid")
    tune.add_argument("--out", type=Path, default=None, help="folder for tune.md and best.json")
    tune.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    tune.add_argument("--max-batch-duration", type=float, default=200.0, help="seconds of audio per batch")
    tune.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_decoder_options(tune)
    tune.set_defaults(run=_tune)

    _add_inspect_commands(commands, defaults)
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
