"""One training manifest of every real English corpus in the shared data (the ablation's
all-English set), plus any other prepared manifests (pre-training: the synthetic corpus, FSDD).

    python -m recipes.speechocean762.english_corpora      # -> recipes/speechocean762/data/train_english.jsonl
    python -m recipes.speechocean762.english_corpora --out recipes/speechocean762/data/pretrain.jsonl \\
        --extra data/synth_english/train.jsonl recipes/fsdd/data/train.jsonl

speechocean762's train (2.67 h, non-native, half children) + cathy_arctic's train (1.2 h, one
native US woman) + ljspeech_subset's train (0.6 h, one native US woman). Their dev and test
utterances stay out, and dev stays speechocean762's. Audio paths become absolute, so the manifest
works from any folder. Run each recipe's stage 0 first (their data/ folders are read here).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dfcnn.data import Utterance, read_manifest, write_manifest
from dfcnn.errors import DfcnnError

HERE = Path(__file__).resolve().parent

SOURCES = {
    "speechocean762": HERE / "data" / "train.jsonl",
    "cathy_arctic": HERE.parent / "cathy_arctic" / "data" / "train.jsonl",
    "ljspeech_subset": HERE.parent / "ljspeech_subset" / "data" / "train.jsonl",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / "data" / "train_english.jsonl")
    parser.add_argument("--extra", type=Path, nargs="*", default=[], help="more manifests to include")
    args = parser.parse_args()
    combined = []
    sources = {**SOURCES, **{f"{path.parent.parent.name}-{path.stem}": path for path in args.extra}}
    for corpus, manifest in sources.items():
        if not manifest.is_file():
            raise SystemExit(f"{manifest}: not prepared; run recipes/{corpus}/run.sh --stop-stage 0 first")
        try:
            utterances = read_manifest(manifest)
        except DfcnnError as error:
            raise SystemExit(str(error)) from None
        combined += [
            Utterance(u.audio_filepath.resolve(), u.duration, u.text, f"{corpus}-{u.utt_id}") for u in utterances
        ]
        print(f"{corpus}: {len(utterances)} utterances, {sum(u.duration for u in utterances) / 3600:.2f} h")
    write_manifest(args.out, combined)
    print(f"{args.out}: {len(combined)} utterances, {sum(u.duration for u in combined) / 3600:.2f} h")


if __name__ == "__main__":
    main()
