"""Seeing inside a trained DFCNN: activation maps, first-layer filters, receptive fields and the CTC
posteriorgram of one file (``channel.py`` has the patches that most excite one channel across a data
set).

    dfcnn inspect --model exp/best.pt speech.flac --out inspect/speech            # -> inspect/speech/index.html
    dfcnn inspect-channel --model exp/best.pt --manifest data/test.jsonl --layer 3 --channel 5
    dfcnn report --eval exp/eval-test --metrics exp/metrics.jsonl --out exp/report

Every picture with a time axis uses ``frame_edges``: a unit of any layer is drawn over the input frames
it steps across, so activation maps, spectrogram and posteriorgram line up when read down the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..align import align_tokens, words_from_spans
from ..audio import SAMPLE_RATE, load_audio
from ..decode import build_decoder
from ..inference import Recognizer
from ..text import BLANK, WORD_SEPARATOR
from .html import (
    FIG_WIDTH,
    Page,
    draw_image,
    frame_edges,
    stacked_figure,
    time_axis,
    write_wav,
)
from .receptive import LayerField, band_edges, conv_layers, layer_fields


@dataclass
class Inspection:
    """One utterance run through the network, with what every conv layer made of it."""

    wave: np.ndarray  # (N,) float32, 16 kHz
    features: np.ndarray  # (F, T) the normalised input image
    activations: list[np.ndarray]  # per conv layer (C, F_l, T_l), valid frames only
    log_probs: torch.Tensor  # (T', V) CPU
    fields: list[LayerField]  # receptive field per conv layer

    @property
    def seconds(self) -> float:
        return len(self.wave) / SAMPLE_RATE


@torch.no_grad()
def run_network(recognizer: Recognizer, wave: np.ndarray, layers: list[int] | None = None) -> Inspection:
    """Forward one waveform, capturing the output (after ReLU) of the conv layers with forward hooks.

    Args:
        layers: 1-based conv layer numbers to keep (default: all; others are left as empty arrays).
    """
    model, extractor = recognizer.model, recognizer.features
    fields = layer_fields(model.config, extractor.config)
    wanted = set(layers or range(1, len(fields) + 1))
    outputs: dict[int, torch.Tensor] = {}
    hooks = [
        layer.register_forward_hook(lambda module, args, out, index=index: outputs.__setitem__(index, out[0]))
        for index, layer in enumerate(conv_layers(model), 1)
        if index in wanted
    ]
    try:
        waves = torch.from_numpy(wave)[None].to(recognizer.device)
        features, frame_lengths = extractor(waves, torch.tensor([len(wave)], device=recognizer.device))
        log_probs, lengths = model(features, frame_lengths)
    finally:
        for hook in hooks:
            hook.remove()
    frames = int(frame_lengths[0])
    activations = []
    for field in fields:  # (C, F_l, T_l): drop the frames the model padded to whole pooling windows
        out = outputs.get(field.index)
        activations.append(
            np.zeros((0, 0, 0)) if out is None else out[..., : frames // field.time.jump].float().cpu().numpy()
        )
    return Inspection(
        wave,
        features[0, 0, :, :frames].float().cpu().numpy(),
        activations,
        log_probs[0, : int(lengths[0])].float().cpu(),
        fields,
    )


def _time_edges(ins: Inspection, frames: int, jump: int) -> np.ndarray:
    config = ins.fields[0].features
    return frame_edges(frames, jump, config.hop_length, config.win_length)


def _spectrogram(ins: Inspection, ax, bar, title: str):
    config = ins.fields[0].features
    limit = float(np.percentile(np.abs(ins.features), 99))
    mesh = draw_image(
        ax,
        ins.features,
        _time_edges(ins, ins.features.shape[1], 1),
        band_edges(config),
        config.kind == "mel",
        cmap="magma",
        vmin=-limit,
        vmax=limit,
    )
    ax.figure.colorbar(mesh, cax=bar, label="std. devs")
    ax.set_title(title, loc="left", fontsize=10)
    time_axis(ax, ins.seconds)


def input_figure(ins: Inspection, name: str):
    """Waveform above the network's input image, on one time axis."""
    import librosa.display

    fig, (wave_ax, spec_ax), (wave_bar, spec_bar) = stacked_figure([1.6, 3.4])
    librosa.display.waveshow(ins.wave, sr=SAMPLE_RATE, ax=wave_ax, color="tab:blue")
    wave_ax.set_title(f"{name}: waveform", loc="left", fontsize=10)
    wave_ax.set_ylabel("amplitude")
    wave_ax.set_xlabel("")
    wave_bar.set_visible(False)
    kind = ins.fields[0].features.kind
    _spectrogram(
        ins,
        spec_ax,
        spec_bar,
        f"network input: {'log-mel' if kind == 'mel' else 'log'} spectrogram, "
        f"normalised per band ({ins.features.shape[0]} bands x {ins.features.shape[1]} frames of 10 ms)",
    )
    time_axis(wave_ax, ins.seconds)
    return fig


