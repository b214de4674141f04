"""The ablation table: dev greedy WER/CER of every finished variant under exp-ablation/.

    python -m recipes.speechocean762.ablation_table --dir recipes/speechocean762/exp-ablation --epochs 4

The baseline's other seeds (seed1, seed2), when run, make the reference the mean of the three
baseline runs and give its spread. For each variant: dev WER and CER after the last epoch (the end
of the cosine schedule; at these error rates WER barely moves, so variants are ranked by CER), the
lowest dev CER of any epoch, the mean of the last 3 epoch checkpoints (avg-last3.pt, scored here
once and cached), training speed (median audio seconds per second; runs shared the CPU with others,
so it is rough). Written to DIR/ablation.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from dfcnn.evaluate import evaluate

HERE = Path(__file__).resolve().parent

DEV = HERE / "data" / "dev.jsonl"


def averaged_score(exp: Path) -> tuple[float, float] | None:
    """(WER, CER) of avg-last3.pt on dev, cached in eval-dev-avg/score.json."""
    cache = exp / "eval-dev-avg" / "score.json"
    if not cache.is_file():
        if not (exp / "avg-last3.pt").is_file():
            return None
        score, _ = evaluate(exp / "avg-last3.pt", DEV, exp / "eval-dev-avg", device="cpu", progress=False)
        cache.write_text(json.dumps({"wer": score.wer, "cer": score.cer}))
    cached = json.loads(cache.read_text())
    return cached["wer"], cached["cer"]


def row(exp: Path) -> dict | None:
    records = (
        [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
        if (exp / "metrics.jsonl").is_file()
        else []
    )
    dev = [r for r in records if "dev_wer" in r]
    if not dev or not (exp / "done").exists():
        return None
    last = dev[-1]
    best = min(dev, key=lambda r: (r["dev_cer"], r["epoch"]))
    speeds = [r["audio_sec_per_sec"] for r in records if "audio_sec_per_sec" in r]
    averaged = averaged_score(exp)
    return {
        "name": exp.name,
        "epochs": last["epoch"],
        "best_epoch": best["epoch"],
        "wer": last["dev_wer"],
        "cer": last["dev_cer"],
        "min_cer": best["dev_cer"],
        "avg_wer": averaged[0] if averaged else None,
        "avg_cer": averaged[1] if averaged else None,
        "speed": statistics.median(speeds) if speeds else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=HERE / "exp-ablation")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    rows = [r for exp in sorted(args.dir.iterdir()) if exp.is_dir() and (r := row(exp))]
    seeds = ("baseline", "seed1", "seed2")  # the same configuration, other seeds: the run-to-run noise
    rows.sort(key=lambda r: (r["name"] not in seeds, r["name"] if r["name"] in seeds else "", r["cer"]))
    base_cers = [r["cer"] for r in rows if r["name"] in seeds]
    reference = statistics.mean(base_cers) if base_cers else None
    fmt = lambda value, spec=".1f": "-" if value is None else format(value, spec)  # noqa: E731
    what = "baseline" if len(base_cers) <= 1 else f"the mean of the {len(base_cers)} baseline seeds"
    lines = [
        f"Protocol: conf.yaml, {args.epochs} epochs (cosine schedule over them), seed 0 (seed1/seed2: the baseline "
        "with seeds 1 and 2); greedy decoding of speechocean762 dev (10 held-out speakers, 200 sentences). "
        f"CER change against {what}"
        + (f" ({reference:.1f}, standard deviation {statistics.stdev(base_cers):.1f})." if len(base_cers) > 1 else "."),
        "",
        "|variant|epochs|dev WER|dev CER|CER change|lowest CER (epoch)|avg last 3: WER|avg last 3: CER|audio-s/s|",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lone_baseline = r["name"] in seeds and len(base_cers) == 1  # nothing to compare it with
        delta = "" if reference is None or lone_baseline else f"{r['cer'] - reference:+.1f}"
        lines.append(
            f"|{r['name']}|{r['epochs']}|{fmt(r['wer'])}|{fmt(r['cer'])}|{delta}|"
            f"{fmt(r['min_cer'])} ({r['best_epoch']})|"
            f"{fmt(r['avg_wer'])}|{fmt(r['avg_cer'])}|{fmt(r['speed'], '.0f')}|"
        )
    table = "\n".join(lines) + "\n"
    (args.dir / "ablation.md").write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
