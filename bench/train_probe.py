#!/usr/bin/env python3
"""Run ``dfcnn train`` of whichever checkout is on PYTHONPATH, with timestamps, for the benchmarks.

    PYTHONPATH=/path/to/checkout python bench/train_probe.py --events events.jsonl --max-steps 200 \\
        -- recipes/speechocean762/conf.yaml exp_dir=/tmp/exp data.num_workers=2

Runs ``dfcnn.cli.main(["train", ...])`` in this process (so this process is the trainer), after
wrapping three methods that every dfcnn version since 5de4d94 has, at class level:

- ``DurationBatchSampler.set_epoch``: the epoch's start (the trainer asks for its batches);
- ``Trainer.train_step``: each step's start and end (a step starts once its batch has arrived);
- ``Trainer._end_epoch``: the end of the epoch's training steps (dev scoring and saving follow).

Each event is one JSON line ``{"event": ..., "time": <time.monotonic()>, "cpu": <time.process_time()>,
...}`` appended to
``--events`` and flushed, so a parent process can follow the run while it goes. ``--max-steps``
stops the run after that many steps (``Trainer.run(max_steps=...)``), saving last.pt as usual.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def probe(events_path: str, max_steps: int | None) -> None:
    """Wrap the trainer's methods so that they append events to ``events_path``."""
    from dfcnn.data import DurationBatchSampler

    try:
        from dfcnn.training import train
    except ImportError:  # a checkout from before dfcnn/training/ (the trainer was dfcnn/train.py)
        from dfcnn import train

    events = open(events_path, "a", buffering=1)  # line-buffered: one event, one write

    def emit(event: str, **fields) -> None:  # cpu: this process's CPU seconds, all threads
        record = {"event": event, "time": time.monotonic(), "cpu": time.process_time(), **fields}
        events.write(json.dumps(record) + "\n")

    def wrap(cls, name, before=None, after=None):
        original = getattr(cls, name)

        @functools.wraps(original)
        def wrapper(self, *args, **kwargs):
            if before:
                before(self, *args)
            result = original(self, *args, **kwargs)
            if after:
                after(self, result)
            return result

        setattr(cls, name, wrapper)

    wrap(DurationBatchSampler, "set_epoch", before=lambda self, epoch, *rest: emit("epoch_start", epoch=epoch))
    wrap(
        train.Trainer,
        "train_step",
        before=lambda self, batch: emit(
            "step_start",
            step=self.step,
            audio_s=float(batch.wave_lengths.sum()) / 16000,
            padded_shape=list(batch.waves.shape),
        ),
        after=lambda self, loss: emit("step_end", step=self.step),
    )
    wrap(train.Trainer, "_end_epoch", before=lambda self: emit("epoch_end", epoch=self.epoch))
    if max_steps is not None:
        run = train.Trainer.run
        train.Trainer.run = lambda self, max_steps_=None: run(self, max_steps=max_steps)
    emit("process_start")


def launch(
    repo: Path, train_args: list[str], events: Path, max_steps: int | None = None, env: dict | None = None, **popen
) -> subprocess.Popen:
    """Start this probe on checkout ``repo`` (its dfcnn, working directory ``repo``), training with
    ``train_args``; the process is SIGKILLed if the caller dies (so no trainer outlives it)."""
    from dfcnn.training.workers import die_with_parent  # the caller's dfcnn: it is the same in every checkout

    command = [sys.executable, __file__, "--events", str(events)]
    command += ["--max-steps", str(max_steps)] if max_steps is not None else []
    env = {**(os.environ if env is None else env), "PYTHONPATH": str(repo)}
    return subprocess.Popen([*command, "--", *train_args], env=env, cwd=repo, preexec_fn=die_with_parent, **popen)


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", required=True, help="JSONL file the events are appended to")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (default: all epochs)")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, help="-- CONFIG [key=value ...] as for dfcnn train")
    args = parser.parse_args()
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    probe(args.events, args.max_steps)
    from dfcnn.cli import main as dfcnn_main

    return dfcnn_main(["train", "--quiet", *train_args])


if __name__ == "__main__":  # the forkserver that starts audio workers imports this file too
    sys.exit(main())
