"""The transcript of one audio file and the files it is written as (txt, json, srt, vtt, tsv).

Like whisper's CLI writers, subtitle formats are built from cues: each segment becomes one or more
cues, split at word times so a cue fits on screen (``SubtitleOptions``). Times are kept to the
millisecond and made monotonic, so every file parses back.

    transcript = Transcript(text="hello world", duration=2.0, segments=[...])
    write_transcript(transcript, "srt", "out", "talk")   # -> out/talk.srt
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .fileio import atomic_write_text
from .text import is_cjk

FORMATS = ("txt", "json", "srt", "vtt", "tsv")
_PATH_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# a file name byte that is not UTF-8 reaches Python as a lone surrogate, U+DC80..U+DCFF (PEP 383)
_NAME_BYTES = str.maketrans({code: f"\\x{code - 0xDC00:02x}" for code in range(0xDC80, 0xDD00)})


def escape_path(path: str | Path) -> str:
    """A path for a ``PATH<TAB>TEXT`` line: backslash, tab, newline and carriage return written as
    ``\\\\``, ``\\t``, ``\\n``, ``\\r``, and a byte of the name that is not UTF-8 as ``\\xNN``, so
    every file is one line of UTF-8 text that splits at its first tab."""
    return str(path).translate(_PATH_ESCAPES).translate(_NAME_BYTES)


def to_json(value, indent: int | None = None) -> str:
    """JSON text, non-ASCII characters as they are; a file name byte that is not UTF-8 is written
    ``\\udcNN`` (valid JSON and UTF-8; ``json.loads`` gives back the name ``os.fsencode`` reads)."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")  # only a lone surrogate needs the escape


MIN_CUE_MS = 100  # a cue whose words have no duration lasts this long, so players show it at all


@dataclass
class Token:
    """One vocabulary token (a letter, a Chinese character) of a word, as CTC alignment placed it."""

    token: str  # the token as written
    start: float  # seconds
    end: float  # seconds, >= start
    confidence: float  # mean probability of the token over its aligned frames


@dataclass
class Word:
    """One recognised word (for Mandarin, one character), timed from the start of the file."""

    word: str  # the unit as written, without surrounding spaces
    start: float  # seconds
    end: float  # seconds, >= start
    confidence: float  # in [0, 1]
    tokens: list[Token] = field(default_factory=list)  # its tokens' times; may be empty


@dataclass
class Segment:
    """A stretch of speech between pauses."""

    start: float  # seconds
    end: float  # seconds
    text: str  # the words joined (``join_words``), or text alone when there are no word times
    words: list[Word] = field(default_factory=list)  # in time order; may be empty
    alternatives: list[str] = field(default_factory=list)  # the beam search's next-best texts (n-best)

    def to_dict(self, tokens: bool = True) -> dict:
        """Plain JSON-able values, times rounded to the millisecond; ``tokens``: each word's tokens too."""
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "text": self.text,
            "words": [_word_dict(w, tokens) for w in self.words],
            **({"alternatives": list(self.alternatives)} if self.alternatives else {}),
        }


@dataclass
class Transcript:
    """Everything transcribing one audio file produces."""

    text: str  # the whole transcript
    segments: list[Segment]  # in time order
    duration: float  # seconds of audio; cue times are clamped to it (0 means unknown)
    audio_filepath: str | None = None  # the file transcribed, when there is one

    @property
    def words(self) -> list[Word]:
        return [word for segment in self.segments for word in segment.words]

    def to_dict(self) -> dict:
        """Plain JSON-able values, times rounded to the millisecond."""
        return {
            "text": self.text,
            "duration": round(self.duration, 3),
            "audio_filepath": self.audio_filepath,
            "segments": [segment.to_dict() for segment in self.segments],
        }

    @classmethod
    def from_dict(cls, state: dict) -> Transcript:
        def word(w: dict) -> Word:
            return Word(w["word"], w["start"], w["end"], w["confidence"], [Token(**t) for t in w.get("tokens", [])])

        segments = [
            Segment(s["start"], s["end"], s["text"], [word(w) for w in s.get("words", [])], s.get("alternatives", []))
            for s in state["segments"]
        ]
        return cls(state["text"], segments, state["duration"], state.get("audio_filepath"))


def _word_dict(word: Word, tokens: bool = True) -> dict:
    out = {
        "word": word.word,
        "start": round(word.start, 3),
        "end": round(word.end, 3),
        "confidence": round(word.confidence, 3),
    }
    if tokens and word.tokens:
        out["tokens"] = [
            {"token": t.token, "start": round(t.start, 3), "end": round(t.end, 3), "confidence": round(t.confidence, 3)}
            for t in word.tokens
        ]
    return out


def join_words(words: Sequence[Word | str]) -> str:
    """Words one space apart, except between two CJK characters (Mandarin is written without spaces)."""
    out = ""
    for item in words:
        word = (item.word if isinstance(item, Word) else item).strip()
        if not word:
            continue
        if out and not (is_cjk(out[-1]) and is_cjk(word[0])):
            out += " "
        out += word
    return out


@dataclass(frozen=True)
class SubtitleOptions:
    """How segments are cut into subtitle cues."""

    max_line_width: int = 42  # characters a line; a longer single word gets a line of its own
    max_lines: int = 2  # lines a cue
    max_cue_seconds: float = 7.0  # longest cue; a single longer word gets a cue of its own


