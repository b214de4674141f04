"""dfcnn against the offline alternative a user has here: PocketSphinx 5.1.1 (PyPI), with its own
US-English acoustic model, dictionary and 3-gram LM, on the same audio and the same text normaliser.

    .venv/bin/pip install 'pocketsphinx==5.1.1'          # or: pip install -e '.[compare]'
    .venv/bin/python bench/pocketsphinx_compare.py --manifest recipes/speechocean762/data/test.jsonl \
        --model recipes/speechocean762/exp/best.pt \
        --lm recipes/speechocean762/exp/lm/lm.bin --lm-weight 1.5 --word-score 2

Both systems read the manifest's audio through dfcnn's loader (16 kHz mono); hypotheses and
references go through the dfcnn model's normaliser, and jiwer scores both. Writes
``bench/pocketsphinx.md`` and ``.json`` (and the hypotheses beside them).
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dfcnn.audio import load_audio  # noqa: E402
from dfcnn.data import read_manifest  # noqa: E402
from dfcnn.decode import DecoderConfig  # noqa: E402
from dfcnn.inference import load_model  # noqa: E402
from dfcnn.metrics import format_table, score  # noqa: E402

_decoder = None


def _sphinx_init() -> None:
    global _decoder
    from pocketsphinx import Decoder

    _decoder = Decoder(loglevel="FATAL")  # the packaged en-us model, dictionary and LM


def _sphinx_one(path: str) -> str:
    wave = load_audio(path)  # (N,) float32, 16 kHz
    pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    _decoder.start_utt()
    _decoder.process_raw(pcm, full_utt=True)
    _decoder.end_utt()
    hypothesis = _decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="dfcnn checkpoint")
    parser.add_argument("--lm", type=Path, default=None, help="also dfcnn with this KenLM LM (and its lexicon)")
    parser.add_argument("--lm-weight", type=float, default=1.0)
    parser.add_argument("--word-score", type=float, default=0.0)
    parser.add_argument("--jobs", type=int, default=2, help="PocketSphinx processes")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "pocketsphinx.md")
    args = parser.parse_args()

    utterances = read_manifest(args.manifest)
    audio_seconds = sum(u.duration for u in utterances)
    recognizer = load_model(args.model, "cpu", decoder=None)
    normalize = recognizer.tokenizer.normalize
    refs = [normalize(u.text) for u in utterances]

    results, hyps_out = {}, {}
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.jobs, initializer=_sphinx_init) as pool:
        sphinx = pool.map(_sphinx_one, [str(u.audio_filepath) for u in utterances], chunksize=8)
    wall = time.perf_counter() - start
    hyps_out["pocketsphinx"] = [normalize(h) for h in sphinx]
    results["PocketSphinx 5.1.1 (en-us model + LM)"] = (score(refs, hyps_out["pocketsphinx"]), wall, args.jobs)
    print(f"PocketSphinx: {wall:.0f} s", flush=True)

    decoders = {"greedy": DecoderConfig()}
    if args.lm is not None:
        decoders["beam+lexicon+LM"] = DecoderConfig(lm=str(args.lm), lm_weight=args.lm_weight,
                                                       word_score=args.word_score)
    for name, config in decoders.items():
        recognizer.set_decoder(config)
        start = time.perf_counter()
        hyps = [normalize(h.text) for h in recognizer.recognize(utterances)]
        wall = time.perf_counter() - start
        hyps_out[f"dfcnn-{name}"] = hyps
        results[f"dfcnn {args.model} ({name})"] = (score(refs, hyps), wall, 1)
        print(f"dfcnn {name}: {wall:.0f} s", flush=True)

    rows = "".join(
        f"| {name} | {s.words.error_rate:.1f} | {s.chars.error_rate:.1f} | {wall:.0f} | "
        f"{wall / audio_seconds:.3f} | {jobs} |\n"
        for name, (s, wall, jobs) in results.items()
    )
    text = (
        f"# dfcnn vs PocketSphinx ({datetime.date.today()}, {multiprocessing.cpu_count()} CPU cores)\n\n"
        f"`{args.manifest}`: {len(utterances)} utterances, {audio_seconds / 3600:.2f} h; references and "
        f"hypotheses through dfcnn's `{recognizer.tokenizer.normalizer}` normaliser; jiwer.\n\n"
        "| system | WER % | CER % | wall (s) | RTF | processes |\n|---|---:|---:|---:|---:|---:|\n"
        + rows
        + "\n"
        + format_table({name.split(" (")[0] if "Pocket" in name else name: s for name, (s, _, _) in results.items()})
    )
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(
        json.dumps(
            {
                name: {"wer": s.words.error_rate, "cer": s.chars.error_rate, "wall_s": wall}
                for name, (s, wall, _) in results.items()
            },
            indent=2,
        )
        + "\n"
    )
    with open(args.out.with_suffix(".hyps.jsonl"), "w", encoding="utf-8") as handle:
        for index, utterance in enumerate(utterances):
            row = {"utt_id": utterance.utt_id, "ref": refs[index], **{k: v[index] for k, v in hyps_out.items()}}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(text)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
