"""An exp_dir belongs to one training run: a lock file keeps a second trainer out, and a fresh run
never lands on another run's checkpoints and metrics.

    lock = ExpDirLock(exp_dir)
    note = lock.acquire()          # ConfigError naming the trainer that holds it; a note for a dead one's
    notes = prepare(exp_dir, resume, force)   # ConfigError when the folder holds another run
    ...
    lock.release()

The lock is ``exp_dir/train.lock``, holding "PID HOST" of the trainer that has it, and an advisory
``flock`` on it, which the kernel drops when that process ends however it ends (kill -9 included):
a lock file that names a process but is not locked was left by a trainer that died, and is taken
over with a note. A lock named by another host is not taken over (its process cannot be checked
from here): the message says to delete the file if that run is over. Within one process the lock is
counted, so several ``Trainer`` objects of one process (tests, notebooks) share it.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
from pathlib import Path

from ..errors import ConfigError
from ..fileio import write_error

LOCK_FILE = "train.lock"
EPOCH_CHECKPOINT = re.compile(r"epoch-(\d+)\.pt")
RUN_FILES = ("last.pt", "best.pt")  # with epoch-N.pt and a non-empty metrics.jsonl: a run was here
ALSO_WRITTEN = ("config.yaml", "tensorboard")  # written by every start: removed by --force, not a run by themselves

_held: dict[str, list] = {}  # resolved lock path -> [file descriptor, Trainers of this process holding it]


class ExpDirLock:
    """The lock of one exp_dir (``acquire`` / ``release``)."""

    def __init__(self, exp_dir: str | Path):
        self.path = Path(exp_dir) / LOCK_FILE
        self.key = str(self.path.resolve())
        self.held = False

    def acquire(self) -> str | None:
        """Take the lock; returns a note when it was taken over from a trainer that died.

        Raises:
            ConfigError naming the pid and host of the trainer that holds it.
        """
        if self.key in _held:  # another Trainer of this process has it
            _held[self.key][1] += 1
            self.held = True
            return None
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise write_error(self.path, error) from None
        try:
            previous = os.read(descriptor, 200).decode("utf-8", "replace").split()
            holder = f"pid {previous[0]} on host {previous[1]}" if len(previous) == 2 else "another trainer"
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(
                    f"{self.path.parent}: another trainer is using this exp_dir ({holder}, "
                    f"{self.path}); wait for it or stop it, or set another exp_dir"
                ) from None
            here = socket.gethostname()
            if len(previous) == 2 and previous[1] != here:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
                raise ConfigError(
                    f"{self.path.parent}: {self.path} names a trainer on another machine ({holder}), "
                    "which cannot be checked from here; if that run is over, delete the file"
                )
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()} {here}\n".encode(), 0)
        except BaseException:
            os.close(descriptor)
            raise
        _held[self.key] = [descriptor, 1]
        self.held = True
        if len(previous) == 2 and previous[0] != str(os.getpid()):
            return f"took over {self.path} from {holder}, which is no longer running"
        return None

    def release(self) -> None:
        """Give the lock up (the file stays, empty: deleting it would race with a trainer opening it)."""
        if not self.held:
            return
        self.held = False
        entry = _held.get(self.key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del _held[self.key]
            try:
                os.ftruncate(entry[0], 0)
            except OSError:
                pass  # a full or read-only disk: the unlocked file is recognised as left by a dead trainer
            os.close(entry[0])  # closing drops the flock


def run_files(exp_dir: str | Path) -> list[str]:
    """The names in ``exp_dir`` that show a training run was there: last.pt, best.pt, epoch-N.pt,
    a non-empty metrics.jsonl."""
    exp_dir = Path(exp_dir)
    names = [name for name in RUN_FILES if (exp_dir / name).is_file()]
    epochs = [p.name for p in exp_dir.glob("epoch-*.pt") if EPOCH_CHECKPOINT.fullmatch(p.name)]
    names += sorted(epochs, key=lambda name: int(EPOCH_CHECKPOINT.fullmatch(name).group(1)))
    metrics = exp_dir / "metrics.jsonl"
    if metrics.is_file() and metrics.stat().st_size > 0:
        names.append(metrics.name)
    return names


def _listing(names: list[str]) -> str:
    return ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def prepare(exp_dir: str | Path, resume: bool, force: bool) -> list[str]:
    """Check that a run may start (or resume) in ``exp_dir``, which this process has locked; with
    ``force``, first remove what an earlier run wrote there. Returns notes for the user.

    Raises:
        ConfigError when a fresh run would overwrite or mix with an earlier run's files, or a resume
        has no last.pt but another run's checkpoints are there.
    """
    exp_dir = Path(exp_dir)
    if force and resume:
        raise ConfigError("--force starts over and --resume continues: pass one of them")
    found = run_files(exp_dir)
    if force:
        removed = found + [name for name in ALSO_WRITTEN if (exp_dir / name).exists()]
        for name in removed:
            path = exp_dir / name
            try:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
            except OSError as error:
                raise ConfigError(f"--force: cannot remove {path} ({error.strerror or error})") from None
        return [f"--force: removed {_listing(removed)} of the earlier run in {exp_dir}"] if removed else []
    if "last.pt" in found:
        if resume:
            return []
        raise ConfigError(
            f"{exp_dir / 'last.pt'} exists: pass --resume to continue that run, --force to start over "
            "(removes its files), or set another exp_dir"
        )
    checkpoints = [name for name in found if name.endswith(".pt")]
    if resume and checkpoints:
        raise ConfigError(
            f"{exp_dir}: no last.pt to resume from, but {_listing(checkpoints)} of an earlier run are "
            "there: --force starts over (removes them), or set another exp_dir"
        )
    if resume:  # at most the metrics of a run killed before its first save: nothing to continue
        return [f"no {exp_dir / 'last.pt'} to resume from: starting a fresh run"]
    if found:
        raise ConfigError(
            f"{exp_dir} holds an earlier run ({_listing(found)}): --resume continues it, --force "
            "starts over (removes its files), or set another exp_dir"
        )
    return []
