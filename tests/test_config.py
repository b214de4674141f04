import re

import pytest

from dfcnn.config import load_config, parse_override
from dfcnn.errors import ConfigError
from dfcnn.training.train import ExperimentConfig


def test_defaults_yaml_and_overrides(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "exp_dir: runs/a\nmodel:\n  channels: [8, 16]\n  time_pool: [2, 2]\n  freq_pool: [2, 2]\ntrain:\n  lr: 1e-3\n"
    )
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
        ("train.epochs=0", "train.epochs must lie in \\[1, 100,000\\], got 0"),
        ("train.epochs=1000000000000000000000000000000", "train.epochs must lie in \\[1, 100,000\\], got 1e\\+30"),
        ("data.max_batch_duration=0.001", "data.max_batch_duration must lie in \\[1, 100000\\] seconds"),
        (
            "specaugment.freq_mask_width=1000000",
            "specaugment.freq_mask_width must be at most the 200 feature bins "
            "\\(features.n_linear_bins\\), got 1000000",
        ),
        (
            "specaugment.time_mask_width=5000",
            "specaugment.time_mask_width must be at most the 2998 frames of the "
            "longest training utterance \\(data.max_utterance_duration 30 s\\), got 5000",
        ),
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
    with pytest.raises(
        ConfigError,
        match=rf"^{re.escape(str(tmp_path / 'c.yaml'))}: train.lr must be positive|"
        rf"^{re.escape(str(tmp_path / 'c.yaml'))}: train.lr must be a positive number",
    ):
        load_config(ExperimentConfig, tmp_path / "c.yaml", ["train.epochs=2"])


@pytest.mark.parametrize("content", [b"\xff\xfe\x00t\x00r\x00a\x00i\x00n", b"train:\n  lr: 1\xe9\n"])
def test_a_config_that_is_not_utf8_text_is_one_line(tmp_path, content):
    (tmp_path / "c.yaml").write_bytes(content)
    with pytest.raises(ConfigError, match=r"c.yaml(:\d+)?: the config file is (a binary file|not UTF-8 text)"):
        load_config(ExperimentConfig, tmp_path / "c.yaml")


def test_mask_widths_are_checked_against_the_features_the_config_sets(tmp_path):
    (tmp_path / "c.yaml").write_text("features:\n  kind: mel\n  n_mels: 40\nspecaugment:\n  freq_mask_width: 41\n")
    with pytest.raises(
        ConfigError,
        match=r"c.yaml: specaugment.freq_mask_width must be at most the 40 feature bins "
        r"\(features.n_mels\), got 41$",
    ):
        load_config(ExperimentConfig, tmp_path / "c.yaml")
    assert load_config(ExperimentConfig, tmp_path / "c.yaml", ["specaugment.freq_mask_width=40"]).features.n_mels == 40


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        (
            "train:\n  lr: 1e-4\ndata:\n  num_workers: 0\ntrain:\n  epochs: 3\n",
            "c.yaml:5: duplicate key 'train' \\(first at line 1\\); YAML would silently keep only the last",
        ),
        ("train:\n  lr: 1e-4\n  epochs: 3\n  lr: 2e-4\n", "c.yaml:4: duplicate key 'lr' \\(first at line 2\\)"),
        ("model:\n  channels: [8, 16]\n  x: {a: 1, a: 2}\n", "c.yaml:3: duplicate key 'a' \\(first at line 3\\)"),
    ],
)
def test_a_key_given_twice_at_any_depth_is_refused(tmp_path, yaml_text, message):
    (tmp_path / "c.yaml").write_text(yaml_text)
    with pytest.raises(ConfigError, match=message):
        load_config(ExperimentConfig, tmp_path / "c.yaml")


def test_merge_keys_may_be_overridden(tmp_path):
    """``<<: *base`` then a key of base is an override, not a duplicate."""
    (tmp_path / "c.yaml").write_text("base: &base {lr: 1e-4, epochs: 3}\n")
    text = "train:\n  <<: {lr: 1.0e-4, epochs: 3}\n  epochs: 5\n"
    (tmp_path / "c.yaml").write_text(text)
    config = load_config(ExperimentConfig, tmp_path / "c.yaml")
    assert (config.train.lr, config.train.epochs) == (1e-4, 5)


def billion_laughs(levels: int) -> str:
    """train.lr: a list of ``levels`` lists, each holding the one before it 9 times."""
    lists = ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lists += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "train:\n  lr: [" + ", ".join(lists) + "]\n"


def test_an_alias_bomb_is_refused_before_it_is_expanded(tmp_path):
    """9 ** 10 (3.5 billion) strings from 600 bytes: refused at once, the process's memory unchanged."""
    import resource
    import time

    (tmp_path / "c.yaml").write_text(billion_laughs(10))
    before, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time()
    with pytest.raises(ConfigError) as caught:
        load_config(ExperimentConfig, tmp_path / "c.yaml")
    assert str(caught.value) == (
        f"{tmp_path / 'c.yaml'}: its anchors and aliases expand to more than 10,000 "
        "values: refused (no config is that large; a file built to exhaust memory is)"
    )
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB: nothing was expanded
    assert time.process_time() - start < 5  # CPU seconds (unexpanded it takes milliseconds)
    (tmp_path / "c.yaml").write_text(billion_laughs(3))  # 729 values: a config may use anchors
    with pytest.raises(ConfigError, match=r"train.lr: expected float, got \[\['lol'.{150,} \(\d[\d,]* characters\)$"):
        load_config(ExperimentConfig, tmp_path / "c.yaml")  # the bad value quoted in 200 characters


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("a: &a [*a]\n", "c.yaml: not a usable config \\(an alias that contains itself\\)"),
        ("x: " + "[" * 5000 + "]" * 5000 + "\n", "c.yaml: not a usable config \\(nested too deeply\\)"),
    ],
)
def test_self_referencing_and_deeply_nested_yaml_is_one_line(tmp_path, yaml_text, message):
    (tmp_path / "c.yaml").write_text(yaml_text)
    with pytest.raises(ConfigError, match=message):
        load_config(ExperimentConfig, tmp_path / "c.yaml")


def test_a_huge_config_file_or_value_is_quoted_in_a_line(tmp_path):
    (tmp_path / "c.yaml").write_text("# " + "x" * (1 << 20) + "\n")
    with pytest.raises(ConfigError, match=r"c.yaml: 1,048,579 bytes is no config file \(at most 1,048,576\)"):
        load_config(ExperimentConfig, tmp_path / "c.yaml")
    (tmp_path / "c.yaml").write_text("train:\n  device: " + "y" * 100_000 + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(ExperimentConfig, tmp_path / "c.yaml")
    message = str(caught.value).removeprefix(str(tmp_path / "c.yaml"))
    assert len(message) < 350 and message.endswith("yyy... (100,041 characters)")
    with pytest.raises(ConfigError) as caught:
        load_config(ExperimentConfig, None, ["features.kind=" + "z" * 100_000])
    assert len(str(caught.value)) < 500 and "zzz... (100,016 characters): features.kind must be" in str(caught.value)
