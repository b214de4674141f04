#!/usr/bin/env python3
"""The neural-voice data curve: does more Kokoro / Piper / Pico speech (recipes/synth_english's
prepare_neural.py) make a better model of real accented English, and how much?

    bash recipes/speechocean762/run.sh --stop-stage 0        # data/: train, dev, vocab_phone.txt
    OMP_NUM_THREADS=1 python bench/neural_curve.py --neural /work/corpora/neural_english \\
        --point 0:4 --point 0.89:3 --point 2.67:2 --point 2.67:4:alone

Each ``--point HOURS:EPOCHS[:alone]`` trains recipes/speechocean762/conf.yaml's shape (the shipped
wide DFCNN) from scratch, through bench/shapes.py's probe (same learning rate, warmup and seed for
every point), on speechocean762's train (2.67 h of real speech) plus the first HOURS of the corpus's
train.jsonl (its clips in order, so a smaller point's clips are a prefix of a larger one's; ``alone``:
the corpus without the real speech), for EPOCHS epochs, and scores speechocean762 dev (greedy PER,
10 held-out speakers) after every epoch. The default points hold the audio seen at four passes over
the real speech (about 10.7 h): 4 epochs of 2.67 h, 3 of 3.56 h and 2 of 5.34 h, so only the share
of synthetic speech changes, not the compute; the last trains on synthetic speech alone.

``--init-from CHECKPOINT`` fine-tunes every point from a trained model of that shape and vocabulary
instead (the recipe's protocol: the shipped ``english``, pre-trained on 16.41 h, then fine-tuned on the
real speech; pass the recipe's ``--lr 1e-3 --warmup 100``), where the real-only run has stopped
improving with more epochs, so extra data can show its worth.

``--jobs 2`` trains two points at once (one process each; the CPU column is each probe's own).
``--out``.md and ``--out``.json are rewritten after each point; a point already in the json with the
same settings and the same clips is not trained again, so a stopped run goes on with the same command.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(1, str(REPO))  # this checkout's dfcnn and recipes, after bench/ (shapes.py, train_probe.py)

from shapes import add_probe_arguments, train_probe, write_report  # noqa: E402

from dfcnn.arguments import positive_int  # noqa: E402
from dfcnn.data import read_manifest  # noqa: E402
from dfcnn.errors import DfcnnError  # noqa: E402
from recipes.english.corpus import pretraining_manifest  # noqa: E402

DEFAULT_POINTS = ["0:4", "0.89:3", "2.67:2", "2.67:4:alone"]


def parse_point(text: str) -> dict:
    """``HOURS:EPOCHS[:alone]`` -> {"hours", "epochs", "alone"}; ValueError with the reason."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "alone"):
        raise ValueError(f"{text!r}: expected HOURS:EPOCHS or HOURS:EPOCHS:alone")
    try:
        hours, epochs = float(parts[0]), int(parts[1])
    except ValueError:
        raise ValueError(f"{text!r}: HOURS is a number and EPOCHS a whole number") from None
    if hours < 0 or epochs < 1 or (len(parts) == 3 and hours == 0):
        raise ValueError(f"{text!r}: hours must be >= 0 (> 0 alone) and epochs >= 1")
    return {"hours": hours, "epochs": epochs, "alone": len(parts) == 3}


def neural_prefix(utterances: list, settings: dict, hours: float) -> tuple[int, dict]:
    """How many of the corpus's first train clips (``utterances``, its train.jsonl in order) reach ``hours``
    of audio, and what they hold: hours, voices, clips per voice group (``settings``: corpus.json's
    utterances). ValueError when the corpus has fewer hours so far."""
    total, count = 0.0, 0
    for utterance in utterances:
        if total >= hours * 3600:
            break
        total, count = total + utterance.duration, count + 1
    if total < hours * 3600:
        raise ValueError(f"{total / 3600:.2f} h so far, a point asks for {hours} h")
    chosen = [settings[u.utt_id] for u in utterances[:count]]
    return count, {
        "clips": count,
        "hours": round(total / 3600, 3),
        "voices": len({s["voice"] for s in chosen}),
        "groups": dict(Counter(s["group"] for s in chosen).most_common()),
    }


def point_data(data: Path, neural: Path, clips: int, alone: bool, scratch: Path) -> Path:
    """A data folder for the probe: the point's train.jsonl, speechocean762's dev and vocabulary."""
    folder = scratch / "data"
    folder.mkdir()
    sources = {} if alone else {"so762": (data / "train.jsonl", None)}
    if clips:
        sources["neural"] = (neural / "train.jsonl", clips)
    pretraining_manifest(sources, set(), folder / "train.jsonl")
    for name in ("dev.jsonl", "vocab_phone.txt"):
        shutil.copy(data / name, folder / name)
    return folder


def label(point: dict) -> str:
    real = "" if point["alone"] else "real + "
    return f"{real}{point['hours']:g} h neural, {point['epochs']} epochs"


def starting_point(results: dict) -> str:
    init_from = results["settings"].get("init_from")
    return f"fine-tuned from {init_from}" if init_from else "from scratch"


