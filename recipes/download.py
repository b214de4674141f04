#!/usr/bin/env python3
"""Download and unpack corpus archives: resumable, verified, idempotent. Knows no corpus.

A recipe's ``fetch.py`` lists its archives (official URL, published size and checksums) and calls
``run_fetch``; this module does the rest with the standard library (urllib, hashlib, tarfile,
zipfile) and tqdm for progress:

- the file is written to ``NAME.part`` and renamed to ``NAME`` only once it is complete and verified
  (size, then sha256 or md5 where known), so ``NAME`` is never half-written or corrupt;
- an interrupted download resumes: the next request asks for ``Range: bytes=<size of .part>-``;
  a server that ignores it (200 instead of 206) is downloaded again from the start; a connection
  that breaks mid-way is retried, resuming, up to ``retries`` times;
- a file that fails verification is deleted (a resumed download cannot fix it) and the error names
  the URL, the file, and both checksums;
- a file already present is checked once and skipped; ``NAME.verified`` remembers the check (size,
  mtime and checksum), so a 6 GB archive is not hashed again on every run;
- ``tar``, ``tar.gz``/``tgz`` and ``zip`` archives are unpacked into a folder, with unsafe member
  paths refused, and ``.<NAME>.extracted`` in that folder marks a finished extraction;
- ``file://`` URLs (and plain paths) are copied the same way, for mirrors on disk.

    python -m recipes.download URL --out DIR [--md5 HEX | --sha256 HEX] [--size BYTES] [--extract-to DIR]

A recipe's fetch.py puts its corpus in ``data/<corpus>`` at the repository root unless told ``--out``.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 1 << 20  # read and hash 1 MiB at a time
DOWNLOAD_ROOT = Path(__file__).resolve().parents[1] / "data"  # the repository's data/: fetch.py's default home
USER_AGENT = "dfcnn-recipes/1 (python urllib)"


class DownloadError(Exception):
    """A download, verification or extraction failed; the message names the URL or file."""


@dataclass(frozen=True)
class Archive:
    """One file of a corpus, as its publisher lists it."""

    url: str  # official location (http, https or file)
    md5: str | None = None  # published MD5 (OpenSLR's md5sum.txt); None where none is published
    sha256: str | None = None  # published SHA-256, preferred over md5 when both are given
    size: int | None = None  # bytes; None where unknown
    note: str = ""  # where the checksum comes from, or why there is none

    @property
    def name(self) -> str:
        return Path(urllib.parse.urlparse(self.url).path).name

    def with_base(self, base: str | None) -> Archive:
        """The same archive from a mirror: ``base`` replaces everything before the file name."""
        if not base:
            return self
        return Archive(base.rstrip("/") + "/" + self.name, self.md5, self.sha256, self.size, self.note)


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        while block := f.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _expected(md5: str | None, sha256: str | None) -> tuple[str, str] | None:
    if sha256:
        return "sha256", sha256.lower()
    if md5:
        return "md5", md5.lower()
    return None


def verify(path: Path, url: str, size: int | None = None, md5: str | None = None, sha256: str | None = None) -> str:
    """Check ``path`` against the size and checksum given; return a one-line description of what was checked.

    Raises ``DownloadError`` naming the file, the URL and both values on a mismatch.
    """
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise DownloadError(f"{path}: {actual_size} bytes, expected {size} (from {url})")
    expected = _expected(md5, sha256)
    if expected is None:
        return f"size {actual_size} bytes" + (" checked" if size is not None else "") + ", no published checksum"
    algorithm, value = expected
    actual = file_digest(path, algorithm)
    if actual != value:
        raise DownloadError(f"{path}: {algorithm} {actual}, expected {value} (from {url}): corrupt or wrong file")
    return f"{algorithm} {value} ok"


def _stamp(path: Path, algorithm_value: tuple[str, str] | None, size: int | None) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "expected_size": size, "checksum": algorithm_value}


def _verified_before(path: Path, size: int | None, md5: str | None, sha256: str | None) -> bool:
    stamp = path.with_name(path.name + ".verified")
    if not stamp.is_file():
        return False
    try:
        saved = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    expected = _expected(md5, sha256)
    return saved == json.loads(json.dumps(_stamp(path, expected, size)))


def _remember_verified(path: Path, size: int | None, md5: str | None, sha256: str | None) -> None:
    stamp = path.with_name(path.name + ".verified")
    stamp.write_text(json.dumps(_stamp(path, _expected(md5, sha256), size)), encoding="utf-8")


def _progress(total: int | None, initial: int, name: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=name,
        disable=None if enabled else True,
        file=sys.stderr,
        leave=False,
    )


def _open(url: str, offset: int, timeout: float):
    """(readable stream, bytes it will deliver or None, whether it starts at ``offset``)."""
    scheme = urllib.parse.urlparse(url).scheme
    if scheme in ("", "file"):
        source = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path)) if scheme else Path(url)
        if not source.is_file():
            raise DownloadError(f"{url}: no such file")
        stream = source.open("rb")
        stream.seek(offset)
        return stream, source.stat().st_size - offset, True
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # nothing left past offset: the .part may already be complete
            return None, 0, True
        if error.code >= 500 or error.code == 429:  # the server's trouble: worth a retry
            raise ConnectionError(f"HTTP {error.code} {error.reason}") from None
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    length = response.headers.get("Content-Length")
    length = int(length) if length is not None else None
    if offset and response.status == 206:
        content_range = response.headers.get("Content-Range", "")
        if not content_range.startswith(f"bytes {offset}-"):
            response.close()
            raise DownloadError(f"{url}: asked for bytes from {offset}, the server sent {content_range!r}")
        return response, length, True
    return response, length, offset == 0


def download(
    url: str,
    dest: str | Path,
    size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    retries: int = 5,
    timeout: float = 60.0,
    progress: bool = True,
    retry_wait: float = 2.0,
) -> Path:
    """Fetch ``url`` to ``dest`` (via ``dest.part``), resuming and retrying; verify; rename; return ``dest``.

    Skips the download when ``dest`` exists and verifies. Raises ``DownloadError`` when the server
    fails, the retries run out, or the file does not match ``size`` / the checksum (the bad file is
    deleted).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file():
        if _verified_before(dest, size, md5, sha256):
            print(f"{dest}: present, verified before", file=sys.stderr)
            return dest
        try:
            checked = verify(dest, url, size, md5, sha256)
        except DownloadError as error:
            print(f"warning: {error}; downloading it again", file=sys.stderr)
            dest.unlink()
        else:
            _remember_verified(dest, size, md5, sha256)
            print(f"{dest}: present ({checked})", file=sys.stderr)
            return dest
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    while True:
        offset = part.stat().st_size if part.is_file() else 0
        if size is not None and offset > size:
            part.unlink()  # longer than the whole file: not a prefix of it
            offset = 0
        try:
            _fetch_into(url, part, offset, size, timeout, progress, dest.name)
            break
        except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out, IncompleteRead
            reason = error
        attempt += 1
        if attempt > retries:
            raise DownloadError(f"{url}: gave up after {retries} retries ({reason}); {part} is kept for resuming")
        have = part.stat().st_size if part.is_file() else 0
        print(
            f"warning: {url}: {type(reason).__name__}: {reason}; retrying from byte {have} ({attempt}/{retries})",
            file=sys.stderr,
        )
        time.sleep(retry_wait * attempt)
    try:
        checked = verify(part, url, size, md5, sha256)
    except DownloadError:
        part.unlink()  # a corrupt prefix cannot be repaired by resuming
        raise
    os.replace(part, dest)
    _remember_verified(dest, size, md5, sha256)
    print(f"{dest}: downloaded ({checked})", file=sys.stderr)
    return dest


