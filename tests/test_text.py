import pytest

from dfcnn.errors import VocabError
from dfcnn.text import (
    Tokenizer,
    build_vocab,
    chinese_numerals,
    normalize_english,
    normalize_mandarin,
    save_vocab,
    to_pinyin,
)


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
        ("\u7b2c\uff11\u7ae0", "\u7b2c\u4e00\u7ae0"),  # full-width digit, read out: 第１章 -> 第一章
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


@pytest.mark.parametrize(
    "number, spoken",
    [
        ("0", "零"),
        ("2", "二"),
        ("10", "十"),
        ("15", "十五"),
        ("22", "二十二"),
        ("110", "一百一十"),
        ("200", "两百"),
        ("1010", "一千零一十"),
        ("1200", "一千二百"),
        ("2023", "两千零二十三"),
        ("1,000,000", "一百万"),
        ("20,000", "两万"),
        ("100,010", "十万零一十"),
        ("120,000,000", "一亿两千万"),
        ("3.5", "三点五"),
        ("0.25", "零点二五"),
        ("50%", "百分之五十"),
        ("3.5%", "百分之三点五"),
        ("13812345678", "幺三八幺二三四五六七八"),
        ("007", "零零七"),
    ],
)
def test_chinese_numerals_conventions(number, spoken):
    assert chinese_numerals(number) == spoken


@pytest.mark.parametrize(
    "raw, expected",
    [  # AISHELL-style sentences (news, real estate, smart-home commands)
        ("2016年北京市房价上涨了12.5%", "二零一六年北京市房价上涨了百分之十二点五"),
        ("首套房贷款利率打8.5折", "首套房贷款利率打八点五折"),
        ("全市共有2个新楼盘，本月成交1,200套。", "全市共有两个新楼盘本月成交一千二百套"),
        ("均价为每平方米15000元", "均价为每平方米一万五千元"),  # a measure word follows: an amount
        ("客服电话是10086", "客服电话是幺零零八六"),  # a code: digit by digit
        ("设定29度", "设定二十九度"),
        ("时代奥特莱斯1号门", "时代奥特莱斯一号门"),
        ("过去20年里，2号线延长了2倍", "过去二十年里二号线延长了两倍"),
        ("３月份成交量同比增长５０％", "三月份成交量同比增长百分之五十"),  # full-width digits and percent
        ("想听歌曲Let It Go", "想听歌曲let it go"),
        ("我的mp3坏了", "我的mp3坏了"),  # digits of a Latin word stay
    ],
)
def test_normalize_mandarin_reads_numbers(raw, expected):
    assert normalize_mandarin(raw) == expected
    assert normalize_mandarin(expected) == expected


def test_chinese_numerals_digit_one_is_configurable():
    assert chinese_numerals("拨打12315", digit_one="一") == "拨打一二三一五"
    assert chinese_numerals("1998年") == "一九九八年"  # years keep 一


def test_to_pinyin_tones_and_polyphones():
    assert to_pinyin("你好吗") == ["ni3", "hao3", "ma5"]
    assert to_pinyin("我们的桌子") == ["wo3", "men5", "de5", "zhuo1", "zi5"]  # neutral tone is 5
    assert to_pinyin("银行行长") == ["yin2", "hang2", "hang2", "zhang3"]  # phrases pick the reading
    assert to_pinyin("绿色") == ["lv4", "se4"]  # ü is written v
    assert to_pinyin("我用ok了") == ["wo3", "yong4", "ok", "le5"]  # other words stay whole


def pinyin_tokenizer(texts, add_unk=False):
    return Tokenizer(tuple(build_vocab(texts, add_unk=add_unk, unit="pinyin")), "mandarin", "pinyin")


def test_build_vocab_pinyin():
    tokens = build_vocab(["你好吗", "好的", "我用ok了"], unit="pinyin")
    assert tokens == ["<blank>", "|", "de5", "hao3", "le5", "ma5", "ni3", "wo3", "yong4"]  # no ok
    with pytest.raises(VocabError, match="unknown token unit"):
        build_vocab(["a"], unit="syllable")


