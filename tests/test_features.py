import pytest
import torch

from dfcnn.features import FeatureConfig, FeatureExtractor, SpecAugment, SpecAugmentConfig, compute_stats


@pytest.mark.parametrize("kind, bins", [("linear", 200), ("mel", 80)])
def test_shapes_and_frame_count(kind, bins):
    extractor = FeatureExtractor(FeatureConfig(kind=kind))
    wave = torch.randn(1, 16000)
    features, lengths = extractor(wave, torch.tensor([16000]))
    assert features.shape == (1, 1, bins, 98)  # 1 + (16000 - 400) // 160
    assert lengths.tolist() == [98]


def test_linear_is_log1p_magnitude_of_hamming_stft():
    config = FeatureConfig()
    wave = torch.randn(4000)
    features, _ = FeatureExtractor(config).log_spectrogram(wave[None], torch.tensor([4000]))
    frame = wave[160 * 3 : 160 * 3 + 400] * torch.hamming_window(400)
    expected = torch.log1p(torch.fft.rfft(frame).abs())[:200]
    assert torch.allclose(features[0, :, 3], expected, atol=1e-4)


@pytest.mark.parametrize("kind", ["linear", "mel"])
def test_batched_equals_single(kind):
    extractor = FeatureExtractor(FeatureConfig(kind=kind))
    extractor.set_stats(torch.randn(extractor.config.num_bins), torch.rand(extractor.config.num_bins) + 0.5)
    lengths = [16000, 7000, 12345, 300]
    waves = torch.zeros(4, 16000)
    singles = []
    for row, n in enumerate(lengths):
        wave = torch.randn(n)
        waves[row, :n] = wave
        singles.append(extractor(wave[None], torch.tensor([n])))
    batch, frames = extractor(waves, torch.tensor(lengths))
    for row, (single, single_frames) in enumerate(singles):
        t = int(single_frames[0])
        assert int(frames[row]) == t
        assert torch.allclose(batch[row, :, :, :t], single[0, :, :, :t], atol=1e-5)
        assert torch.all(batch[row, :, :, t:] == 0)


def test_stats_normalise_to_zero_mean_unit_std():
    extractor = FeatureExtractor(FeatureConfig())
    waves = torch.randn(6, 16000) * torch.linspace(0.1, 1, 6)[:, None]
    lengths = torch.tensor([16000] * 6)
    mean, std = compute_stats(extractor, [(waves[:3], lengths[:3]), (waves[3:], lengths[3:])])
    extractor.set_stats(mean, std)
    features, _ = extractor(waves, lengths)
    assert features.mean(dim=(0, 1, 3)).abs().max() < 1e-3
    assert (features.std(dim=(0, 1, 3)) - 1).abs().max() < 0.05


def test_specaugment_masks_in_training_only():
    augment = SpecAugment(SpecAugmentConfig(freq_masks=2, freq_mask_width=20, time_masks=2, time_mask_width=20))
    features = torch.ones(3, 1, 80, 200)
    augment.train()
    masked = augment(features)
    assert (masked == 0).any() and (masked == 1).any()
    assert not torch.equal(masked[0], masked[1])  # independent masks per utterance
    augment.eval()
    assert torch.equal(augment(features), features)


def test_utterance_mean_norm_removes_gain_and_matches_batched():
    extractor = FeatureExtractor(FeatureConfig(kind="mel", utterance_mean_norm=True))
    wave = torch.randn(8000)
    quiet, _ = extractor(0.1 * wave[None], torch.tensor([8000]))
    loud, _ = extractor(wave[None], torch.tensor([8000]))
    assert torch.allclose(quiet, loud, atol=1e-2)  # a gain is a constant offset in log-mel
    batch, _ = extractor(torch.stack([wave, torch.cat([wave[:4000], torch.zeros(4000)])]), torch.tensor([8000, 4000]))
    alone, frames = extractor(wave[None, :4000], torch.tensor([4000]))
    assert torch.allclose(batch[1, :, :, : int(frames[0])], alone[0], atol=1e-4)
