"""Training levers: speed perturbation, fine-tuning from a checkpoint, early stopping, averaging."""

import numpy as np
import pytest
import soundfile
import torch
from helpers import tiny_config

from dfcnn.checkpoint import CheckpointError, average_checkpoints, load_checkpoint
from dfcnn.cli import main
from dfcnn.data import SpeechDataset, Utterance
from dfcnn.errors import DfcnnError
from dfcnn.loading import load_model
from dfcnn.text import save_vocab
from dfcnn.training.train import Trainer


def tone(path, hz=440.0, seconds=1.0):
    t = np.arange(int(16000 * seconds)) / 16000
    soundfile.write(str(path), (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), 16000)
    return Utterance(path, seconds, "a", path.stem)


def peak_hz(wave: torch.Tensor) -> float:
    spectrum = np.abs(np.fft.rfft(wave.numpy()))
    return float(np.argmax(spectrum)) * 16000 / len(wave)


def test_speed_perturbation_scales_duration_and_pitch(tmp_path):
    utterances = [tone(tmp_path / f"t{i}.wav") for i in range(6)]
    dataset = SpeechDataset(utterances, [[1]] * 6, speeds=[0.9, 1.1], seed=3)
    for index in range(6):
        speed = dataset.speed(index)
        _, wave, _, _ = dataset[index]
        assert abs(len(wave) - 16000 / speed) <= 2  # 1.1 plays faster: shorter
        assert peak_hz(wave) == pytest.approx(440 * speed, abs=3)  # and higher
    first = [dataset.speed(i) for i in range(6)]
    assert first == [dataset.speed(i) for i in range(6)]  # a resumed run draws the same speeds
    draws = set()
    for epoch in range(8):
        draws.add(tuple(dataset.speed(i, epoch) for i in range(6)))
        assert [len(dataset[(epoch, i)][1]) for i in range(6)] == [
            pytest.approx(16000 / dataset.speed(i, epoch), abs=2) for i in range(6)
        ]  # the sampler's (epoch, index) keys select the epoch's draw, in any worker
    assert len(draws) > 1 and {s for d in draws for s in d} == {0.9, 1.1}
    assert len(SpeechDataset(utterances)[0][1]) == 16000  # off by default
    with pytest.raises(DfcnnError, match="speed perturbation"):
        SpeechDataset(utterances, speeds=[0.1])


def test_training_with_speed_perturbation(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, "data.speed_perturb=[0.9,1.0,1.1]", "train.epochs=1"), progress=False)
    trainer.run()
    assert trainer.dataset.speeds == [0.9, 1.0, 1.1] and trainer.step > 0


def test_init_from_carries_weights_and_matches_output_rows_by_token(tmp_path):
    source = Trainer(tiny_config(tmp_path / "pre", "train.epochs=1"), progress=False)
    source.run()
    pre = load_checkpoint(tmp_path / "pre" / "exp" / "last.pt")
    old_tokens = pre["tokenizer"]["tokens"]
    # the fine-tuning vocabulary: the same letters in another order plus one the source never saw
    config = tiny_config(tmp_path / "fine", f"train.init_from={tmp_path / 'pre' / 'exp' / 'last.pt'}")
    new_tokens = [old_tokens[0], "c", *reversed(old_tokens[1:])]
    save_vocab(new_tokens, config.data.vocab)
    trainer = Trainer(config, progress=False)
    weights = trainer.model.state_dict()
    assert torch.equal(weights["blocks.0.convs.0.0.weight"], pre["model"]["blocks.0.convs.0.0.weight"])
    out_weight = [name for name in weights if name.startswith("head.3.weight")][0]
    for row, token in enumerate(new_tokens):
        if token in old_tokens:
            assert torch.equal(weights[out_weight][row], pre["model"][out_weight][old_tokens.index(token)])
    assert not any(torch.equal(weights[out_weight][1], old_row) for old_row in pre["model"][out_weight])

    other = tiny_config(
        tmp_path / "other", "model.channels=[4,16]", f"train.init_from={tmp_path / 'pre' / 'exp' / 'last.pt'}"
    )
    with pytest.raises(CheckpointError, match=r"init_from: blocks\.1\.convs\.0\.0\.weight is \(8, 4, 3, 3\)"):
        Trainer(other, progress=False)


def test_patience_stops_when_dev_stops_improving(tmp_path, monkeypatch):
    scores = iter([50.0, 40.0, 45.0, 41.0, 30.0, 60.0])
    monkeypatch.setattr(Trainer, "evaluate_dev", lambda self: {"dev_wer": next(scores), "dev_cer": 10.0})
    trainer = Trainer(tiny_config(tmp_path, "train.epochs=6", "train.patience=2"), progress=False)
    trainer.run()
    assert trainer.epoch == 4 and trainer.best["epoch"] == 2  # epochs 3 and 4 brought nothing better
    resumed = Trainer(tiny_config(tmp_path, "train.epochs=6", "train.patience=2"), resume=True, progress=False)
    resumed.run()
    assert resumed.epoch == 4  # a resumed run stays stopped


def test_average_checkpoints_is_the_mean_and_loads(tmp_path):
    Trainer(tiny_config(tmp_path, "train.epochs=2"), progress=False).run()
    exp = tmp_path / "exp"
    first, second = load_checkpoint(exp / "epoch-1.pt"), load_checkpoint(exp / "epoch-2.pt")
    averaged = average_checkpoints([exp / "epoch-1.pt", exp / "epoch-2.pt"])
    name = "blocks.0.convs.0.0.weight"
    assert torch.allclose(averaged["model"][name], (first["model"][name] + second["model"][name]) / 2)
    assert "training" not in averaged

    assert main(["average", "--out", str(exp / "avg.pt"), str(exp / "epoch-1.pt"), str(exp / "epoch-2.pt")]) == 0
    recognizer = load_model(exp / "avg.pt", device="cpu")
    assert torch.allclose(recognizer.model.state_dict()[name], averaged["model"][name])

    Trainer(tiny_config(tmp_path / "wide", "model.channels=[4,16]", "train.epochs=1"), progress=False).run()
    with pytest.raises(CheckpointError, match="another model or vocabulary"):
        average_checkpoints([exp / "epoch-2.pt", tmp_path / "wide" / "exp" / "epoch-1.pt"])
