"""Training metrics: metrics.jsonl lines (read back by ``dfcnn report``) and TensorBoard scalars."""

from __future__ import annotations

import json
from pathlib import Path


class MetricsLog:
    """metrics.jsonl lines plus TensorBoard scalars (main process only)."""

    def __init__(self, exp_dir: Path, enabled: bool):
        self.enabled = enabled
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.path = exp_dir / "metrics.jsonl"
            self.writer = SummaryWriter(str(exp_dir / "tensorboard"))

    def log(self, step: int, record: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps({"step": step, **record}) + "\n")
        for key, value in record.items():
            if isinstance(value, (int, float)) and key not in ("epoch",):
                self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
