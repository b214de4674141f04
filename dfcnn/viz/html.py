"""Plumbing of the HTML pages that ``dfcnn inspect`` and ``dfcnn report`` write: a page builder, PNG
figures saved beside the page, audio copied beside it, and the spectrogram drawing they share.

    page = Page("dfcnn inspect: speech.flac", out)
    page.heading("Input"); page.text("..."); page.figure(fig, out / "input.png", "caption")
    page.audio(write_wav(wave, out / "audio.wav")); page.write()         # out/index.html

A page is a folder: index.html plus the PNG and WAV files it names by relative path. It opens from
disk with no network (no scripts, no web fonts, no external styles).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display needed, and the same pictures everywhere

import matplotlib.pyplot as plt
import numpy as np
import soundfile

from ..audio import SAMPLE_RATE
from ..fileio import atomic_write_text

DPI = 100  # figure inches x 100 = PNG pixels
FIG_WIDTH = 12.0  # inches: every time-axis figure has the same width and margins, so their axes align
LEFT, RIGHT, BAR = 0.07, 0.89, (0.905, 0.012)  # plot area [LEFT, RIGHT]; colour bar at BAR[0], BAR[1] wide
STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2em auto; max-width: 1250px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { margin-bottom: .3em; }
img { max-width: 100%; display: block; margin: .5em 0; }
figure { margin: 1em 0; } figcaption { color: #555; font-size: .93em; max-width: 75em; }
table { border-collapse: collapse; margin: .8em 0; } td, th { border: 1px solid #ccc; padding: .25em .6em; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre, .align { font: 13px/1.4 ui-monospace, monospace; background: #f7f7f7; padding: .5em; overflow-x: auto; }
.sub { background: #ffe0a0; } .del { background: #ffb0b0; } .ins { background: #b0d8ff; }
.note { color: #555; }
"""


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG (DPI pixels per inch) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def write_wav(wave: np.ndarray, path: Path, sample_rate: int = SAMPLE_RATE) -> Path:
    """A (N,) float32 waveform as 16-bit WAV, which every browser's <audio> plays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    soundfile.write(str(path), wave / peak if peak > 1.0 else wave, sample_rate, subtype="PCM_16")
    return path


def frame_edges(frames: int, jump: int, hop_length: int, win_length: int) -> np.ndarray:
    """(frames + 1,) seconds: the cell edges on the time axis of a layer whose units are ``jump`` input
    frames apart. Input frame t is centred on (t * hop + win / 2) / 16000 s and drawn one hop wide, so
    every layer's unit t sits over the input frames it steps across, and all pictures share one axis."""
    centre0 = (win_length / 2 - hop_length / 2) / SAMPLE_RATE
    return centre0 + np.arange(frames + 1) * jump * hop_length / SAMPLE_RATE


def draw_image(ax, data: np.ndarray, time_edges: np.ndarray, hz_edges: np.ndarray, mel: bool, **kwargs):
    """librosa's specshow of a (rows = frequency, cols = time) image on axes in seconds and Hz."""
    import librosa.display

    mesh = librosa.display.specshow(
        data,
        x_coords=time_edges,
        y_coords=hz_edges,
        x_axis="s",
        y_axis="mel" if mel else "linear",
        sr=SAMPLE_RATE,
        ax=ax,
        **kwargs,
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("Hz")
    return mesh


def stacked_figure(heights: list[float], below: float = 0.3):
    """A FIG_WIDTH-wide figure of stacked axes sharing the time axis, each with a colour-bar slot;
    ``below``: extra inches under the last axes.

    Returns:
        (figure, [axes top to bottom], [colour-bar axes beside each]).
    """
    total = sum(heights) + 0.35 + below
    fig = plt.figure(figsize=(FIG_WIDTH, total))
    axes, bars, top = [], [], 1 - 0.35 / total
    for height in heights:
        bottom = top - height / total
        axes.append(
            fig.add_axes(
                (LEFT, bottom + 0.28 / total, RIGHT - LEFT, (height - 0.5) / total), sharex=axes[0] if axes else None
            )
        )
        bars.append(fig.add_axes((BAR[0], bottom + 0.28 / total, BAR[1], (height - 0.5) / total)))
        top = bottom
    return fig, axes, bars


def time_axis(ax, seconds: float) -> None:
    """The same x limits and ticks on every picture (specshow and pcolormesh pick different ticks)."""
    from matplotlib.ticker import AutoLocator, AutoMinorLocator, ScalarFormatter

    ax.set_xlim(0, seconds)
    ax.xaxis.set_major_locator(AutoLocator())
    ax.xaxis.set_minor_locator(AutoMinorLocator())
    ax.xaxis.set_major_formatter(ScalarFormatter())


class Page:
    """An HTML page built section by section; files it shows are referenced relative to it."""

    def __init__(self, title: str, folder: Path):
        self.title = title
        self.folder = Path(folder)  # where the page and the files it shows live
        self.parts: list[str] = [f"<h1>{escape(title)}</h1>"]

    def _href(self, path: Path) -> str:
        return escape(Path(path).relative_to(self.folder).as_posix())

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{escape(text)}</h{level}>")

    def text(self, text: str, note: bool = False) -> None:
        """A paragraph of plain text (escaped)."""
        self.parts.append(f"<p{' class=note' if note else ''}>{escape(text)}</p>")

    def raw(self, markup: str) -> None:
        """Markup built by the caller (escape its text with ``escape``)."""
        self.parts.append(markup)

    def figure(self, fig: plt.Figure, path: Path, caption: str = "") -> None:
        width, height = (fig.get_size_inches() * DPI).round().astype(int)
        save_figure(fig, path)
        self.image(path, caption, (width, height))

    def image(self, path: Path, caption: str = "", size: tuple[int, int] | None = None) -> None:
        dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
        alt = escape(caption.split(".")[0] or path.stem)
        self.parts.append(
            f'<figure><img src="{self._href(path)}" alt="{alt}"{dims}>'
            + (f"<figcaption>{escape(caption)}</figcaption>" if caption else "")
            + "</figure>"
        )

    def audio(self, path: Path, label: str = "") -> None:
        self.parts.append(
            f'<p>{escape(label)} <audio controls preload="metadata" src="{self._href(path)}"></audio></p>'
        )

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]], raw_columns: Sequence[int] = ()) -> None:
        """A table; numbers right-aligned; cells in ``raw_columns`` are markup, the rest escaped."""
        head = "".join(f"<th>{escape(h)}</th>" for h in header)
        body = []
        for row in rows:
            cells = []
            for column, cell in enumerate(row):
                numeric = isinstance(cell, (int, float, np.number))
                text = f"{cell:.1f}" if isinstance(cell, float) else str(cell)
                content = text if column in raw_columns else escape(text)
                cells.append(f"<td class=num>{content}</td>" if numeric else f"<td>{content}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")

    def preformatted(self, text: str) -> None:
        self.parts.append(f"<pre>{escape(text)}</pre>")

    def render(self) -> str:
        return (
            f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(self.title)}</title>\n'
            f'<link rel="icon" href="data:,">\n<style>{STYLE}</style>\n</head>\n<body>\n'
            + "\n".join(self.parts)
            + "\n</body>\n</html>\n"
        )

    def write(self, name: str = "index.html") -> Path:
        """Write the page into its folder."""
        path = self.folder / name
        atomic_write_text(path, self.render())
        return path
