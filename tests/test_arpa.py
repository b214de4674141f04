"""N-gram back-off models in numpy (dfcnn/lm/arpa.py): ARPA read and write, the back-off rule, scoring,
normalisation, interpolation and pruning, on hand-made models whose every probability is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import arpa_text

from dfcnn.errors import DfcnnError
from dfcnn.lm.arpa import (
    BackoffModel,
    best_mix_weights,
    interpolate,
    log10_probs,
    normalisation,
    perplexity,
    prune,
    read_arpa,
    renormalised_backoffs,
    word_log10s,
    write_arpa,
)

# Model A, a normalised bigram: p(</s>) .2, p(a) .5, p(b) .3; p(a | <s>) .6, p(b | a) .5, p(</s> | b) .8.
# Each history's back-off makes it sum to 1: bo(<s>) = .4/.5, bo(a) = .5/.7, bo(b) = .2/.8.
A = {
    1: [(0.2, "</s>", None), (None, "<s>", 0.8), (0.5, "a", 0.5 / 0.7), (0.3, "b", 0.25)],
    2: [(0.6, "<s> a", None), (0.5, "a b", None), (0.8, "b </s>", None)],
}
# Model B knows "c", which A lacks: p(</s>) .25, p(a) .25, p(c) .5; p(c | a) .4 (bo(a) = .6/.5), p(a | <s>) .5.
B = {
    1: [(0.25, "</s>", None), (None, "<s>", 0.5 / 0.75), (0.25, "a", 0.6 / 0.5), (0.5, "c", None)],
    2: [(0.5, "<s> a", None), (0.4, "a c", None)],
}


@pytest.fixture
def model_a(tmp_path) -> BackoffModel:
    (tmp_path / "a.arpa").write_text(arpa_text(A))
    return read_arpa(tmp_path / "a.arpa")


@pytest.fixture
def model_b(tmp_path) -> BackoffModel:
    (tmp_path / "b.arpa").write_text(arpa_text(B))
    return read_arpa(tmp_path / "b.arpa")


def prob(model: BackoffModel, *words: str) -> float:
    """p(last word | the others)."""
    return float(10.0 ** log10_probs(model, np.array([[model.index[w] for w in words]]))[0])


def test_explicit_and_backed_off_probabilities(model_a):
    assert model_a.counts == [4, 3] and set(model_a.vocabulary()) == {"</s>", "<s>", "a", "b"}
    assert prob(model_a, "a", "b") == pytest.approx(0.5)  # explicit
    assert prob(model_a, "<s>", "b") == pytest.approx(0.8 * 0.3)  # bo(<s>) p(b)
    assert prob(model_a, "a", "a") == pytest.approx(0.5 / 0.7 * 0.5)
    assert prob(model_a, "b", "a", "b") == pytest.approx(0.5)  # a longer history than the order is cut
    for history in ([], ["<s>"], ["a"], ["b"]):
        assert normalisation(model_a, history) == pytest.approx(1.0, abs=1e-9)


def test_arpa_round_trip(model_a, tmp_path):
    write_arpa(model_a, tmp_path / "again.arpa")
    again = read_arpa(tmp_path / "again.arpa")
    assert again.words == model_a.words and again.counts == model_a.counts
    for k in range(model_a.order):
        assert (again.ngrams[k] == model_a.ngrams[k]).all()
        np.testing.assert_allclose(again.logprobs[k], model_a.logprobs[k], atol=5e-7)
        np.testing.assert_allclose(again.backoffs[k], model_a.backoffs[k], atol=5e-7)
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, no temp file left


def test_back_offs_are_recomputed_from_the_probabilities(model_a):
    zeroed = BackoffModel(model_a.words, model_a.ngrams, model_a.logprobs, [np.zeros(n) for n in model_a.counts])
    recomputed = renormalised_backoffs(zeroed)
    np.testing.assert_allclose(recomputed.backoffs[0], model_a.backoffs[0], atol=1e-9)


def test_scores_and_perplexity(model_a):
    scores, oovs = word_log10s(model_a, [["a", "b"]])
    np.testing.assert_allclose(10.0**scores, [0.6, 0.5, 0.8])
    assert oovs == 0
    result = perplexity(model_a, [["a", "b"], ["a", "zebra", "b"]])  # no <unk>: zebra is skipped and counted
    assert result.oovs == 1 and result.words == 3 + 3  # a, b, </s>; a, b (after zebra: no history), </s>
    expected = [0.6, 0.5, 0.8, 0.6, 0.3, 0.8]
    assert result.value == pytest.approx(math.prod(expected) ** (-1 / 6))
    strict, _ = word_log10s(model_a, [["zebra"]], strict=True)  # models scored side by side stay aligned
    assert strict[0] == -np.inf and len(strict) == 2


def test_interpolation_mixes_each_models_backed_off_probabilities_and_normalises(model_a, model_b):
    mixed = interpolate([model_a, model_b], [0.3, 0.7])
    assert set(mixed.vocabulary()) == {"</s>", "<s>", "a", "b", "c"}
    a, b = model_a.remap(mixed.words), model_b.remap(mixed.words)  # c has probability 0 in A, b in B
    for words in (("a",), ("c",), ("<s>", "a"), ("a", "b"), ("a", "c"), ("b", "</s>")):  # the union's n-grams
        assert prob(mixed, *words) == pytest.approx(0.3 * prob(a, *words) + 0.7 * prob(b, *words), rel=1e-9)
    assert prob(mixed, "b", "</s>") == pytest.approx(0.3 * 0.8 + 0.7 * 0.25)  # B backs off from an unknown b
    assert prob(mixed, "c") == pytest.approx(0.7 * 0.5)
    for history in ([], ["<s>"], ["a"], ["b"], ["c"]):
        assert normalisation(mixed, history) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(DfcnnError, match="sum to 1"):
        interpolate([model_a, model_b], [0.3, 0.3])
    with pytest.raises(DfcnnError, match="one weight per model"):
        interpolate([model_a, model_b], [1.0])


def test_mix_weights_minimise_the_perplexity_of_the_tuning_text(model_a, model_b):
    only_b = [["c", "c"], ["a", "c"]]  # A cannot produce c: all the weight goes to B
    assert best_mix_weights([model_a, model_b], only_b) == pytest.approx([0.0, 1.0], abs=1e-6)
    text = [["a", "b"], ["a", "c"], ["c"], ["a"]]
    weights = best_mix_weights([model_a, model_b], text)
    assert sum(weights) == pytest.approx(1.0)

    def mixture_perplexity(w: float) -> float:
        words = list(dict.fromkeys(model_a.words + model_b.words))
        pa = 10.0 ** word_log10s(model_a.remap(words), text, strict=True)[0]
        pb = 10.0 ** word_log10s(model_b.remap(words), text, strict=True)[0]
        return float(np.exp(-np.log(w * pa + (1 - w) * pb).mean()))

    best = mixture_perplexity(weights[0])
    assert all(best <= mixture_perplexity(w) + 1e-9 for w in np.linspace(0.01, 0.99, 99))


def test_pruning_drops_cheap_n_grams_and_keeps_the_model_normalised(model_a, model_b):
    mixed = interpolate([model_a, model_b], [0.5, 0.5])
    kept = prune(mixed, 0.0)
    assert kept.counts == mixed.counts
    np.testing.assert_allclose(kept.backoffs[0], mixed.backoffs[0], atol=1e-12)
    unigrams = prune(mixed, 1.0)  # every loss is below 1: back to a unigram model
    assert unigrams.counts == [mixed.counts[0], 0]
    assert prob(unigrams, "a", "b") == pytest.approx(prob(mixed, "b"))
    for history in ([], ["<s>"], ["a"], ["c"]):
        assert normalisation(unigrams, history) == pytest.approx(1.0, abs=1e-9)


def test_malformed_arpa_files_are_one_line_errors(tmp_path):
    text = arpa_text(A)
    (tmp_path / "count.arpa").write_text(text.replace("ngram 2=3", "ngram 2=4"))
    with pytest.raises(DfcnnError, match=r"count.arpa: the header declares 4 2-grams, the file holds 3"):
        read_arpa(tmp_path / "count.arpa")
    (tmp_path / "word.arpa").write_text(text.replace("a b", "a zebra"))
    with pytest.raises(DfcnnError, match=r"word.arpa:\d+: 'zebra' has no unigram"):
        read_arpa(tmp_path / "word.arpa")
    (tmp_path / "none.arpa").write_text("hello\n")
    with pytest.raises(DfcnnError, match="not an ARPA language model"):
        read_arpa(tmp_path / "none.arpa")
    with pytest.raises(DfcnnError, match="missing.arpa: ARPA file not found"):
        read_arpa(tmp_path / "missing.arpa")
