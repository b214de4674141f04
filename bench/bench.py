"""Speed and size of DFCNN configurations on this machine.

    .venv/bin/python bench/bench.py                    # default model + the demo model
    .venv/bin/python bench/bench.py --repeats 20 --out bench/results.md

For each model: parameters, forward FLOPs per second of audio (torch's FLOP counter, model only),
training throughput (audio seconds per wall second and per CPU second of this process: features +
forward + CTC + backward + AdamW, on batches of 8 x 4 s) and inference real-time factor (wall time /
audio time for file -> text on a 10 s FLAC: decoding, resampling, features, model, greedy CTC).
Medians over repeats, after warmup.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
from torch.utils.flop_counter import FlopCounterMode

from dfcnn.features import FeatureConfig, FeatureExtractor
from dfcnn.inference import Recognizer, TorchNetwork
from dfcnn.model import DFCNN, ModelConfig
from dfcnn.text import Tokenizer

ENGLISH = ("<blank>", "|", "'", *"abcdefghijklmnopqrstuvwxyz")  # 29 tokens
MODELS = {
    "default (linear 200, 32-64-128-128)": (FeatureConfig(), {}),
    "demo (mel 80, 16-32-64-128)": (FeatureConfig(kind="mel"), {"channels": [16, 32, 64, 128], "hidden_dim": 256}),
}


def median_times(run, repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of this process (all threads) of one ``run()``."""
    for _ in range(warmup):
        run()
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def measure(
    name: str,
    features_config: FeatureConfig,
    model_overrides: dict,
    repeats: int,
    audio: Path,
    tokenizer: Tokenizer | None = None,
) -> dict:
    """One model's size, FLOPs, training throughput and inference RTF; ``tokenizer``: its outputs (default ENGLISH)."""
    torch.manual_seed(0)
    tokenizer = tokenizer or Tokenizer(ENGLISH)
    vocab_size = len(tokenizer)
    model_config = ModelConfig(input_bins=features_config.num_bins, vocab_size=vocab_size, **model_overrides)
    model, features = DFCNN(model_config), FeatureExtractor(features_config)
    params = sum(p.numel() for p in model.parameters())

    model.eval()
    seconds = 10.0
    with torch.no_grad():
        x, frames = features(torch.randn(1, int(16000 * seconds)), torch.tensor([int(16000 * seconds)]))
        with FlopCounterMode(display=False) as counter:
            model(x, frames)
    flops_per_second = counter.get_total_flops() / seconds

    model.train()
    optimizer = torch.optim.AdamW(model.parameters())
    batch, batch_seconds = 8, 4.0
    waves = 0.1 * torch.randn(batch, int(16000 * batch_seconds))
    lengths = torch.full((batch,), waves.shape[1])
    targets = torch.randint(1, vocab_size, (batch, 40))

    def train_step():
        feats, frame_lengths = features(waves, lengths)
        log_probs, out_lengths = model(feats, frame_lengths)
        loss = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, torch.full((batch,), 40))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    train_time, train_cpu = median_times(train_step, repeats)

    recognizer = Recognizer(TorchNetwork(model.eval(), features.eval()), tokenizer)
    audio_seconds = soundfile.info(str(audio)).duration
    infer_time, _ = median_times(lambda: recognizer.transcribe(audio), repeats)
    return {
        "model": name,
        "parameters": params,
        "gflops_per_audio_second": flops_per_second / 1e9,
        "train_audio_sec_per_sec": batch * batch_seconds / train_time,
        "train_audio_sec_per_cpu_sec": batch * batch_seconds / train_cpu,
        "inference_rtf": infer_time / audio_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10, help="timed repeats per measurement (median)")
    parser.add_argument("--out", type=Path, default=Path("bench/results.md"), help="markdown results file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "speechlike.flac"
        rng = np.random.default_rng(0)
        soundfile.write(str(audio), (0.1 * rng.standard_normal(160_000)).astype(np.float32), 16000)
        rows = [measure(name, f, m, args.repeats, audio) for name, (f, m) in MODELS.items()]

    header = (
        f"    python bench/bench.py {shlex.join(sys.argv[1:])}\n\n"
        f"Measured {datetime.date.today()} on {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, {args.repeats} repeats (medians).\n\n"
        "|model|parameters|GFLOPs per audio second|training audio-s per s|training audio-s per CPU-s|inference RTF|\n"
        "|---|---|---|---|---|---|\n"
    )
    table = (
        header
        + "\n".join(
            f"|{r['model']}|{r['parameters'] / 1e6:.2f} M|{r['gflops_per_audio_second']:.2f}|"
            f"{r['train_audio_sec_per_sec']:.1f}|{r['train_audio_sec_per_cpu_sec']:.1f}|{r['inference_rtf']:.4f}|"
            for r in rows
        )
        + "\n"
    )
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
