"""Text: normalisers (English, Mandarin) and the ``Tokenizer`` CTC trains on, whose tokens are
characters or, for Mandarin, tonal pinyin syllables.

A vocabulary file holds one token per line. Line 1 is the CTC blank ``<blank>`` (id 0); ``|`` is the
word separator (a space in text), as in torchaudio's and fairseq's character vocabularies, so the
same file serves flashlight's lexicon decoder. An optional ``<unk>`` stands for characters the
vocabulary lacks; without it such a transcript cannot be encoded.

    tokenizer = Tokenizer.from_file("data/lang/vocab.txt", normalizer="english")
    ids = tokenizer.encode(tokenizer.normalize("Hello, World!"))   # "hello world"
    tokenizer.decode(ids)                                          # "hello world"

With ``unit="pinyin"`` (Mandarin, as in the DFCNN reference implementation) a token is a syllable
with its tone, 1-4, or 5 for the neutral tone, converted with pypinyin: "你好吗" is ``ni3 hao3 ma5``,
and ``decode`` returns the syllables one space apart, so WER over decoded text is the syllable error
rate. ``|`` stays in a syllable vocabulary (flashlight's beam search needs it) but is never a target.

    tokenizer = Tokenizer.from_file("data/vocab.txt", normalizer="mandarin", unit="pinyin")
    tokenizer.encode(tokenizer.normalize("你好吗？"))   # ids of ni3 hao3 ma5
    tokenizer.reference_text("你好吗？")                # "ni3 hao3 ma5": what hypotheses are scored against
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import VocabError
from .fileio import read_text

BLANK = "<blank>"  # CTC blank, always id 0
UNK = "<unk>"  # optional: stands for characters outside the vocabulary
WORD_SEPARATOR = "|"  # a space in text
UNK_DECODED = "\u2047"  # "⁇": how <unk> reads in decoded text (one character, like sentencepiece)

NORMALIZERS = ("english", "mandarin", "none")
UNITS = ("char", "pinyin", "word")  # what a token is: a character, a tonal pinyin syllable (Mandarin), a whole word
WORD_UNITS = ("pinyin", "word")  # units whose every token is a word of its own: no separators between them

_WHITESPACE = re.compile(r"\s+")
_ENGLISH_NOT_KEPT = re.compile(r"[^a-z0-9' ]+")
_STRAY_APOSTROPHE = re.compile(r"(?<![a-z0-9])'|'(?![a-z0-9])")
_SYLLABLE = re.compile(r"[a-z]+[1-5]")  # a tonal pinyin syllable as pypinyin's TONE3 writes it: lv4, ma5


def is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff" or "\U00020000" <= char <= "\U0002fa1f"


def normalize_english(text: str) -> str:
    """Lower-case words of letters, digits and inner apostrophes, one space apart.

    Accents are folded (``café`` -> ``cafe``); every other punctuation mark is a word break
    (``well-known`` -> ``well known``); quotes around words go (``'yes'`` -> ``yes``).
    """
    text = unicodedata.normalize("NFKD", text.replace("\u2019", "'").replace("\u2018", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = _ENGLISH_NOT_KEPT.sub(" ", text)
    text = _STRAY_APOSTROPHE.sub(" ", text)
    return _WHITESPACE.sub(" ", text).strip()


# ---- Arabic numerals in Mandarin text, read out the way speakers read them ----

_DIGIT_NAMES = "零一二三四五六七八九"
# a number directly before one of these counts things: a lone 2 is 两 (两个, 两年), and a digit
# string longer than 4 digits is an amount (15000元), not a code read digit by digit
_MEASURE_WORDS = re.compile(
    "平方米|平米|公里|公斤|小时|分钟|[个位名人件条只本张次种台辆家套栋座所元块岁天年周倍米斤吨秒点万亿千百]"
)
# a number is an ASCII-digit run, grouped (1,000,000) or not, with optional decimals and percent sign;
# a run touching a Latin letter belongs to a Latin word (mp3, 4s, ni3) and is left alone
_NUMBER = re.compile(r"(?<![a-z0-9])([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]+))?(%)?(?![a-z0-9])")


def _digit_by_digit(digits: str, one: str) -> str:
    return "".join(one if d == "1" else _DIGIT_NAMES[int(d)] for d in digits)


def _below_10000(value: int, leading: bool) -> str:
    """0 < value < 10000 in characters; ``leading``: nothing precedes it (10 is 十, not 一十).
    A 2 heading the group before 千 or 百 is 两 (两千二百), elsewhere 二."""
    out, zero = "", False
    for digit, unit in zip(f"{value:04d}", ("千", "百", "十", "")):
        if digit == "0":
            zero = bool(out)
            continue
        if zero:
            out, zero = out + "零", False
        if not out and unit == "十" and digit == "1" and leading:
            out += unit
        else:
            out += ("两" if not out and unit in ("千", "百") and digit == "2" else _DIGIT_NAMES[int(digit)]) + unit
    return out


def _cardinal(digits: str) -> str:
    """A whole number as a cardinal: 2023 -> 两千零二十三, 100010 -> 十万零一十, 2 -> 二.

    Past 9999 万亿 (16 digits) there are no units left: such a number is read digit by digit."""
    if len(digits) > 16:
        return _digit_by_digit(digits, "一")
    value = int(digits)
    if value == 0:
        return "零"
    groups = []  # (4-digit group, its unit), highest first: 1,2345,6789 -> 1 亿, 2345 万, 6789
    for unit in ("", "万", "亿", "万亿"):
        groups.insert(0, (value % 10000, unit))
        value //= 10000
    out, zero = "", False
    for group, unit in groups:
        if group == 0:
            zero = bool(out)
            continue
        if out and (zero or group < 1000):
            out += "零"
        part = _below_10000(group, leading=not out)
        out += ("两" if part == "二" and unit else part) + unit  # 两万, 两亿, but 十二万
        zero = False
    return out


def chinese_numerals(text: str, digit_one: str = "幺") -> str:
    """Arabic numerals of (NFKC-normalised, lower-case) Mandarin text as spoken Chinese characters.

    - Whole numbers are cardinals: ``2023`` -> 两千零二十三, ``1,000,000`` -> 一百万. A 2 heading a
      four-digit group before 千/百/万/亿 is 两 (两百, 两千, 两万, 一万两千, 一亿两千万), elsewhere 二
      (二十二, 一千二百, 十二万); a lone ``2`` is 两 before a measure word (2个 -> 两个, 2年 -> 两年),
      else 二 (2号 -> 二号, 第2 -> 第二).
    - Years, four digits before 年, are read digit by digit: ``2023年`` -> 二零二三年 (but 20年 -> 二十年).
    - Decimals: ``3.5`` -> 三点五, ``0.25`` -> 零点二五 (decimal digits one by one).
    - Percentages: ``50%`` -> 百分之五十, ``3.5%`` -> 百分之三点五.
    - Codes: a run of more than 4 digits without grouping (phone numbers, 10086) or with a leading zero
      (007) is read digit by digit, with 1 as ``digit_one``: 幺 by default, as phone and room numbers
      are spoken on the mainland (13812345678 -> 幺三八幺二三四五六七八); years keep 一 (一九九八年).
      An amount written without grouping (15000元) is still a cardinal: a measure word follows it.
    - Digits touching a Latin letter stay as they are (mp3, 4s店): that word is not Chinese.
    """

    def read(match: re.Match) -> str:
        whole, decimals, percent = match.group(1), match.group(2), match.group(3)
        after = text[match.end():]
        digits = whole.replace(",", "")
        if decimals is not None:
            spoken = _cardinal(digits) + "点" + _digit_by_digit(decimals, "一")
        elif "," in whole or percent:
            spoken = _cardinal(digits)
        elif len(digits) == 4 and after.startswith("年"):
            spoken = _digit_by_digit(digits, "一")
        elif (len(digits) > 1 and digits[0] == "0") or (len(digits) > 4 and not _MEASURE_WORDS.match(after)):
            spoken = _digit_by_digit(digits, digit_one)
        elif digits == "2" and _MEASURE_WORDS.match(after):
            spoken = "两"
        else:
            spoken = _cardinal(digits)
        return "百分之" + spoken if percent else spoken

    return _NUMBER.sub(read, text)


def normalize_mandarin(text: str) -> str:
    """Chinese characters without punctuation or spaces between them.

    Full-width forms become their ASCII counterparts (NFKC: ``Ａｂ`` -> ``ab``), Arabic numerals are
    read out in characters (``chinese_numerals``: ``第１章`` -> 第一章), punctuation of both scripts goes,
    Latin words are lower-cased and keep one space between each other.
    """
    text = chinese_numerals(unicodedata.normalize("NFKC", text).lower())
    text = "".join(" " if unicodedata.category(c)[0] in "PSZ" else c for c in text)
    words = _WHITESPACE.split(text.strip())
    out = ""
    for word in words:
        if out and not is_cjk(out[-1]) and not is_cjk(word[0]):
            out += " "
        out += word
    return out


def normalize_none(text: str) -> str:
    """Only whitespace is collapsed: for transcripts already in their final form."""
    return _WHITESPACE.sub(" ", text).strip()


_NORMALIZE = {"english": normalize_english, "mandarin": normalize_mandarin, "none": normalize_none}


def get_normalizer(name: str):
    """The normaliser function called ``name`` (one of ``NORMALIZERS``)."""
    if name not in _NORMALIZE:
        raise VocabError(f"unknown text normalizer {name!r}; choose one of {', '.join(NORMALIZERS)}")
    return _NORMALIZE[name]


def _pinyin_pieces(text: str) -> list[tuple[str, bool]]:
    """(piece, is a syllable) for a normalised Mandarin text: a syllable per Chinese character, other
    words whole. Runs of characters are converted together, so phrases choose a polyphone's reading
    (银行 -> yin2 hang2, 行走 -> xing2 zou3); a character pypinyin cannot read is a piece of its own."""
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:
        raise VocabError("pinyin tokens need pypinyin: pip install pypinyin") from None
    pieces = []
    for chunk in text.split():
        for cjk, run in itertools.groupby(chunk, is_cjk):
            run = "".join(run)
            if not cjk:
                pieces.append((run, False))
                continue
            syllables = lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True, errors=list)
            pieces.extend((s, _SYLLABLE.fullmatch(s) is not None) for s in syllables)
    return pieces


def to_pinyin(text: str) -> list[str]:
    """A normalised Mandarin text as tonal syllables (tone 5 = neutral); other words stay as they are.

    ``to_pinyin("你好吗")`` -> ``["ni3", "hao3", "ma5"]``; ``to_pinyin("我用ok了")`` -> wo3 yong4 ok le5.
    """
    return [piece for piece, _ in _pinyin_pieces(text)]


def build_vocab(texts: Iterable[str], add_unk: bool = False, unit: str = "char") -> list[str]:
    """The token list for already-normalised ``texts``: blank, [unk], separator, sorted characters.

    With ``unit="pinyin"`` the tokens are the tonal syllables of the texts' Chinese characters; their
    other words (Latin, digits of mp3) have no syllable and encode as ``<unk>`` (``add_unk``) or not at all.
    With ``unit="word"`` they are the texts' space-separated words (closed-vocabulary tasks: digits,
    yes/no, commands), and ``|`` stays in the vocabulary unused, as for pinyin.
    """
    if unit not in UNITS:
        raise VocabError(f"unknown token unit {unit!r}; choose one of {', '.join(UNITS)}")
    chars = set()
    for text in texts:
        if unit == "pinyin":
            chars.update(piece for piece, syllable in _pinyin_pieces(text) if syllable)
        elif unit == "word":
            chars.update(text.split())
        else:
            chars.update(text)
    chars.discard(" ")
    specials = [BLANK] + ([UNK] if add_unk else []) + [WORD_SEPARATOR]
    clash = chars & set(WORD_SEPARATOR)
    if clash:
        raise VocabError(f"transcripts contain the reserved word separator {WORD_SEPARATOR!r}")
    return specials + sorted(chars)


def save_vocab(tokens: list[str], path: str | Path) -> None:
    """Write one token per line (blank first), the format ``Tokenizer.from_file`` reads."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(t + "\n" for t in tokens), encoding="utf-8")


