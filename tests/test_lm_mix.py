"""A general LM beside the corpus LM (dfcnn/lm/mix.py): LMs written with their KenLM binary and phone
lexicon, interpolated and tuned on dev text, and speechocean762's run.sh stages that build them (4),
ship them (5) and measure them (8: the LM table), end to end on a tiny model and a few real files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import shared_corpus
from helpers import arpa_text

from dfcnn.checkpoint import build_payload, save_checkpoint
from dfcnn.decode import DecoderConfig, build_decoder
from dfcnn.errors import DfcnnError
from dfcnn.features import FeatureConfig, FeatureExtractor
from dfcnn.lm import build_lm, read_lexicon
from dfcnn.lm.arpa import normalisation, perplexity, read_arpa
from dfcnn.lm.mix import kenlm_perplexity, load_backoff_model, mix_lms, write_lm
from dfcnn.model import DFCNN, ModelConfig
from dfcnn.text import Tokenizer, build_vocab

REPO = Path(__file__).resolve().parents[1]
PHONES = Tokenizer(tuple(build_vocab([], unit="phone")), "english", "phone")
# a "general" LM whose words include ones a normalised reference never holds, and homophones
GENERAL = {
    1: [
        (0.1, "</s>", None),
        (None, "<s>", 1.0),
        (0.3, "the", 1.0),
        (0.2, "cat", 1.0),
        (0.1, "sat", None),
        (0.1, "red", None),
        (0.05, "read", None),
        (0.05, "dog", None),
        (0.05, "a.", None),
        (0.05, "well-known", None),
    ],
    2: [],
}
CORPUS = ["the cat sat", "the red cat", "a cat sat on the mat", "the mat sat", "read the cat"]


def tiny_phone_model(path: Path) -> Path:
    """An untrained phone DFCNN's checkpoint: what the LM stages need of a model is its tokenizer."""
    features = FeatureExtractor(FeatureConfig(kind="mel", n_mels=32))
    model = DFCNN(
        ModelConfig(
            input_bins=32,
            vocab_size=len(PHONES),
            channels=[4, 8],
            time_pool=[2, 2],
            freq_pool=[4, 4],
            hidden_dim=16,
            convs_per_block=1,
        )
    )
    save_checkpoint(path, build_payload(model, features, PHONES))
    return path


def general_arpa(tmp_path: Path) -> Path:
    model = {1: GENERAL[1], 2: [(0.5, "the cat", None)]}
    (tmp_path / "general.arpa").write_text(arpa_text(model))
    return tmp_path / "general.arpa"


def test_write_lm_spells_only_words_a_reference_can_hold(tmp_path, kenlm):
    model = load_backoff_model(general_arpa(tmp_path))
    lm = write_lm(model, tmp_path / "out", PHONES, binary_options=())  # KenLM's exact probing structure
    lexicon = read_lexicon(lm.lexicon, PHONES)
    assert set(lexicon) == {"the", "cat", "sat", "red", "read", "dog"}  # not a. nor well-known: normalised, they change
    assert lm.vocabulary_size == 8 and lm.lexicon_skipped == 2
    assert ["R", "EH", "D"] in lexicon["read"] and lexicon["red"] == [["R", "EH", "D"]]
    assert read_arpa(lm.arpa).counts == model.counts
    sentences = [["the", "cat", "sat"], ["red", "cat"]]
    # flashlight's KenLM reads the binary, and scores as the ARPA does
    assert kenlm_perplexity(lm.binary, model, sentences).value == pytest.approx(
        perplexity(model, sentences).value, rel=1e-5
    )


def test_mix_lms_tunes_weights_on_dev_and_writes_a_decodable_lm(tmp_path, kenlm):
    corpus_lm = build_lm([_text(tmp_path, CORPUS)], tmp_path / "corpus", order=2, memory="64M", binary=False)
    corpus, general = load_backoff_model(corpus_lm.arpa), load_backoff_model(general_arpa(tmp_path))
    dev = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat"]]
    mixed = mix_lms({"corpus": corpus, "general": general}, tmp_path / "mix", PHONES, dev)
    assert set(mixed.weights) == {"corpus", "general"} and sum(mixed.weights.values()) == pytest.approx(1.0)
    assert 0 < mixed.weights["corpus"] < 1  # each LM knows words the other lacks (on, mat / dog)
    summary = json.loads((tmp_path / "mix" / "mix.json").read_text())
    assert summary["weights"] == mixed.weights and summary["ngrams"] == mixed.counts
    assert set(mixed.perplexity) == {"corpus", "general", "mixed", "binary"}
    assert mixed.perplexity["mixed"].oovs == 0 and mixed.perplexity["general"].oovs == 2  # on, mat
    written = read_arpa(mixed.lm.arpa)
    for history in ([], ["<s>"], ["the"], ["cat"]):
        assert normalisation(written, history) == pytest.approx(1.0, abs=1e-5)
    assert mixed.perplexity["binary"].value == pytest.approx(mixed.perplexity["mixed"].value, rel=0.05)  # 8 bits
    # the quantised trie and its lexicon drive flashlight's decoder
    decoder = build_decoder(PHONES, DecoderConfig(lm=str(mixed.lm.binary), lexicon=str(mixed.lm.lexicon)))
    spoken = ["R", "EH", "D", "|", "K", "AE", "T"]
    log_probs = torch.full((2 * len(spoken) + 1, len(PHONES)), -8.0)
    log_probs[:, PHONES.blank_id] = -0.01
    for frame, phone in enumerate(spoken):
        log_probs[2 * frame + 1, PHONES.tokens.index(phone)], log_probs[2 * frame + 1, PHONES.blank_id] = -0.01, -8.0
    assert decoder.best(log_probs[None], torch.tensor([len(log_probs)]))[0].text in ("red cat", "read cat")
    with pytest.raises(DfcnnError, match="interpolation weights name"):
        mix_lms({"corpus": corpus, "general": general}, tmp_path / "mix2", PHONES, dev, weights={"corpus": 1.0})


