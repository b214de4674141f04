import pytest

from dfcnn.errors import VocabError
from dfcnn.text import Tokenizer, build_vocab, normalize_english, normalize_mandarin, save_vocab


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Hello, World!", "hello world"),
        ("  It's   a well-known\tfact.  ", "it's a well known fact"),
        ("'Quoted' words", "quoted words"),
        ("Caf\u00e9 na\u00efve", "cafe naive"),
        ("Don\u2019t STOP", "don't stop"),
        ("Mr. Smith paid 20 dollars.", "mr smith paid 20 dollars"),
        ("", ""),
    ],
)
def test_normalize_english(raw, expected):
    assert normalize_english(raw) == expected


def test_normalize_english_is_idempotent():
    text = normalize_english("A -- strange, 'mixed' TEXT; isn't it?")
    assert normalize_english(text) == text


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002", "\u4eca\u5929\u5929\u6c14\u5f88\u597d"),
        ("\u4f60\u597d\uff0c\u4e16\u754c\uff01", "\u4f60\u597d\u4e16\u754c"),
        ("\u4e2d \u6587 \u7a7a \u683c", "\u4e2d\u6587\u7a7a\u683c"),
        ("\uff21\uff22\uff23 \u4e2d\u6587", "abc\u4e2d\u6587"),  # full-width Latin -> ASCII
        ("\u7b2c\uff11\u7ae0", "\u7b2c1\u7ae0"),  # full-width digit
        ("hello world \u4f60\u597d", "hello world\u4f60\u597d"),
    ],
)
def test_normalize_mandarin(raw, expected):
    assert normalize_mandarin(raw) == expected


def test_tokenizer_round_trip_english(tmp_path):
    texts = ["hello world", "it's a test"]
    save_vocab(build_vocab(texts), tmp_path / "vocab.txt")
    tok = Tokenizer.from_file(tmp_path / "vocab.txt")
    assert tok.tokens[0] == "<blank>" and "|" in tok.tokens
    for text in texts:
        ids = tok.encode(text)
        assert 0 not in ids
        assert tok.decode(ids) == text


def test_tokenizer_round_trip_mandarin():
    text = "\u4eca\u5929\u5929\u6c14\u5f88\u597d"
    tok = Tokenizer(tuple(build_vocab([text])), normalizer="mandarin")
    assert tok.decode(tok.encode(tok.normalize(text + "\u3002"))) == text
    assert len(tok.encode(text)) == 6


def test_decode_skips_blanks_and_collapses_spaces():
    tok = Tokenizer(("<blank>", "|", "a", "b"))
    assert tok.decode([0, 1, 2, 0, 1, 1, 3, 1]) == "a b"


def test_unknown_character_without_unk_is_an_error():
    tok = Tokenizer(tuple(build_vocab(["ab"])))
    with pytest.raises(VocabError, match="'z' is not in the vocabulary"):
        tok.encode("abz")


def test_unknown_character_with_unk():
    tok = Tokenizer(tuple(build_vocab(["ab"], add_unk=True)))
    ids = tok.encode("az")
    assert ids[1] == tok.unk_id
    assert tok.decode(ids) == "a\u2047"


def test_vocab_file_errors(tmp_path):
    (tmp_path / "v.txt").write_text("a\nb\n")
    with pytest.raises(VocabError, match="v.txt: the first token"):
        Tokenizer.from_file(tmp_path / "v.txt")
    (tmp_path / "w.txt").write_text("<blank>\na\n\nb\n")
    with pytest.raises(VocabError, match="w.txt:3"):
        Tokenizer.from_file(tmp_path / "w.txt")
    with pytest.raises(VocabError, match="not found"):
        Tokenizer.from_file(tmp_path / "missing.txt")
    with pytest.raises(VocabError, match="unknown text normalizer"):
        Tokenizer(("<blank>", "a"), normalizer="klingon")
