"""Audio-decoding worker processes that live as long as their trainer, and not a moment longer.

    loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, **worker_options(2))

Workers start from a forkserver (not forked from the trainer: a forked worker's allocations copy
the trainer's freed heap pages and grow to its size) and stay alive across epochs. Each worker:

- ignores SIGINT and SIGTERM: a Ctrl-C reaches the whole process group, but only the trainer
  decides when to stop (at a step boundary, after saving); the workers are shut down by it;
- dies with its trainer whatever kills it, kill -9 included: the kernel signals it when its parent
  (the forkserver) dies (PR_SET_PDEATHSIG, set at the instant of the fork, before the worker has
  imported anything), and a watchdog thread waits on the trainer's pidfd.

The forkserver gives its workers these properties through ``dfcnn.training._forkserver_guard``, which it
imports at start; it too dies with the trainer, and with it the resource tracker's last writer.
A forkserver child re-runs the main script, so a script that trains must guard its entry point
(``if __name__ == "__main__":``), as on macOS and Windows; the dfcnn command does. ``fork`` needs no
guard (``data.worker_start: fork``) but shares the trainer's heap.

The DataLoader's queues and events are POSIX semaphores, which a worker not forked from the trainer
opens by name: the names live in /dev/shm until the trainer unlinks them at exit, and a trainer
killed with -9 leaves them to the resource tracker, which removes them with a "leaked semaphore
objects" warning. Each worker says when it has started (its semaphores are open then), and once all
have, the trainer unlinks the names: the semaphores live on, but nothing is left to leak.
"""

from __future__ import annotations

import ctypes
import functools
import multiprocessing
import multiprocessing.context
import multiprocessing.util
import os
import select
import signal
import sys
import threading
import weakref

from ..errors import ConfigError

PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h): signal this process when its parent dies
GUARD_MODULE = "dfcnn.training._forkserver_guard"


def die_with_parent(expected_parent: int | None = None) -> None:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux; a no-op elsewhere).

    With ``expected_parent``, exit at once if that parent has already gone (it died before the
    request took effect, and the kernel would never send the signal).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)


def _watch(pid: int) -> None:
    """Exit this process as soon as process ``pid`` has exited."""
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):  # no pidfd (old kernel, not Linux): poll instead
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            threading.Event().wait(1.0)
    select.select([handle], [], [])  # readable once the process has exited
    os._exit(1)


def init_worker(trainer_pid: int, started=None, worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: stop on the trainer's word only, and die with it; then say on
    ``started`` (a pipe to the trainer, when its semaphores are named) that this worker is up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent()
    if os.getppid() != trainer_pid:  # started by a forkserver: also watch the trainer itself
        threading.Thread(target=_watch, args=(trainer_pid,), daemon=True, name="trainer-watchdog").start()
    if started is not None:
        try:
            started.send_bytes(b"")
            started.close()
        except OSError:  # a worker of a later epoch (not persistent): the trainer no longer listens
            pass


_started_workers: weakref.WeakSet = weakref.WeakSet()


class _KilledOnTerminate:
    """A worker ignores SIGTERM, so ``terminate()`` kills it, and so does this process's exit.
    multiprocessing terminates (SIGTERM) and then joins its daemonic children at interpreter exit,
    and the DataLoader terminates a worker that does not stop when asked: with SIGTERM ignored, a
    process that exits with a loader's iterator still alive (an exception in a training loop, a
    failed test) would wait on that worker forever."""

    def start(self) -> None:
        super().start()
        _started_workers.add(self)

    def terminate(self) -> None:
        self.kill()


def _kill_workers_left() -> None:
    """At exit, before multiprocessing's SIGTERM and join: SIGKILL the workers still running."""
    for worker in list(_started_workers):
        try:
            if worker.is_alive():
                worker.kill()
        except (AssertionError, ValueError, OSError):  # not this process's child, or closed
            pass


# exitpriority >= 0: runs in multiprocessing's exit function before it terminates and joins children
multiprocessing.util.Finalize(None, _kill_workers_left, exitpriority=10)


class ForkServerWorker(_KilledOnTerminate, multiprocessing.context.ForkServerProcess):
    pass


class SpawnWorker(_KilledOnTerminate, multiprocessing.context.SpawnProcess):
    pass


class ForkWorker(_KilledOnTerminate, multiprocessing.context.ForkProcess):
    pass


WORKER_PROCESSES = {"forkserver": ForkServerWorker, "spawn": SpawnWorker, "fork": ForkWorker}


def _worker_context(method: str):
    """The multiprocessing context of ``method``, whose processes are killed on ``terminate()``."""
    base = type(multiprocessing.get_context(method))

    class WorkerContext(base):
        Process = WORKER_PROCESSES[method]

    return WorkerContext()


def _recording_context(method: str):
    """The worker context of ``method``, remembering each semaphore it makes."""
    base = type(_worker_context(method))

    class RecordingContext(base):
        def __init__(self):
            super().__init__()
            self.semaphores: list = []

        def _record(self, semaphore):
            self.semaphores.append(semaphore)
            return semaphore

        def Lock(self):  # noqa: N802 (multiprocessing's names)
            return self._record(super().Lock())

        def RLock(self):  # noqa: N802
            return self._record(super().RLock())

        def Semaphore(self, value=1):  # noqa: N802
            return self._record(super().Semaphore(value))

        def BoundedSemaphore(self, value=1):  # noqa: N802
            return self._record(super().BoundedSemaphore(value))

    return RecordingContext()


def _unlink_when_started(context, started, workers: int) -> None:
    """Wait until ``workers`` workers have said they started, then unlink the names of the semaphores
    ``context`` has made (all opened by then) through their own finalizers, as an exit would."""
    try:
        for _ in range(workers):
            started.recv_bytes()
    except (EOFError, OSError):
        return
    finally:
        started.close()
    made = {id(semaphore) for semaphore in context.semaphores}
    for finalizer in list(getattr(multiprocessing.util, "_finalizer_registry", {}).values()):
        target = getattr(finalizer, "_weakref", None)
        if target is not None and id(target()) in made:
            finalizer()  # SemLock._cleanup: sem_unlink, and the resource tracker forgets the name


def worker_options(num_workers: int, start: str = "forkserver", persistent: bool = True) -> dict:
    """DataLoader options for ``num_workers`` audio-decoding processes started by ``start``
    (forkserver, or spawn where there is none; or fork), kept alive across epochs when ``persistent``."""
    if start not in ("forkserver", "fork"):
        raise ConfigError(f"data.worker_start must be forkserver or fork, got {start!r}")
    if num_workers <= 0:
        return {"num_workers": 0}
    methods = multiprocessing.get_all_start_methods()
    method = start if start in methods else "spawn"
    if method == "fork":  # forked workers inherit unnamed semaphores
        context, started = _worker_context(method), None
    else:
        context = _recording_context(method)
        listener, started = context.Pipe(duplex=False)
        threading.Thread(
            target=_unlink_when_started, args=(context, listener, num_workers), daemon=True, name="semaphore-names"
        ).start()
    if method == "forkserver":
        preload = ["__main__", GUARD_MODULE]  # __main__ is the default preload; keep it
        context.set_forkserver_preload(preload)
    return {
        "num_workers": num_workers,
        "multiprocessing_context": context,
        "persistent_workers": persistent,
        "worker_init_fn": functools.partial(init_worker, os.getpid(), started),
    }
