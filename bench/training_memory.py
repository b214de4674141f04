#!/usr/bin/env python3
"""Training memory and speed: resident memory of a CPU training process, and its audio-s/s.

    (cd recipes/speechocean762 && ./run.sh --stop-stage 0)     # data/: manifests and vocabulary
    nice -n 10 .venv/bin/python bench/training_memory.py --steps 200 --before ../dfcnn-5de4d94 \\
        --settings glibc:0 glibc:8 glibc:24 jemalloc-default:24 jemalloc:0 jemalloc:8 jemalloc:24

Runs real training of the speechocean762 recipe (``recipes/speechocean762/conf.yaml`` of each
checkout, data from ``--data``) for ``--steps`` steps, one run at a time, ``OMP_NUM_THREADS``
threads (default 1), through ``bench/train_probe.py`` (which timestamps every step). Variants:

- ``--before PATH``: that checkout as it is (its own defaults), glibc malloc;
- this checkout (``--repo``) with each of ``--settings`` ALLOCATOR:LENGTH_BUCKETS, the allocator
  one of: glibc (the C library's malloc); jemalloc (Debian ``libjemalloc2``) preloaded and configured as
  ``dfcnn train`` does it (``dfcnn.training.allocator``); or jemalloc with its own default settings
  (``jemalloc-default``).

Every ``--interval`` seconds it reads from /proc the trainer's resident memory (VmRSS), its audio
workers' (the trainer's descendants other than the forkserver and the resource tracker), the
proportional set size of the whole process tree (PSS: shared pages counted once), and the
trainer's CPU time. Steady state is steps ``--steady-from`` to the end (one epoch is ~160 steps,
so the default window holds an epoch's end, dev scoring and the next epoch's start). Speed over the
steady steps, leaving out the step that spans an epoch's end:

- audio-s/s: seconds of (unpadded) training audio per wall-clock second, as metrics.jsonl logs it;
- audio-s per CPU-s: the same per second of the trainer's CPU time, which other jobs on a shared
  machine disturb far less than wall time.

``--rounds R`` runs every variant R times, in turn (``--parallel``: a round's variants at the same
time, so that a busy machine's load falls on them alike); figures are medians over rounds. Writes
``--out``.md and ``--out``.json (default ``bench/training_memory``).
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from train_probe import launch, read_events  # bench/ is on sys.path: it holds this script

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's dfcnn (fileio, workers), whichever checkout is measured

from dfcnn.training.allocator import JEMALLOC_CONF, find_jemalloc, jemalloc_environment  # noqa: E402

ALLOCATORS = ("glibc", "jemalloc", "jemalloc-default")


@dataclass
class Variant:
    label: str  # shown in the tables
    repo: Path  # the checkout whose dfcnn trains
    allocator: str = "glibc"  # glibc | jemalloc (as dfcnn train runs it) | jemalloc-default (its own settings)
    overrides: list[str] = field(default_factory=list)  # extra dfcnn train key=value


def git_describe(repo: Path) -> str:
    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + (" (with uncommitted changes)" if git("status", "--porcelain") else "")


# --- /proc ---------------------------------------------------------------------------------------


def read_proc(pid: int, name: str) -> str | None:
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:  # gone
        return None


def status_kib(pid: int, key: str) -> int:
    for line in (read_proc(pid, "status") or "").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def pss_kib(pid: int) -> int:
    for line in (read_proc(pid, "smaps_rollup") or "").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def cpu_and_faults(pid: int) -> tuple[float, float, int]:
    """(user CPU s, system CPU s, minor page faults) of ``pid`` so far (proc(5): stat fields 10, 14, 15)."""
    stat = read_proc(pid, "stat")
    if not stat:
        return 0.0, 0.0, 0
    fields = stat.rsplit(")", 1)[1].split()  # fields[0] is field 3 (state)
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick, int(fields[7])


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def sample(trainer: int) -> dict:
    """One reading of the trainer's process tree."""
    workers, helpers, queue = [], [], [(child, trainer) for child in children(trainer)]
    while queue:
        pid, parent = queue.pop()
        queue += [(child, pid) for child in children(pid)]
        command = (read_proc(pid, "cmdline") or "").replace("\0", " ")
        is_helper = "resource_tracker" in command or (parent == trainer and "forkserver" in command)
        (helpers if is_helper else workers).append(pid)
    tree = [trainer, *workers, *helpers]
    user, system, faults = cpu_and_faults(trainer)
    return {
        "time": time.monotonic(),
        "trainer_rss": status_kib(trainer, "VmRSS") / 1024,
        "trainer_hwm": status_kib(trainer, "VmHWM") / 1024,
        "trainer_user_s": user,
        "trainer_system_s": system,
        "trainer_minor_faults": faults,
        "worker_rss": [status_kib(pid, "VmRSS") / 1024 for pid in workers],
        "tree_pss": sum(pss_kib(pid) for pid in tree) / 1024,
    }


