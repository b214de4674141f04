"""Stops lose nothing: Ctrl-C, SIGTERM and kill -9 at injected moments (tests/stoppable.py), each
resumed and compared bitwise with a run never stopped; DDP resume and early stopping on 2 gloo ranks;
no process outliving its trainer; a full disk keeping the previous checkpoint."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import tiny_config, tiny_yaml

from dfcnn.training.train import Trainer

HERE = Path(__file__).resolve().parent
STOPPABLE = HERE / "stoppable.py"
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "PYTHONPATH": os.pathsep.join([str(HERE.parent), *filter(None, [os.environ.get("PYTHONPATH")])]),
}
# 4 batches an epoch, 3 epochs: steps 1-12; last.pt at steps 3, 6, 9, 12 (save_every_steps) and at each
# epoch's end twice (before and after dev scoring); the checkpoint writes are numbered in that order:
# 1 (step 3), 2 and 3 (epoch 1, around dev 1), 4 (step 6), 5 and 6 (epoch 2, around dev 2), ...
STOP_RUN = ["train.epochs=3", "train.save_every_steps=3"]
EXIT = {"SIGKILL": -9, "SIGINT": 130, "SIGINTx2": 130, "SIGTERM": 143}
STOPS = [
    # kill -9: whatever was saved last is where the run resumes
    "step:2:SIGKILL",  # before the first save: the run starts afresh, metrics.jsonl too
    "step:5:SIGKILL",  # after the optimizer step, before it is counted; resumes at the end of epoch 1
    "step:7:SIGKILL",  # mid-epoch, from the save at step 6
    "step:8:SIGKILL",  # an epoch's last step, before its end-of-epoch save
    "save:4:SIGKILL",  # halfway through writing last.pt mid-epoch: a temp file left behind
    "save:5:SIGKILL",  # halfway through the end-of-epoch write, before dev scoring
    "save:6:SIGKILL",  # halfway through the write after dev scoring: resume scores dev again
    "dev:2:SIGKILL",  # during dev scoring: last.pt says dev is pending
    "best:1:SIGKILL",  # after last.pt and epoch-1.pt, before best.pt: best.pt recovered
    # Ctrl-C and SIGTERM: the run saves at the next step boundary and exits 128 + signal
    "step:7:SIGINT",
    "save:4:SIGINT",
    "dev:2:SIGINT",
    "best:1:SIGINT",
    "step:7:SIGTERM",
    "save:5:SIGTERM",
    "dev:2:SIGTERM",
    "best:2:SIGTERM",
    # Ctrl-C twice: aborts at once, as kill -9 would, but cleaning up its temp file
    "step:7:SIGINTx2",
    "save:4:SIGINTx2",
]
# a metrics.jsonl line every 2 steps: stops between two lines, whose window of losses last.pt must carry
# (lines at steps 2, 4, ..., 12; saves at steps 3, 6, 9 and 12 and around each epoch's dev scoring)
WINDOW_RUN = [*STOP_RUN, "train.log_every_steps=2"]
WINDOW_STOPS = [
    "step:5:SIGTERM",  # saved at step 5 with its loss not yet logged; the line at step 6 averages steps 5 and 6
    "step:9:SIGINT",  # the same in epoch 3
    "step:4:SIGKILL",  # resumed from the save at step 3, whose loss the line at step 4 averages
    "step:11:SIGKILL",  # resumed from the save at step 9
]
WALL_CLOCK = re.compile(r'"(time|audio_sec_per_sec)": [-+.\deE]+')  # the only fields that differ between runs


def flat(tree, prefix: str = ""):
    """(dotted name, leaf) pairs of a checkpoint, its configs (paths differ between runs) left out."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            if prefix or key != "config":
                yield from flat(value, f"{prefix}.{key}")
    elif isinstance(tree, (list, tuple)):
        for index, value in enumerate(tree):
            yield from flat(value, f"{prefix}[{index}]")
    else:
        yield prefix, tree


