"""Decoding CTC log-probabilities into hypotheses.

Greedy (best path): the most likely token at each frame, repeats merged, blanks removed.
Beam search: flashlight-text's prefix beam search through ``torchaudio.models.decoder.ctc_decoder``,
optionally constrained to a lexicon and scored by a KenLM n-gram word LM.

    decoder = build_decoder(tokenizer, BeamSearchConfig(lexicon="lm/lexicon.txt", lm="lm/lm.bin"))
    hypotheses = decoder(log_probs, lengths)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .errors import DfcnnError
from .text import BLANK, UNK, WORD_SEPARATOR, Tokenizer
from .versions import load_torchaudio


@dataclass
class Hypothesis:
    """One decoded utterance."""

    text: str  # decoded text
    tokens: list[int] = field(default_factory=list)  # emitted token ids, blank-free
    frames: list[int] = field(default_factory=list)  # output frame where each token starts (same length as tokens)
    score: float = 0.0  # log-probability of the decoded path (greedy: sum of frame maxima)

    def __str__(self) -> str:
        return self.text


@torch.no_grad()
def greedy_decode(
    log_probs: torch.Tensor, lengths: torch.Tensor, tokenizer: Tokenizer, blank: int = 0
) -> list[Hypothesis]:
    """Best-path decoding of a batch.

    Args:
        log_probs: (B, T, V) CTC log-probabilities.
        lengths: (B,) valid frames per utterance; frames past it are ignored.
    Returns:
        One ``Hypothesis`` per utterance, in batch order.
    """
    best_scores, best = log_probs.max(dim=-1)  # (B, T), (B, T)
    valid = torch.arange(log_probs.shape[1], device=log_probs.device)[None, :] < lengths[:, None]
    previous = torch.nn.functional.pad(best[:, :-1], (1, 0), value=blank)  # (B, T): token at t - 1
    emitted = valid & (best != blank) & (best != previous)  # first frame of each non-blank run
    scores = (best_scores * valid).sum(dim=1)
    hypotheses = []
    for row in range(best.shape[0]):
        frames = emitted[row].nonzero().squeeze(1).tolist()
        tokens = best[row, frames].tolist()
        hypotheses.append(Hypothesis(tokenizer.decode(tokens), tokens, frames, float(scores[row])))
    return hypotheses


@dataclass
class BeamSearchConfig:
    """Options of the CTC prefix beam search (flashlight-text through torchaudio)."""

    beam_size: int = 50  # hypotheses kept after each frame
    beam_size_token: int | None = None  # tokens considered per frame (None: the whole vocabulary)
    beam_threshold: float = 25.0  # drop hypotheses scoring this much below the best one
    lm_weight: float = 1.0  # weight of the n-gram LM score (only with an LM)
    word_score: float = 0.0  # added per word: > 0 favours more words, < 0 fewer
    unk_score: float = float("-inf")  # score of an out-of-lexicon word (-inf: never emitted)
    sil_score: float = 0.0  # added per word separator
    nbest: int = 1  # hypotheses returned per utterance
    lexicon: str | None = None  # flashlight lexicon ("word s p e l l i n g |"); constrains output to its words
    lm: str | None = None  # KenLM n-gram (ARPA or binary); needs a lexicon (given, beside the LM, or from ARPA)


class BeamSearchDecoder:
    """Prefix beam search over CTC log-probs, with an optional lexicon and n-gram word LM.

    Without a lexicon the search is over characters (no LM); with a lexicon every word is one of its
    entries; with an LM the words are scored by it as well.
    """

    def __init__(self, tokenizer: Tokenizer, config: BeamSearchConfig | None = None):
        from .lm import resolve_lexicon, writes_characters

        load_torchaudio()  # checks the torch/torchaudio pair first
        from torchaudio.models.decoder import ctc_decoder

        self.tokenizer = tokenizer
        self.config = config = config or BeamSearchConfig()
        lexicon = resolve_lexicon(config.lexicon, config.lm, tokenizer)
        try:
            self._decoder = ctc_decoder(
                lexicon=str(lexicon) if lexicon else None, tokens=list(tokenizer.tokens),
                lm=config.lm, nbest=config.nbest, beam_size=config.beam_size,
                beam_size_token=config.beam_size_token, beam_threshold=config.beam_threshold,
                lm_weight=config.lm_weight, word_score=config.word_score, unk_score=config.unk_score,
                sil_score=config.sil_score, blank_token=BLANK, sil_token=WORD_SEPARATOR, unk_word=UNK,
            )
        except (RuntimeError, ValueError) as error:  # flashlight's messages name neither file
            raise DfcnnError(f"cannot build the beam search decoder (lexicon {lexicon}, lm {config.lm}): {error}") from None
        self._uses_words = lexicon is not None
        self.writes_characters = writes_characters(lexicon, tokenizer)  # pinyin in, hanzi out

    @torch.no_grad()
    def __call__(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[Hypothesis]]:
        """(B, T, V) log-probs, (B,) lengths -> the ``nbest`` best hypotheses per utterance, best first."""
        emissions = log_probs.detach().to("cpu", torch.float32).contiguous()
        results = self._decoder(emissions, lengths.detach().to("cpu", torch.int32))
        return [[self._hypothesis(result) for result in nbest] for nbest in results]

    def _hypothesis(self, result) -> Hypothesis:
        tokens = [int(t) for t in result.tokens]
        frames = [int(t) for t in result.timesteps]
        # flashlight pads the path with a word separator at each end; it emits no character
        while tokens and self.tokenizer.tokens[tokens[0]] == WORD_SEPARATOR:
            tokens, frames = tokens[1:], frames[1:]
        while tokens and self.tokenizer.tokens[tokens[-1]] == WORD_SEPARATOR:
            tokens, frames = tokens[:-1], frames[:-1]
        text = self.tokenizer.normalize(" ".join(result.words)) if self._uses_words else self.tokenizer.decode(tokens)
        return Hypothesis(text, tokens, frames, float(result.score))


def build_decoder(tokenizer: Tokenizer, config: BeamSearchConfig | None):
    """A callable (log_probs, lengths) -> list[Hypothesis]: greedy when ``config`` is None. Its
    ``writes_characters`` says whether it turns a pinyin model's syllables into characters."""
    if config is None:
        def decode(log_probs, lengths):
            return greedy_decode(log_probs, lengths, tokenizer)

        decode.writes_characters = False
        return decode
    decoder = BeamSearchDecoder(tokenizer, config)

    def decode(log_probs, lengths):
        return [nbest[0] for nbest in decoder(log_probs, lengths)]

    decode.writes_characters = decoder.writes_characters
    return decode
