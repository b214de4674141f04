"""Receptive fields of the DFCNN's conv layers: which input frames x bins (ms x Hz) one unit can see.

    fields = layer_fields(model_config, feature_config)   # one LayerField per conv layer, input first
    fields[-1].frames, fields[-1].ms, fields[-1].hz_range(0)

A 3x3 conv (stride 1, padding 1) widens the field by one input step per side; a (freq, time) max-pool
multiplies the step (the "jump") by its size and widens the field by pool - 1 steps. With ``j`` the
jump, ``s`` the offset and ``r`` the size, unit ``i`` of a layer sees input cells [i * j + s, i * j + s + r):

    conv 3x3:   r += 2 j,        s -= j
    pool p:     r += (p - 1) j,  j *= p
    stem k:     r += (k - 1) j,  s -= j,  j *= k - 2   (the strided stem: kernel = stride + 2, padding 1)

BatchNorm, ReLU and the padding mask are per cell and change nothing. ``numerical_field`` measures the
same region with autograd; the tests check that the two agree for every layer.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..audio import SAMPLE_RATE
from ..features import FeatureConfig
from ..model import DFCNN, ModelConfig


@dataclass(frozen=True)
class Axis:
    """Geometry of one axis (time or frequency) of a layer's units, in input cells."""

    size: int  # r: input cells one unit sees
    jump: int  # j: input cells between neighbouring units
    offset: int  # s: first input cell seen by unit 0 (negative: it reaches into the zero padding)

    def span(self, index: int) -> tuple[int, int]:
        """Input cells [start, end) that unit ``index`` sees (not clipped to the input)."""
        start = index * self.jump + self.offset
        return start, start + self.size


@dataclass(frozen=True)
class LayerField:
    """Receptive field of one conv layer (conv -> BN -> ReLU) of a DFCNN."""

    name: str  # "block2.conv1": 1-based block and conv within it; "stem" for the strided stem
    index: int  # 1-based number of the conv layer in the whole network
    channels: int  # output channels of the layer
    time: Axis  # in input frames
    freq: Axis  # in input bins
    features: FeatureConfig  # the input's framing and frequency bands

    @property
    def frames(self) -> int:
        return self.time.size

    @property
    def bins(self) -> int:
        return self.freq.size

    @property
    def ms(self) -> float:
        """Milliseconds of audio under the field: frames - 1 hops plus one window."""
        return 1000.0 * ((self.frames - 1) * self.features.hop_length + self.features.win_length) / SAMPLE_RATE

    @property
    def step_ms(self) -> float:
        """Milliseconds between neighbouring units in time."""
        return 1000.0 * self.time.jump * self.features.hop_length / SAMPLE_RATE

    def hz_range(self, index: int) -> tuple[float, float]:
        """(low, high) Hz covered by unit ``index`` along frequency, clipped to the input's bands."""
        edges = band_edges(self.features)
        start, end = self.freq.span(index)
        start, end = max(start, 0), min(end, len(edges) - 1)
        return float(edges[start]), float(edges[end])

    def hz_widths(self) -> tuple[float, float]:
        """Hz width of the field at the bottom and at the top of the spectrum (equal for linear bins)."""
        bins = len(band_edges(self.features)) - 1
        if self.features.kind == "linear":
            width = min(self.freq.size, bins) * SAMPLE_RATE / self.features.n_fft
            return width, width
        first = -(self.freq.offset // self.freq.jump)  # first unit whose field starts inside the input: ceil(-s / j)
        last = (bins - self.freq.size - self.freq.offset) // self.freq.jump  # last unit ending inside it
        if last < first:  # the field is taller than the input: every unit sees all of it
            low, high = self.hz_range(0)
            return high - low, high - low
        low, high = self.hz_range(first), self.hz_range(last)
        return low[1] - low[0], high[1] - high[0]


def band_edges(features: FeatureConfig) -> np.ndarray:
    """(F + 1,) Hz edges of the input's frequency cells, as the pictures draw them.

    Linear: bin k is centred on k * 16000 / n_fft Hz (40 Hz apart), cells end half a bin either side
    (the lowest starts at 0 Hz). Mel: torchaudio's HTK bands from 0 to 8 kHz, centred on equally spaced
    mels; cells end halfway (in mel) between neighbouring centres.
    """
    bins = features.num_bins
    if features.kind == "linear":
        edges = (np.arange(bins + 1) - 0.5) * SAMPLE_RATE / features.n_fft
        return np.clip(edges, 0.0, None)
    top = 2595.0 * np.log10(1.0 + (SAMPLE_RATE / 2) / 700.0)  # HTK mel of 8 kHz
    step = top / (bins + 1)  # band m is centred on (m + 1) * step mels
    mels = (np.arange(bins + 1) + 0.5) * step
    return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)


