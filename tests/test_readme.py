"""The README and docs/ say what works: every `dfcnn` command they show in a code block parses with
today's CLI (an option that was renamed or dropped fails here), and every relative link and
contents anchor they hold leads somewhere.

Commands are parsed in this process by ``dfcnn.cli.main`` with each command's action replaced, so
nothing runs: no model is loaded and no file is read.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from dfcnn import cli

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "bench" / "README.md"]
SHELL_BREAKS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "2>&1", "&"}  # a command line ends at these
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")  # DFCNN_ALLOCATOR=system dfcnn train ...
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of each line inside a fenced (```) or indented (4 spaces) code block,
    with backslash continuations joined onto the line that starts the command."""
    lines, fenced, previous_blank = [], False, True
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced:
            lines.append((number, line))
        elif line.startswith("    ") and (previous_blank or (lines and lines[-1][0] == number - 1)):
            lines.append((number, line[4:]))
        previous_blank = not line.strip()
    joined: list[tuple[int, str]] = []
    for number, line in lines:
        if joined and joined[-1][1].endswith("\\") and joined[-1][2] == number - 1:
            start, head, _ = joined[-1]
            joined[-1] = (start, head[:-1] + " " + line.strip(), number)
        else:
            joined.append((number, line.rstrip(), number))
    return [(number, line) for number, line, _ in joined]


def dfcnn_argv(line: str) -> list[str] | None:
    """The arguments after ``dfcnn`` (or ``python -m dfcnn``) of a shell line, without a prompt,
    leading environment assignments, comments and what follows a pipe or redirection; None when the
    line runs something else."""
    line = line.strip().removeprefix("$ ")
    try:
        words = shlex.split(line, comments=True)
    except ValueError:  # not shell (a YAML or Python line with an unbalanced quote)
        return None
    while words and ENV_ASSIGNMENT.match(words[0]):
        words.pop(0)
    if words[:1] == ["dfcnn"]:
        words = words[1:]
    elif len(words) >= 3 and words[0].endswith("python") and words[1:3] == ["-m", "dfcnn"]:
        words = words[3:]
    else:
        return None
    for index, word in enumerate(words):
        if word in SHELL_BREAKS or word.startswith((">", "2>")):
            return words[:index]
    return words


def shown_commands() -> list[tuple[str, list[str]]]:
    found = []
    for page in PAGES:
        for number, line in code_lines(page.read_text(encoding="utf-8")):
            argv = dfcnn_argv(line)
            if argv is not None:
                found.append((f"{page.relative_to(REPO)}:{number}", argv))
    return found


def parse_as_main_does(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """``cli.main(argv)`` with every command's action replaced by one that returns 0: the exit code is
    2 (and stderr holds the usage error) exactly when the real command line would be refused."""
    build = cli.build_parser

    def parser_that_runs_nothing() -> argparse.ArgumentParser:
        parser = build()
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        for command in commands.choices.values():
            command.set_defaults(run=lambda args: 0)
        return parser

    monkeypatch.setattr(cli, "build_parser", parser_that_runs_nothing)
    try:
        return cli.main(argv)
    except SystemExit as stop:
        return stop.code


COMMANDS = shown_commands()


def test_the_pages_show_commands():
    assert len(COMMANDS) >= 30, [where for where, _ in COMMANDS]  # the extraction found the README's blocks
    assert {argv[0] for _, argv in COMMANDS} >= {"train", "transcribe", "evaluate", "serve", "export", "inspect"}


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_shown_command_parses(where, argv, monkeypatch, capsys):
    code = parse_as_main_does(argv, monkeypatch)
    assert code == 0, f"{where}: dfcnn {shlex.join(argv)}\n{capsys.readouterr().err}"


@pytest.mark.parametrize(
    "line",
    [
        "dfcnn transcribe --model exp/ --no-such-flag speech.flac",
        "dfcnn train conf.yaml --restart",
        "dfcnn serve --port",  # --port needs a value
        "dfcnn no-such-command",
    ],
)
def test_a_wrong_command_is_caught(line, monkeypatch, capsys):
    assert parse_as_main_does(dfcnn_argv(line), monkeypatch) == 2
    assert "dfcnn: error:" in capsys.readouterr().err


def test_extraction_of_shell_lines():
    text = "x\n\n```bash\nFOO=1 dfcnn transcribe --model m \\\n    a.wav > out.txt   # note\necho hi\n```\n"
    assert [dfcnn_argv(line) for _, line in code_lines(text)] == [["transcribe", "--model", "m", "a.wav"], None]
    assert dfcnn_argv("$ python -m dfcnn train c.yaml train.lr=1e-3") == ["train", "c.yaml", "train.lr=1e-3"]


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_links_lead_somewhere(page):
    text = page.read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    anchors = {github_anchor(m) for m in re.findall(r"^#+ (.+)$", prose, flags=re.M)}
    broken = []
    for target in LINK.findall(prose):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        if path and not (page.parent / path).exists():
            broken.append(target)
        elif not path and fragment not in anchors:
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)}: links to nothing: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_no_machine_paths(page):
    text = page.read_text(encoding="utf-8")
    assert not re.findall(r"(?<![\w.])/(?:work|tmp|home|root)/\S*", text), page.relative_to(REPO)
