import pytest
import torch

from dfcnn.errors import ConfigError
from dfcnn.model import DFCNN, ModelConfig


def small_model(**overrides) -> DFCNN:
    config = dict(
        input_bins=40, vocab_size=7, channels=[4, 8, 8], time_pool=[2, 2, 1], freq_pool=[2, 2, 2], hidden_dim=16
    )
    config.update(overrides)
    model = DFCNN(ModelConfig(**config)).eval()
    # non-trivial BatchNorm statistics, so that masking mistakes cannot hide behind zero biases
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.bias.data.uniform_(-0.5, 0.5)
    return model


STEMS = {  # a strided stem, with the blocks' pools making up the rest of the reduction
    "stem2x2": dict(stem_stride=[2, 2], time_pool=[1, 2, 1], freq_pool=[2, 2, 1]),
    "stem1x3": dict(stem_stride=[1, 3], time_pool=[1, 1, 2], freq_pool=[2, 2, 2]),
    "stem3x2": dict(stem_stride=[3, 2], time_pool=[2, 1, 1], freq_pool=[1, 2, 1], residual=True),
}


@pytest.mark.parametrize(
    "channels_last,residual,stem",
    [(True, False, None), (False, False, None), (True, True, None), (True, True, "stem2x2"), (False, False, "stem1x3")],
)
def test_padding_does_not_change_an_utterance(channels_last, residual, stem):
    model = small_model(channels_last=channels_last, residual=residual, **STEMS.get(stem, {}))
    lengths = [50, 37, 13, 8]
    batch = torch.zeros(4, 1, 40, 50)
    singles = []
    for row, t in enumerate(lengths):
        x = torch.randn(1, 1, 40, t)
        batch[row, :, :, :t] = x[0]
        singles.append(model(x, torch.tensor([t])))
    log_probs, out_lengths = model(batch, torch.tensor(lengths))
    for row, (single, single_length) in enumerate(singles):
        n = int(single_length[0])
        assert int(out_lengths[row]) == n == single.shape[1]
        assert torch.allclose(log_probs[row, :n], single[0], atol=1e-5)


@pytest.mark.parametrize(
    "geometry",
    [
        dict(time_pool=[2, 2, 1]),
        dict(time_pool=[2, 2, 2]),
        dict(time_pool=[3, 1, 2]),
        dict(time_pool=[1, 1, 1]),
        *STEMS.values(),
    ],
    ids=["2-2-1", "2-2-2", "3-1-2", "1-1-1", *STEMS],
)
def test_output_lengths_match_real_outputs(geometry):
    model = small_model(**geometry)
    reduction = model.config.time_reduction
    for frames in range(1, 90, 1):
        log_probs, lengths = model(torch.randn(1, 1, 40, frames), torch.tensor([frames]))
        assert log_probs.shape[1] == int(model.output_lengths(torch.tensor([frames]))[0]) == int(lengths[0])
        assert int(lengths[0]) == frames // reduction  # a floor, as the streaming and export arithmetic assume
        if frames >= reduction:  # the unmasked path (export, one utterance) keeps the same frames
            assert model(torch.randn(1, 1, 40, frames), None)[0].shape[1] == frames // reduction


def test_a_stem_downsamples_before_the_first_block():
    model = small_model(**STEMS["stem2x2"])
    assert model.config.time_reduction == 4 and model.config.output_bins == 40 // 2 // 4
    assert model.stem.conv[0].kernel_size == (4, 4) and model.stem.conv[0].stride == (2, 2)
    assert model.blocks[0].convs[0][0].in_channels == 4  # the first block reads the stem's channels
    first = {}
    model.blocks[0].register_forward_hook(lambda module, args, out: first.update(shape=args[0].shape))
    model(torch.randn(1, 1, 40, 64), torch.tensor([64]))
    assert first["shape"] == (1, 4, 20, 32)  # (B, C0, F / 2, T / 2)
    default = DFCNN(ModelConfig(vocab_size=5))
    assert default.stem is None and not any(name.startswith("stem.") for name in default.state_dict())


def test_outputs_are_log_probs():
    log_probs, _ = small_model()(torch.randn(2, 1, 40, 30), torch.tensor([30, 30]))
    assert log_probs.shape == (2, 7, 7)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 7), atol=1e-5)


def test_residual_adds_shortcuts_only_where_asked():
    plain, residual = small_model(), small_model(residual=True)
    assert all(block.shortcut is None for block in plain.blocks)
    # 1 -> 4 and 4 -> 8 channels need a 1x1 projection; 8 -> 8 is the identity
    kinds = [type(block.shortcut).__name__ for block in residual.blocks]
    assert kinds == ["Sequential", "Sequential", "Identity"]
    missing, unexpected = residual.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(".shortcut." in name for name in missing)
    x = torch.randn(1, 1, 40, 30)  # same conv weights: only the shortcuts differ
    assert not torch.allclose(plain(x, torch.tensor([30]))[0], residual(x, torch.tensor([30]))[0])


def test_default_reduces_time_4x():
    config = ModelConfig(vocab_size=30)
    assert config.time_reduction == 4
    assert DFCNN(config).output_lengths(torch.tensor([1000])).item() == 250


def test_bad_configs():
    with pytest.raises(ConfigError, match="one entry per block"):
        ModelConfig(vocab_size=5, channels=[8, 16], time_pool=[2], freq_pool=[2, 2])
    with pytest.raises(ConfigError, match="vocab_size"):
        DFCNN(ModelConfig(vocab_size=1))
    for stride in ([2], [0, 2], [2, 2, 2]):
        with pytest.raises(ConfigError, match="stem_stride"):
            ModelConfig(vocab_size=5, stem_stride=stride)
    with pytest.raises(ConfigError, match="to nothing"):
        _ = ModelConfig(
            input_bins=8, vocab_size=5, stem_stride=[4, 1], channels=[4], time_pool=[1], freq_pool=[4]
        ).output_bins
    with pytest.raises(ConfigError, match="to nothing"):
        _ = ModelConfig(input_bins=8, vocab_size=5, channels=[4, 4], time_pool=[1, 1], freq_pool=[4, 4]).output_bins
