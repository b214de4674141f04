"""Mandarin with tonal pinyin syllables as CTC tokens, across the modules: LM words and lexicon,
beam search over syllables, and a tiny training run on real AISHELL recordings scored in syllables."""

import json

import torch
from conftest import shared_corpus
from helpers import TINY_MODEL

from dfcnn.align import align_tokens, words_from_spans
from dfcnn.audio import audio_info
from dfcnn.checkpoint import load_checkpoint
from dfcnn.config import load_config
from dfcnn.data import Utterance, write_manifest
from dfcnn.decode import BeamSearchDecoder, DecoderConfig, build_decoder
from dfcnn.evaluate import evaluate
from dfcnn.lm import (
    FLASHLIGHT_MAX_HOMOPHONES,
    lexicon_writes,
    lm_corpus,
    lm_words,
    read_lexicon,
    write_lexicon,
)
from dfcnn.text import Tokenizer, build_vocab, normalize_mandarin, save_vocab
from dfcnn.training.train import ExperimentConfig, Trainer


def pinyin_tokenizer(texts: list[str]) -> Tokenizer:
    return Tokenizer(tuple(build_vocab(texts, unit="pinyin")), "mandarin", "pinyin")


def test_lm_words_and_lexicon_are_syllables(tmp_path):
    assert lm_words("你好吗？我用OK了", "mandarin", "pinyin") == ["ni3", "hao3", "ma5", "wo3", "yong4", "ok", "le5"]
    (tmp_path / "text.txt").write_text("你好吗\n今天2个人\n", encoding="utf-8")
    assert lm_corpus([tmp_path / "text.txt"], "mandarin", "pinyin") == ["ni3 hao3 ma5", "jin1 tian1 liang3 ge4 ren2"]
    tokenizer = pinyin_tokenizer(["你好吗"])
    path = tmp_path / "lexicon.txt"
    assert write_lexicon(["ni3", "hao3", "ok"], tokenizer, path) == 1  # ok has no syllable token
    assert read_lexicon(path, tokenizer) == {"hao3": [["hao3"]], "ni3": [["ni3"]]}


def test_beam_search_with_a_syllable_lexicon(tmp_path):
    tokenizer = pinyin_tokenizer(["你好吗"])
    write_lexicon(["ni3", "hao3", "ma5"], tokenizer, tmp_path / "lexicon.txt")
    path = ["ni3", "<blank>", "hao3", "<blank>", "ma5", "<blank>"]
    probs = torch.full((len(path), len(tokenizer)), 0.01)
    for t, token in enumerate(path):
        probs[t, tokenizer.tokens.index(token)] = 0.9
    log_probs = (probs / probs.sum(dim=1, keepdim=True)).log()[None]  # (1, T, V)
    lengths = torch.tensor([len(path)])
    for config in (DecoderConfig(beam_size=5), DecoderConfig(beam_size=5, lexicon=str(tmp_path / "lexicon.txt"))):
        hypothesis = BeamSearchDecoder(tokenizer, config).decode(log_probs, lengths)[0][0]
        assert hypothesis.text == "ni3 hao3 ma5"
        assert tokenizer.reference_text(hypothesis.text) == "ni3 hao3 ma5"