# --- one run -------------------------------------------------------------------------------------


def train_args(variant: Variant, args, exp_dir: Path) -> list[str]:
    data = args.data.resolve()
    conf = args.conf.resolve() if args.conf else variant.repo / "recipes" / "speechocean762" / "conf.yaml"
    return [
        str(conf),
        f"exp_dir={exp_dir}",
        f"data.train_manifest={data / 'train.jsonl'}",
        f"data.dev_manifest={data / 'dev.jsonl'}",
        f"data.vocab={data / args.vocab}",
        f"data.num_workers={args.workers}",
        "train.log_every_steps=10",
        *args.set,
        *variant.overrides,
    ]


def allocator_environment(allocator: str, threads: int) -> dict[str, str]:
    """The trainer's environment: glibc's malloc, or jemalloc as ``dfcnn train`` preloads it, or
    jemalloc with its own default settings."""
    env = {key: value for key, value in os.environ.items() if key not in ("LD_PRELOAD", "MALLOC_CONF")}
    env["OMP_NUM_THREADS"] = str(threads)
    env["DFCNN_ALLOCATOR"] = "jemalloc" if allocator.startswith("jemalloc") else "system"
    if allocator.startswith("jemalloc"):
        env = jemalloc_environment(env)
        if allocator == "jemalloc-default":
            del env["MALLOC_CONF"]
    return env


