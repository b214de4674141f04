"""How long an idle ``dfcnn serve`` takes to stop on Ctrl-C (SIGINT) and SIGTERM, and what it says:
seconds from the signal to its last line and to its exit, and its exit code. The figures of the
README's "Stops and bad input".

    .venv/bin/python bench/serve_stop.py --model exp/ --repeats 3

Each repeat starts a server on a free port, waits until it listens (and 1 s more), sends the signal
and reads its output until it exits.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def stop_once(model: Path, stop: signal.Signals) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "dfcnn", "serve", "--model", str(model), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    while "listening on" not in (line := server.stdout.readline()):
        if not line:
            raise RuntimeError(f"dfcnn serve ended before listening ({server.wait()})")
    time.sleep(1.0)
    start = time.monotonic()
    server.send_signal(stop)
    lines, last_line = [], None
    for line in server.stdout:
        lines.append(line.rstrip("\n"))
        last_line = time.monotonic() - start
    server.wait()
    return {
        "signal": stop.name,
        "lines": lines,
        "line_s": last_line,
        "exit_s": time.monotonic() - start,
        "exit_code": server.returncode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="checkpoint or folder with best.pt")
    parser.add_argument("--repeats", type=int, default=3, help="stops per signal (default: %(default)s)")
    args = parser.parse_args()
    runs = [stop_once(args.model, stop) for stop in (signal.SIGINT, signal.SIGTERM) for _ in range(args.repeats)]
    for run in runs:
        line = f"{run['line_s']:.2f} s" if run["line_s"] is not None else "none"
        print(f"{run['signal']}: line {line}, exit {run['exit_s']:.2f} s, code {run['exit_code']}: {run['lines']}")
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
