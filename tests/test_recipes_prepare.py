"""The prepare stage of the yesno, fsdd and speechocean762 recipes, on the real corpora.

Each recipe's prepare function (``recipes.<corpus>.prepare``) runs into a temporary folder; the manifests it
writes are read back with ``dfcnn.data.read_manifest``. A test skips when its corpus is not under
$DFCNN_DATA (default ../shared/data beside the repository). Durations come from the file headers,
so the whole module runs in seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import missing

from dfcnn.data import read_manifest
from dfcnn.text import Tokenizer, normalize_english
from recipes.fsdd.prepare import prepare_fsdd
from recipes.speechocean762.prepare import prepare_speechocean762
from recipes.yesno.prepare import prepare_yesno

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"
DATA_ROOT = Path(os.environ.get("DFCNN_DATA") or REPO.parent / "shared" / "data")
SPLITS = ("train", "dev", "test")


PREPARE = {"yesno": prepare_yesno, "fsdd": prepare_fsdd, "speechocean762": prepare_speechocean762}


def corpus_dir(corpus: str) -> Path:
    path = DATA_ROOT / corpus
    if not path.is_dir():
        missing(f"corpus {corpus} not found at {path} (set DFCNN_DATA to the folder holding the corpora)")
    return path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """corpus -> (out dir, {split: utterances read back}); each corpus is prepared once per module."""
    cache = {}

    def run(corpus: str):
        if corpus not in cache:
            source = corpus_dir(corpus)
            out = tmp_path_factory.mktemp(corpus)
            returned = PREPARE[corpus](source, out)
            manifests = {split: read_manifest(out / f"{split}.jsonl") for split in SPLITS}
            assert {s: [u.utt_id for u in us] for s, us in returned.items()} == {
                s: [u.utt_id for u in us] for s, us in manifests.items()
            }
            cache[corpus] = out, manifests
        return cache[corpus]

    return run


def check_common(out: Path, splits: dict) -> None:
    """Absolute existing audio paths, positive durations, unique ids, normalised texts, vocab covers train."""
    ids = [u.utt_id for utterances in splits.values() for u in utterances]
    assert len(ids) == len(set(ids)), "an utterance is in two splits or twice in one"
    for utterances in splits.values():
        for utt in utterances:
            assert utt.audio_filepath.is_absolute(), utt
            assert utt.audio_filepath.is_file(), utt
            assert utt.duration > 0, utt
            assert utt.text and utt.text == normalize_english(utt.text), utt
    tokenizer = Tokenizer.from_file(out / "vocab.txt", normalizer="english")
    for utt in splits["train"]:
        tokenizer.encode(utt.text)  # raises VocabError on a character the vocabulary lacks
    train_chars = {c for u in splits["train"] for c in u.text} - {" "}
    assert set(tokenizer.tokens) == {"<blank>", "|"} | train_chars  # built from train texts only


def test_yesno(prepared):
    out, splits = prepared("yesno")
    check_common(out, splits)
    assert len(splits["train"]) + len(splits["dev"]) == 31
    assert len(splits["test"]) == 29
    assert 0 < len(splits["dev"]) < 31
    # Kaldi's split: the 31 files whose first word is "no" train, the 29 starting with "yes" test
    assert all(u.utt_id.startswith("0_") for u in splits["train"] + splits["dev"])
    assert all(u.utt_id.startswith("1_") for u in splits["test"])
    for utt in splits["train"] + splits["dev"] + splits["test"]:
        assert utt.text.split() == ["yes" if bit == "1" else "no" for bit in utt.utt_id.split("_")]
        assert len(utt.text.split()) == 8


def test_fsdd(prepared):
    out, splits = prepared("fsdd")
    check_common(out, splits)
    assert len(splits["test"]) == 300
    assert len(splits["dev"]) == 300
    assert len(splits["train"]) == 2400

    def index(utt) -> int:
        return int(utt.utt_id.rsplit("_", 1)[1])

    assert all(index(u) < 5 for u in splits["test"])
    assert all(5 <= index(u) < 10 for u in splits["dev"])
    assert all(index(u) >= 10 for u in splits["train"])  # no test (or dev) take in train
    words = "zero one two three four five six seven eight nine".split()
    for utterances in splits.values():
        for utt in utterances:
            assert utt.text == words[int(utt.utt_id[0])]


def test_speechocean762(prepared):
    out, splits = prepared("speechocean762")
    check_common(out, splits)
    assert len(splits["train"]) + len(splits["dev"]) == 2500
    assert len(splits["test"]) == 1260
    source = corpus_dir("speechocean762")
    utt2spk = {}
    for split in ("train", "test"):
        for line in (source / split / "utt2spk").read_text(encoding="utf-8").splitlines():
            utt, speaker = line.split()
            utt2spk[utt] = speaker
    speakers = {split: {utt2spk[u.utt_id] for u in utterances} for split, utterances in splits.items()}
    assert not speakers["dev"] & speakers["train"], "dev must be speaker-disjoint from train"
    assert not speakers["test"] & (speakers["train"] | speakers["dev"])
    assert len(speakers["dev"]) == round(0.08 * 125)
    assert len(speakers["train"]) + len(speakers["dev"]) == 125
    # every utterance of a dev speaker is in dev
    assert len(splits["dev"]) == sum(1 for u, s in utt2spk.items() if s in speakers["dev"])
    text_file = (source / "train" / "text").read_text(encoding="utf-8")
    texts = dict(line.split(maxsplit=1) for line in text_file.splitlines())
    for utt in splits["train"][:50]:
        assert utt.text == normalize_english(texts[utt.utt_id])
    assert any("'" in u.text for u in splits["train"])  # contractions keep their apostrophe
    phones = Tokenizer.from_file(out / "vocab_phone.txt", unit="phone")  # the phone model's vocabulary
    assert " ".join(phones.tokens[i] for i in phones.encode("kate loves china")) == "K EY T | L AH V Z | CH AY N AH"


def test_speechocean762_dev_is_deterministic(prepared, tmp_path):
    out, splits = prepared("speechocean762")
    again = prepare_speechocean762(corpus_dir("speechocean762"), tmp_path)
    assert [u.utt_id for u in again["dev"]] == [u.utt_id for u in splits["dev"]]
    assert (tmp_path / "dev.jsonl").read_bytes() == (out / "dev.jsonl").read_bytes()


@pytest.mark.parametrize("corpus", ["yesno", "fsdd", "speechocean762"])
def test_missing_corpus_is_a_one_line_error(corpus, tmp_path):
    missing = tmp_path / "nowhere"
    env = {**os.environ, "DFCNN_DATA": str(missing)}
    result = subprocess.run(
        [sys.executable, "-m", f"recipes.{corpus}.prepare", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,  # as a user runs it: from the repository root
        timeout=120,
    )
    assert result.returncode == 2
    message = result.stderr.strip()
    assert "\n" not in message and str(missing / corpus) in message and "DFCNN_DATA" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("corpus", ["yesno", "fsdd", "speechocean762"])
def test_run_sh_is_valid_bash(corpus):
    run_sh = RECIPES / corpus / "run.sh"
    assert os.access(run_sh, os.X_OK), f"{run_sh} is not executable"
    assert subprocess.run(["bash", "-n", str(run_sh)]).returncode == 0
    assert (RECIPES / corpus / "conf.yaml").is_file()


@pytest.mark.parametrize("conf", sorted(RECIPES.glob("*/conf*.yaml")), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_recipe_config_loads(conf):
    from dfcnn.config import load_config
    from dfcnn.training.train import ExperimentConfig

    config = load_config(ExperimentConfig, conf)  # an unknown key or a wrong type is an error naming the file
    for manifest in (config.data.train_manifest, config.data.dev_manifest):
        assert not Path(manifest).is_absolute(), f"{conf}: {manifest} should be relative to the recipe folder"
