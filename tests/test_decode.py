import math

import torch

from dfcnn.decode import greedy_decode
from dfcnn.text import Tokenizer

TOK = Tokenizer(("<blank>", "|", "a", "b", "c"))


def log_probs_from_path(path: list[int], vocab: int = 5, confidence: float = 0.9) -> torch.Tensor:
    """(T, V) log-probs whose best path is ``path``."""
    rest = (1 - confidence) / (vocab - 1)
    probs = torch.full((len(path), vocab), rest)
    for t, token in enumerate(path):
        probs[t, token] = confidence
    return probs.log()


def test_greedy_merges_repeats_and_drops_blanks():
    path = [0, 2, 2, 0, 2, 3, 3, 1, 4, 0]  # a a _ a b b | c _
    hyp = greedy_decode(log_probs_from_path(path)[None], torch.tensor([10]), TOK)[0]
    assert hyp.tokens == [2, 2, 3, 1, 4]
    assert hyp.text == "aab c"
    assert hyp.frames == [1, 4, 5, 7, 8]
    assert math.isclose(hyp.score, 10 * math.log(0.9), rel_tol=1e-5)


def test_greedy_ignores_padded_frames_and_decodes_each_row():
    first = log_probs_from_path([2, 0, 3, 0, 4, 4])
    second = log_probs_from_path([4, 4, 0, 0, 0, 0])
    second[2:] = log_probs_from_path([2, 2, 2, 2])  # padding beyond length 2 would read "a"
    hyps = greedy_decode(torch.stack([first, second]), torch.tensor([6, 2]), TOK)
    assert [h.text for h in hyps] == ["abc", "c"]
    assert hyps[1].frames == [0]


def test_greedy_all_blank_is_empty():
    hyp = greedy_decode(log_probs_from_path([0, 0, 0])[None], torch.tensor([3]), TOK)[0]
    assert hyp.text == "" and hyp.tokens == [] and hyp.frames == []


def test_greedy_on_zero_frames():
    hyp = greedy_decode(torch.zeros(1, 0, 5), torch.tensor([0]), TOK)[0]
    assert hyp.text == "" and hyp.score == 0.0
