#!/usr/bin/env python3
"""Download and unpack AISHELL-1 (OpenSLR 33) from openslr.org, checked against its published MD5s.

    python -m recipes.aishell1.fetch --out DIR [--parts data_aishell resource_aishell] [--mirror URL]
        [--remove-archives]

``data_aishell.tgz`` (15 GB) unpacks into DIR/data_aishell/ with one ``wav/<speaker>.tar.gz`` per
speaker; those are unpacked in turn (into wav/{train,dev,test}/<speaker>/) and deleted, as Kaldi's
download_and_untar.sh does. MD5s: those pinned by PaddleSpeech (dataset/aishell/aishell.py) and
other loaders of https://www.openslr.org/33/; resource_aishell.tgz is 1,246,920 bytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from recipes.download import Archive, DownloadError, extract, run_fetch

BASE = "https://www.openslr.org/resources/33"
NOTE = "MD5 as pinned by PaddleSpeech dataset/aishell/aishell.py and other loaders of OpenSLR 33"
ARCHIVES = {
    "data_aishell": Archive(f"{BASE}/data_aishell.tgz", md5="2f494334227864a8a8fec932999db9d8", note=NOTE),
    "resource_aishell": Archive(f"{BASE}/resource_aishell.tgz", md5="957d480a0fcac85fc18e550756f624e5", note=NOTE),
}
DEFAULT_PARTS = ("data_aishell",)


def unpack_speakers(out_dir: Path) -> None:
    """data_aishell/wav/<speaker>.tar.gz -> data_aishell/wav/<split>/<speaker>/*.wav, archive deleted."""
    wav = out_dir / "data_aishell" / "wav"
    if not wav.is_dir():
        return  # data_aishell was not among the parts fetched
    packed = sorted(wav.glob("*.tar.gz"))
    for index, archive in enumerate(packed, 1):
        print(f"speaker archive {index}/{len(packed)}", file=sys.stderr)
        extract(archive, wav, remove_archive=True)
    if not any((wav / split).is_dir() for split in ("train", "dev", "test")):
        raise DownloadError(f"{wav}: no train/dev/test folders after unpacking the speaker archives")


def main(argv: list[str] | None = None) -> int:
    return run_fetch("aishell1", __doc__.split("\n\n")[0], ARCHIVES, DEFAULT_PARTS, argv, unpack_speakers)


if __name__ == "__main__":
    sys.exit(main())
