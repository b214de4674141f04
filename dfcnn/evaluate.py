"""Scoring a model on a manifest: transcripts -> WER/CER tables and per-utterance alignments, and
tuning the beam search's LM weight and word score on a dev set.

    dfcnn evaluate --model exp/best.pt --manifest data/test.jsonl --out exp/eval-test [--lm lm/lm.bin]
    dfcnn tune --model exp/best.pt --manifest data/dev.jsonl --lm lm/lm.bin --out exp/tune

``evaluate`` writes ``results.md`` (the table), ``alignments.txt`` (REF/HYP per utterance, errors
marked) and ``hyps.jsonl`` (utt_id, ref, hyp) to the output folder.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, replace
from pathlib import Path

from .atomic import atomic_write_text
from .data import read_manifest
from .decode import BeamSearchConfig, build_decoder
from .inference import load_model
from .lm import scoring_text
from .metrics import Score, format_alignments, format_table, score


def _decoder_name(config: BeamSearchConfig | None) -> str:
    if config is None:
        return "greedy"
    parts = [f"beam {config.beam_size}"]
    if config.lexicon or config.lm:
        parts.append("lexicon")
    if config.lm:
        parts.append(f"LM {Path(config.lm).name} (weight {config.lm_weight:g}, word score {config.word_score:g})")
    return ", ".join(parts)


def decoder_variants(config: BeamSearchConfig, tokenizer) -> dict[str, BeamSearchConfig | None]:
    """Greedy, then beam search without lexicon, with the lexicon, with lexicon and LM: what each adds."""
    from .lm import resolve_lexicon

    variants: dict[str, BeamSearchConfig | None] = {"greedy": None}
    variants["beam"] = replace(config, lexicon=None, lm=None)
    lexicon = resolve_lexicon(config.lexicon, config.lm, tokenizer)
    if lexicon is not None:
        # the word score was tuned with the LM: alone, the lexicon gets the neutral 0
        variants["beam+lexicon"] = replace(config, lexicon=str(lexicon), lm=None, word_score=0.0)
    if config.lm is not None:
        variants["beam+lexicon+LM"] = replace(config, lexicon=str(lexicon))
    return variants


def evaluate(
    model_path: str | Path, manifest: str | Path, out_dir: str | Path | None = None, device: str = "auto",
    max_batch_duration: float = 200.0, name: str | None = None, progress: bool = True,
    decoder: BeamSearchConfig | None = None, compare: bool = False,
) -> tuple[Score, str]:
    """Decode every utterance of ``manifest`` and score it; returns (score, markdown table).

    With ``compare`` (and a beam search ``decoder``), the network runs once and the table has a row
    per ``decoder_variants``; the returned score is the last (fullest) decoder's.
    """
    recognizer = load_model(model_path, device)
    utterances = read_manifest(manifest)
    name = name or Path(manifest).stem
    if compare and decoder is not None:
        variants = decoder_variants(decoder, recognizer.tokenizer)
    else:
        variants = {_decoder_name(decoder): decoder}
    log_probs = recognizer.utterance_log_probs(utterances, max_batch_duration, progress=progress)
    ids = [u.utt_id for u in utterances]
    scores: dict[str, Score] = {}
    for label, config in variants.items():
        decode = build_decoder(recognizer.tokenizer, config)
        # unit pinyin: syllables, so WER is the syllable error rate; a hanzi lexicon: characters
        hanzi = decode.writes_characters
        normalize = scoring_text(recognizer.tokenizer, hanzi)
        refs = [normalize(u.text) for u in utterances]
        hyps = [normalize(decode(lp[None], _length(lp))[0].text) for lp in log_probs]
        result = score(refs, hyps)
        shown = f"{label} (characters)" if hanzi else label
        row = f"{name} {shown}" if len(variants) > 1 else f"{name} (characters)" if hanzi else name
        scores[row] = result
        if out_dir is not None:
            suffix = f"-{label.replace('+', '-').replace(' ', '')}" if len(variants) > 1 else ""
            out = Path(out_dir)
            atomic_write_text(out / f"alignments{suffix}.txt", format_alignments(ids, result))
            atomic_write_text(
                out / f"hyps{suffix}.jsonl",
                "".join(
                    json.dumps({"utt_id": i, "ref": r, "hyp": h, "audio_filepath": str(u.audio_filepath)},
                               ensure_ascii=False) + "\n"
                    for i, r, h, u in zip(ids, refs, hyps, utterances)
                ),
            )
    table = format_table(scores)
    if out_dir is not None:
        decoders = "".join(f"decoder {label}: {_decoder_name(config)}\n" for label, config in variants.items())
        atomic_write_text(Path(out_dir) / "results.md", f"model: {model_path}\nmanifest: {manifest}\n{decoders}\n{table}")
    return result, table


def tune_decoder(
    model_path: str | Path, manifest: str | Path, base: BeamSearchConfig, lm_weights: list[float],
    word_scores: list[float], out_dir: str | Path | None = None, device: str = "auto",
    max_batch_duration: float = 200.0, progress: bool = True,
) -> tuple[BeamSearchConfig, str]:
    """Grid search of ``lm_weight`` x ``word_score`` on a dev manifest, by WER then CER (hanzi output: CER first).

    The network runs once; each grid point only re-runs the beam search. Returns the best config
    and a markdown table of every point; ``out_dir`` gets ``tune.md`` and ``best.json``.
    """
    from tqdm import tqdm

    recognizer = load_model(model_path, device)
    utterances = read_manifest(manifest)
    log_probs = recognizer.utterance_log_probs(utterances, max_batch_duration, progress=progress)
    rows, best = [], None
    grid = list(itertools.product(lm_weights, word_scores))
    for lm_weight, word_score in tqdm(grid, desc="tuning", disable=not progress, leave=False):
        config = replace(base, lm_weight=lm_weight, word_score=word_score)
        decode = build_decoder(recognizer.tokenizer, config)
        hanzi = decode.writes_characters  # then the CER ranks: its WER counts sentences
        normalize = scoring_text(recognizer.tokenizer, hanzi)
        refs = [normalize(u.text) for u in utterances]
        hyps = [normalize(decode(lp[None], _length(lp))[0].text) for lp in log_probs]
        result = score(refs, hyps)
        key = (result.words.error_rate, result.chars.error_rate)
        rows.append((lm_weight, word_score, *key))
        key = key[::-1] if hanzi else key
        if best is None or key < best[0]:
            best = (key, config)
    table = "| LM weight | word score | WER % | CER % |\n|---:|---:|---:|---:|\n" + "".join(
        f"| {w:g} | {s:g} | {wer:.2f} | {cer:.2f} |\n" for w, s, wer, cer in rows
    )
    assert best is not None
    if out_dir is not None:
        out_dir = Path(out_dir)
        atomic_write_text(out_dir / "tune.md", f"model: {model_path}\nmanifest: {manifest}\n\n{table}")
        atomic_write_text(out_dir / "best.json", json.dumps(asdict(best[1]), indent=2) + "\n")
    return best[1], table


def _length(log_probs):
    import torch

    return torch.tensor([log_probs.shape[0]])
