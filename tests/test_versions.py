"""The torch / torchaudio pair: a mismatch is one line naming both versions and the fix."""

import subprocess
import sys

import pytest
from helpers import tiny_yaml

from dfcnn.versions import installed_version, torch_pair_problem


def test_matching_releases_pass_whatever_their_build_tag():
    assert torch_pair_problem("2.11.0+cu130", "2.11.0+cu130") is None
    assert torch_pair_problem("2.11.0+cpu", "2.11.0") is None


@pytest.mark.parametrize("torch_version, torchaudio_version", [("2.11.0", "2.11.1"), ("2.11.0+cu130", "2.10.0")])
def test_a_mismatch_names_both_versions_and_the_fix(torch_version, torchaudio_version):
    problem = torch_pair_problem(torch_version, torchaudio_version)
    assert torch_version in problem and torchaudio_version in problem
    assert "make setup" in problem and "pip install torchaudio==" + torch_version.split("+")[0] in problem
    assert "\n" not in problem


def test_missing_packages_are_named():
    assert "torch is not installed" in torch_pair_problem(None, None)
    assert "torchaudio is not installed" in torch_pair_problem("2.11.0", None)


def test_import_dfcnn_loads_neither_torch_nor_torchaudio():
    code = "import sys, dfcnn; print('torch' in sys.modules, 'torchaudio' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["False", "False"], result.stderr


def test_help_of_every_command_loads_no_torch():
    """The parser takes its defaults from dfcnn.options, so --help answers without torch's seconds."""
    code = (
        "import contextlib, io, sys\n"
        "from dfcnn.cli import build_parser\n"
        "parser = build_parser()\n"
        "commands = parser._subparsers._group_actions[0].choices\n"
        "for argv in [['--help']] + [[name, '--help'] for name in commands]:\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        parser.parse_args(argv)\n"
        "print(len(commands), 'torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    count, torch_loaded = result.stdout.split()
    assert int(count) >= 8 and torch_loaded == "False", result.stderr


def test_cli_with_a_mismatched_torchaudio_prints_one_line(tmp_path):
    """A torchaudio of another release earlier on the path (as pip leaves it when it installs 2.11.1
    beside torch 2.11.0): the command stops before loading it, with one line."""
    conf = tiny_yaml(tmp_path)
    fake = tmp_path / "site" / "torchaudio-9.9.9.dist-info"
    fake.mkdir(parents=True)
    (fake / "METADATA").write_text("Metadata-Version: 2.1\nName: torchaudio\nVersion: 9.9.9\n")
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "dfcnn", "train", conf, "--quiet"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"torch {installed_version('torch')} and torchaudio 9.9.9 do not match" in lines[0]
