"""Decoding CTC log-probabilities into text: one options dataclass, one interface, one builder.

    decoder = build_decoder(tokenizer, DecoderConfig(lm="lm/lm.bin", lm_weight=2.0))
    nbest = decoder.decode(log_probs, lengths)          # per utterance, best first
    decoder.writes                                      # "units", "words" or "hanzi"
    score = decoder.score(references, [n[0].text for n in nbest])

    decoder_config(lm="lm/lm.bin", lm_weight=2.0)      # options (command line, serve, Python) -> DecoderConfig
    decoder_config(words="names.txt")                   # the shipped decoder, your words added (a Shipped)
    resolve_decoder(SHIPPED, "exp/")                    # the decoder a model ships: exp/decoder.json, or None

Greedy (best path): the most likely token at each frame, repeats merged, blanks removed. Beam
search: flashlight-text's prefix beam search through ``torchaudio.models.decoder.ctc_decoder``,
optionally constrained to a lexicon and scored by a KenLM n-gram word LM, with your own words added
or the output held to a grammar's phrases (``dfcnn.vocabulary``). Every caller (the
Recognizer, evaluate, tune, the trainer's dev scoring) decodes and scores through this module, so
a text is always scored in the form its decoder writes.

torch is imported where a decoder runs, not at import: the command line reads ``DecoderConfig``'s
defaults for its help without loading torch (seconds on a cold start).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, DfcnnError, check_field
from .fileio import read_text
from .metrics import Score, score
from .text import BLANK, UNK, WORD_SEPARATOR, Tokenizer
from .versions import load_torchaudio

if TYPE_CHECKING:
    import torch

DEFAULT_BEAM_SIZE = 50  # the beam when a lexicon or LM is asked for without a size
SHIPPED = "shipped"  # load_model's default decoder: decoder.json beside the checkpoint, else greedy
DECODER_FILE = "decoder.json"  # the decoder a model ships with, beside its checkpoint (dfcnn tune --ship)
WRITES = ("units", "words", "hanzi")  # the model's own tokens; lexicon words; Chinese characters (pinyin in)
DEFAULT_WORDS_WEIGHT = 8.0  # score added per written word of a words file: the best WER of bench/vocabulary.md's sweep
VOCABULARY_OPTIONS = ("words", "words_weight", "grammar", "grammar_repeat")
ON_TOP_OPTIONS = (*VOCABULARY_OPTIONS, "blank_penalty")  # alone, they go on top of a shipped decoder
PATH_OPTIONS = ("lexicon", "lm", "words", "grammar")  # files, named relative to a decoder.json


@dataclass
class Hypothesis:
    """One decoded utterance."""

    text: str  # decoded text, in the form the decoder writes
    tokens: list[int] = field(default_factory=list)  # emitted token ids, blank-free
    frames: list[int] = field(default_factory=list)  # output frame where each token starts (same length as tokens)
    score: float = 0.0  # log-probability of the decoded path (greedy: sum of frame maxima)
    words: list[str] | None = None  # lexicon decoding: the words written, in order
    word_starts: list[int] | None = None  # lexicon decoding: index in ``tokens`` where each word's spelling starts

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class DecoderConfig:
    """How log-probs become text. The defaults decode greedily; a beam size, a lexicon or an LM asks
    for the beam search (whisper's ``DecodingOptions`` shape)."""

    beam_size: int | None = None  # hypotheses kept per frame; None: greedy unless lexicon or lm is set
    beam_size_token: int | None = None  # tokens considered per frame (None: the whole vocabulary)
    beam_threshold: float = 25.0  # drop hypotheses scoring this much below the best one (a grammar: at least 100)
    lm_weight: float = 1.0  # weight of the n-gram LM score (only with an LM)
    word_score: float = 0.0  # added per word: > 0 favours more words, < 0 fewer
    unk_score: float = -math.inf  # score of an out-of-lexicon word (-inf: never emitted)
    sil_score: float = 0.0  # added per word separator
    nbest: int = 1  # hypotheses returned per utterance
    lexicon: str | None = None  # flashlight lexicon ("word s p e l l i n g"); constrains output to its words
    lm: str | None = None  # KenLM n-gram (ARPA or binary); needs a lexicon (given, beside the LM, or from ARPA)
    words: str | None = None  # words file (dfcnn.vocabulary): its words join the lexicon, boosted by words_weight
    words_weight: float = DEFAULT_WORDS_WEIGHT  # added to the score each time a word of ``words`` is written
    grammar: str | None = None  # grammar file: the output is one of its phrases (its own lexicon, no LM)
    grammar_repeat: bool = False  # with grammar: one or more of its phrases in a row, not exactly one
    # subtracted from the blank's log-prob at every frame (icefall's --blank-penalty): > 0 writes more
    # units, for a model that deletes; dfcnn tune picks it on dev, greedy and beam search alike
    blank_penalty: float = 0.0

    def __post_init__(self):
        check_field(
            self.beam_size is None or self.beam_size >= 1, "beam_size", f"must be at least 1, got {self.beam_size}"
        )
        check_field(
            self.beam_size_token is None or self.beam_size_token >= 1,
            "beam_size_token",
            f"must be at least 1, got {self.beam_size_token}",
        )
        check_field(self.nbest >= 1, "nbest", f"must be at least 1, got {self.nbest}")
        for name in ("beam_threshold", "lm_weight", "word_score", "sil_score", "words_weight", "blank_penalty"):
            check_field(math.isfinite(getattr(self, name)), name, f"must be a finite number, got {getattr(self, name)}")
        check_field(self.beam_threshold >= 0, "beam_threshold", f"must be >= 0, got {self.beam_threshold}")
        check_field(not math.isnan(self.unk_score), "unk_score", "must be a number or -inf, got nan")
        check_field(
            self.grammar is None or self.words is None,
            "grammar",
            "restricts the output to its phrases, --words adds to a lexicon: give one of them "
            "(a grammar line may carry a pronunciation)",
        )
        check_field(
            self.grammar is None or (self.lexicon is None and self.lm is None),
            "grammar",
            "decodes with its own words and no LM: drop the lexicon and LM",
        )
        check_field(self.grammar is not None or not self.grammar_repeat, "grammar_repeat", "needs a grammar")

    @property
    def is_greedy(self) -> bool:
        return (
            self.beam_size is None
            and self.lexicon is None
            and self.lm is None
            and self.nbest == 1
            and self.words is None
            and self.grammar is None
        )

    @property
    def beam(self) -> int:
        """The beam size the search uses."""
        return self.beam_size or max(DEFAULT_BEAM_SIZE, self.nbest)

    def describe(self) -> str:
        """ "greedy", or "beam 50, lexicon, LM lm.bin (weight 2, word score 1), blank penalty 1"."""
        penalty = [f"blank penalty {self.blank_penalty:g}"] if self.blank_penalty else []
        if self.is_greedy:
            return ", ".join(["greedy", *penalty])
        parts = [f"beam {self.beam}"]
        if self.lexicon or self.lm:
            parts.append("lexicon")
        if self.lm:
            parts.append(f"LM {Path(self.lm).name} (weight {self.lm_weight:g}, word score {self.word_score:g})")
        if self.words:
            parts.append(f"words {Path(self.words).name} (weight {self.words_weight:g})")
        if self.grammar:
            parts.append(f"grammar {Path(self.grammar).name}{' (repeated)' if self.grammar_repeat else ''}")
        return ", ".join(parts + penalty)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict, where: str = "decoder config") -> DecoderConfig:
        """Build from plain values (a JSON file), naming ``where`` for an unknown key or a wrong type."""
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: expected a JSON object of decoder options")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"{where}: unknown decoder option {unknown[0]!r} (known: {', '.join(known)})")
        kinds = {
            "beam_size": int,
            "beam_size_token": int,
            "nbest": int,
            "grammar_repeat": bool,
            **{name: str for name in PATH_OPTIONS},
        }
        checked = {}
        for name, value in values.items():
            kind = kinds.get(name, float)
            if value is None and name in ("beam_size", "beam_size_token", *PATH_OPTIONS):
                checked[name] = None
            elif kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
                checked[name] = float(value)
            elif kind is bool and isinstance(value, bool):
                checked[name] = value
            elif isinstance(value, kind) and not isinstance(value, bool):
                checked[name] = value
            else:
                raise ConfigError(f"{where}: decoder option {name!r} has the wrong type ({value!r})")
        return cls(**checked)

    @classmethod
    def from_file(cls, path: str | Path) -> DecoderConfig:
        """Read a JSON file written by ``dfcnn tune`` (best.json); relative lexicon, LM, words and grammar
        paths are resolved against the file's folder."""
        path = Path(path)
        text = read_text(path, "decoder config", ConfigError)
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}: not a JSON decoder config ({error})") from None
        try:
            config = cls.from_dict(values, str(path))
        except ConfigError as error:
            if error.field is None:
                raise
            raise ConfigError(f"{path}: decoder option {error}") from None
        resolved = {
            key: str(path.parent / value)
            for key in PATH_OPTIONS
            if (value := getattr(config, key)) is not None and not Path(value).is_absolute()
        }
        return dataclasses.replace(config, **resolved)


