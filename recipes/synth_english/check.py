#!/usr/bin/env python3
"""Measure a built synthetic English corpus: per split and per voice, the hours, speaking rate, levels,
peaks, clipping and silent files, over every clip or a seeded sample of them.

    python -m recipes.synth_english.check                      # data/synth_english, every clip
    python -m recipes.synth_english.check --out /tmp/synth --sample 300

Exit code 1 when a clip is unreadable, not 16 kHz mono, disagrees with its manifest duration, is
silent (RMS below -60 dBFS) or clips (any |sample| >= 0.999).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile

from dfcnn.data import read_manifest
from dfcnn.errors import DfcnnError
from recipes.common import REPO

SPLITS = ("train", "dev", "test")


def measure(path: Path, duration: float) -> tuple[dict, list[str]]:
    problems = []
    try:
        wave, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        return {}, [f"{path}: unreadable ({error})"]
    if rate != 16000 or wave.shape[1] != 1:
        problems.append(f"{path}: {rate} Hz, {wave.shape[1]} channel(s), not 16 kHz mono")
    wave = wave[:, 0]
    rms_db = 20 * np.log10(np.sqrt(np.mean(wave.astype(np.float64) ** 2)) + 1e-12)
    peak = float(np.abs(wave).max())
    if abs(len(wave) / rate - duration) > 1e-3:
        problems.append(f"{path}: {len(wave) / rate:.4f} s, the manifest says {duration}")
    if rms_db < -60:
        problems.append(f"{path}: silent ({rms_db:.1f} dBFS)")
    if peak >= 0.999:
        problems.append(f"{path}: clips (peak {peak:.4f})")
    return {"rms_db": rms_db, "peak": peak}, problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "data" / "synth_english", help="corpus folder (default: %(default)s)"
    )
    parser.add_argument("--sample", type=int, default=0, help="clips per split to read, seeded (default: all)")
    args = parser.parse_args(argv)
    try:
        details = json.loads((args.out / "corpus.json").read_text())["utterances"]
        manifests = {split: read_manifest(args.out / f"{split}.jsonl") for split in SPLITS}
    except (OSError, ValueError, DfcnnError) as error:
        print(f"error: {args.out}: not a built corpus ({error})", file=sys.stderr)
        return 1
    rng = np.random.default_rng(0)
    rows, problems = defaultdict(list), []
    print("split  utterances   hours  words/utt")
    for split, utterances in manifests.items():
        words = np.mean([len(u.text.split()) for u in utterances])
        print(f"{split:5s} {len(utterances):11d} {sum(u.duration for u in utterances) / 3600:7.3f} {words:10.1f}")
        if args.sample and args.sample < len(utterances):
            utterances = [utterances[i] for i in sorted(rng.choice(len(utterances), args.sample, replace=False))]
        for utt in utterances:
            levels, found = measure(utt.audio_filepath, utt.duration)
            problems += found
            if levels:
                speed = details[utt.utt_id]["augment"].get("speed", 1.0)
                rows[details[utt.utt_id]["voice"]].append(
                    (utt.duration, utt.duration * speed / len(utt.text.split()), levels["rms_db"], levels["peak"])
                )
    espeak = [key for key in rows if key.startswith("espeak:")]
    if espeak:  # some 90 variants: one row for them all
        rows[f"espeak:* ({len(espeak)} variants)"] = [value for key in espeak for value in rows.pop(key)]
    print("\nvoice                            clips  s/word (at speed 1)  rms dBFS        peak max")
    for voice, values in sorted(rows.items(), key=lambda item: (item[0].startswith("espeak"), item[0])):
        a = np.array(values)
        print(
            f"{voice:32s} {len(a):5d}  {a[:, 1].mean():.2f} ({a[:, 1].min():.2f}-{a[:, 1].max():.2f})"
            f"     {a[:, 2].min():6.1f} ..{a[:, 2].max():6.1f}  {a[:, 3].max():.3f}"
        )
    for problem in problems[:20]:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"\n{sum(len(v) for v in rows.values())} clips read, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
