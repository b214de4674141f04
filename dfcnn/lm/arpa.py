"""N-gram back-off language models in memory: ARPA files read and written, text scored, models
interpolated and pruned, with numpy (no SRILM; KenLM only to load the result).

    corpus, general = read_arpa("exp/lm/lm.arpa"), read_arpa("exp/lm-general/lm.arpa")
    weights = best_mix_weights([corpus, general], dev_sentences)     # EM on dev text: [0.35, 0.65]
    mixed = interpolate([corpus, general], weights)                   # SRILM's ngram -mix-lm, statically
    write_arpa(mixed, "exp/lm-mix/lm.arpa")
    perplexity(mixed, dev_sentences)                                  # Perplexity(value=212.4, words=..., oovs=3)

A model holds, per order k, its n-grams as rows of word ids (sorted by an integer key), their log10
probabilities and log10 back-off weights: what an ARPA file holds. ``log10_probs`` applies the
back-off rule to many n-grams at once: p(w | h) is the explicit n-gram's, else bo(h) p(w | h'), h'
being h without its first word, and a word the model lacks has probability 0 (log10 -inf).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DfcnnError
from ..fileio import atomic_write

SENTENCE_START, SENTENCE_END, UNKNOWN = "<s>", "</s>", "<unk>"
_TINY = 1e-12  # floor of a back-off weight's numerator and denominator (children that take all the mass)


@dataclass
class BackoffModel:
    """An n-gram back-off LM. ``ngrams[k - 1]`` are its k-grams; rows are re-sorted by key on creation."""

    words: list[str]  # the word of each id; a word may lack a unigram (a model seen in a larger vocabulary)
    ngrams: list[np.ndarray]  # per order k: (N_k, k) int64 word ids, oldest word first
    logprobs: list[np.ndarray]  # per order: (N_k,) float64 log10 p(last word | the others)
    backoffs: list[np.ndarray]  # per order: (N_k,) float64 log10 back-off weight of the n-gram as a history
    keys: list[np.ndarray] = field(init=False, repr=False)  # per order: (N_k,) int64 sorted keys of the rows

    def __post_init__(self):
        if not (len(self.ngrams) == len(self.logprobs) == len(self.backoffs)) or not self.ngrams:
            raise DfcnnError("an n-gram model needs n-grams, probabilities and back-offs for each order")
        if len(self.words) ** self.order >= 2**62:
            raise DfcnnError(f"a {self.order}-gram model over {len(self.words)} words is too large to index")
        self.index = {word: number for number, word in enumerate(self.words)}
        self.keys = []
        for k in range(self.order):
            keys = self.key(self.ngrams[k])
            order = np.argsort(keys, kind="stable")
            self.ngrams[k], self.logprobs[k], self.backoffs[k] = (
                self.ngrams[k][order],
                self.logprobs[k][order],
                self.backoffs[k][order],
            )
            self.keys.append(keys[order])

    @property
    def order(self) -> int:
        return len(self.ngrams)

    @property
    def counts(self) -> list[int]:
        """Number of n-grams of each order, from unigrams."""
        return [len(rows) for rows in self.ngrams]

    def vocabulary(self) -> list[str]:
        """The words that have a unigram, <s>, </s> and <unk> included."""
        return [self.words[i] for i in self.ngrams[0][:, 0]]

    def key(self, ids: np.ndarray) -> np.ndarray:
        """(n, k) word ids -> (n,) int64 keys, one per distinct k-gram (base-V digits)."""
        keys = np.zeros(len(ids), dtype=np.int64)
        for column in range(ids.shape[1]):
            keys = keys * len(self.words) + ids[:, column]
        return keys

    def find(self, ids: np.ndarray) -> np.ndarray:
        """(n, k) word ids -> (n,) row of each k-gram in ``ngrams[k - 1]``, -1 where it is not there."""
        k = ids.shape[1]
        if k > self.order or len(ids) == 0 or len(self.keys[k - 1]) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        table, keys = self.keys[k - 1], self.key(ids)
        rows = np.minimum(np.searchsorted(table, keys), len(table) - 1)
        return np.where(table[rows] == keys, rows, -1)

    def remap(self, words: Sequence[str]) -> BackoffModel:
        """The same model with word ids into ``words`` (which must hold all of this model's words)."""
        index = {word: number for number, word in enumerate(words)}
        missing = [word for word in self.words if word not in index]
        if missing:
            raise DfcnnError(f"remapping an n-gram model: {missing[0]!r} is not in the new vocabulary")
        table = np.array([index[word] for word in self.words], dtype=np.int64)
        return BackoffModel(
            list(words),
            [table[rows] for rows in self.ngrams],
            [p.copy() for p in self.logprobs],
            [b.copy() for b in self.backoffs],
        )


def log10_probs(model: BackoffModel, ids: np.ndarray) -> np.ndarray:
    """(n, k) word ids (history then word) -> (n,) log10 p(word | history) by the back-off rule."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.shape[1] > model.order:
        ids = ids[:, -model.order :]
    k = ids.shape[1]
    result = np.full(len(ids), -np.inf)
    rows = model.find(ids)
    found = rows >= 0
    result[found] = model.logprobs[k - 1][rows[found]]
    if k > 1 and not found.all():
        missing = ids[~found]
        history = model.find(missing[:, :-1])
        backoff = np.where(history >= 0, model.backoffs[k - 2][history], 0.0)
        result[~found] = backoff + log10_probs(model, missing[:, 1:])
    return result


def read_arpa(path: str | Path) -> BackoffModel:
    """Read an ARPA file. Raises ``DfcnnError`` naming the file (and line) of what is malformed."""
    path = Path(path)
    if not path.is_file():
        raise DfcnnError(f"{path}: ARPA file not found")
    declared: dict[int, int] = {}
    index: dict[str, int] = {}
    ngrams, logprobs, backoffs = [], [], []
    section, number = None, 0
    probs: list[str] = []  # the current section's fields, converted to arrays when it ends
    ids: list[int] = []
    weights: list[str] = []

    def finish_section() -> None:
        order = len(ngrams) + 1
        if section != order:
            raise DfcnnError(f"{path}: the {order}-grams are missing (found the {section}-grams)")
        if len(probs) != declared.get(order):
            raise DfcnnError(
                f"{path}: the header declares {declared.get(order, 0)} {order}-grams, the file holds {len(probs)}"
            )
        try:
            logprobs.append(np.array(probs, dtype=np.float64))
            backoffs.append(np.array(weights, dtype=np.float64))
        except ValueError as error:
            raise DfcnnError(f"{path}: a {order}-gram has a number that is not one ({error})") from None
        ngrams.append(np.array(ids, dtype=np.int64).reshape(len(probs), order))
        probs.clear(), ids.clear(), weights.clear()

    collecting = gc.isenabled()
    gc.disable()  # millions of small lists: the cyclic collector would rescan them all, again and again
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                fields = line.split()
                if not fields:
                    continue
                if section and fields[0][0] != "\\":
                    if len(fields) not in (section + 1, section + 2):
                        raise DfcnnError(
                            f"{path}:{number}: a {section}-gram line needs {section + 1} or "
                            f"{section + 2} fields, got {len(fields)}"
                        )
                    if section == 1:
                        if fields[1] in index:
                            raise DfcnnError(f"{path}:{number}: the unigram {fields[1]!r} appears twice")
                        index[fields[1]] = len(index)
                    probs.append(fields[0])
                    ids.extend(map(index.__getitem__, fields[1 : section + 1]))
                    weights.append(fields[section + 1] if len(fields) > section + 1 else "0")
                    continue
                header = re.fullmatch(r"\\(\d+)-grams:", fields[0])
                if fields[0] in ("\\end\\", "\\data\\") or header:
                    if section:
                        finish_section()
                    section = int(header.group(1)) if header else 0
                    if fields[0] == "\\end\\":
                        section = None
                        break
                elif section == 0 and fields[0] == "ngram":
                    order, count = "".join(fields[1:]).split("=")
                    declared[int(order)] = int(count)
    except KeyError as error:
        raise DfcnnError(f"{path}:{number}: {error.args[0]!r} has no unigram") from None
    finally:
        if collecting:
            gc.enable()
    if section:
        finish_section()
    if not declared or len(ngrams) != max(declared):
        raise DfcnnError(f"{path}: not an ARPA language model (no \\data\\ header, or n-gram sections missing)")
    return BackoffModel(list(index), ngrams, logprobs, backoffs)


def write_arpa(model: BackoffModel, path: str | Path) -> None:
    """Write ``model`` as an ARPA file, atomically (log10 values to 6 decimals)."""

    def write(file) -> None:
        file.write(b"\\data\\\n" + "".join(f"ngram {k}={n}\n" for k, n in enumerate(model.counts, 1)).encode())
        for k in range(1, model.order + 1):
            file.write(f"\n\\{k}-grams:\n".encode())
            rows, probs, backoffs = model.ngrams[k - 1], model.logprobs[k - 1], model.backoffs[k - 1]
            top = k == model.order
            chunk = []
            for row, prob, backoff in zip(rows.tolist(), probs.tolist(), backoffs.tolist()):
                text = " ".join(model.words[i] for i in row)
                chunk.append(f"{prob:.6f}\t{text}\n" if top else f"{prob:.6f}\t{text}\t{backoff:.6f}\n")
                if len(chunk) >= 100_000:
                    file.write("".join(chunk).encode("utf-8"))
                    chunk = []
            file.write("".join(chunk).encode("utf-8"))
        file.write(b"\n\\end\\\n")

    atomic_write(path, write)


def renormalised_backoffs(model: BackoffModel) -> BackoffModel:
    """``model`` with every back-off weight recomputed so that each history's p(w | h) sums to 1:
    bo(h) = (1 - sum of its explicit p(w | h)) / (1 - sum of p(w | h') over the same words).

    Needs every n-gram's history present one order down (``with_closure``); orders are done lowest
    first, since a history's lower-order probabilities use the back-offs below it.
    """
    backoffs = [np.zeros_like(b) for b in model.backoffs]
    model = BackoffModel(model.words, model.ngrams, model.logprobs, backoffs)
    for k in range(1, model.order):
        children = model.ngrams[k]
        parent = model.find(children[:, :-1])
        if (parent < 0).any():
            raise DfcnnError(f"a {k + 1}-gram's history is not a {k}-gram: add the closure first")
        explicit = np.bincount(parent, 10.0 ** model.logprobs[k], minlength=len(model.ngrams[k - 1]))
        lower = np.bincount(parent, 10.0 ** log10_probs(model, children[:, 1:]), minlength=len(model.ngrams[k - 1]))
        model.backoffs[k - 1] = np.log10(np.maximum(1.0 - explicit, _TINY) / np.maximum(1.0 - lower, _TINY))
    return model


def with_closure(ngrams: list[np.ndarray]) -> list[np.ndarray]:
    """Per order, the unique rows of ``ngrams`` plus the history (prefix) and the suffix of every
    higher-order n-gram, as KenLM and the back-off rule expect them."""
    ngrams = [np.unique(rows, axis=0) if len(rows) else rows.reshape(0, k + 1) for k, rows in enumerate(ngrams)]
    for k in range(len(ngrams) - 1, 0, -1):
        higher = ngrams[k]
        ngrams[k - 1] = np.unique(np.concatenate([ngrams[k - 1], higher[:, :-1], higher[:, 1:]]), axis=0)
    return ngrams


def interpolate(models: Sequence[BackoffModel], weights: Sequence[float]) -> BackoffModel:
    """The static linear interpolation of back-off models (SRILM's ``ngram -mix-lm``).

    Its n-grams are the union of the models' (with their histories and suffixes), each with the
    probability sum_j weights[j] p_j(w | h), where p_j backs off as model j would (0 for a word model
    j lacks); back-off weights are then recomputed so that every history normalises.
    """
    if len(models) != len(weights) or not models:
        raise DfcnnError(f"interpolation needs one weight per model: {len(models)} models, {len(weights)} weights")
    if any(w < 0 for w in weights) or not np.isclose(sum(weights), 1.0):
        raise DfcnnError(f"interpolation weights must be >= 0 and sum to 1, got {list(weights)}")
    words = list(dict.fromkeys(word for model in models for word in model.words))
    models = [model.remap(words) for model in models]
    order = max(model.order for model in models)
    rows = [np.concatenate([m.ngrams[k] for m in models if m.order > k]) for k in range(order)]
    ngrams = with_closure(rows)
    logprobs = []
    for rows_k in ngrams:
        mixed = sum(w * 10.0 ** log10_probs(m, rows_k) for m, w in zip(models, weights) if w > 0)
        with np.errstate(divide="ignore"):
            logprobs.append(np.log10(mixed))
    mixed_model = BackoffModel(words, ngrams, logprobs, [np.zeros(len(r)) for r in ngrams])
    return renormalised_backoffs(mixed_model)


def prune(model: BackoffModel, threshold: float) -> BackoffModel:
    """Drop the n-grams above unigrams whose loss is below ``threshold``, then renormalise.

    The loss of n-gram (h, w) is Stolcke's relative-entropy criterion without its back-off update:
    p(h, w) |log10 p(w | h) - log10 (bo(h) p(w | h'))|, p(h, w) being the chain of the model's own
    probabilities (a leading <s> counts as certain). The history and suffix of a kept n-gram are kept.
    """
    start = model.index.get(SENTENCE_START, -1)
    kept = [model.ngrams[0]]
    for k in range(2, model.order + 1):
        rows = model.ngrams[k - 1]
        joint = np.where(rows[:, 0] == start, 0.0, log10_probs(model, rows[:, :1]))
        joint = joint + sum(log10_probs(model, rows[:, : i + 1]) for i in range(1, k))
        history = model.find(rows[:, :-1])
        backoff = np.where(history >= 0, model.backoffs[k - 2][history], 0.0)
        loss = 10.0**joint * np.abs(model.logprobs[k - 1] - backoff - log10_probs(model, rows[:, 1:]))
        kept.append(rows[loss >= threshold])
    ngrams = with_closure(kept)
    logprobs = [log10_probs(model, rows) for rows in ngrams]
    return renormalised_backoffs(BackoffModel(model.words, ngrams, logprobs, [np.zeros(len(r)) for r in ngrams]))


def normalisation(model: BackoffModel, history: Sequence[str]) -> float:
    """Sum of p(w | history) over the model's vocabulary less <s>: 1 for a proper model."""
    ids = [model.index[word] for word in history]
    vocabulary = model.ngrams[0][:, 0]
    vocabulary = vocabulary[vocabulary != model.index.get(SENTENCE_START, -1)]
    rows = np.column_stack([np.full((len(vocabulary), len(ids)), ids, dtype=np.int64), vocabulary])
    return float((10.0 ** log10_probs(model, rows)).sum())


def word_log10s(
    model: BackoffModel, sentences: Iterable[Sequence[str]], strict: bool = False
) -> tuple[np.ndarray, int]:
    """log10 p of each word of ``sentences`` and of each sentence's </s>, in order, and the number of
    out-of-vocabulary words.

    A word without a unigram is scored as <unk> when the vocabulary has <unk>, else skipped and counted
    (as SRILM's ``ngram -ppl`` does). With ``strict`` it scores -inf (probability 0) instead, so that
    models scored over one joint vocabulary stay aligned word for word. A history never reaches back
    past a word without a unigram.
    """
    has_unigram = np.zeros(len(model.words), dtype=bool)
    has_unigram[model.ngrams[0][:, 0]] = True
    unknown = model.index.get(UNKNOWN)
    if strict or (unknown is not None and not has_unigram[unknown]):
        unknown = None
    grams: list[tuple[int, ...] | None] = []  # None: a word scored -inf (strict)
    oovs = 0
    for sentence in sentences:
        history = [model.index[SENTENCE_START]] if SENTENCE_START in model.index else []
        for word in [*sentence, SENTENCE_END]:
            number = model.index.get(word)
            if number is None or not has_unigram[number]:
                number = unknown
            if number is None:
                oovs, history = oovs + 1, []
                if strict:
                    grams.append(None)
                continue
            grams.append((*history[len(history) - model.order + 1 :], number) if model.order > 1 else (number,))
            history.append(number)
    result = np.full(len(grams), -np.inf)
    lengths = np.array([len(gram) if gram is not None else 0 for gram in grams])
    for length in np.unique(lengths[lengths > 0]):
        where = np.flatnonzero(lengths == length)
        result[where] = log10_probs(model, np.array([grams[i] for i in where], dtype=np.int64))
    return result, oovs


@dataclass(frozen=True)
class Perplexity:
    """How well a model predicts some text."""

    value: float  # 10 ** (-mean log10 p) over the scored words (each sentence's </s> included)
    words: int  # words scored, </s> included
    oovs: int  # words out of the vocabulary, not scored


def perplexity(model: BackoffModel, sentences: Iterable[Sequence[str]]) -> Perplexity:
    """Perplexity of ``model`` on sentences of words (see ``word_log10s``)."""
    scores, oovs = word_log10s(model, sentences)
    return Perplexity(float(10.0 ** -scores.mean()) if len(scores) else float("nan"), len(scores), oovs)


def best_mix_weights(
    models: Sequence[BackoffModel], sentences: Sequence[Sequence[str]], iterations: int = 100
) -> list[float]:
    """Interpolation weights that minimise the perplexity of the (dynamic) mixture on ``sentences``,
    by expectation-maximisation (SRILM's compute-best-mix), scored over the models' joint vocabulary."""
    words = list(dict.fromkeys(word for model in models for word in model.words))
    probs = np.stack([10.0 ** word_log10s(model.remap(words), sentences, strict=True)[0] for model in models])
    probs = probs[:, probs.sum(axis=0) > 0]
    if probs.shape[1] == 0:
        raise DfcnnError("no word of the tuning text is in any model's vocabulary")
    weights = np.full(len(models), 1.0 / len(models))
    for _ in range(iterations):
        share = weights[:, None] * probs
        weights = (share / share.sum(axis=0)).mean(axis=1)
    return weights.tolist()
