"""Scoring a model on a manifest: transcripts -> WER/CER tables and per-utterance alignments, and
tuning the beam search's LM weight and word score on a dev set.

    dfcnn evaluate --model exp/ --manifest data/test.jsonl --out exp/eval-test   # greedy and shipped decoder
    dfcnn tune --model exp/best.pt --manifest data/dev.jsonl --lm exp/lm/lm.bin --out exp/tune --ship

``evaluate`` writes ``results.md`` (the table), ``alignments*.txt`` (REF/HYP per utterance, errors
marked) and ``hyps*.jsonl`` (utt_id, ref, hyp) to the output folder. The network runs once per
evaluation; every decoder compared re-decodes its log-probs.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .data import read_manifest, warn_about_references
from .decode import DECODER_FILE, PATH_OPTIONS, SHIPPED, DecoderConfig, build_decoder
from .errors import check_field
from .fileio import atomic_write_text
from .loading import find_model, load_model
from .metrics import PHONE_TABLES, Score, format_alignments, format_table


def decoder_variants(config: DecoderConfig, tokenizer) -> dict[str, DecoderConfig]:
    """Greedy, then beam search without lexicon, with the lexicon, with lexicon and LM, then with your
    words or grammar: what each adds."""
    from .lm import resolve_lexicon

    plain = replace(config, words=None, grammar=None, grammar_repeat=False)
    variants = {"greedy": DecoderConfig()}
    variants["beam"] = replace(plain, lexicon=None, lm=None, beam_size=config.beam)
    lexicon = resolve_lexicon(plain.lexicon, plain.lm, tokenizer)
    if lexicon is not None:
        # the word score was tuned with the LM: alone, the lexicon gets the neutral 0
        variants["beam+lexicon"] = replace(plain, lexicon=str(lexicon), lm=None, word_score=0.0)
    if config.lm is not None:
        variants["beam+lexicon+LM"] = replace(plain, lexicon=str(lexicon))
    if config.words is not None:
        variants[f"{list(variants)[-1]}+words"] = config
    if config.grammar is not None:
        variants["beam+grammar"] = config
    return variants


def _length(log_probs: torch.Tensor) -> torch.Tensor:
    return torch.tensor([log_probs.shape[0]])


@dataclass
class Row:
    """One decoder's score on a manifest: a row of ``evaluate``'s table."""

    label: str  # "greedy", "shipped", or the decoder's description (or its variant's name with ``compare``)
    decoder: DecoderConfig  # what decoded it
    writes: str  # what the decoder wrote: "units", "words" or "hanzi" (decode.WRITES)
    phones: bool  # a phone model's own output: its word error rate is the phone error rate (PER)
    score: Score

    @property
    def metric(self) -> str:
        """The error rate that ranks this row: "PER" (phones), "CER" (hanzi) or "WER"."""
        return "PER" if self.phones else "CER" if self.writes == "hanzi" else "WER"

    @property
    def error_rate(self) -> float:
        return self.score.cer if self.metric == "CER" else self.score.wer


def evaluate(
    model_path: str | Path,
    manifest: str | Path,
    out_dir: str | Path | None = None,
    device: str = "auto",
    max_batch_duration: float = 200.0,
    name: str | None = None,
    progress: bool = True,
    decoder: DecoderConfig | None | str = SHIPPED,
    compare: bool = False,
) -> tuple[Score, str]:
    """Decode every utterance of ``manifest`` and score it; returns (score, markdown table).

    Rows: the given decoder; with the default "shipped" decoder of a model that ships one, the
    network's own greedy output and the shipped decoder; with ``compare`` (and a beam search), one
    row per ``decoder_variants``. The returned score is the last (fullest) row's; ``evaluate_rows``
    returns every row.
    """
    rows, table = evaluate_rows(
        model_path, manifest, out_dir, device, max_batch_duration, name, progress, decoder, compare
    )
    return rows[-1].score, table


def evaluate_rows(
    model_path: str | Path,
    manifest: str | Path,
    out_dir: str | Path | None = None,
    device: str = "auto",
    max_batch_duration: float = 200.0,
    name: str | None = None,
    progress: bool = True,
    decoder: DecoderConfig | None | str = SHIPPED,
    compare: bool = False,
) -> tuple[list[Row], str]:
    """``evaluate``, returning each row's ``Row`` (in the table's order) and the markdown table."""
    recognizer = load_model(model_path, device, decoder=decoder)
    config = recognizer.decoder.config
    shipped = decoder == SHIPPED and not config.is_greedy
    utterances = read_manifest(manifest)
    name = name or Path(manifest).stem
    if compare and not config.is_greedy:
        variants = decoder_variants(config, recognizer.tokenizer)
    elif shipped:
        variants = {"greedy": DecoderConfig(), "shipped": config}
    else:
        variants = {config.describe(): config}
    log_probs = recognizer.utterance_log_probs(utterances, max_batch_duration, progress=progress)
    warn_about_references(
        manifest, utterances, recognizer.tokenizer, [len(lp) * recognizer.frame_seconds for lp in log_probs]
    )
    ids = [u.utt_id for u in utterances]
    scores: dict[str, Score] = {}
    phone_scores: dict[str, Score] = {}  # a phone model's own output: its error rate is the PER
    rows = []
    for label, variant in variants.items():
        decoding = recognizer.decoder if variant == config else build_decoder(recognizer.tokenizer, variant)
        hyps = [decoding.best(lp[None], _length(lp))[0].text for lp in log_probs]
        result = decoding.score([u.text for u in utterances], hyps)
        shown = f"{label} (characters)" if decoding.writes == "hanzi" else label
        row = f"{name} {shown}" if len(variants) > 1 else f"{name} (characters)" if decoding.writes == "hanzi" else name
        phones = decoding.writes == "units" and recognizer.tokenizer.unit == "phone"
        (phone_scores if phones else scores)[row] = result
        rows.append(Row(label, variant, decoding.writes, phones, result))
        if out_dir is not None:
            suffix = f"-{label.replace('+', '-').replace(' ', '')}" if len(variants) > 1 else ""
            refs = result.word_alignment.references
            out = Path(out_dir)
            atomic_write_text(out / f"alignments{suffix}.txt", format_alignments(ids, result))
            atomic_write_text(
                out / f"hyps{suffix}.jsonl",
                "".join(
                    json.dumps(
                        {"utt_id": i, "ref": " ".join(r), "hyp": h, "audio_filepath": str(u.audio_filepath)},
                        ensure_ascii=False,
                    )
                    + "\n"
                    for i, r, h, u in zip(ids, refs, hyps, utterances)
                ),
            )
    tables = [format_table(scores)] if scores else []
    tables += [format_table(phone_scores, PHONE_TABLES)] if phone_scores else []
    table = "\n".join(tables)
    if out_dir is not None:
        decoders = "".join(f"decoder {label}: {variant.describe()}\n" for label, variant in variants.items())
        header = f"model: {model_path}\nmanifest: {manifest}\n{decoders}\n"
        atomic_write_text(Path(out_dir) / "results.md", header + table)
    return rows, table


def tune_decoder(
    model_path: str | Path,
    manifest: str | Path,
    base: DecoderConfig,
    lm_weights: list[float],
    word_scores: list[float],
    out_dir: str | Path | None = None,
    device: str = "auto",
    max_batch_duration: float = 200.0,
    progress: bool = True,
    ship: bool = False,
    blank_penalties: list[float] | None = None,
    max_rounds: int = 3,
) -> tuple[DecoderConfig, str]:
    """The blank penalty and a grid search of ``lm_weight`` x ``word_score``, in turn, on a dev manifest.

    A first penalty is the one of ``blank_penalties`` (None: ``base``'s, not searched) whose greedy
    output has the lowest unit error rate (PER, CER, syllable ER): one greedy pass per value costs
    nothing beside the beam search. The grid runs at that penalty, ranked by the decoder's primary
    metric (WER, or CER for hanzi output), the other breaking ties. Then every penalty is decoded at the
    grid's best weights: a penalty that barely moves the greedy unit error rate can still decide how
    many words the lexicon + LM search deletes. Where another penalty wins, the grid runs again at it,
    and so on until penalty and weights agree (a grid keeps the weights, or the penalty stays) or
    ``max_rounds`` grids have run; a point decoded once is not decoded again. The network runs once.
    Returns the best config and markdown tables of every pass; ``out_dir`` gets ``tune.md`` and
    ``best.json``; ``ship`` writes the best config as the model's decoder.json beside its checkpoint.
    """
    from tqdm import tqdm

    check_field(max_rounds >= 1, "max_rounds", f"must be at least 1, got {max_rounds}")
    checkpoint = find_model(model_path).network
    recognizer = load_model(checkpoint, device, decoder=None)
    utterances = read_manifest(manifest)
    references = [u.text for u in utterances]
    log_probs = recognizer.utterance_log_probs(utterances, max_batch_duration, progress=progress)
    decoded: dict[DecoderConfig, tuple] = {}  # config -> (ranking key, result): no point is decoded twice

    def scored(config: DecoderConfig):
        """(ranking key, result) of decoding dev with ``config``: the primary metric first."""
        if config not in decoded:
            decoding = build_decoder(recognizer.tokenizer, config)
            hyps = [decoding.best(lp[None], _length(lp))[0].text for lp in log_probs]
            result = decoding.score(references, hyps)
            key = (result.cer, result.wer) if decoding.primary_metric == "cer" else (result.wer, result.cer)
            decoded[config] = key, result
        return decoded[config]

    tables = []
    if blank_penalties:
        unit_first = recognizer.tokenizer.unit in ("phone", "pinyin")  # their WER column is the unit error rate
        penalty_rows = [(p, scored(DecoderConfig(blank_penalty=p))[1]) for p in blank_penalties]
        penalty = min(
            penalty_rows, key=lambda row: (row[1].wer, row[1].cer) if unit_first else (row[1].cer, row[1].wer)
        )
        base = replace(base, blank_penalty=penalty[0])
        tables.append(
            "| blank penalty | greedy WER % | greedy CER % |\n|---:|---:|---:|\n"
            + "".join(f"| {p:g} | {r.wer:.2f} | {r.cer:.2f} |\n" for p, r in penalty_rows)
        )
    by_cer = build_decoder(recognizer.tokenizer, base).primary_metric == "cer"
    first, second = ("CER", "WER") if by_cer else ("WER", "CER")
    best, penalties_decoded_at = None, None
    for _ in range(max_rounds):
        grid = [replace(base, lm_weight=w, word_score=s) for w, s in itertools.product(lm_weights, word_scores)]
        rows = [(config, scored(config)) for config in tqdm(grid, desc="tuning", disable=not progress, leave=False)]
        best = min(rows, key=lambda row: row[1][0])
        penalty_note = f" (blank penalty {base.blank_penalty:g})" if base.blank_penalty else ""
        tables.append(
            f"| LM weight | word score | WER %{penalty_note} | CER % |\n|---:|---:|---:|---:|\n"
            + "".join(f"| {c.lm_weight:g} | {c.word_score:g} | {r.wer:.2f} | {r.cer:.2f} |\n" for c, (_, r) in rows)
        )
        weights = (best[0].lm_weight, best[0].word_score)
        if not blank_penalties or len(blank_penalties) < 2 or weights == penalties_decoded_at:
            break  # no penalty to pick, or every penalty was decoded at these weights already
        penalties_decoded_at = weights
        rows = [(config, scored(config)) for config in (replace(best[0], blank_penalty=p) for p in blank_penalties)]
        at = f"LM weight {best[0].lm_weight:g}, word score {best[0].word_score:g}"
        tables.append(
            f"| blank penalty | {first} % ({at}) | {second} % |\n|---:|---:|---:|\n"
            + "".join(f"| {c.blank_penalty:g} | {a:.2f} | {b:.2f} |\n" for c, ((a, b), _) in rows)
        )
        repicked = min(rows, key=lambda row: row[1][0])
        if repicked[1][0] >= best[1][0]:
            break  # the grid's weights and the penalty agree
        best, base = repicked, replace(base, blank_penalty=repicked[0].blank_penalty)
    assert best is not None
    best_config = best[0]
    table = "\n".join(tables)
    if out_dir is not None:
        out_dir = Path(out_dir)
        atomic_write_text(out_dir / "tune.md", f"model: {model_path}\nmanifest: {manifest}\n\n{table}")
        write_decoder_config(out_dir / "best.json", best_config)
    if ship:
        write_decoder_config(checkpoint.parent / DECODER_FILE, best_config)
    return best_config, table


def write_decoder_config(path: str | Path, config: DecoderConfig) -> None:
    """Write ``config`` as JSON, its lexicon, LM, words and grammar paths relative to the file's folder
    (so a model folder moves as a whole)."""
    path = Path(path)
    values = config.to_dict()
    for key in PATH_OPTIONS:
        if values[key] is not None:
            values[key] = os.path.relpath(Path(values[key]).resolve(), path.parent.resolve())
    atomic_write_text(path, json.dumps(values, indent=2) + "\n")