def layer_fields(model: ModelConfig, features: FeatureConfig) -> list[LayerField]:
    """The receptive field of every conv layer, in network order."""
    fields = []
    time, freq = Axis(1, 1, 0), Axis(1, 1, 0)
    if model.has_stem:
        (freq_stride, time_stride), channels = model.stem_stride, model.channels[0]
        time = Axis(time_stride + 2, time_stride, -1)
        freq = Axis(freq_stride + 2, freq_stride, -1)
        fields.append(LayerField("stem", 1, channels, time, freq, features))
    for block, (channels, time_pool, freq_pool) in enumerate(zip(model.channels, model.time_pool, model.freq_pool), 1):
        for conv in range(1, model.convs_per_block + 1):
            time = Axis(time.size + 2 * time.jump, time.jump, time.offset - time.jump)
            freq = Axis(freq.size + 2 * freq.jump, freq.jump, freq.offset - freq.jump)
            fields.append(LayerField(f"block{block}.conv{conv}", len(fields) + 1, channels, time, freq, features))
        time = Axis(time.size + (time_pool - 1) * time.jump, time.jump * time_pool, time.offset)
        freq = Axis(freq.size + (freq_pool - 1) * freq.jump, freq.jump * freq_pool, freq.offset)
    return fields


def conv_layers(model: DFCNN) -> list[nn.Module]:
    """The conv -> BN -> ReLU modules of a DFCNN, in the order of ``layer_fields``."""
    stem = [] if model.stem is None else [model.stem.conv]
    return stem + [conv for block in model.blocks for conv in block.convs]


def numerical_field(
    model: DFCNN, layer: int, bins: int, frames: int, unit: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The input cells whose gradient is non-zero for one unit of one conv layer, measured by autograd.

    A max-pool passes gradient to one cell of its window only, and a ReLU none where it is off, so the
    measurement uses a copy of the model whose geometry is the same but whose every path is open: pools
    average over the same windows with the same strides, conv weights are made positive, BatchNorm is
    the identity (a fresh model in eval mode) and the input is positive, so no ReLU is ever off.

    Args:
        layer: 1-based conv layer number (``LayerField.index``).
        bins, frames: input size (F, T); choose it so the field of ``unit`` stays inside.
        unit: (frequency, time) index of the unit in the layer's output.
    Returns:
        ((first bin, end bin), (first frame, end frame)), half-open, of the non-zero gradient; the
        region is checked to be a full rectangle.
    """
    probe = copy.deepcopy(model).eval()
    for conv in conv_layers(probe):
        conv[0].weight.data.abs_().add_(0.01)
        conv[1].reset_running_stats()
        conv[1].reset_parameters()
    for block in probe.blocks:
        if isinstance(block.pool, nn.MaxPool2d):
            block.pool = nn.AvgPool2d(block.pool.kernel_size, block.pool.stride)
        if isinstance(block.shortcut, nn.Sequential):  # residual 1x1 projection: positive too
            block.shortcut[0].weight.data.abs_().add_(0.01)
            block.shortcut[1].reset_running_stats()
            block.shortcut[1].reset_parameters()
    captured = {}
    hook = conv_layers(probe)[layer - 1].register_forward_hook(lambda module, args, output: captured.update(out=output))
    features = (torch.rand(1, 1, bins, frames) + 0.5).requires_grad_(True)  # (1, 1, F, T), positive
    try:
        probe(features, torch.tensor([frames]))
    finally:
        hook.remove()
    captured["out"][0, :, unit[0], unit[1]].sum().backward()  # all channels: no channel can hide a cell
    nonzero = features.grad[0, 0] != 0  # (F, T)
    rows = nonzero.any(dim=1).nonzero().squeeze(1)
    cols = nonzero.any(dim=0).nonzero().squeeze(1)
    box = ((int(rows[0]), int(rows[-1]) + 1), (int(cols[0]), int(cols[-1]) + 1))
    if not nonzero[box[0][0] : box[0][1], box[1][0] : box[1][1]].all():
        raise AssertionError(f"layer {layer}: the non-zero gradient is not a rectangle")
    return box
