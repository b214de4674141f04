"""Features: waveforms -> normalised log spectrogram "images" (B, 1, F, T), and SpecAugment.

DFCNN reads a linear log spectrogram: 25 ms Hamming windows every 10 ms, 200 frequency bins,
log(1 + |X|). Log-mel is an option. Frames only see their own samples (no centring, no padding of
the signal), so a padded batch gives every utterance exactly the frames it gets alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .audio import SAMPLE_RATE
from .errors import ConfigError, check_field
from .versions import load_torchaudio

FEATURE_KINDS = ("linear", "mel")
MAX_FRAME_MS = 1000.0  # a window or hop of a second is far past any speech feature (25 and 10 ms here)


@dataclass
class FeatureConfig:
    kind: str = "linear"  # "linear": DFCNN's log spectrogram; "mel": log-mel filterbank
    win_ms: float = 25.0  # analysis window length (Hamming)
    hop_ms: float = 10.0  # frame shift: 100 frames per second
    n_linear_bins: int = 200  # "linear": lowest bins kept of n_fft // 2 + 1 (400-point FFT: 201 -> 200, 0..7960 Hz)
    n_mels: int = 80  # "mel": number of mel bands
    utterance_mean_norm: bool = False  # subtract each utterance's own mean per bin (removes level and channel)

    def __post_init__(self):
        check_field(self.kind in FEATURE_KINDS, "kind", f"must be one of {', '.join(FEATURE_KINDS)}, got {self.kind!r}")
        for name in ("win_ms", "hop_ms"):
            value = getattr(self, name)
            check_field(
                math.isfinite(value) and value * SAMPLE_RATE / 1000 >= 1 and value <= MAX_FRAME_MS,
                name,
                f"must be a positive number of milliseconds (at least one sample, at most {MAX_FRAME_MS:g}), "
                f"got {value}",
            )
        check_field(
            1 <= self.n_linear_bins <= self.n_fft // 2 + 1,
            "n_linear_bins",
            f"must lie in [1, {self.n_fft // 2 + 1}] (n_fft // 2 + 1), got {self.n_linear_bins}",
        )
        check_field(
            1 <= self.n_mels <= self.n_fft // 2 + 1,
            "n_mels",
            f"must lie in [1, {self.n_fft // 2 + 1}] (more bands than FFT bins leaves some empty), got {self.n_mels}",
        )

    @property
    def win_length(self) -> int:
        return round(SAMPLE_RATE * self.win_ms / 1000)  # 400 samples

    @property
    def hop_length(self) -> int:
        return round(SAMPLE_RATE * self.hop_ms / 1000)  # 160 samples

    @property
    def n_fft(self) -> int:
        return self.win_length

    @property
    def num_bins(self) -> int:
        """F: the frequency size of the feature image."""
        return self.n_mels if self.kind == "mel" else self.n_linear_bins

    def num_frames(self, num_samples: torch.Tensor | int) -> torch.Tensor | int:
        """Frames of a signal: 1 + (N - win) // hop; a signal shorter than one window gets one frame."""
        if isinstance(num_samples, torch.Tensor):
            return 1 + torch.clamp(num_samples - self.win_length, min=0) // self.hop_length
        return 1 + max(0, num_samples - self.win_length) // self.hop_length


@dataclass
class SpecAugmentConfig:
    freq_masks: int = 2  # frequency masks per utterance
    freq_mask_width: int = 27  # widest frequency mask, in bins
    time_masks: int = 2  # time masks per utterance
    time_mask_width: int = 40  # widest time mask, in frames
    time_mask_max_ratio: float = 0.2  # a time mask covers at most this share of the utterance

    def __post_init__(self):
        for name in ("freq_masks", "freq_mask_width", "time_masks", "time_mask_width"):
            check_field(getattr(self, name) >= 0, name, f"must be >= 0, got {getattr(self, name)}")
        check_field(
            0 <= self.time_mask_max_ratio <= 1,
            "time_mask_max_ratio",
            f"must lie in [0, 1], got {self.time_mask_max_ratio}",
        )


