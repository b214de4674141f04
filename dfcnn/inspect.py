"""Seeing inside a trained DFCNN: activation maps, first-layer filters, receptive fields and the CTC
posteriorgram of one file; and, Zeiler-and-Fergus style, the spectrogram patches that most excite one
channel across a data set.

    dfcnn inspect --model exp/best.pt speech.flac --out inspect/speech            # -> inspect/speech/index.html
    dfcnn inspect-channel --model exp/best.pt --manifest data/test.jsonl --layer 3 --channel 5
    dfcnn report --eval exp/eval-test --metrics exp/metrics.jsonl --out exp/report

Every picture with a time axis uses ``frame_edges``: a unit of any layer is drawn over the input frames
it steps across, so activation maps, spectrogram and posteriorgram line up when read down the page.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .align import align_tokens, words_from_spans
from .audio import SAMPLE_RATE, load_audio
from .decode import greedy_decode
from .errors import DfcnnError, VocabError
from .html import Page, draw_image, escape, frame_edges, write_wav
from .inference import Recognizer, load_model
from .receptive import LayerField, band_edges, conv_layers, layer_fields
from .text import BLANK, WORD_SEPARATOR

FIG_WIDTH = 12.0  # inches: every time-axis figure has the same width and margins, so their axes align
LEFT, RIGHT, BAR = 0.07, 0.89, (0.905, 0.012)  # plot area [LEFT, RIGHT]; colour bar at BAR[0], BAR[1] wide


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
        for index, layer in enumerate(conv_layers(model), 1) if index in wanted
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
        activations.append(np.zeros((0, 0, 0)) if out is None else out[..., : frames // field.time.jump].float().cpu().numpy())
    return Inspection(wave, features[0, 0, :, :frames].float().cpu().numpy(), activations,
                      log_probs[0, : int(lengths[0])].float().cpu(), fields)


def _figure(heights: list[float], below: float = 0.3):
    """A FIG_WIDTH-wide figure of stacked axes sharing the time axis, each with a colour-bar slot;
    ``below``: extra inches under the last axes."""
    import matplotlib.pyplot as plt

    total = sum(heights) + 0.35 + below
    fig = plt.figure(figsize=(FIG_WIDTH, total))
    axes, bars, top = [], [], 1 - 0.35 / total
    for height in heights:
        bottom = top - height / total
        axes.append(fig.add_axes((LEFT, bottom + 0.28 / total, RIGHT - LEFT, (height - 0.5) / total),
                                 sharex=axes[0] if axes else None))
        bars.append(fig.add_axes((BAR[0], bottom + 0.28 / total, BAR[1], (height - 0.5) / total)))
        top = bottom
    return fig, axes, bars


def _time_axis(ax, seconds: float) -> None:
    """The same x limits and ticks on every picture (specshow and pcolormesh pick different ticks)."""
    from matplotlib.ticker import AutoLocator, AutoMinorLocator, ScalarFormatter

    ax.set_xlim(0, seconds)
    ax.xaxis.set_major_locator(AutoLocator())
    ax.xaxis.set_minor_locator(AutoMinorLocator())
    ax.xaxis.set_major_formatter(ScalarFormatter())


def _time_edges(ins: Inspection, frames: int, jump: int) -> np.ndarray:
    config = ins.fields[0].features
    return frame_edges(frames, jump, config.hop_length, config.win_length)


def _spectrogram(ins: Inspection, ax, bar, title: str):
    config = ins.fields[0].features
    limit = float(np.percentile(np.abs(ins.features), 99))
    mesh = draw_image(ax, ins.features, _time_edges(ins, ins.features.shape[1], 1), band_edges(config),
                      config.kind == "mel", cmap="magma", vmin=-limit, vmax=limit)
    ax.figure.colorbar(mesh, cax=bar, label="std. devs")
    ax.set_title(title, loc="left", fontsize=10)
    _time_axis(ax, ins.seconds)


def input_figure(ins: Inspection, name: str):
    """Waveform above the network's input image, on one time axis."""
    import librosa.display

    fig, (wave_ax, spec_ax), (wave_bar, spec_bar) = _figure([1.6, 3.4])
    librosa.display.waveshow(ins.wave, sr=SAMPLE_RATE, ax=wave_ax, color="tab:blue")
    wave_ax.set_title(f"{name}: waveform", loc="left", fontsize=10)
    wave_ax.set_ylabel("amplitude")
    wave_ax.set_xlabel("")
    wave_bar.set_visible(False)
    kind = ins.fields[0].features.kind
    _spectrogram(ins, spec_ax, spec_bar, f"network input: {'log-mel' if kind == 'mel' else 'log'} spectrogram, "
                 f"normalised per band ({ins.features.shape[0]} bands x {ins.features.shape[1]} frames of 10 ms)")
    _time_axis(wave_ax, ins.seconds)
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
    fig, axes, bars = _figure([2.2] + [1.9] * len(channels))
    strongest = maps[channels[0]]
    unit = np.unravel_index(int(np.argmax(strongest)), strongest.shape) if strongest.size else (0, 0)
    _spectrogram(ins, axes[0], bars[0], f"input; box: what one unit of layer {layer} sees "
                 f"({field.frames} frames x {field.bins} bands = {field.ms:.0f} ms), at channel {channels[0]}'s peak (cyan cell below)")
    _field_box(axes[0], ins, field, unit, edgecolor="cyan", linewidth=2)
    for ax, bar, channel in zip(axes[1:], bars[1:], channels):
        data = maps[channel]
        time_edges, hz_edges = _unit_edges(ins, field, data.shape)
        mesh = draw_image(ax, data, time_edges, hz_edges, field.features.kind == "mel", cmap="viridis",
                          vmin=0, vmax=max(float(data.max()), 1e-6))
        fig.colorbar(mesh, cax=bar, label="activation")
        ax.set_title(f"layer {layer} ({field.name}) channel {channel}: mean {data.mean():.2f}, peak {data.max():.2f}",
                     loc="left", fontsize=10)
        _time_axis(ax, ins.seconds)
        peak = np.unravel_index(int(np.argmax(data)), data.shape)
        ax.add_patch(Rectangle((time_edges[peak[1]], hz_edges[peak[0]]), time_edges[peak[1] + 1] - time_edges[peak[1]],
                               hz_edges[peak[0] + 1] - hz_edges[peak[0]], fill=False, edgecolor="cyan", linewidth=1.5))
    for ax in axes[:-1]:
        ax.set_xlabel("")
    return fig