def table(results: dict) -> str:
    lines = [
        f"Measured {results['date']} on {platform.processor() or platform.machine()} ({os.cpu_count()} cores, "
        f"shared), {results['settings']['threads']} torch thread(s), torch {torch.__version__}; "
        f"{starting_point(results)}, lr {results['settings']['lr']}, warmup {results['settings']['warmup']} steps, "
        f"seed {results['settings']['seed']}. "
        "Dev: speechocean762 dev (200 sentences, 10 held-out speakers), greedy PER.",
        "",
        "|training data|neural clips|neural voices|epochs|audio seen|dev PER, last epoch|best dev PER|"
        "probe wall / CPU|",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in results["points"].items():
        probe, prefix = row["training"], row["neural"]
        lines.append(
            f"|{name}|{prefix['clips']}|{prefix['voices']}|{row['point']['epochs']}|{probe['audio_hours']:.2f} h|"
            f"{probe['dev_per']:.1f}%|{probe['best_dev_per']:.1f}%|"
            f"{probe['probe_wall_s'] / 60:.0f} / {probe['probe_cpu_s'] / 60:.0f} min|"
        )
    lines += ["", "Dev PER (%) after each epoch (the epoch's mean training CTC loss in brackets):", ""]
    for name, row in results["points"].items():
        curve = ", ".join(
            f"{d['dev_per']:.1f}" + (f" ({d['train_loss']:.2f})" if "train_loss" in d else "")
            for d in row["training"]["dev"]
        )
        lines.append(f"- {name}: {curve}")
    lines += ["", "Neural clips per voice group (recipes/synth_english/README.md):", ""]
    for name, row in results["points"].items():
        if row["neural"]["clips"]:
            groups = ", ".join(f"{group} {n}" for group, n in row["neural"]["groups"].items())
            lines.append(f"- {name}: {row['neural']['hours']:.2f} h; {groups}")
    return "\n".join(lines) + "\n"


def write(out: Path, results: dict) -> None:
    command = "OMP_NUM_THREADS={} python bench/neural_curve.py {}".format(
        results["settings"]["threads"], shlex.join(results["settings"]["argv"])
    )
    write_report(out, command, table(results), results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_probe_arguments(parser)
    parser.add_argument("--neural", type=Path, required=True, help="the neural-voice corpus (prepare_neural --out)")
    parser.add_argument(
        "--point",
        action="append",
        help=f"HOURS:EPOCHS[:alone], repeatable, trained in order (default: {' '.join(DEFAULT_POINTS)})",
    )
    parser.add_argument(
        "--init-from", type=Path, default=None, help="fine-tune every point from this checkpoint (default: scratch)"
    )
    parser.add_argument("--jobs", type=positive_int, default=1, help="points trained at once, each on its own process")
    parser.add_argument("--out", type=Path, default=REPO / "bench/neural_curve", help="writes OUT.md and OUT.json")
    args = parser.parse_args()
    try:
        points = [parse_point(text) for text in args.point or DEFAULT_POINTS]
    except ValueError as error:
        parser.error(f"--point {error}")
    for path in (args.data / "train.jsonl", args.data / "dev.jsonl", args.neural / "train.jsonl", args.init_from):
        if path is not None and not path.is_file():
            parser.error(f"{path}: not found")
    try:  # the corpus is read once: every point is a prefix of its train.jsonl
        corpus = read_manifest(args.neural / "train.jsonl")
        voices = json.loads((args.neural / "corpus.json").read_text(encoding="utf-8"))["utterances"]
        prefixes = [neural_prefix(corpus, voices, point["hours"]) for point in points]
    except (DfcnnError, OSError, ValueError, KeyError) as error:
        parser.error(f"{args.neural}: {error}")
    settings = {"threads": torch.get_num_threads(), "lr": args.lr, "warmup": args.warmup, "seed": args.seed}
    if args.init_from:  # the checkpoint's path as given: a moved checkout does not retrain its points
        settings["init_from"] = str(args.init_from)
    results = {"date": str(datetime.date.today()), "settings": {**settings, "argv": sys.argv[1:]}, "points": {}}
    json_path = args.out.with_suffix(".json")
    previous = json.loads(json_path.read_text()) if json_path.exists() else {}
    done, todo = {}, []
    for point, (clips, prefix) in zip(points, prefixes):
        old = previous.get("points", {}).get(label(point))
        same = old and old["neural"] == prefix and {**previous["settings"], "argv": None} == {**settings, "argv": None}
        if same:  # a stopped run goes on: this point's clips and settings were trained already
            done[label(point)] = old
        else:
            todo.append((point, clips, prefix))
    lock = threading.Lock()

    def record(point: dict | None = None, row: dict | None = None) -> None:  # the points finished, in the order asked
        with lock:
            if point:
                done[label(point)] = row
            results["points"] = {label(p): done[label(p)] for p in points if label(p) in done}
            write(args.out, results)

    def train(point: dict, clips: int, prefix: dict) -> None:
        with tempfile.TemporaryDirectory(prefix="dfcnn-curve-") as scratch:
            folder = point_data(args.data, args.neural, clips, point["alone"], Path(scratch))
            probe_args = argparse.Namespace(epochs=point["epochs"], lr=args.lr, warmup=args.warmup, seed=args.seed)
            training = train_probe(folder, {}, probe_args, Path(scratch), args.init_from)
        print(f"{label(point)}: {training}", flush=True)
        record(point, {"point": point, "neural": prefix, "training": training})

    record()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(train, *job) for job in todo]
        try:
            for future in futures:
                future.result()
        except BaseException:  # a failed probe (or ^C): the points not started are not started
            pool.shutdown(cancel_futures=True)
            raise
    print(table(results))


if __name__ == "__main__":
    main()
