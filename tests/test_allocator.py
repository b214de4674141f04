"""jemalloc for training: when dfcnn train reruns itself under it, how it is configured, how to opt out."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MISSING
from helpers import TINY_MODEL, tiny_yaml

from dfcnn.errors import ConfigError
from dfcnn.training import allocator
from dfcnn.training.allocator import JEMALLOC_CONF, find_jemalloc, jemalloc_environment

REPO = Path(__file__).resolve().parents[1]
# `python -c CLI train ...`: dfcnn's command line, which notes every pid that runs it and leaves the
# memory map of the process that finished in $ALLOCATOR_TEST_OUT (os.execve runs no atexit handlers)
CLI = """import atexit, os, sys
from pathlib import Path
out = Path(os.environ["ALLOCATOR_TEST_OUT"])
with open(out / "pids", "a") as pids:
    pids.write(f"{os.getpid()}\\n")
atexit.register(lambda: (out / "maps").write_text(Path("/proc/self/maps").read_text()))
from dfcnn.cli import main
sys.exit(main())
"""
needs_jemalloc = pytest.mark.skipif(
    find_jemalloc() is None, reason=f"{MISSING} libjemalloc.so.2 (make jemalloc, or apt-get install libjemalloc2)"
)


@pytest.fixture
def library(tmp_path):
    path = tmp_path / "libjemalloc.so.2"
    path.write_bytes(b"")
    return str(path)


def test_preloads_and_configures_jemalloc(library):
    env = jemalloc_environment({"DFCNN_JEMALLOC": library, "LD_PRELOAD": "/opt/other.so", "PATH": "/bin"})
    assert env["LD_PRELOAD"] == f"{library} /opt/other.so"  # first, and what was preloaded stays
    assert env["MALLOC_CONF"] == JEMALLOC_CONF
    assert env["PATH"] == "/bin"
    assert jemalloc_environment({"DFCNN_JEMALLOC": library, "DFCNN_ALLOCATOR": "jemalloc"}) is not None


def test_keeps_the_users_malloc_conf(library):
    env = jemalloc_environment({"DFCNN_JEMALLOC": library, "MALLOC_CONF": "narenas:1"})
    assert env["MALLOC_CONF"] == "narenas:1"


def test_opting_out_or_already_preloaded_or_absent_changes_nothing(library, tmp_path, monkeypatch):
    assert jemalloc_environment({"DFCNN_JEMALLOC": library, "DFCNN_ALLOCATOR": "system"}) is None
    assert jemalloc_environment({"DFCNN_JEMALLOC": library, "LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}) is None
    renamed = tmp_path / "je.so"  # a library by another name: its own path in LD_PRELOAD stops a second rerun
    renamed.write_bytes(b"")
    rerun = jemalloc_environment({"DFCNN_JEMALLOC": str(renamed)})
    assert rerun["LD_PRELOAD"] == str(renamed)
    assert jemalloc_environment(rerun) is None
    assert jemalloc_environment({"DFCNN_JEMALLOC": str(renamed), "LD_PRELOAD": f"/opt/a.so:{renamed}"}) is None
    monkeypatch.setattr(allocator, "LIBRARY_FOLDERS", ())
    assert find_jemalloc({}) is None
    assert jemalloc_environment({}) is None


def test_bad_settings_are_named(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="DFCNN_ALLOCATOR must be jemalloc or system, got 'tcmalloc'"):
        jemalloc_environment({"DFCNN_ALLOCATOR": "tcmalloc"})
    with pytest.raises(ConfigError, match="DFCNN_JEMALLOC: .*nothing.so is not a file"):
        jemalloc_environment({"DFCNN_JEMALLOC": str(tmp_path / "nothing.so")})
    monkeypatch.setattr(allocator, "LIBRARY_FOLDERS", ())
    with pytest.raises(ConfigError, match="DFCNN_ALLOCATOR=jemalloc: libjemalloc.so.2 not found .*libjemalloc2"):
        jemalloc_environment({"DFCNN_ALLOCATOR": "jemalloc"})


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    """A tiny training config (noise clips, a two-block model, one epoch, one audio worker)."""
    return tiny_yaml(tmp_path_factory.mktemp("allocator"), "data.num_workers=1", "train.epochs=1")


def dfcnn_train(config: Path, out: Path, **env) -> tuple[subprocess.CompletedProcess, list[str], str]:
    """Run ``dfcnn train config`` from the command line; returns (result, pids that ran the command line,
    the memory map of the process that finished)."""
    out.mkdir()
    unset = ("LD_PRELOAD", "MALLOC_CONF", "DFCNN_ALLOCATOR", "DFCNN_JEMALLOC")
    environment = {key: value for key, value in os.environ.items() if key not in unset}
    environment.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", ALLOCATOR_TEST_OUT=str(out), **env)
    command = [sys.executable, "-c", CLI, "train", str(config), "--quiet", f"exp_dir={out / 'exp'}", *TINY_MODEL]
    result = subprocess.run(command, capture_output=True, text=True, cwd=config.parent, env=environment)
    return result, (out / "pids").read_text().split(), (out / "maps").read_text()


@needs_jemalloc
def test_dfcnn_train_trains_under_jemalloc_in_the_same_process(config, tmp_path):
    result, pids, maps = dfcnn_train(config, tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert "best checkpoint:" in result.stdout  # the whole command ran again: argv and options kept
    assert len(pids) == 2 and pids[0] == pids[1]  # rerun once, in place
    assert "libjemalloc" in maps
    assert ", jemalloc\n" in result.stdout and not result.stderr  # said on the start-up line, not on stderr


def test_dfcnn_train_keeps_the_c_librarys_malloc_when_asked(config, tmp_path):
    result, pids, maps = dfcnn_train(config, tmp_path / "run", DFCNN_ALLOCATOR="system", DFCNN_JEMALLOC="/nothing")
    assert result.returncode == 0, result.stderr
    assert "best checkpoint:" in result.stdout  # overrides after options (exp_dir=..., the model) were taken
    assert len(pids) == 1 and "libjemalloc" not in maps
    assert "jemalloc" not in result.stderr and ", system malloc\n" in result.stdout


def test_dfcnn_train_names_a_bad_allocator_in_one_line(config, tmp_path):
    result, pids, maps = dfcnn_train(config, tmp_path / "run", DFCNN_ALLOCATOR="tcmalloc")
    assert result.returncode == 1
    assert result.stderr == "dfcnn: error: DFCNN_ALLOCATOR must be jemalloc or system, got 'tcmalloc'\n"
    assert len(pids) == 1 and "libjemalloc" not in maps
