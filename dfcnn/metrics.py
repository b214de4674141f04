"""Error rates through jiwer (no hand-written edit distance): WER, CER, ESPnet-style tables and
per-utterance REF/HYP alignments.

    result = score(refs, hyps)
    print(format_table({"test": result}))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import jiwer


@dataclass
class ErrorCounts:
    """Counts for one unit (words or characters) over a set of utterances."""

    sentences: int  # Snt: utterances scored
    units: int  # Wrd: reference words (or characters)
    correct: int  # Corr
    substitutions: int  # Sub
    deletions: int  # Del
    insertions: int  # Ins
    sentence_errors: int  # utterances with at least one error

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def error_rate(self) -> float:
        """Errors / reference units, in percent (WER or CER)."""
        return 100.0 * self.errors / max(1, self.units)

    def percent(self, count: int) -> float:
        return 100.0 * count / max(1, self.units)


@dataclass
class Score:
    """Word and character scores of one test set, plus jiwer's alignments for reports."""

    words: ErrorCounts
    chars: ErrorCounts
    word_alignment: jiwer.WordOutput
    char_alignment: jiwer.CharacterOutput

    @property
    def wer(self) -> float:
        return self.words.error_rate

    @property
    def cer(self) -> float:
        return self.chars.error_rate


def _counts(output: jiwer.WordOutput | jiwer.CharacterOutput) -> ErrorCounts:
    sentence_errors = sum(any(chunk.type != "equal" for chunk in chunks) for chunks in output.alignments)
    units = output.hits + output.substitutions + output.deletions
    return ErrorCounts(
        len(output.references),
        units,
        output.hits,
        output.substitutions,
        output.deletions,
        output.insertions,
        sentence_errors,
    )


def score(references: Sequence[str], hypotheses: Sequence[str]) -> Score:
    """Score normalised hypotheses against normalised references (same order, same length)."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    if not references:
        raise ValueError("nothing to score")
    words = jiwer.process_words(list(references), list(hypotheses))
    chars = jiwer.process_characters(list(references), list(hypotheses))
    return Score(_counts(words), _counts(chars), words, chars)


WORD_TABLES = (("WER", "Wrd", "words"), ("CER", "Chr", "chars"))  # (title, unit column, Score field)
PHONE_TABLES = (("PER", "Phn", "words"),)  # phone strings: their space-separated "words" are phones


def format_table(scores: dict[str, Score], tables: tuple[tuple[str, str, str], ...] = WORD_TABLES) -> str:
    """ESPnet-style markdown tables (WER, then CER; or PER for phone output), one row per test set."""
    header = "|dataset|Snt|{unit}|Corr|Sub|Del|Ins|Err|S.Err|\n|---|---|---|---|---|---|---|---|---|\n"
    blocks = []
    for title, unit, field in tables:
        rows = []
        for name, result in scores.items():
            c = getattr(result, field)
            rows.append(
                f"|{name}|{c.sentences}|{c.units}|{c.percent(c.correct):.1f}|{c.percent(c.substitutions):.1f}|"
                f"{c.percent(c.deletions):.1f}|{c.percent(c.insertions):.1f}|{c.error_rate:.1f}|"
                f"{100.0 * c.sentence_errors / max(1, c.sentences):.1f}|"
            )
        blocks.append(f"### {title}\n\n" + header.format(unit=unit) + "\n".join(rows) + "\n")
    return "\n".join(blocks)


def _aligned_pair(ref: list[str], hyp: list[str], chunks) -> tuple[str, str, str]:
    """sclite-style rows: errors upper-cased, gaps as ***, and a row of S/D/I marks."""
    ref_row, hyp_row, marks = [], [], []
    for chunk in chunks:
        r = ref[chunk.ref_start_idx : chunk.ref_end_idx]
        h = hyp[chunk.hyp_start_idx : chunk.hyp_end_idx]
        if chunk.type == "equal":
            pairs, mark = list(zip(r, h)), " "
        elif chunk.type == "substitute":
            pairs, mark = [(a.upper(), b.upper()) for a, b in zip(r, h)], "S"
        elif chunk.type == "delete":
            pairs, mark = [(a.upper(), "*" * len(a)) for a in r], "D"
        else:
            pairs, mark = [("*" * len(b), b.upper()) for b in h], "I"
        for a, b in pairs:
            width = max(len(a), len(b))
            ref_row.append(a.ljust(width))
            hyp_row.append(b.ljust(width))
            marks.append(mark.ljust(width))
    return " ".join(ref_row).rstrip(), " ".join(hyp_row).rstrip(), " ".join(marks).rstrip()


def format_alignments(utt_ids: Sequence[str], result: Score) -> str:
    """Per-utterance REF/HYP word alignments with the errors marked."""
    out = result.word_alignment
    lines = []
    for utt_id, ref, hyp, chunks in zip(utt_ids, out.references, out.hypotheses, out.alignments):
        ref_row, hyp_row, marks = _aligned_pair(ref, hyp, chunks)
        errors = Counter(
            chunk.type
            for chunk in chunks
            for _ in range(max(chunk.ref_end_idx - chunk.ref_start_idx, chunk.hyp_end_idx - chunk.hyp_start_idx))
        )
        lines.append(
            f"id: {utt_id}\nScores: (#C #S #D #I) {errors['equal']} {errors['substitute']} "
            f"{errors['delete']} {errors['insert']}\nREF: {ref_row}\nHYP: {hyp_row}\n"
            + (f"     {marks}\n" if marks.strip() else "")
        )
    return "\n".join(lines)
