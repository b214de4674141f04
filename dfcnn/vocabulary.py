"""Your own words and grammars for the lexicon beam search (``decode.BeamSearchDecoder``).

    DecoderConfig(lexicon="lm/lexicon.txt", lm="lm/lm.bin", words="names.txt", words_weight=8.0)
    DecoderConfig(grammar="digits.txt")                        # the output is one of its phrases
    DecoderConfig(grammar="digits.txt", grammar_repeat=True)   # or a sequence of them

A words or grammar file holds one word or phrase a line (blank lines and lines starting with ``#`` are
skipped). A pronunciation in the model's units may follow after a tab or two spaces, a phrase's words
separated by ``|``; without one, a word is spelt the way ``dfcnn lm`` spells lexicon words
(``lm.spellings``: its letters; for a phone model CMUdict, then eSpeak NG's letter-to-sound):

    kubernetes  K UW B ER N EH T IY Z
    new york
    doctor who  D AA K T ER | HH UW

Words: each word of each line joins the decoder's lexicon, and the LM scores it as it would (an
n-gram LM gives a word it lacks its <unk> probability) plus ``words_weight`` each time it is written
(``BoostedLM``, wrapping flashlight's KenLM). A grammar replaces lexicon and LM: a lexicon of its words
and ``GrammarLM``, which scores every word sequence outside the grammar ``GRAMMAR_PENALTY``; a search
that still ends outside it (all grammar paths pruned) is snapped to the nearest phrase sequence
(``PhraseGrammar.closest``), so the output is always in the grammar.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from pathlib import Path

from flashlight.lib.text.decoder import LM, LMState
from flashlight.lib.text.dictionary import create_word_dict, load_words

from .errors import DfcnnError, VocabError
from .fileio import atomic_write_text, read_text
from .lm import lm_words, read_lexicon, spellings
from .pronounce import strip_stress
from .text import BLANK, WORD_SEPARATOR, Tokenizer

GRAMMAR_PENALTY = -1e4  # LM score of a word (or an end) outside the grammar: never worth an acoustic gain
# the least beam threshold of a grammar search: a phrase is not pruned for sounding unlikely early on (a
# hypothesis outside the grammar, GRAMMAR_PENALTY below, still is at once)
GRAMMAR_BEAM_THRESHOLD = 100.0
_PRONUNCIATION = re.compile(r"\t| {2,}")  # words, then a tab or two spaces, then a pronunciation


@dataclass(frozen=True)
class Phrase:
    """One line of a words or grammar file."""

    words: tuple[str, ...]  # normalised words, as the decoder writes them
    spellings: tuple[tuple[tuple[str, ...], ...], ...]  # for each word: its spellings in the model's units
    where: str  # "FILE:LINE", for messages


def read_phrases(path: str | Path, tokenizer: Tokenizer, what: str = "words file") -> list[Phrase]:
    """The phrases of a words or grammar file, each word spelt in ``tokenizer``'s units.

    Raises ``VocabError`` naming FILE:LINE for a line without words, a pronunciation that does not
    match its words or uses a token outside the vocabulary, or a word that cannot be spelt.
    """
    path = Path(path)
    text = read_text(path, what, VocabError)
    units = set(tokenizer.tokens) - {BLANK, WORD_SEPARATOR}
    # a pinyin model's lexicon words are characters (spelt by their readings), as dfcnn lm --hanzi writes
    word_unit = "char" if tokenizer.unit == "pinyin" else tokenizer.unit
    phrases = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{number}"
        written, _, given = (part.strip() for part in _partition(line))
        words = lm_words(written, tokenizer.normalizer, word_unit)
        if not words:
            raise VocabError(f"{where}: no word left in {written!r} once normalised")
        if given:
            per_word = _given_spellings(given, words, units, tokenizer.unit, where)
        else:
            per_word = [_known_spellings(word, tokenizer, units, where) for word in words]
        phrases.append(Phrase(tuple(words), tuple(per_word), where))
    if not phrases:
        raise VocabError(f"{path}: {what} holds no words")
    return phrases


def _partition(line: str) -> tuple[str, str, str]:
    parts = _PRONUNCIATION.split(line, maxsplit=1)
    return (parts[0], "", "") if len(parts) == 1 else (parts[0], "\t", parts[1])


def _given_spellings(given: str, words: list[str], units: set[str], unit: str, where: str) -> list:
    groups = [group.split() for group in given.split(WORD_SEPARATOR)]
    if len(groups) != len(words) or not all(groups):
        raise VocabError(
            f"{where}: {len(words)} word(s) ({' '.join(words)}) but {len(groups)} pronunciation(s): "
            "give one per word, separated by |"
        )
    spelt = []
    for word, group in zip(words, groups):
        tokens = [strip_stress(t.upper()) for t in group] if unit == "phone" else group  # CMUdict's AH0 -> AH
        unknown = next((t for t in tokens if t not in units), None)
        if unknown is not None:
            raise VocabError(
                f"{where}: {unknown!r} in the pronunciation of {word!r} is not a unit of this model "
                f"({unit}: {' '.join(sorted(units)[:8])} ...)"
            )
        spelt.append((tuple(tokens),))
    return spelt


def _known_spellings(word: str, tokenizer: Tokenizer, units: set[str], where: str) -> tuple:
    usable = tuple(dict.fromkeys(tuple(s) for s in spellings(word, tokenizer) if s and set(s) <= units))
    if not usable:
        raise VocabError(
            f"{where}: cannot spell {word!r} in this model's units ({tokenizer.unit}): give its "
            "pronunciation after a tab or two spaces"
        )
    return usable


def write_search_lexicon(phrases: list[Phrase], path: Path, base: str | Path | None = None) -> set[str]:
    """Write the lexicon ``base`` (if any) with every word of ``phrases`` added (each spelling once) to
    ``path``; returns the words of ``phrases``."""
    lexicon = read_lexicon(base) if base is not None else {}
    lexicon = {word: [tuple(s) for s in spelt] for word, spelt in lexicon.items()}
    for phrase in phrases:
        for word, spelt in zip(phrase.words, phrase.spellings):
            known = lexicon.setdefault(word, [])
            known.extend(s for s in spelt if s not in known)
    atomic_write_text(path, "".join(f"{word} {' '.join(s)}\n" for word, spelt in lexicon.items() for s in spelt))
    return {word for phrase in phrases for word in phrase.words}


def word_dictionary(lexicon: str | Path):
    """flashlight's word dictionary of a lexicon: the indices ``ctc_decoder`` gives an LM for it."""
    return create_word_dict(load_words(str(lexicon)))


