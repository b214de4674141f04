"""Adapting a shipped model to one speaker it has never heard (issue 22, point 3): test WER before and
after `dfcnn finetune`, and the wall time the fine-tuning took.

    bash recipes/cathy_arctic/run.sh --stop-stage 0          # data/: train, dev and test by ARCTIC prompt
    .venv/bin/python bench/finetune.py                       # english on 300 of cathy_arctic's train utterances
    .venv/bin/python bench/finetune.py --model exp/ --train-utterances 100 --out /tmp/ft

The speaker (cathy_arctic: one native US woman reading CMU ARCTIC prompts) and every ARCTIC sentence
are absent from the shipped English model's training audio and LM (recipes/english). The first
``--train-utterances`` of the prepared train split are the user's data; dev is the recipe's dev split
(for choosing best.pt), and test its test split, whose prompts are in neither. The command is the
documented one, with its defaults: ``dfcnn finetune --model M --train T --dev D --out EXP``. Writes
``bench/finetune.md`` and ``.json`` (``--out``: another stem), the command at the top.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dfcnn.data import read_manifest, write_manifest  # noqa: E402
from dfcnn.errors import DfcnnError  # noqa: E402
from dfcnn.evaluate import evaluate_rows  # noqa: E402
from dfcnn.fileio import atomic_write_text  # noqa: E402


def scores(model: str, manifest: Path) -> dict[str, float]:
    """{row label: error rate} of ``dfcnn evaluate`` (greedy, and as shipped when the model ships a decoder)."""
    rows, _ = evaluate_rows(model, manifest, progress=False)
    return {f"{row.label} {row.metric}": round(row.error_rate, 2) for row in rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="english", help="the model adapted (default: %(default)s)")
    parser.add_argument(
        "--data", type=Path, default=REPO / "recipes/cathy_arctic/data", help="train/dev/test.jsonl of one speaker"
    )
    parser.add_argument("--train-utterances", type=int, default=300, help="the first N of train (default: %(default)s)")
    parser.add_argument("--exp", type=Path, default=REPO / "exp/finetune-bench", help="the fine-tuned model's folder")
    parser.add_argument("--out", type=Path, default=REPO / "bench/finetune", help="stem of the .md and .json written")
    args = parser.parse_args()
    command = shlex.join(["python", "bench/finetune.py", *sys.argv[1:]])
    train = read_manifest(args.data / "train.jsonl")[: args.train_utterances]
    corpus = args.data.parent.name if args.data.name.startswith("data") else args.data.name  # recipes/<corpus>/data
    if args.exp.exists():
        shutil.rmtree(args.exp)
    args.exp.mkdir(parents=True)
    subset = args.exp.parent / f"{args.exp.name}-train.jsonl"
    write_manifest(subset, train)
    test = args.data / "test.jsonl"
    before = scores(args.model, test)
    finetune = [sys.executable, "-m", "dfcnn", "finetune", "--model", args.model, "--train", str(subset)]
    finetune += ["--dev", str(args.data / "dev.jsonl"), "--out", str(args.exp), "--force", "--quiet"]
    started = time.monotonic()
    subprocess.run(finetune, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    after = scores(str(args.exp), test)
    result = {
        "command": command,
        "date": datetime.date.today().isoformat(),
        "model": args.model,
        "train_utterances": len(train),
        "train_minutes_of_audio": round(sum(u.duration for u in train) / 60, 1),
        "test_utterances": len(read_manifest(test)),
        "finetune_wall_minutes": round(wall / 60, 1),
        "finetune_cpu_minutes": round((usage.ru_utime + usage.ru_stime) / 60, 1),
        "threads": os.environ.get("OMP_NUM_THREADS", "all cores"),
        "before": before,
        "after": after,
    }
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    lines = [
        "# Fine-tuning a shipped model on an unseen speaker",
        "",
        f"    {command}",
        "",
        f"{result['date']}: `{args.model}` fine-tuned with `dfcnn finetune`'s defaults on {len(train)} utterances "
        f"({result['train_minutes_of_audio']} min of audio) of {corpus}, tested on its "
        f"{result['test_utterances']} test utterances (prompts in neither train nor dev). Fine-tuning took "
        f"{result['finetune_wall_minutes']} min of wall time ({result['finetune_cpu_minutes']} CPU min, "
        f"OMP_NUM_THREADS={result['threads']}) on this machine's 2 cores.",
        "",
        "|test error rate %|" + "|".join(before) + "|",
        "|---|" + "---:|" * len(before),
        f"|{args.model}|" + "|".join(f"{value:.1f}" for value in before.values()) + "|",
        "|fine-tuned|" + "|".join(f"{after.get(label, float('nan')):.1f}" for label in before) + "|",
        "",
    ]
    atomic_write_text(args.out.with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except DfcnnError as error:  # a missing or bad manifest, an unknown model: one line
        raise SystemExit(f"bench/finetune.py: error: {error}") from None
