"""Deployment figures: the same model as PyTorch fp32, ONNX fp32 and ONNX int8 (speed and WER on the
same files, in one run), and live streaming (latency, CPU per second of audio, real-time streams per
2 cores).

    OMP_NUM_THREADS=1 .venv/bin/python bench/deploy.py --model recipes/fsdd/exp \\
        --manifest recipes/fsdd/data/test.jsonl --calibration recipes/fsdd/data/dev.jsonl

1. Export: ``dfcnn export --format onnx --int8`` of the model into a temp folder.
2. WER of each backend on the manifest, greedy and with the model's shipped decoder.
3. Speed, ``--repeats`` rounds, the backends in turn within each round (one thread each): the manifest's
   files recognised one batch at a time (``Recognizer.recognize``) and all of them joined into one
   long recording (0.3 s of silence between them) transcribed by ``transcribe``. Real-time factor =
   CPU seconds of the computing thread per second of audio (on a shared machine the wall clock
   measures the neighbours too); medians, and ratios taken within each round.
4. Streaming: that long recording fed to ``StreamingRecognizer`` in 100 ms blocks at each
   ``--stream-chunks`` size; CPU time of the calling thread per second of audio, the lookahead
   (chunk + receptive field: how old the newest audio a partial reflects can be), the 95th percentile
   compute time per block, and the streams two cores hold in real time (2 / CPU per audio second).

Writes ``bench/deploy.md`` and ``bench/deploy.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dfcnn.align import PauseFrames  # noqa: E402
from dfcnn.audio import SAMPLE_RATE, load_audio  # noqa: E402
from dfcnn.data import read_manifest  # noqa: E402
from dfcnn.decode import build_decoder  # noqa: E402
from dfcnn.deploy.export import export_model  # noqa: E402
from dfcnn.fileio import atomic_write_text  # noqa: E402
from dfcnn.loading import load_model  # noqa: E402
from dfcnn.longform import chunked_log_probs  # noqa: E402
from dfcnn.streaming import StreamConfig, StreamingRecognizer  # noqa: E402

BACKENDS = ("PyTorch fp32", "ONNX fp32", "ONNX int8")
BLOCK_SECONDS = 0.1  # what a live client sends per message


def recognizers(model: Path, folder: Path) -> dict:
    """The three backends, each with the model's shipped decoder (decoder.json copied by the export)."""
    return {
        "PyTorch fp32": load_model(model, "cpu"),
        "ONNX fp32": load_model(folder / "model.onnx", backend="onnx"),
        "ONNX int8": load_model(folder / "model.int8.onnx", backend="onnx"),
    }


def word_error_rates(recognizer, utterances) -> dict:
    """WER (and CER) with the shipped decoder and greedily, from one network pass."""
    log_probs = recognizer.utterance_log_probs(utterances)
    rows = {}
    for name, decoder in (("shipped", recognizer.decoder), ("greedy", build_decoder(recognizer.tokenizer))):
        texts = [decoder.best(lp[None], torch.tensor([lp.shape[0]]))[0].text for lp in log_probs]
        score = decoder.score([u.text for u in utterances], texts)
        rows[name] = {"decoder": decoder.config.describe(), "wer": round(score.wer, 2), "cer": round(score.cer, 2)}
    return rows


def timed(work) -> float:
    """CPU seconds of the calling thread: with one thread (torch and onnxruntime both compute in the
    caller) that is the compute time, whatever else the machine is running."""
    start = time.thread_time()
    work()
    return time.thread_time() - start


def speed(backends: dict, utterances, long_wave: np.ndarray, repeats: int) -> dict:
    """Real-time factors per backend (median over rounds) and ratios to PyTorch (median of per-round ratios)."""
    audio_seconds = sum(u.duration for u in utterances)
    long_seconds = len(long_wave) / SAMPLE_RATE
    runs = {name: {"files": [], "long": [], "network": []} for name in backends}
    for round_index in range(repeats + 1):  # round 0 warms caches and allocators up; not counted
        order = list(backends)[round_index % len(backends) :] + list(backends)[: round_index % len(backends)]
        for name in order:
            recognizer = backends[name]
            files = timed(lambda r=recognizer: r.recognize(utterances)) / audio_seconds
            long = timed(lambda r=recognizer: r.transcribe(long_wave)) / long_seconds
            network = timed(lambda r=recognizer: chunked_log_probs(r, [long_wave], r.config.chunk)) / long_seconds
            if round_index:
                runs[name]["files"].append(files)
                runs[name]["long"].append(long)
                runs[name]["network"].append(network)
    table = {}
    for name in backends:
        row = {}
        for kind in ("files", "long", "network"):
            row[f"rtf_{kind}"] = round(statistics.median(runs[name][kind]), 5)
            ratios = [base / mine for base, mine in zip(runs["PyTorch fp32"][kind], runs[name][kind])]
            row[f"speedup_{kind}"] = round(statistics.median(ratios), 2)
        table[name] = row
    return table


def streaming(recognizer, wave: np.ndarray, chunk_seconds: float) -> dict:
    """Stream ``wave`` in 100 ms blocks: CPU per audio second, lookahead, compute per block."""
    stream = StreamingRecognizer(recognizer, config=StreamConfig(chunk_seconds=chunk_seconds))
    block = round(BLOCK_SECONDS * SAMPLE_RATE)
    per_block = []
    cpu_start = time.thread_time()
    for start in range(0, len(wave), block):
        wall = time.perf_counter()
        stream.feed(wave[start : start + block])
        per_block.append(time.perf_counter() - wall)
    stream.finish()
    cpu = time.thread_time() - cpu_start
    cpu_per_second = cpu / (len(wave) / SAMPLE_RATE)
    return {
        "chunk_ms": round(chunk_seconds * 1000),
        "lookahead_ms": round(stream.lookahead_seconds * 1000),
        "cpu_per_audio_s": round(cpu_per_second, 4),
        "block_compute_p95_ms": round(float(np.percentile(per_block, 95)) * 1000, 1),
        "streams_per_2_cores": int(2 / cpu_per_second),
        "text": stream.transcript().text,
    }


