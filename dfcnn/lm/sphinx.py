"""PocketSphinx's binary n-gram LMs (``*.lm.bin``, its "Trie Language Model" format) read into a
``BackoffModel``, so that its generic US English 3-gram can be written as ARPA for KenLM.

    model = read_sphinx_lm(pocketsphinx_lm_path())     # en-us.lm.bin of the installed pocketsphinx
    write_arpa(model, "exp/lm-general/lm.arpa")

Read with numpy, not through PocketSphinx: its ``NGramModel.write(path, 1)`` (ARPA) keeps a pointer
to the ``LogMath`` it was built with without holding a reference, so a ``LogMath`` made inline is
freed at once and the write scales every log-probability by whatever the freed memory holds; and
pocketsphinx 5.1.1 segfaults writing the trigram section even with the ``LogMath`` kept alive.

The format (pocketsphinx src/lm/ngram_model_trie.c, lm_trie.c, lm_trie_quant.c, little-endian):
the header "Trie Language Model", the order (uint8) and the n-gram counts (uint32 each); an int32
then the quantisation tables (float32: per middle order 2^16 probabilities and 2^16 back-offs, and
2^16 probabilities of the top order); the unigrams, count + 1 records of (float32 prob, float32
back-off, uint32 first child); the bit-packed middle and top orders; the words, NUL-separated.
The trie is reversed as KenLM's is: a unigram's children are the words before it, so the middle
entry (w, under unigram x) holds p(x | w) and the back-off of the history "w x". Log-probabilities
are in PocketSphinx's log base 1.0001.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import DfcnnError
from .arpa import BackoffModel

HEADER = b"Trie Language Model"
LOG_BASE = 1.0001  # PocketSphinx's log base (its -logbase default), in which the file's values are
QUANT_BITS = 16  # bits of each quantised probability and back-off
UNIGRAM = np.dtype([("prob", "<f4"), ("backoff", "<f4"), ("next", "<u4")])


def pocketsphinx_lm_path() -> Path:
    """en-us.lm.bin of the installed ``pocketsphinx`` package, or a ``DfcnnError`` saying how to get it."""
    try:
        import pocketsphinx
    except ImportError:
        raise DfcnnError(
            "the general English LM comes from the pocketsphinx package, which is not installed: "
            "pip install pocketsphinx==5.1.1 (the `compare` extra)"
        ) from None
    path = Path(pocketsphinx.get_model_path()) / "en-us" / "en-us.lm.bin"
    if not path.is_file():
        raise DfcnnError(f"{path}: pocketsphinx is installed without its en-us LM")
    return path


def _required_bits(max_value: int) -> int:
    """Bits to store 0..max_value (bitarr_required_bits)."""
    return max(int(max_value).bit_length(), 0)


def _read_bits(memory: np.ndarray, offsets: np.ndarray, bits: int) -> np.ndarray:
    """The ``bits``-wide (<= 25) unsigned field at each bit offset of ``memory`` (bitarr_read_int25)."""
    start = offsets >> 3
    value = np.zeros(len(offsets), dtype=np.uint64)
    for byte in range(4):
        value |= memory[start + byte].astype(np.uint64) << np.uint64(8 * byte)
    return ((value >> (offsets & 7).astype(np.uint64)) & np.uint64((1 << bits) - 1)).astype(np.int64)


def _layer_bytes(entries: int, total_bits: int) -> int:
    """Bytes of a bit-packed order: one entry more for the end pointer, and 8 bytes of slack."""
    return ((1 + entries) * total_bits + 7) // 8 + 8


def read_sphinx_lm(path: str | Path) -> BackoffModel:
    """Read a PocketSphinx trie LM (``.lm.bin``); log10 values, as in an ARPA file."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise DfcnnError(f"{path}: cannot read the PocketSphinx LM ({error.strerror or error})") from None
    if data[: len(HEADER)].tobytes() != HEADER:
        raise DfcnnError(f"{path}: not a PocketSphinx trie LM (no {HEADER.decode()!r} header)")
    try:
        return _parse(data, len(HEADER))
    except (IndexError, ValueError) as error:
        raise DfcnnError(f"{path}: truncated or damaged PocketSphinx LM ({error})") from None


