"""Text: normalisers (English, Mandarin) and the character ``Tokenizer`` CTC trains on.

A vocabulary file holds one token per line. Line 1 is the CTC blank ``<blank>`` (id 0); ``|`` is the
word separator (a space in text), as in torchaudio's and fairseq's character vocabularies, so the
same file serves flashlight's lexicon decoder. An optional ``<unk>`` stands for characters the
vocabulary lacks; without it such a transcript cannot be encoded.

    tokenizer = Tokenizer.from_file("data/lang/vocab.txt", normalizer="english")
    ids = tokenizer.encode(tokenizer.normalize("Hello, World!"))   # "hello world"
    tokenizer.decode(ids)                                          # "hello world"
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import VocabError

BLANK = "<blank>"  # CTC blank, always id 0
UNK = "<unk>"  # optional: stands for characters outside the vocabulary
WORD_SEPARATOR = "|"  # a space in text
UNK_DECODED = "\u2047"  # "⁇": how <unk> reads in decoded text (one character, like sentencepiece)

NORMALIZERS = ("english", "mandarin", "none")

_WHITESPACE = re.compile(r"\s+")
_ENGLISH_NOT_KEPT = re.compile(r"[^a-z0-9' ]+")
_STRAY_APOSTROPHE = re.compile(r"(?<![a-z0-9])'|'(?![a-z0-9])")


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


def normalize_mandarin(text: str) -> str:
    """Chinese characters without punctuation or spaces between them.

    Full-width forms become their ASCII counterparts (NFKC: ``Ａ１`` -> ``a1``), punctuation of both
    scripts goes, Latin words are lower-cased and keep one space between each other.
    """
    text = unicodedata.normalize("NFKC", text).lower()
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


def build_vocab(texts: Iterable[str], add_unk: bool = False) -> list[str]:
    """The token list for already-normalised ``texts``: blank, [unk], separator, sorted characters."""
    chars = set()
    for text in texts:
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
    """Characters <-> ids for CTC, with the text normaliser that belongs to the vocabulary."""

    tokens: tuple[str, ...]  # id -> token; tokens[0] is the blank
    normalizer: str = "english"  # name of the normaliser applied to transcripts (see NORMALIZERS)

    def __post_init__(self):
        if not self.tokens or self.tokens[0] != BLANK:
            raise VocabError(f"the first token of a vocabulary must be {BLANK!r}")
        if len(set(self.tokens)) != len(self.tokens):
            dupes = sorted({t for t in self.tokens if self.tokens.count(t) > 1})
            raise VocabError(f"vocabulary has duplicate tokens: {dupes}")
        get_normalizer(self.normalizer)
        object.__setattr__(self, "_ids", {t: i for i, t in enumerate(self.tokens)})

    @classmethod
    def from_file(cls, path: str | Path, normalizer: str = "english") -> Tokenizer:
        path = Path(path)
        if not path.is_file():
            raise VocabError(f"{path}: vocabulary file not found")
        lines = path.read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for number, line in enumerate(lines, 1):
            if line == "" or line != line.strip():
                raise VocabError(f"{path}:{number}: a vocabulary line must be one token without spaces")
        try:
            return cls(tuple(lines), normalizer)
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

    def encode(self, text: str) -> list[int]:
        """Ids of a normalised text; spaces become the word separator.

        Raises ``VocabError`` for a character outside the vocabulary unless it has ``<unk>``.
        """
        ids = []
        for char in text:
            token = WORD_SEPARATOR if char == " " else char
            index = self._ids.get(token, self.unk_id)
            if index is None or index == 0:
                raise VocabError(f"character {char!r} is not in the vocabulary (text: {text!r})")
            ids.append(index)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ids (blanks skipped, separators become single spaces)."""
        pieces = []
        for index in ids:
            token = self.tokens[int(index)]
            if token == BLANK:
                continue
            pieces.append(" " if token == WORD_SEPARATOR else UNK_DECODED if token == UNK else token)
        return _WHITESPACE.sub(" ", "".join(pieces)).strip()

    def to_dict(self) -> dict:
        """Plain types, for a checkpoint loaded with ``weights_only=True``."""
        return {"tokens": list(self.tokens), "normalizer": self.normalizer}

    @classmethod
    def from_dict(cls, state: dict) -> Tokenizer:
        return cls(tuple(state["tokens"]), state["normalizer"])
