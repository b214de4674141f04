"""Tiny experiments for trainer, checkpoint and CLI tests: noise audio, a 4-letter vocabulary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from dfcnn.config import load_config
from dfcnn.data import Utterance, write_manifest
from dfcnn.text import build_vocab, save_vocab
from dfcnn.train import ExperimentConfig

TINY_MODEL = [
    "model.channels=[4,8]", "model.time_pool=[2,2]", "model.freq_pool=[4,4]", "model.hidden_dim=16",
    "model.convs_per_block=1", "features.kind=mel", "features.n_mels=32",
]


def noise_corpus(folder: Path, count: int = 8, seed: int = 0) -> tuple[Path, Path]:
    """``count`` noise clips with short transcripts; returns (manifest, vocab)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    texts = ["ab", "ba", "a b", "abba", "b", "aab", "bb a", "a"]
    utterances = []
    for index in range(count):
        path = folder / f"utt{index}.wav"
        seconds = 0.5 + 0.1 * (index % 5)
        soundfile.write(str(path), (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32), 16000)
        utterances.append(Utterance(path, seconds, texts[index % len(texts)], f"utt{index}"))
    write_manifest(folder / "train.jsonl", utterances)
    save_vocab(build_vocab(u.text for u in utterances), folder / "vocab.txt")
    return folder / "train.jsonl", folder / "vocab.txt"


def tiny_config(folder: Path, *overrides: str) -> ExperimentConfig:
    manifest, vocab = noise_corpus(folder)
    return load_config(ExperimentConfig, None, [
        f"exp_dir={folder / 'exp'}", f"data.train_manifest={manifest}", f"data.dev_manifest={manifest}",
        f"data.vocab={vocab}", "data.max_batch_duration=2.0", "data.num_workers=0", "data.stats_utterances=8",
        "train.epochs=2", "train.warmup_steps=2", "train.log_every_steps=1", *TINY_MODEL, *overrides,
    ])
