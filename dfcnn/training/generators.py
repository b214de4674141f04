"""The random generators a training run owns: weight init, SpecAugment and dropout draw from them,
not from the caller's, and their state goes into last.pt so that a resumed run continues bitwise.

    generators = Generators(seed=0, device=device)
    with generators.active():        # torch's and Python's global generators hold the run's states
        model = DFCNN(config)        # draws from the run's stream
    # the caller's global generators are as they were before the block
"""

from __future__ import annotations

import random
from contextlib import contextmanager

import torch


def global_state(device: torch.device) -> dict:
    """This process's global generators: torch's CPU one, the device's CUDA one and Python's (training
    draws from no other)."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_global_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


class Generators:
    """A run's own generators, seeded from ``seed``, lent to the process only inside ``active()``.

    torch's modules (weight init, ``nn.Dropout``, torchaudio's masking) take no generator argument:
    they draw from the global ones. So while the run computes, the globals hold the run's states, and
    the caller's come back when it stops (returns, raises or is interrupted).
    """

    def __init__(self, seed: int, device: torch.device):
        self.device = device
        self._saved: dict | None = None  # the caller's states while active
        self._state = self._seeded(seed)

    def _seeded(self, seed: int) -> dict:
        state = {
            "torch": torch.Generator().manual_seed(seed).get_state(),
            "python": random.Random(seed).getstate(),
        }
        if self.device.type == "cuda":
            state["cuda"] = torch.Generator(self.device).manual_seed(seed).get_state()
        return state

    @contextmanager
    def active(self):
        """Run the block with the global generators holding this run's states (re-entrant)."""
        if self._saved is not None:
            yield
            return
        self._saved = global_state(self.device)
        set_global_state(self._state, self.device)
        try:
            yield
        finally:
            self._state = global_state(self.device)
            set_global_state(self._saved, self.device)
            self._saved = None

    def state(self) -> dict:
        """The run's generator states now (for last.pt)."""
        return global_state(self.device) if self._saved is not None else dict(self._state)

    def set_state(self, state: dict) -> None:
        """Continue from ``state`` (from last.pt; a state without CUDA keeps the seeded CUDA one)."""
        state = {**self._state, **state}
        if self._saved is not None:
            set_global_state(state, self.device)
        else:
            self._state = state