@dataclass(frozen=True)
class Tokenizer:
    """Characters (or pinyin syllables) <-> ids for CTC, with the text normaliser of the vocabulary."""

    tokens: tuple[str, ...]  # id -> token; tokens[0] is the blank
    normalizer: str = "english"  # name of the normaliser applied to transcripts (see NORMALIZERS)
    unit: str = "char"  # what a token is: char (a character, | between words) | pinyin (a tonal syllable, ni3) | word

    def __post_init__(self):
        if not self.tokens or self.tokens[0] != BLANK:
            raise VocabError(f"the first token of a vocabulary must be {BLANK!r}")
        if len(set(self.tokens)) != len(self.tokens):
            dupes = sorted({t for t in self.tokens if self.tokens.count(t) > 1})
            raise VocabError(f"vocabulary has duplicate tokens: {dupes}")
        get_normalizer(self.normalizer)
        self._check_unit()
        object.__setattr__(self, "_ids", {t: i for i, t in enumerate(self.tokens)})

    def _check_unit(self) -> None:
        """A syllable vocabulary for unit pinyin, not one of characters, and the other way round."""
        if self.unit not in UNITS:
            raise VocabError(f"unknown token unit {self.unit!r}; choose one of {', '.join(UNITS)}")
        content = [t for t in self.tokens if t not in (BLANK, UNK, WORD_SEPARATOR)]
        if self.unit == "pinyin":
            if self.normalizer == "english":
                raise VocabError("unit 'pinyin' needs the mandarin (or none) normalizer, not english")
            other = next((t for t in content if not _SYLLABLE.fullmatch(t)), None)
            if other is not None:
                raise VocabError(
                    f"token {other!r} is not a tonal pinyin syllable (like ni3): unit 'pinyin' needs a syllable "
                    "vocabulary, build_vocab(texts, unit='pinyin'), not one of characters"
                )
        elif self.unit == "char" and content and all(_SYLLABLE.fullmatch(t) for t in content):
            raise VocabError(
                f"the tokens are pinyin syllables ({content[0]!r}, ...): set the unit to 'pinyin' "
                "(data.unit in a training config)"
            )
        elif self.unit == "char" and any(len(t) > 1 for t in content):
            word = next(t for t in content if len(t) > 1)
            raise VocabError(
                f"token {word!r} is longer than one character: for whole-word tokens set the unit to 'word' "
                "(data.unit in a training config)"
            )

    @classmethod
    def from_file(cls, path: str | Path, normalizer: str = "english", unit: str = "char") -> Tokenizer:
        path = Path(path)
        lines = read_text(path, "vocabulary", VocabError).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for number, line in enumerate(lines, 1):
            if line == "" or line != line.strip():
                raise VocabError(f"{path}:{number}: a vocabulary line must be one token without spaces")
        try:
            return cls(tuple(lines), normalizer, unit)
        except VocabError as error:
            raise VocabError(f"{path}: {error}") from None

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def blank_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int | None:
        return self._ids.get(UNK)

    def normalize(self, text: str) -> str:
        return _NORMALIZE[self.normalizer](text)

    def reference_text(self, text: str) -> str:
        """What a hypothesis of ``text`` is scored against: the normalised text, for unit pinyin its
        syllables one space apart (``"你好吗？"`` -> ``"ni3 hao3 ma5"``). A decoded text maps to itself."""
        text = self.normalize(text)
        return " ".join(to_pinyin(text)) if self.unit == "pinyin" else text

    def encode(self, text: str) -> list[int]:
        """Ids of a normalised text; spaces become the word separator (unit word: the ids of its words).

        With unit pinyin, the ids of its syllables (``to_pinyin``), no separators; a word that is not a
        syllable of the vocabulary (a Latin word) is one ``<unk>``. Raises ``VocabError`` for a character
        (syllable) outside the vocabulary unless it has ``<unk>``.
        """
        if self.unit == "word":
            ids = []
            for word in text.split():
                index = self._ids.get(word, self.unk_id)
                if index is None or index == 0 or word == WORD_SEPARATOR:
                    raise VocabError(f"word {word!r} is not in the vocabulary (text: {text!r})")
                ids.append(index)
            return ids
        if self.unit == "pinyin":
            ids = []
            for piece in to_pinyin(text):
                index = self._ids.get(piece, self.unk_id) if piece != WORD_SEPARATOR else self.unk_id
                if index is None or index == 0:
                    raise VocabError(f"{piece!r} is not a syllable of the vocabulary (text: {text!r})")
                ids.append(index)
            return ids
        ids = []
        for char in text:
            token = WORD_SEPARATOR if char == " " else char
            index = self._ids.get(token, self.unk_id)
            if index is None or index == 0:
                raise VocabError(f"character {char!r} is not in the vocabulary (text: {text!r})")
            ids.append(index)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ids (blanks skipped, separators become single spaces; syllables are one space apart)."""
        pieces = []
        for index in ids:
            token = self.tokens[int(index)]
            if token == BLANK:
                continue
            pieces.append(" " if token == WORD_SEPARATOR else UNK_DECODED if token == UNK else token)
        return _WHITESPACE.sub(" ", (" " if self.unit in WORD_UNITS else "").join(pieces)).strip()

    def to_dict(self) -> dict:
        """Plain types, for a checkpoint loaded with ``weights_only=True``."""
        return {"tokens": list(self.tokens), "normalizer": self.normalizer, "unit": self.unit}

    @classmethod
    def from_dict(cls, state: dict) -> Tokenizer:
        return cls(tuple(state["tokens"]), state["normalizer"], state.get("unit", "char"))  # older: characters
