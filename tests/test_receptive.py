"""Receptive fields: the layer geometry of dfcnn.viz.receptive against autograd, and the ms x Hz units."""

import pytest

from dfcnn.features import FeatureConfig
from dfcnn.model import DFCNN, ModelConfig
from dfcnn.viz.receptive import band_edges, layer_fields, numerical_field

CONFIGS = [
    {"channels": [2, 3], "time_pool": [2, 2], "freq_pool": [2, 2], "convs_per_block": 1},
    {"channels": [2, 3, 4], "time_pool": [2, 1, 3], "freq_pool": [4, 2, 1], "convs_per_block": 2},
    {
        "channels": [2, 2, 2, 2],
        "time_pool": [2, 2, 1, 1],
        "freq_pool": [2, 2, 2, 2],
        "convs_per_block": 2,
    },  # the default geometry
    {"channels": [3], "time_pool": [1], "freq_pool": [3], "convs_per_block": 3},
    {"channels": [2, 2, 3], "time_pool": [2, 2, 1], "freq_pool": [2, 2, 2], "convs_per_block": 2, "residual": True},
]


@pytest.mark.parametrize(
    "geometry",
    CONFIGS,
    ids=lambda g: f"t{g['time_pool']}f{g['freq_pool']}x{g['convs_per_block']}" + ("res" if g.get("residual") else ""),
)
def test_analytic_field_equals_the_gradient_region(geometry):
    config = ModelConfig(input_bins=96, vocab_size=3, hidden_dim=4, channels_last=False, **geometry)
    model = DFCNN(config)
    frames = 96
    for field in layer_fields(config, FeatureConfig(kind="mel", n_mels=96)):
        # a unit near the middle of the layer's output, so no edge clips its field
        unit = (48 // field.freq.jump, 48 // field.time.jump)
        measured = numerical_field(model, field.index, 96, frames, unit)
        expected = (field.freq.span(unit[0]), field.time.span(unit[1]))
        assert measured == expected, f"{field.name}: autograd {measured}, geometry {expected}"


def test_default_model_fields_in_frames_ms_and_hz():
    fields = layer_fields(ModelConfig(), FeatureConfig())  # 200 linear bins, 25 ms windows, 10 ms hop
    assert [f.name for f in fields[:3]] == ["block1.conv1", "block1.conv2", "block2.conv1"]
    first, last = fields[0], fields[-1]
    assert (first.frames, first.bins, first.channels) == (3, 3, 32)
    assert first.ms == pytest.approx(45.0)  # 2 hops + one 25 ms window
    assert first.hz_widths() == pytest.approx((120.0, 120.0))  # 3 bins of 40 Hz
    # 4 blocks of 2 convs, time pools 2-2-1-1: 1 + 2*2*(1 + 2 + 4 + 4) + 1 + 2 = 48 frames
    assert last.frames == 48 and last.time.jump == 4 and last.step_ms == pytest.approx(40.0)
    assert last.frames <= ModelConfig().time_reduction + 2 * ModelConfig().receptive_radius


def test_mel_fields_widen_with_frequency():
    fields = layer_fields(ModelConfig(input_bins=80), FeatureConfig(kind="mel"))
    bottom, top = fields[2].hz_widths()
    assert 0 < bottom < top
    edges = band_edges(FeatureConfig(kind="mel"))
    assert len(edges) == 81 and edges[0] > 0 and edges[-1] < 8000 and (edges[1:] > edges[:-1]).all()
    assert fields[0].hz_range(0)[0] == pytest.approx(edges[0])  # the zero padding below bin 0 adds no Hz
