"""This process's place in a torchrun launch, and what the ranks share: the stop decision, the dev
score and every rank's random state (gathered into last.pt); and ``launch``, which starts the ranks of
``dfcnn train --nproc``.

    dist = Distributed.from_env()          # rank 0 of 1 without torchrun
    dist.start("cpu")                      # gloo on CPU, nccl on CUDA
    stop = dist.broadcast(stop)            # rank 0 decides, every rank acts
    states = dist.gather(generators.state())  # one per rank, for last.pt
    code = launch(2, [sys.executable, "-m", "dfcnn", "train", "conf.yaml"])   # as torchrun --standalone

A stop reads as it does in one process: each rank that stops on a signal says so in a line (the
launcher passes Ctrl-C and SIGTERM on to every rank, once), a rank whose peer died says that in a
line (``lost_peer``), and ``launch`` replaces torch's launcher tracebacks by an exit code that says
what happened: 130 or 143 for a stop on SIGINT or SIGTERM, 128 + N for a rank killed by signal N.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class Distributed:
    """Rank, world size and local rank (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Distributed:
        env = os.environ
        return cls(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def start(self, device_type: str) -> None:
        if self.enabled and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if device_type == "cuda" else "gloo")

    def stop(self) -> None:
        """Leave the process group once every rank is done (only after a run that ended normally on
        every rank: with a peer gone, destroying the group could wait for it). A DDP module still holds
        the group and its Gloo threads after this: the rank's process ends by ``end_rank``."""
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.barrier()  # no rank tears down while a peer still talks to it
            torch.distributed.destroy_process_group()

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (any picklable object)."""
        if not self.enabled:
            return value
        holder = [value]
        torch.distributed.broadcast_object_list(holder, src=0)
        return holder[0]

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank."""
        if not self.enabled:
            return [value]
        values: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(values, value)
        return values


def end_rank(code: int) -> int:
    """``code`` back to the caller (for ``SystemExit``) in a single process; in a DDP rank
    (``WORLD_SIZE`` > 1), the process ends here with ``code``, without interpreter teardown.

    There Gloo's worker threads can still be releasing the last collective's tensors: the DDP module
    keeps the process group alive past ``destroy_process_group``, and a worker that needs the GIL
    while the interpreter finalizes aborts the rank with no Python frame ("terminate called without
    an active exception", exit -6; pytorch#190489). Call it once everything is saved and closed: a
    normal end, a stop on a signal and a lost peer alike (DataLoader workers end with their iterators)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# what a collective raises when a peer's process is gone (gloo; NCCL's watchdog says "remote process exited")
PEER_GONE = (
    "Connection closed by peer",
    "Connection reset by peer",
    "Broken pipe",
    "remote process exited",
    "Connection refused",
)


def lost_peer(error: BaseException) -> bool:
    """Whether ``error``, raised by a collective, means another rank's process has died."""
    return isinstance(error, RuntimeError) and any(words in str(error) for words in PEER_GONE)


def launch(nproc: int, command: list[str]) -> int:
    """Run ``command`` (a rank's whole command line) as ``nproc`` ranks on this machine, as
    ``torchrun --standalone --nproc-per-node NPROC --no-python COMMAND`` does, and return an exit code
    that says what happened (the ranks print their own lines): 0; 130 or 143 when the ranks stopped on
    Ctrl-C or SIGTERM (sent to this launcher, which passes it on to every rank once); 128 + N when a
    rank was killed by signal N (one line says which); else a failed rank's code."""
    from torch.distributed.elastic.multiprocessing import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    for name in list(logging.root.manager.loggerDict):  # the launcher's notes on each failure: the ranks say it
        if name.startswith(("torch.distributed.elastic", "torch.distributed.run")):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        run(parse_args(["--standalone", f"--nproc-per-node={nproc}", "--no-python", *command]))
    except SignalException as stop:
        return 128 + int(stop.sigval)
    except ChildFailedError as failed:
        codes = {rank: failure.exitcode for rank, failure in sorted(failed.failures.items())}
        killed = {rank: -code for rank, code in codes.items() if code < 0}
        if killed:  # the cause: a rank killed by other than the SIGTERM the launcher then sends the others
            rank, number = min(killed.items(), key=lambda item: (item[1] in (signal.SIGTERM, signal.SIGINT), item[0]))
            print(
                f"dfcnn: rank {rank} was killed by {signal.Signals(number).name}; the other ranks stopped (last.pt "
                "holds the last save: continue with --resume)",
                file=sys.stderr,
                flush=True,
            )
            return 128 + number
        return next((code for code in codes.values() if code in (130, 143)), next(iter(codes.values())))
    return 0
