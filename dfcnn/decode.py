"""Decoding CTC log-probabilities into hypotheses.

Greedy (best path): the most likely token at each frame, repeats merged, blanks removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .text import Tokenizer


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