class BoostedLM(LM):
    """An n-gram LM (flashlight's KenLM) or none, whose score of the boosted words carries ``bonus``.

    Without an LM each word's state is a child of the one before (as flashlight's ZeroLM does), and
    every word scores 0 but the boosted ones. ``bonus`` is in LM units: the decoder multiplies it by
    its LM weight. The search calls ``score`` from C++ for every word it completes (some 30,000 times
    an audio second with a 73,000-word lexicon): the crossing, not the work, makes it slower than KenLM alone.
    """

    def __init__(self, kenlm: LM | None, boosted: set[int], bonus: float):
        LM.__init__(self)
        self._kenlm = kenlm
        self._boosted = boosted
        self._bonus = bonus

    def start(self, start_with_nothing: bool):
        return self._kenlm.start(start_with_nothing) if self._kenlm is not None else LMState()

    def score(self, state, word: int):
        bonus = self._bonus if word in self._boosted else 0.0
        if self._kenlm is None:
            return state.child(word), bonus
        next_state, score = self._kenlm.score(state, word)
        return next_state, score + bonus

    def finish(self, state):
        return self._kenlm.finish(state) if self._kenlm is not None else (state, 0.0)


def boosted_lm(lexicon: Path, boosted_words: set[str], lm: str | None, lm_weight: float, words_weight: float):
    """(LM, LM weight) for a search whose ``lexicon`` holds ``boosted_words``: the KenLM file ``lm``
    (none when absent or weighted 0) with ``words_weight`` added to the decoder's score per boosted word."""
    dictionary = word_dictionary(lexicon)
    boosted = {dictionary.get_index(word) for word in boosted_words}
    kenlm = None
    if lm is not None and lm_weight != 0:
        from flashlight.lib.text.decoder.kenlm import KenLM

        try:
            kenlm = KenLM(str(lm), dictionary)
        except RuntimeError as error:  # KenLM's message names no file
            raise DfcnnError(f"{lm}: cannot load the KenLM language model ({error})") from None
    weight = lm_weight if kenlm is not None else 1.0
    return BoostedLM(kenlm, boosted, words_weight / weight), weight


