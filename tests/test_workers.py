"""Audio worker processes: started once, alive across epochs."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dfcnn.training.workers import worker_options


def worker_pid(items):
    """collate_fn: which process built the batch."""
    return os.getpid()


def test_workers_live_across_epochs():
    loader = torch.utils.data.DataLoader(list(range(4)), batch_size=2, collate_fn=worker_pid, **worker_options(1))
    epochs = [set(loader) for _ in range(3)]
    assert epochs[0] == epochs[1] == epochs[2] and os.getpid() not in epochs[0]  # one worker, never restarted
    del loader


def test_semaphore_names_are_unlinked_once_the_workers_have_started():
    """The loader's queues are named POSIX semaphores (the workers open them by name); once every worker
    is up, the names go, so a trainer killed with -9 leaves none for the resource tracker to warn about."""
    options = worker_options(2)
    loader = torch.utils.data.DataLoader(list(range(8)), batch_size=2, collate_fn=worker_pid, **options)
    assert len(set(loader)) == 2
    names = [semaphore._semlock.name for semaphore in options["multiprocessing_context"].semaphores]
    assert len(names) >= 8  # 2 index queues, the result queue and the done event
    shm, deadline = Path("/dev/shm"), time.monotonic() + 10
    while any((shm / f"sem.{name.lstrip('/')}").exists() for name in names) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any((shm / f"sem.{name.lstrip('/')}").exists() for name in names)
    assert len(set(loader)) == 2  # the semaphores themselves work on
    del loader


SCRIPT = """
import os, signal, sys, torch
from dfcnn.training.workers import worker_options

def pid(items):
    return os.getpid()

def epochs():  # the loader is gone when this returns, as a Trainer's is (workers ignore exit's SIGTERM)
    loader = torch.utils.data.DataLoader(list(range(8)), batch_size=2, collate_fn=pid, **worker_options(2))
    for _ in range(3):
        assert len(set(loader)) == 2
    if sys.argv[1] == "kill":
        import time
        time.sleep(1)  # the names are unlinked by a thread: give it its moment, as a trainer's steps would
        os.kill(os.getpid(), signal.SIGKILL)

if __name__ == "__main__":
    epochs()
"""


@pytest.mark.parametrize("end", ["exit", "kill"])
def test_no_leaked_semaphore_warning_after_a_clean_exit_or_a_kill(tmp_path, end):
    (tmp_path / "loader.py").write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(tmp_path / "loader.py"), end], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == (0 if end == "exit" else -9), result.stderr
    assert result.stderr == ""  # no "resource_tracker: There appear to be 14 leaked semaphore objects"