def _fetch_into(url: str, part: Path, offset: int, size: int | None, timeout: float, progress: bool, name: str):
    stream, length, resumed = _open(url, offset, timeout)
    if stream is None:
        return  # 416: the .part already holds everything
    if not resumed:
        offset = 0  # the server sent the whole file
    total = offset + length if length is not None else size
    with stream, part.open("ab" if offset else "wb") as out, _progress(total, offset, name, progress) as bar:
        received = 0
        while block := stream.read(CHUNK_BYTES):
            out.write(block)
            received += len(block)
            bar.update(len(block))
    if length is not None and received < length:
        raise ConnectionError(f"connection closed after {offset + received} of {offset + length} bytes")


def _safe_members(archive: Path, names: Sequence[str]) -> None:
    for name in names:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or name.startswith(("/", "\\")):
            raise DownloadError(f"{archive}: refusing to extract {name!r} (outside the target folder)")


def extract(archive: str | Path, target: str | Path, remove_archive: bool = False) -> Path:
    """Unpack a tar / tar.gz / tgz / zip into ``target``; ``target/.<name>.extracted`` marks it done.

    Skipped when the marker is there. Raises ``DownloadError`` on an unknown or damaged archive.
    """
    archive, target = Path(archive), Path(target)
    marker = target / f".{archive.name}.extracted"
    if marker.is_file():
        print(f"{archive.name}: already extracted into {target}", file=sys.stderr)
        return target
    target.mkdir(parents=True, exist_ok=True)
    print(f"extracting {archive} -> {target}", file=sys.stderr)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                _safe_members(archive, z.namelist())
                z.extractall(target)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive, "r:*") as t:
                _safe_members(archive, t.getnames())
                t.extractall(target, filter="data")  # also refuses links out of target and device files
                while t.fileobj.read(CHUNK_BYTES):  # to the end, so gzip checks its CRC and length
                    pass
        else:
            raise DownloadError(f"{archive}: not a tar, tar.gz/tgz or zip archive")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
        raise DownloadError(f"{archive}: extraction failed ({type(error).__name__}: {error})") from None
    marker.write_text(f"{archive.name}\n", encoding="utf-8")
    if remove_archive:
        archive.unlink()
    return target


