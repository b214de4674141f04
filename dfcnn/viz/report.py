"""An HTML report of an evaluation run and of the training behind it.

    dfcnn report --eval exp/eval-test --metrics exp/metrics.jsonl --out exp/report    # -> exp/report/index.html

From ``dfcnn evaluate --out`` (hyps*.jsonl, results.md): the WER/CER tables, the worst utterances with
their REF/HYP alignment (errors coloured) and an audio player, and the most frequent word and character
substitutions. From ``dfcnn train``'s metrics.jsonl: the loss, dev WER/CER and learning-rate curves.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..audio import load_audio
from ..errors import AudioError, DfcnnError
from ..fileio import read_jsonl
from ..metrics import ErrorCounts, Score, score
from .html import Page, escape, write_wav


def _read_jsonl(path: Path, what: str) -> list[dict]:
    return [record for _, record in read_jsonl(path, what)]


def read_hypotheses(eval_dir: Path) -> dict[str, list[dict]]:
    """{decoder label: [{"utt_id", "ref", "hyp", "audio_filepath"?}, ...]} from the hyps*.jsonl of ``eval_dir``."""
    if not eval_dir.is_dir():
        raise DfcnnError(f"{eval_dir}: no such evaluation folder (write one with dfcnn evaluate --out)")
    runs = {}
    for path in sorted(eval_dir.glob("hyps*.jsonl")):
        records = _read_jsonl(path, "hypotheses file")
        for number, record in enumerate(records, 1):
            if not all(isinstance(record.get(key), str) for key in ("utt_id", "ref", "hyp")):
                raise DfcnnError(f"{path}: record {number} lacks one of utt_id, ref, hyp")
        if records:
            runs[path.stem.removeprefix("hyps").lstrip("-") or eval_dir.name] = records
    if not runs:
        raise DfcnnError(f"{eval_dir}: no hyps*.jsonl in it (write them with dfcnn evaluate --out)")
    return runs


def _counts_row(name: str, counts: ErrorCounts) -> list:
    c = counts
    return [
        name,
        c.sentences,
        c.units,
        c.percent(c.correct),
        c.percent(c.substitutions),
        c.percent(c.deletions),
        c.percent(c.insertions),
        c.error_rate,
        100.0 * c.sentence_errors / max(1, c.sentences),
    ]


def _alignment_html(ref: list[str], hyp: list[str], chunks) -> str:
    """REF over HYP, one column per aligned word: substitutions orange, deletions red, insertions blue."""
    columns = []
    for chunk in chunks:
        r, h = ref[chunk.ref_start_idx : chunk.ref_end_idx], hyp[chunk.hyp_start_idx : chunk.hyp_end_idx]
        if chunk.type == "equal":
            columns += [("", a, b) for a, b in zip(r, h)]
        elif chunk.type == "substitute":
            columns += [("sub", a, b) for a, b in zip(r, h)]
        elif chunk.type == "delete":
            columns += [("del", a, "***") for a in r]
        else:
            columns += [("ins", "***", b) for b in h]
    rows = []
    for label, pick in (("REF", 1), ("HYP", 2)):
        cells = "".join(
            f"<td class={c[0]}>{escape(c[pick])}</td>" if c[0] else f"<td>{escape(c[pick])}</td>" for c in columns
        )
        rows.append(f"<tr><th>{label}</th>{cells}</tr>")
    return f"<table class=align>{''.join(rows)}</table>"


def substitutions(
    result: Score, top: int = 15
) -> tuple[list[tuple[tuple[str, str], int]], list[tuple[tuple[str, str], int]]]:
    """The most frequent (reference, hypothesis) word and character substitutions."""
    found = []
    for output in (result.word_alignment, result.char_alignment):
        pairs = Counter()
        for ref, hyp, chunks in zip(output.references, output.hypotheses, output.alignments):
            for chunk in chunks:
                if chunk.type == "substitute":
                    pairs.update(
                        zip(ref[chunk.ref_start_idx : chunk.ref_end_idx], hyp[chunk.hyp_start_idx : chunk.hyp_end_idx])
                    )
        found.append(pairs.most_common(top))
    return found[0], found[1]


def _evaluation(page: Page, eval_dir: Path, worst: int) -> None:
    runs = read_hypotheses(eval_dir)
    scores = {label: score([r["ref"] for r in records], [r["hyp"] for r in records]) for label, records in runs.items()}
    page.heading(f"Evaluation: {eval_dir}")
    results = eval_dir / "results.md"
    if results.is_file():
        page.preformatted(results.read_text(encoding="utf-8").split("###")[0].strip())
    header = ["decoder", "Snt", "{}", "Corr", "Sub", "Del", "Ins", "Err", "S.Err"]
    for title, unit, pick in (("WER (%)", "Wrd", lambda s: s.words), ("CER (%)", "Chr", lambda s: s.chars)):
        page.heading(title, level=3)
        page.table([h.format(unit) for h in header], [_counts_row(label, pick(s)) for label, s in scores.items()])
    label = min(scores, key=lambda name: (scores[name].wer, scores[name].cer))
    records, result = runs[label], scores[label]
    out = result.word_alignment
    errors = []
    for index, chunks in enumerate(out.alignments):
        count = sum(
            max(c.ref_end_idx - c.ref_start_idx, c.hyp_end_idx - c.hyp_start_idx) for c in chunks if c.type != "equal"
        )
        errors.append((count / max(1, len(out.references[index])), count, index))
    ranked = [item for item in sorted(errors, key=lambda e: (-e[0], -e[1], e[2])) if item[1] > 0][:worst]
    page.heading(f"The {len(ranked)} worst utterances ({label})")
    page.text("By word error rate. Orange: substituted, red: deleted (*** in HYP), blue: inserted (*** in REF).")
    for rate, count, index in ranked:
        record = records[index]
        page.raw(f"<h3>{escape(record['utt_id'])}: {count} word errors, WER {100 * rate:.0f}%</h3>")
        page.raw(_alignment_html(out.references[index], out.hypotheses[index], out.alignments[index]))
        audio = record.get("audio_filepath")
        if audio:
            try:
                wave = load_audio(audio)
            except AudioError as error:
                page.text(f"(no audio: {error})", note=True)
            else:
                page.audio(write_wav(wave, page.folder / "audio" / f"{Path(record['utt_id']).name}.wav"))
    words, chars = substitutions(result)
    page.heading(f"Most frequent substitutions ({label})")
    page.table(["reference word", "recognised as", "times"], [[a, b, n] for (a, b), n in words])
    page.table(["reference character", "recognised as", "times"], [[repr(a), repr(b), n] for (a, b), n in chars])


def training_figure(records: list[dict], path: Path):
    """Training loss, dev WER/CER and learning rate against the step; epochs end at the dotted lines."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    train = [r for r in records if "loss" in r and "step" in r]
    dev = [r for r in records if "dev_wer" in r and "step" in r]
    fig, (loss_ax, dev_ax, lr_ax) = plt.subplots(3, 1, figsize=(12, 8.5), sharex=True)
    loss_ax.plot([r["step"] for r in train], [r["loss"] for r in train], color="tab:blue", linewidth=1)
    loss_ax.set_yscale("log")
    loss_ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    loss_ax.yaxis.set_major_formatter(ScalarFormatter())
    loss_ax.yaxis.set_minor_formatter(NullFormatter())
    loss_ax.set_ylabel("CTC loss (log scale)")
    loss_ax.set_title(f"training of {path}", loc="left", fontsize=10)
    for key, colour in (("dev_wer", "tab:red"), ("dev_cer", "tab:orange")):
        points = [(r["step"], r[key]) for r in dev if key in r]
        if points:
            dev_ax.plot(*zip(*points), marker="o", color=colour, label=f"dev {key[4:].upper()}")
            best = min(points, key=lambda p: p[1])
            dev_ax.annotate(
                f"{best[1]:.1f}", best, textcoords="offset points", xytext=(0, -14), ha="center", fontsize=8
            )
    for r in dev:
        loss_ax.annotate(
            f"epoch {r.get('epoch', '?')}",
            (r["step"], 1),
            xycoords=loss_ax.get_xaxis_transform(),
            xytext=(-2, -3),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize=7,
            color="0.4",
        )
    dev_ax.set_ylabel("dev error rate (%)")
    dev_ax.set_ylim(bottom=0)
    if dev:
        dev_ax.legend(fontsize=8)
    lr_ax.plot([r["step"] for r in train if "lr" in r], [r["lr"] for r in train if "lr" in r], color="tab:green")
    lr_ax.set_ylabel("learning rate")
    lr_ax.set_xlabel("optimizer step")
    for ax in (loss_ax, dev_ax, lr_ax):
        ax.grid(alpha=0.3)
        for r in dev:
            ax.axvline(r["step"], color="0.6", linestyle=":", linewidth=0.8)
    fig.tight_layout()
    return fig


