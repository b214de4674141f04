"""dfcnn against the offline alternative a user has here: PocketSphinx 5.1.1 (PyPI), with its own
US-English acoustic model, dictionary and 3-gram LM, on the same audio and the same text normaliser.

    .venv/bin/python bench/pocketsphinx_compare.py --manifest recipes/speechocean762/data/test.jsonl \
        --model phones=recipes/speechocean762/exp --model characters=recipes/speechocean762/exp-char
    ... --decoder corpus=exp/tune-lm/best.json --sphinx-lm mixed=exp/lm-mix   # other LMs: run.sh's LM table stage

Every system reads the manifest's audio through dfcnn's loader (16 kHz mono). Each dfcnn model (a
folder with best.pt and the decoder.json it ships) is scored greedy and with its shipped decoder, in
the same run as PocketSphinx; all are scored by dfcnn's decoders (one scoring path). Writes
``bench/pocketsphinx.md`` and ``.json`` (and the hypotheses beside them). pocketsphinx is in the
lock (the ``compare`` extra).

PocketSphinx is the slow part (about real time on one core) and does not depend on the dfcnn models:
its hypotheses are kept in ``<out>.sphinx/`` under a fingerprint of everything they depend on (the
pocketsphinx version, the LM and dictionary files, each audio file's path and size) and reused by a
later run with the same fingerprint; such a row says so and gives the wall time of the run that
decoded it. ``--no-sphinx-cache`` decodes again.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import multiprocessing
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dfcnn.audio import load_audio  # noqa: E402
from dfcnn.data import read_manifest  # noqa: E402
from dfcnn.decode import SHIPPED, DecoderConfig, resolve_decoder  # noqa: E402
from dfcnn.fileio import atomic_write_text  # noqa: E402
from dfcnn.loading import find_model, load_model  # noqa: E402
from dfcnn.metrics import score  # noqa: E402

_decoder = None


def _sphinx_init(lm: str | None = None, dictionary: str | None = None) -> None:
    """A PocketSphinx decoder per process: its packaged en-us model, dictionary and LM, or ``lm`` (ARPA)
    with ``dictionary``."""
    global _decoder
    from pocketsphinx import Decoder

    options = {"lm": lm, "dict": dictionary} if lm is not None else {}
    _decoder = Decoder(loglevel="FATAL", **options)


def sphinx_dictionary(lexicon: Path, out: Path) -> Path:
    """A dfcnn phone lexicon (``word P1 P2``, a line per pronunciation) as a PocketSphinx dictionary: the
    same ARPAbet phones, a word's second pronunciation as ``word(2)``."""
    seen: dict[str, int] = {}
    lines = []
    for line in lexicon.read_text(encoding="utf-8").splitlines():
        word, *phones = line.split()
        seen[word] = seen.get(word, 0) + 1
        lines.append(f"{word if seen[word] == 1 else f'{word}({seen[word]})'} {' '.join(phones)}\n")
    atomic_write_text(out, "".join(lines))
    return out


def run_sphinx(utterances, jobs: int, lm: str | None = None, dictionary: str | None = None) -> tuple[list[str], float]:
    """PocketSphinx's hypotheses for ``utterances`` in ``jobs`` processes, and the wall seconds."""
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(jobs, initializer=_sphinx_init, initargs=(lm, dictionary)) as pool:
        hyps = pool.map(_sphinx_one, [str(u.audio_filepath) for u in utterances], chunksize=8)
    return hyps, time.perf_counter() - start


