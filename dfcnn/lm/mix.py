"""A general English LM beside the corpus LM: PocketSphinx's US English 3-gram (72,547 words, in the
pocketsphinx wheel) converted, interpolated with a corpus LM at weights tuned on dev text, pruned,
and written as ARPA, a quantised KenLM trie and a lexicon for the decoder.

    general = load_backoff_model("pocketsphinx")            # or an ARPA file, or a PocketSphinx .lm.bin
    corpus = load_backoff_model("exp/lm/lm.arpa")
    mixed = mix_lms({"corpus": corpus, "general": general}, "exp/lm-mix", tokenizer, dev_sentences)
    mixed.weights, mixed.perplexity                          # {"corpus": 0.23, "general": 0.77}, on dev

Only words the text normaliser leaves as they are go into the lexicon (``a.``, ``'bout`` and
``well-known`` would never match a normalised reference); homophones past flashlight's cap keep the
likeliest by unigram probability.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import DfcnnError
from ..fileio import atomic_write_text
from ..text import Tokenizer, get_normalizer
from . import ARPA_SPECIALS, KENLM_TRIE_Q8, LanguageModel, build_kenlm_binary, write_lexicon
from .arpa import (
    UNKNOWN,
    BackoffModel,
    Perplexity,
    best_mix_weights,
    interpolate,
    perplexity,
    prune,
    read_arpa,
    write_arpa,
)
from .sphinx import HEADER, pocketsphinx_lm_path, read_sphinx_lm

POCKETSPHINX = "pocketsphinx"  # the source name of the installed pocketsphinx package's en-us LM


def load_backoff_model(source: str | Path) -> BackoffModel:
    """``"pocketsphinx"`` (its en-us.lm.bin), a PocketSphinx ``.lm.bin`` file, or an ARPA file."""
    if str(source) == POCKETSPHINX:
        return read_sphinx_lm(pocketsphinx_lm_path())
    path = Path(source)
    if not path.is_file():
        raise DfcnnError(f"{path}: language model not found")
    with path.open("rb") as handle:
        if handle.read(len(HEADER)) == HEADER:
            return read_sphinx_lm(path)
    return read_arpa(path)


def write_lm(
    model: BackoffModel,
    out_dir: str | Path,
    tokenizer: Tokenizer | None,
    binary_options: Sequence[str] | None = KENLM_TRIE_Q8,
) -> LanguageModel:
    """``model`` as OUT/lm.arpa, OUT/lm.bin (KenLM; ``binary_options`` for build_binary, None: no
    binary) and OUT/lexicon.txt of its words in ``tokenizer``'s units (None: no lexicon)."""
    out_dir = Path(out_dir)
    arpa, binary, lexicon = out_dir / "lm.arpa", out_dir / "lm.bin", out_dir / "lexicon.txt"
    for stale in (binary, lexicon):  # never leave an older LM's binary or lexicon beside the new ARPA
        stale.unlink(missing_ok=True)
    write_arpa(model, arpa)
    if binary_options is not None:
        build_kenlm_binary(arpa, binary, binary_options)
    words = [word for word in model.vocabulary() if word not in ARPA_SPECIALS]
    skipped = 0
    if tokenizer is not None:
        normalize = get_normalizer(tokenizer.normalizer)
        kept = [word for word in words if normalize(word) == word]
        unigram = dict(zip(model.vocabulary(), model.logprobs[0]))
        skipped = write_lexicon(kept, tokenizer, lexicon, {word: 10.0 ** unigram[word] for word in kept})
        skipped += len(words) - len(kept)
    return LanguageModel(
        arpa,
        binary if binary_options is not None else None,
        lexicon if tokenizer is not None else None,
        len(words),
        0,
        skipped,
    )


def kenlm_perplexity(binary: str | Path, model: BackoffModel, sentences: Sequence[Sequence[str]]) -> Perplexity:
    """Perplexity of a KenLM file (ARPA or binary, e.g. quantised) as flashlight's decoder reads it.

    Scored as ``perplexity`` scores ``model`` (the same LM before build_binary): a word without a unigram
    in ``model`` is <unk> if it has one, else skipped; so the two differ by what the binary lost.
    """
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary

    vocabulary = set(model.vocabulary())
    dictionary = Dictionary()
    for word in sorted(vocabulary | {UNKNOWN}):
        dictionary.add_entry(word)
    kenlm = KenLM(str(binary), dictionary)
    has_unknown = UNKNOWN in vocabulary
    scores, oovs = [], 0
    for sentence in sentences:
        state = kenlm.start(False)
        for word in sentence:
            if word not in vocabulary and not has_unknown:
                oovs, state = oovs + 1, kenlm.start(True)  # the history restarts, as in word_log10s
                continue
            state, score = kenlm.score(state, dictionary.get_index(word if word in vocabulary else UNKNOWN))
            scores.append(score)
        state, score = kenlm.finish(state)
        scores.append(score)
    mean = float(np.mean(scores)) if scores else float("nan")
    return Perplexity(10.0**-mean, len(scores), oovs)


@dataclass(frozen=True)
class MixedLM:
    """What ``mix_lms`` wrote, and how well each LM predicts the tuning text."""

    lm: LanguageModel  # the interpolated LM's files
    weights: dict[str, float]  # interpolation weight of each component, summing to 1
    counts: list[int]  # n-grams of the interpolated (and pruned) LM, per order
    perplexity: dict[str, Perplexity]  # on the tuning text: each component, "mixed", and "binary" (as decoded)


def mix_lms(
    models: Mapping[str, BackoffModel],
    out_dir: str | Path,
    tokenizer: Tokenizer | None,
    tune_sentences: Sequence[Sequence[str]],
    weights: Mapping[str, float] | None = None,
    prune_threshold: float | None = None,
    binary_options: Sequence[str] | None = KENLM_TRIE_Q8,
) -> MixedLM:
    """Interpolate ``models`` (weights given, or by EM on ``tune_sentences``: normalised words), prune the
    result if ``prune_threshold`` (see ``arpa.prune``), and write it with ``write_lm`` and OUT/mix.json."""
    names = list(models)
    if weights is None:
        tuned = best_mix_weights([models[name] for name in names], tune_sentences)
        weights = dict(zip(names, tuned))
    elif set(weights) != set(names):
        raise DfcnnError(f"interpolation weights name {sorted(weights)}, the models are {sorted(names)}")
    mixed = interpolate([models[name] for name in names], [weights[name] for name in names])
    if prune_threshold is not None:
        mixed = prune(mixed, prune_threshold)
    lm = write_lm(mixed, out_dir, tokenizer, binary_options)
    scores = {name: perplexity(model, tune_sentences) for name, model in models.items()}
    scores["mixed"] = perplexity(mixed, tune_sentences)
    if lm.binary is not None:
        scores["binary"] = kenlm_perplexity(lm.binary, mixed, tune_sentences)
    result = MixedLM(lm, {name: float(weights[name]) for name in names}, mixed.counts, scores)
    summary = {
        "weights": result.weights,
        "prune_threshold": prune_threshold,
        "ngrams": result.counts,
        "binary_options": list(binary_options or []),
        "vocabulary": lm.vocabulary_size,
        "lexicon_skipped": lm.lexicon_skipped,
        "perplexity_on_tuning_text": {name: asdict(value) for name, value in scores.items()},
    }
    atomic_write_text(Path(out_dir) / "mix.json", json.dumps(summary, indent=2) + "\n")
    return result
