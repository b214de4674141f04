"""Training metrics: metrics.jsonl lines (read back by ``dfcnn report``) and TensorBoard scalars."""

from __future__ import annotations

import json
import time
from pathlib import Path

from .fileio import atomic_write_text, write_error


class MetricsLog:
    """metrics.jsonl lines (each with its step and wall-clock time) plus TensorBoard scalars (main
    process only).

    A resumed run (``after_step``: the step it resumes at) first drops the lines logged after that
    step by the stopped run, so the file holds each step once.
    """

    def __init__(self, exp_dir: Path, enabled: bool, after_step: int | None = None):
        self.enabled = enabled
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.path = exp_dir / "metrics.jsonl"
            if after_step is not None and self.path.is_file():
                self._truncate(after_step)
            self.writer = SummaryWriter(str(exp_dir / "tensorboard"), purge_step=after_step)

    def _truncate(self, step: int) -> None:
        kept = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    kept.append(line + "\n")
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by a kill
        atomic_write_text(self.path, "".join(kept))

    def log(self, step: int, record: dict) -> None:
        if not self.enabled:
            return
        try:
            with self.path.open("a", encoding="utf-8") as file:
                file.write(json.dumps({"step": step, "time": round(time.time(), 1), **record}) + "\n")
        except OSError as error:
            raise write_error(self.path, error) from None
        for key, value in record.items():
            if isinstance(value, (int, float)) and key not in ("epoch",):
                self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
