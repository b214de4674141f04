"""dfcnn finetune as a user meets it: the session's tiny model, shipped into a temporary root under the
name english (with a lexicon decoder), adapted to a manifest of real FSDD recordings. The out folder is a
training folder that loads, keeps the base model's vocabulary, features and network, records init_from,
carries the decoder; a Ctrl-C and --resume end where an uninterrupted run does; bad manifests are one
line per entry before any training. Training outcomes are never asserted."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal

import pytest
import soundfile
import torch
import yaml
from conftest import shared_corpus

from dfcnn.checkpoint import load_checkpoint
from dfcnn.cli import main
from dfcnn.config import load_config
from dfcnn.data import Utterance, read_manifest, write_manifest
from dfcnn.decode import SHIPPED, resolve_decoder
from dfcnn.loading import load_model
from dfcnn.shipped import ROOT_ENV
from dfcnn.shipped.make import ShipConfig, ship
from dfcnn.training.experiment import ExperimentConfig
from dfcnn.training.finetune import EPOCH_RANGE, small_data_settings
from dfcnn.training.train import Trainer

TEXTS = ["ab", "ba", "a b", "abba", "b", "aab", "bb a", "a"]  # spelt in the tiny model's vocabulary
FAST = ["train.epochs=2", "data.max_batch_duration=1", "data.num_workers=0", "--quiet"]  # 2 epochs of 3-4 batches


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    """Manifests of 10 real FSDD recordings (texts the tiny model can spell): all of them, and 8 + 2 dev."""
    folder = tmp_path_factory.mktemp("finetune-data")
    wavs = sorted((shared_corpus("fsdd") / "recordings").glob("*_jackson_*.wav"))[:10]
    utterances = [
        Utterance(path, soundfile.info(str(path)).duration, TEXTS[index % len(TEXTS)], path.stem)
        for index, path in enumerate(wavs)
    ]
    write_manifest(folder / "all.jsonl", utterances)
    write_manifest(folder / "train.jsonl", utterances[:8])
    write_manifest(folder / "dev.jsonl", utterances[8:])
    return {
        "folder": folder,
        "all": folder / "all.jsonl",
        "train": folder / "train.jsonl",
        "dev": folder / "dev.jsonl",
        "wav": wavs[0],
    }


@pytest.fixture(scope="module")
def root(tiny_model, corpus, tmp_path_factory):
    """A shipped-models root holding the tiny model as english, with a lexicon decoder."""
    folder = tmp_path_factory.mktemp("finetune-base")
    exp = folder / "exp"
    exp.mkdir()
    for name in ("best.pt", "metrics.jsonl", "config.yaml"):
        shutil.copyfile(tiny_model / name, exp / name)
    (exp / "lexicon.txt").write_text("ab a b\nba b a\na a\nb b\n")
    (exp / "decoder.json").write_text('{"lexicon": "lexicon.txt", "beam_size": 4}\n')
    card = {
        "summary": "tiny",
        "language": "en",
        "licence": "CC0-1.0",
        "rebuild": "pytest",
        "limits": ["noise"],
        "training_data": [{"name": "noise", "licence": "CC0-1.0", "hours": 0.001, "note": "generated"}],
    }
    (folder / "card.yaml").write_text(yaml.safe_dump(card))
    root = folder / "shipped"
    root.mkdir()
    ship(
        ShipConfig(
            str(exp),
            "english",
            str(folder / "card.yaml"),
            (("dev", str(corpus["dev"])),),
            str(root),
            device="cpu",
            progress=False,
        )
    )
    return root


@pytest.fixture
def shipped(root, monkeypatch):
    monkeypatch.setenv(ROOT_ENV, str(root))
    return root / "english"


def test_finetune_from_a_shipped_name_makes_a_training_folder_of_the_same_model(shipped, corpus, tmp_path, capsys):
    out = tmp_path / "mine"
    assert main(["finetune", "--model", "english", "--train", str(corpus["all"]), "--out", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    assert "no --dev" in err and "decoder of english is carried" in err
    base, tuned = load_checkpoint(shipped / "best.pt"), load_checkpoint(out / "best.pt")
    for part in ("model_config", "feature_config", "tokenizer"):
        assert tuned[part] == base[part], part
    for key in ("mean", "std"):  # the base model's normalisation statistics, kept
        assert torch.equal(tuned["feature_stats"][key], base["feature_stats"][key])
    config = load_config(ExperimentConfig, out / "config.yaml")
    assert config.train.init_from == str(shipped / "best.pt") and config.train.keep_init_stats
    assert config.train.lr == pytest.approx(0.1 * base["config"]["train"]["lr"])
    assert dataclasses.asdict(config.specaugment) == base["config"]["specaugment"]  # SpecAugment kept, as it was
    assert (out / "vocab.txt").read_text().split() == base["tokenizer"]["tokens"]
    train, dev = read_manifest(out / "train.jsonl"), read_manifest(out / "dev.jsonl")  # split by utt_id
    assert len(dev) == 1 and {u.utt_id for u in train + dev} == {u.utt_id for u in read_manifest(corpus["all"])}
    decoder = resolve_decoder(SHIPPED, out)  # carried inside the folder: it moves as a whole
    assert decoder is not None and decoder.lexicon == str(out / "lexicon.txt") and (out / "lexicon.txt").is_file()
    recognizer = load_model(out, "cpu")  # what transcribe --model OUT loads
    assert recognizer.decoder.config.lexicon == str(out / "lexicon.txt")
    assert isinstance(recognizer.transcribe(corpus["wav"]).text, str)
    assert main(["evaluate", "--model", str(out), "--manifest", str(corpus["dev"]), "--device", "cpu", "--quiet"]) == 0


def test_a_stopped_finetune_resumes_to_the_uninterrupted_result(shipped, corpus, tmp_path, monkeypatch):
    """From a checkpoint path, with --dev: Ctrl-C at step 3, then the same command with --resume."""

    def command(out):
        return [
            "finetune",
            "--model",
            str(shipped / "best.pt"),
            "--train",
            str(corpus["train"]),
            "--dev",
            str(corpus["dev"]),
            "--out",
            str(out),
            "--no-decoder",
            *FAST,
        ]

    assert main(command(tmp_path / "straight")) == 0
    original = Trainer.train_step

    def interrupted_step(self, batch):
        loss = original(self, batch)
        if self.step == 2:  # counted after the step: the third step is the last before the stop
            os.kill(os.getpid(), signal.SIGINT)
        return loss

    monkeypatch.setattr(Trainer, "train_step", interrupted_step)
    assert main(command(tmp_path / "stopped")) == 128 + signal.SIGINT
    monkeypatch.undo()
    monkeypatch.setenv(ROOT_ENV, str(shipped.parent))
    stopped = load_checkpoint(tmp_path / "stopped" / "last.pt")["training"]
    assert stopped["step"] == 3
    assert main([*command(tmp_path / "stopped"), "--resume"]) == 0
    straight, resumed = (load_checkpoint(tmp_path / name / "last.pt") for name in ("straight", "stopped"))
    assert resumed["training"]["step"] == straight["training"]["step"]
    for name, tensor in straight["model"].items():
        assert torch.equal(tensor, resumed["model"][name]), name
    assert not (tmp_path / "stopped" / "decoder.json").exists()  # --no-decoder
    config = yaml.safe_load((tmp_path / "stopped" / "config.yaml").read_text())
    assert config["data"]["train_manifest"] == str(corpus["train"])  # --dev given: the user's files, as they are


def test_bad_manifest_entries_are_one_line_each_before_any_training(shipped, corpus, tmp_path, capsys):
    good = read_manifest(corpus["train"])
    bad = [
        *good[:4],
        Utterance(good[4].audio_filepath, good[4].duration, "hello", "unspellable"),
        Utterance(tmp_path / "gone.wav", 1.0, "ab", "missing"),
    ]
    write_manifest(tmp_path / "bad.jsonl", bad)
    out = tmp_path / "out"
    assert main(["finetune", "--model", "english", "--train", str(tmp_path / "bad.jsonl"), "--out", str(out)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'bad.jsonl'}:5: cannot be spelt in the vocabulary of the model english")
    assert lines[1].startswith(f"{tmp_path / 'bad.jsonl'}:6: audio ") and "gone.wav" in lines[1]
    assert lines[2] == (
        "dfcnn: error: 2 bad entries (listed above): nothing trained; fix them (--new-tokens adds the characters "
        "the model lacks), or pass --skip-bad to leave them out"
    )
    assert len(lines) == 3 and not (out / "last.pt").exists() and not (out / "vocab.txt").exists()

    (tmp_path / "malformed.jsonl").write_text(json.dumps({"audio_filepath": "a.wav", "text": "ab"}) + "\n")
    assert (
        main(["finetune", "--model", "english", "--train", str(tmp_path / "malformed.jsonl"), "--out", str(out)]) == 1
    )
    assert capsys.readouterr().err == f"dfcnn: error: {tmp_path / 'malformed.jsonl'}:1: missing key 'duration'\n"

    assert (
        main(
            [
                "finetune",
                "--model",
                "english",
                "--train",
                str(tmp_path / "bad.jsonl"),
                "--out",
                str(out),
                "--skip-bad",
                "train.epochs=1",
                "data.num_workers=0",
                "--quiet",
            ]
        )
        == 0
    )
    kept = read_manifest(out / "train.jsonl") + read_manifest(out / "dev.jsonl")
    assert {u.utt_id for u in kept} == {u.utt_id for u in good[:4]}


def test_new_tokens_joins_the_vocabulary_the_rest_carried_over(shipped, corpus, tmp_path, capsys):
    """Transcripts with characters the model lacks: refused with a hint, then learnt with --new-tokens."""
    good = read_manifest(corpus["train"])
    texts = ["abc", "cab", "ad", *TEXTS[: len(good) - 3]]  # c and d: not in the tiny model's vocabulary
    write_manifest(tmp_path / "new.jsonl", [dataclasses.replace(u, text=t) for u, t in zip(good, texts)])
    command = ["finetune", "--model", "english", "--train", str(tmp_path / "new.jsonl"), "--dev", str(corpus["dev"])]
    assert main([*command, "--out", str(tmp_path / "refused")]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "dfcnn: error: 3 bad entries (listed above): nothing trained; fix them (--new-tokens adds the characters "
        "the model lacks), or pass --skip-bad to leave them out"
    )
    out = tmp_path / "mine"
    assert main([*command, "--out", str(out), "--new-tokens", *FAST]) == 0
    said = capsys.readouterr()
    assert "--new-tokens: c d, which english lacks, added with untrained output rows" in said.err
    base = load_checkpoint(shipped / "best.pt")["tokenizer"]["tokens"]
    assert (out / "vocab.txt").read_text().split() == [*base, "c", "d"]
    assert f"{len(base)} of {len(base) + 2} output tokens carried over" in said.out + said.err
    assert load_checkpoint(out / "best.pt")["tokenizer"]["tokens"] == [*base, "c", "d"]
    assert isinstance(load_model(out, "cpu").transcribe(corpus["wav"]).text, str)


@pytest.mark.parametrize(("utterances", "seconds"), [(300, 3.0), (12, 1.0), (20_000, 3.0)])
def test_epochs_scale_with_the_data_and_give_way_to_an_override(utterances, seconds):
    config = ExperimentConfig()
    tuned = small_data_settings(config, [seconds] * utterances, set())
    low, high = EPOCH_RANGE
    assert low <= tuned.train.epochs <= high and tuned.data.max_batch_duration < config.data.max_batch_duration
    steps = tuned.train.epochs * -(-utterances * seconds // tuned.data.max_batch_duration)  # at least
    assert steps >= 200 or tuned.train.epochs == high  # a reasonable number of steps, unless capped
    assert 0 < tuned.train.warmup_steps <= 0.2 * steps  # short
    given = small_data_settings(config, [seconds] * utterances, {"train.epochs", "data.max_batch_duration"})
    assert (given.train.epochs, given.data.max_batch_duration) == (config.train.epochs, config.data.max_batch_duration)
