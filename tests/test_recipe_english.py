"""The shipped English model's data (recipes/english/corpus.py): held-out sentences never reach the
pre-training manifest or the LM text, on the real cathy_arctic and LJSpeech files."""

from __future__ import annotations

import pytest
from conftest import shared_corpus

from dfcnn.data import read_manifest, write_manifest
from dfcnn.errors import DfcnnError
from recipes.cathy_arctic.prepare import prepare_cathy_arctic
from recipes.english.corpus import held_out_texts, ljspeech_lm_text, main, pretraining_manifest


@pytest.fixture(scope="module")
def arctic(tmp_path_factory):
    out = tmp_path_factory.mktemp("arctic")
    prepare_cathy_arctic(shared_corpus("cathy_arctic"), out)
    return out


def test_no_held_out_sentence_is_trained_on(arctic, tmp_path):
    train = read_manifest(arctic / "train.jsonl")
    test = read_manifest(arctic / "test.jsonl")
    # a second source that reads the test sentences (as the synthetic corpus reads ARCTIC prompts)
    write_manifest(tmp_path / "other.jsonl", test[:5] + train[:5])
    held = held_out_texts([arctic / "test.jsonl"])
    combined = pretraining_manifest(
        {"a": (arctic / "train.jsonl", 20), "b": (tmp_path / "other.jsonl", None)}, held, tmp_path / "out.jsonl"
    )
    assert not {u.text for u in combined} & held
    assert [u.utt_id for u in combined] == [f"a-{u.utt_id}" for u in train[:20] if u.text not in held] + [
        f"b-{u.utt_id}" for u in train[:5] if u.text not in held
    ]
    assert all(u.audio_filepath.is_absolute() and u.audio_filepath.is_file() for u in combined)
    assert read_manifest(tmp_path / "out.jsonl") == combined


def test_lm_text_leaves_out_held_out_clips(tmp_path):
    metadata = shared_corpus("ljspeech_subset") / "LJSpeech-1.1" / "metadata.csv"
    lines = metadata.read_text(encoding="utf-8").splitlines()
    held = {lines[0].split("|")[0], lines[5].split("|")[0]}
    count = ljspeech_lm_text(metadata, held, tmp_path / "lm.txt")
    written = (tmp_path / "lm.txt").read_text(encoding="utf-8").splitlines()
    assert count == len(written) == len(lines) - 2
    assert lines[0].split("|")[2] not in written and lines[1].split("|")[2] in written


def test_bad_metadata_is_one_line(tmp_path):
    bad = tmp_path / "metadata.csv"
    bad.write_text("LJ001-0001|only two fields\n", encoding="utf-8")
    with pytest.raises(DfcnnError, match=r"metadata.csv:1: expected 3 \|-separated fields, got 2"):
        ljspeech_lm_text(bad, set(), tmp_path / "lm.txt")
    with pytest.raises(SystemExit):
        main(["lm-text", "--metadata", str(bad), "--out", str(tmp_path / "lm.txt")])