def sphinx_fingerprint(utterances, lm: str | None, dictionary: str | None) -> str:
    """A hash of what PocketSphinx's hypotheses depend on: its version, the LM and dictionary files' bytes
    and each audio file's path and size (a re-encoded corpus changes the size)."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"pocketsphinx {version('pocketsphinx')}\n".encode())
    for path in (lm, dictionary):
        if path is not None:
            with open(path, "rb") as stream:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
        digest.update(b"\0")
    for u in utterances:
        digest.update(f"{u.utt_id}\t{u.audio_filepath}\t{Path(u.audio_filepath).stat().st_size}\n".encode())
    return digest.hexdigest()[:20]


def cached_sphinx(
    utterances, jobs: int, cache: Path | None, name: str, lm: str | None = None, dictionary: str | None = None
) -> tuple[list[str], float, int, str | None]:
    """run_sphinx, or its stored result: (hypotheses, wall seconds, processes, date of the stored run or None)."""
    if cache is None:
        return (*run_sphinx(utterances, jobs, lm, dictionary), jobs, None)
    path = cache / f"{name}-{sphinx_fingerprint(utterances, lm, dictionary)}.json"
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
        return stored["hyps"], stored["wall_s"], stored["jobs"], stored["date"]
    hyps, wall = run_sphinx(utterances, jobs, lm, dictionary)
    record = {"date": str(datetime.date.today()), "wall_s": wall, "jobs": jobs, "hyps": hyps}
    atomic_write_text(path, json.dumps(record, ensure_ascii=False) + "\n")
    return hyps, wall, jobs, None


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
    parser.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME=PATH",
        help="a dfcnn model (checkpoint or folder); repeat to compare several in one run",
    )
    parser.add_argument(
        "--decoder",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="also decode each model with this decoder config (dfcnn tune's best.json); repeat",
    )
    parser.add_argument(
        "--sphinx-lm",
        action="append",
        default=[],
        metavar="NAME=FOLDER",
        help="also run PocketSphinx with FOLDER/lm.arpa and a dictionary of FOLDER/lexicon.txt "
        "(a dfcnn phone lexicon); repeat",
    )
    parser.add_argument("--jobs", type=int, default=2, help="PocketSphinx processes")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "pocketsphinx.md")
    parser.add_argument(
        "--no-sphinx-cache",
        action="store_true",
        help="decode with PocketSphinx again, even where <out>.sphinx/ holds its result",
    )
    args = parser.parse_args()
    cache = None if args.no_sphinx_cache else args.out.with_suffix(".sphinx")
    models = dict(item.split("=", 1) if "=" in item else (Path(item).name, item) for item in args.model)
    decoders = {name: DecoderConfig.from_file(path) for name, path in (item.split("=", 1) for item in args.decoder)}
    sphinx_lms = dict(item.split("=", 1) for item in args.sphinx_lm)

    utterances = read_manifest(args.manifest)
    audio_seconds = sum(u.duration for u in utterances)
    rows, hyps_out = [], {}
    # PocketSphinx writes words: scored against the references as the first model normalises them
    normalize = load_model(next(iter(models.values())), "cpu", decoder=None).tokenizer.normalize
    references = [normalize(u.text) for u in utterances]

    def sphinx_row(label: str, key: str, lm: str | None = None, dictionary: str | None = None) -> None:
        sphinx, wall, jobs, stored = cached_sphinx(utterances, args.jobs, cache, key, lm, dictionary)
        hyps_out[key] = [normalize(h) for h in sphinx]
        if stored is not None:
            label += f" [hypotheses of the run of {stored}, reused]"
        rows.append((label, score(references, hyps_out[key]), "WER", wall, jobs))
        print(f"{label}: {wall:.0f} s", flush=True)

    sphinx_row("PocketSphinx 5.1.1 (en-us model + LM)", "pocketsphinx")
    with tempfile.TemporaryDirectory() as scratch:
        for name, folder in sphinx_lms.items():
            dictionary = sphinx_dictionary(Path(folder) / "lexicon.txt", Path(scratch) / f"{name}.dict")
            label = f"PocketSphinx 5.1.1 (en-us model, LM {name})"
            sphinx_row(label, f"pocketsphinx-{name}", str(Path(folder) / "lm.arpa"), str(dictionary))

    for name, path in models.items():
        shipped = resolve_decoder(SHIPPED, find_model(path).folder)
        for label, config in (("greedy", DecoderConfig()), ("as shipped", shipped), *decoders.items()):
            if config is None:
                continue
            recognizer = load_model(path, "cpu", decoder=config)
            start = time.perf_counter()
            hyps = [h.text for h in recognizer.recognize(utterances)]
            wall = time.perf_counter() - start
            decoder = recognizer.decoder
            metric = "PER" if decoder.writes == "units" and recognizer.tokenizer.unit == "phone" else "WER"
            hyps_out[f"{name}-{label}"] = hyps
            result = decoder.score([u.text for u in utterances], hyps)
            rows.append((f"dfcnn {name} ({label}: {config.describe()})", result, metric, wall, 1))
            print(f"dfcnn {name} {label}: {wall:.0f} s", flush=True)

    table = "".join(
        f"| {name} | {s.wer:.1f} ({metric}) | {s.cer:.1f} | {wall:.0f} | {wall / audio_seconds:.3f} | {jobs} |\n"
        for name, s, metric, wall, jobs in rows
    )
    text = (
        f"# dfcnn vs PocketSphinx ({datetime.date.today()}, {multiprocessing.cpu_count()} CPU cores)\n\n"
        f"    python bench/pocketsphinx_compare.py {shlex.join(sys.argv[1:])}\n\n"
        f"`{args.manifest}`: {len(utterances)} utterances, {audio_seconds / 3600:.2f} h; every system scored by "
        "one scoring path (`Decoder.score`: words through the english normaliser; a phone model's own output as "
        "phones, PER); jiwer.\n\n"
        "| system | WER % (PER % for phones) | CER % | wall (s) | RTF | processes |\n|---|---:|---:|---:|---:|---:|\n"
        + table
    )
    atomic_write_text(args.out, text)
    atomic_write_text(
        args.out.with_suffix(".json"),
        json.dumps(
            {name: {metric.lower(): s.wer, "cer": s.cer, "wall_s": wall} for name, s, metric, wall, _ in rows}, indent=2
        )
        + "\n",
    )
    atomic_write_text(
        args.out.with_suffix(".hyps.jsonl"),
        "".join(
            json.dumps(
                {"utt_id": u.utt_id, "ref": u.text, **{k: v[i] for k, v in hyps_out.items()}}, ensure_ascii=False
            )
            + "\n"
            for i, u in enumerate(utterances)
        ),
    )
    print(text)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
