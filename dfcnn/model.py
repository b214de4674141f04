"""The DFCNN: a spectrogram read as an image by stacked 3x3 convolutions and poolings, then a
per-frame head to CTC log-probabilities.

    features (B, 1, F, T) [--stem-->] --blocks--> (B, C, F', T') --head--> log-probs (B, T', V)

An optional stem (``stem_stride`` other than [1, 1]) is one strided conv -> BatchNorm -> ReLU that
downsamples the spectrogram before the first block, so the first block's convolutions, the most
numerous cells of the network, run on fewer frames and bins. Its kernel is its stride plus one cell
either side (a (s_f + 2) x (s_t + 2) window, padding 1), so it keeps exactly ``F // s_f`` bins and
``T // s_t`` frames, as a pooling of the same size would: the output-length arithmetic stays a floor.
Each block is ``convs_per_block`` x [3x3 conv -> BatchNorm -> ReLU] then a (freq, time) max-pool;
with ``residual`` the block's input is added to its last conv's output before the pool (ResNet's
shortcut; a 1x1 conv + BatchNorm where the channel count changes).
Padded frames are zeroed after every layer, so a 3x3 kernel at an utterance's end sees the same
zeros it would see if the utterance were alone: in eval mode, results do not depend on what else is
in the batch. No input length cap anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .errors import ConfigError, check_field


@dataclass
class ModelConfig:
    input_bins: int = 200  # F: frequency bins of the input image (set from the feature config)
    vocab_size: int = 0  # V: CTC outputs, blank included (set from the vocabulary)
    channels: list[int] = field(default_factory=lambda: [32, 64, 128, 128])  # conv channels per block
    convs_per_block: int = 2  # 3x3 conv + BN + ReLU layers in each block
    time_pool: list[int] = field(default_factory=lambda: [2, 2, 1, 1])  # time pooling per block: 4x, 40 ms frames
    freq_pool: list[int] = field(default_factory=lambda: [2, 2, 2, 2])  # frequency pooling per block
    hidden_dim: int = 256  # width of the per-frame hidden layer of the head
    dropout: float = 0.1  # dropout before the output layer
    residual: bool = False  # add each block's input (1x1 conv + BN where channels change) to its conv output
    channels_last: bool = True  # NHWC memory layout: faster convolutions on CPU (oneDNN) and tensor cores
    # (freq, time) stride of a conv -> BN -> ReLU with channels[0] outputs before the first block; [1, 1] = no stem
    stem_stride: list[int] = field(default_factory=lambda: [1, 1])

    def __post_init__(self):
        blocks = len(self.channels)
        check_field(
            blocks > 0 and len(self.time_pool) == blocks and len(self.freq_pool) == blocks,
            "channels",
            f"time_pool and freq_pool need one entry per block (got {len(self.channels)}, {len(self.time_pool)}, "
            f"{len(self.freq_pool)})",
        )
        check_field(min(self.channels) >= 1, "channels", f"must all be positive, got {self.channels}")
        check_field(min(self.time_pool) >= 1, "time_pool", f"must all be >= 1, got {self.time_pool}")
        check_field(min(self.freq_pool) >= 1, "freq_pool", f"must all be >= 1, got {self.freq_pool}")
        check_field(self.convs_per_block >= 1, "convs_per_block", f"must be >= 1, got {self.convs_per_block}")
        check_field(self.hidden_dim >= 1, "hidden_dim", f"must be >= 1, got {self.hidden_dim}")
        check_field(0 <= self.dropout < 1, "dropout", f"must lie in [0, 1), got {self.dropout}")
        check_field(self.input_bins >= 1, "input_bins", f"must be >= 1, got {self.input_bins}")
        check_field(
            len(self.stem_stride) == 2 and min(self.stem_stride) >= 1,
            "stem_stride",
            f"must be [freq, time] strides >= 1, got {self.stem_stride}",
        )

    @property
    def has_stem(self) -> bool:
        return list(self.stem_stride) != [1, 1]

    @property
    def time_reduction(self) -> int:
        reduction = self.stem_stride[1]
        for pool in self.time_pool:
            reduction *= pool
        return reduction

    @property
    def receptive_radius(self) -> int:
        """Input frames beyond either edge of an output frame's own span that can change it (an upper bound)."""
        # the stem's window reaches one frame past its own stride on each side, then the blocks count in its frames
        radius, scale = (1, self.stem_stride[1]) if self.has_stem else (0, 1)
        for pool in self.time_pool:
            radius += self.convs_per_block * scale  # each 3x3 conv reaches one frame further per side
            radius += (pool - 1) * scale  # a pooling window reaches pool - 1 frames past its first
            scale *= pool
        return radius

    @property
    def output_bins(self) -> int:
        """F': frequency size after the blocks."""
        bins = self.input_bins // self.stem_stride[0]
        for pool in self.freq_pool:
            bins //= pool
        if bins < 1:
            raise ConfigError(f"model.freq_pool reduces {self.input_bins} frequency bins to nothing")
        return bins


def _time_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """(B,) lengths -> (B, 1, 1, T) float mask of valid frames."""
    valid = torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]
    return valid[:, None, None, :].float()


