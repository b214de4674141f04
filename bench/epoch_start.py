#!/usr/bin/env python3
"""Epoch start: how long an epoch waits for its first batch, and how long an epoch takes.

    (cd recipes/yesno && ./run.sh --stop-stage 0)                # data/: manifests and vocabulary
    nice -n 10 .venv/bin/python bench/epoch_start.py --before ../dfcnn-5de4d94 --epochs 5 --rounds 2

Trains the yesno recipe (``recipes/yesno/conf.yaml`` of each checkout: 14 two-file batches an
epoch, dev scored after each) for ``--epochs`` epochs with ``data.num_workers`` audio workers,
through ``bench/train_probe.py``, which timestamps each epoch's start (the trainer asks the sampler
for its batches), every step and each epoch's end. Per epoch:

- first batch: from the epoch's start to its first step (audio workers starting and decoding);
- training: from the epoch's start to the end of its last step;
- epoch: from the epoch's start to the next one's (dev scoring and checkpoints included).

Epoch 1 starts the workers in every version, so it is reported apart; the later epochs show whether
workers are restarted. The checkouts run in turn, ``--rounds`` times; figures are medians over the
later epochs of all rounds. ``OMP_NUM_THREADS`` is ``--threads`` (default 1). Writes ``--out``.md
and ``--out``.json (default ``bench/epoch_start``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from train_probe import launch, read_events  # bench/ is on sys.path: it holds this script

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's dfcnn (fileio), whichever checkout is measured


def git_commit(repo: Path) -> str:
    run = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return run.stdout.strip()


def epoch_times(events: list[dict]) -> list[dict]:
    """Per epoch: seconds to the first batch, of training, and of the whole epoch."""
    starts = [e for e in events if e["event"] == "epoch_start"]
    epochs = []
    for number, start in enumerate(starts):
        following = starts[number + 1]["time"] if number + 1 < len(starts) else None
        inside = [e for e in events if start["time"] <= e["time"] and (following is None or e["time"] < following)]
        steps = [e for e in inside if e["event"] == "step_start"]
        ends = [e for e in inside if e["event"] == "step_end"]
        if not steps or following is None:  # the last start is one the run did not train (or an unfinished epoch)
            continue
        epochs.append(
            {
                "epoch": start["epoch"] + 1,
                "first_batch_s": steps[0]["time"] - start["time"],
                "training_s": ends[-1]["time"] - start["time"],
                "epoch_s": following - start["time"],
                "steps": len(steps),
            }
        )
    return epochs


def run(repo: Path, args, data: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    env.pop("LD_PRELOAD", None)
    with tempfile.TemporaryDirectory(prefix="dfcnn-epoch-start-") as scratch:
        scratch = Path(scratch)
        train_args = [
            str(repo / "recipes" / "yesno" / "conf.yaml"),
            f"exp_dir={scratch / 'exp'}",
            f"data.train_manifest={data / 'train.jsonl'}",
            f"data.dev_manifest={data / 'dev.jsonl'}",
            f"data.vocab={data / 'vocab.txt'}",
            f"data.num_workers={args.workers}",
            f"train.epochs={args.epochs + 1}",
        ]
        load = os.getloadavg()[0]
        with open(scratch / "train.log", "w") as log:
            process = launch(repo, train_args, scratch / "events.jsonl", env=env, stdout=log, stderr=subprocess.STDOUT)
            # one epoch more than measured, stopped (SIGINT: the trainer saves and exits) once it starts
            events = scratch / "events.jsonl"
            while True:
                try:
                    process.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if events.exists() and sum(e["event"] == "epoch_start" for e in read_events(events)) > args.epochs:
                    process.send_signal(signal.SIGINT)
                    try:
                        process.wait(timeout=120)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
                    break
        if sum(e["event"] == "epoch_start" for e in read_events(events)) <= args.epochs:
            log = (scratch / "train.log").read_text()
            raise SystemExit(f"{repo}: stopped before epoch {args.epochs + 1} (exit {process.returncode}):\n{log}")
        return {"load_average": load, "epochs": epoch_times(read_events(events))}


def summary(runs: list[dict]) -> dict:
    first = [e for r in runs for e in r["epochs"] if e["epoch"] == 1]
    later = [e for r in runs for e in r["epochs"] if e["epoch"] > 1]

    def median(rows, key):
        return statistics.median(e[key] for e in rows) if rows else float("nan")

    return {
        key: {"epoch_1": median(first, key), "later": median(later, key)}
        for key in ("first_batch_s", "training_s", "epoch_s")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout measured")
    parser.add_argument("--before", type=Path, default=None, help="a checkout to compare with (measured first)")
    parser.add_argument(
        "--data", type=Path, default=REPO / "recipes" / "yesno" / "data", help="prepared yesno data (run.sh stage 0)"
    )
    parser.add_argument("--epochs", type=int, default=5, help="epochs measured per run")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each checkout, in turn")
    parser.add_argument("--workers", type=int, default=2, help="data.num_workers")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of the trainer")
    parser.add_argument("--note", default="", help="a paragraph for the report (how the machine was loaded)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "epoch_start", help="writes OUT.md, OUT.json")
    args = parser.parse_args()
    data = args.data.resolve()
    if not (data / "train.jsonl").is_file():
        raise SystemExit(f"{data}/train.jsonl not found: prepare it with recipes/yesno/run.sh --stop-stage 0")
    if args.epochs < 2:
        raise SystemExit("--epochs must be at least 2 (epoch 1 is reported apart)")
    checkouts = [("before", args.before.resolve())] if args.before else []
    checkouts.append(("after", args.repo.resolve()))
    runs = {label: [] for label, _ in checkouts}
    for round_number in range(args.rounds):
        for label, repo in checkouts:
            result = run(repo, args, data)
            runs[label].append(result)
            waits = ", ".join(f"{e['first_batch_s']:.2f}" for e in result["epochs"])
            print(
                f"[round {round_number + 1}] {label} ({repo}): first-batch waits {waits} s, "
                f"load {result['load_average']:.1f}",
                flush=True,
            )

    command = "python bench/epoch_start.py " + shlex.join(sys.argv[1:])
    summaries = {label: summary(r) for label, r in runs.items()}
    loads = [r["load_average"] for rs in runs.values() for r in rs]
    rows = []
    for label, repo in checkouts:
        s = summaries[label]
        rows.append(
            f"| {label} ({git_commit(repo)}) | {s['first_batch_s']['epoch_1']:.2f} | {s['first_batch_s']['later']:.2f} "
            f"| {s['training_s']['later']:.2f} | {s['epoch_s']['later']:.2f} "
            f"| {s['first_batch_s']['later'] / s['training_s']['later']:.0%} |"
        )
    report = "\n".join(
        [
            "# Epoch start (yesno recipe, CPU)",
            "",
            f"Measured {datetime.date.today()} on {platform.node()} ({os.cpu_count()} CPUs, shared with other jobs: "
            f"1-minute load average {min(loads):.1f}-{max(loads):.1f} at the runs' starts) with",
            "",
            f"    {command}",
            "",
            *([args.note, ""] if args.note else []),
            f"`recipes/yesno/conf.yaml` (14 batches an epoch), `data.num_workers={args.workers}`, "
            f"`OMP_NUM_THREADS={args.threads}`, {args.epochs} epochs a run, {args.rounds} run(s) per checkout; "
            "seconds, medians over epochs 2 and later of all runs (epoch 1: over runs). First batch: from the "
            "epoch's start to its first step; training: to the end of its last step; epoch: to the next epoch's "
            "start (dev scoring and checkpoints included).",
            "",
            "| checkout | first batch, epoch 1 | first batch, later epochs | training | epoch "
            "| waiting share of training |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
        ]
    )
    print(report)
    from dfcnn.fileio import atomic_write_text

    atomic_write_text(args.out.with_suffix(".md"), report)
    atomic_write_text(
        args.out.with_suffix(".json"),
        json.dumps(
            {
                "command": command,
                "date": str(datetime.date.today()),
                "workers": args.workers,
                "threads": args.threads,
                "epochs": args.epochs,
                "summary": summaries,
                "runs": runs,
            },
            indent=1,
        )
        + "\n",
    )


if __name__ == "__main__":
    main()
