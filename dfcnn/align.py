"""Where the words are: CTC forced alignment of decoded tokens, word times and confidences, and the
pauses that split long audio into segments.

    spans = align_tokens(log_probs, hypothesis.tokens)              # (T, V), [ids] -> TokenSpans
    words = words_from_spans(spans, tokenizer, frame_seconds=0.04)  # Word(word, start, end, confidence)

Times are seconds from the first output frame: frame t covers [t, t + 1) * frame_seconds.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import torch

from .text import UNK, UNK_DECODED, WORD_SEPARATOR, WORD_UNITS, Tokenizer, is_cjk
from .transcript import Token, Word
from .versions import load_torchaudio

if TYPE_CHECKING:
    from torchaudio.functional import TokenSpan


def align_tokens(log_probs: torch.Tensor, tokens: list[int], blank: int = 0) -> list[TokenSpan]:
    """The most likely CTC path that emits exactly ``tokens``, as one span per token.

    Args:
        log_probs: (T, V) log-probabilities of one utterance (valid frames only).
        tokens: the token ids to place (blank-free), e.g. a hypothesis' tokens.
    Returns:
        ``TokenSpan(token, start, end, score)`` per token, frames [start, end), score = mean probability
        of the token over its frames. Empty when ``tokens`` is empty or cannot fit in T frames.
    """
    repeats = sum(1 for a, b in zip(tokens, tokens[1:]) if a == b)
    if not tokens or len(tokens) + repeats > log_probs.shape[0]:
        return []
    F = load_torchaudio().functional
    emissions = log_probs.detach().to("cpu", torch.float32)[None]  # (1, T, V)
    targets = torch.tensor([tokens], dtype=torch.int32)  # (1, L)
    path, scores = F.forced_align(emissions, targets, blank=blank)  # (1, T), (1, T)
    return F.merge_tokens(path[0], scores[0].exp(), blank=blank)


def words_from_spans(
    spans: list[TokenSpan],
    tokenizer: Tokenizer,
    frame_seconds: float,
    offset_seconds: float = 0.0,
    word_starts: list[int] | None = None,
    labels: list[str] | None = None,
) -> list[Word]:
    """Group token spans (one per hypothesis token) into timed words.

    Without ``word_starts``: at word separators, and at every CJK character, pinyin syllable or word
    token; a word is its tokens joined (a phone model's: its phones, one space apart). With
    ``word_starts`` (the token index where each word begins, as a lexicon decoder knows it) and
    ``labels`` (the words it wrote): word i is the spans from ``word_starts[i]`` to the next start,
    separators left out, labelled ``labels[i]``: a phone model's pronunciation becomes its word, a
    pinyin syllable its character. A word starts where its first token starts and ends where its
    last ends; its confidence is the mean of its tokens' probabilities.
    """

    def timed(span: TokenSpan) -> Token:
        token = tokenizer.tokens[span.token]
        return Token(
            UNK_DECODED if token == UNK else token,
            offset_seconds + span.start * frame_seconds,
            offset_seconds + span.end * frame_seconds,
            float(span.score),
        )

    def word(group: list[TokenSpan], label: str | None = None) -> Word:
        tokens = [timed(span) for span in group]
        joiner = " " if tokenizer.unit == "phone" else ""
        text = label if label is not None else joiner.join(t.token for t in tokens)
        return Word(text, tokens[0].start, tokens[-1].end, sum(t.confidence for t in tokens) / len(tokens), tokens)

    def content(group: list[TokenSpan]) -> list[TokenSpan]:
        return [span for span in group if tokenizer.tokens[span.token] != WORD_SEPARATOR]

    if word_starts is not None and labels is not None and len(word_starts) == len(labels) and spans:
        bounds = [*word_starts, len(spans)]
        groups = [content(spans[bounds[i] : bounds[i + 1]]) for i in range(len(labels))]
        if all(groups):
            return [word(group, label) for group, label in zip(groups, labels)]
    words: list[Word] = []
    current: list[TokenSpan] = []
    for span in spans:
        token = tokenizer.tokens[span.token]
        if token == WORD_SEPARATOR:
            words += [word(current)] if current else []
            current = []
        elif is_cjk(token[0]) or tokenizer.unit in WORD_UNITS:  # every CJK character, syllable or word token is a word
            words += [word(current)] if current else []
            words.append(word([span]))
            current = []
        else:
            current.append(span)
    return words + ([word(current)] if current else [])


@dataclasses.dataclass(frozen=True)
class PauseFrames:
    """The pause rule of ``split_at_pauses`` in output frames."""

    min_gap: int  # a blank run longer than this many frames ends a segment
    max_frames: int  # a longer segment is cut at its longest blank run
    pad: int  # frames of the pause kept on either side of a segment

    @classmethod
    def of(cls, frame_seconds: float, min_pause: float = 0.5, max_segment: float = 30.0, margin: float = 0.2):
        return cls(
            max(1, round(min_pause / frame_seconds)),
            max(2, round(max_segment / frame_seconds)),
            round(margin / frame_seconds),
        )

    @property
    def hold(self) -> int:
        """Blank frames after a range's last speech frame that settle it: no later frame joins it or
        moves its padded end."""
        return max(self.min_gap, 2 * self.pad)


def speech_ranges(best: torch.Tensor, min_gap: int, blank: int = 0) -> list[list[int]]:
    """[first, last] frames of each stretch of non-blank argmax frames; stretches more than
    ``min_gap`` frames apart are separate. ``best``: (T,) argmax token per frame."""
    speech = (best != blank).nonzero().squeeze(1).tolist()
    if not speech:
        return []
    ranges = []
    first = previous = speech[0]
    for frame in speech[1:]:
        if frame - previous > min_gap:
            ranges.append([first, previous])
            first = frame
        previous = frame
    ranges.append([first, previous])
    return ranges


def cut_long_ranges(ranges: list[list[int]], best: torch.Tensor, max_frames: int, blank: int = 0) -> list[list[int]]:
    """Ranges longer than ``max_frames`` cut at their longest blank run (or, with no blank at all,
    where the best token changes nearest the middle), again until every piece fits."""
    is_speech = best != blank
    pending = [list(r) for r in ranges]
    done: list[list[int]] = []
    while pending:
        first, last = pending.pop(0)
        if last + 1 - first <= max_frames:
            done.append([first, last])
            continue
        inside = is_speech[first : last + 1].tolist()
        cut, longest, run = None, 0, 0
        for index, frame_is_speech in enumerate(inside):
            run = 0 if frame_is_speech else run + 1
            if run > longest:
                longest, cut = run, first + index - run // 2
        if cut is None:  # no blank at all: cut where the best token changes, nearest the middle
            changes = (best[first + 1 : last + 1] != best[first:last]).nonzero().squeeze(1) + first + 1
            middle = (first + last + 1) // 2
            cut = int(changes[(changes - middle).abs().argmin()]) if len(changes) else middle
        left_end = max(first, cut - 1)
        pending[:0] = [[first, left_end], [left_end + 1, last]]
    return done


def pad_ranges(
    ranges: list[list[int]], pad: int, total: int, previous_last: int | None = None
) -> list[tuple[int, int]]:
    """Speech ranges widened by ``pad`` frames each side, never past the midpoint of the pause to a
    neighbour (``previous_last``: the last speech frame before the first range, if any) nor outside
    [0, total)."""
    segments = []
    for index, (first, last) in enumerate(ranges):
        before = ranges[index - 1][1] if index else previous_last
        start = max(first - pad, 0 if before is None else (before + first + 1) // 2)
        end = min(last + 1 + pad, total if index == len(ranges) - 1 else (last + ranges[index + 1][0] + 1) // 2)
        segments.append((start, end))
    return segments


def split_at_pauses(
    log_probs: torch.Tensor,
    frame_seconds: float,
    min_pause: float = 0.5,
    max_segment: float = 30.0,
    margin: float = 0.2,
    blank: int = 0,
) -> list[tuple[int, int]]:
    """Speech segments of a long utterance, cut where the greedy path is blank for ``min_pause`` s.

    A segment longer than ``max_segment`` seconds is cut again at its longest blank run (or, with no
    blank at all, in the middle). Each segment keeps ``margin`` s of the pause on either side, so the
    beam search and the aligner see a word's edges whole. Every decision is local to a segment and
    its neighbours, which is what lets ``dfcnn.streaming`` make the same cuts as the audio arrives.

    Args:
        log_probs: (T, V) log-probs.
    Returns:
        [(start, end), ...] output frame ranges in order, non-overlapping; empty for silence only.
    """
    rule = PauseFrames.of(frame_seconds, min_pause, max_segment, margin)
    best = log_probs.argmax(dim=-1)  # (T,)
    ranges = cut_long_ranges(speech_ranges(best, rule.min_gap, blank), best, rule.max_frames, blank)
    return pad_ranges(ranges, rule.pad, log_probs.shape[0])