def run_variant(variant: Variant, args) -> dict:
    """Train ``variant`` for ``args.steps`` steps, sampling memory; returns the raw record."""
    env = allocator_environment(variant.allocator, args.threads)
    with tempfile.TemporaryDirectory(prefix="dfcnn-training-memory-") as scratch:
        scratch = Path(scratch)
        events_path, log_path = scratch / "events.jsonl", scratch / "train.log"
        load_before = os.getloadavg()
        samples, started = [], time.monotonic()
        with open(log_path, "w") as log:
            process = launch(
                variant.repo,
                train_args(variant, args, scratch / "exp"),
                events_path,
                args.steps,
                env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                while process.poll() is None:
                    if time.monotonic() - started > args.timeout:
                        process.kill()
                        raise SystemExit(f"{variant.label}: no end after {args.timeout} s; log: {log_path.read_text()}")
                    samples.append(sample(process.pid))
                    time.sleep(args.interval)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        if process.returncode != 0:
            raise SystemExit(f"{variant.label}: training failed (exit {process.returncode}):\n{log_path.read_text()}")
        events = read_events(events_path)
        metrics_path = scratch / "exp" / "metrics.jsonl"
        metrics = [json.loads(line) for line in metrics_path.read_text().splitlines()] if metrics_path.exists() else []
        return {
            "samples": samples,
            "events": events,
            "metrics": metrics,
            "load_average": [load_before, os.getloadavg()],
            "wall_s": time.monotonic() - started,
        }


def summarize(raw: dict, steady_from: int) -> dict:
    """The figures of one run, from its samples, step events and metrics."""
    events, samples = raw["events"], raw["samples"]
    starts = {e["step"]: e for e in events if e["event"] == "step_start"}
    epoch_ends = [e["time"] for e in events if e["event"] == "epoch_end"]
    last_step = max(starts)
    window_start = starts[min(steady_from, last_step)]["time"]
    window_end = next(e["time"] for e in events if e["event"] == "step_end" and e["step"] == last_step)
    steady = [s for s in samples if window_start <= s["time"] <= window_end and s["trainer_rss"] > 0]
    if not steady:
        raise SystemExit("no memory samples in the steady window: lower --interval or raise --steps")

    def step_at(moment: float) -> int:
        return max((step for step, e in starts.items() if e["time"] <= moment), default=0)

    # speed over steady steps whose interval (this step's start to the next's) holds no epoch end
    audio = wall = cpu = 0.0
    for step in range(steady_from, last_step):
        this, following = starts[step], starts[step + 1]
        if any(this["time"] < end < following["time"] for end in epoch_ends):
            continue
        audio += this["audio_s"]
        wall += following["time"] - this["time"]
        cpu += following["cpu"] - this["cpu"]
    logged = [m["audio_sec_per_sec"] for m in raw["metrics"] if "audio_sec_per_sec" in m and m["step"] > steady_from]
    worker_rss = [max(s["worker_rss"]) for s in steady if s["worker_rss"]]
    first, last = steady[0], steady[-1]
    busy = (last["trainer_user_s"] + last["trainer_system_s"]) - (first["trainer_user_s"] + first["trainer_system_s"])
    steps_between = max(1, step_at(last["time"]) - step_at(first["time"]))
    milestones = {}
    for s in samples:
        if s["trainer_rss"] > 0:  # 0: the trainer had exited
            milestones[step_at(s["time"]) // 25 * 25] = s["trainer_rss"]  # the last reading in each 25 steps
    return {
        "trainer_rss_median_mib": statistics.median(s["trainer_rss"] for s in steady),
        "trainer_rss_max_mib": max(s["trainer_rss"] for s in steady),
        "trainer_peak_mib": max(s["trainer_hwm"] for s in samples),
        "worker_rss_median_mib": statistics.median(worker_rss) if worker_rss else 0.0,
        "tree_pss_median_mib": statistics.median(s["tree_pss"] for s in steady),
        "audio_s_per_s": audio / wall,
        "audio_s_per_cpu_s": audio / cpu,
        "metrics_audio_s_per_s_median": statistics.median(logged) if logged else None,
        "system_cpu_share": (last["trainer_system_s"] - first["trainer_system_s"]) / busy if busy else None,
        "minor_faults_per_step": (last["trainer_minor_faults"] - first["trainer_minor_faults"]) / steps_between,
        "distinct_shapes": len({tuple(e["padded_shape"]) for e in starts.values()}),
        "steps": last_step + 1,
        "trainer_rss_by_step": {str(k): round(v) for k, v in sorted(milestones.items())},
        "load_average": raw["load_average"],
        "wall_s": raw["wall_s"],
    }


# --- report --------------------------------------------------------------------------------------


def median_of(runs: list[dict], key: str):
    values = [run[key] for run in runs if run[key] is not None]
    return statistics.median(values) if values else None


def write_report(results: list[dict], args, command: str) -> str:
    first = results[0]
    rows = []
    for result in results:
        runs = result["runs"]
        speed = median_of(runs, "audio_s_per_s")
        speed_cpu = median_of(runs, "audio_s_per_cpu_s")
        rows.append(
            f"| {result['label']} | {median_of(runs, 'trainer_rss_median_mib'):,.0f} "
            f"| {median_of(runs, 'trainer_rss_max_mib'):,.0f} | {median_of(runs, 'trainer_peak_mib'):,.0f} "
            f"| {median_of(runs, 'worker_rss_median_mib'):,.0f} | {median_of(runs, 'tree_pss_median_mib'):,.0f} "
            f"| {speed:.1f} | {speed / median_of(first['runs'], 'audio_s_per_s'):.2f} "
            f"| {speed_cpu:.1f} | {speed_cpu / median_of(first['runs'], 'audio_s_per_cpu_s'):.2f} "
            f"| {median_of(runs, 'system_cpu_share'):.0%} | {median_of(runs, 'minor_faults_per_step'):,.0f} "
            f"| {median_of(runs, 'distinct_shapes'):.0f} |"
        )
    milestones = sorted({int(k) for r in results for run in r["runs"] for k in run["trainer_rss_by_step"]})
    trajectory = [
        f"| {r['label']} | "
        + " | ".join(str(r["runs"][0]["trainer_rss_by_step"].get(str(m), "")) for m in milestones)
        + " |"
        for r in results
    ]
    per_round = [
        f"| {r['label']} | "
        + " | ".join(
            f"{run['audio_s_per_s']:.1f} ({run['audio_s_per_s'] / base['audio_s_per_s']:.2f}); "
            f"{run['audio_s_per_cpu_s']:.1f} ({run['audio_s_per_cpu_s'] / base['audio_s_per_cpu_s']:.2f})"
            for run, base in zip(r["runs"], first["runs"])
        )
        + " |"
        for r in results
    ]
    loads = [load for r in results for run in r["runs"] for pair in run["load_average"] for load in pair[:1]]
    lines = [
        "# Training memory and speed (speechocean762 recipe, CPU)",
        "",
        f"Measured {datetime.date.today()} on {platform.node()} ({os.cpu_count()} CPUs, shared with other jobs: "
        f"1-minute load average {min(loads):.1f}-{max(loads):.1f} during the runs) with",
        "",
        f"    {command}",
        "",
        *([args.note, ""] if args.note else []),
        *(["The variants of each round ran at the same time (`--parallel`).", ""] if args.parallel else []),
        f"{args.steps} training steps of `{args.conf or 'recipes/speechocean762/conf.yaml'}` per run "
        f"(60 s batches, ~160 an epoch; overrides: {' '.join(args.set) or 'none'}, vocabulary {args.vocab}), "
        f"`OMP_NUM_THREADS={args.threads}`, `data.num_workers={args.workers}`; steady window: steps "
        f"{args.steady_from}-{args.steps}; {args.rounds} round(s), medians over rounds. "
        "RSS of the trainer process (VmRSS); workers: the largest audio worker; PSS: the whole process tree, "
        "shared pages counted once. Speed: unpadded audio seconds per wall second and per trainer CPU second "
        "(the second is less disturbed by the machine's other jobs); ratios against the first row. System CPU: "
        "the kernel's share of the trainer's CPU time; page faults: the trainer's minor faults per step (memory "
        "handed back to the kernel and touched again). Batch shapes: distinct padded shapes in the run.",
        "",
        "| variant | trainer RSS MiB (median) | max | peak (VmHWM) | worker RSS MiB | tree PSS MiB "
        "| audio-s/s | ratio | audio-s per CPU-s | ratio | system CPU | page faults/step | batch shapes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Speed in each round: audio-s/s (ratio to the first row's run of that round); audio-s per CPU-s (ratio):",
        "",
        "| variant | " + " | ".join(f"round {n + 1}" for n in range(args.rounds)) + " |",
        "|---|" + "---:|" * args.rounds,
        *per_round,
        "",
        "Trainer RSS (MiB) by step, first round (the last reading in each 25 steps):",
        "",
        "| variant | " + " | ".join(str(m) for m in milestones) + " |",
        "|---|" + "---:|" * len(milestones),
        *trajectory,
        "",
        "Checkouts: " + "; ".join(sorted({f"{r['repo']} at {r['commit']}" for r in results})) + ".",
        "",
    ]
    return "\n".join(lines)


def variants_from(args) -> list[Variant]:
    variants = []
    if args.before:
        variants.append(Variant(f"before ({git_describe(args.before).split()[0]}), glibc", args.before.resolve()))
    for setting in args.settings:
        allocator, _, buckets = setting.partition(":")
        if allocator not in ALLOCATORS or not buckets.isdigit():
            raise SystemExit(f"--settings: {setting!r} is not ALLOCATOR:BUCKETS (allocators: {', '.join(ALLOCATORS)})")
        if allocator.startswith("jemalloc") and not find_jemalloc():
            raise SystemExit("jemalloc: libjemalloc.so.2 not found (Debian: apt-get install libjemalloc2)")
        variants.append(
            Variant(
                f"length_buckets={buckets}, {allocator}",
                args.repo.resolve(),
                allocator,
                [f"data.length_buckets={buckets}"],
            )
        )
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout measured with each of --settings")
    parser.add_argument("--before", type=Path, default=None, help="a checkout measured as it is, first")
    parser.add_argument(
        "--settings",
        nargs="*",
        default=[f"{a}:{b}" for a in ALLOCATORS[:2] for b in (0, 8, 24)],
        help=f"ALLOCATOR:LENGTH_BUCKETS runs of --repo; allocators: {', '.join(ALLOCATORS)}",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=REPO / "recipes" / "speechocean762" / "data",
        help="prepared speechocean762 data (run.sh stage 0)",
    )
    parser.add_argument(
        "--conf",
        type=Path,
        default=None,
        help="one training config for every checkout (default: each checkout's recipe conf.yaml)",
    )
    parser.add_argument("--vocab", default="vocab.txt", help="vocabulary file in --data")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="dfcnn train overrides for every run")
    parser.add_argument(
        "--parallel", action="store_true", help="run the variants of a round at the same time (a loaded machine)"
    )
    parser.add_argument("--note", default="", help="a paragraph for the report (how the machine was loaded)")
    parser.add_argument("--steps", type=int, default=250, help="training steps per run")
    parser.add_argument("--steady-from", type=int, default=100, help="first step of the steady window")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each variant (medians over them)")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of the trainer")
    parser.add_argument("--workers", type=int, default=2, help="data.num_workers")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between memory readings")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one run may take")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "training_memory", help="writes OUT.md, OUT.json")
    args = parser.parse_args()
    if not (args.data / "train.jsonl").is_file():
        raise SystemExit(
            f"{args.data}/train.jsonl not found: prepare it with recipes/speechocean762/run.sh "
            "--stop-stage 0, or point --data at a prepared folder"
        )
    if not 0 <= args.steady_from < args.steps:
        raise SystemExit(f"--steady-from must lie in [0, --steps), got {args.steady_from}")
    variants = variants_from(args)
    results = [{**asdict(v), "repo": str(v.repo), "commit": git_describe(v.repo), "runs": []} for v in variants]
    for round_number in range(args.rounds):
        if args.parallel:  # the variants of a round side by side, under the same load
            with ThreadPoolExecutor(len(variants)) as pool:
                raw_runs = list(pool.map(lambda variant: run_variant(variant, args), variants))
        else:
            raw_runs = None
        for index, (variant, result) in enumerate(zip(variants, results)):
            raw = raw_runs[index] if raw_runs else run_variant(variant, args)
            run = summarize(raw, args.steady_from)
            result["runs"].append(run)
            print(
                f"[round {round_number + 1}] {variant.label}: trainer RSS {run['trainer_rss_median_mib']:,.0f} MiB "
                f"(max {run['trainer_rss_max_mib']:,.0f}), workers {run['worker_rss_median_mib']:,.0f} MiB, "
                f"{run['audio_s_per_s']:.1f} audio-s/s, {run['audio_s_per_cpu_s']:.1f} audio-s per CPU-s, "
                f"load {run['load_average'][0][0]:.1f}",
                flush=True,
            )
        write_results(results, args, round_number + 1)


def write_results(results: list[dict], args, rounds_done: int) -> None:
    """Write OUT.md and OUT.json from the rounds done so far."""
    done = [{**result, "runs": result["runs"][:rounds_done]} for result in results]
    args_done = argparse.Namespace(**{**vars(args), "rounds": rounds_done})
    command = "python bench/training_memory.py " + shlex.join(sys.argv[1:])
    report = write_report(done, args_done, command)
    print(report)
    from dfcnn.fileio import atomic_write_text

    atomic_write_text(args.out.with_suffix(".md"), report)
    atomic_write_text(
        args.out.with_suffix(".json"),
        json.dumps(
            {
                "command": command,
                "date": str(datetime.date.today()),
                "steps": args.steps,
                "threads": args.threads,
                "workers": args.workers,
                "steady_from": args.steady_from,
                "rounds_done": rounds_done,
                "jemalloc": find_jemalloc(),
                "jemalloc_conf": JEMALLOC_CONF,
                "variants": done,
            },
            indent=1,
        )
        + "\n",
    )


if __name__ == "__main__":
    main()
