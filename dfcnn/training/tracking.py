"""Training metrics: metrics.jsonl lines (read back by ``dfcnn report``) and TensorBoard scalars."""

from __future__ import annotations

import json
import time
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
