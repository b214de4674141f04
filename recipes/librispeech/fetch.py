#!/usr/bin/env python3
"""Download and unpack LibriSpeech (OpenSLR 12) from openslr.org, checked against its md5sum.txt.

    python -m recipes.librispeech.fetch --out DIR [--parts train-clean-100 dev-clean dev-other test-clean test-other]
                    [--mirror https://us.openslr.org/resources/12] [--remove-archives]

Every archive unpacks into DIR/LibriSpeech/<part>/. The MD5s are OpenSLR's published ones
(https://www.openslr.org/resources/12/md5sum.txt), as also pinned by torchaudio, PaddleSpeech and
lhotse. Default: the 100 h training set and the four dev/test sets (about 7.6 GB of archives).
"""

from __future__ import annotations

import sys

from recipes.download import Archive, run_fetch

BASE = "https://www.openslr.org/resources/12"
MD5SUM = "OpenSLR md5sum.txt, https://www.openslr.org/resources/12/md5sum.txt"
ARCHIVES = {
    name: Archive(f"{BASE}/{name}.tar.gz", md5=md5, note=MD5SUM)
    for name, md5 in {
        "train-clean-100": "2a93770f6d5c6c964bc36631d331a522",
        "train-clean-360": "c0e676e450a7ff2f54aeade5171606fa",
        "train-other-500": "d1a0fd59409feb2c614ce4d30c387708",
        "dev-clean": "42e2234ba48799c1f50f24a7926300a1",
        "dev-other": "c8d0bcc9cca99d4f8b62fcc847357931",
        "test-clean": "32fa31d27d2e1cad72775fee3f4849a9",
        "test-other": "fb5a50374b501bb3bac4815ee91d3135",
    }.items()
}
DEFAULT_PARTS = ("train-clean-100", "dev-clean", "dev-other", "test-clean", "test-other")


def main(argv: list[str] | None = None) -> int:
    return run_fetch("librispeech", __doc__.split("\n\n")[0], ARCHIVES, DEFAULT_PARTS, argv)


if __name__ == "__main__":
    sys.exit(main())