def _training(page: Page, metrics: Path) -> None:
    if not metrics.is_file():
        raise DfcnnError(f"{metrics}: metrics log not found (dfcnn train writes exp_dir/metrics.jsonl)")
    records = _read_jsonl(metrics, "metrics log")
    if not any("loss" in r for r in records):
        raise DfcnnError(f"{metrics}: no training lines (with a 'loss') in it")
    page.heading("Training")
    page.figure(
        training_figure(records, metrics),
        page.folder / "training.png",
        "Top: the training CTC loss, averaged over the logging interval. Middle: dev WER and CER after each "
        "epoch (dotted lines). Bottom: the learning-rate schedule (warm-up, then decay).",
    )
    dev = [r for r in records if "dev_wer" in r]
    page.table(
        ["epoch", "step", "dev WER (%)", "dev CER (%)"],
        [[r.get("epoch", ""), r["step"], float(r["dev_wer"]), float(r.get("dev_cer", float("nan")))] for r in dev],
    )


def write_report(out_dir: Path, eval_dir: Path | None = None, metrics: Path | None = None, worst: int = 20) -> Path:
    """Write ``out_dir/index.html`` (and its PNG and audio files); returns its path."""
    if eval_dir is None and metrics is None:
        raise DfcnnError("dfcnn report needs --eval (a dfcnn evaluate folder), --metrics (a metrics.jsonl) or both")
    page = Page("dfcnn report", Path(out_dir))
    if eval_dir is not None:
        _evaluation(page, Path(eval_dir), worst)
    if metrics is not None:
        _training(page, Path(metrics))
    return page.write()