def filters_figure(recognizer: Recognizer):
    """The first conv layer's 3x3 kernels (time across, frequency up) on one symmetric colour scale."""
    import matplotlib.pyplot as plt

    weights = conv_layers(recognizer.model)[0][0].weight.detach().float().cpu().numpy()[:, 0]  # (C, 3, 3)
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
    fig.suptitle("layer 1 filters: each spans 3 frames (10 ms apart, left to right) x 3 bands (low to high)", x=0.02,
                 ha="left", fontsize=10)
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
    hypothesis = greedy_decode(ins.log_probs[None], torch.tensor([probs.shape[1]]), tokenizer)[0]
    spans, words, edges = _spans_and_words(recognizer, ins, hypothesis.tokens)
    fig, (blank_ax, ax), (blank_bar, bar) = _figure([1.5, 0.22 * len(shown) + 1.0], below=0.9)
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
            ax.add_patch(Rectangle((edges[span.start], rows[span.token] - 0.5), edges[span.end] - edges[span.start], 1,
                                   fill=False, edgecolor="tab:red", linewidth=1.5))
    ax.plot([], [], color="tab:red", label="forced alignment of the decoded text")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    _time_axis(ax, ins.seconds)
    transform = ax.get_xaxis_transform()  # x in seconds, y in axes fractions; text offset in points below
    for span in spans:
        token = tokenizer.tokens[span.token]
        ax.annotate("␣" if token == WORD_SEPARATOR else token, ((edges[span.start] + edges[span.end]) / 2, 0),
                    xycoords=transform, xytext=(0, -17), textcoords="offset points", ha="center", va="top",
                    fontsize=9, color="tab:red")
    for word in words:
        ax.annotate(word.word, ((word.start + word.end) / 2, 0), xycoords=transform, xytext=(0, -31),
                    textcoords="offset points", ha="center", va="top", fontsize=11, weight="bold")
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
    page.figure(input_figure(ins, audio.name), out_dir / "input.png",
                "The waveform and the image the first layer reads: one column per 10 ms frame (a 25 ms window), "
                "one row per frequency band, each band normalised to zero mean and unit variance over the training "
                "data. Bright is louder than usual for that band. Vowels show as stacked horizontal bands (formants); "
                "fricatives as noise high up; silence as dark columns.")
    page.heading("2. Receptive fields")
    page.text("Each conv layer's unit sees a window of the input: 3x3 convolutions widen it by one step per side, "
              "poolings multiply the step. Deeper units see more time and more frequency, which is how the network "
              "goes from edges to formant movements to whole syllables. Computed from the layer geometry "
              "(dfcnn.receptive) and checked against autograd in the tests.")
    rows = []
    for field, maps in zip(ins.fields, ins.activations):
        low, high = field.hz_widths()
        hz = f"{low:.0f} Hz" if abs(high - low) < 1 else f"{low:.0f} Hz (lowest bands) to {high:.0f} Hz (highest)"
        rows.append([field.index, field.name, " x ".join(map(str, maps.shape)), f"{field.frames} x {field.bins}",
                     f"{field.ms:.0f} ms x {hz}", f"{field.step_ms:.0f} ms"])
    page.table(["layer", "name", "output C x F x T", "field: frames x bands", "field: time x frequency",
                "step in time"], rows)
    page.heading("3. Activation maps")
    page.text(f"For each conv layer, the input with the field of one unit outlined (cyan), then the {channels} "
              "channels with the highest mean activation, on the same time axis (seconds) and frequency axis "
              "(Hz) as the input: read down a column to see which layer reacts to which sound. Each unit is "
              "drawn over the input cells it steps across; it sees the whole outlined field.")
    for field, maps in zip(ins.fields, ins.activations):
        page.heading(f"Layer {field.index}: {field.name}, {maps.shape[0]} channels", level=3)
        page.figure(layer_figure(ins, field.index, _most_active(maps, channels)), out_dir / f"layer{field.index:02d}.png",
                    f"Field {field.frames} frames x {field.bins} bands ({field.ms:.0f} ms); one unit every "
                    f"{field.step_ms:.0f} ms and every {field.freq.jump} input band(s).")
    page.heading("4. First-layer filters")
    page.figure(filters_figure(recognizer), out_dir / "filters.png",
                "Each first-layer channel is one 3x3 kernel slid over the input; its activation map is the dot "
                "product at every position (then BatchNorm and ReLU). Red weights reward energy, blue penalise "
                "it: red over blue in a column detects energy rising with frequency (a band's lower edge), red "
                "left of blue in a row detects an offset in time.")
    page.heading("5. CTC posteriorgram and alignment")
    page.figure(post_fig, out_dir / "posteriorgram.png",
                f"One output frame every {1000 * recognizer.frame_seconds:.0f} ms. Grey: probability of each token. "
                "Orange circles: the greedy path (the most likely token per frame; repeats merge, blanks vanish). "
                "Red boxes: CTC forced alignment of the decoded text, with its characters and words under the axis. "
                "Most frames are blank: CTC fires each character in a spike.")
    page.table(["word", "start (s)", "end (s)", "confidence"],
               [[w.word, f"{w.start:.2f}", f"{w.end:.2f}", f"{w.confidence:.2f}"] for w in words])
    page.text(f"features: {config.kind}, {config.num_bins} bands, {config.win_ms:g} ms windows every "
              f"{config.hop_ms:g} ms; model: channels {recognizer.model.config.channels}, time pools "
              f"{recognizer.model.config.time_pool}, frequency pools {recognizer.model.config.freq_pool}.", note=True)
    return page.write()


