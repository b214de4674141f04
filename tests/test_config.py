import pytest

from dfcnn.config import load_config, parse_override
from dfcnn.errors import ConfigError
from dfcnn.train import ExperimentConfig


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
        ("train:\n  learning_rate: 1\n", "c.yaml: train: unknown key .learning_rate."),
        ("train:\n  epochs: many\n", "c.yaml: train: epochs: expected int"),
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
    with pytest.raises(ConfigError, match="unknown key 'nope'"):
        load_config(ExperimentConfig, None, ["train.nope=1"])
    with pytest.raises(ConfigError, match="features.kind must be one of"):
        load_config(ExperimentConfig, None, ["features.kind=mfcc"])