def test_pinyin_tokenizer_round_trip():
    tok = pinyin_tokenizer(["你好吗", "今天天气很好"])
    ids = tok.encode(tok.normalize("你好吗？"))
    assert [tok.tokens[i] for i in ids] == ["ni3", "hao3", "ma5"]  # no word separators
    assert tok.decode(ids) == "ni3 hao3 ma5"
    assert tok.decode([0, ids[0], 0, 1, ids[1], ids[1], 0, ids[2]]) == "ni3 hao3 hao3 ma5"
    assert tok.reference_text("今天，天气很好。") == "jin1 tian1 tian1 qi4 hen3 hao3"
    assert tok.reference_text(tok.decode(ids)) == "ni3 hao3 ma5"  # a decoded text maps to itself
    assert tok.encode(tok.decode(ids)) == ids


def test_pinyin_tokenizer_unknowns():
    with pytest.raises(VocabError, match="'ok' is not a syllable of the vocabulary"):
        pinyin_tokenizer(["你好"]).encode("你ok好")
    with pytest.raises(VocabError, match="'ma5' is not a syllable"):
        pinyin_tokenizer(["你好"]).encode("你好吗")
    tok = pinyin_tokenizer(["你好"], add_unk=True)
    ids = tok.encode("你ok好")
    assert ids[1] == tok.unk_id and tok.decode(ids) == "ni3 \u2047 hao3"


def test_tokenizer_dict_keeps_unit():
    tok = pinyin_tokenizer(["你好"])
    assert tok.to_dict()["unit"] == "pinyin"
    assert Tokenizer.from_dict(tok.to_dict()) == tok
    old = {"tokens": ["<blank>", "|", "a"], "normalizer": "english"}  # a checkpoint from before units
    assert Tokenizer.from_dict(old).unit == "char"


def test_vocab_file_of_the_wrong_unit(tmp_path):
    save_vocab(build_vocab(["你好"]), tmp_path / "chars.txt")
    with pytest.raises(VocabError, match="chars.txt: token '你' is not a tonal pinyin syllable"):
        Tokenizer.from_file(tmp_path / "chars.txt", "mandarin", unit="pinyin")
    save_vocab(build_vocab(["你好"], unit="pinyin"), tmp_path / "syllables.txt")
    with pytest.raises(VocabError, match="syllables.txt: the tokens are pinyin syllables"):
        Tokenizer.from_file(tmp_path / "syllables.txt", "mandarin")
    assert Tokenizer.from_file(tmp_path / "syllables.txt", "mandarin", "pinyin").unit == "pinyin"
    with pytest.raises(VocabError, match="needs the mandarin"):
        Tokenizer.from_file(tmp_path / "syllables.txt", "english", "pinyin")
    with pytest.raises(VocabError, match="unknown token unit"):
        Tokenizer.from_file(tmp_path / "chars.txt", "mandarin", "morpheme")
    with pytest.raises(VocabError, match="unit 'phone' is for English"):
        Tokenizer.from_file(tmp_path / "chars.txt", "mandarin", "phone")
    save_vocab(build_vocab(["yes no"], unit="word"), tmp_path / "words.txt")
    with pytest.raises(VocabError, match="words.txt: token 'no' is longer than one character: .* unit to 'word'"):
        Tokenizer.from_file(tmp_path / "words.txt")


def test_word_unit_round_trip():
    tok = Tokenizer(tuple(build_vocab(["yes no", "no no yes", "one two"], unit="word")), unit="word")
    assert tok.tokens == ("<blank>", "|", "no", "one", "two", "yes")  # | stays, unused, as for pinyin
    ids = tok.encode(tok.normalize("Yes, no  two!"))
    assert [tok.tokens[i] for i in ids] == ["yes", "no", "two"]  # one token a word, no separators
    assert tok.decode([0, ids[0], 0, ids[1], 1, ids[2]]) == "yes no two"  # blanks and | skipped
    assert tok.reference_text("Yes, no.") == "yes no"
    with pytest.raises(VocabError, match="word 'maybe' is not in the vocabulary"):
        tok.encode("yes maybe")
    assert Tokenizer.from_dict(tok.to_dict()) == tok
