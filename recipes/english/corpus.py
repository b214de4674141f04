"""The shipped English model's data: one pre-training manifest from the English corpora other recipes
prepare, and the extra text of its word LM. Every sentence of cathy_arctic (CMU ARCTIC prompts) is
left out of both, so that cathy_arctic stays a test of an unseen speaker reading unseen sentences
(the fine-tuning measurement); LJSpeech's held-out sentences are left out of the LM text.

    python -m recipes.english.corpus pretrain --out data/pretrain.jsonl --held-out ../cathy_arctic/data/*.jsonl \\
        --source so762=../speechocean762/data/train.jsonl --source synth=../../data/synth_english/train.jsonl ...
    python -m recipes.english.corpus lm-text --metadata LJSpeech-1.1/metadata.csv \\
        --held-out ../ljspeech_subset/data/dev.jsonl ../ljspeech_subset/data/test.jsonl --out data/lm_extra.txt
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dfcnn.data import Utterance, read_manifest, write_manifest
from dfcnn.errors import DfcnnError
from dfcnn.fileio import atomic_write_text


def held_out_texts(manifests: list[Path]) -> set[str]:
    """Every transcript of these manifests: sentences no training utterance may read."""
    return {u.text for manifest in manifests for u in read_manifest(manifest)}


def pretraining_manifest(sources: dict[str, tuple[Path, int | None]], held_out: set[str], out: Path) -> list[Utterance]:
    """One manifest of every source's utterances whose transcript is not held out.

    Args:
        sources: name -> (manifest, the first N utterances of it to use, or None for all); utt_ids
            become ``name-utt_id`` and audio paths absolute.
        held_out: transcripts to leave out.
    """
    combined = []
    for name, (manifest, first) in sources.items():
        utterances = read_manifest(manifest)[:first]
        kept = [u for u in utterances if u.text not in held_out]
        combined += [Utterance(u.audio_filepath.resolve(), u.duration, u.text, f"{name}-{u.utt_id}") for u in kept]
        hours = sum(u.duration for u in kept) / 3600
        dropped = len(utterances) - len(kept)
        print(f"{name}: {len(kept)} of {len(utterances)} utterances ({dropped} held out), {hours:.2f} h")
    write_manifest(out, combined)
    print(f"{out}: {len(combined)} utterances, {sum(u.duration for u in combined) / 3600:.2f} h")
    return combined


def ljspeech_lm_text(metadata: Path, held_out_ids: set[str], out: Path) -> int:
    """LJSpeech's normalised transcripts (metadata.csv's third column) but the held-out clips' -> out,
    a sentence a line; returns the count."""
    sentences = []
    for number, line in enumerate(metadata.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("|")
        if len(fields) != 3:
            raise DfcnnError(f"{metadata}:{number}: expected 3 |-separated fields, got {len(fields)}")
        if fields[0] not in held_out_ids:
            sentences.append(fields[2])
    atomic_write_text(out, "".join(s + "\n" for s in sentences))
    print(f"{len(sentences)} LJSpeech sentences ({len(held_out_ids)} held out) -> {out}")
    return len(sentences)


def parse_source(value: str) -> tuple[str, tuple[Path, int | None]]:
    """NAME=MANIFEST or NAME=MANIFEST:FIRST_N."""
    name, _, rest = value.partition("=")
    if not name or not rest:
        raise argparse.ArgumentTypeError(f"expected NAME=MANIFEST[:FIRST_N], got {value!r}")
    path, _, first = rest.rpartition(":") if rest.rpartition(":")[2].isdigit() else (rest, "", "")
    return name, (Path(path), int(first) if first else None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    pretrain = commands.add_parser("pretrain", help="the pre-training manifest")
    pretrain.add_argument(
        "--source", type=parse_source, action="append", required=True, help="NAME=MANIFEST[:FIRST_N], repeated"
    )
    pretrain.add_argument(
        "--held-out", type=Path, nargs="+", default=[], help="manifests whose sentences no training utterance reads"
    )
    pretrain.add_argument("--out", type=Path, required=True)
    lm_text = commands.add_parser("lm-text", help="LJSpeech text for the word LM")
    lm_text.add_argument("--metadata", type=Path, required=True, help="LJSpeech's metadata.csv")
    lm_text.add_argument("--held-out", type=Path, nargs="+", default=[], help="manifests whose clips stay out")
    lm_text.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "pretrain":
            pretraining_manifest(dict(args.source), held_out_texts(args.held_out), args.out)
        else:
            ids = {u.utt_id for manifest in args.held_out for u in read_manifest(manifest)}
            ljspeech_lm_text(args.metadata, ids, args.out)
    except DfcnnError as error:
        parser.exit(1, f"{parser.prog}: error: {error}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
