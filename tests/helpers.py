"""Tiny experiments for trainer, checkpoint and CLI tests (noise audio, a 4-letter vocabulary) as a
config or a YAML file, and an untrained but deterministic recognizer for inference tests."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
import yaml

from dfcnn.config import load_config, parse_override
from dfcnn.data import Utterance, write_manifest
from dfcnn.features import FeatureConfig, FeatureExtractor
from dfcnn.inference import Recognizer, TorchNetwork
from dfcnn.model import DFCNN, ModelConfig
from dfcnn.text import Tokenizer, build_vocab, save_vocab
from dfcnn.training.train import ExperimentConfig

TINY_MODEL = [
    "model.channels=[4,8]",
    "model.time_pool=[2,2]",
    "model.freq_pool=[4,4]",
    "model.hidden_dim=16",
    "model.convs_per_block=1",
    "features.kind=mel",
    "features.n_mels=32",
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


def tiny_settings(folder: Path, *overrides: str) -> list[str]:
    """The key=value settings of a tiny run on the noise corpus in ``folder`` (written there unless it
    is), into ``folder/exp``; ``overrides`` last."""
    manifest, vocab = folder / "train.jsonl", folder / "vocab.txt"
    if not (manifest.is_file() and vocab.is_file()):
        noise_corpus(folder)
    return [
        f"exp_dir={folder / 'exp'}",
        f"data.train_manifest={manifest}",
        f"data.dev_manifest={manifest}",
        f"data.vocab={vocab}",
        "data.max_batch_duration=2.0",
        "data.num_workers=0",
        "data.stats_utterances=8",
        "train.epochs=2",
        "train.warmup_steps=2",
        "train.log_every_steps=1",
        *TINY_MODEL,
        "data.robustness.enabled=false",  # stop and resume tests count on the same batches every epoch
        *overrides,
    ]


def tiny_config(folder: Path, *overrides: str) -> ExperimentConfig:
    """The ``ExperimentConfig`` of ``tiny_settings``."""
    return load_config(ExperimentConfig, None, tiny_settings(folder, *overrides))


def tiny_yaml(folder: Path, *overrides: str, name: str = "conf.yaml") -> Path:
    """``tiny_settings`` as the YAML file ``folder/name``, for ``dfcnn train``; returns its path."""
    tree: dict = {}
    for text in tiny_settings(folder, *overrides):
        keys, value = parse_override(text)
        node = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    path = folder / name
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    return path


TOKENIZER = Tokenizer(tuple(build_vocab(["abc de"])), "english")  # <blank> | a b c d e


def random_recognizer(features: FeatureConfig | None = None, **model_overrides) -> Recognizer:
    """An untrained but deterministic DFCNN (32 log-mel bins unless ``features`` says otherwise):
    stitching, timing and export do not depend on training."""
    torch.manual_seed(0)
    features = FeatureExtractor(features or FeatureConfig(kind="mel", n_mels=32))
    options = dict(
        input_bins=features.config.num_bins,
        vocab_size=len(TOKENIZER),
        channels=[4, 8, 8],
        time_pool=[2, 2, 1],
        freq_pool=[2, 2, 2],
        hidden_dim=16,
    )
    model = DFCNN(ModelConfig(**{**options, **model_overrides}))
    with torch.no_grad():
        model.head[-1].bias[0] = -1.0  # blank less dominant: random weights then emit some tokens
    for module in model.modules():  # give BatchNorm non-trivial statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return Recognizer(TorchNetwork(model.eval(), features.eval()), TOKENIZER)


def noisy_speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(16000 * seconds)
    t = np.arange(n) / 16000
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 1.3 * t)
    return (0.1 * rng.standard_normal(n) * envelope + 0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


def peaky_log_probs(tokens_at: dict[int, str], frames: int) -> torch.Tensor:
    """(T, V) log-probs: blank everywhere except a confident token at the given frames."""
    probs = torch.full((frames, len(TOKENIZER)), 0.01)
    probs[:, 0] = 0.95
    for frame, token in tokens_at.items():
        probs[frame] = 0.01
        probs[frame, TOKENIZER.tokens.index(token)] = 0.8
    return (probs / probs.sum(1, keepdim=True)).log()


@contextlib.contextmanager
def dfcnn_serve(*args: str, timeout: float = 90.0):
    """A ``dfcnn serve ARGS --port 0`` process on 127.0.0.1: yields (process, base URL) once it
    listens; killed with its process group afterwards if it is still running."""
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "dfcnn", "serve", *map(str, args), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        url, seen = None, []
        deadline = time.monotonic() + timeout
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                raise RuntimeError("dfcnn serve exited before listening:\n" + "".join(seen))
            seen.append(line)
            if "listening on " in line:
                url = line.split("listening on ")[1].strip()
        if url is None:
            raise RuntimeError("dfcnn serve did not start listening:\n" + "".join(seen))
        yield process, url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stdout.close()


def arpa_text(model: dict) -> str:
    """An ARPA file of {order: [(p, "w1 w2", back-off or None)]}: log10 values to 12 decimals; p None: -99."""
    lines = ["\\data\\", *(f"ngram {k}={len(rows)}" for k, rows in model.items())]
    for k, rows in model.items():
        lines += ["", f"\\{k}-grams:"]
        for p, words, backoff in rows:
            fields = ["-99" if p is None else f"{math.log10(p):.12f}", words]
            if backoff is not None:
                fields.append(f"{math.log10(backoff):.12f}")
            lines.append("\t".join(fields))
    return "\n".join([*lines, "", "\\end\\", ""])
