"""The dfcnn command as a user runs it: a subprocess, its output and its exit code."""

import json
import subprocess
import sys

import pytest

from helpers import TINY_MODEL, noise_corpus


def dfcnn(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "dfcnn", *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    manifest, vocab = noise_corpus(folder)
    (folder / "conf.yaml").write_text(
        f"exp_dir: {folder / 'exp'}\ndata:\n  train_manifest: {manifest}\n  dev_manifest: {manifest}\n"
        f"  vocab: {vocab}\n  max_batch_duration: 2.0\n  num_workers: 0\ntrain:\n  epochs: 1\n  warmup_steps: 2\n"
    )
    result = dfcnn("train", folder / "conf.yaml", "--quiet", *TINY_MODEL)  # overrides may follow options
    assert result.returncode == 0, result.stderr
    assert "best checkpoint:" in result.stdout
    return folder


def test_evaluate_prints_table_and_writes_alignments(experiment):
    out = experiment / "eval"
    result = dfcnn("evaluate", "--model", experiment / "exp" / "best.pt", "--manifest", experiment / "train.jsonl",
                   "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|" in result.stdout
    assert "|train|8|" in result.stdout
    assert (out / "results.md").exists()
    assert (out / "alignments.txt").read_text().count("REF:") == 8
    assert len((out / "hyps.jsonl").read_text().splitlines()) == 8
    assert json.loads((out / "hyps.jsonl").read_text().splitlines()[0])["utt_id"] == "utt0"


def test_transcribe_one_line_per_file_and_reports_bad_files(experiment, tmp_path):
    (tmp_path / "bad.wav").write_text("not audio")
    good, other = experiment / "utt0.wav", experiment / "utt1.wav"
    result = dfcnn("transcribe", "--model", experiment / "exp" / "best.pt", good, tmp_path / "bad.wav", other)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(good), str(other)]  # in order, the bad one skipped
    assert "bad.wav: not a readable audio file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "missing.yaml"], "missing.yaml: config file not found"),
        (["evaluate", "--model", "none.pt", "--manifest", "x.jsonl"], "none.pt: checkpoint not found"),
        (["transcribe", "--model", "none.pt", "a.wav"], "none.pt: checkpoint not found"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, args, message):
    result = dfcnn(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"dfcnn: error: {message}"


def test_bad_manifest_line_is_named(experiment, tmp_path):
    (tmp_path / "m.jsonl").write_text('{"audio_filepath": "a.wav", "duration": 1, "text": "a"}\n{oops\n')
    result = dfcnn("evaluate", "--model", experiment / "exp" / "best.pt", "--manifest", tmp_path / "m.jsonl")
    assert result.returncode == 1
    assert "m.jsonl:2: not valid JSON" in result.stderr and "Traceback" not in result.stderr


def test_help_shows_defaults():
    result = dfcnn("evaluate", "--help")
    assert result.returncode == 0 and "(default: 200.0)" in result.stdout
