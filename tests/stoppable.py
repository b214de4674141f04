"""Tiny training runs that stop themselves at a chosen moment: the stops of issue 13, made deterministic.

    python tests/stoppable.py run FOLDER [--stop MOMENT:N:SIGNAL] [--rank R] [--resume] [key=value ...]
    python tests/stoppable.py run FOLDER --nproc 2 --stop step:3:SIGKILL   # 2 ranks, as dfcnn train --nproc 2
    torchrun --standalone --nproc-per-node 2 tests/stoppable.py run FOLDER --stop step:3:SIGKILL
    python tests/stoppable.py plan PLAN.json     # many runs, each in a child forked from this process

FOLDER gets the noise corpus of ``helpers.tiny_config`` and ``FOLDER/exp``. With ``--stop`` the
process signals itself (rank R only, under torchrun) at the N-th occurrence of MOMENT:

    step    after the optimizer step of step N, before the step is counted
    save    halfway through writing the N-th checkpoint (last.pt, epoch-N.pt or best.pt)
    dev     at the start of the N-th dev scoring
    best    after last.pt and epoch-N.pt of a new best epoch are written, before best.pt is (N-th time)

SIGNAL is SIGKILL, SIGINT or SIGTERM; SIGINTx2 sends SIGINT twice (Ctrl-C pressed again); a fourth
field ``:parent`` sends it to the parent process (the launcher) instead. A run's exit code is the
CLI's: 0, 1, or 128 + signal (with ``--nproc``, the launcher's: ``dfcnn.training.distributed.launch``).

A plan is a JSON list of runs, ``{"folder", "overrides", "stop", "resume", "log"}``, done in order;
each is a child forked from this process (torch is imported once, not once a run: about 8 s on a
busy machine) with its output in ``log``. It prints a JSON list of their exit codes (-9: killed)
and the files each left in ``FOLDER/exp``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
from pathlib import Path

import torch
from helpers import tiny_config  # tests/helpers.py: a script's own folder is on the import path

from dfcnn.cli import report_error
from dfcnn.errors import DfcnnError
from dfcnn.fileio import atomic_write
from dfcnn.training import train as train_module
from dfcnn.training.distributed import end_rank, launch
from dfcnn.training.workers import die_with_parent


class StopInjector:
    """Counts occurrences of each moment and sends the signal at the chosen one."""

    def __init__(self, stop: str, rank: int):
        moment, occurrence, name, *target = stop.split(":")
        self.moment, self.occurrence, self.rank = moment, int(occurrence), rank
        self.signal = signal.Signals[name.removesuffix("x2")]
        self.repeat = 2 if name.endswith("x2") else 1
        self.target = target[0] if target else "self"
        self.seen: dict[str, int] = {}

    def at(self, moment: str) -> None:
        self.seen[moment] = self.seen.get(moment, 0) + 1
        mine = int(os.environ.get("RANK", 0)) == self.rank
        if mine and moment == self.moment and self.seen[moment] == self.occurrence:
            for _ in range(self.repeat):
                os.kill(os.getppid() if self.target == "parent" else os.getpid(), self.signal)


def install(injector: StopInjector) -> type[train_module.Trainer]:
    """A Trainer whose steps, checkpoint writes, dev scorings and best.pt copies call ``injector.at``."""

    def save_checkpoint(path, payload):
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        data = buffer.getvalue()

        def write(file):
            file.write(data[: len(data) // 2])
            file.flush()
            injector.at("save")
            file.write(data[len(data) // 2 :])

        atomic_write(path, write)

    real_copy = train_module.copy_checkpoint

    def copy_checkpoint(source, target):
        if Path(target).name == "best.pt":
            injector.at("best")
        real_copy(source, target)

    train_module.save_checkpoint = save_checkpoint
    train_module.copy_checkpoint = copy_checkpoint

    class StoppableTrainer(train_module.Trainer):
        def train_step(self, batch):
            loss = super().train_step(batch)
            injector.at("step")
            return loss

        def evaluate_dev(self):
            injector.at("dev")
            return super().evaluate_dev()

    return StoppableTrainer


def run(folder: Path, overrides: list[str], stop: str | None = None, rank: int = 0, resume: bool = False) -> int:
    """One training run (stopped at ``stop``, if given); returns its exit code."""
    torch.set_num_threads(1)  # every run compared bitwise computes with the same thread count
    trainer_class = train_module.Trainer
    if stop:
        trainer_class = install(StopInjector(stop, rank))
    try:
        trainer_class(tiny_config(folder, *overrides), resume=resume, progress=False).run()
    except DfcnnError as error:
        return report_error(error)
    except KeyboardInterrupt:  # as the CLI: a second Ctrl-C
        print("dfcnn: interrupted", file=sys.stderr)
        return 130
    return 0


def run_plan(plan: list[dict]) -> list[dict]:
    """Each run of ``plan`` in a forked child, in order; per run its exit code (-N: killed by signal
    N) and the names in its ``exp`` folder when it ended."""
    results, runner = [], os.getpid()
    for entry in plan:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                die_with_parent(expected_parent=runner)  # a runner killed on a timeout takes its run along
                log = os.open(entry["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(log, 1)
                os.dup2(log, 2)
                code = run(
                    Path(entry["folder"]), entry.get("overrides", []), entry.get("stop"), 0, entry.get("resume", False)
                )
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        exp = Path(entry["folder"]) / "exp"
        files = sorted(os.listdir(exp)) if exp.is_dir() else []
        results.append({"code": os.waitstatus_to_exitcode(status), "files": files})
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("run")
    one.add_argument("folder", type=Path)
    one.add_argument("overrides", nargs="*")
    one.add_argument("--stop", default=None, help="MOMENT:N:SIGNAL[:parent]")
    one.add_argument("--rank", type=int, default=0)
    one.add_argument("--resume", action="store_true")
    one.add_argument("--nproc", type=int, default=1, help="ranks, started as dfcnn train --nproc does")
    many = commands.add_parser("plan")
    many.add_argument("plan", type=Path)
    args = parser.parse_args()
    if args.command == "plan":
        print(json.dumps(run_plan(json.loads(args.plan.read_text()))))
        return 0
    if args.nproc > 1:
        options = [*(["--stop", args.stop] if args.stop else []), "--rank", str(args.rank)]
        options += ["--resume"] if args.resume else []
        return launch(args.nproc, [sys.executable, __file__, "run", str(args.folder), *args.overrides, *options])
    return run(args.folder, args.overrides, args.stop, args.rank, args.resume)


if __name__ == "__main__":
    raise SystemExit(end_rank(main()))  # a rank ends as dfcnn train's do
