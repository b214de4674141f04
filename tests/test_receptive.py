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
    # strided stems (kernel = stride + 2), alone in one axis, with odd strides, and with a pool in the last block
    {"channels": [2, 3], "time_pool": [1, 2], "freq_pool": [2, 2], "convs_per_block": 2, "stem_stride": [2, 2]},
    {
        "channels": [3, 2],
        "time_pool": [2, 1],
        "freq_pool": [1, 2],
        "convs_per_block": 1,
        "stem_stride": [1, 3],
        "residual": True,
    },
    {
        "channels": [2, 2, 2],
        "time_pool": [1, 1, 2],
        "freq_pool": [2, 1, 1],
        "convs_per_block": 2,
        "stem_stride": [3, 1],
    },
]


def _name(geometry: dict) -> str:
    stem = "s{}x{}".format(*geometry["stem_stride"]) if "stem_stride" in geometry else ""
    return (
        stem
        + f"t{geometry['time_pool']}f{geometry['freq_pool']}x{geometry['convs_per_block']}"
        + ("res" if geometry.get("residual") else "")
    )


@pytest.mark.parametrize("geometry", CONFIGS, ids=_name)
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


@pytest.mark.parametrize("geometry", CONFIGS, ids=_name)
def test_receptive_radius_bounds_what_an_output_frame_sees(geometry):
    """ModelConfig.receptive_radius, which sets the context of chunked and streamed log-probs, against
    autograd: the input frames that reach output frame j lie within its own span of time_reduction
    frames widened by the radius on each side."""
    config = ModelConfig(input_bins=96, vocab_size=3, hidden_dim=4, channels_last=False, **geometry)
    model = DFCNN(config)
    reduction, radius = config.time_reduction, config.receptive_radius
    frames = 4 * (radius + reduction)
    last = layer_fields(config, FeatureConfig(kind="mel", n_mels=96))[-1]  # the last conv; then the last pool
    pool, frame = config.time_pool[-1], frames // reduction // 2
    unit_freq = 48 // last.freq.jump
    first = numerical_field(model, last.index, 96, frames, (unit_freq, frame * pool))[1]
    end = numerical_field(model, last.index, 96, frames, (unit_freq, frame * pool + pool - 1))[1]
    seen = (first[0], end[1])  # input frames [start, end) under output frame ``frame``
    assert 0 < seen[0] and seen[1] < frames  # not clipped by the input's edges
    assert frame * reduction - radius <= seen[0] and seen[1] <= (frame + 1) * reduction + radius, (seen, radius)


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


def test_a_stem_is_the_first_field():
    config = ModelConfig(input_bins=80, stem_stride=[2, 2], time_pool=[1, 2, 1, 1], freq_pool=[2, 2, 2, 1])
    fields = layer_fields(config, FeatureConfig(kind="mel"))
    assert [f.name for f in fields[:3]] == ["stem", "block1.conv1", "block1.conv2"]
    stem = fields[0]
    assert (stem.frames, stem.bins, stem.time.jump, stem.channels) == (4, 4, 2, 32)  # a 4x4 window every 2 cells
    assert stem.ms == pytest.approx(55.0)  # 3 hops + one 25 ms window
    assert fields[-1].time.jump == config.time_reduction == 4
