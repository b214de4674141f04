"""Scoring a model on a manifest: transcripts -> WER/CER tables and per-utterance alignments.

    dfcnn evaluate --model exp/best.pt --manifest data/test.jsonl --out exp/eval-test

writes ``results.md`` (the table), ``alignments.txt`` (REF/HYP per utterance, errors marked) and
``hyps.jsonl`` (utt_id, ref, hyp) to the output folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from .data import atomic_write_text, read_manifest
from .inference import load_model
from .metrics import Score, format_alignments, format_table, score


def evaluate(
    model_path: str | Path, manifest: str | Path, out_dir: str | Path | None = None, device: str = "auto",
    max_batch_duration: float = 200.0, name: str | None = None, progress: bool = True,
) -> tuple[Score, str]:
    """Decode every utterance of ``manifest`` and score it; returns (score, markdown table)."""
    recognizer = load_model(model_path, device)
    utterances = read_manifest(manifest)
    hypotheses = recognizer.recognize(utterances, max_batch_duration, progress=progress)
    normalize = recognizer.tokenizer.normalize
    refs = [normalize(u.text) for u in utterances]
    hyps = [normalize(h.text) for h in hypotheses]
    result = score(refs, hyps)
    table = format_table({name or Path(manifest).stem: result})
    if out_dir is not None:
        out_dir = Path(out_dir)
        ids = [u.utt_id for u in utterances]
        atomic_write_text(out_dir / "results.md", f"model: {model_path}\nmanifest: {manifest}\n\n{table}")
        atomic_write_text(out_dir / "alignments.txt", format_alignments(ids, result))
        atomic_write_text(
            out_dir / "hyps.jsonl",
            "".join(
                json.dumps({"utt_id": i, "ref": r, "hyp": h, "audio_filepath": str(u.audio_filepath)}, ensure_ascii=False)
                + "\n"
                for i, r, h, u in zip(ids, refs, hyps, utterances)
            ),
        )
    return result, table
