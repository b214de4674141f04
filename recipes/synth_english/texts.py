"""The sentences of the synthetic English corpus: readers for each text source and the filter that
keeps only sentences a TTS voice reads exactly as their transcript spells them.

    sentences = load_sentences(data_root(), Path("/usr/share/wordnet"))  # list[Sentence], deduplicated
    sentence.spoken   # "Author of the danger trail, Philip Steels, et cetera."  (what the voice reads)
    sentence.text     # "author of the danger trail philip steels et cetera"     (the transcript)

The speechocean762 *test* transcripts are read only to exclude every sentence whose normalised text
equals one of them (``load_sentences`` does it; ``forbidden_texts`` gives the set).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dfcnn.errors import DfcnnError
from dfcnn.text import normalize_english

MIN_WORDS, MAX_WORDS = 3, 30  # shorter are fragments, longer make clips over ~12 s

LJSPEECH = Path("ljspeech_subset/LJSpeech-1.1/metadata_subset.csv")
ARCTIC = Path("cathy_arctic/cmuarctic.data")
SPEECHOCEAN_TRAIN = Path("speechocean762/train/text")
SPEECHOCEAN_TEST = Path("speechocean762/test/text")  # only read to keep its sentences out
WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")

# Abbreviations every voice expands when reading; the transcript must hold the words it says.
ABBREVIATIONS = {"Mr.": "Mister", "Mrs.": "Missus", "Dr.": "Doctor", "etc.": "et cetera"}
_ABBREVIATION = re.compile("|".join(re.escape(a) for a in ABBREVIATIONS))
# A spoken sentence may hold letters, apostrophes and punctuation that is read as a pause, nothing
# else: digits, symbols (& % $ / ...) and non-ASCII letters are read as words the transcript lacks.
_SPEAKABLE = re.compile(r"[A-Za-z' ,.;:!?()\-]+")
_DOTTED = re.compile(r"\b[A-Za-z]\.[A-Za-z]\.")  # U.S., a.m.: read as a word or spelled, unpredictably
_CAPITALS = re.compile(r"\b[A-Z]{2,}\b")  # NATO, FBI, VIII: spelled out, read as a word or a number


class TextError(DfcnnError):
    """A text source is missing or malformed; the message names the file (and line)."""


@dataclass(frozen=True)
class Sentence:
    """One sentence to be spoken."""

    spoken: str  # the text given to the voice: cased, with punctuation for prosody
    text: str  # the transcript: normalize_english(spoken)
    source: str  # ljspeech, arctic, speechocean762, wordnet
    ref: str  # where it came from: an utterance id, or file:line


def speakable(raw: str, mixed_case: bool = True) -> str | None:
    """The text a voice should read for ``raw``, or None when no voice would read it as spelled.

    ``mixed_case``: the source uses normal capitalisation, so a run of capitals is an acronym or a
    Roman numeral (dropped); speechocean762 is all capitals and is lower-cased instead.
    """
    text = " ".join(raw.replace("\u2019", "'").replace('"', " ").replace("`", "'").split())
    # an abbreviation's full stop may also end the sentence: keep it there for the falling intonation
    text = _ABBREVIATION.sub(lambda m: ABBREVIATIONS[m.group(0)] + ("." if m.end() == len(text) else ""), text)
    if not mixed_case:
        text = text.lower()
    if not text or not _SPEAKABLE.fullmatch(text) or _DOTTED.search(text):
        return None
    if mixed_case and _CAPITALS.search(text):
        return None
    if not MIN_WORDS <= len(normalize_english(text).split()) <= MAX_WORDS:
        return None
    return text


def _open_lines(path: Path, encoding: str = "utf-8") -> list[str]:
    if not path.is_file():
        raise TextError(f"{path}: text source not found")
    try:
        return path.read_text(encoding=encoding).splitlines()
    except UnicodeDecodeError as error:
        raise TextError(f"{path}: not {encoding} text ({error.reason} at byte {error.start})") from None


def read_ljspeech(path: Path) -> list[tuple[str, str]]:
    """(raw text, ref) from LJSpeech's metadata: ``id|raw|normalized``; the normalised column (numbers
    and most abbreviations already in words) is the one read."""
    rows = []
    for number, line in enumerate(_open_lines(path), 1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 3 or not fields[0]:
            raise TextError(f"{path}:{number}: expected 'id|text|normalized text', got {len(fields)} field(s)")
        rows.append((fields[2], fields[0]))
    return rows


_ARCTIC_LINE = re.compile(r'\(\s*(\S+)\s+"(.*)"\s*\)')


def read_arctic(path: Path) -> list[tuple[str, str]]:
    """(raw text, ref) from a CMU ARCTIC prompt file: ``( arctic_a0001 "text" )`` per line."""
    rows = []
    for number, line in enumerate(_open_lines(path), 1):
        if not line.strip():
            continue
        match = _ARCTIC_LINE.fullmatch(line.strip())
        if not match:
            raise TextError(f"{path}:{number}: expected '( utterance_id \"text\" )'")
        rows.append((match.group(2), match.group(1)))
    return rows


def read_kaldi_text(path: Path) -> list[tuple[str, str]]:
    """(text, utterance id) from a Kaldi ``text`` file: ``utt_id<whitespace>transcript``."""
    rows = []
    for number, line in enumerate(_open_lines(path), 1):
        if not line.strip():
            continue
        fields = line.split(maxsplit=1)
        if len(fields) != 2:
            raise TextError(f"{path}:{number}: expected 'utterance_id transcript'")
        rows.append((fields[1], fields[0]))
    return rows


def read_wordnet(folder: Path) -> list[tuple[str, str]]:
    """(example sentence, file:line) from WordNet 3.0's data files: the double-quoted usage examples
    that follow the gloss (``| gloss; "they were sitting around the table"``)."""
    rows = []
    for name in WORDNET_FILES:
        path = folder / name
        if not path.is_file():
            raise TextError(f"{path}: WordNet data not found (install it: bash tools/install_tts.sh)")
        for number, line in enumerate(_open_lines(path, encoding="latin-1"), 1):
            if line.startswith("  "):  # the licence header
                continue
            if " | " not in line:
                raise TextError(f"{path}:{number}: a synset line without its ' | ' gloss")
            for example in re.findall(r'"([^"]+)"', line.split(" | ", 1)[1]):
                rows.append((example, f"{name}:{number}"))
    return rows


def forbidden_texts(data_root: Path) -> set[str]:
    """Normalised speechocean762 test transcripts: none of them may be spoken in this corpus."""
    return {normalize_english(text) for text, _ in read_kaldi_text(data_root / SPEECHOCEAN_TEST)}


def load_sentences(data_root: Path, wordnet_dir: Path, sources: tuple[str, ...] | None = None) -> list[Sentence]:
    """All usable sentences, first occurrence of each transcript kept, in source order: LJSpeech, ARCTIC,
    speechocean762 train, WordNet. ``sources`` limits which are read (default: all four)."""
    readers = {
        "ljspeech": (lambda: read_ljspeech(data_root / LJSPEECH), True),
        "arctic": (lambda: read_arctic(data_root / ARCTIC), True),
        "speechocean762": (lambda: read_kaldi_text(data_root / SPEECHOCEAN_TRAIN), False),
        "wordnet": (lambda: read_wordnet(wordnet_dir), True),
    }
    unknown = set(sources or ()) - set(readers)
    if unknown:
        raise TextError(f"unknown text source(s) {sorted(unknown)}; known: {', '.join(readers)}")
    forbidden = forbidden_texts(data_root)
    seen, sentences = set(), []
    for source, (read, mixed_case) in readers.items():
        if sources is not None and source not in sources:
            continue
        for raw, ref in read():
            spoken = speakable(raw, mixed_case)
            if spoken is None:
                continue
            text = normalize_english(spoken)
            if text in forbidden or text in seen:
                continue
            seen.add(text)
            sentences.append(Sentence(spoken, text, source, ref))
    return sentences