def _parse(data: np.ndarray, at: int) -> BackoffModel:
    order = int(data[at])
    counts = [int(c) for c in data[at + 1 : at + 1 + 4 * order].view("<u4")]
    at += 1 + 4 * order
    to_log10 = math.log10(LOG_BASE)
    vocabulary = counts[0]
    tables = None
    if order > 1:
        values = (order - 2) * 2 * (1 << QUANT_BITS) + (1 << QUANT_BITS)
        tables = data[at + 4 : at + 4 + 4 * values].view("<f4").astype(np.float64) * to_log10
        at += 4 + 4 * values
    unigrams = data[at : at + UNIGRAM.itemsize * (vocabulary + 1)].view(UNIGRAM)
    at += UNIGRAM.itemsize * (vocabulary + 1)

    ngrams = [np.arange(vocabulary, dtype=np.int64)[:, None]]
    logprobs = [unigrams["prob"][:vocabulary].astype(np.float64) * to_log10]
    backoffs = [unigrams["backoff"][:vocabulary].astype(np.float64) * to_log10]
    # each entry of the layer being read: its words (newest first, as the trie holds them) and where
    # its children start; the next layer's entries belong to the parents whose ranges hold them
    suffixes, starts = ngrams[0], unigrams["next"].astype(np.int64)
    word_bits = _required_bits(vocabulary)
    for k in range(2, order + 1):
        top = k == order
        next_bits = 0 if top else _required_bits(counts[k])
        quant_bits = QUANT_BITS if top else 2 * QUANT_BITS
        total_bits = word_bits + quant_bits + next_bits
        size = _layer_bytes(counts[k - 1], total_bits)
        memory = data[at : at + size]
        if len(memory) < size:
            raise ValueError(f"the {k}-grams need {size} bytes, {len(memory)} are left")
        at += size
        # the header's count may exceed the entries the trie holds (en-us.lm.bin: 2,051,547 declared,
        # 2,051,541 held): the layer is sized by the header, the entries are those the parents point to
        entries = int(starts[-1])
        if entries > counts[k - 1] or starts[0] != 0 or (np.diff(starts) < 0).any():
            raise ValueError(f"the {k - 1}-grams point outside the {counts[k - 1]} {k}-grams")
        offsets = np.arange(entries + 1, dtype=np.int64) * total_bits
        parent = np.repeat(np.arange(len(suffixes)), np.diff(starts))
        words = _read_bits(memory, offsets[:-1], word_bits)
        rows = np.column_stack([suffixes[parent], words])  # newest word first
        prob_table = tables[(k - 2) * 2 * (1 << QUANT_BITS) :]
        if top:
            prob = prob_table[_read_bits(memory, offsets[:-1] + word_bits, QUANT_BITS)]
            backoff = np.zeros(entries)
        else:
            backoff = prob_table[(1 << QUANT_BITS) :][_read_bits(memory, offsets[:-1] + word_bits, QUANT_BITS)]
            prob = prob_table[_read_bits(memory, offsets[:-1] + word_bits + QUANT_BITS, QUANT_BITS)]
            suffixes, starts = rows, _read_bits(memory, offsets + word_bits + quant_bits, next_bits)
        ngrams.append(rows[:, ::-1].copy())  # oldest word first, as in ARPA
        logprobs.append(prob)
        backoffs.append(backoff)
    size = int(data[at : at + 4].view("<u4")[0])
    words = data[at + 4 : at + 4 + size].tobytes().decode("utf-8").split("\0")[:-1]
    if len(words) != vocabulary:
        raise ValueError(f"{len(words)} words for {vocabulary} unigrams")
    return BackoffModel(words, ngrams, logprobs, backoffs)
