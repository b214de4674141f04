"""Load test of ``dfcnn serve``: concurrent uploads and live streams on 127.0.0.1, bounded in count and time.

    OMP_NUM_THREADS=1 .venv/bin/python bench/serve_load.py --model recipes/fsdd/exp \\
        --manifest recipes/fsdd/data/test.jsonl --scenarios 2:2 8:4 [--seconds 60]

Each scenario ``UPLOADS:STREAMS`` starts a fresh ``dfcnn serve`` (its limits from the options below),
then for ``--seconds`` runs UPLOADS clients that post 10 s recordings back to back through
``/v1/audio/transcriptions`` (a 503 is waited out for its Retry-After, at most 1 s) and STREAMS
clients that send 10 s recordings over ``WS /v1/stream`` at real-time pace (100 ms of PCM16 every
100 ms), then eof. Recordings are the manifest's utterances joined with 0.3 s gaps.

Reported: uploads answered per second, their latency (p50/p95/p99 of the 200s), 503s (clean
refusals), errors (anything else: other statuses, broken connections, timeouts); streams finished,
streams held in real time (the done arrived within ``--realtime-lag`` s of the eof, so the server
kept pace with the audio), their lag; the server's resident memory (start, peak, end, and the
drift from the second to the last quarter of the run, after the first quarter's warm-up: flat or
not). Writes ``bench/serve_load.md`` and ``bench/serve_load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from helpers import dfcnn_serve  # noqa: E402  (the tests' way to start a server on a free port)

from dfcnn.audio import SAMPLE_RATE, load_audio  # noqa: E402
from dfcnn.data import read_manifest  # noqa: E402
from dfcnn.fileio import atomic_write_text  # noqa: E402

CLIP_SECONDS = 10.0  # length of each upload / stream
BLOCK_SECONDS = 0.1  # a stream's message: 100 ms of audio


def clips(manifest: Path, folder: Path, count: int = 8) -> list[Path]:
    """``count`` WAV files of about CLIP_SECONDS each, the manifest's utterances joined with 0.3 s gaps."""
    gap = np.zeros(round(0.3 * SAMPLE_RATE), np.float32)
    utterances = read_manifest(manifest)
    paths, current, index = [], [], 0
    while len(paths) < count:
        current += [load_audio(utterances[index % len(utterances)].audio_filepath), gap]
        index += 1
        if sum(len(part) for part in current) >= CLIP_SECONDS * SAMPLE_RATE:
            path = folder / f"clip{len(paths)}.wav"
            soundfile.write(path, np.concatenate(current), SAMPLE_RATE, subtype="PCM_16")
            paths.append(path)
            current = []
    return paths


class Tally:
    """What the clients saw."""

    def __init__(self):
        self.latencies: list[float] = []  # seconds, answered uploads
        self.busy = 0  # 503s
        self.errors: list[str] = []
        self.stream_lags: list[float] = []  # seconds from eof to done
        self.streams_refused = 0


async def upload_client(url: str, files: list[Path], until: float, tally: Tally, offset: int) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=120) as http:
        index = offset
        while time.monotonic() < until:
            path = files[index % len(files)]
            index += 1
            start = time.monotonic()
            try:
                answer = await http.post(
                    f"{url}/v1/audio/transcriptions",
                    data={"model": "dfcnn"},
                    files={"file": (path.name, path.read_bytes(), "audio/wav")},
                )
            except httpx.HTTPError as error:
                tally.errors.append(f"upload: {type(error).__name__}: {error}")
                continue
            if answer.status_code == 200 and "text" in answer.json():
                tally.latencies.append(time.monotonic() - start)
            elif answer.status_code == 503:
                tally.busy += 1
                await asyncio.sleep(min(1.0, float(answer.headers.get("Retry-After", 1))))
            else:
                tally.errors.append(f"upload: HTTP {answer.status_code}: {answer.text[:200]}")


