"""Language models: n-gram word LMs built with KenLM, and lexicons for flashlight's lexicon decoder.
The package's other modules build LMs from other LMs: ``arpa`` (back-off models in numpy: read, write,
interpolate, prune), ``sphinx`` (PocketSphinx's binary LMs read) and ``mix`` (a general LM mixed with a
corpus LM, as the speechocean762 recipe ships).

    tokenizer = Tokenizer.from_file("data/lang/vocab.txt", normalizer="english")
    lm = build_lm(["data/train.jsonl", "data/extra_text.txt"], "exp/lm", order=3, tokenizer=tokenizer)
    # exp/lm/text.txt (normalised corpus), lm.arpa, lm.bin, lexicon.txt -> ctc_decoder(lexicon=, lm=)

A lexicon line is a word and its spelling in vocabulary tokens, the format torchaudio's
``ctc_decoder`` reads: ``hello h e l l o``. The separator ``|`` is not part of a spelling (see
``spelling``); the LM words of Mandarin are single characters spelt by themselves (``你 你``), or with
a pinyin vocabulary tonal syllables spelt by themselves (``ni3 ni3``): a syllable LM.
"""

from __future__ import annotations

import collections
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..data import read_manifest
from ..errors import DfcnnError, VocabError
from ..fileio import atomic_write_text, read_text
from ..text import BLANK, WORD_UNITS, Tokenizer, get_normalizer, is_cjk, to_pinyin

REPO_KENLM_BIN = Path(__file__).resolve().parents[2] / "tools" / "kenlm" / "bin"  # where install_kenlm.sh puts them
ARPA_SPECIALS = ("<s>", "</s>", "<unk>")  # in every KenLM ARPA, never in a lexicon


def find_kenlm_binary(name: str) -> Path:
    """Path of KenLM's ``name`` ("lmplz", "build_binary"): $DFCNN_KENLM_BIN, tools/kenlm/bin, PATH."""
    folders = [Path(os.environ["DFCNN_KENLM_BIN"])] if os.environ.get("DFCNN_KENLM_BIN") else []
    for folder in [*folders, REPO_KENLM_BIN]:
        if (folder / name).is_file() and os.access(folder / name, os.X_OK):
            return folder / name
    found = shutil.which(name)
    if found:
        return Path(found)
    looked = ", ".join(str(f) for f in [*folders, REPO_KENLM_BIN]) + " and PATH"
    raise DfcnnError(
        f"KenLM's {name} not found (looked in {looked}); build it with `bash tools/install_kenlm.sh` "
        "(compiles the kenlm source from PyPI with cmake and Boost from apt) or set DFCNN_KENLM_BIN "
        "to the folder holding lmplz and build_binary"
    )


def lm_words(text: str, normalizer: str, unit: str = "char") -> list[str]:
    """The LM words of a text after normalisation.

    Words are space-separated, except for Mandarin, whose vocabulary is characters: each CJK character
    is a word and a run of other characters (a Latin word) is one, so ``"我用ok了"`` -> 我 用 ok 了.
    With ``unit="pinyin"`` each character is its tonal syllable: wo3 yong4 ok le5.
    """
    text = get_normalizer(normalizer)(text)
    if unit == "pinyin":
        return to_pinyin(text)
    if normalizer != "mandarin" or unit == "word":
        return text.split()
    words = []
    for chunk in text.split():
        for cjk, run in itertools.groupby(chunk, is_cjk):
            if cjk:
                words.extend(run)
            else:
                words.append("".join(run))
    return words


def _source_lines(source: str | Path) -> list[str]:
    """Raw sentences of a source: the ``text`` of a JSONL manifest, or the lines of a text file."""
    source = Path(source)
    if source.suffix == ".jsonl":
        return [utterance.text for utterance in read_manifest(source)]
    return read_text(source, "LM text file").splitlines()


def lm_corpus(sources: Iterable[str | Path], normalizer: str, unit: str = "char") -> list[str]:
    """Normalised sentences of all ``sources``, words one space apart (see ``lm_words``); empty ones dropped."""
    sentences = []
    for source in sources:
        for line in _source_lines(source):
            words = lm_words(line, normalizer, unit)
            if words:
                sentences.append(" ".join(words))
    return sentences