def test_hanzi_lexicon_turns_syllables_into_characters(tmp_path):
    """DFCNN's pinyin -> hanzi step: each character spelt by all its readings, the decoder writes characters."""
    tokenizer = pinyin_tokenizer(["你好", "行了", "很好", "银行"])  # ni3 hao3 xing2 le5 hen3 yin2 hang2
    lexicon = tmp_path / "lexicon.txt"
    write_lexicon(["你", "好", "行", "很"], tokenizer, lexicon, counts={"好": 9, "你": 5, "很": 3, "行": 1})
    spelt = read_lexicon(lexicon, tokenizer)
    assert ["hao3"] in spelt["好"] and ["xing2"] in spelt["行"] and ["hang2"] in spelt["行"]  # heteronyms
    assert lexicon_writes(lexicon, tokenizer) == "hanzi" and lexicon_writes(None, tokenizer) == "units"

    path = ["hen3", "<blank>", "hao3", "<blank>", "xing2", "<blank>"]
    probs = torch.full((len(path), len(tokenizer)), 0.01)
    for t, token in enumerate(path):
        probs[t, tokenizer.tokens.index(token)] = 0.9
    log_probs = (probs / probs.sum(dim=1, keepdim=True)).log()  # (T, V)
    config = DecoderConfig(beam_size=5, lexicon=str(lexicon))
    decoder = build_decoder(tokenizer, config)
    assert decoder.writes == "hanzi" and decoder.primary_metric == "cer"
    assert build_decoder(tokenizer, None).writes == "units"
    hypothesis = decoder.decode(log_probs[None], torch.tensor([len(path)]))[0][0]
    assert hypothesis.text == "很好行"
    assert decoder.reference("很好，行！") == "很好行"  # characters, scored as a character model's: CER
    assert build_decoder(tokenizer).reference("很好") == "hen3 hao3"

    assert hypothesis.words == ["很", "好", "行"] and hypothesis.word_starts == [0, 1, 2]
    spans = align_tokens(log_probs, hypothesis.tokens)
    words = words_from_spans(spans, tokenizer, 0.04, word_starts=hypothesis.word_starts, labels=hypothesis.words)
    assert [w.word for w in words] == ["很", "好", "行"]
    assert [t.token for w in words for t in w.tokens] == ["hen3", "hao3", "xing2"]


def test_homophones_are_capped_at_flashlights_limit_most_frequent_first(tmp_path):
    tokenizer = pinyin_tokenizer(["一"])  # yi1; 一 衣 医 依 伊 壹 揖 all read yi1
    characters = ["衣", "医", "依", "伊", "壹", "揖", "一"]
    counts = {char: rank for rank, char in enumerate(reversed(characters), 1)}  # 衣 most frequent, 一 least
    skipped = write_lexicon(characters, tokenizer, tmp_path / "lexicon.txt", counts=counts)
    kept = read_lexicon(tmp_path / "lexicon.txt")
    assert skipped == 1 and "一" not in kept and len(kept) == 6 == FLASHLIGHT_MAX_HOMOPHONES


def test_tiny_pinyin_training_run_on_aishell(tmp_path):
    """Four real recordings: the checkpoint keeps the unit, dev and test are scored in syllables."""
    corpus = shared_corpus("aishell1_sample") / "AISHELL_Sample_data"
    utterances = [
        Utterance(
            audio, audio_info(audio)[0], audio.with_suffix(".txt").read_text(encoding="utf-8").strip(), audio.stem
        )
        for audio in sorted(corpus.glob("BAC009S0150W000[1-4].opus"))  # 设定二十九度 ... 设定三十二度
    ]
    assert utterances[0].text == "设定二十九度"
    write_manifest(tmp_path / "train.jsonl", utterances)
    save_vocab(build_vocab((normalize_mandarin(u.text) for u in utterances), unit="pinyin"), tmp_path / "vocab.txt")
    config = load_config(
        ExperimentConfig,
        None,
        [
            f"exp_dir={tmp_path / 'exp'}",
            f"data.train_manifest={tmp_path / 'train.jsonl'}",
            f"data.dev_manifest={tmp_path / 'train.jsonl'}",
            f"data.vocab={tmp_path / 'vocab.txt'}",
            "data.normalizer=mandarin",
            "data.unit=pinyin",
            "data.max_batch_duration=5.0",
            "data.num_workers=0",
            "data.stats_utterances=4",
            "train.epochs=1",
            "train.warmup_steps=1",
            "train.device=cpu",
            *TINY_MODEL,
        ],
    )
    trainer = Trainer(config, progress=False)
    assert trainer.tokenizer.unit == "pinyin" and len(trainer.dataset) == 4
    best = trainer.run()

    tokenizer = Tokenizer.from_dict(load_checkpoint(best)["tokenizer"])
    assert tokenizer.unit == "pinyin" and tokenizer == trainer.tokenizer
    evaluate(best, tmp_path / "train.jsonl", tmp_path / "eval", device="cpu", progress=False)
    rows = [json.loads(line) for line in (tmp_path / "eval" / "hyps.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows[0]["ref"] == "she4 ding4 er4 shi2 jiu3 du4"
    assert all(set(row["hyp"].split()) <= set(tokenizer.tokens) for row in rows)
