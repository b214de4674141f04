import pytest
import torch

from dfcnn.checkpoint import load_checkpoint, restore_modules
from dfcnn.errors import CheckpointError
from dfcnn.loading import load_model


@pytest.fixture
def trained(tiny_trainer):
    return tiny_trainer, tiny_trainer.exp_dir.parent


def test_checkpoint_is_self_describing_and_safe_to_load(trained):
    trainer, folder = trained
    payload = torch.load(folder / "exp" / "best.pt", weights_only=True)
    assert payload["model_config"]["channels"] == [4, 8]
    assert payload["feature_config"]["kind"] == "mel"
    assert payload["tokenizer"]["tokens"][0] == "<blank>"
    assert payload["feature_stats"]["mean"].shape == (32,)
    assert payload["config"]["train"]["epochs"] == 1


def test_save_load_gives_identical_outputs(trained):
    trainer, folder = trained
    recognizer = load_model(folder / "exp" / "last.pt", device="cpu")
    trainer.model.eval()
    trainer.features.eval()
    waves = torch.randn(3, 9000)
    lengths = torch.tensor([9000, 6000, 3000])
    with torch.no_grad():
        features, frames = trainer.features(waves, lengths)
        expected, expected_lengths = trainer.model(features, frames)
    got, got_lengths = recognizer.log_probs(waves, lengths)
    assert torch.equal(got_lengths, expected_lengths)
    assert torch.equal(got, expected)


def test_a_checkpoint_from_before_the_stem_option_loads_unchanged(trained, tmp_path):
    """Checkpoints written before ModelConfig had stem_stride: the default (no stem) rebuilds them as they were."""
    _, folder = trained
    payload = torch.load(folder / "exp" / "last.pt", weights_only=True)
    del payload["model_config"]["stem_stride"]
    torch.save(payload, tmp_path / "old.pt")
    old, new = load_model(tmp_path / "old.pt", device="cpu"), load_model(folder / "exp" / "last.pt", device="cpu")
    assert old.model.stem is None
    waves, lengths = torch.randn(2, 9000), torch.tensor([9000, 5000])
    assert torch.equal(old.log_probs(waves, lengths)[0], new.log_probs(waves, lengths)[0])


def test_restore_rebuilds_modules(trained):
    _, folder = trained
    model, features, tokenizer = restore_modules(load_checkpoint(folder / "exp" / "best.pt"))
    assert model.config.vocab_size == len(tokenizer)
    assert features.config.n_mels == 32


def test_bad_checkpoints(tmp_path, trained):
    _, folder = trained
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.pt")
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes((folder / "exp" / "best.pt").read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cut.pt: not a readable checkpoint"):
        load_checkpoint(truncated)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="other.pt: not a dfcnn checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_no_temp_files_left_behind(trained):
    _, folder = trained
    assert not list((folder / "exp").glob("*.tmp"))
