"""The memory allocator of a training process: jemalloc, when it is installed.

A CPU training step allocates and frees about a gigabyte of activations, in shapes that change from
batch to batch. glibc's malloc leaves the freed buffers in a fragmented heap that keeps growing
(the speechocean762 recipe's trainer passed 4 GB); jemalloc hands its freed pages back to the
kernel after a decay time and, with its default settings, touches them again at the next step: a
quarter of the trainer's CPU time went to those page faults. With ``JEMALLOC_CONF`` as its
``MALLOC_CONF`` (freed pages are kept for reuse, never returned; large buffers share the ordinary
arenas) it holds the least memory of the settings measured at glibc's speed
(``bench/training_memory.md``).

``dfcnn train`` run from the command line replaces itself (``os.execve``: same pid, same argv and
interpreter options, so torchrun keeps tracking its ranks) by the same command with jemalloc
preloaded when ``libjemalloc.so.2`` is found (Debian and Ubuntu: ``apt install libjemalloc2``,
which ``make setup`` does when it can; ``DFCNN_JEMALLOC`` names another path). Its audio workers
inherit it. ``DFCNN_ALLOCATOR=system`` keeps the C library's malloc; ``DFCNN_ALLOCATOR=jemalloc``
makes a missing jemalloc an error instead of a silent fallback. A ``MALLOC_CONF`` already set is
kept. Preloading by hand (``LD_PRELOAD=.../libjemalloc.so.2 dfcnn train ...``) works too: dfcnn
then leaves the environment as it is.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError

JEMALLOC_CONF = "oversize_threshold:0,dirty_decay_ms:-1"  # no huge-buffer arena; freed pages kept for reuse
ALLOCATOR_VARIABLE = "DFCNN_ALLOCATOR"  # unset: jemalloc when found | jemalloc: required | system: the C library's
ALLOCATORS = ("jemalloc", "system")
JEMALLOC_NAME = "libjemalloc.so.2"
LIBRARY_FOLDERS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
    "/opt/homebrew/lib",
)


def find_jemalloc(environ: Mapping[str, str] = os.environ) -> str | None:
    """Path of jemalloc's shared library: ``$DFCNN_JEMALLOC``, or the first ``libjemalloc.so.2`` in the
    usual library folders; None when there is none (or not on Linux, where LD_PRELOAD applies)."""
    if not sys.platform.startswith("linux"):
        return None
    if environ.get("DFCNN_JEMALLOC"):
        if not Path(environ["DFCNN_JEMALLOC"]).is_file():
            raise ConfigError(f"DFCNN_JEMALLOC: {environ['DFCNN_JEMALLOC']} is not a file")
        return environ["DFCNN_JEMALLOC"]
    candidates = (f"{folder}/{JEMALLOC_NAME}" for folder in LIBRARY_FOLDERS)
    return next((path for path in candidates if Path(path).is_file()), None)


def preloaded(environ: Mapping[str, str], library: str) -> bool:
    """Whether ``environ``'s LD_PRELOAD (entries separated by spaces or colons) holds ``library`` or
    any jemalloc: then this process runs under it already, and is not re-executed again."""
    entries = environ.get("LD_PRELOAD", "").replace(":", " ").split()
    return any(entry == library or "jemalloc" in Path(entry).name for entry in entries)


def jemalloc_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str] | None:
    """``environ`` with jemalloc preloaded and configured; None when jemalloc is not wanted
    (``DFCNN_ALLOCATOR=system``), not installed (unless ``DFCNN_ALLOCATOR=jemalloc``: an error), or
    already preloaded."""
    choice = environ.get(ALLOCATOR_VARIABLE, "")
    if choice not in ("", *ALLOCATORS):
        raise ConfigError(f"{ALLOCATOR_VARIABLE} must be {' or '.join(ALLOCATORS)}, got {choice!r}")
    if choice == "system":
        return None
    library = find_jemalloc(environ)
    if library is None:
        if choice == "jemalloc":
            raise ConfigError(
                f"{ALLOCATOR_VARIABLE}=jemalloc: {JEMALLOC_NAME} not found (Debian and Ubuntu: apt-get install "
                "libjemalloc2; or set DFCNN_JEMALLOC to its path)"
            )
        return None
    if preloaded(environ, library):
        return None
    preload = " ".join(filter(None, [library, environ.get("LD_PRELOAD", "")]))
    return {**environ, "LD_PRELOAD": preload, "MALLOC_CONF": environ.get("MALLOC_CONF", JEMALLOC_CONF)}


def allocator_in_use(environ: Mapping[str, str] = os.environ) -> str:
    """What this process allocates with, for the trainer's start-up line."""
    return "jemalloc" if preloaded(environ, environ.get("DFCNN_JEMALLOC", "")) else "system malloc"


def run_under_jemalloc(command: list[str] | None = None) -> None:
    """Replace this process by ``command`` (default: the command line that started it, interpreter
    options included) under jemalloc; returns without doing anything when ``jemalloc_environment``
    says no. Same pid: a supervisor such as torchrun keeps tracking it."""
    environment = jemalloc_environment()
    if environment is None or not sys.executable:  # no interpreter path to run again (embedded Python)
        return
    command = command or [sys.executable, *sys.orig_argv[1:]]
    sys.stdout.flush()
    os.execve(command[0], command, environment)