def fetch(
    archive: Archive,
    download_dir: str | Path,
    extract_to: str | Path | None = None,
    remove_archive: bool = False,
    **download_options,
) -> Path:
    """Download ``archive`` into ``download_dir`` and, with ``extract_to``, unpack it there.

    Nothing is downloaded when its extraction marker already exists (the archive may have been
    removed after extraction). Returns the archive path, or the extraction folder.
    """
    download_dir = Path(download_dir)
    if extract_to is not None and (Path(extract_to) / f".{archive.name}.extracted").is_file():
        print(f"{archive.name}: already extracted into {extract_to}", file=sys.stderr)
        return Path(extract_to)
    path = download(
        archive.url, download_dir / archive.name, archive.size, archive.md5, archive.sha256, **download_options
    )
    if extract_to is None:
        return path
    return extract(path, extract_to, remove_archive=remove_archive)


def run_fetch(
    corpus: str,
    description: str,
    archives: dict[str, Archive],
    default_parts: Sequence[str],
    argv: list[str] | None = None,
    after_extract: Callable[[Path], None] | None = None,
) -> int:
    """The command line of a recipe's fetch.py: download and unpack the chosen parts into --out.

    ``after_extract(out_dir)`` runs once all parts are unpacked (nested archives, for example).
    Exit codes: 0 done, 1 a download or extraction failed (the message names the URL or file).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--out",
        type=Path,
        default=DOWNLOAD_ROOT / corpus,
        help="folder for the archives and the unpacked corpus (default: %(default)s)",
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        default=list(default_parts),
        choices=sorted(archives),
        metavar="PART",
        help=f"archives to fetch, of {', '.join(archives)} (default: {' '.join(default_parts)})",
    )
    parser.add_argument(
        "--mirror",
        default=None,
        help="base URL of a mirror holding the same file names (default: the official location)",
    )
    parser.add_argument("--remove-archives", action="store_true", help="delete each archive once unpacked")
    parser.add_argument("--retries", type=int, default=5, help="retries of a broken connection (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        for part in args.parts:
            archive = archives[part].with_base(args.mirror)
            if archive.md5 is None and archive.sha256 is None:
                checked = "verifying its size only" if archive.size else "not verified"
                print(f"note: {archive.name}: {archive.note or 'no published checksum'}; {checked}", file=sys.stderr)
            fetch(archive, args.out, extract_to=args.out, remove_archive=args.remove_archives, retries=args.retries)
        if after_extract is not None:
            after_extract(args.out)
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{corpus}: {' '.join(args.parts)} ready in {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Download one file (resumable, verified), optionally unpack it.")
    parser.add_argument("url")
    parser.add_argument("--out", type=Path, required=True, help="folder to download into")
    parser.add_argument("--md5", default=None)
    parser.add_argument("--sha256", default=None)
    parser.add_argument("--size", type=int, default=None, help="expected size in bytes")
    parser.add_argument("--extract-to", type=Path, default=None, help="unpack the archive into this folder")
    args = parser.parse_args(argv)
    archive = Archive(args.url, md5=args.md5, sha256=args.sha256, size=args.size)
    try:
        print(fetch(archive, args.out, args.extract_to))
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