def test_load_backoff_model_names_what_is_missing(tmp_path, monkeypatch):
    with pytest.raises(DfcnnError, match="nothing.arpa: language model not found"):
        load_backoff_model(tmp_path / "nothing.arpa")
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    with pytest.raises(DfcnnError, match="pip install pocketsphinx"):
        load_backoff_model("pocketsphinx")


def _text(folder: Path, sentences: list[str]) -> Path:
    (folder / "text.txt").write_text("".join(s + "\n" for s in sentences))
    return folder / "text.txt"


@pytest.fixture(scope="module")
def speechocean_lm_stages(tmp_path_factory):
    """speechocean762's run.sh stages 4, 5 and 8 on 6/3/3 of its real train/dev/test files, a tiny
    untrained phone model and a small general LM (GENERAL_LM): everything but the models' quality."""
    pytest.importorskip("pocketsphinx", reason="pocketsphinx is not installed (the `compare` extra): stage 8 runs it")
    from dfcnn.lm import find_kenlm_binary

    try:
        find_kenlm_binary("lmplz"), find_kenlm_binary("build_binary")
    except DfcnnError as error:
        pytest.skip(f"KenLM not available: {error}")
    corpus = shared_corpus("speechocean762")
    shared_corpus("ljspeech_subset"), shared_corpus("cathy_arctic")  # stage 4's extra LM text
    work = tmp_path_factory.mktemp("speechocean762-lm")
    recipe = REPO / "recipes" / "speechocean762"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHON": sys.executable,
        "DFCNN_DATA": str(corpus.parent),
        "DATA": str(work / "data"),
        "EXP": str(work / "exp"),
        "GENERAL_LM": str(general_arpa(work)),
        "PREVIOUS": "",  # stage 8 compares no other model (default: the shipped english, minutes per row)
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "recipes.speechocean762.prepare",
            "--corpus-dir",
            str(corpus),
            "--out",
            str(work / "data"),
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    for split, keep in (("train", 6), ("dev", 3), ("test", 3)):
        manifest = work / "data" / f"{split}.jsonl"
        manifest.write_text("".join(manifest.read_text().splitlines(keepends=True)[:keep]))
    (work / "exp").mkdir()
    tiny_phone_model(work / "exp" / "best.pt")

    def run(*args: str) -> str:
        done = subprocess.run(
            ["bash", str(recipe / "run.sh"), *args], capture_output=True, text=True, env=env, cwd=work, timeout=1800
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    return {"first": run("--stage", "4", "--stop-stage", "5"), "run": run, "exp": work / "exp"}


@pytest.mark.slow
def test_stage_4_builds_the_general_and_interpolated_lms_and_stage_5_ships_the_interpolated(speechocean_lm_stages):
    out, exp = speechocean_lm_stages["first"], speechocean_lm_stages["exp"]
    assert re.findall(r"^==== stage (\d) ", out, re.M) == ["4", "5"]
    for name in ("lm", "lm-general", "lm-mix"):
        for file in ("lm.arpa", "lm.bin", "lexicon.txt"):
            assert (exp / name / file).is_file(), f"{name}/{file}"
    summary = json.loads((exp / "lm-mix" / "mix.json").read_text())
    assert sum(summary["weights"].values()) == pytest.approx(1.0) and summary["prune_threshold"] == 3e-8
    assert re.search(r"^dev perplexity: corpus [\d.]+ \(\d+ OOV\), general", out, re.M)
    mixed = read_arpa(exp / "lm-mix" / "lm.arpa")
    assert normalisation(mixed, ["<s>"]) == pytest.approx(1.0, abs=1e-5)
    assert {"the", "cat"} <= set(read_lexicon(exp / "lm-mix" / "lexicon.txt"))
    shipped = json.loads((exp / "decoder.json").read_text())  # stage 5 tuned and shipped the interpolated LM
    assert (exp / shipped["lm"]).resolve() == (exp / "lm-mix" / "lm.bin").resolve()


@pytest.mark.slow
def test_stage_8_measures_every_lm_in_one_table(speechocean_lm_stages):
    out = speechocean_lm_stages["run"]("--stage", "8")
    exp = speechocean_lm_stages["exp"]
    assert re.findall(r"^==== stage (\d) ", out, re.M) == ["8"]
    assert json.loads((exp / "lm-mix-full" / "mix.json").read_text())["prune_threshold"] is None
    table = (exp / "lm-table.md").read_text()
    systems = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    expected = [
        "system",
        "PocketSphinx 5.1.1 (en-us model + LM)",
        "PocketSphinx 5.1.1 (en-us model, LM lm-mix)",
        "dfcnn phones (greedy",
        "dfcnn phones (as shipped: beam 500, lexicon, LM lm.bin",  # run.sh tunes and ships beam 500
        "dfcnn phones (lm:",
        "dfcnn phones (lm-general:",
        "dfcnn phones (lm-mix-full:",
    ]
    assert len(systems) == len(expected) and all(s.startswith(e) for s, e in zip(systems, expected)), systems
    rates = json.loads((exp / "lm-table.json").read_text())
    assert all(np.isfinite(value["wer" if "wer" in value else "per"]) for value in rates.values())