async def stream_client(url: str, files: list[Path], until: float, tally: Tally, offset: int) -> None:
    import websockets

    index = offset
    while time.monotonic() + CLIP_SECONDS < until:
        samples, _ = soundfile.read(files[index % len(files)], dtype="int16")
        index += 1
        block = round(BLOCK_SECONDS * SAMPLE_RATE)
        try:
            # no client keepalive: a server slow to pong is measured as lag, not counted as an error
            stream_url = f"{url.replace('http', 'ws')}/v1/stream"
            async with websockets.connect(stream_url, open_timeout=30, ping_timeout=None) as ws:
                ready = json.loads(await ws.recv())
                assert ready["type"] == "ready", ready
                reader = asyncio.ensure_future(_read_until_done(ws))
                started = time.monotonic()
                for number, position in enumerate(range(0, len(samples), block)):
                    await ws.send(samples[position : position + block].tobytes())
                    await asyncio.sleep(max(0.0, started + (number + 1) * BLOCK_SECONDS - time.monotonic()))
                eof = time.monotonic()
                await ws.send(json.dumps({"type": "eof"}))
                done = await asyncio.wait_for(reader, 60)
                tally.stream_lags.append(time.monotonic() - eof)
                if done.get("reason") != "eof":
                    tally.errors.append(f"stream: ended by {done.get('reason')}")
        except websockets.exceptions.InvalidStatus as refused:
            if refused.response.status_code == 503:
                tally.streams_refused += 1
                await asyncio.sleep(1.0)
            else:
                tally.errors.append(f"stream: HTTP {refused.response.status_code}")
        except (TimeoutError, OSError, websockets.exceptions.WebSocketException, AssertionError) as error:
            tally.errors.append(f"stream: {type(error).__name__}: {error}")


async def _read_until_done(ws) -> dict:
    async for message in ws:
        event = json.loads(message)
        if event["type"] == "done":
            return event
        if event["type"] == "error":
            raise AssertionError(event["message"])
    raise AssertionError("the stream closed without a done")


def watch_memory(pid: int, stop: threading.Event, samples: list[tuple[float, float]]) -> None:
    """Resident memory (MiB) of the server process every 0.25 s until ``stop``."""
    import psutil

    process = psutil.Process(pid)
    start = time.monotonic()
    while not stop.is_set():
        try:
            samples.append((time.monotonic() - start, process.memory_info().rss / 2**20))
        except psutil.Error:
            return
        stop.wait(0.25)


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def run_scenario(args, files: list[Path], uploads: int, streams: int) -> dict:
    limits = [
        "--max-concurrency",
        args.max_concurrency,
        "--max-queue",
        args.max_queue,
        "--max-streams",
        args.max_streams,
        "--backend",
        args.backend,
    ]
    with dfcnn_serve("--model", args.model, *map(str, limits)) as (process, url):
        import httpx

        for path in files[:2]:  # warm-up: first requests load lazily imported code
            httpx.post(
                f"{url}/v1/audio/transcriptions",
                data={"model": "dfcnn"},
                files={"file": (path.name, path.read_bytes())},
                timeout=120,
            )
        import psutil

        server = psutil.Process(process.pid)
        cpu_before = sum(server.cpu_times()[:2])
        load_before = os.getloadavg()[0]
        memory: list[tuple[float, float]] = []
        stop = threading.Event()
        watcher = threading.Thread(target=watch_memory, args=(process.pid, stop, memory), daemon=True)
        watcher.start()
        tally = Tally()
        until = time.monotonic() + args.seconds

        async def everyone():
            clients = [upload_client(url, files, until, tally, i) for i in range(uploads)]
            clients += [stream_client(url, files, until, tally, i) for i in range(streams)]
            await asyncio.wait_for(asyncio.gather(*clients), args.seconds + 180)

        started = time.monotonic()
        asyncio.run(everyone())
        elapsed = time.monotonic() - started
        stop.set()
        watcher.join()
        server_cpu = sum(server.cpu_times()[:2]) - cpu_before
        health = httpx.get(f"{url}/health", timeout=10).json()
    rss = [value for _, value in memory]
    quarter = max(1, len(rss) // 4)
    held = [lag for lag in tally.stream_lags if lag <= args.realtime_lag]
    return {
        "uploads": uploads,
        "streams": streams,
        "seconds": round(elapsed, 1),
        "answered": len(tally.latencies),
        "requests_per_s": round(len(tally.latencies) / elapsed, 2),
        "latency_p50": percentile(tally.latencies, 50),
        "latency_p95": percentile(tally.latencies, 95),
        "latency_p99": percentile(tally.latencies, 99),
        "busy_503": tally.busy,
        "streams_done": len(tally.stream_lags),
        "streams_real_time": len(held),
        "streams_refused_503": tally.streams_refused,
        "stream_lag_p50": percentile(tally.stream_lags, 50),
        "stream_lag_p95": percentile(tally.stream_lags, 95),
        "errors": len(tally.errors),
        "error_examples": tally.errors[:5],
        "rss_start_mib": round(rss[0], 1) if rss else None,
        "rss_peak_mib": round(max(rss), 1) if rss else None,
        "rss_end_mib": round(rss[-1], 1) if rss else None,
        "rss_drift_mib": round(statistics.median(rss[-quarter:]) - statistics.median(rss[quarter : 2 * quarter]), 1)
        if rss
        else None,
        "server_cpu_per_s": round(server_cpu / elapsed, 2),  # cores the server used on average
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],  # the machine's, before / after
        "server_counts": health["counts"],
        "rss_every_5s_mib": [round(value, 1) for t, value in memory if t % 5 < 0.25],
    }


