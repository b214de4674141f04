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


LEFT_OPEN = """
import os, sys, torch
from dfcnn.training.workers import worker_options

if __name__ == "__main__":
    loader = torch.utils.data.DataLoader(list(range(40)), batch_size=2, **worker_options(int(sys.argv[1])))
    batches = iter(loader)
    next(batches)
    print(os.getpid(), flush=True)
    if sys.argv[2] == "raise":
        raise SystemExit("an error in the training loop")  # the iterator, with its workers, is still alive
"""


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("end", ["return", "raise"])
def test_a_process_exits_with_a_loader_still_iterating(tmp_path, workers, end):
    """Workers ignore SIGTERM (the trainer alone decides when to stop), and multiprocessing ends its
    children at exit with SIGTERM and then waits for them: a script that exits mid-epoch (an exception,
    a failed test in pytest) must not wait forever."""
    (tmp_path / "left_open.py").write_text(LEFT_OPEN)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(tmp_path / "left_open.py"), str(workers), end]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == (0 if end == "return" else 1), result.stderr
    parent = result.stdout.split()[0]
    deadline = time.monotonic() + 10  # and no worker outlives it
    while time.monotonic() < deadline and parent_of_any(parent):
        time.sleep(0.1)
    assert not parent_of_any(parent)


def parent_of_any(pid: str) -> bool:
    """Whether a process still names ``pid``'s forkserver or ``pid`` itself as its parent (Linux /proc)."""
    children = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        children.add((fields.get("PPid", "").strip(), status.parent.name))
    forkservers = {child for parent, child in children if parent == pid}
    return bool(forkservers) or any(parent in forkservers for parent, _ in children)
