"""Language-model stage: LM words, lexicons, KenLM lookup and build_lm (needs lmplz, else skipped)."""

from __future__ import annotations

import json

import pytest
import torch

from dfcnn import lm
from dfcnn.errors import DfcnnError, VocabError
from dfcnn.lm import (
    arpa_counts,
    arpa_vocabulary,
    build_lm,
    check_lexicon,
    find_kenlm_binary,
    lm_corpus,
    lm_words,
    read_lexicon,
    write_lexicon,
)
from dfcnn.text import Tokenizer, build_vocab

SENTENCES = [
    "the cat sat",
    "the dog sat",
    "a cat ran",
    "the dog ran",
    "a dog sat on the mat",
    "the cat sat on a mat",
    "a cat",
    "the mat",
    "dog and cat",
    "the cat and the dog",
    "a dog ran on the mat",
    "cat sat on the dog",
    "the dog sat on the cat",
    "a mat",
    "the cat ran",
    "a dog",
    "the cat sat on the mat",
    "dog ran",
    "cat and dog sat",
    "the end",
]  # 20 sentences, 10 words
WORDS = sorted({w for s in SENTENCES for w in s.split()})
SMALL_MEMORY = "64M"  # lmplz's default "20%" reserves a fifth of the RAM up front; 32M is too little


def english_tokenizer(texts=SENTENCES) -> Tokenizer:
    return Tokenizer(tuple(build_vocab(texts)), "english")


def test_lm_words_english_and_mandarin():
    assert lm_words("Hello, World! It's  well-known.", "english") == ["hello", "world", "it's", "well", "known"]
    assert lm_words("你好，世界！", "mandarin") == ["你", "好", "世", "界"]
    assert lm_words("我用OK了 Hi there", "mandarin") == ["我", "用", "ok", "了", "hi", "there"]
    assert lm_words("  ", "english") == []


def test_lm_corpus_reads_text_files_and_manifests(tmp_path):
    text = tmp_path / "extra.txt"
    text.write_text("The CAT sat.\n\n  \nA dog!\n", encoding="utf-8")
    manifest = tmp_path / "train.jsonl"
    texts = ["你好,世界", "OK"]
    records = [{"audio_filepath": f"{i}.wav", "duration": 1.0, "text": t} for i, t in enumerate(texts)]
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    assert lm_corpus([text], "english") == ["the cat sat", "a dog"]
    assert lm_corpus([manifest], "mandarin") == ["你 好 世 界", "ok"]
    with pytest.raises(DfcnnError, match="missing.txt"):
        lm_corpus([tmp_path / "missing.txt"], "english")


def test_lexicon_round_trip(tmp_path):
    tokenizer = english_tokenizer()
    path = tmp_path / "lexicon.txt"
    assert write_lexicon(["the", "cat", "cat", "dog"], tokenizer, path) == 0
    assert path.read_text(encoding="utf-8") == "cat c a t\ndog d o g\nthe t h e\n"
    expected = {"cat": [["c", "a", "t"]], "dog": [["d", "o", "g"]], "the": [["t", "h", "e"]]}
    assert read_lexicon(path) == expected
    assert check_lexicon(path, tokenizer) == read_lexicon(path)


def test_write_lexicon_skips_words_outside_the_vocabulary(tmp_path):
    path = tmp_path / "lexicon.txt"
    assert write_lexicon(["cat", "zebra", "quiz"], english_tokenizer(), path) == 2
    assert list(read_lexicon(path)) == ["cat"]


def test_mandarin_lexicon_spells_characters_without_separator(tmp_path):
    tokenizer = Tokenizer(tuple(build_vocab(["你好世界", "ok"])), "mandarin")
    path = tmp_path / "lexicon.txt"
    assert write_lexicon(["你", "好", "ok", "猫"], tokenizer, path) == 1
    assert read_lexicon(path) == {"ok": [["o", "k"]], "你": [["你"]], "好": [["好"]]}


def test_word_unit_lexicon_spells_each_word_as_its_token(tmp_path):
    tokenizer = Tokenizer(tuple(build_vocab(["zero one two"], unit="word")), unit="word")
    assert lm_words("Zero, one!", "english", unit="word") == ["zero", "one"]
    path = tmp_path / "lexicon.txt"
    assert write_lexicon(["zero", "one", "three"], tokenizer, path) == 1  # three is no token: left out
    assert read_lexicon(path) == {"one": [["one"]], "zero": [["zero"]]}


def test_malformed_lexicon_line_names_file_and_line(tmp_path):
    path = tmp_path / "lexicon.txt"
    path.write_text("cat c a t |\n\ndog\n", encoding="utf-8")
    with pytest.raises(VocabError, match=rf"{path}:3: word 'dog' has no spelling"):
        read_lexicon(path)


