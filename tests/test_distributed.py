"""Data-parallel training through torchrun + DDP, on CPU with the gloo backend."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import tiny_yaml


@pytest.mark.slow
def test_torchrun_two_processes(tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    command = [
        str(torchrun),
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "dfcnn",
        "train",
        "--quiet",
        "none.yaml",
    ]
    tiny_yaml(tmp_path, name="none.yaml")
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = torch.load(tmp_path / "exp" / "best.pt", weights_only=True)
    records = [json.loads(line) for line in (tmp_path / "exp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if "dev_wer" in r] == [1, 2]  # only rank 0 logs and scores
    # 8 utterances in batches of <= 2 s: each of the 2 ranks takes half of the batches per epoch
    assert payload["training"]["step"] < 2 * 8


@pytest.mark.slow
def test_dfcnn_train_nproc_starts_the_ranks_itself(tmp_path):
    """``dfcnn train --nproc 2``: torchrun's launch without torchrun; a bad config fails once, before any rank."""
    tiny_yaml(tmp_path, "train.epochs=1")
    command = [sys.executable, "-m", "dfcnn", "train", "--quiet", "--nproc", "2", "conf.yaml"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0 and result.stderr == "", result.stderr[-3000:]
    assert torch.load(tmp_path / "exp" / "best.pt", weights_only=True)["training"]["step"] == 2  # 4 batches, 2 a rank
    bad = subprocess.run(command + ["train.lr=-1"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "train.lr must be a positive number" in bad.stderr