def _unit_edges(ins: Inspection, field: LayerField, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Seconds and Hz edges of a layer's (F_l, T_l) units: each over the input cells it steps across."""
    edges = band_edges(field.features)
    hz = edges[np.minimum(np.arange(shape[0] + 1) * field.freq.jump, len(edges) - 1)]
    return _time_edges(ins, shape[1], field.time.jump), hz


def _field_box(ax, ins: Inspection, field: LayerField, unit: tuple[int, int], **style) -> None:
    """Outline on ``ax`` (seconds x Hz) the input region unit (f, t) of ``field`` sees."""
    from matplotlib.patches import Rectangle

    start, end = field.time.span(unit[1])
    edges = _time_edges(ins, ins.features.shape[1], 1)
    t0, t1 = edges[max(start, 0)], edges[min(end, ins.features.shape[1])]
    low, high = field.hz_range(unit[0])
    ax.add_patch(Rectangle((t0, low), t1 - t0, high - low, fill=False, **style))


def layer_figure(ins: Inspection, layer: int, channels: list[int]):
    """Spectrogram with one unit's receptive field, then the activation maps of ``channels``."""
    from matplotlib.patches import Rectangle

    field = ins.fields[layer - 1]
    maps = ins.activations[layer - 1]
    fig, axes, bars = stacked_figure([2.2] + [1.9] * len(channels))
    strongest = maps[channels[0]]
    unit = np.unravel_index(int(np.argmax(strongest)), strongest.shape) if strongest.size else (0, 0)
    _spectrogram(
        ins,
        axes[0],
        bars[0],
        f"input; box: what one unit of layer {layer} sees "
        f"({field.frames} frames x {field.bins} bands = {field.ms:.0f} ms), "
        f"at channel {channels[0]}'s peak (cyan cell below)",
    )
    _field_box(axes[0], ins, field, unit, edgecolor="cyan", linewidth=2)
    for ax, bar, channel in zip(axes[1:], bars[1:], channels):
        data = maps[channel]
        time_edges, hz_edges = _unit_edges(ins, field, data.shape)
        mesh = draw_image(
            ax,
            data,
            time_edges,
            hz_edges,
            field.features.kind == "mel",
            cmap="viridis",
            vmin=0,
            vmax=max(float(data.max()), 1e-6),
        )
        fig.colorbar(mesh, cax=bar, label="activation")
        ax.set_title(
            f"layer {layer} ({field.name}) channel {channel}: mean {data.mean():.2f}, peak {data.max():.2f}",
            loc="left",
            fontsize=10,
        )
        time_axis(ax, ins.seconds)
        peak = np.unravel_index(int(np.argmax(data)), data.shape)
        ax.add_patch(
            Rectangle(
                (time_edges[peak[1]], hz_edges[peak[0]]),
                time_edges[peak[1] + 1] - time_edges[peak[1]],
                hz_edges[peak[0] + 1] - hz_edges[peak[0]],
                fill=False,
                edgecolor="cyan",
                linewidth=1.5,
            )
        )
    for ax in axes[:-1]:
        ax.set_xlabel("")
    return fig


def filters_figure(recognizer: Recognizer):
    """The first conv layer's kernels (3x3, or the stem's; time across, frequency up) on one symmetric colour scale."""
    import matplotlib.pyplot as plt

    first = conv_layers(recognizer.model)[0][0]
    weights = first.weight.detach().float().cpu().numpy()[:, 0]  # (C, kF, kT): 3x3, or the stem's stride + 2
    columns = min(16, len(weights))
    rows = -(-len(weights) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(FIG_WIDTH, 0.85 * rows + 0.9), squeeze=False)
    limit = float(np.abs(weights).max())
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index >= len(weights):
            ax.set_visible(False)
            continue
        image = ax.imshow(weights[index], origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"ch {index}", fontsize=9)
    fig.subplots_adjust(left=0.02, right=0.9, top=1 - 0.5 / (0.85 * rows + 0.9), bottom=0.05, wspace=0.15, hspace=0.4)
    fig.colorbar(image, cax=fig.add_axes((0.92, 0.1, 0.012, 0.75)), label="weight")
    fig.suptitle(
        "layer 1 filters: each spans 3 frames (10 ms apart, left to right) x 3 bands (low to high)",
        x=0.02,
        ha="left",
        fontsize=10,
    )
    return fig


def _spans_and_words(recognizer: Recognizer, ins: Inspection, tokens: list[int]):
    """CTC forced alignment of ``tokens``, and its words timed on the pictures' time axis."""
    spans = align_tokens(ins.log_probs, tokens)
    edges = _time_edges(ins, ins.log_probs.shape[0], recognizer.model.config.time_reduction)
    words = words_from_spans(spans, recognizer.tokenizer, recognizer.frame_seconds, offset_seconds=float(edges[0]))
    return spans, words, edges


def posteriorgram_figure(recognizer: Recognizer, ins: Inspection):
    """P(blank) over time, then P(token) for every other token that shows up; greedy path and forced
    alignment marked; the aligned characters and words written under the time axis."""
    tokenizer = recognizer.tokenizer
    probs = ins.log_probs.exp().numpy().T  # (V, T')
    shown = [v for v in range(1, len(tokenizer)) if probs[v].max() >= 0.02][:48] or [1]
    hypothesis = build_decoder(tokenizer).best(ins.log_probs[None], torch.tensor([probs.shape[1]]))[0]
    spans, words, edges = _spans_and_words(recognizer, ins, hypothesis.tokens)
    fig, (blank_ax, ax), (blank_bar, bar) = stacked_figure([1.5, 0.22 * len(shown) + 1.0], below=0.9)
    centres = (edges[:-1] + edges[1:]) / 2
    blank_ax.fill_between(centres, probs[0], color="0.6", step="mid")
    blank_ax.set_ylim(0, 1)
    blank_ax.set_ylabel(f"P({BLANK})")
    blank_ax.set_title("CTC output: the blank (top) says 'nothing new here'; tokens below", loc="left", fontsize=10)
    blank_bar.set_visible(False)
    mesh = ax.pcolormesh(edges, np.arange(len(shown) + 1) - 0.5, probs[shown], cmap="Greys", vmin=0, vmax=1)
    fig.colorbar(mesh, cax=bar, label="probability")
    labels = ["␣ (space)" if tokenizer.tokens[v] == WORD_SEPARATOR else tokenizer.tokens[v] for v in shown]
    ax.set_yticks(range(len(shown)), labels, fontsize=8)
    rows = {v: row for row, v in enumerate(shown)}
    best = probs.argmax(axis=0)
    path = [(centres[t], rows[v]) for t, v in enumerate(best) if v in rows]
    if path:
        ax.scatter(*zip(*path), s=14, facecolors="none", edgecolors="tab:orange", label="greedy path (argmax)")
    from matplotlib.patches import Rectangle

    for span in spans:
        if span.token in rows:
            ax.add_patch(
                Rectangle(
                    (edges[span.start], rows[span.token] - 0.5),
                    edges[span.end] - edges[span.start],
                    1,
                    fill=False,
                    edgecolor="tab:red",
                    linewidth=1.5,
                )
            )
    ax.plot([], [], color="tab:red", label="forced alignment of the decoded text")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    time_axis(ax, ins.seconds)
    transform = ax.get_xaxis_transform()  # x in seconds, y in axes fractions; text offset in points below
    for span in spans:
        token = tokenizer.tokens[span.token]
        ax.annotate(
            "␣" if token == WORD_SEPARATOR else token,
            ((edges[span.start] + edges[span.end]) / 2, 0),
            xycoords=transform,
            xytext=(0, -17),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=9,
            color="tab:red",
        )
    for word in words:
        ax.annotate(
            word.word,
            ((word.start + word.end) / 2, 0),
            xycoords=transform,
            xytext=(0, -31),
            textcoords="offset points",
            ha="center",
            va="top",
            fontsize=11,
            weight="bold",
        )
    ax.set_xlabel("time (s); under it: the aligned characters, then the words", labelpad=36)
    return fig, hypothesis, words


def _most_active(maps: np.ndarray, count: int) -> list[int]:
    """Channels of a (C, F, T) layer output by mean activation, strongest first."""
    return [int(c) for c in np.argsort(-maps.reshape(len(maps), -1).mean(axis=1), kind="stable")[:count]]


def inspect_file(recognizer: Recognizer, audio: Path, out_dir: Path, channels: int = 4) -> Path:
    """Write ``out_dir/index.html`` (plus its PNGs and a WAV copy) for one audio file; returns the page."""
    audio, out_dir = Path(audio), Path(out_dir)
    ins = run_network(recognizer, load_audio(audio))
    config = ins.fields[0].features
    page = Page(f"dfcnn inspect: {audio.name}", out_dir)
    post_fig, hypothesis, words = posteriorgram_figure(recognizer, ins)
    page.text(f"{audio} ({ins.seconds:.2f} s). Greedy transcript: “{hypothesis.text}”")
    page.audio(write_wav(ins.wave, out_dir / "audio.wav"), "Listen:")
    page.heading("1. What the network reads")
    page.figure(
        input_figure(ins, audio.name),
        out_dir / "input.png",
        "The waveform and the image the first layer reads: one column per 10 ms frame (a 25 ms window), "
        "one row per frequency band, each band normalised to zero mean and unit variance over the training "
        "data. Bright is louder than usual for that band. Vowels show as stacked horizontal bands (formants); "
        "fricatives as noise high up; silence as dark columns.",
    )
    page.heading("2. Receptive fields")
    page.text(
        "Each conv layer's unit sees a window of the input: 3x3 convolutions widen it by one step per side, "
        "poolings multiply the step. Deeper units see more time and more frequency, which is how the network "
        "goes from edges to formant movements to whole syllables. Computed from the layer geometry "
        "(dfcnn.viz.receptive) and checked against autograd in the tests."
    )
    rows = []
    for field, maps in zip(ins.fields, ins.activations):
        low, high = field.hz_widths()
        hz = f"{low:.0f} Hz" if abs(high - low) < 1 else f"{low:.0f} Hz (lowest bands) to {high:.0f} Hz (highest)"
        rows.append(
            [
                field.index,
                field.name,
                " x ".join(map(str, maps.shape)),
                f"{field.frames} x {field.bins}",
                f"{field.ms:.0f} ms x {hz}",
                f"{field.step_ms:.0f} ms",
            ]
        )
    page.table(
        ["layer", "name", "output C x F x T", "field: frames x bands", "field: time x frequency", "step in time"], rows
    )
    page.heading("3. Activation maps")
    page.text(
        f"For each conv layer, the input with the field of one unit outlined (cyan), then the {channels} "
        "channels with the highest mean activation, on the same time axis (seconds) and frequency axis "
        "(Hz) as the input: read down a column to see which layer reacts to which sound. Each unit is "
        "drawn over the input cells it steps across; it sees the whole outlined field."
    )
    for field, maps in zip(ins.fields, ins.activations):
        page.heading(f"Layer {field.index}: {field.name}, {maps.shape[0]} channels", level=3)
        page.figure(
            layer_figure(ins, field.index, _most_active(maps, channels)),
            out_dir / f"layer{field.index:02d}.png",
            f"Field {field.frames} frames x {field.bins} bands ({field.ms:.0f} ms); one unit every "
            f"{field.step_ms:.0f} ms and every {field.freq.jump} input band(s).",
        )
    page.heading("4. First-layer filters")
    page.figure(
        filters_figure(recognizer),
        out_dir / "filters.png",
        "Each first-layer channel is one 3x3 kernel slid over the input; its activation map is the dot "
        "product at every position (then BatchNorm and ReLU). Red weights reward energy, blue penalise "
        "it: red over blue in a column detects energy rising with frequency (a band's lower edge), red "
        "left of blue in a row detects an offset in time.",
    )
    page.heading("5. CTC posteriorgram and alignment")
    page.figure(
        post_fig,
        out_dir / "posteriorgram.png",
        f"One output frame every {1000 * recognizer.frame_seconds:.0f} ms. Grey: probability of each token. "
        "Orange circles: the greedy path (the most likely token per frame; repeats merge, blanks vanish). "
        "Red boxes: CTC forced alignment of the decoded text, with its characters and words under the axis. "
        "Most frames are blank: CTC fires each character in a spike.",
    )
    page.table(
        ["word", "start (s)", "end (s)", "confidence"],
        [[w.word, f"{w.start:.2f}", f"{w.end:.2f}", f"{w.confidence:.2f}"] for w in words],
    )
    page.text(
        f"features: {config.kind}, {config.num_bins} bands, {config.win_ms:g} ms windows every "
        f"{config.hop_ms:g} ms; model: channels {recognizer.model.config.channels}, time pools "
        f"{recognizer.model.config.time_pool}, frequency pools {recognizer.model.config.freq_pool}.",
        note=True,
    )
    return page.write()