def test_lexicon_token_outside_vocabulary_names_file_line_and_token(tmp_path):
    path = tmp_path / "lexicon.txt"
    path.write_text("cat c a t |\nzoo z o o |\n", encoding="utf-8")
    read_lexicon(path)  # without a tokenizer the spelling is not checked
    with pytest.raises(VocabError, match=rf"{path}:2: token 'z' of 'zoo' is not in the vocabulary"):
        check_lexicon(path, english_tokenizer())


def test_missing_kenlm_says_how_to_install(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("DFCNN_KENLM_BIN", str(empty))
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(lm, "REPO_KENLM_BIN", empty)
    with pytest.raises(DfcnnError, match=r"lmplz not found.*install_kenlm\.sh.*DFCNN_KENLM_BIN"):
        find_kenlm_binary("lmplz")
    with pytest.raises(DfcnnError, match="install_kenlm.sh"):
        build_lm([tmp_path / "text.txt"], tmp_path / "lm")


def test_kenlm_bin_environment_variable_comes_first(tmp_path, monkeypatch):
    fake = tmp_path / "lmplz"
    fake.write_text("#!/bin/sh\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("DFCNN_KENLM_BIN", str(tmp_path))
    assert find_kenlm_binary("lmplz") == fake


def test_build_lm_on_a_tiny_corpus(tmp_path, kenlm):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(s.capitalize() + ".\n" for s in SENTENCES), encoding="utf-8")
    model = build_lm([corpus], tmp_path / "lm", order=3, memory=SMALL_MEMORY, tokenizer=english_tokenizer())
    assert (tmp_path / "lm" / "text.txt").read_text(encoding="utf-8").splitlines() == SENTENCES
    assert sorted(arpa_counts(model.arpa)) == [1, 2, 3]
    assert arpa_counts(model.arpa)[1] == len(WORDS) + 3  # with <s>, </s>, <unk>
    assert sorted(arpa_vocabulary(model.arpa)) == WORDS
    assert model.binary is not None and model.binary.stat().st_size > 0
    assert (model.vocabulary_size, model.sentences, model.lexicon_skipped) == (len(WORDS), 20, 0)
    assert sorted(check_lexicon(model.lexicon, english_tokenizer())) == WORDS
    assert sorted(p.name for p in model.arpa.parent.iterdir()) == ["lexicon.txt", "lm.arpa", "lm.bin", "text.txt"]


def test_lmplz_failure_reports_its_error(tmp_path, kenlm):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES), encoding="utf-8")
    with pytest.raises(DfcnnError, match=r"(?s)lmplz failed.*non-decreasing order"):
        build_lm([corpus], tmp_path / "lm", memory=SMALL_MEMORY, prune=[0, 1, 0])
    assert not (tmp_path / "lm" / "lm.arpa").exists()


def test_flashlight_decoder_reads_the_lexicon_and_lm(tmp_path, kenlm):
    """The files build_lm writes load in torchaudio's lexicon decoder, which spells out an LM word."""
    decoder_module = pytest.importorskip("torchaudio.models.decoder")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES), encoding="utf-8")
    tokenizer = english_tokenizer()
    model = build_lm([corpus], tmp_path / "lm", memory=SMALL_MEMORY, tokenizer=tokenizer)
    decoder = decoder_module.ctc_decoder(
        lexicon=str(model.lexicon),
        tokens=list(tokenizer.tokens),
        lm=str(model.binary),
        blank_token="<blank>",
        sil_token="|",
        unk_word="<unk>",
        beam_size=10,
    )
    path = tokenizer.encode("the cat sat")
    emissions = torch.full((1, 2 * len(path) + 1, len(tokenizer)), -10.0)
    emissions[0, 0::2, 0] = 0.0  # blank between the tokens
    emissions[0, torch.arange(1, 2 * len(path), 2), torch.tensor(path)] = 0.0
    assert decoder(emissions)[0][0].words == ["the", "cat", "sat"]


def test_build_mandarin_lm_on_characters(tmp_path, kenlm):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("你好，世界！\n世界你好\n你好 OK\n", encoding="utf-8")
    tokenizer = Tokenizer(tuple(build_vocab(["你好世界"])), "mandarin")
    model = build_lm([corpus], tmp_path / "lm", normalizer="mandarin", memory=SMALL_MEMORY, tokenizer=tokenizer)
    assert (tmp_path / "lm" / "text.txt").read_text(encoding="utf-8") == "你 好 世 界\n世 界 你 好\n你 好 ok\n"
    assert sorted(arpa_vocabulary(model.arpa)) == sorted(["ok", "世", "你", "好", "界"])
    assert read_lexicon(model.lexicon) == {"世": [["世"]], "你": [["你"]], "好": [["好"]], "界": [["界"]]}
    assert model.lexicon_skipped == 1  # "ok": o and k are not in the vocabulary