class PhraseGrammar:
    """The word sequences a grammar allows: one of its phrases, or with ``repeat`` one or more of them.

    A state is the set of trie nodes a prefix can be at (phrases may share words and, repeated, be
    read more than one way); ``None`` is a prefix outside the grammar.
    """

    def __init__(self, phrases: list[tuple[str, ...]], repeat: bool = False):
        self.phrases = list(dict.fromkeys(phrases))
        self.repeat = repeat
        self.children: list[dict[str, int]] = [{}]
        self.ends: set[int] = set()
        for phrase in self.phrases:
            node = 0
            for word in phrase:
                if word not in self.children[node]:
                    self.children.append({})
                    self.children[node][word] = len(self.children) - 1
                node = self.children[node][word]
            self.ends.add(node)
        self.start = frozenset({0})
        self.words = sorted({word for phrase in self.phrases for word in phrase})

    def step(self, state: frozenset | None, word: str) -> frozenset | None:
        """The state after ``word``, or None outside the grammar."""
        if state is None:
            return None
        nodes = {self.children[node][word] for node in state if word in self.children[node]}
        if self.repeat and state & self.ends and word in self.children[0]:
            nodes.add(self.children[0][word])  # a phrase ended: the next may start
        return frozenset(nodes) or None

    def is_complete(self, state: frozenset | None) -> bool:
        return state is not None and bool(state & self.ends)

    def accepts(self, words: list[str]) -> bool:
        state = self.start
        for word in words:
            state = self.step(state, word)
        return self.is_complete(state)

    def closest(self, words: list[str]) -> list[str]:
        """The word sequence of the grammar fewest word edits away from ``words`` (ties: the one found
        first, phrases in file order): a uniform-cost search over (words read, grammar state)."""
        frontier = [(0, 0, 0, self.start, ())]  # (edits, order, words read, state, written)
        order, seen = 1, set()
        while frontier:
            edits, _, read, state, written = heapq.heappop(frontier)
            if (read, state) in seen:
                continue
            seen.add((read, state))
            if read == len(words) and self.is_complete(state):
                return list(written)
            moves = [] if read == len(words) else [(edits + 1, read + 1, state, written)]  # drop a word
            for word in self._next_words(state):
                following = self.step(state, word)
                moves.append((edits + 1, read, following, (*written, word)))  # insert a grammar word
                if read < len(words):
                    cost = edits + (word != words[read])  # keep or substitute
                    moves.append((cost, read + 1, following, (*written, word)))
            for move in moves:
                heapq.heappush(frontier, (move[0], order, *move[1:]))
                order += 1
        raise DfcnnError("the grammar allows no word sequence")  # unreachable: every phrase has a word

    def _next_words(self, state: frozenset) -> list[str]:
        nodes = set(state) | ({0} if self.repeat and state & self.ends else set())
        return list(dict.fromkeys(word for node in sorted(nodes) for word in self.children[node]))


class GrammarLM(LM):
    """An LM that allows the grammar's word sequences: 0 for a word or end inside it, ``GRAMMAR_PENALTY``
    outside. One LMState per grammar state, as flashlight merges hypotheses whose states are one object.

    Until ``searching()`` every word scores 0: ``ctc_decoder`` builds its lexicon trie from each word's
    score after the start state and smears them over the spellings as an estimate of what is to come;
    a grammar word that cannot start a phrase must still not be pruned half-spelt after another word.
    """

    def __init__(self, grammar: PhraseGrammar, lexicon: Path):
        LM.__init__(self)
        dictionary = word_dictionary(lexicon)
        self._grammar = grammar
        self._words = [dictionary.get_entry(index) for index in range(dictionary.index_size())]
        self._states: dict[frozenset | None, LMState] = {}
        self._keys: dict[int, frozenset | None] = {}  # id of an LMState -> its grammar state
        self._building_trie = True

    def searching(self) -> None:
        """The lexicon trie is built: score words by the grammar from now on."""
        self._building_trie = False

    def _state(self, key: frozenset | None):
        if key not in self._states:
            state = LMState()
            self._states[key] = state
            self._keys[id(state)] = key
        return self._states[key]

    def start(self, start_with_nothing: bool):
        return self._state(self._grammar.start)

    def score(self, state, word: int):
        if self._building_trie:
            return state, 0.0
        key = self._keys[id(state)]
        following = self._grammar.step(key, self._words[word])
        penalty = GRAMMAR_PENALTY if following is None and key is not None else 0.0  # outside once, not again
        return self._state(following), penalty

    def finish(self, state):
        return state, 0.0 if self._grammar.is_complete(self._keys[id(state)]) else GRAMMAR_PENALTY


def grammar_of(phrases: list[Phrase], repeat: bool) -> PhraseGrammar:
    return PhraseGrammar([phrase.words for phrase in phrases], repeat)
