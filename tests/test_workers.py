"""Audio worker processes: started once, alive across epochs."""

import os

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
