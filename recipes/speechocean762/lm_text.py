"""Extra English text for speechocean762's word LM: other corpora's transcripts in the shared data.

    python -m recipes.speechocean762.lm_text --data ../shared/data --out recipes/speechocean762/data/lm_extra.txt

LJSpeech's metadata.csv (13,100 sentences of 19th/20th-century non-fiction; its normalised third
column) and CMU ARCTIC's prompts (1,132 sentences). Neither overlaps speechocean762's test text,
which is read-aloud everyday English; they widen the LM's vocabulary (38% of the test word types
never occur in speechocean762's training transcripts).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from recipes.common import data_root

ARCTIC_LINE = re.compile(r'^\(\s*\S+\s+"(.*)"\s*\)\s*$')


def ljspeech_sentences(metadata: Path) -> list[str]:
    sentences = []
    for number, line in enumerate(metadata.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("|")
        if len(fields) != 3:
            raise SystemExit(f"{metadata}:{number}: expected 3 |-separated fields, got {len(fields)}")
        sentences.append(fields[2])
    return sentences


def arctic_sentences(prompts: Path) -> list[str]:
    sentences = []
    for number, line in enumerate(prompts.read_text(encoding="utf-8").splitlines(), 1):
        match = ARCTIC_LINE.match(line)
        if not match:
            raise SystemExit(f"{prompts}:{number}: not a '( id \"text\" )' line")
        sentences.append(match.group(1))
    return sentences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="shared data folder (default: $DFCNN_DATA)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    root = args.data or data_root()
    sentences = ljspeech_sentences(root / "ljspeech_subset" / "LJSpeech-1.1" / "metadata.csv")
    sentences += arctic_sentences(root / "cathy_arctic" / "cmuarctic.data")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(s + "\n" for s in sentences), encoding="utf-8")
    print(f"{len(sentences)} sentences of extra LM text -> {args.out}")


if __name__ == "__main__":
    main()