def _frame_mask(frame_lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """(B,) lengths -> (B, T) bool, True on real frames."""
    return torch.arange(frames, device=frame_lengths.device)[None, :] < frame_lengths[:, None]


class FeatureExtractor(nn.Module):
    """Waveforms -> normalised log spectrograms.

    Normalisation uses global per-bin mean and standard deviation (``set_stats``), computed from the
    training data once and stored in the checkpoint as buffers.
    """

    def __init__(self, config: FeatureConfig):
        super().__init__()
        self.config = config
        torchaudio = load_torchaudio()
        common = dict(
            n_fft=config.n_fft,
            win_length=config.win_length,
            hop_length=config.hop_length,
            window_fn=torch.hamming_window,
            center=False,
        )
        if config.kind == "linear":
            self.transform = torchaudio.transforms.Spectrogram(power=1.0, **common)
        else:
            self.transform = torchaudio.transforms.MelSpectrogram(
                sample_rate=SAMPLE_RATE, n_mels=config.n_mels, power=2.0, **common
            )
        self.register_buffer("mean", torch.zeros(config.num_bins))
        self.register_buffer("std", torch.ones(config.num_bins))

    def set_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std.clamp(min=1e-5))

    def log_spectrogram(self, waves: torch.Tensor, wave_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features before the global normalisation (after the per-utterance one, if configured).

        Args:
            waves: (B, N) float32 at 16 kHz, zero-padded. wave_lengths: (B,) samples.
        Returns:
            features (B, F, T) and frame lengths (B,); frames past an utterance's length are zero.
        """
        if waves.shape[-1] < self.config.win_length:
            waves = nn.functional.pad(waves, (0, self.config.win_length - waves.shape[-1]))
        with torch.autocast(waves.device.type, enabled=False):
            spec = self.transform(waves.float())  # (B, n_fft//2+1 or n_mels, T)
        if self.config.kind == "linear":
            features = torch.log1p(spec[:, : self.config.n_linear_bins])
        else:
            features = torch.log(spec + 1e-6)
        frame_lengths = self.config.num_frames(wave_lengths)
        mask = _frame_mask(frame_lengths, features.shape[-1])
        features = features * mask[:, None, :]
        if self.config.utterance_mean_norm:
            utterance_mean = features.sum(dim=-1, keepdim=True) / frame_lengths[:, None, None]  # (B, F, 1)
            features = (features - utterance_mean) * mask[:, None, :]
        return features, frame_lengths

    def forward(self, waves: torch.Tensor, wave_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) waves -> (B, 1, F, T) normalised features (zero past each length), (B,) frame lengths."""
        features, frame_lengths = self.log_spectrogram(waves, wave_lengths)
        mask = _frame_mask(frame_lengths, features.shape[-1])
        features = (features - self.mean[:, None]) / self.std[:, None] * mask[:, None, :]
        return features.unsqueeze(1), frame_lengths


class SpecAugment(nn.Module):
    """Frequency and time masking (torchaudio), independent per utterance; active in training only."""

    def __init__(self, config: SpecAugmentConfig):
        super().__init__()
        self.config = config
        torchaudio = load_torchaudio()
        self.freq_mask = torchaudio.transforms.FrequencyMasking(config.freq_mask_width, iid_masks=True)
        self.time_mask = torchaudio.transforms.TimeMasking(
            config.time_mask_width, iid_masks=True, p=config.time_mask_max_ratio
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, 1, F, T) -> (B, 1, F, T); masked cells are set to 0, the normalised mean."""
        if not self.training:
            return features
        for _ in range(self.config.freq_masks):
            features = self.freq_mask(features)
        for _ in range(self.config.time_masks):
            features = self.time_mask(features)
        return features


@torch.no_grad()
def compute_stats(
    extractor: FeatureExtractor, batches, max_frames: int = 2_000_000
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-bin mean and standard deviation of the log spectrogram over real (unpadded) frames.

    Args:
        batches: iterable of (waves (B, N), wave_lengths (B,)).
        max_frames: stop after this many frames (about 5.5 hours at 100 frames/s) - plenty for stats.
    Returns:
        mean (F,), std (F,).
    """
    total = None
    count = 0
    for waves, wave_lengths in batches:
        features, frame_lengths = extractor.log_spectrogram(waves, wave_lengths)  # padded frames are 0
        summed = features.double().sum(dim=(0, 2))
        squared = (features.double() ** 2).sum(dim=(0, 2))
        total = (summed, squared) if total is None else (total[0] + summed, total[1] + squared)
        count += int(frame_lengths.sum())
        if count >= max_frames:
            break
    if total is None or count == 0:
        raise ConfigError("no audio to compute feature statistics from")
    mean = total[0] / count
    std = (total[1] / count - mean**2).clamp(min=0).sqrt()
    return mean.float(), std.float()
