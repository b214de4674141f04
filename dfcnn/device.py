"""Which torch device work runs on: the names a user may give, and the device each means on this machine.

    resolve_device("auto")      # CUDA when torch sees it, else the CPU

torch is imported only to resolve a name: the command line checks names (``DEVICE_PATTERN``) without it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .errors import DfcnnError

if TYPE_CHECKING:
    import torch

DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?|mps")  # the names a config or an option may give
DEVICE_HELP = "auto (CUDA when present), cpu, cuda or cuda:N"


def resolve_device(name: str = "auto") -> torch.device:
    """ "auto" -> CUDA when present, else CPU; "cpu", "cuda", "cuda:1" as given."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DfcnnError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DfcnnError(f"device {name!r} was asked for, but torch sees no CUDA device")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DfcnnError(f"device {name!r} was asked for, but torch sees {torch.cuda.device_count()} CUDA devices")
    return device
