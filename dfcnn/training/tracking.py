"""Training metrics: metrics.jsonl lines (read back by ``dfcnn report``) and TensorBoard scalars."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..fileio import atomic_write_text, write_error


class MetricsLog:
    """metrics.jsonl lines (each with its step and wall-clock time) plus TensorBoard scalars (main
    process only).

    ``lines`` counts the lines of metrics.jsonl; a checkpoint records it, and a resumed run passes
    it back as ``keep_lines``: the lines the stopped run logged after that checkpoint (which the
    resumed run logs again) are dropped, so the file holds each record once. A fresh run
    (``keep_lines=0``) starts an empty file, whatever a run killed before its first save left.
    Older checkpoints without the count pass ``after_step``: lines logged after that step are dropped.
    """

    def __init__(self, exp_dir: Path, enabled: bool, keep_lines: int | None = 0, after_step: int = 0):
        self.enabled = enabled
        self.writer = None
        self.lines = 0
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.path = exp_dir / "metrics.jsonl"
            if self.path.is_file():
                self._truncate(keep_lines, after_step)
            self.writer = SummaryWriter(str(exp_dir / "tensorboard"), purge_step=after_step)

    def _truncate(self, keep_lines: int | None, after_step: int) -> None:
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        if keep_lines is not None:
            kept = lines[:keep_lines]
        else:
            kept = []
            for line in lines:
                try:
                    if json.loads(line)["step"] <= after_step:
                        kept.append(line)
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut short by a kill
        atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        self.lines = len(kept)

    def log(self, step: int, record: dict) -> None:
        if not self.enabled:
            return
        try:
            with self.path.open("a", encoding="utf-8") as file:
                file.write(json.dumps({"step": step, "time": round(time.time(), 1), **record}) + "\n")
        except OSError as error:
            raise write_error(self.path, error) from None
        self.lines += 1
        for key, value in record.items():
            if isinstance(value, (int, float)) and key not in ("epoch",):
                self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class LogWindow:
    """What the next metrics.jsonl line averages: the losses of the steps since the last line, and
    the audio and wall-clock time of those steps for its speed. The losses are part of last.pt, so
    the first line after a resume averages the same steps as an uninterrupted run's; the speed, a
    wall-clock figure kept out of checkpoints, counts only the steps this process ran."""

    losses: list[float] = field(default_factory=list)  # of the steps since the last line (skipped ones left out)
    audio_seconds: float = 0.0  # of audio trained on in this window by this process, all ranks
    started: float = field(default_factory=time.perf_counter)  # perf_counter() when this process opened it

    def add(self, loss: float | None, audio_seconds: float) -> None:
        if loss is not None:
            self.losses.append(loss)
        self.audio_seconds += audio_seconds

    def mean_loss(self) -> float:
        return sum(self.losses) / len(self.losses)

    def speed(self) -> float:
        """Seconds of audio trained on per second of wall-clock time."""
        return self.audio_seconds / max(time.perf_counter() - self.started, 1e-9)

    def state_dict(self) -> dict:
        return {"losses": list(self.losses)}

    @classmethod
    def from_state(cls, state: dict | None) -> LogWindow:
        """The window a checkpoint saved (an empty one from a checkpoint older than the field)."""
        return cls([float(loss) for loss in (state or {}).get("losses", [])])
