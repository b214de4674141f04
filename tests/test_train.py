import json
import random

import pytest
import torch
from helpers import tiny_config

from dfcnn.errors import ConfigError, VocabError
from dfcnn.training.train import TrainConfig, Trainer, learning_rate
from dfcnn.training.workers import worker_options


def parameters(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_resume_continues_exactly(tmp_path):
    straight = Trainer(tiny_config(tmp_path / "a", "train.epochs=3"), progress=False)
    straight.run()

    first = Trainer(tiny_config(tmp_path / "b", "train.epochs=3"), progress=False)
    batches_per_epoch = len(first.sampler.epoch_batches())
    stop_at = batches_per_epoch + 2  # in the middle of the second epoch
    first.run(max_steps=stop_at)
    assert first.step == stop_at

    resumed = Trainer(tiny_config(tmp_path / "b", "train.epochs=3"), resume=True, progress=False)
    assert (resumed.step, resumed.epoch, resumed.batches_done) == (stop_at, 1, 2)
    resumed.run()
    assert resumed.step == straight.step == 3 * batches_per_epoch
    expected, got = parameters(straight), parameters(resumed)
    for key in expected:
        assert torch.allclose(expected[key].float(), got[key].float(), atol=1e-6), key


def test_training_leaves_the_callers_random_generators_as_they_were(tmp_path):
    """A run draws from generators of its own, seeded by train.seed: the caller's global ones are the
    same after it, and what the caller drew before it does not change it."""
    torch.manual_seed(123)
    random.seed(123)
    torch_state, python_state = torch.get_rng_state(), random.getstate()
    first = Trainer(tiny_config(tmp_path / "a", "train.epochs=1"), progress=False)
    first.run(max_steps=3)
    assert torch.equal(torch.get_rng_state(), torch_state) and random.getstate() == python_state
    torch.rand(1000), random.random()  # the caller draws: the next run starts from its own seed all the same
    second = Trainer(tiny_config(tmp_path / "b", "train.epochs=1"), progress=False)
    second.run(max_steps=3)
    expected, got = parameters(first), parameters(second)
    for key in expected:
        assert torch.allclose(expected[key].float(), got[key].float(), atol=1e-6), key


def test_refuses_to_overwrite_a_run_without_resume(tmp_path):
    Trainer(tiny_config(tmp_path, "train.epochs=1"), progress=False).run()
    with pytest.raises(ConfigError, match="pass --resume"):
        Trainer(tiny_config(tmp_path, "train.epochs=1"), progress=False)


def test_logs_metrics_and_keeps_checkpoints(tmp_path):
    Trainer(tiny_config(tmp_path, "train.epochs=3", "train.keep_epoch_checkpoints=2"), progress=False).run()
    exp = tmp_path / "exp"
    records = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    assert any("loss" in r and "lr" in r and "audio_sec_per_sec" in r for r in records)
    assert [r["epoch"] for r in records if "dev_wer" in r] == [1, 2, 3]
    assert sorted(p.name for p in exp.glob("epoch-*.pt")) == ["epoch-2.pt", "epoch-3.pt"]
    assert (exp / "best.pt").exists() and (exp / "config.yaml").exists()
    assert list((exp / "tensorboard").glob("events.*"))


def test_non_finite_loss_is_skipped_and_counted(tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(tmp_path, "train.epochs=1"), progress=False)
    before = parameters(trainer)
    real_ctc = torch.nn.functional.ctc_loss
    monkeypatch.setattr(torch.nn.functional, "ctc_loss", lambda *a, **k: real_ctc(*a, **k) * float("nan"))
    trainer.run(max_steps=2)
    assert trainer.skipped_batches == 2
    after = parameters(trainer)
    assert all(torch.equal(before[k], after[k]) for k in before if "running" not in k and "num_batches" not in k)


def test_too_short_utterances_are_dropped_and_counted(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, "model.time_pool=[4,4]"), progress=False)  # 16x: 0.5 s = 3 frames
    assert sum(trainer.dropped.values()) > 0
    assert len(trainer.dataset) + sum(trainer.dropped.values()) == 8


def test_pinyin_unit_with_a_character_vocabulary_names_the_file(tmp_path):
    config = tiny_config(tmp_path, "data.normalizer=mandarin", "data.unit=pinyin")
    with pytest.raises(VocabError, match=rf"{tmp_path / 'vocab.txt'}: token 'a' is not a tonal pinyin syllable"):
        Trainer(config, progress=False)


def test_learning_rate_warmup_then_decay():
    cfg = TrainConfig(lr=1e-3, warmup_steps=10, final_lr_ratio=0.1)
    lrs = [learning_rate(step, 100, cfg) for step in range(100)]
    assert lrs[9] == pytest.approx(1e-3)
    assert all(a < b for a, b in zip(lrs[:9], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[-1] == pytest.approx(1e-4, rel=0.01)


def test_audio_workers_train_exactly_as_in_process(tmp_path):
    """Workers started by forkserver (not forked from the trainer), alive across epochs, load the same
    batches, each epoch's speed draws included."""
    runs = {}
    for workers in (0, 1):
        trainer = Trainer(
            tiny_config(
                tmp_path / f"workers{workers}",
                f"data.num_workers={workers}",
                "data.speed_perturb=[0.9,1.0,1.1]",
                "train.epochs=2",
            ),
            progress=False,
        )
        assert trainer.loader.num_workers == workers
        if workers:
            assert trainer.loader.multiprocessing_context.get_start_method() in ("forkserver", "spawn")
        trainer.run()
        runs[workers] = parameters(trainer)
    for name, value in runs[0].items():
        assert torch.allclose(value.float(), runs[1][name].float(), atol=1e-6), name
    # fork needs no guarded entry point in a user's script; a typo is an error naming the option
    assert worker_options(1, "fork")["multiprocessing_context"].get_start_method() == "fork"
    with pytest.raises(ConfigError, match="data.worker_start must be forkserver or fork, got 'spawnn'"):
        Trainer(tiny_config(tmp_path / "typo", "data.num_workers=1", "data.worker_start=spawnn"), progress=False)