@dataclass
class Patch:
    """The input region under the strongest unit of one channel in one utterance."""

    utt_id: str
    value: float  # the unit's activation
    unit: tuple[int, int]  # (frequency, time) index in the layer's output
    image: np.ndarray  # (bins, frames) of the field, NaN where it reaches past the input
    seconds: tuple[float, float]  # the field's time span
    hz: tuple[float, float]  # the field's frequency span
    said: str  # aligned characters under the field, e.g. "ev" of "seven"
    words: str  # the words they belong to
    wave: np.ndarray  # the audio under the field (at least 0.4 s, centred on it)


def _patch(recognizer: Recognizer, ins: Inspection, utt_id: str, text: str, field: LayerField, channel: int) -> Patch:
    maps = ins.activations[field.index - 1][channel]  # (F_l, T_l)
    unit = tuple(int(i) for i in np.unravel_index(int(np.argmax(maps)), maps.shape))
    (f0, f1), (t0, t1) = field.freq.span(unit[0]), field.time.span(unit[1])
    bins, frames = ins.features.shape
    image = np.full((f1 - f0, t1 - t0), np.nan, dtype=np.float32)
    image[max(0, -f0) : min(f1, bins) - f0, max(0, -t0) : min(t1, frames) - t0] = \
        ins.features[max(f0, 0) : min(f1, bins), max(t0, 0) : min(t1, frames)]
    edges = _time_edges(ins, frames, 1)
    start, end = float(edges[max(t0, 0)]), float(edges[min(t1, frames)])
    try:  # what was said: force-align the reference when it fits, else the greedy hypothesis
        tokens = recognizer.tokenizer.encode(recognizer.tokenizer.normalize(text)) if text else []
    except VocabError:
        tokens = []
    spans, words, out_edges = _spans_and_words(recognizer, ins, tokens)
    if not spans:
        hypothesis = greedy_decode(ins.log_probs[None], torch.tensor([ins.log_probs.shape[0]]), recognizer.tokenizer)[0]
        spans, words, out_edges = _spans_and_words(recognizer, ins, hypothesis.tokens)
    said = "".join(" " if recognizer.tokenizer.tokens[s.token] == WORD_SEPARATOR else recognizer.tokenizer.tokens[s.token]
                   for s in spans if out_edges[s.start] < end and out_edges[s.end] > start)
    heard = " ".join(w.word for w in words if w.start < end and w.end > start)
    middle, half = (start + end) / 2, max(end - start, 0.4) / 2
    clip = ins.wave[max(0, int((middle - half) * SAMPLE_RATE)) : int((middle + half) * SAMPLE_RATE)]
    return Patch(utt_id, float(maps[unit]), unit, image, (start, end), field.hz_range(unit[0]),
                 said.strip() or "(silence)", heard or "(between words)", clip)


