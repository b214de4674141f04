"""Long audio: is chunked transcription as accurate as utterance by utterance, and are its time and
memory linear and bounded?

    .venv/bin/python bench/longform.py --model recipes/espeak/exp/best.pt \
        --manifest recipes/espeak/data/test.jsonl [--lm recipes/espeak/exp/lm/lm.bin --lm-weight 2 --word-score 1]

1. Accuracy: the test utterances joined into one file (``--gap`` seconds of silence between them)
   and transcribed by ``dfcnn transcribe`` in 30 s chunks, against the same utterances decoded one by
   one; WER of each against the joined references.
2. Cost: files of 1, 10 and 60 minutes (test utterances cycled) transcribed by ``dfcnn transcribe``
   in a fresh process each: wall time, real-time factor and peak resident memory (GNU time's %M).

Writes ``bench/longform.md`` and ``bench/longform.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dfcnn.audio import SAMPLE_RATE, load_audio  # noqa: E402
from dfcnn.data import read_manifest  # noqa: E402
from dfcnn.decode import DecoderConfig  # noqa: E402
from dfcnn.loading import load_model  # noqa: E402
from dfcnn.metrics import score  # noqa: E402


def run_transcribe(model: Path, audio: Path, out_dir: Path, decoder_args: list[str]) -> tuple[dict, float, float]:
    """(transcript dict, wall seconds, peak RSS MiB) of ``dfcnn transcribe`` in its own process."""
    command = [
        "/usr/bin/time",
        "-f",
        "%e %M",
        sys.executable,
        "-m",
        "dfcnn",
        "transcribe",
        "--model",
        str(model),
        str(audio),
        "--format",
        "json",
        "--output-dir",
        str(out_dir),
        "--quiet",
        "--device",
        "cpu",
        *decoder_args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"dfcnn transcribe failed:\n{result.stderr}")
    wall, rss_kb = result.stderr.strip().splitlines()[-1].split()
    transcript = json.loads((out_dir / f"{audio.stem}.json").read_text())
    return transcript, float(wall), int(rss_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True, help="test utterances to join")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds of silence between joined utterances")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--lm", type=Path, default=None, help="also measure accuracy with this LM")
    parser.add_argument("--lm-weight", type=float, default=1.0)
    parser.add_argument("--word-score", type=float, default=0.0)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "longform.md")
    args = parser.parse_args()

    utterances = read_manifest(args.manifest)
    waves = [load_audio(u.audio_filepath) for u in utterances]
    gap = np.zeros(int(args.gap * SAMPLE_RATE), dtype=np.float32)
    joined = np.concatenate([piece for wave in waves for piece in (wave, gap)])
    recognizer = load_model(args.model, "cpu", decoder=None)
    refs = " ".join(recognizer.tokenizer.normalize(u.text) for u in utterances)

    decoders: dict[str, list[str]] = {"greedy": ["--greedy"]}
    if args.lm is not None:
        decoders["beam+lexicon+LM"] = [
            "--lm",
            str(args.lm),
            "--lm-weight",
            str(args.lm_weight),
            "--word-score",
            str(args.word_score),
        ]
    accuracy = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        long_file = tmp / "joined.flac"
        soundfile.write(str(long_file), joined, SAMPLE_RATE)
        for name, decoder_args in decoders.items():
            config = None
            if args.lm is not None and name != "greedy":
                config = DecoderConfig(lm=str(args.lm), lm_weight=args.lm_weight, word_score=args.word_score)
            recognizer.set_decoder(config)
            one_by_one = " ".join(h.text for h in recognizer.recognize(utterances))
            transcript, _, _ = run_transcribe(args.model, long_file, tmp, decoder_args)
            single, chunked = score([refs], [one_by_one]).wer, score([refs], [transcript["text"]]).wer
            accuracy.append(
                {
                    "decoder": name,
                    "utterances": len(utterances),
                    "audio_min": len(joined) / SAMPLE_RATE / 60,
                    "wer_one_by_one": single,
                    "wer_long_file": chunked,
                    "relative_change": (chunked - single) / max(single, 1e-9),
                }
            )
            print(f"{name}: WER one by one {single:.2f}%, long file {chunked:.2f}%", flush=True)

        cost = []
        for minutes in args.minutes:
            samples = int(minutes * 60 * SAMPLE_RATE)
            repeats = -(-samples // len(joined))
            path = tmp / f"long-{minutes:g}min.flac"
            soundfile.write(str(path), np.tile(joined, repeats)[:samples], SAMPLE_RATE)
            transcript, wall, rss = run_transcribe(args.model, path, tmp, [])
            cost.append(
                {
                    "audio_min": minutes,
                    "wall_s": wall,
                    "rtf": wall / (minutes * 60),
                    "peak_rss_mib": rss,
                    "words": sum(len(s["words"]) for s in transcript["segments"]),
                }
            )
            print(
                f"{minutes:g} min: {wall:.1f} s wall, RTF {wall / (minutes * 60):.4f}, peak RSS {rss:.0f} MiB",
                flush=True,
            )
            path.unlink()

    lines = [
        f"# Long audio ({datetime.date.today()}, {platform.processor() or platform.machine()}, "
        f"{__import__('os').cpu_count()} CPU cores, torch threads default)",
        "",
        f"    python bench/longform.py {shlex.join(sys.argv[1:])}",
        "",
        f"model `{args.model}`, utterances from `{args.manifest}` joined with {args.gap:g} s of silence;",
        "`dfcnn transcribe` (30 s chunks with context, segments at pauses, forced-aligned words) in a fresh process.",
        "",
        "| decoder | utterances | audio (min) | WER one by one % | WER long file % | relative change |",
        "|---|---:|---:|---:|---:|---:|",
        *[
            f"| {a['decoder']} | {a['utterances']} | {a['audio_min']:.1f} | {a['wer_one_by_one']:.2f} | "
            f"{a['wer_long_file']:.2f} | {100 * a['relative_change']:+.1f}% |"
            for a in accuracy
        ],
        "",
        "| audio (min) | wall (s) | real-time factor | peak RSS (MiB) | words |",
        "|---:|---:|---:|---:|---:|",
        *[
            f"| {c['audio_min']:g} | {c['wall_s']:.1f} | {c['rtf']:.4f} | {c['peak_rss_mib']:.0f} | {c['words']} |"
            for c in cost
        ],
        "",
    ]
    args.out.write_text("\n".join(lines))
    args.out.with_suffix(".json").write_text(json.dumps({"accuracy": accuracy, "cost": cost}, indent=2) + "\n")
    print("\n".join(lines))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
