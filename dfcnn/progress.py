"""How far a transcription job has got, in seconds of audio: a bar on a terminal, a plain line every
few seconds in a log (a job of at least a minute of audio), nothing with ``--quiet``. The recognizer
reports each chunk of a long file as it is computed, so a long file moves the bar as it goes."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm

LOG_EVERY_S = 10.0  # wall seconds between two progress lines without a terminal
LOG_MIN_AUDIO_S = 60.0  # shorter jobs print no progress lines without a terminal: they end soon enough


class AudioProgress:
    """``advance(seconds)`` as audio is done, ``file_done()`` per file; ``write`` prints a line
    without breaking the bar."""

    def __init__(
        self,
        total_seconds: float,
        files: int,
        quiet: bool = False,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stream = stream or sys.stderr
        self.clock = clock
        self.total = total_seconds
        self.files = files
        self.done_seconds = 0.0
        self.done_files = 0
        terminal = self.stream.isatty()
        self.bar = None
        if not quiet and terminal:
            self.bar = tqdm(
                total=total_seconds,
                file=self.stream,
                leave=False,
                bar_format="audio {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}{postfix}]",
            )
        self.log_lines = not quiet and not terminal and total_seconds >= LOG_MIN_AUDIO_S
        self.started = self.last_line = clock()

    def advance(self, seconds: float) -> None:
        seconds = min(seconds, max(self.total - self.done_seconds, 0.0))  # a header's duration can be short
        self.done_seconds += seconds
        if self.bar is not None:
            self.bar.update(seconds)
        elif self.log_lines and (now := self.clock()) - self.last_line >= LOG_EVERY_S:
            self.last_line = now
            self.stream.write(f"audio {self.summary(now)}\n")
            self.stream.flush()

    def file_done(self) -> None:
        self.done_files += 1
        if self.bar is not None and self.files > 1:
            self.bar.set_postfix_str(f"{self.done_files}/{self.files} files", refresh=False)

    def summary(self, now: float) -> str:
        """``'123/368 s (33%), 2/5 files, 41 s'``: audio done, files done, wall time by ``now``."""
        percent = 100 * self.done_seconds / self.total if self.total else 100.0
        files = f", {self.done_files}/{self.files} files" if self.files > 1 else ""
        return f"{self.done_seconds:.0f}/{self.total:.0f} s ({percent:.0f}%){files}, {now - self.started:.0f} s"

    def write(self, line: str, file: TextIO) -> None:
        if self.bar is not None:
            self.bar.write(line, file=file)
        else:
            file.write(line + "\n")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
