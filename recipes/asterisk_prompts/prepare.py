#!/usr/bin/env python3
"""Prepare Asterisk's English prompts (Debian ``asterisk-core-sounds-en-g722``): real speech of one
professional US speaker (Allison Smith), 16 kHz G.722, with the exact transcripts of
``asterisk-core-sounds-en``'s ``core-sounds-en.txt.gz``. Licence CC BY-SA 3.0 (README.md).

    python -m recipes.asterisk_prompts.prepare          # apt-get download, then -> recipes/asterisk_prompts/data
    python -m recipes.asterisk_prompts.prepare --debs /tmp/debs --out /tmp/asterisk

The two packages are fetched with ``apt-get download`` into --debs (kept: a rerun reuses them) and
unpacked with ``dpkg-deb -x``; ffmpeg decodes G.722 (bash tools/install_tts.sh installs it). Writes
OUT/audio/<prompt>.flac (16 kHz mono 16-bit), OUT/{train,dev}.jsonl (dev: 5% of the prompts by hash
of their name) and OUT/vocab.txt. Prompts without a sayable transcript are left out: tones and silences
([...], (...), <...>), multi-digit numbers (said as a number or as digits?), acronyms (IAX, PBX).
"""

from __future__ import annotations

import argparse
import gzip
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

from dfcnn.data import Utterance
from dfcnn.errors import DfcnnError
from dfcnn.fileio import atomic_write_bytes
from dfcnn.text import normalize_english
from recipes.common import Splits, held_out, summary, write_splits
from recipes.download import DOWNLOAD_ROOT

HERE = Path(__file__).resolve().parent

PACKAGES = ("asterisk-core-sounds-en-g722", "asterisk-core-sounds-en")
SOUNDS = Path("usr/share/asterisk/sounds/en_US_f_Allison")  # inside the g722 package
TRANSCRIPTS = Path("usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")  # inside the other one
SAMPLE_RATE = 16000  # G.722 is wide-band: 16 kHz
DEV_FRACTION = 0.05
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)")  # [ascending tones], dash [-], (note: does not say "2")
_KEYS = {"*": " star ", "#": " pound "}  # as the prompts say the telephone keys
_ACRONYM = re.compile(r"\b[A-Z]{2,}\b|\b[A-Za-z]\.[A-Za-z0-9]")  # IAX, PBX, H.323: read letter by letter?


class PromptError(DfcnnError):
    """A package, a transcript line or an audio file is missing or malformed; the message names it."""


def read_transcripts(path: Path) -> dict[str, str]:
    """prompt name (``vm-deleted``, ``digits/1``) -> raw transcript, from ``core-sounds-en.txt.gz``."""
    try:
        lines = gzip.decompress(Path(path).read_bytes()).decode("utf-8").splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise PromptError(f"{path}: not a readable gzip text ({error})") from None
    prompts = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith(";"):
            continue
        name, sep, text = line.partition(": ")
        if not sep or not name.strip() or " " in name.strip():
            raise PromptError(f"{path}:{number}: expected 'name: transcript', got {line[:60]!r}")
        prompts[name.strip()] = text.strip()
    return prompts


def sayable(raw: str) -> str | None:
    """The normalised transcript of what the prompt says, or None when it is not certain."""
    if "<" in raw or raw.startswith("("):
        return None  # <beep ascending>, (10 seconds of silence)
    text = _ANNOTATION.sub(" ", raw)
    if _ACRONYM.search(text):
        return None
    for key, word in _KEYS.items():
        text = text.replace(key, word)
    if re.search(r"\d\d", text):
        return None  # dial 500, extension 1234, 28.8: a number or its digits?
    text = re.sub(r"\d", lambda digit: f" {DIGITS[int(digit.group())]} ", text)
    text = normalize_english(text)
    return text or None


def decode_g722(path: Path) -> np.ndarray:
    """float32 (N,) at 16 kHz of a raw G.722 file (ffmpeg)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise PromptError("ffmpeg is not installed (bash tools/install_tts.sh, or apt-get install ffmpeg)")
    done = subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "g722", "-i", str(path),
                           "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-"],
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
    if done.returncode != 0 or not done.stdout:
        raise PromptError(f"{path}: ffmpeg could not decode it as G.722 ({done.stderr.decode()[-200:].strip()})")
    return np.frombuffer(done.stdout, dtype="<i2").astype(np.float32) / 32768.0


def prepare_asterisk_prompts(
    out_dir: Path, sounds_dir: Path, transcripts: Path, dev_fraction: float = DEV_FRACTION
) -> Splits:
    """Decode every prompt with a sayable transcript to OUT/audio/<name>.flac; write the manifests."""
    prompts = read_transcripts(transcripts)
    out_dir = Path(out_dir).resolve()
    kept: dict[str, tuple[Path, str]] = {}
    for name, raw in sorted(prompts.items()):
        text, source = sayable(raw), Path(sounds_dir) / f"{name}.g722"
        if text is not None and source.is_file():
            kept[name] = (source, text)
    if not kept:
        raise PromptError(f"{sounds_dir}: no .g722 file has a sayable transcript in {transcripts}")
    (dev,) = held_out(kept, (dev_fraction,))
    splits: Splits = {"train": [], "dev": []}
    for name, (source, text) in kept.items():
        target = out_dir / "audio" / f"{name.replace('/', '__')}.flac"
        if not target.is_file():
            wave = decode_g722(source)
            encoded = io.BytesIO()  # encode in memory, then one atomic write: no half-written file
            soundfile.write(encoded, wave, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
            atomic_write_bytes(target, encoded.getvalue())
        duration = round(soundfile.info(str(target)).frames / SAMPLE_RATE, 4)
        splits["dev" if name in dev else "train"].append(Utterance(target, duration, text, name.replace("/", "__")))
    write_splits(splits, out_dir, Path(transcripts))
    return splits


def fetch(debs_dir: Path) -> tuple[Path, Path]:
    """``apt-get download`` both packages into ``debs_dir`` (unless there), unpack them there:
    (sounds folder, transcripts file)."""
    debs_dir = Path(debs_dir).resolve()
    debs_dir.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        if not list(debs_dir.glob(f"{package}_*.deb")):
            for tool in ("apt-get", "dpkg-deb"):
                if shutil.which(tool) is None:
                    raise PromptError(f"{tool} not found: the prompts come from Debian's {package} package")
            done = subprocess.run(["apt-get", "download", package], cwd=debs_dir, capture_output=True, text=True,
                                  timeout=600, stdin=subprocess.DEVNULL)  # fmt: skip
            if done.returncode != 0:
                tail = " | ".join(done.stderr.strip().splitlines()[-2:])
                raise PromptError(f"apt-get download {package} failed ({tail}); run apt-get update first")
        deb = sorted(debs_dir.glob(f"{package}_*.deb"))[-1]
        unpacked = debs_dir / "root"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True, timeout=300)
    return debs_dir / "root" / SOUNDS, debs_dir / "root" / TRANSCRIPTS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debs", type=Path, default=DOWNLOAD_ROOT / "asterisk_prompts",
                        help="where the .deb packages are downloaded and unpacked (default: %(default)s)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE / "data", help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        sounds, transcripts = fetch(args.debs)
        splits = prepare_asterisk_prompts(args.out, sounds, transcripts)
    except (DfcnnError, subprocess.SubprocessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary("asterisk_prompts", splits, args.out.resolve()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