def spelling(word: str, normalizer: str, unit: str = "char") -> list[str]:
    """Vocabulary tokens of a lexicon word: its characters (a pinyin syllable or a word unit: itself), no
    trailing ``|``.

    Our models emit ``|`` only between words, never after the last one; flashlight treats ``|`` as
    optional silence between lexicon words, so a spelling that ended in it could not end an utterance.
    """
    return [word] if unit in WORD_UNITS else list(word)


def spellings(word: str, tokenizer: Tokenizer) -> list[list[str]]:
    """Every spelling of a lexicon word in ``tokenizer``'s tokens (``spelling``, one as a rule).

    A Chinese word under a pinyin vocabulary is spelt by its syllables: a character by each of its
    readings (pypinyin's heteronyms: 行 -> xing2, hang2, ...), so a character LM can choose among them
    and the decoder writes characters, as DFCNN's reference pipeline turns pinyin into hanzi. An
    English word under a phone vocabulary is spelt by every pronunciation the tokenizer's dictionary
    gives it (``tomato``: T AH M EY T OW and T AH M AA T OW), or letter-to-sound's one guess.
    """
    if tokenizer.unit == "phone":
        return tokenizer.pronouncer.pronunciations(word)
    if tokenizer.unit == "pinyin" and word and all(is_cjk(char) for char in word):
        if len(word) > 1:
            return [to_pinyin(word)]
        from pypinyin import Style, pinyin

        readings = pinyin(word, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True)[0]
        return [[reading] for reading in dict.fromkeys(readings)]
    return [spelling(word, tokenizer.normalizer, tokenizer.unit)]


FLASHLIGHT_MAX_HOMOPHONES = 6  # flashlight's lexicon trie keeps at most this many words per spelling


def write_lexicon(
    words: Iterable[str], tokenizer: Tokenizer, path: str | Path, counts: Mapping[str, float] | None = None
) -> int:
    """Write a lexicon of ``words`` (unique) spelt in ``tokenizer``'s vocabulary (see ``spellings``).

    Words sharing one spelling (homophones: a pinyin syllable spells dozens of characters) are
    capped at flashlight's trie limit, keeping the most frequent by ``counts`` (e.g. LM training
    counts, or unigram probabilities); otherwise words are in sorted order. Returns the number of
    words left out because no spelling of theirs is made of tokens alone, or because all of theirs
    were past the cap.
    """
    tokens = set(tokenizer.tokens) - {BLANK}
    counts = counts or {}
    lines, skipped, homophones = [], 0, {}
    for word in sorted(set(words), key=lambda w: (-counts.get(w, 0), w)):
        usable = [spelt for spelt in spellings(word, tokenizer) if set(spelt) <= tokens]
        kept = [spelt for spelt in usable if homophones.get(tuple(spelt), 0) < FLASHLIGHT_MAX_HOMOPHONES]
        for spelt in kept:
            homophones[tuple(spelt)] = homophones.get(tuple(spelt), 0) + 1
        if not kept:
            skipped += 1
        lines.extend(f"{word} {' '.join(spelt)}\n" for spelt in kept)
    atomic_write_text(path, "".join(sorted(lines) if not counts else lines))
    return skipped


def lexicon_writes(lexicon: str | Path | None, tokenizer: Tokenizer) -> str:
    """What a beam search with ``lexicon`` writes (see ``decode.WRITES``): "units" without a lexicon,
    "hanzi" for a pinyin model with a lexicon of Chinese characters, else "words"."""
    if lexicon is None:
        return "units"
    if tokenizer.unit != "pinyin":
        return "words"
    with open(lexicon, encoding="utf-8") as lines:
        first = next((line.split()[0] for line in lines if line.strip()), "")
    return "hanzi" if first and all(is_cjk(char) for char in first) else "words"


def read_lexicon(path: str | Path, tokenizer: Tokenizer | None = None) -> dict[str, list[list[str]]]:
    """Word -> its spellings (a word may have several lines). With ``tokenizer``, every token is checked.

    Raises ``VocabError`` naming file and line for a line without a spelling or, with ``tokenizer``,
    for a spelling token outside its vocabulary (the decoder would fail or never emit the word).
    """
    path = Path(path)
    text = read_text(path, "lexicon", VocabError)
    tokens = set(tokenizer.tokens) - {BLANK} if tokenizer is not None else None
    lexicon: dict[str, list[list[str]]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) == 1:
            raise VocabError(f"{path}:{number}: word {fields[0]!r} has no spelling")
        unknown = [t for t in fields[1:] if t not in tokens] if tokens is not None else []
        if unknown:
            raise VocabError(f"{path}:{number}: token {unknown[0]!r} of {fields[0]!r} is not in the vocabulary")
        spellings = lexicon.setdefault(fields[0], [])
        if fields[1:] not in spellings:
            spellings.append(fields[1:])
    if not lexicon:
        raise VocabError(f"{path}: lexicon holds no words")
    return lexicon


