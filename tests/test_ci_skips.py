"""A test skipped because a dependency is missing passes for a user's ``make test-fast``, and fails
under CI (CI=true), which installs every dependency; other skips stay skips (conftest.py's hooks)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

PROBES = {
    "test_probe_tests.py": (
        "import pytest\n"
        "from conftest import missing\n\n"
        "def test_needs_a_corpus():\n"
        "    missing('corpus x not found')\n\n"
        "def test_needs_root():\n"
        "    pytest.skip('cannot mount a tmpfs (needs root)')\n\n"
        "def test_runs():\n"
        "    pass\n"
    ),
    "test_probe_module.py": (
        "import pytest\n\npytest.importorskip('no_such_module_for_dfcnn')\n\ndef test_x():\n    pass\n"
    ),
}


def run_pytest(folder: Path, ci: str | None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), str(TESTS.parent)])
    if ci is not None:
        env["CI"] = ci
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rA",
        "-p",
        "conftest",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(folder),
        str(folder),
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder, timeout=120)


@pytest.fixture
def probes(tmp_path) -> Path:
    for name, text in PROBES.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_without_ci_a_missing_dependency_is_a_skip(probes):
    result = run_pytest(probes, None)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 3 skipped" in result.stdout


def test_under_ci_a_missing_dependency_fails_and_other_skips_stay(probes):
    result = run_pytest(probes, "true")
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 passed, 2 skipped" in result.stdout
    assert "FAILED test_probe_tests.py::test_needs_a_corpus" in result.stdout
    assert "SKIPPED [1] test_probe_tests.py" in result.stdout and "needs root" in result.stdout
    assert "this module was skipped) test_probe_module.py: could not import 'no_such_module_for_dfcnn'" in result.stdout
