"""recipes/yesno/run.sh end to end, as a user runs a recipe: every stage, three epochs.

DATA and EXP point into a temporary folder and Python writes no bytecode, so the run leaves the
checkout as it was. Three epochs leave the model at CTC's blank stage (empty transcripts, 100 %
WER): what is checked is what a user relies on, not the model's quality: each stage's banner, the
``key=value`` override reaching ``dfcnn train``, the WER and CER tables printed and written, a
transcript line per example file, the LM, the decoder tuned on dev and the test set decoded four
ways with it. Stages 4-5 run in a second invocation on the first one's outputs, as ``--stage 4``
does for a user; they need KenLM.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import shared_corpus

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "yesno"
EPOCHS = 3
EXAMPLES = ("1_0_0_0_0_0_0_1", "1_1_1_1_1_1_1_1")  # the two files run.sh transcribes
TEST_SIZE = (29, 232, 805)  # utterances, words and characters of Kaldi's yesno test set

pytestmark = pytest.mark.slow


def snapshot(folder: Path) -> dict[str, int]:
    """Every file and folder below ``folder`` with its modification time."""
    return {str(path.relative_to(folder)): path.stat().st_mtime_ns for path in folder.rglob("*")}


def table_rows(text: str) -> dict[str, list[str]]:
    """``|test greedy|29|232|...|`` lines -> {"test greedy": ["29", "232", ...]} (WER table first)."""
    rows = {}
    for line in text.splitlines():
        cells = line.strip().strip("|").split("|")
        if line.startswith("|test") and cells[0] not in rows:
            rows[cells[0]] = cells[1:]
    return rows


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    corpus = shared_corpus("yesno")
    work = tmp_path_factory.mktemp("yesno")
    env = {**os.environ, "DATA": str(work / "data"), "EXP": str(work / "exp"), "PYTHON": sys.executable,
           "DFCNN_DATA": str(corpus.parent), "PYTHONDONTWRITEBYTECODE": "1"}
    before = snapshot(RECIPE)

    def run(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(["bash", str(RECIPE / "run.sh"), *args], capture_output=True, text=True, env=env,
                                cwd=work, timeout=900)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
        assert snapshot(RECIPE) == before, "run.sh wrote into the recipe folder despite DATA and EXP"
        return result

    first = run("--stop-stage", "3", f"train.epochs={EPOCHS}")
    return {"run": run, "first": first, "data": work / "data", "exp": work / "exp", "corpus": corpus}


def test_yesno_prepares_trains_evaluates_and_transcribes(recipe):
    out, data, exp = recipe["first"].stdout, recipe["data"], recipe["exp"]
    assert re.findall(r"^==== stage (\d) ", out, re.M) == ["0", "1", "2", "3"]
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl", "vocab.txt", ".done"):
        assert (data / name).is_file(), name
    # the override reached dfcnn train: exactly EPOCHS epochs, into EXP
    assert f"best checkpoint: {exp}/best.pt" in out
    assert (exp / f"epoch-{EPOCHS}.pt").is_file() and not (exp / f"epoch-{EPOCHS + 1}.pt").exists()
    assert re.search(rf"^  epochs: {EPOCHS}$", (exp / "config.yaml").read_text(), re.M)
    # the WER and CER tables, printed and in eval-test/results.md
    assert "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|" in out and "|dataset|Snt|Chr|" in out
    wer = table_rows(out)["test"]
    assert [int(wer[0]), int(wer[1])] == list(TEST_SIZE[:2])
    corr, sub, dele, ins, err = map(float, wer[2:7])
    assert corr + sub + dele == pytest.approx(100, abs=0.15) and err == pytest.approx(sub + dele + ins, abs=0.15)
    assert re.search(rf"^\|test\|{TEST_SIZE[0]}\|{TEST_SIZE[2]}\|", out, re.M)
    assert table_rows((exp / "eval-test" / "results.md").read_text())["test"] == wer
    assert len((exp / "eval-test" / "hyps.jsonl").read_text().splitlines()) == TEST_SIZE[0]
    # one PATH<TAB>TEXT line per example, the text spelt in the model's vocabulary
    letters = set((data / "vocab.txt").read_text().split()) - {"<blank>", "|"}
    transcripts = dict(line.split("\t") for line in out.splitlines() if "\t" in line)
    assert list(transcripts) == [str(recipe["corpus"] / "waves_yesno" / f"{name}.wav") for name in EXAMPLES]
    assert all(set(text) <= letters | {" "} for text in transcripts.values())


def test_yesno_lm_tuned_on_dev_and_four_decoders(recipe, kenlm):
    exp = recipe["exp"]
    out = recipe["run"]("--stage", "4").stdout
    assert re.findall(r"^==== stage (\d) ", out, re.M) == ["4", "5"]
    assert "2 words" in out and (exp / "lm" / "lm.bin").is_file()
    assert {line.split()[0] for line in (exp / "lm" / "lexicon.txt").read_text().splitlines()} == {"yes", "no"}
    best = json.loads((exp / "tune" / "best.json").read_text())
    assert (exp / "tune" / best["lm"]).resolve() == (exp / "lm" / "lm.bin").resolve()
    assert re.search(rf"^best: --lm-weight {best['lm_weight']:g} --word-score {best['word_score']:g}$", out, re.M)
    rows = table_rows(out)
    assert list(rows) == ["test greedy", "test beam", "test beam+lexicon", "test beam+lexicon+LM"]
    assert rows["test greedy"] == table_rows(recipe["first"].stdout)["test"]  # the same model, the same greedy
    assert table_rows((exp / "eval-test-decoders" / "results.md").read_text()) == rows
    # with the lexicon, only its two words can come out
    for line in (exp / "eval-test-decoders" / "hyps-beam-lexicon-LM.jsonl").read_text().splitlines():
        assert set(json.loads(line)["hyp"].split()) <= {"yes", "no"}