@dataclass
class Cue:
    """One subtitle: lines of text shown from ``start`` to ``end``."""

    start: float  # seconds, a whole number of milliseconds
    end: float  # seconds, > start
    lines: list[str]  # at most ``max_lines`` when cut from word times

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _wrap(words: list[str], width: int) -> list[list[str]]:
    """Greedy fill: each line takes words while its joined text fits in ``width``."""
    lines: list[list[str]] = []
    for word in words:
        if lines and len(join_words(lines[-1] + [word])) <= width:
            lines[-1].append(word)
        else:
            lines.append([word])
    return lines


def _segment_cues(segment: Segment, options: SubtitleOptions) -> list[tuple[float, float, list[str]]]:
    """Cut one segment into (start, end, lines) at word boundaries; untimed text is one cue."""
    words = [w for w in segment.words if w.word.strip()]
    if not words:
        text = segment.text.strip()
        lines = [join_words(line) for line in _wrap(text.split(), options.max_line_width)]
        return [(segment.start, segment.end, lines)] if text else []
    groups = []
    current: list[Word] = []
    for word in words:
        candidate = current + [word]
        fits = (
            len(_wrap([w.word for w in candidate], options.max_line_width)) <= options.max_lines
            and word.end - candidate[0].start <= options.max_cue_seconds
        )
        if current and not fits:
            groups.append(current)
            current = [word]
        else:
            current = candidate
    groups.append(current)
    cues = []
    for group in groups:
        lines = [join_words(line) for line in _wrap([w.word for w in group], options.max_line_width)]
        cues.append((group[0].start, max(w.end for w in group), lines))
    return cues


def subtitle_cues(transcript: Transcript, options: SubtitleOptions = SubtitleOptions()) -> list[Cue]:
    """The cues of srt, vtt and tsv: in order, never overlapping, each at least 1 ms long, inside the audio.

    Times are rounded to milliseconds first so what is checked here is what gets written. A cue with
    no duration is stretched to ``MIN_CUE_MS`` without reaching the next cue or the end of the audio;
    one squeezed against the end with no room left joins the previous cue.
    """
    raw = [cue for segment in transcript.segments for cue in _segment_cues(segment, options)]
    duration_ms = round(transcript.duration * 1000)
    bound = duration_ms if duration_ms > 0 else math.inf  # 0: duration unknown, nothing to clamp to
    starts = [round(start * 1000) for start, _, _ in raw]
    out: list[list] = []  # [start_ms, end_ms, lines]
    for i, (_, end, lines) in enumerate(raw):
        floor = out[-1][1] if out else 0
        s = min(max(starts[i], floor), bound)
        e = min(max(round(end * 1000), s), bound)
        if e == s:
            next_start = starts[i + 1] if i + 1 < len(raw) else bound
            e = min(s + MIN_CUE_MS, bound, next_start if next_start > s else bound)
        if e == s:  # at the end of the audio: take the time before it instead
            s = max(floor, e - MIN_CUE_MS)
        if e == s:  # no room at all (out is non-empty here, since floor == bound > 0)
            out[-1][2] = out[-1][2] + lines
            continue
        out.append([s, e, lines])
    return [Cue(s / 1000, e / 1000, lines) for s, e, lines in out]


def format_timestamp(seconds: float, marker: str = ",") -> str:
    """``HH:MM:SS,mmm`` (srt) or, with ``marker="."``, ``HH:MM:SS.mmm`` (vtt); hours always 2+ digits."""
    ms = round(seconds * 1000)
    if ms < 0:
        raise ValueError(f"negative timestamp {seconds}")
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{marker}{ms:03d}"


def format_transcript(transcript: Transcript, fmt: str, options: SubtitleOptions = SubtitleOptions()) -> str:
    """The file contents of ``transcript`` in one of ``FORMATS``."""
    if fmt == "txt":
        return "".join(s.text.strip() + "\n" for s in transcript.segments if s.text.strip())
    if fmt == "json":
        return to_json(transcript.to_dict(), indent=2) + "\n"
    if fmt not in FORMATS:
        raise ValueError(f"unknown transcript format {fmt!r}; expected one of {', '.join(FORMATS)}")
    cues = subtitle_cues(transcript, options)
    if fmt == "srt":
        return "".join(
            f"{i}\n{format_timestamp(c.start)} --> {format_timestamp(c.end)}\n{c.text}\n\n"
            for i, c in enumerate(cues, start=1)
        )
    if fmt == "vtt":
        return "WEBVTT\n\n" + "".join(
            f"{format_timestamp(c.start, '.')} --> {format_timestamp(c.end, '.')}\n{c.text}\n\n" for c in cues
        )
    # tsv, as whisper writes it: integer milliseconds, one cue a row, its lines joined into one
    rows = []
    for c in cues:
        text = join_words(c.lines).replace("\t", " ")
        rows.append(f"{round(c.start * 1000)}\t{round(c.end * 1000)}\t{text}\n")
    return "start\tend\ttext\n" + "".join(rows)


def write_transcript(
    transcript: Transcript,
    fmt: str,
    out_dir: str | Path,
    stem: str,
    options: SubtitleOptions = SubtitleOptions(),
) -> Path:
    """Write ``out_dir/stem.<fmt>`` atomically; returns its path."""
    content = format_transcript(transcript, fmt, options)
    path = Path(out_dir) / f"{stem}.{fmt}"
    atomic_write_text(path, content)
    return path
