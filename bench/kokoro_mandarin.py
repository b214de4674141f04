"""Kokoro's Mandarin packs reading Chinese, through two phonemisers, judged by the shipped `mandarin`
model: is there a Mandarin judge here good enough to check a Mandarin pre-training corpus?

    OMP_NUM_THREADS=1 .venv/bin/python bench/kokoro_mandarin.py

Twenty sentences of aishell1_sample's train split (seeded sample, recipes/aishell1_sample/data), each
read by two packs through eSpeak NG's `cmn` (kokoro-onnx's own phonemiser) and, when `misaki[zh]` is
importable (the `voices` extra has it), through misaki's Mandarin phonemes, which Kokoro v1.0 was trained
on. Scored by the shipped `mandarin` model (and, as its ceiling, the AISHELL recordings of the same
sentences, which it was trained on), with its shipped decoder: CER, and the toneless pinyin syllable
error rate (pypinyin, when importable). Writes bench/kokoro_mandarin.md and .json. Needs the `voices`
extra and the aishell1_sample recipe's data/ (./run.sh --stage 0).
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sys
from pathlib import Path

import numpy as np
import soxr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's dfcnn and recipes

from dfcnn import load_model  # noqa: E402
from dfcnn.fileio import atomic_write_text  # noqa: E402
from dfcnn.metrics import score  # noqa: E402
from recipes.synth_english import neural_voices  # noqa: E402

VOICES = ("zf_xiaoxiao", "zm_yunxi")


def phonemisers() -> dict:
    """{name: text -> (phonemes or text, is_phonemes)}: eSpeak NG's cmn always, misaki when importable."""
    found = {"espeak-cmn": lambda text: (text, False)}
    try:
        misaki = neural_voices.mandarin_phonemiser()  # the corpus's own (recipes/synth_mandarin)
    except neural_voices.VoiceError:
        return found
    found["misaki-zh"] = lambda text: (misaki(text), True)
    return found


def syllables(text: str) -> str | None:
    try:
        from pypinyin import lazy_pinyin
    except ImportError:
        return None
    return " ".join(lazy_pinyin(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--manifest", type=Path, default=REPO / "recipes/aishell1_sample/data/train.jsonl")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "kokoro_mandarin.md")
    args = parser.parse_args()
    if not args.manifest.is_file():
        parser.error(f"{args.manifest}: not found (bash recipes/aishell1_sample/run.sh --stop-stage 0 writes it)")
    rows = [json.loads(line) for line in args.manifest.read_text(encoding="utf-8").splitlines()]
    random.Random(0).shuffle(rows)
    texts = [row["text"] for row in rows[: args.sentences]]
    kokoro = neural_voices.kokoro_engine()
    judge = load_model("mandarin", "cpu")
    results = []
    # the judge's ceiling: the AISHELL recordings of the same sentences (it was trained on them)
    recorded = [judge.transcribe(row["audio_filepath"]).text for row in rows[: args.sentences]]
    refs_py = [syllables(t) for t in texts]
    ser = score(refs_py, [syllables(h) or "-" for h in recorded]).wer if refs_py[0] is not None else None
    results.append({"voice": "AISHELL recording", "phonemiser": "-", "cer": score(texts, recorded).cer,
                    "syllable_er": ser, "hyps": recorded})  # fmt: skip
    for voice in VOICES:
        for name, phonemise in phonemisers().items():
            hyps = []
            for text in texts:
                spoken, is_phonemes = phonemise(text)
                lang = "cmn" if not is_phonemes else "en-us"  # the language is unused with phonemes
                wave, rate = kokoro.create(
                    spoken, voice=neural_voices.style(voice), speed=1.0, lang=lang, is_phonemes=is_phonemes
                )
                wave = soxr.resample(np.asarray(wave, np.float32), rate, 16000)
                hyps.append(judge.transcribe(wave).text)
            cer = score(texts, hyps).cer
            hyps_py = [syllables(h) or "-" for h in hyps]
            ser = score(refs_py, hyps_py).wer if refs_py[0] is not None else None
            results.append({"voice": voice, "phonemiser": name, "cer": cer, "syllable_er": ser, "hyps": hyps})
            print(f"{voice} {name}: CER {cer:.1f}" + (f", syllables {ser:.1f}" if ser is not None else ""), flush=True)
    table = "".join(
        f"| {r['voice']} | {r['phonemiser']} | {r['cer']:.1f} | "
        + (f"{r['syllable_er']:.1f}" if r["syllable_er"] is not None else "-")
        + f" | {r['hyps'][0]} |\n"
        for r in results
    )
    text = (
        f"# Kokoro Mandarin judged by the shipped mandarin model ({datetime.date.today()})\n\n"
        f"    python bench/kokoro_mandarin.py{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}\n\n"
        f"{len(texts)} sentences of `{args.manifest.relative_to(REPO)}` (first: {texts[0]}).\n\n"
        "| voice | phonemiser | CER % | toneless syllable error % | first hypothesis |\n|---|---|---:|---:|---|\n"
        + table
    )
    atomic_write_text(args.out, text)
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