class ConvBlock(nn.Module):
    """[3x3 conv -> BN -> ReLU] x n (+ shortcut), then max-pool; padded frames zeroed after each layer."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_convs: int,
        freq_pool: int,
        time_pool: int,
        residual: bool = False,
    ):
        super().__init__()
        self.convs = nn.ModuleList()
        for index in range(num_convs):
            self.convs.append(
                nn.Sequential(
                    nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3, padding=1, bias=False),
                    nn.BatchNorm2d(out_channels),
                    nn.ReLU(inplace=True),
                )
            )
        self.shortcut = None
        if residual:
            self.shortcut = (
                nn.Identity()
                if in_channels == out_channels
                else nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
            )
        self.time_pool = time_pool
        self.pool = nn.MaxPool2d((freq_pool, time_pool)) if freq_pool * time_pool > 1 else nn.Identity()

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, C_in, F, T), (B,) -> (B, C_out, F // freq_pool, T // time_pool), (B,).

        ``lengths`` None: every frame is valid, nothing to mask (see ``DFCNN.forward``)."""
        mask = None if lengths is None else _time_mask(lengths, x.shape[-1])
        block_input = x
        for conv in self.convs:
            x = _masked(conv(x), mask)
        if self.shortcut is not None:
            x = x + _masked(self.shortcut(block_input), mask)
        x = self.pool(x)
        if lengths is None:
            return x, None
        lengths = lengths // self.time_pool
        return x * _time_mask(lengths, x.shape[-1]), lengths


class Stem(nn.Module):
    """One strided conv -> BN -> ReLU, kernel = stride + 2 (padding 1): (B, 1, F, T) -> (B, C, F // s_f, T // s_t)."""

    def __init__(self, out_channels: int, stride: list[int]):
        super().__init__()
        freq, time = stride
        self.conv = nn.Sequential(
            nn.Conv2d(1, out_channels, (freq + 2, time + 2), stride=(freq, time), padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )
        self.time_pool = time  # the time reduction, named as ConvBlock's for ``DFCNN.output_lengths``

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, 1, F, T), (B,) -> (B, C, F // s_f, T // s_t), (B,); frames past a length zeroed."""
        x = self.conv(x)
        if lengths is None:
            return x, None
        lengths = lengths // self.time_pool
        return x * _time_mask(lengths, x.shape[-1]), lengths


def _masked(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return x if mask is None else x * mask


class DFCNN(nn.Module):
    """Deep fully convolutional network for CTC speech recognition. Returns log-probs only."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.vocab_size < 2:
            raise ConfigError(f"model.vocab_size must be at least 2 (blank + one token), got {config.vocab_size}")
        self.config = config
        self.stem = Stem(config.channels[0], config.stem_stride) if config.has_stem else None
        blocks, in_channels = [], config.channels[0] if config.has_stem else 1
        for channels, time_pool, freq_pool in zip(config.channels, config.time_pool, config.freq_pool):
            blocks.append(
                ConvBlock(in_channels, channels, config.convs_per_block, freq_pool, time_pool, config.residual)
            )
            in_channels = channels
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(
            nn.Linear(in_channels * config.output_bins, config.hidden_dim),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden_dim, config.vocab_size),
        )
        if config.channels_last:
            self.blocks.to(memory_format=torch.channels_last)
            if self.stem is not None:
                self.stem.to(memory_format=torch.channels_last)

    def output_lengths(self, frame_lengths: torch.Tensor) -> torch.Tensor:
        """Output frames for input frame counts, derived from the stem's stride and each block's pooling (floor)."""
        if self.stem is not None:
            frame_lengths = frame_lengths // self.stem.time_pool
        for block in self.blocks:
            frame_lengths = frame_lengths // block.time_pool
        return frame_lengths

    def forward(self, features: torch.Tensor, frame_lengths: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            features: (B, 1, F, T) normalised log spectrograms, zero past each length.
            frame_lengths: (B,) valid frames per utterance; None when every utterance fills all T
                frames (one utterance, or equal lengths): then nothing is padded or masked, since a
                conv's own zero padding at the edge is the mask and a floor-mode pooling keeps exactly
                ``output_lengths`` frames. Same result, less work: the exported graphs use it.
        Returns:
            log_probs (B, T', V) float32, T' = max(output_lengths) (frames past a length hold garbage) and
            output_lengths (B,) = ``output_lengths(frame_lengths)``.
        """
        if not torch.jit.is_tracing() and features.shape[2] != self.config.input_bins:  # (export traces shapes)
            raise ValueError(f"expected {self.config.input_bins} frequency bins, got {features.shape[2]}")
        x, lengths = features, frame_lengths
        if lengths is not None:
            padding = -features.shape[-1] % self.config.time_reduction  # zero frames so every pooling has whole windows
            x = nn.functional.pad(features, (0, padding))
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.stem is not None:
            x, lengths = self.stem(x, lengths)  # (B, C0, F // s_f, T // s_t)
        for block in self.blocks:
            x, lengths = block(x, lengths)  # (B, C, F', T')
        batch, channels, bins, frames = x.shape
        x = x.permute(0, 3, 1, 2).reshape(batch, frames, channels * bins)  # (B, T', C * F')
        if lengths is None:
            logits = self.head(x)  # (B, T', V)
            lengths = torch.full((batch,), frames, dtype=torch.long, device=x.device)
        else:
            logits = self.head(x[:, : lengths.max()])  # (B, T', V), T' = longest output (a tensor bound: traceable)
        return torch.log_softmax(logits.float(), dim=-1), lengths
