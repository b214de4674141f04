"""Files in and out: text and JSONL read with one-line errors, and writes that are never half-done.

    lines = read_text("data/vocab.txt", "vocabulary").splitlines()
    for number, record in read_jsonl("data/train.jsonl", "manifest"): ...
    atomic_write_text("exp/eval/results.md", table)
    atomic_copy("exp/lm/lm.bin", "deploy/lm.bin")
    atomic_write("exp/last.pt", lambda file: torch.save(payload, file))

A text file that is missing, a folder, binary or not UTF-8 is a ``DfcnnError`` naming the file (and
for bad bytes, the line), never a ``UnicodeDecodeError`` traceback.

Writes go to a temp file in the same folder, then fsync and rename.
A reader sees the old file or the new one, never a mix; a crash, a kill or a full disk leaves the
old file intact and no temp file behind (except after kill -9, when ``remove_stale_temp_files``
clears them on the next start). A full disk or a read-only folder is a ``DfcnnError`` naming the
file, not an ``OSError`` or torch's "enforce fail at inline_container.cc".
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import DfcnnError

TEMP_SUFFIX = ".tmp"  # temp files are ".NAME.XXXXXXXX.tmp" beside their target


def read_text(path: str | Path, what: str = "text file", error: type[DfcnnError] = DfcnnError) -> str:
    """The UTF-8 text of ``path``; ``error`` (naming ``what`` and the file) when it cannot be read as text."""
    path = Path(path)
    if not path.exists():
        raise error(f"{path}: {what} not found")
    if path.is_dir():
        raise error(f"{path}: {what} is a folder, not a file")
    if not path.is_file():
        raise error(f"{path}: {what} is not a regular file (a pipe or a device)")
    try:
        data = path.read_bytes()
    except OSError as problem:
        raise error(f"{path}: cannot read the {what} ({problem.strerror or problem})") from None
    if b"\0" in data[:65536]:
        raise error(f"{path}: the {what} is a binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as problem:
        line = data[: problem.start].count(b"\n") + 1
        raise error(f"{path}:{line}: the {what} is not UTF-8 text (byte 0x{data[problem.start]:02x})") from None


def read_jsonl(
    path: str | Path, what: str = "JSONL file", error: type[DfcnnError] = DfcnnError
) -> list[tuple[int, dict]]:
    """(line number, object) of each non-blank line of a JSONL file; ``error`` naming file and line
    for a line that is not a JSON object (and as ``read_text`` for a file that is not text)."""
    path = Path(path)
    records = []
    for number, line in enumerate(read_text(path, what, error).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as problem:
            raise error(f"{path}:{number}: not valid JSON ({problem.msg} at column {problem.colno})") from None
        if not isinstance(record, dict):
            raise error(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
        records.append((number, record))
    return records


def _is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    # torch.save reports a failed write from its C++ zip writer as a RuntimeError with no errno
    text = str(error)
    return isinstance(error, RuntimeError) and ("inline_container" in text or "file write failed" in text)


def _reason(error: BaseException) -> str:
    if _is_disk_full(error):
        return "no space left"
    if isinstance(error, OSError) and error.errno == errno.EROFS:
        return "read-only file system"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error)


def write_error(path: Path, error: BaseException) -> DfcnnError:
    """The one-line error for a failed write of ``path``: "no space left writing exp/last.pt"."""
    return DfcnnError(f"{_reason(error)} writing {path}")


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """``write(file)`` into a temp file beside ``path``, fsync, then rename it over ``path``.

    Raises:
        DfcnnError naming ``path`` when the disk is full, the folder is read-only or not a folder.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    except OSError as error:
        raise write_error(path, error) from None
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; outputs are for everyone to read
        os.replace(tmp, path)
    except (OSError, RuntimeError) as error:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, error) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically (an encoded audio file, for example)."""
    atomic_write(path, lambda file: file.write(data))


def atomic_write_text(path: str | Path, content: str) -> None:
    """Replace ``path`` with the UTF-8 ``content`` atomically."""
    atomic_write_bytes(path, content.encode("utf-8"))


def atomic_copy(source: str | Path, target: str | Path) -> None:
    """Copy the file ``source`` over ``target`` atomically."""
    import shutil

    with open(source, "rb") as original:
        atomic_write(target, lambda file: shutil.copyfileobj(original, file))


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Delete the temp files that writes killed with SIGKILL left in ``folder``; returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.glob(f".*{TEMP_SUFFIX}") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def check_writable_folder(folder: str | Path, what: str = "output folder") -> Path:
    """Fail now, not after an hour of decoding, when ``folder`` cannot take files.

    Creates it if missing. Raises ``DfcnnError`` when it is a file, read-only, or on a full disk.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DfcnnError(f"{what} {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".dfcnn-probe.", suffix=TEMP_SUFFIX)
        try:
            os.write(handle, b"\0" * 4096)
            os.fsync(handle)
        finally:
            os.close(handle)
            os.unlink(probe)
    except OSError as error:
        raise DfcnnError(f"{what} {folder} cannot take files: {_reason(error)}") from None
    return folder