def markdown(results: dict) -> str:
    lines = [
        f"# `dfcnn serve` under load ({results['date']}, {results['machine']})",
        "",
        f"model `{results['model']}` ({results['backend']}), 10 s recordings; server limits: "
        f"{results['max_concurrency']} uploads at once (+ as many stream workers), queue {results['max_queue']}, "
        f"{results['max_streams']} streams; one thread per recognition; {results['seconds']:.0f} s per scenario.",
        "",
        "    " + results["command"],
        "",
        "| upload clients | stream clients | uploads answered | per s | latency p50 / p95 / p99 (s) | 503 (clean) | "
        "streams done | held real time | stream lag p50 / p95 (s) | errors | RSS start / peak / end (MiB) | "
        "RSS drift (MiB) | server CPU (cores) | machine load avg |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---|---:|---:|---|",
    ]
    for row in results["scenarios"]:
        lines.append(
            f"| {row['uploads']} | {row['streams']} | {row['answered']} | {row['requests_per_s']} | "
            f"{row['latency_p50']} / {row['latency_p95']} / {row['latency_p99']} | "
            f"{row['busy_503'] + row['streams_refused_503']} | {row['streams_done']} | {row['streams_real_time']} | "
            f"{row['stream_lag_p50']} / {row['stream_lag_p95']} | {row['errors']} | "
            f"{row['rss_start_mib']} / {row['rss_peak_mib']} / {row['rss_end_mib']} | {row['rss_drift_mib']} | "
            f"{row['server_cpu_per_s']} | {row['load_average'][0]} → {row['load_average'][1]} |"
        )
    lines += [
        "",
        f"Held real time: the stream's done arrived within {results['realtime_lag']} s of its eof (the server kept "
        "pace with audio sent at real-time speed). RSS drift: median of the last quarter of the run minus "
        "the second (the first is the warm-up). Errors are anything but a result or a clean 503 (none "
        "expected). Server CPU: its CPU seconds per second of the run; machine load average (1 min) before "
        "and after: other work on the machine competes for the same cores.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True, help="utterances joined into the 10 s recordings")
    parser.add_argument("--scenarios", nargs="+", default=["2:2", "8:4"], help="UPLOAD_CLIENTS:STREAM_CLIENTS")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each scenario")
    parser.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    parser.add_argument("--max-concurrency", type=int, default=2)
    parser.add_argument("--max-queue", type=int, default=4)
    parser.add_argument("--max-streams", type=int, default=8)
    parser.add_argument(
        "--realtime-lag", type=float, default=1.5, help="eof-to-done seconds a real-time stream may take"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "serve_load", help="writes OUT.md and OUT.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dfcnn-load-") as folder:
        files = clips(args.manifest, Path(folder))
        rows = []
        for scenario in args.scenarios:
            uploads, streams = (int(part) for part in scenario.split(":"))
            rows.append(run_scenario(args, files, uploads, streams))
            print(json.dumps(rows[-1]), flush=True)
    results = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}",
        "command": " ".join(["OMP_NUM_THREADS=1", "python", *sys.argv]),
        "model": str(args.model),
        "backend": args.backend,
        "max_concurrency": args.max_concurrency,
        "max_queue": args.max_queue,
        "max_streams": args.max_streams,
        "seconds": args.seconds,
        "realtime_lag": args.realtime_lag,
        "scenarios": rows,
    }
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(results, indent=2) + "\n")
    atomic_write_text(args.out.with_suffix(".md"), markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