def hold_seconds(recognizer) -> float:
    """Blank after a segment's last word that makes it final (``PauseFrames.hold``)."""
    config, frame = recognizer.config, recognizer.frame_seconds
    return PauseFrames.of(frame, config.min_pause, config.max_segment).hold * frame


def long_recording(utterances, gap: float = 0.3) -> np.ndarray:
    silence = np.zeros(round(gap * SAMPLE_RATE), np.float32)
    return np.concatenate([part for u in utterances for part in (load_audio(u.audio_filepath), silence)])


def markdown(results: dict) -> str:
    lines = [
        f"# Deployment: PyTorch vs ONNX Runtime, and live streaming ({results['date']}, {results['machine']})",
        "",
        f"model `{results['model']}`, {results['utterances']} files of `{results['manifest']}` "
        f"({results['audio_seconds']:.0f} s of audio; joined with 0.3 s gaps: one {results['long_seconds']:.0f} s "
        f"recording); one thread (`OMP_NUM_THREADS=1`), {results['repeats']} rounds, medians.",
        "",
        "    " + results["command"],
        "",
        "| backend | WER greedy | WER shipped decoder | RTF files | RTF long file | RTF long file, network only | "
        "speed vs PyTorch: files / long / network |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in BACKENDS:
        row, wer = results["speed"][name], results["wer"][name]
        lines.append(
            f"| {name} | {wer['greedy']['wer']:.2f} | {wer['shipped']['wer']:.2f} | {row['rtf_files']:.4f} | "
            f"{row['rtf_long']:.4f} | {row['rtf_network']:.4f} | {row['speedup_files']:.2f}x / "
            f"{row['speedup_long']:.2f}x / {row['speedup_network']:.2f}x |"
        )
    lines += [
        "",
        f"Shipped decoder: {results['wer']['PyTorch fp32']['shipped']['decoder']}. RTF: CPU seconds of the "
        "computing thread per second of audio; files and long file end to end (reading, network, decoding, "
        "alignment), network only: the long file's stitched log-probs (``chunked_log_probs``).",
        "",
        "## Streaming (`StreamingRecognizer`, 100 ms blocks)",
        "",
        "| backend | chunk (ms) | lookahead = chunk + receptive field (ms) | CPU s per audio s | "
        "compute per 100 ms block, p95 (ms) | real-time streams per 2 cores | finals = offline transcript |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in results["streaming"]:
        lines.append(
            f"| {row['backend']} | {row['chunk_ms']} | {row['lookahead_ms']} | {row['cpu_per_audio_s']:.4f} | "
            f"{row['block_compute_p95_ms']:.1f} | {row['streams_per_2_cores']} | "
            f"{'yes' if row['equals_offline'] else 'no'} |"
        )
    lines += [
        "",
        "A partial reflects audio up to the lookahead old (plus the block and the compute); a final comes "
        f"{results['final_hold_ms']} ms of pause after the speech (min_pause, the blank run that settles a "
        "segment) plus the lookahead. The last column compares each stream's finals with the same backend's "
        "offline ``transcribe`` of the recording.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="checkpoint or folder (with its decoder.json)")
    parser.add_argument("--manifest", type=Path, required=True, help="test manifest (references for WER)")
    parser.add_argument("--calibration", type=Path, required=True, help="manifest for the int8 activation ranges")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds")
    parser.add_argument("--stream-chunks", type=float, nargs="+", default=[0.08, 0.16, 0.32, 0.64])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "deploy", help="writes OUT.md and OUT.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    utterances = read_manifest(args.manifest)
    with tempfile.TemporaryDirectory(prefix="dfcnn-deploy-") as folder:
        export_model(load_model(args.model, "cpu"), "onnx", folder, int8=True, calibration=args.calibration)
        backends = recognizers(args.model, Path(folder))
        wave = long_recording(utterances)
        wer = {name: word_error_rates(r, utterances) for name, r in backends.items()}
        timing = speed(backends, utterances, wave, args.repeats)
        streams = []
        for name, recognizer in backends.items():
            offline = recognizer.transcribe(wave).text
            for chunk in args.stream_chunks:
                row = streaming(recognizer, wave, chunk)
                streams.append({"backend": name, **row, "equals_offline": row["text"] == offline})
    results = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} thread, load average {os.getloadavg()[0]:.1f}",
        "command": " ".join(["OMP_NUM_THREADS=1", "python", *sys.argv]),
        "model": str(args.model),
        "manifest": str(args.manifest),
        "utterances": len(utterances),
        "audio_seconds": sum(u.duration for u in utterances),
        "long_seconds": len(wave) / SAMPLE_RATE,
        "repeats": args.repeats,
        "wer": wer,
        "speed": timing,
        "streaming": [{k: v for k, v in row.items() if k != "text"} for row in streams],
        "final_hold_ms": round(hold_seconds(backends["PyTorch fp32"]) * 1000),
    }
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(results, indent=2) + "\n")
    atomic_write_text(args.out.with_suffix(".md"), markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
