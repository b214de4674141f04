"""An exp_dir belongs to one run: a second trainer is refused naming the first, a dead trainer's lock
is taken over with a note, and a fresh run never overwrites or mixes with an earlier run's files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import TINY_MODEL, tiny_config, tiny_yaml

from dfcnn.cli import main
from dfcnn.errors import ConfigError
from dfcnn.training.exp_dir import LOCK_FILE, ExpDirLock
from dfcnn.training.train import Trainer

HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parent)}


def write_config(folder: Path, epochs: int = 1) -> Path:
    return tiny_yaml(folder, f"train.epochs={epochs}")


def dfcnn(capsys, *args) -> tuple[int, list[str]]:
    """``dfcnn train --quiet ARGS``: its exit code and its error lines (notes go to stdout: ``notes``)."""
    code = main(["train", "--quiet", *map(str, args), *TINY_MODEL])
    captured = capsys.readouterr()
    dfcnn.notes = captured.out.splitlines()
    return code, captured.err.splitlines()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A 2-epoch run's exp_dir: last.pt, best.pt, epoch-1.pt, epoch-2.pt, metrics.jsonl."""
    folder = tmp_path_factory.mktemp("finished")
    Trainer(tiny_config(folder), progress=False).run()
    return folder / "exp"


def copy_of(exp: Path, target: Path, without: tuple[str, ...] = ()) -> Path:
    target.mkdir(parents=True)
    for path in exp.iterdir():
        if path.is_file() and path.name not in without:
            (target / path.name).write_bytes(path.read_bytes())
    return target


