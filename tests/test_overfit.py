"""A small DFCNN must learn a handful of real recordings to zero errors: the whole training path
(features, masking, CTC, optimiser, decoding) works on real speech."""

import pytest

from dfcnn.config import load_config
from dfcnn.data import Utterance, write_manifest
from dfcnn.evaluate import evaluate
from dfcnn.text import build_vocab, save_vocab
from dfcnn.train import ExperimentConfig, Trainer

from conftest import shared_corpus

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.mark.slow
def test_overfit_real_digits(tmp_path):
    fsdd = shared_corpus("fsdd")
    files = [next(fsdd.rglob(f"{digit}_jackson_7.wav")) for digit in (1, 3, 5, 7)] + [
        next(fsdd.rglob(f"{digit}_nicolas_9.wav")) for digit in (0, 8)
    ]
    from dfcnn.audio import audio_info

    utterances = [Utterance(p, audio_info(p)[0], DIGITS[int(p.name[0])], p.stem) for p in files]
    write_manifest(tmp_path / "train.jsonl", utterances)
    save_vocab(build_vocab(u.text for u in utterances), tmp_path / "vocab.txt")
    config = load_config(ExperimentConfig, None, [
        f"exp_dir={tmp_path / 'exp'}", f"data.train_manifest={tmp_path / 'train.jsonl'}",
        f"data.dev_manifest={tmp_path / 'train.jsonl'}", f"data.vocab={tmp_path / 'vocab.txt'}",
        "data.num_workers=0", "data.max_batch_duration=10", "features.kind=mel", "features.n_mels=40",
        "model.channels=[8,16,32]", "model.time_pool=[2,2,1]", "model.freq_pool=[2,2,2]", "model.hidden_dim=64",
        "model.dropout=0.0", "specaugment.freq_masks=0", "specaugment.time_masks=0",
        "train.epochs=120", "train.lr=3e-3", "train.warmup_steps=10", "train.dev_every_epochs=40",
        "train.weight_decay=0.0",
    ])
    trainer = Trainer(config, progress=False)
    trainer.run()
    result, _ = evaluate(tmp_path / "exp" / "best.pt", tmp_path / "train.jsonl", device="cpu", progress=False)
    assert result.words.errors == 0, result.word_alignment
    assert result.chars.errors == 0
