"""dfcnn inspect and inspect-channel on a tiny untrained model: activations, figure sizes and axes,
the page's files, headless Chromium (no console errors; a screenshot), and the CLI's errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import soundfile
from conftest import missing
from helpers import noise_corpus

from dfcnn.errors import DfcnnError
from dfcnn.features import FeatureConfig, FeatureExtractor
from dfcnn.inference import Recognizer, TorchNetwork
from dfcnn.model import DFCNN, ModelConfig
from dfcnn.text import Tokenizer
from dfcnn.viz.channel import inspect_channel
from dfcnn.viz.inspect import (
    input_figure,
    inspect_file,
    layer_figure,
    posteriorgram_figure,
    run_network,
)

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
    "--window-size=1280,2000",
]


def tiny_recognizer(bins: int = 32, **model_overrides) -> Recognizer:
    options = dict(channels=[4, 6], time_pool=[2, 2], freq_pool=[2, 2], convs_per_block=1, hidden_dim=8)
    config = ModelConfig(input_bins=bins, vocab_size=5, **{**options, **model_overrides})
    tokenizer = Tokenizer(["<blank>", "|", "a", "b", "c"])
    features = FeatureExtractor(FeatureConfig(kind="mel", n_mels=bins)).eval()
    return Recognizer(TorchNetwork(DFCNN(config).eval(), features), tokenizer)


@pytest.fixture
def speech(tmp_path) -> Path:
    """1.2 s of a gliding tone and a burst of noise: something for the filters to react to."""
    rng = np.random.default_rng(0)
    t = np.arange(int(16000 * 1.2)) / 16000
    wave = 0.3 * np.sin(2 * np.pi * (300 + 800 * t) * t) * (t < 0.7) + 0.1 * rng.standard_normal(len(t)) * (t > 0.8)
    path = tmp_path / "speech.flac"
    soundfile.write(str(path), wave.astype(np.float32), 16000)
    return path


def open_in_chromium(page: Path, screenshot: Path) -> None:
    """Load ``page`` in headless Chromium: no console messages allowed; writes a screenshot."""
    if shutil.which("chromium") is None:
        missing("chromium not installed (make browser installs it)")
    html = page.read_text(encoding="utf-8")
    for target in re.findall(r'(?:src|href)="([^"]+)"', html):  # every file the page names is beside it
        assert target.startswith("data:") or (page.parent / target).is_file(), f"{page} names missing {target}"
    result = subprocess.run(
        [
            "chromium",
            *CHROMIUM_FLAGS,
            f"--user-data-dir={screenshot.parent / 'chromium-profile'}",
            f"--screenshot={screenshot}",
            page.resolve().as_uri(),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, "console messages:\n" + "\n".join(console)
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000, result.stderr[-2000:]
    print(f"screenshot of {page}: {screenshot}")


def test_activations_have_the_layer_shapes(speech):
    from dfcnn.audio import load_audio

    recognizer = tiny_recognizer()
    ins = run_network(recognizer, load_audio(speech))
    frames = ins.features.shape[1]
    assert ins.features.shape == (32, 118)  # 1 + (19200 - 400) // 160 frames
    assert [a.shape for a in ins.activations] == [(4, 32, frames), (6, 16, frames // 2)]
    assert ins.log_probs.shape == (frames // 4, 5)
    assert all((a >= 0).all() for a in ins.activations)  # after the ReLU


def test_a_stem_is_the_first_layer_inspected(speech):
    from dfcnn.audio import load_audio
    from dfcnn.viz.inspect import filters_figure

    recognizer = tiny_recognizer(stem_stride=[2, 2], time_pool=[1, 2], freq_pool=[2, 1])
    ins = run_network(recognizer, load_audio(speech))
    frames = ins.features.shape[1]
    assert [f.name for f in ins.fields] == ["stem", "block1.conv1", "block2.conv1"]
    assert [a.shape for a in ins.activations] == [(4, 16, frames // 2), (4, 16, frames // 2), (6, 8, frames // 2)]
    assert ins.log_probs.shape == (frames // 4, 5)
    figure = filters_figure(recognizer)  # the stem's 4x4 kernels
    assert len([ax for ax in figure.axes if ax.get_visible() and ax.images]) == 4
    import matplotlib.pyplot as plt

    plt.close(figure)


def test_figures_share_one_time_axis_in_seconds_and_hz(speech):
    from dfcnn.audio import load_audio

    recognizer = tiny_recognizer()
    ins = run_network(recognizer, load_audio(speech))
    posteriorgram, hypothesis, words = posteriorgram_figure(recognizer, ins)
    figures = [input_figure(ins, "speech.flac"), layer_figure(ins, 2, [0, 1]), posteriorgram]
    for fig in figures:
        plots = [ax for ax in fig.axes if ax.get_position().width > 0.5]  # not the colour bars
        assert fig.get_figwidth() == 12.0 and plots
        for ax in plots:  # one time axis, in seconds, at the same place on every figure
            assert ax.get_xlim() == pytest.approx((0, 1.2), abs=1e-6), ax.get_title()
            assert (ax.get_position().x0, ax.get_position().x1) == pytest.approx((0.07, 0.89))
        assert "time (s)" in plots[-1].get_xlabel()
    spectrogram = figures[0].axes[2]  # waveform, its bar slot, then the spectrogram
    assert spectrogram.get_ylabel() == "Hz" and spectrogram.get_xlabel() == "time (s)"
    assert spectrogram.get_ylim()[1] == pytest.approx(7800, rel=0.05)  # the top mel band ends below 8 kHz
    assert all(ax.get_ylabel() == "Hz" for ax in figures[1].axes[::2])  # activation maps: frequency in Hz
    under_axis = [t.get_text() for t in posteriorgram.axes[2].texts]  # aligned characters, then words
    assert hypothesis.text and under_axis[-len(words) :] == [w.word for w in words]
    assert "".join(under_axis[: -len(words)]).replace("␣", " ").strip() == hypothesis.text
    import matplotlib.pyplot as plt

    for fig in figures:
        plt.close(fig)


def test_inspect_page_images_and_chromium(speech, tmp_path):
    recognizer = tiny_recognizer()
    page = inspect_file(recognizer, speech, tmp_path / "out", channels=2)
    out = page.parent
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "audio.wav",
        "filters.png",
        "index.html",
        "input.png",
        "layer01.png",
        "layer02.png",
        "posteriorgram.png",
    ]
    assert matplotlib.image.imread(out / "input.png").shape[:2] == (565, 1200)  # 12 x 5.65 in at 100 dpi
    assert matplotlib.image.imread(out / "layer01.png").shape[:2] == (665, 1200)  # input + 2 channel rows
    assert soundfile.info(str(out / "audio.wav")).samplerate == 16000
    html = page.read_text()
    assert 'width="1200" height="565"' in html and "<audio controls" in html and "block2.conv1" in html
    open_in_chromium(page, tmp_path / "inspect.png")


def test_inspect_channel_finds_patches(tmp_path):
    manifest, _ = noise_corpus(tmp_path / "data", count=5)
    recognizer = tiny_recognizer()
    page = inspect_channel(recognizer, manifest, layer=2, channel=3, out_dir=tmp_path / "channel", top=3)
    html = page.read_text()
    assert html.count("<audio controls") == 3 and "layer 2 (block2.conv1), channel 3" in html
    assert matplotlib.image.imread(page.parent / "patches.png").shape[1] == 1200
    with pytest.raises(DfcnnError, match="--layer 3: the model has conv layers 1 to 2"):
        inspect_channel(recognizer, manifest, layer=3, channel=0, out_dir=tmp_path / "x")
    with pytest.raises(DfcnnError, match="--channel 6: layer 2 .* has channels 0 to 5"):
        inspect_channel(recognizer, manifest, layer=2, channel=6, out_dir=tmp_path / "x")


def test_commands_parse_and_name_bad_files(tmp_path):
    from dfcnn.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["inspect", "--model", str(tmp_path / "none.pt"), "a.flac"])
    assert args.file == Path("a.flac") and args.channels == 4 and args.out is None
    with pytest.raises(DfcnnError, match="none.pt: checkpoint not found"):
        args.run(args)
    args = parser.parse_args(
        ["inspect-channel", "--model", "m.pt", "--manifest", "m.jsonl", "--layer", "2", "--channel", "0"]
    )
    assert (args.layer, args.channel, args.top) == (2, 0, 16)
    args = parser.parse_args(["report", "--out", str(tmp_path / "r")])
    with pytest.raises(DfcnnError, match="needs --eval"):
        args.run(args)
