"""PocketSphinx's binary LMs read with numpy (dfcnn/lm/sphinx.py): a small trigram converted to
PocketSphinx's format by PocketSphinx and read back, and its packaged en-us LM scored against
PocketSphinx's own scoring. Needs the pocketsphinx package (the `compare` extra), else skipped."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dfcnn.errors import DfcnnError
from dfcnn.lm.arpa import log10_probs, normalisation, read_arpa, word_log10s
from dfcnn.lm.sphinx import LOG_BASE, pocketsphinx_lm_path, read_sphinx_lm

ONE_UNIT = math.log10(LOG_BASE)  # PocketSphinx scores are integers in base 1.0001: its rounding, in log10

# a trigram whose "b a a" lacks its suffix "a a": PocketSphinx's trie then holds a made-up "a a"
TRIGRAM = """\\data\\
ngram 1=4
ngram 2=4
ngram 3=4

\\1-grams:
-0.69897\t</s>
-99\t<s>\t-0.1
-0.30103\ta\t-0.2
-0.52288\tb\t-0.15

\\2-grams:
-0.22185\t<s> a\t-0.05
-0.30103\ta b\t-0.3
-0.09691\tb </s>
-0.39794\tb a\t-0.12

\\3-grams:
-0.15490\t<s> a b
-0.07058\ta b </s>
-0.69897\tb a a
-0.22185\tb a b

\\end\\
"""

# runs PocketSphinx in a process of its own: its ARPA writer crashes, and its LogMath must outlive the model
CONVERT = textwrap.dedent("""
    import json, os, sys
    import pocketsphinx
    logmath = pocketsphinx.LogMath(1.0001)
    model = pocketsphinx.NGramModel(pocketsphinx.Config(), logmath, sys.argv[1])
    if sys.argv[2] != "-":
        model.write(sys.argv[2], pocketsphinx.NGramModel.str_to_type("bin"))
    queries = json.loads(sys.argv[3])  # [word, history newest first ...]
    print(json.dumps([model.prob(query) for query in queries]), flush=True)
    os._exit(0)
""")


def pocketsphinx_run(source, target, queries) -> list[int]:
    """Convert ``source`` to PocketSphinx's binary ``target`` ("-": none) and score ``queries``."""
    done = subprocess.run(
        [sys.executable, "-c", CONVERT, str(source), str(target), json.dumps(queries)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def pocketsphinx():
    return pytest.importorskip("pocketsphinx", reason="pocketsphinx is not installed (the `compare` extra)")


def test_a_trigram_converted_by_pocketsphinx_reads_back_with_the_same_probabilities(pocketsphinx, tmp_path):
    (tmp_path / "small.arpa").write_text(TRIGRAM)
    original = read_arpa(tmp_path / "small.arpa")
    words = ["</s>", "a", "b"]
    grams = [
        [*history, word]
        for n in (0, 1, 2)
        for history in itertools.product(["<s>", *words], repeat=n)
        for word in words
        if "</s>" not in history and "<s>" not in history[1:]
    ]
    theirs = pocketsphinx_run(tmp_path / "small.arpa", tmp_path / "small.lm.bin", [gram[::-1] for gram in grams])
    converted = read_sphinx_lm(tmp_path / "small.lm.bin")
    assert converted.words == original.words
    assert converted.counts == [4, 5, 4]  # and PocketSphinx's made-up suffix "a a"
    for gram, score in zip(grams, theirs):
        ids = np.array([[original.index[w] for w in gram]])
        ours, truth = log10_probs(converted, ids)[0], log10_probs(original, ids)[0]
        assert ours == pytest.approx(score * ONE_UNIT, abs=1.01 * ONE_UNIT), gram
        if gram[-2:] != ["a", "a"] or gram == ["b", "a", "a"]:  # the 16-bit bins hold these few values exactly
            assert ours == pytest.approx(truth, abs=1e-5), gram
        else:  # the made-up "a a" has the nearest of the real bigrams' quantisation bins (PocketSphinx's own loss)
            assert ours - truth == pytest.approx(-0.39794 - (-0.2 - 0.30103), abs=1e-5), gram


@pytest.mark.slow
def test_the_packaged_en_us_lm_scores_as_pocketsphinx_scores_it(pocketsphinx):
    model = read_sphinx_lm(pocketsphinx_lm_path())
    assert model.counts == [72547, 2051541, 1669625]  # the header declares 2,051,547 bigrams; 6 are not there
    sentences = [
        ["we", "call", "it", "bear"],
        ["mark", "is", "going", "to", "see", "elephant"],
        ["the", "shaka", "zulu", "of", "the", "north"],
        ["two", "six", "four", "eight"],
    ]
    queries = []
    for sentence in sentences:
        words = ["<s>", *sentence, "</s>"]
        queries += [words[max(0, i - 2) : i + 1][::-1] for i in range(1, len(words))]
    theirs = np.array(pocketsphinx_run(pocketsphinx_lm_path(), "-", queries)) * ONE_UNIT
    ours = np.concatenate([word_log10s(model, [sentence])[0] for sentence in sentences])
    np.testing.assert_allclose(ours, theirs, atol=1.01 * ONE_UNIT)
    for history in ([], ["<s>"], ["of", "the"], ["i", "want"]):  # PocketSphinx's stored log base is 1.0001
        assert normalisation(model, history) == pytest.approx(1.0, abs=1e-3)


def test_files_that_are_not_pocketsphinx_lms_are_one_line_errors(tmp_path):
    (tmp_path / "text.lm.bin").write_text(TRIGRAM)
    with pytest.raises(DfcnnError, match="text.lm.bin: not a PocketSphinx trie LM"):
        read_sphinx_lm(tmp_path / "text.lm.bin")
    (tmp_path / "short.lm.bin").write_bytes(b"Trie Language Model\x03" + b"\x05\x00\x00\x00" * 3 + b"\x00" * 40)
    with pytest.raises(DfcnnError, match="short.lm.bin: truncated or damaged PocketSphinx LM"):
        read_sphinx_lm(tmp_path / "short.lm.bin")
    with pytest.raises(DfcnnError, match="missing.lm.bin: cannot read"):
        read_sphinx_lm(tmp_path / "missing.lm.bin")


def test_a_missing_pocketsphinx_package_is_named_with_its_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # import pocketsphinx now raises ImportError
    with pytest.raises(DfcnnError, match=r"pocketsphinx package, which is not installed: pip install pocketsphinx"):
        pocketsphinx_lm_path()