class Decoder(ABC):
    """Log-probs -> n-best hypotheses, and references in the form this decoder writes."""

    writes: str = "units"  # one of WRITES: what ``Hypothesis.text`` holds

    def __init__(self, tokenizer: Tokenizer, config: DecoderConfig):
        self.tokenizer = tokenizer
        self.config = config

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]:
        """(B, T, V) log-probs, (B,) valid frames -> the n-best hypotheses of each utterance, best first."""
        if self.config.blank_penalty:
            log_probs = log_probs.detach().clone()
            log_probs[..., self.tokenizer.blank_id] -= self.config.blank_penalty
        return self._search(log_probs, lengths)

    @abstractmethod
    def _search(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]:
        """``decode`` on log-probs with the blank penalty applied."""

    def best(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[Hypothesis]:
        """The best hypothesis of each utterance."""
        return [nbest[0] for nbest in self.decode(log_probs, lengths)]

    def reference(self, text: str) -> str:
        """A reference transcript in the form this decoder writes: what its output is scored against.

        Units: the tokenizer's reference text (characters; syllables for pinyin). Words and hanzi:
        the normalised text (a hanzi output is then read by its CER; its WER counts sentences).
        """
        return self.tokenizer.reference_text(text) if self.writes == "units" else self.tokenizer.normalize(text)

    @property
    def primary_metric(self) -> str:
        """The error rate that ranks decoders of this kind: "cer" for hanzi, else "wer"."""
        return "cer" if self.writes == "hanzi" else "wer"

    def score(self, references: list[str], hypotheses: list[str]) -> Score:
        """WER/CER of decoded ``hypotheses`` against raw reference transcripts."""
        return score([self.reference(text) for text in references], hypotheses)


class GreedyDecoder(Decoder):
    """Best-path decoding: writes the model's own units."""

    def _search(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]:
        import torch

        blank = self.tokenizer.blank_id
        best_scores, best = log_probs.detach().max(dim=-1)  # (B, T), (B, T)
        valid = torch.arange(log_probs.shape[1], device=log_probs.device)[None, :] < lengths[:, None].to(best.device)
        previous = torch.nn.functional.pad(best[:, :-1], (1, 0), value=blank)  # (B, T): token at t - 1
        emitted = valid & (best != blank) & (best != previous)  # first frame of each non-blank run
        scores = (best_scores * valid).sum(dim=1)
        hypotheses = []
        for row in range(best.shape[0]):
            frames = emitted[row].nonzero().squeeze(1).tolist()
            tokens = best[row, frames].tolist()
            hypotheses.append([Hypothesis(self.tokenizer.decode(tokens), tokens, frames, float(scores[row]))])
        return hypotheses


class BeamSearchDecoder(Decoder):
    """Prefix beam search over CTC log-probs, with an optional lexicon and n-gram word LM.

    Without a lexicon the search is over the model's units (no LM); with a lexicon every word is one
    of its entries (it writes words, or hanzi for a pinyin model with a character lexicon); with an
    LM the words are scored by it as well. Your words join the lexicon, boosted; a grammar replaces
    lexicon and LM, and its output is always one of its phrases (``dfcnn.vocabulary``).
    """

    def __init__(self, tokenizer: Tokenizer, config: DecoderConfig):
        super().__init__(tokenizer, config)
        from .lm import lexicon_writes, read_lexicon, resolve_lexicon

        load_torchaudio()  # checks the torch/torchaudio pair first
        from torchaudio.models.decoder import ctc_decoder

        self.lexicon = None if config.grammar else resolve_lexicon(config.lexicon, config.lm, tokenizer)
        self.grammar = None  # the PhraseGrammar every output is held to
        with tempfile.TemporaryDirectory(prefix="dfcnn-vocabulary-") as scratch:  # flashlight reads files
            search = {
                "lexicon": self.lexicon,
                "lm": config.lm,
                "lm_weight": config.lm_weight,
                "beam_threshold": config.beam_threshold,
            }
            if config.words or config.grammar:
                search.update(self._vocabulary(Path(scratch) / "lexicon.txt"))
            lexicon = search.pop("lexicon")
            try:
                self._decoder = ctc_decoder(
                    lexicon=str(lexicon) if lexicon else None,
                    tokens=list(tokenizer.tokens),
                    nbest=config.nbest,
                    beam_size=config.beam,
                    beam_size_token=config.beam_size_token,
                    word_score=config.word_score,
                    unk_score=config.unk_score,
                    sil_score=config.sil_score,
                    blank_token=BLANK,
                    sil_token=WORD_SEPARATOR,
                    unk_word=UNK,
                    **search,
                )
            except (RuntimeError, ValueError) as error:  # flashlight's messages name neither file
                raise DfcnnError(
                    f"cannot build the beam search decoder (lexicon {self.lexicon}, lm {config.lm}): {error}"
                ) from None
            self._lm = search["lm"]  # a Python LM lives as long as the search that calls it
            if self.grammar is not None:
                self._lm.searching()
            self.writes = lexicon_writes(lexicon, tokenizer)
            self._spellings = read_lexicon(lexicon) if lexicon is not None else {}
        self._lock = threading.Lock()  # flashlight keeps the search state in the decoder: one search at a time

    def _vocabulary(self, lexicon: Path) -> dict:
        """The lexicon (written to ``lexicon``), LM, LM weight and beam threshold of a search with your
        words or a grammar."""
        from . import vocabulary

        config = self.config
        if config.grammar:
            phrases = vocabulary.read_phrases(config.grammar, self.tokenizer, "grammar file")
            vocabulary.write_search_lexicon(phrases, lexicon)
            self.grammar = vocabulary.grammar_of(phrases, config.grammar_repeat)
            # a grammar's lexicon is small: keep each phrase in the beam however unlikely it sounds at first
            threshold = max(config.beam_threshold, vocabulary.GRAMMAR_BEAM_THRESHOLD)
            return {
                "lexicon": lexicon,
                "lm": vocabulary.GrammarLM(self.grammar, lexicon),
                "lm_weight": 1.0,
                "beam_threshold": threshold,
            }
        if self.lexicon is None:
            raise DfcnnError(
                f"{config.words}: your words join a lexicon, and this decoder has none: give a "
                "lexicon or an LM (--lexicon, --lm), or use a model that ships one"
            )
        phrases = vocabulary.read_phrases(config.words, self.tokenizer, "words file")
        words = vocabulary.write_search_lexicon(phrases, lexicon, self.lexicon)
        lm, lm_weight = vocabulary.boosted_lm(lexicon, words, config.lm, config.lm_weight, config.words_weight)
        return {"lexicon": lexicon, "lm": lm, "lm_weight": lm_weight}

    def _search(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]:
        import torch

        emissions = log_probs.detach().to("cpu", torch.float32).contiguous()
        with self._lock:  # a server decodes requests from several threads
            results = self._decoder(emissions, lengths.detach().to("cpu", torch.int32))
        hypotheses = [[self._hypothesis(result) for result in nbest] for nbest in results]
        return hypotheses if self.grammar is None else [self._in_grammar(nbest) for nbest in hypotheses]

    def _in_grammar(self, nbest: list[Hypothesis]) -> list[Hypothesis]:
        """The hypotheses the grammar allows; none left (every grammar path was pruned, or the audio
        ended inside a word): the best one's words snapped to the nearest the grammar allows."""
        allowed = [h for h in nbest if self.grammar.accepts(h.words or [])]
        if allowed:
            return allowed
        best = nbest[0] if nbest else Hypothesis("")
        words = self.grammar.closest(best.words or [])
        return [Hypothesis(self.tokenizer.normalize(" ".join(words)), best.tokens, best.frames, best.score, words)]

    def _hypothesis(self, result) -> Hypothesis:
        tokens = [int(t) for t in result.tokens]
        frames = [int(t) for t in result.timesteps]
        # flashlight pads the path with a word separator at each end; it emits no character
        while tokens and self.tokenizer.tokens[tokens[0]] == WORD_SEPARATOR:
            tokens, frames = tokens[1:], frames[1:]
        while tokens and self.tokenizer.tokens[tokens[-1]] == WORD_SEPARATOR:
            tokens, frames = tokens[:-1], frames[:-1]
        if self.writes == "units":
            return Hypothesis(self.tokenizer.decode(tokens), tokens, frames, float(result.score))
        words = list(result.words)
        text = self.tokenizer.normalize(" ".join(words))
        return Hypothesis(text, tokens, frames, float(result.score), words, self._word_starts(tokens, words))

    def _word_starts(self, tokens: list[int], words: list[str]) -> list[int] | None:
        """Where each word's spelling starts in ``tokens`` (separators skipped); None if they disagree."""
        names = [self.tokenizer.tokens[t] for t in tokens]
        starts, position = [], 0
        for word in words:
            while position < len(names) and names[position] == WORD_SEPARATOR:
                position += 1
            candidates = self._spellings.get(word, [])
            spelling = next((s for s in candidates if names[position : position + len(s)] == s), None)
            if spelling is None:
                return None
            starts.append(position)
            position += len(spelling)
        return starts


@dataclass(frozen=True)
class Shipped:
    """The decoder a model ships (``SHIPPED``: decoder.json, or greedy) with your words or grammar on top:
    what ``decoder_config`` gives for ``ON_TOP_OPTIONS`` alone. A grammar replaces its lexicon and LM."""

    options: dict = field(default_factory=dict)  # DecoderConfig fields, ON_TOP_OPTIONS only


def decoder_config(
    greedy: bool = False, config_file: str | Path | None = None, **options
) -> DecoderConfig | Shipped | None | str:
    """The decoder that options ask for, as the command line, ``dfcnn serve`` and Python give them.

    ``greedy``: None, the network's own output (best path with ``blank_penalty`` if given);
    ``config_file`` (``dfcnn tune``'s best.json) with any ``options`` (``DecoderConfig`` fields:
    beam_size, lm, lm_weight, ...) on top; ``options`` alone;
    your words or grammar or a blank penalty alone (``ON_TOP_OPTIONS``): a ``Shipped``, the model's own
    decoder with them on top; or, with none of them, ``SHIPPED``: the model's own
    decoder, read when the model is loaded. A bad value is a ``ConfigError`` naming its field.
    """
    options = {key: str(value) if isinstance(value, Path) else value for key, value in options.items()}
    if greedy:
        if set(options) == {"blank_penalty"} and config_file is None:
            return DecoderConfig(**options)
        if options or config_file is not None:
            raise DfcnnError(
                "--greedy decodes without beam search: drop the beam, lexicon, LM, words and grammar options"
            )
        return None
    if config_file is not None:
        return _on_top(DecoderConfig.from_file(config_file), options)
    if not options:
        return SHIPPED
    config = DecoderConfig(**options)  # every value checked now, before a model loads
    return Shipped(options) if set(options) <= set(ON_TOP_OPTIONS) else config


def _on_top(base: DecoderConfig, options: dict) -> DecoderConfig:
    """``base`` with ``options`` replacing its values; a grammar (unless given with one) drops its lexicon
    and LM. Words given without a weight get the default weight, not the one ``base`` holds for its own
    (a shipped decoder.json records the default of the day it was written)."""
    if options.get("grammar") and not {"lexicon", "lm"} & set(options):
        base = dataclasses.replace(base, lexicon=None, lm=None)
    if options.get("words") and "words_weight" not in options:
        options = {**options, "words_weight": DEFAULT_WORDS_WEIGHT}
    return dataclasses.replace(base, **options)


def resolve_decoder(decoder: DecoderConfig | Shipped | None | str, model_folder: str | Path) -> DecoderConfig | None:
    """A model's decoder option -> the decoder to build (None: greedy). ``SHIPPED`` is the
    decoder.json in ``model_folder`` (the folder of the checkpoint or exported graph), or greedy
    without one: the one place a shipped decoder is read. A ``Shipped`` puts its options on top of it."""
    if isinstance(decoder, Shipped):
        return _on_top(resolve_decoder(SHIPPED, model_folder) or DecoderConfig(), decoder.options)
    if isinstance(decoder, str):
        if decoder != SHIPPED:
            raise DfcnnError(f"decoder must be a DecoderConfig, None or {SHIPPED!r}, got {decoder!r}")
        path = Path(model_folder) / DECODER_FILE
        return DecoderConfig.from_file(path) if path.is_file() else None
    return decoder


def build_decoder(tokenizer: Tokenizer, config: DecoderConfig | None = None) -> Decoder:
    """The decoder ``config`` describes: greedy for None or greedy options, else the beam search."""
    config = config or DecoderConfig()
    if config.is_greedy:
        return GreedyDecoder(tokenizer, config)
    return BeamSearchDecoder(tokenizer, config)