def assert_same_run(expected: Path, got: Path) -> None:
    """Same checkpoints (every tensor ``torch.equal``, every counter and RNG state equal) and the same
    metrics.jsonl, byte for byte but for the wall-clock fields (time, audio_sec_per_sec)."""
    names = sorted(p.name for p in expected.glob("*.pt"))
    assert sorted(p.name for p in got.glob("*.pt")) == names
    for name in names:
        want = dict(flat(torch.load(expected / name, weights_only=True)))
        have = dict(flat(torch.load(got / name, weights_only=True)))
        assert have.keys() == want.keys(), name
        for key, value in want.items():
            same = torch.equal(value, have[key]) if isinstance(value, torch.Tensor) else value == have[key]
            assert same, f"{name}{key} differs"

    def metrics(folder: Path) -> str:
        return WALL_CLOCK.sub(r'"\1": _', (folder / "metrics.jsonl").read_text())

    assert metrics(got) == metrics(expected)
    assert not list(got.glob(".*.tmp"))


def run_plan(folder: Path, runs: list[dict], timeout: float = 1800) -> list[dict]:
    (folder / "plan.json").write_text(json.dumps(runs))
    result = subprocess.run(
        [sys.executable, str(STOPPABLE), "plan", str(folder / "plan.json")],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def stops(tmp_path_factory):
    """Every stop of STOPS, then its resume, plus one run never stopped: all in one runner process."""
    folder = tmp_path_factory.mktemp("stops")
    runs = [{"folder": str(folder / "straight"), "overrides": STOP_RUN, "log": str(folder / "straight.log")}]
    for stop in STOPS:
        place = folder / stop.replace(":", "-")
        log = str(place) + ".log"
        runs += [
            {"folder": str(place), "overrides": STOP_RUN, "stop": stop, "log": log},
            {"folder": str(place), "overrides": STOP_RUN, "resume": True, "log": log},
        ]
    results = run_plan(folder, runs)
    assert results[0]["code"] == 0, (folder / "straight.log").read_text()
    return folder, {stop: results[1 + 2 * i : 3 + 2 * i] for i, stop in enumerate(STOPS)}


@pytest.fixture(scope="module")
def window_stops(tmp_path_factory):
    """Every stop of WINDOW_STOPS and its resume, plus one run never stopped, in ``WINDOW_RUN``."""
    folder = tmp_path_factory.mktemp("window")
    runs = [{"folder": str(folder / "straight"), "overrides": WINDOW_RUN, "log": str(folder / "straight.log")}]
    for stop in WINDOW_STOPS:
        place, log = folder / stop.replace(":", "-"), str(folder / stop.replace(":", "-")) + ".log"
        runs += [
            {"folder": str(place), "overrides": WINDOW_RUN, "stop": stop, "log": log},
            {"folder": str(place), "overrides": WINDOW_RUN, "resume": True, "log": log},
        ]
    results = run_plan(folder, runs)
    assert results[0]["code"] == 0, (folder / "straight.log").read_text()
    return folder, {stop: results[1 + 2 * i : 3 + 2 * i] for i, stop in enumerate(WINDOW_STOPS)}


@pytest.mark.slow
@pytest.mark.parametrize("stop", WINDOW_STOPS)
def test_metrics_after_a_stop_between_log_lines_are_those_of_a_run_never_stopped(window_stops, stop):
    folder, results = window_stops
    (stopped, resumed), place = results[stop], folder / stop.replace(":", "-")
    log = Path(str(place) + ".log").read_text()
    assert stopped["code"] == EXIT[stop.split(":")[2]], log
    assert resumed["code"] == 0 and "Traceback" not in log, log
    assert_same_run(folder / "straight" / "exp", place / "exp")


@pytest.mark.slow
@pytest.mark.parametrize("stop", STOPS)
def test_resume_after_a_stop_is_bitwise_equal_to_a_run_never_stopped(stops, stop):
    folder, results = stops
    (stopped, resumed), place = results[stop], folder / stop.replace(":", "-")
    log = Path(str(place) + ".log").read_text()
    moment, _, name = stop.split(":")
    assert stopped["code"] == EXIT[name], log
    assert resumed["code"] == 0, log
    assert "Traceback" not in log
    if name in ("SIGINT", "SIGTERM"):
        assert f"dfcnn: stopped by {name} at epoch" in log and "state saved to" in log
    if name == "SIGINTx2":
        assert "dfcnn: interrupted" in log
    temp_files = [f for f in stopped["files"] if f.endswith(".tmp")]
    if moment == "save" and name == "SIGKILL":
        assert temp_files and f"removed {temp_files[0]}, left by a write that was killed" in log
    else:
        assert not temp_files  # a signal the process handles never leaves one
    if stop == "best:1:SIGKILL":
        assert "best.pt" not in stopped["files"] and "recovered" in log
    assert_same_run(folder / "straight" / "exp", place / "exp")


def torchrun(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """2 ranks started as ``dfcnn train --nproc 2`` starts them (``dfcnn.training.distributed.launch``)."""
    command = [sys.executable, str(STOPPABLE), "run", str(folder), *DDP_RUN, "--nproc", "2", *args]
    # one stream: the trainer's notes go to stdout, errors and the launcher's own lines to stderr
    return subprocess.run(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)


def reads_like_one_process(output: str) -> None:
    """No torch launcher traceback or log line: only dfcnn's own lines."""
    for words in ("Traceback", "ChildFailedError", "SignalException", "Connection closed by peer", "torch/distributed"):
        assert words not in output, output[-3000:]


# 2 ranks, 2 batches each an epoch; dev WER does not improve in epoch 2: patience 1 ends the run there
DDP_RUN = ["train.epochs=4", "train.patience=1", "train.save_every_steps=1"]


@pytest.mark.slow
def test_ddp_resume_is_bitwise_equal_and_early_stopping_ends_every_rank(tmp_path):
    straight = torchrun(tmp_path / "straight")
    assert straight.returncode == 0, straight.stdout[-3000:]
    assert "early stop after epoch 2" in straight.stdout
    records = [json.loads(line) for line in (tmp_path / "straight" / "exp" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if "dev_wer" in r] == [1, 2]

    # kill -9 of rank 0 after its optimizer step 3: rank 1 says it lost rank 0, the launcher exits 128 + 9
    killed = torchrun(tmp_path / "killed", "--stop", "step:3:SIGKILL", "--rank", "0")
    assert killed.returncode == 137, killed.stdout[-3000:]
    assert "dfcnn: error: rank 1 lost rank 0: state saved at step 2; resume with --resume\n" in killed.stdout
    assert "dfcnn: rank 0 was killed by SIGKILL; the other ranks stopped" in killed.stdout
    reads_like_one_process(killed.stdout)
    resumed = torchrun(tmp_path / "killed", "--resume")
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert "resumed" in resumed.stdout and "not bitwise" not in resumed.stdout
    assert_same_run(tmp_path / "straight" / "exp", tmp_path / "killed" / "exp")

    # SIGTERM to the launcher, which passes it on to both ranks: they agree on the step, save and exit 143
    stopped = torchrun(tmp_path / "stopped", "--stop", "step:3:SIGTERM:parent", "--rank", "1")
    assert stopped.returncode == 143
    assert stopped.stdout.count("dfcnn: stopped by SIGTERM at epoch 2, step 3: state saved to") == 2  # each rank
    reads_like_one_process(stopped.stdout)
    resumed = torchrun(tmp_path / "stopped", "--resume")
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert_same_run(tmp_path / "straight" / "exp", tmp_path / "stopped" / "exp")


@pytest.mark.slow
def test_ddp_stops_read_like_single_process_stops(tmp_path):
    """Ctrl-C to the launcher (a terminal sends it there: the ranks run in sessions of their own) and
    kill -9 of rank 1: a line each, and the launcher's exit code."""
    interrupted = torchrun(tmp_path / "interrupted", "--stop", "step:3:SIGINT:parent", "--rank", "0")
    assert interrupted.returncode == 130, interrupted.stdout[-3000:]
    assert interrupted.stdout.count("dfcnn: stopped by SIGINT at epoch 2, step 3: state saved to") == 2
    reads_like_one_process(interrupted.stdout)
    killed = torchrun(tmp_path / "killed", "--stop", "step:3:SIGKILL", "--rank", "1")
    assert killed.returncode == 137, killed.stdout[-3000:]
    assert "dfcnn: error: rank 0 lost rank 1: state saved at step 2; resume with --resume\n" in killed.stdout
    assert "dfcnn: rank 1 was killed by SIGKILL; the other ranks stopped" in killed.stdout
    reads_like_one_process(killed.stdout)


def session_processes(session: int) -> list[str]:
    """The live processes of a session (zombies, which hold nothing, left out), as "pid command"."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state, _, _, sid = stat[stat.rfind(")") + 2 :].split()[:4]
        if int(sid) == session and state != "Z":
            found.append(f"{entry.name} {command[:120]}")
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_no_process_outlives_its_trainer(tmp_path, stop):
    """The trainer with 2 audio workers is started in a session of its own: once it is killed (or has
    stopped on SIGTERM), nothing of that session is left: workers, forkserver, resource tracker."""
    tiny_yaml(tmp_path, "data.num_workers=2", "train.epochs=1000")
    trainer = subprocess.Popen(
        [sys.executable, "-m", "dfcnn", "train", "--quiet", "conf.yaml"],
        cwd=tmp_path,
        env=ENV,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics, deadline = tmp_path / "exp" / "metrics.jsonl", time.monotonic() + 180
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) >= 3):  # training under way
        assert trainer.poll() is None and time.monotonic() < deadline, trainer.communicate()[1][-3000:]
        time.sleep(0.2)
    assert len(session_processes(trainer.pid)) >= 5  # trainer, resource tracker, forkserver, 2 workers
    os.kill(trainer.pid, stop)
    _, stderr = trainer.communicate(timeout=60)
    assert trainer.returncode == (-9 if stop == signal.SIGKILL else 128 + stop)
    deadline = time.monotonic() + 5
    while session_processes(trainer.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert session_processes(trainer.pid) == []
    assert "leaked semaphore" not in stderr  # the workers' semaphore names went once they had started
    if stop == signal.SIGTERM:
        assert "dfcnn: stopped by SIGTERM" in stderr and "Traceback" not in stderr


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only): a disk that can be filled."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave: int) -> None:
    """Fill the file system of ``folder`` until ``leave`` bytes are free."""
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    with open(folder / "filler", "wb") as filler:
        filler.write(b"\0" * max(0, free - leave))


def test_a_full_disk_names_the_file_and_keeps_the_previous_checkpoint(tmp_path, small_disk):
    exp = small_disk / "exp"
    Trainer(tiny_config(tmp_path, f"exp_dir={exp}", "train.save_every_steps=1"), progress=False).run(max_steps=2)
    before = (exp / "last.pt").read_bytes()
    fill(small_disk, leave=16 * 1024)  # room for config.yaml and metrics lines, not for a 33 kB checkpoint
    tiny_yaml(tmp_path, f"exp_dir={exp}", "data.num_workers=2", "train.save_every_steps=1")
    result = subprocess.run(
        [sys.executable, "-m", "dfcnn", "train", "--quiet", "--resume", "conf.yaml"],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"dfcnn: error: no space left writing {exp / 'last.pt'}"]  # nothing leaked
    assert (exp / "last.pt").read_bytes() == before
    assert not list(exp.glob(".*.tmp"))
    (small_disk / "filler").unlink()  # space again: the run resumes from the intact checkpoint
    assert Trainer(tiny_config(tmp_path, f"exp_dir={exp}"), resume=True, progress=False).step == 2