def top_patches(recognizer: Recognizer, utterances, layer: int, channel: int, top: int = 16):
    """The ``top`` utterances whose strongest unit of (layer, channel) fires hardest, one patch each.

    Returns:
        (patches strongest first, the Inspection of the strongest utterance).
    """
    best: list[tuple[float, int, Inspection]] = []
    for index, utt in enumerate(utterances):
        ins = run_network(recognizer, load_audio(utt.audio_filepath), [layer])
        value = float(ins.activations[layer - 1][channel].max())
        best = sorted(best + [(value, index, ins)], key=lambda item: -item[0])[:top]
    field = best[0][2].fields[layer - 1]
    patches = [_patch(recognizer, ins, utterances[i].utt_id, utterances[i].text, field, channel) for _, i, ins in best]
    return patches, best[0][2]


def patches_figure(patches: list[Patch], field: LayerField):
    """The patches in a grid on one colour scale, each titled with where it is and what was said."""
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator, NullLocator, ScalarFormatter

    cmap = matplotlib.colormaps["magma"].with_extremes(bad="0.75")  # grey: past the input's edge
    columns = min(4, len(patches))
    rows = -(-len(patches) // columns) + 1  # and a last row: the average patch
    fig, axes = plt.subplots(rows, columns, figsize=(FIG_WIDTH, 2.35 * rows + 0.4), squeeze=False)
    limit = 3.0  # std. devs: the features are normalised per band
    ms = (np.arange(field.frames + 1) - field.frames / 2) * field.features.hop_ms  # cell edges, ms from the centre
    hz = band_edges(field.features)
    for ax, patch in zip(axes.flat, patches):
        f0 = field.freq.span(patch.unit[0])[0]
        y = hz[np.clip(np.arange(f0, f0 + field.bins + 1), 0, len(hz) - 1)]
        draw_image(ax, patch.image, ms, y, field.features.kind == "mel", cmap=cmap, vmin=-limit, vmax=limit)
        ax.set_yticks([y[0], y[-1]], [f"{y[0]:.0f}", f"{y[-1]:.0f}"], fontsize=8)
        ax.yaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.tick_params(axis="x", labelsize=8)
        ax.set_title(f"{patch.utt_id} at {patch.seconds[0]:.2f} s\n“{patch.said}” in “{patch.words}” ({patch.value:.1f})",
                     fontsize=9)
        ax.set_xlabel("ms from the centre", fontsize=8)
        ax.set_ylabel("Hz", fontsize=8)
    for ax in axes.flat[len(patches) :]:
        ax.set_visible(False)
    stack = np.stack([p.image for p in patches])  # (N, bins, frames)
    seen = (~np.isnan(stack)).sum(axis=0)
    average = np.where(seen > 0, np.nan_to_num(stack).sum(axis=0) / np.maximum(seen, 1), np.nan)
    ax = axes[-1][0]
    ax.set_visible(True)
    mesh = ax.pcolormesh(ms, np.arange(field.bins + 1), average, cmap=cmap, vmin=-limit, vmax=limit)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_title("average of the patches above", fontsize=9)
    ax.set_xlabel("ms from the centre", fontsize=8)
    ax.set_ylabel("band in the field", fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.9, top=1 - 0.45 / (2.35 * rows + 0.4), bottom=0.06, wspace=0.35, hspace=0.75)
    fig.colorbar(mesh, cax=fig.add_axes((0.92, 0.1, 0.012, 0.75)), label="input (std. devs)")
    return fig


def inspect_channel(recognizer: Recognizer, manifest: Path, layer: int, channel: int, out_dir: Path,
                    top: int = 16, limit: int = 300) -> Path:
    """Write ``out_dir/index.html``: the spectrogram patches that most excite one channel of one layer."""
    from .data import read_manifest

    fields = layer_fields(recognizer.model.config, recognizer.features.config)
    if not 1 <= layer <= len(fields):
        raise DfcnnError(f"--layer {layer}: the model has conv layers 1 to {len(fields)}")
    field = fields[layer - 1]
    if not 0 <= channel < field.channels:
        raise DfcnnError(f"--channel {channel}: layer {layer} ({field.name}) has channels 0 to {field.channels - 1}")
    utterances = read_manifest(manifest)[:limit]
    patches, strongest = top_patches(recognizer, utterances, layer, channel, top)
    page = Page(f"dfcnn inspect-channel: layer {layer} ({field.name}), channel {channel}", Path(out_dir))
    page.text(f"The {len(patches)} utterances of {manifest} (first {len(utterances)}) where this channel fires "
              f"hardest, and the input each strongest unit sees: its receptive field, {field.frames} frames x "
              f"{field.bins} bands ({field.ms:.0f} ms). Over each patch: what was said there, from the CTC forced "
              "alignment of the reference text. What the patches share is what the filter detects.")
    page.figure(patches_figure(patches, field), Path(out_dir) / "patches.png",
                "Patches on one colour scale (the normalised input). Grey: past the edge of the input.")
    rows = []
    for rank, patch in enumerate(patches, 1):
        clip = write_wav(patch.wave, Path(out_dir) / "audio" / f"{rank:02d}-{patch.utt_id}.wav")
        rows.append([rank, patch.utt_id, f"{patch.value:.2f}", f"{patch.seconds[0]:.2f}-{patch.seconds[1]:.2f}",
                     f"{patch.hz[0]:.0f}-{patch.hz[1]:.0f}", patch.said, patch.words,
                     f'<audio controls preload="none" src="audio/{escape(clip.name)}"></audio>'])
    page.table(["rank", "utterance", "activation", "time (s)", "Hz", "said", "words", "listen"], rows, raw_columns=[7])
    page.heading(f"The strongest utterance: {patches[0].utt_id}")
    page.figure(layer_figure(strongest, layer, [channel]), Path(out_dir) / "strongest.png",
                "The channel's activation map over the whole utterance; the box is the field of its strongest unit.")
    return page.write()


def _inspect(args: argparse.Namespace) -> int:
    recognizer = load_model(args.model, args.device)
    out = args.out or Path("inspect") / args.file.stem
    print(f"written: {inspect_file(recognizer, args.file, out, args.channels)}")
    return 0


def _inspect_channel(args: argparse.Namespace) -> int:
    recognizer = load_model(args.model, args.device)
    out = args.out or Path("inspect") / f"layer{args.layer}-channel{args.channel}"
    page = inspect_channel(recognizer, args.manifest, args.layer, args.channel, out, args.top, args.limit)
    print(f"written: {page}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report import write_report

    print(f"written: {write_report(args.out, args.eval, args.metrics, args.worst)}")
    return 0


def add_commands(subparsers, formatter_class=argparse.ArgumentDefaultsHelpFormatter) -> None:
    """Register ``inspect``, ``inspect-channel`` and ``report`` on the ``dfcnn`` command's subparsers."""
    inspect = subparsers.add_parser(
        "inspect", help="an HTML page of what every layer makes of one audio file", formatter_class=formatter_class,
        description="Waveform, input spectrogram, receptive fields, activation maps of every conv layer, "
                    "first-layer filters, CTC posteriorgram and alignment, and an audio player: OUT/index.html.")
    inspect.add_argument("--model", type=Path, required=True, help="checkpoint (e.g. exp/best.pt)")
    inspect.add_argument("file", type=Path, help="audio file (any format dfcnn reads)")
    inspect.add_argument("--out", type=Path, default=None, help="output folder (default: inspect/FILE_STEM)")
    inspect.add_argument("--channels", type=int, default=4, help="most active channels shown per layer")
    inspect.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    inspect.set_defaults(run=_inspect)

    channel = subparsers.add_parser(
        "inspect-channel", help="the input patches that most excite one channel, across a data set",
        formatter_class=formatter_class,
        description="Zeiler-and-Fergus style: for each utterance the strongest unit of one channel; the receptive "
                    "fields of the strongest ones, with what was said there. Layers are numbered as on the "
                    "dfcnn inspect page (1 = the first conv), channels from 0.")
    channel.add_argument("--model", type=Path, required=True, help="checkpoint (e.g. exp/best.pt)")
    channel.add_argument("--manifest", type=Path, required=True, help="JSONL manifest with reference texts")
    channel.add_argument("--layer", type=int, required=True, help="conv layer number, from 1")
    channel.add_argument("--channel", type=int, required=True, help="channel of that layer, from 0")
    channel.add_argument("--top", type=int, default=16, help="patches shown")
    channel.add_argument("--limit", type=int, default=300, help="read at most this many utterances of the manifest")
    channel.add_argument("--out", type=Path, default=None, help="output folder (default: inspect/layerL-channelC)")
    channel.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    channel.set_defaults(run=_inspect_channel)

    report = subparsers.add_parser(
        "report", help="an HTML report of an evaluation run and of training", formatter_class=formatter_class,
        description="WER/CER tables, worst utterances with REF/HYP alignments and audio, most frequent "
                    "substitutions (from dfcnn evaluate --out DIR), and training curves (from metrics.jsonl).")
    report.add_argument("--eval", type=Path, default=None, help="folder written by dfcnn evaluate --out")
    report.add_argument("--metrics", type=Path, default=None, help="metrics.jsonl written by dfcnn train")
    report.add_argument("--out", type=Path, required=True, help="output folder for index.html and its files")
    report.add_argument("--worst", type=int, default=20, help="worst utterances listed")
    report.set_defaults(run=_report)
