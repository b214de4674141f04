"""Speed and memory of flashlight's lexicon decoder with large lexicons and 3-gram LMs: the corpus LM
(15k words), PocketSphinx's general LM (72k words) and the interpolated ones (74k), at a few beam
settings, on real speechocean762 utterances.

    .venv/bin/python bench/lm_decode.py --manifest recipes/speechocean762/data/dev.jsonl \
        --model recipes/speechocean762/exp --lm corpus=recipes/speechocean762/exp/lm \
        --lm general=recipes/speechocean762/exp/lm-general --lm mixed=recipes/speechocean762/exp/lm-mix
    ... --simulate 0.5          # no trained model yet: log-probs simulated from the references (see below)

Each (LM, beam setting) runs in a process of its own, so that its memory is its own: the decoder's
load time and resident memory, the search's real-time factor (decode seconds / audio seconds, one
thread) and the WER. Log-probs come from ``--model`` (a trained model gives the real search; an
untrained one the worst case, a flat output that keeps every hypothesis alive), or with
``--simulate P`` from each reference's phones: every phone a peak of CTC posterior in its slot of
the utterance's frames (0.04 s each), substituted by a random phone with probability P/2, deleted
with P/4, a random phone inserted after it with P/4, and Gaussian noise on every frame; its WER
says only that the decoder and LM work, not how well a model would do. Writes bench/lm_decode.md/.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dfcnn.checkpoint import load_checkpoint  # noqa: E402
from dfcnn.data import read_manifest  # noqa: E402
from dfcnn.decode import DecoderConfig, build_decoder  # noqa: E402
from dfcnn.fileio import atomic_write_text  # noqa: E402
from dfcnn.loading import find_model, load_model  # noqa: E402
from dfcnn.text import BLANK, WORD_SEPARATOR, Tokenizer  # noqa: E402

FRAME_SECONDS = 0.04  # the phone models' output frame (10 ms hop x 4)
SETTINGS = {  # name -> (beam size, beam threshold, tokens per frame)
    "beam 50, threshold 25 (default)": (50, 25.0, None),
    "beam 20, threshold 15": (20, 15.0, None),
    "beam 10, threshold 10, 10 tokens": (10, 10.0, 10),
}


def simulated_log_probs(
    tokenizer: Tokenizer, text: str, frames: int, error_rate: float, rng: np.random.Generator
) -> torch.Tensor:
    """(frames, V) log-probs of a noisy CTC model that heard ``text`` (see the module docstring)."""
    phones = [t for t in tokenizer.encode(text)]
    choices = [i for i, t in enumerate(tokenizer.tokens) if t not in (BLANK, WORD_SEPARATOR) and not t.startswith("<")]
    emitted = []
    for phone in phones:
        draw = rng.random()
        if tokenizer.tokens[phone] != WORD_SEPARATOR and draw < error_rate / 2:
            phone = int(rng.choice(choices))
        elif tokenizer.tokens[phone] != WORD_SEPARATOR and draw < 3 * error_rate / 4:
            continue
        emitted.append(phone)
        if rng.random() < error_rate / 4:
            emitted.append(int(rng.choice(choices)))
    logits = rng.normal(0.0, 1.0, (frames, len(tokenizer))).astype(np.float32)
    logits[:, tokenizer.blank_id] += 6.0
    slots = np.linspace(0, frames, len(emitted) + 2)[1:-1].astype(int)
    for frame, token in zip(slots, emitted):
        logits[frame, token] += 9.0
    return torch.log_softmax(torch.from_numpy(logits), dim=-1)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(job: dict) -> dict:
    """One decoder over the saved log-probs: load, decode, score (run in a process of its own)."""
    import resource

    torch.set_num_threads(1)
    saved = torch.load(job["log_probs"], weights_only=True)
    tokenizer = Tokenizer.from_dict(json.loads(Path(job["tokenizer"]).read_text()))
    before = _rss_mb()
    beam, threshold, tokens = job["setting"]
    start = time.perf_counter()
    decoder = build_decoder(
        tokenizer,
        DecoderConfig(
            beam_size=beam,
            beam_threshold=threshold,
            beam_size_token=tokens,
            lm=job["lm"],
            lexicon=job["lexicon"],
            lm_weight=job["lm_weight"],
            word_score=job["word_score"],
        ),
    )
    load = time.perf_counter() - start
    loaded = _rss_mb()
    start = time.perf_counter()
    hyps = []
    for log_probs in saved["log_probs"]:
        hyps.append(decoder.best(log_probs[None], torch.tensor([len(log_probs)]))[0].text)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wer = decoder.score(saved["references"], hyps).wer
    return {
        "load_s": load,
        "decoder_mb": loaded - before,
        "peak_mb": peak,
        "decode_s": seconds,
        "rtf": seconds / float(saved["audio_seconds"]),
        "wer": wer,
    }


def log_probs_of(args, utterances, tokenizer) -> list[torch.Tensor]:
    if args.simulate is None:
        recognizer = load_model(args.model, "cpu", decoder=None)
        return recognizer.utterance_log_probs(utterances)
    rng = np.random.default_rng(0)
    return [
        simulated_log_probs(tokenizer, u.text, math.ceil(u.duration / FRAME_SECONDS), args.simulate, rng)
        for u in utterances
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument(
        "--model", type=Path, required=True, help="checkpoint (its phones; its log-probs unless --simulate)"
    )
    parser.add_argument(
        "--lm",
        action="append",
        required=True,
        metavar="NAME=FOLDER",
        help="a folder with lm.bin and lexicon.txt; repeat",
    )
    parser.add_argument("--utterances", type=int, default=50, help="the manifest's first N utterances")
    parser.add_argument("--simulate", type=float, default=None, metavar="P", help="simulated log-probs, error rate P")
    parser.add_argument("--lm-weight", type=float, default=1.0)
    parser.add_argument("--word-score", type=float, default=0.0)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "lm_decode.md")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        print(json.dumps(worker(json.loads(args.worker.read_text()))))
        return

    utterances = read_manifest(args.manifest)[: args.utterances]
    tokenizer = Tokenizer.from_dict(load_checkpoint(find_model(args.model).network)["tokenizer"])
    audio = sum(u.duration for u in utterances)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        torch.save(
            {
                "log_probs": log_probs_of(args, utterances, tokenizer),
                "references": [u.text for u in utterances],
                "audio_seconds": audio,
            },
            scratch / "log_probs.pt",
        )
        (scratch / "tokenizer.json").write_text(json.dumps(tokenizer.to_dict()))
        for item in args.lm:
            name, folder = item.split("=", 1)
            words = sum(1 for _ in open(Path(folder) / "lexicon.txt", encoding="utf-8"))
            for setting_name, setting in SETTINGS.items():
                job = {
                    "log_probs": str(scratch / "log_probs.pt"),
                    "tokenizer": str(scratch / "tokenizer.json"),
                    "lm": str(Path(folder) / "lm.bin"),
                    "lexicon": str(Path(folder) / "lexicon.txt"),
                    "setting": setting,
                    "lm_weight": args.lm_weight,
                    "word_score": args.word_score,
                }
                (scratch / "job.json").write_text(json.dumps(job))
                result = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--manifest",
                        str(args.manifest),
                        "--model",
                        str(args.model),
                        "--lm",
                        item,
                        "--worker",
                        str(scratch / "job.json"),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                row = {
                    "lm": name,
                    "lexicon_lines": words,
                    "setting": setting_name,
                    "lm_mb": (Path(folder) / "lm.bin").stat().st_size / 1e6,
                    **json.loads(result.stdout.strip().splitlines()[-1]),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)

    source = f"simulated log-probs (error rate {args.simulate:g})" if args.simulate is not None else f"`{args.model}`"
    table = "".join(
        f"| {r['lm']} | {r['lexicon_lines']} | {r['lm_mb']:.1f} | {r['setting']} | {r['load_s']:.1f} | "
        f"{r['decoder_mb']:.0f} | {r['peak_mb']:.0f} | {r['rtf']:.3f} | {r['wer']:.1f} |\n"
        for r in rows
    )
    text = (
        f"# Lexicon decoder speed and memory ({datetime.date.today()}, 1 thread)\n\n"
        f"    {' '.join(['bench/lm_decode.py', *sys.argv[1:]])}\n\n"
        f"`{args.manifest}`: first {len(utterances)} utterances, {audio:.0f} s of audio; log-probs: {source}; "
        f"LM weight {args.lm_weight:g}, word score {args.word_score:g}.\n\n"
        "| LM | lexicon lines | lm.bin MB | beam | load s | decoder MB | peak RSS MB | RTF | WER % |\n"
        "|---|---:|---:|---|---:|---:|---:|---:|---:|\n" + table
    )
    atomic_write_text(args.out, text)
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(rows, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
