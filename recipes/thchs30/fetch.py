#!/usr/bin/env python3
"""Download and unpack THCHS-30 (OpenSLR 18) from openslr.org, checked against its published MD5s.

    python -m recipes.thchs30.fetch --out DIR [--parts data_thchs30 test-noise resource] [--mirror URL]
        [--remove-archives]

``data_thchs30.tgz`` (6.4 GB) unpacks into DIR/data_thchs30/. ``test-noise`` (the noisy test sets)
and ``resource`` (lexicon, LM) are not needed by this recipe. MD5s: those pinned by PaddleSpeech
(dataset/thchs30/thchs30.py) for https://www.openslr.org/18/.
"""

from __future__ import annotations

import sys

from recipes.download import Archive, run_fetch

BASE = "https://www.openslr.org/resources/18"
NOTE = "MD5 as pinned by PaddleSpeech dataset/thchs30/thchs30.py (OpenSLR 18)"
ARCHIVES = {
    "data_thchs30": Archive(f"{BASE}/data_thchs30.tgz", md5="2d2252bde5c8429929e1841d4cb95e90", note=NOTE),
    "test-noise": Archive(f"{BASE}/test-noise.tgz", md5="7e8a985fb965b84141b68c68556c2030", note=NOTE),
    "resource": Archive(f"{BASE}/resource.tgz", md5="c0b2a565b4970a0c4fe89fefbf2d97e1", note=NOTE),
}
DEFAULT_PARTS = ("data_thchs30",)


def main(argv: list[str] | None = None) -> int:
    return run_fetch("thchs30", __doc__.split("\n\n")[0], ARCHIVES, DEFAULT_PARTS, argv)


if __name__ == "__main__":
    sys.exit(main())
