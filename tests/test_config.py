import re

import pytest

from dfcnn.config import load_config, parse_override
from dfcnn.errors import ConfigError
from dfcnn.training.train import ExperimentConfig


def test_defaults_yaml_and_overrides(tmp_path):
    (tmp_path / "c.yaml").write_text("exp_dir: runs/a\nmodel:\n  channels: [8, 16]\n  time_pool: [2, 2]\n"
                                     "  freq_pool: [2, 2]\ntrain:\n  lr: 1e-3\n")
    config = load_config(ExperimentConfig, tmp_path / "c.yaml", ["train.epochs=3", "train.lr=5e-4"])
    assert config.exp_dir == "runs/a" and config.model.channels == [8, 16]
    assert config.train.epochs == 3 and config.train.lr == 5e-4
    assert config.train.weight_decay == ExperimentConfig().train.weight_decay  # untouched default


def test_int_accepted_for_float_and_scientific_strings():
    assert parse_override("train.lr=1e-3") == (["train", "lr"], 1e-3)
    assert load_config(ExperimentConfig, None, ["train.lr=1"]).train.lr == 1.0


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("trian:\n  lr: 1\n", "c.yaml: unknown key 'trian'"),
        ("train:\n  learning_rate: 1\n", "c.yaml: unknown key 'train.learning_rate'"),
        ("train:\n  epochs: many\n", "c.yaml: train.epochs: expected int"),
        ("train:\n  lr: -1\n", "c.yaml: train.lr must be a positive number, got -1.0"),
        ("model:\n  channels: [8, 16.5]\n  time_pool: [1, 1]\n  freq_pool: [1, 1]\n", "expected a list of int"),
        ("model: 3\n", "'model' must be a mapping"),
        ("train: [\n", "c.yaml:2: not valid YAML"),
        ("model:\n  channels: [8]\n", "one entry per block"),
    ],
)
def test_bad_config_names_the_key(tmp_path, yaml_text, message):
    (tmp_path / "c.yaml").write_text(yaml_text)
    with pytest.raises(ConfigError, match=message):
        load_config(ExperimentConfig, tmp_path / "c.yaml")


def test_bad_overrides():
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(ExperimentConfig, None, ["train.lr"])
    with pytest.raises(ConfigError, match="unknown key 'train.nope'"):
        load_config(ExperimentConfig, None, ["train.nope=1"])
    with pytest.raises(ConfigError, match="features.kind must be one of"):
        load_config(ExperimentConfig, None, ["features.kind=mfcc"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.dev_every_epochs=0", "train.dev_every_epochs must be at least 1, got 0"),
        ("train.save_every_steps=0", "train.save_every_steps must be at least 1, got 0"),
        ("train.log_every_steps=-5", "train.log_every_steps must be at least 1, got -5"),
        ("features.hop_ms=0", "features.hop_ms must be a positive number of milliseconds"),
        ("train.lr=-1e-3", "train.lr must be a positive number, got -0.001"),
        ("train.lr=.inf", "train.lr must be a positive number, got inf"),
        ("model.dropout=1.5", "model.dropout must lie in \\[0, 1\\), got 1.5"),
        ("model.channels=[8,-16,32,64]", "model.channels must all be positive"),
        ("model.channels=[8.5,16,32,64]", "model.channels: expected a list of int"),
        ("train.device=foo", "train.device must be auto, cpu, cuda or cuda:N, got 'foo'"),
        ("data.speed_perturb=[0.1]", "data.speed_perturb factors must lie in \\[0.5, 2\\]"),
        ("train.epochs=0", "train.epochs must be at least 1, got 0"),
    ],
)
def test_out_of_range_values_are_blamed_on_the_override_not_the_file(tmp_path, override, message):
    """Checked when the config is built, before any work; the message names the override that set it."""
    (tmp_path / "c.yaml").write_text("train:\n  lr: 1e-3\n  epochs: 3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(ExperimentConfig, tmp_path / "c.yaml", [override])
    assert str(caught.value).startswith(f"override {override!r}: ")
    assert re.search(message, str(caught.value)), str(caught.value)


def test_a_bad_value_from_the_file_is_blamed_on_the_file(tmp_path):
    (tmp_path / "c.yaml").write_text("train:\n  lr: -1\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(tmp_path / 'c.yaml'))}: train.lr must be positive|"
                       rf"^{re.escape(str(tmp_path / 'c.yaml'))}: train.lr must be a positive number"):
        load_config(ExperimentConfig, tmp_path / "c.yaml", ["train.epochs=2"])


@pytest.mark.parametrize("content", [b"\xff\xfe\x00t\x00r\x00a\x00i\x00n", b"train:\n  lr: 1\xe9\n"])
def test_a_config_that_is_not_utf8_text_is_one_line(tmp_path, content):
    (tmp_path / "c.yaml").write_bytes(content)
    with pytest.raises(ConfigError, match=r"c.yaml(:\d+)?: the config file is (a binary file|not UTF-8 text)"):
        load_config(ExperimentConfig, tmp_path / "c.yaml")
