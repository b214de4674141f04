"""Zeiler-and-Fergus style: the spectrogram patches (receptive fields) that most excite one channel
of one conv layer across a data set, with what was said there.

    dfcnn inspect-channel --model exp/best.pt --manifest data/test.jsonl --layer 3 --channel 5
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..audio import SAMPLE_RATE, load_audio
from ..decode import build_decoder
from ..errors import DfcnnError, VocabError
from ..inference import Recognizer
from ..text import WORD_SEPARATOR
from .html import FIG_WIDTH, Page, draw_image, escape, write_wav
from .inspect import Inspection, _spans_and_words, _time_edges, layer_figure, run_network
from .receptive import LayerField, band_edges, layer_fields


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
    image[max(0, -f0) : min(f1, bins) - f0, max(0, -t0) : min(t1, frames) - t0] = ins.features[
        max(f0, 0) : min(f1, bins), max(t0, 0) : min(t1, frames)
    ]
    edges = _time_edges(ins, frames, 1)
    start, end = float(edges[max(t0, 0)]), float(edges[min(t1, frames)])
    try:  # what was said: force-align the reference when it fits, else the greedy hypothesis
        tokens = recognizer.tokenizer.encode(recognizer.tokenizer.normalize(text)) if text else []
    except VocabError:
        tokens = []
    spans, words, out_edges = _spans_and_words(recognizer, ins, tokens)
    if not spans:
        lengths = torch.tensor([ins.log_probs.shape[0]])
        hypothesis = build_decoder(recognizer.tokenizer).best(ins.log_probs[None], lengths)[0]
        spans, words, out_edges = _spans_and_words(recognizer, ins, hypothesis.tokens)
    said = "".join(
        " " if recognizer.tokenizer.tokens[s.token] == WORD_SEPARATOR else recognizer.tokenizer.tokens[s.token]
        for s in spans
        if out_edges[s.start] < end and out_edges[s.end] > start
    )
    heard = " ".join(w.word for w in words if w.start < end and w.end > start)
    middle, half = (start + end) / 2, max(end - start, 0.4) / 2
    clip = ins.wave[max(0, int((middle - half) * SAMPLE_RATE)) : int((middle + half) * SAMPLE_RATE)]
    return Patch(
        utt_id,
        float(maps[unit]),
        unit,
        image,
        (start, end),
        field.hz_range(unit[0]),
        said.strip() or "(silence)",
        heard or "(between words)",
        clip,
    )


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
        ax.set_title(
            f"{patch.utt_id} at {patch.seconds[0]:.2f} s\n“{patch.said}” in “{patch.words}” ({patch.value:.1f})",
            fontsize=9,
        )
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


def inspect_channel(
    recognizer: Recognizer, manifest: Path, layer: int, channel: int, out_dir: Path, top: int = 16, limit: int = 300
) -> Path:
    """Write ``out_dir/index.html``: the spectrogram patches that most excite one channel of one layer."""
    from ..data import read_manifest

    fields = layer_fields(recognizer.model.config, recognizer.features.config)
    if not 1 <= layer <= len(fields):
        raise DfcnnError(f"--layer {layer}: the model has conv layers 1 to {len(fields)}")
    field = fields[layer - 1]
    if not 0 <= channel < field.channels:
        raise DfcnnError(f"--channel {channel}: layer {layer} ({field.name}) has channels 0 to {field.channels - 1}")
    utterances = read_manifest(manifest)[:limit]
    patches, strongest = top_patches(recognizer, utterances, layer, channel, top)
    page = Page(f"dfcnn inspect-channel: layer {layer} ({field.name}), channel {channel}", Path(out_dir))
    page.text(
        f"The {len(patches)} utterances of {manifest} (first {len(utterances)}) where this channel fires "
        f"hardest, and the input each strongest unit sees: its receptive field, {field.frames} frames x "
        f"{field.bins} bands ({field.ms:.0f} ms). Over each patch: what was said there, from the CTC forced "
        "alignment of the reference text. What the patches share is what the filter detects."
    )
    page.figure(
        patches_figure(patches, field),
        Path(out_dir) / "patches.png",
        "Patches on one colour scale (the normalised input). Grey: past the edge of the input.",
    )
    rows = []
    for rank, patch in enumerate(patches, 1):
        clip = write_wav(patch.wave, Path(out_dir) / "audio" / f"{rank:02d}-{patch.utt_id}.wav")
        rows.append(
            [
                rank,
                patch.utt_id,
                f"{patch.value:.2f}",
                f"{patch.seconds[0]:.2f}-{patch.seconds[1]:.2f}",
                f"{patch.hz[0]:.0f}-{patch.hz[1]:.0f}",
                patch.said,
                patch.words,
                f'<audio controls preload="none" src="audio/{escape(clip.name)}"></audio>',
            ]
        )
    page.table(["rank", "utterance", "activation", "time (s)", "Hz", "said", "words", "listen"], rows, raw_columns=[7])
    page.heading(f"The strongest utterance: {patches[0].utt_id}")
    page.figure(
        layer_figure(strongest, layer, [channel]),
        Path(out_dir) / "strongest.png",
        "The channel's activation map over the whole utterance; the box is the field of its strongest unit.",
    )
    return page.write()
