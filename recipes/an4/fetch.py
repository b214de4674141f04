#!/usr/bin/env python3
"""Download and unpack AN4 (CMU) from http://www.speech.cs.cmu.edu/databases/an4/.

    python -m recipes.an4.fetch --out DIR [--mirror URL]

``an4_sphere.tar.gz`` (the NIST SPHERE version) unpacks into DIR/an4/. CMU publishes no checksum
and no size for it, and none could be confirmed elsewhere: the download is not verified beyond
gzip's own CRC, which the extraction checks (a truncated or damaged archive fails to unpack).
"""

from __future__ import annotations

import sys

from recipes.download import Archive, run_fetch

ARCHIVES = {
    "an4_sphere": Archive(
        "http://www.speech.cs.cmu.edu/databases/an4/an4_sphere.tar.gz",
        note="CMU publishes no checksum (gzip's CRC is checked when unpacking)",
    ),
}
DEFAULT_PARTS = ("an4_sphere",)


def main(argv: list[str] | None = None) -> int:
    return run_fetch("an4", __doc__.split("\n\n")[0], ARCHIVES, DEFAULT_PARTS, argv)


if __name__ == "__main__":
    sys.exit(main())