def test_a_second_trainer_is_refused_naming_the_first_and_a_dead_ones_lock_is_taken_over(tmp_path, capsys):
    config = write_config(tmp_path, epochs=1000)
    first = subprocess.Popen(
        [sys.executable, "-m", "dfcnn", "train", "--quiet", str(config), *TINY_MODEL],
        env=ENV,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        metrics, deadline = tmp_path / "exp" / "metrics.jsonl", time.monotonic() + 180
        while not (metrics.is_file() and metrics.stat().st_size > 0):  # training under way
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()[1][-3000:]
            time.sleep(0.2)
        for args in ([config], [config, "--resume"], [config, "--force"]):
            code, lines = dfcnn(capsys, *args)
            assert code == 1 and len(lines) == 1, lines
            assert lines[0] == (
                f"dfcnn: error: {tmp_path / 'exp'}: another trainer is using this exp_dir (pid {first.pid} on host "
                f"{socket.gethostname()}, {tmp_path / 'exp' / LOCK_FILE}); wait for it or stop it, or set another "
                "exp_dir"
            )
        assert first.poll() is None  # the running trainer is untouched
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    code, lines = dfcnn(capsys, config, "--resume", "train.epochs=1")
    assert code == 0, lines
    assert dfcnn.notes[0] == (
        f"took over {tmp_path / 'exp' / LOCK_FILE} from pid {first.pid} on host "
        f"{socket.gethostname()}, which is no longer running"
    )
    assert (tmp_path / "exp" / LOCK_FILE).read_text() == ""  # released when the run ended


def test_a_lock_of_another_host_is_not_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text("4242 elsewhere.example\n")
    with pytest.raises(ConfigError, match=r"names a trainer on another machine \(pid 4242 on host elsewhere.example\)"):
        ExpDirLock(tmp_path).acquire()
    assert (tmp_path / LOCK_FILE).read_text() == "4242 elsewhere.example\n"


def test_trainers_of_one_process_share_its_lock(tmp_path):
    first, second = ExpDirLock(tmp_path), ExpDirLock(tmp_path)
    assert first.acquire() is None and second.acquire() is None
    first.release()
    assert (tmp_path / LOCK_FILE).read_text().split()[0] == str(os.getpid())  # still held: second has it
    second.release()
    assert (tmp_path / LOCK_FILE).read_text() == ""


def test_a_fresh_run_never_lands_on_an_earlier_run(finished_run, tmp_path, capsys):
    config = write_config(tmp_path)
    exp = tmp_path / "exp"
    cases = {  # what the folder holds -> the line a fresh run gets
        ("best.pt", "epoch-1.pt", "epoch-2.pt", "metrics.jsonl"): f"dfcnn: error: {exp} holds an earlier run "
        "(best.pt, epoch-1.pt, epoch-2.pt, metrics.jsonl): --resume continues it, --force starts over (removes its "
        "files), or set another exp_dir",
        ("last.pt", "best.pt"): f"dfcnn: error: {exp / 'last.pt'} exists: pass --resume to continue that run, --force "
        "to start over (removes its files), or set another exp_dir",
        ("metrics.jsonl",): f"dfcnn: error: {exp} holds an earlier run (metrics.jsonl): --resume continues it, "
        "--force starts over (removes its files), or set another exp_dir",
    }
    for names, expected in cases.items():
        copy_of(finished_run, exp, without=tuple(p.name for p in finished_run.iterdir() if p.name not in names))
        before = {name: (exp / name).read_bytes() for name in names}
        code, lines = dfcnn(capsys, config)
        assert (code, lines) == (1, [expected])
        assert {name: (exp / name).read_bytes() for name in names} == before  # nothing touched
        for path in exp.iterdir():
            path.unlink()
        exp.rmdir()


def test_resume_without_last_pt_keeps_best_pt_and_force_starts_over(finished_run, tmp_path, capsys):
    config = write_config(tmp_path)
    exp = copy_of(finished_run, tmp_path / "exp", without=("last.pt",))
    best = (exp / "best.pt").read_bytes()
    code, lines = dfcnn(capsys, config, "--resume")
    assert (code, lines) == (
        1,
        [
            f"dfcnn: error: {exp}: no last.pt to resume from, but best.pt, epoch-1.pt, "
            "epoch-2.pt of an earlier run are there: --force starts over (removes them), or set "
            "another exp_dir"
        ],
    )
    assert (exp / "best.pt").read_bytes() == best
    code, lines = dfcnn(capsys, config, "--force", "--resume")
    assert (code, lines) == (1, ["dfcnn: error: --force starts over and --resume continues: pass one of them"])

    code, lines = dfcnn(capsys, config, "--force")  # 1 epoch: epoch-2.pt of the earlier run must not survive
    assert code == 0, lines
    assert dfcnn.notes[0] == (
        f"--force: removed best.pt, epoch-1.pt, epoch-2.pt, metrics.jsonl, config.yaml of the earlier run in {exp}"
    )
    assert sorted(p.name for p in exp.glob("*.pt")) == ["best.pt", "epoch-1.pt", "last.pt"]
    assert (exp / "best.pt").read_bytes() != best


def test_resume_after_a_kill_before_the_first_save_starts_afresh(finished_run, tmp_path, capsys):
    """A run killed before it saved leaves metrics and config but nothing to continue: --resume starts anew."""
    config = write_config(tmp_path)
    exp = copy_of(finished_run, tmp_path / "exp", without=("last.pt", "best.pt", "epoch-1.pt", "epoch-2.pt"))
    code, lines = dfcnn(capsys, config, "--resume")
    assert code == 0, lines
    assert f"no {exp / 'last.pt'} to resume from: starting a fresh run" in dfcnn.notes


@pytest.mark.slow
def test_every_ddp_rank_refuses_an_earlier_run_together(finished_run, tmp_path):
    config = write_config(tmp_path)
    exp = copy_of(finished_run, tmp_path / "exp", without=("last.pt",))
    torchrun = Path(sys.executable).parent / "torchrun"
    result = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "dfcnn",
            "train",
            "--quiet",
            str(config),
            *TINY_MODEL,
        ],
        env=ENV,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    expected = f"dfcnn: error: {exp} holds an earlier run (best.pt, epoch-1.pt, epoch-2.pt, metrics.jsonl)"
    assert result.stderr.count(expected) == 2, result.stderr[-3000:]  # one line from each rank, no hang
