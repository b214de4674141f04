#!/usr/bin/env python3
"""Which DFCNN shape buys the most accuracy per CPU second: throughput and dev PER of candidate shapes.

    bash recipes/speechocean762/run.sh --stop-stage 0     # data/: train, dev and test manifests
    OMP_NUM_THREADS=1 python bench/shapes.py --data recipes/speechocean762/data --epochs 4
    python bench/shapes.py --data recipes/speechocean762/data --epochs 0 --out /tmp/screen  # throughput only

For each shape of ``SHAPES`` (overrides of ``recipes/speechocean762/conf.yaml``'s model block):

- throughput, through bench/bench.py's ``measure`` with this process's torch threads (1 with
  OMP_NUM_THREADS=1): parameters, forward GFLOPs per audio second, training audio-s per wall second and
  per CPU second (features + forward + CTC + backward + AdamW on 8 x 4 s batches), inference RTF;
- accuracy: trained from scratch, through bench/train_probe.py, on ``--data``/train.jsonl for
  ``--epochs`` epochs with conf.yaml's data, features and SpecAugment settings (``--lr``, ``--warmup``;
  no pre-training, audio decoded in the trainer's own process: data.num_workers=0) and scored on
  dev.jsonl after every epoch (greedy PER, the trainer's own dev scoring). Every shape sees the same
  audio in the same order (same seed, same batches), so the machine's load changes times, not PER.
  Reported: dev PER after each epoch with the audio hours seen, the CPU seconds of the training steps
  alone (real batches; from the probe's events), and the wall and CPU time of the whole probe
  (decoding, dev scoring and checkpoints included; CPU from the child's rusage).

``--out``.md and ``--out``.json are rewritten after each probe, and a shape already in the json with
the same settings is not probed again: a stopped run, started again with the same command, goes on.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(1, str(REPO))  # this checkout's dfcnn, after bench/ (this script's folder: bench.py, train_probe.py)

from train_probe import launch, read_events  # noqa: E402

from bench import measure  # noqa: E402
from dfcnn.config import load_config  # noqa: E402
from dfcnn.fileio import atomic_write_text  # noqa: E402
from dfcnn.text import Tokenizer  # noqa: E402
from dfcnn.training.train import ExperimentConfig  # noqa: E402

RECIPE = REPO / "recipes" / "speechocean762" / "conf.yaml"

# name -> model overrides of conf.yaml's model block (mel 80, residual); every shape keeps 4x time
# reduction (40 ms output frames) and 16x frequency reduction (5 bins into the head) unless it says otherwise
SHAPES = {
    "baseline 16-32-64-128": {},
    "stem2x2 16-32-64-256 fpool2-2-2-1": {
        "stem_stride": [2, 2],
        "channels": [16, 32, 64, 256],
        "time_pool": [1, 2, 1, 1],
        "freq_pool": [2, 2, 2, 1],
    },
    "stem2x2 16-32-64-128": {"stem_stride": [2, 2], "time_pool": [1, 2, 1, 1], "freq_pool": [1, 2, 2, 2]},
    "stem1x2 16-32-64-128": {"stem_stride": [1, 2], "time_pool": [1, 2, 1, 1]},
    "16-32-64-128-128": {
        "channels": [16, 32, 64, 128, 128],
        "time_pool": [2, 2, 1, 1, 1],
        "freq_pool": [2, 2, 2, 2, 1],
    },
    "fpool4-2-2-1 24-48-96-192": {"channels": [24, 48, 96, 192], "freq_pool": [4, 2, 2, 1]},
    "stem2x2 32-64-128-256 fpool2-2-2-1": {
        "stem_stride": [2, 2],
        "channels": [32, 64, 128, 256],
        "time_pool": [1, 2, 1, 1],
        "freq_pool": [2, 2, 2, 1],
    },
    "fpool4-2-2-1 16-48-96-192": {"channels": [16, 48, 96, 192], "freq_pool": [4, 2, 2, 1]},
    "fpool4-2-2-1 16-32-64-128": {"freq_pool": [4, 2, 2, 1]},
    "fpool4-2-2-1 32-64-128-256": {"channels": [32, 64, 128, 256], "freq_pool": [4, 2, 2, 1]},
    # throughput only unless --train names them
    "16-32-64-128-256": {
        "channels": [16, 32, 64, 128, 256],
        "time_pool": [2, 2, 1, 1, 1],
        "freq_pool": [2, 2, 2, 2, 1],
    },
    "16-32-64-128 3convs": {"convs_per_block": 3},
    "stem2x2 32-64-128-256-256 fpool2-2-2-1-1": {
        "stem_stride": [2, 2],
        "channels": [32, 64, 128, 256, 256],
        "time_pool": [1, 2, 1, 1, 1],
        "freq_pool": [2, 2, 2, 1, 1],
    },
    "stem2x2 48-96-192-384 fpool2-2-2-1": {
        "stem_stride": [2, 2],
        "channels": [48, 96, 192, 384],
        "time_pool": [1, 2, 1, 1],
        "freq_pool": [2, 2, 2, 1],
    },
    "stem2x2 32-64-128-256": {
        "stem_stride": [2, 2],
        "channels": [32, 64, 128, 256],
        "time_pool": [1, 2, 1, 1],
        "freq_pool": [1, 2, 2, 2],
    },
    "stem1x2 32-64-128-256 fpool4-2-2-1": {
        "stem_stride": [1, 2],
        "channels": [32, 64, 128, 256],
        "time_pool": [1, 2, 1, 1],
        "freq_pool": [4, 2, 2, 1],
    },
    "stem1x2 16-32-64-128-256": {
        "stem_stride": [1, 2],
        "channels": [16, 32, 64, 128, 256],
        "time_pool": [1, 2, 1, 1, 1],
        "freq_pool": [2, 2, 2, 2, 1],
    },
    "16-32-64-256": {"channels": [16, 32, 64, 256]},
    "24-48-96-192": {"channels": [24, 48, 96, 192]},
    "16-32-64-256 fpool2-2-4-1": {"channels": [16, 32, 64, 256], "freq_pool": [2, 2, 4, 1]},
}


# the default probe set, in the order they ran: the baseline first; after the first three (the stem lost accuracy)
# shapes that keep the first block's full resolution; after the sixth (early frequency pooling won), more of those
TRAINED = list(SHAPES)[:10]


def experiment(data: Path, exp_dir: Path, shape: dict, args, init_from: Path | None = None) -> list[str]:
    """``dfcnn train`` arguments of one probe: conf.yaml on ``data``, the shape's model, from scratch or
    fine-tuned from ``init_from`` (a checkpoint of the same shape and vocabulary)."""
    overrides = [
        f"exp_dir={exp_dir}",
        f"data.train_manifest={data / 'train.jsonl'}",
        f"data.dev_manifest={data / 'dev.jsonl'}",
        f"data.vocab={data / 'vocab_phone.txt'}",
        "data.num_workers=0",
        f"train.init_from={init_from or ''}",
        f"train.epochs={args.epochs}",
        f"train.lr={args.lr}",
        f"train.warmup_steps={args.warmup}",
        "train.keep_epoch_checkpoints=1",
        "train.device=cpu",
        f"train.seed={args.seed}",
    ]
    overrides += [f"model.{key}={json.dumps(value).replace(' ', '')}" for key, value in shape.items()]
    return [str(RECIPE), *overrides]


def train_probe(data: Path, shape: dict, args, scratch: Path, init_from: Path | None = None) -> dict:
    """Train one shape in a child process (from ``init_from`` when given); its dev PER per epoch and its times."""
    exp_dir = scratch / "exp"
    events_path = scratch / "events.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    start = time.monotonic()
    child = launch(
        REPO,
        experiment(data, exp_dir, shape, args, init_from),
        events_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)  # this child's own CPU time, even beside other probes
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    if child.returncode != 0:
        raise SystemExit(f"training failed ({child.returncode}):\n{stderr[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    events = read_events(events_path)
    starts = {e["step"]: e for e in events if e["event"] == "step_start"}
    ends = [e for e in events if e["event"] == "step_end"]
    step_cpu = sum(e["cpu"] - starts[e["step"]]["cpu"] for e in ends)
    step_wall = sum(e["time"] - starts[e["step"]]["time"] for e in ends)
    audio = sum(e["audio_s"] for e in starts.values())
    metrics = [json.loads(line) for line in (exp_dir / "metrics.jsonl").read_text().splitlines()]
    losses = {}  # epoch -> the training losses logged in it (every log_every_steps steps)
    for m in metrics:
        if "loss" in m:
            losses.setdefault(m["epoch"], []).append(m["loss"])
    dev = [  # an epoch shorter than log_every_steps logged no loss
        {"epoch": m["epoch"], "dev_per": m["dev_wer"]}
        | ({"train_loss": statistics.mean(losses[m["epoch"]])} if m["epoch"] in losses else {})
        for m in metrics
        if "dev_wer" in m
    ]
    return {
        "audio_hours": audio / 3600,
        "steps": len(ends),
        "dev": dev,
        "dev_per": dev[-1]["dev_per"],
        "best_dev_per": min(d["dev_per"] for d in dev),
        "step_audio_sec_per_cpu_sec": audio / step_cpu,
        "step_audio_sec_per_sec": audio / step_wall,
        "probe_wall_s": wall,
        "probe_cpu_s": cpu,
    }


def table(results: dict, settings: dict) -> str:
    lines = [
        f"Measured {results['date']} on {platform.processor() or platform.machine()} "
        f"({os.cpu_count()} cores, shared), {settings['threads']} torch thread(s), torch {torch.__version__}; "
        f"throughput: {settings['repeats']} repeats (medians).",
        "",
        "|shape|parameters|GFLOPs per audio-s|train audio-s/s|train audio-s per CPU-s|inference RTF|"
        f"dev PER after {settings['epochs']} epochs|best dev PER|audio seen|real-batch audio-s per CPU-s|"
        "probe wall / CPU|",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in results["shapes"].items():
        speed, probe = row["throughput"], row.get("training")
        cells = [
            name,
            f"{speed['parameters'] / 1e6:.2f} M",
            f"{speed['gflops_per_audio_second']:.2f}",
            f"{speed['train_audio_sec_per_sec']:.1f}",
            f"{speed['train_audio_sec_per_cpu_sec']:.1f}",
            f"{speed['inference_rtf']:.4f}",
        ]
        if probe:
            cells += [
                f"{probe['dev_per']:.1f}%",
                f"{probe['best_dev_per']:.1f}%",
                f"{probe['audio_hours']:.2f} h",
                f"{probe['step_audio_sec_per_cpu_sec']:.1f}",
                f"{probe['probe_wall_s'] / 60:.0f} / {probe['probe_cpu_s'] / 60:.0f} min",
            ]
        else:
            cells += ["", "", "", "", ""]
        lines.append("|" + "|".join(cells) + "|")
    curves = [
        f"- {name}: "
        + ", ".join(
            f"{d['dev_per']:.1f}" + (f" ({d['train_loss']:.2f})" if "train_loss" in d else "")
            for d in row["training"]["dev"]
        )
        for name, row in results["shapes"].items()
        if row.get("training")
    ]
    if curves:
        lines += [
            "",
            "Dev PER (%) after each epoch (in brackets where recorded: the epoch's mean training CTC loss, "
            "SpecAugment and dropout on):",
            "",
            *curves,
        ]
    lines += ["", "Shapes (overrides of recipes/speechocean762/conf.yaml's model block):", ""]
    lines += [f"- {name}: `{json.dumps(SHAPES[name])}`" for name in results["shapes"] if name in SHAPES]
    return "\n".join(lines) + "\n"


def write(out: Path, results: dict, settings: dict) -> None:
    command = "OMP_NUM_THREADS={} nice -n 5 .venv/bin/python bench/shapes.py {}".format(
        settings["threads"], shlex.join(settings["argv"])
    )
    write_report(out, command, table(results, settings), results)


def write_report(out: Path, command: str, markdown: str, results: dict) -> None:
    """OUT.md (the command, then the tables) and OUT.json (the command and every figure), atomically."""
    atomic_write_text(out.with_suffix(".md"), f"    {command}\n\n" + markdown)
    atomic_write_text(out.with_suffix(".json"), json.dumps({"command": command, **results}, indent=2) + "\n")


def add_probe_arguments(parser: argparse.ArgumentParser) -> None:
    """--data, --lr, --warmup and --seed: the settings of ``train_probe`` (its ``args``)."""
    parser.add_argument(
        "--data",
        type=Path,
        default=REPO / "recipes/speechocean762/data",
        help="prepared speechocean762: train.jsonl, dev.jsonl, vocab_phone.txt (default: %(default)s)",
    )
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=200, help="warmup steps (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="train.seed: initialisation, batch order, SpecAugment")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_probe_arguments(parser)
    parser.add_argument(
        "--shapes", default=",".join(SHAPES), help="comma-separated names of SHAPES to measure (default: all)"
    )
    parser.add_argument(
        "--train",
        default=",".join(TRAINED),
        help="comma-separated names of the shapes also trained (default: the first ten of SHAPES)",
    )
    parser.add_argument("--epochs", type=int, default=4, help="training epochs per trained shape; 0: none")
    parser.add_argument("--repeats", type=int, default=10, help="timed repeats per throughput figure (median)")
    parser.add_argument("--out", type=Path, default=REPO / "bench/shapes", help="writes OUT.md and OUT.json")
    args = parser.parse_args()
    names = [name.strip() for name in args.shapes.split(",") if name.strip()]
    trained = [name.strip() for name in args.train.split(",") if name.strip()] if args.epochs else []
    unknown = [name for name in names + trained if name not in SHAPES]
    if unknown:
        parser.error(f"unknown shape {unknown[0]!r}; known: {', '.join(SHAPES)}")
    names = [name for name in trained if name in names] + [name for name in names if name not in trained]
    settings = {
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "epochs": args.epochs,
        "lr": args.lr,
        "warmup": args.warmup,
        "seed": args.seed,
        "data": str(args.data),
        "argv": sys.argv[1:],
    }
    config = load_config(ExperimentConfig, RECIPE, [f"data.vocab={args.data / 'vocab_phone.txt'}"])
    tokenizer = Tokenizer.from_file(args.data / "vocab_phone.txt", unit="phone")
    results = {"date": str(datetime.date.today()), "settings": settings, "shapes": {}}
    json_path = args.out.with_suffix(".json")
    if json_path.exists():  # a stopped run goes on: probes of the same settings are kept
        previous = json.loads(json_path.read_text())
        same = {"seed": 0, **previous.get("settings", {}), "argv": None} == {**settings, "argv": None}
        if same:
            results["shapes"] = {k: v for k, v in previous["shapes"].items() if k in names}
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "speechlike.flac"
        soundfile.write(str(audio), (0.1 * np.random.default_rng(0).standard_normal(160_000)).astype(np.float32), 16000)
        for name in names:
            row = results["shapes"].get(name, {})
            if "throughput" not in row:
                model = {**_model_block(config), **SHAPES[name]}
                row["throughput"] = measure(name, config.features, model, args.repeats, audio, tokenizer)
                print(f"{name}: {row['throughput']}", flush=True)
            if name in trained and "training" not in row:
                with tempfile.TemporaryDirectory(prefix="dfcnn-shapes-") as scratch:
                    row["training"] = train_probe(args.data, SHAPES[name], args, Path(scratch))
                print(f"{name}: {row['training']}", flush=True)
            results["shapes"][name] = row
            write(args.out, results, settings)
    print(table(results, settings))


def _model_block(config: ExperimentConfig) -> dict:
    """conf.yaml's model settings other than the ones the data sets (input bins, vocabulary)."""
    model = vars(config.model).copy()
    for key in ("input_bins", "vocab_size"):
        model.pop(key)
    return model


if __name__ == "__main__":
    main()