def check_lexicon(path: str | Path, tokenizer: Tokenizer) -> dict[str, list[list[str]]]:
    """``read_lexicon`` checking that every spelling is in ``tokenizer``'s vocabulary."""
    return read_lexicon(path, tokenizer)


def _arpa_sections(path: Path) -> tuple[dict[int, int], list[str]]:
    """(order -> n-gram count from the \\data\\ header, unigram words) of an ARPA file."""
    if not path.is_file():
        raise DfcnnError(f"{path}: ARPA file not found")
    counts, unigrams, section = {}, [], None
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if line in ("\\2-grams:", "\\end\\"):
                break  # past the unigrams: the rest of a large file need not be read
            if line.startswith("\\"):
                section = line
            elif section == "\\data\\" and line.startswith("ngram "):
                order, count = line[len("ngram ") :].split("=")
                counts[int(order)] = int(count)
            elif section == "\\1-grams:" and line:
                unigrams.append(line.split()[1])
    if not counts or not unigrams:
        raise DfcnnError(f"{path}: not an ARPA language model (no \\data\\ header or no 1-grams)")
    return counts, unigrams


def arpa_counts(path: str | Path) -> dict[int, int]:
    """Order -> number of n-grams, from an ARPA file's header: {1: 1200, 2: 5000, 3: 7000}."""
    return _arpa_sections(Path(path))[0]


def arpa_vocabulary(path: str | Path) -> list[str]:
    """The words of an ARPA LM (its unigrams less <s>, </s>, <unk>), to derive a lexicon from."""
    return [word for word in _arpa_sections(Path(path))[1] if word not in ARPA_SPECIALS]


def resolve_lexicon(lexicon: str | Path | None, lm: str | Path | None, tokenizer: Tokenizer) -> Path | None:
    """The lexicon a beam search should use, checked against ``tokenizer``.

    An explicit ``lexicon`` wins; with only an ``lm``, ``lexicon.txt`` beside it (as ``dfcnn lm``
    writes it), else one derived from an ARPA LM's unigrams. No lexicon and no LM: None.
    """
    if lm is not None and not Path(lm).is_file():
        raise DfcnnError(f"{lm}: language model not found")
    if lexicon is not None:
        if not Path(lexicon).exists():
            raise DfcnnError(f"{lexicon}: lexicon not found")
        check_lexicon(lexicon, tokenizer)
        return Path(lexicon)
    if lm is None:
        return None
    beside = Path(lm).parent / "lexicon.txt"
    if beside.is_file():
        check_lexicon(beside, tokenizer)
        return beside
    with open(lm, "rb") as handle:
        is_arpa = b"\\data\\" in handle.read(4096)
    if not is_arpa:
        raise DfcnnError(
            f"{lm}: a binary LM needs a lexicon: give --lexicon (dfcnn lm writes lexicon.txt beside the LM)"
        )
    import hashlib
    import tempfile

    key = hashlib.sha1(f"{Path(lm).resolve()}:{os.path.getmtime(lm)}:{tokenizer.tokens}".encode()).hexdigest()[:16]
    derived = Path(tempfile.gettempdir()) / f"dfcnn-lexicon-{key}.txt"
    if not derived.is_file():
        write_lexicon(arpa_vocabulary(lm), tokenizer, derived)
    return derived


@dataclass(frozen=True)
class LanguageModel:
    """What ``build_lm`` wrote."""

    arpa: Path  # the ARPA file, readable by any toolkit
    binary: Path | None  # KenLM binary of the same LM (faster to load), or None
    lexicon: Path | None  # flashlight lexicon of the LM's words, or None without a tokenizer
    vocabulary_size: int  # words of the LM: the ARPA's unigrams less <s>, </s>, <unk> (fewer if pruned)
    sentences: int  # sentences the LM was estimated on (0: converted or interpolated, not estimated here)
    lexicon_skipped: int  # words left out of the lexicon for characters outside the vocabulary


def _run(command: Sequence[str | Path]) -> None:
    """Run a KenLM program; a failure raises ``DfcnnError`` with the end of its stderr."""
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        name = Path(command[0]).name
        raise DfcnnError(f"{name} failed (exit {result.returncode}): {' '.join(map(str, command))}\n{tail}")


