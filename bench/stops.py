"""Stops at random moments, each resumed and compared bitwise with a run never stopped; and kill -9
of a trainer with audio workers, counting the processes it leaves behind. The figures of the README's
"What was tried and what happens".

    .venv/bin/python bench/stops.py --stops 20 --kills 10            # seed 0
    .venv/bin/python bench/stops.py --stops 40 --kills 0 --seed 1 --out bench/results/stops.json

A stop is drawn (seeded) from: SIGKILL, SIGINT or SIGTERM, at a random optimizer step, halfway
through a random checkpoint write, at a random dev scoring or before a random best.pt copy (the
moments of tests/stoppable.py) of a 3-epoch, 12-step tiny run. A kill is a ``dfcnn train`` with 2
forkserver workers in a session of its own, killed with SIGKILL 0-3 s after its third logged step;
what is left of the session 5 s later is an orphan, and a "leaked semaphore" line on its stderr (the
resource tracker's, after the kill) a leak warning.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
from helpers import tiny_yaml  # noqa: E402
from test_stops import ENV, STOP_RUN, assert_same_run, run_plan, session_processes  # noqa: E402

# how often each moment occurs in a STOP_RUN run (12 steps, 10 checkpoint writes, 3 dev scorings, 3 bests)
MOMENTS = {"step": 12, "save": 10, "dev": 3, "best": 3}
SIGNALS = ["SIGKILL", "SIGINT", "SIGTERM"]


def draw_stops(count: int, rng: random.Random) -> list[str]:
    stops = []
    for _ in range(count):
        moment = rng.choice(list(MOMENTS))
        stops.append(f"{moment}:{rng.randint(1, MOMENTS[moment])}:{rng.choice(SIGNALS)}")
    return stops


def measure_stops(folder: Path, stops: list[str]) -> list[dict]:
    """Each stop and its resume; per stop: exit codes, and whether the resumed run equals the straight one."""
    runs = [{"folder": str(folder / "straight"), "overrides": STOP_RUN, "log": str(folder / "straight.log")}]
    for index, stop in enumerate(stops):
        place = folder / f"{index:03d}-{stop.replace(':', '-')}"
        log = str(place) + ".log"
        runs += [
            {"folder": str(place), "overrides": STOP_RUN, "stop": stop, "log": log},
            {"folder": str(place), "overrides": STOP_RUN, "resume": True, "log": log},
        ]
    results = run_plan(folder, runs, timeout=7200)
    found = []
    for index, stop in enumerate(stops):
        place = folder / f"{index:03d}-{stop.replace(':', '-')}"
        stopped, resumed = results[1 + 2 * index], results[2 + 2 * index]
        try:
            assert_same_run(folder / "straight" / "exp", place / "exp")
            equal = True
        except AssertionError:
            equal = False
        log = Path(str(place) + ".log").read_text()
        found.append(
            {
                "stop": stop,
                "stopped": stopped["code"],
                "resumed": resumed["code"],
                "bitwise_equal": equal,
                "traceback": "Traceback" in log,
            }
        )
    return found


def measure_kill(folder: Path, delay: float) -> tuple[list[str], bool]:
    """kill -9 of a training with 2 workers ``delay`` s after its third step; the processes left 5 s
    later, and whether its stderr warned of leaked semaphores."""
    tiny_yaml(folder, "data.num_workers=2", "train.epochs=1000")
    trainer = subprocess.Popen(
        [sys.executable, "-m", "dfcnn", "train", "--quiet", "conf.yaml"],
        cwd=folder,
        env=ENV,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "stderr.log").open("w"),
    )
    metrics = folder / "exp" / "metrics.jsonl"
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 3):
        if trainer.poll() is not None:
            raise RuntimeError(f"the trainer in {folder} ended by itself ({trainer.returncode})")
        time.sleep(0.1)
    time.sleep(delay)
    before = len(session_processes(trainer.pid))
    os.kill(trainer.pid, signal.SIGKILL)
    trainer.wait()
    time.sleep(5)
    left = session_processes(trainer.pid)
    for line in left:  # clean up after a failure: only this session's processes
        os.kill(int(line.split()[0]), signal.SIGKILL)
    warned = "leaked semaphore" in (folder / "stderr.log").read_text()
    print(f"kill -9 with {before} processes in the session: {len(left)} left, leak warning: {warned}", file=sys.stderr)
    return left, warned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stops", type=int, default=20, help="random stops, each resumed (default: %(default)s)")
    parser.add_argument(
        "--kills", type=int, default=10, help="kill -9 of a trainer with workers (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="draws the stops and kill delays (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="dfcnn-stops-") as tmp:
        stops = measure_stops(Path(tmp), draw_stops(args.stops, rng)) if args.stops else []
        kills = [measure_kill(Path(tmp) / f"kill-{i}", rng.uniform(0, 3)) for i in range(args.kills)]
    summary = {
        "stops": len(stops),
        "stopped_as_expected": sum(s["stopped"] in (-9, 130, 143) for s in stops),
        "resumed_bitwise_equal": sum(s["bitwise_equal"] and s["resumed"] == 0 for s in stops),
        "tracebacks": sum(s["traceback"] for s in stops),
        "by_signal": {name: sum(s["stop"].endswith(name) for s in stops) for name in SIGNALS},
        "kills": len(kills),
        "kills_leaving_processes": sum(bool(left) for left, _ in kills),
        "processes_left": [left for left, _ in kills if left],
        "kills_warning_of_leaked_semaphores": sum(warned for _, warned in kills),
    }
    print(json.dumps({"summary": summary, "stops": stops}, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"summary": summary, "stops": stops}, indent=1) + "\n")


if __name__ == "__main__":
    main()