KENLM_TRIE_Q8 = ("-q", "8", "-b", "8", "-a", "22", "trie")  # build_binary: 8-bit probabilities and back-offs


def build_kenlm_binary(arpa: str | Path, binary: str | Path, options: Sequence[str] = ()) -> Path:
    """KenLM's build_binary of ``arpa`` into ``binary`` (atomically); ``options`` before the paths, e.g.
    ``KENLM_TRIE_Q8`` for a quantised trie (about a quarter of the default probing structure's size)."""
    binary = Path(binary)
    tmp = binary.with_name(binary.name + ".tmp")
    try:
        _run([find_kenlm_binary("build_binary"), *options, arpa, tmp])
        os.replace(tmp, binary)
    finally:
        tmp.unlink(missing_ok=True)
    return binary


def build_lm(
    sources: Iterable[str | Path],
    out_dir: str | Path,
    order: int = 3,
    normalizer: str = "english",
    memory: str = "1G",
    prune: Sequence[int] | None = None,
    binary: bool = True,
    tokenizer: Tokenizer | None = None,
    hanzi: bool = False,
) -> LanguageModel:
    """Estimate an ``order``-gram Kneser-Ney LM on ``sources`` with lmplz into ``out_dir``.

    Args:
        sources: text files (one sentence a line) and/or JSONL manifests (their ``text``).
        memory: lmplz's -S, its sorting memory (``"1G"``, ``"20%"`` of RAM); lmplz reserves it up front.
        prune: lmplz's --prune thresholds, one per order from unigrams (``[0, 0, 1]``), non-decreasing.
        tokenizer: when given, also write lexicon.txt of the LM's words spelt in its vocabulary.
        hanzi: with a pinyin tokenizer, an LM over Chinese characters (not syllables) whose lexicon
            spells each character by its readings: the decoder then writes characters.
    """
    out_dir = Path(out_dir)
    if tokenizer is not None and tokenizer.normalizer != normalizer:
        raise DfcnnError(
            f"the LM text normalizer {normalizer!r} differs from the vocabulary's {tokenizer.normalizer!r}"
        )
    if prune is not None and len(prune) > order:
        raise DfcnnError(f"--prune has {len(prune)} thresholds for a {order}-gram LM")
    lmplz = find_kenlm_binary("lmplz")
    build_binary = find_kenlm_binary("build_binary") if binary else None
    if hanzi and (tokenizer is None or tokenizer.unit != "pinyin"):
        raise DfcnnError("a hanzi LM is for pinyin models: give the pinyin model's vocabulary (or the model)")
    sentences = lm_corpus(sources, normalizer, "char" if hanzi or tokenizer is None else tokenizer.unit)
    if not sentences:
        raise DfcnnError("the LM sources hold no text after normalisation")
    text = out_dir / "text.txt"
    atomic_write_text(text, "".join(s + "\n" for s in sentences))

    # lmplz writes its output as it goes: a temp name keeps a failed run from leaving a truncated lm.arpa
    arpa, arpa_tmp = out_dir / "lm.arpa", out_dir / "lm.arpa.tmp"
    # --discount_fallback: small corpora lack the counts-of-counts Kneser-Ney discounts are estimated from
    command = [lmplz, "-o", order, "-S", memory, "-T", out_dir, "--discount_fallback", "--text", text]
    try:
        _run([*command, "--arpa", arpa_tmp, *(["--prune", *prune] if prune else [])])
        os.replace(arpa_tmp, arpa)
    finally:
        arpa_tmp.unlink(missing_ok=True)

    bin_path = out_dir / "lm.bin"
    bin_path.unlink(missing_ok=True)  # never leave a binary of an older LM beside the new ARPA
    if build_binary is not None:
        build_kenlm_binary(arpa, bin_path)

    words = arpa_vocabulary(arpa)
    lexicon, skipped = out_dir / "lexicon.txt", 0
    lexicon.unlink(missing_ok=True)
    if tokenizer is not None:
        counts = collections.Counter(word for sentence in sentences for word in sentence.split())
        skipped = write_lexicon(words, tokenizer, lexicon, counts)
    return LanguageModel(
        arpa,
        bin_path if build_binary is not None else None,
        lexicon if tokenizer is not None else None,
        len(words),
        len(sentences),
        skipped,
    )
