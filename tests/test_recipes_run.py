"""recipes/yesno/run.sh end to end, as a user runs a recipe: every stage, three epochs.

DATA and EXP point into a temporary folder and Python writes no bytecode, so the run leaves the
checkout as it was. Three epochs leave the model at CTC's blank stage (empty transcripts, 100 %
WER): what is checked is what a user relies on, not the model's quality: each stage's banner, the
``key=value`` override reaching ``dfcnn train``, the WER and CER tables printed and written, a
transcript line per example file, the LM, the decoder tuned on dev and the test set decoded four
ways with it. Stages 4-5 run in a second invocation on the first one's outputs, as ``--stage 4``
does for a user; they need KenLM.

recipes/aishell3_SSB0139/run.sh's training stage fine-tunes the shipped mandarin model, its missing
syllables added (one epoch; slow).

Every run.sh is also run with ``--stage 99`` (it names only stages that exist) and ``-h``, and
recipes/stages.sh is tested on a recipe of its own whose ``dfcnn`` only prints its arguments.
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

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
RECIPE = RECIPES / "yesno"
EPOCHS = 3
EXAMPLES = ("1_0_0_0_0_0_0_1", "1_1_1_1_1_1_1_1")  # the two files run.sh transcribes
TEST_SIZE = (29, 232, 805)  # utterances, words and characters of Kaldi's yesno test set


def clean_env() -> dict[str, str]:
    """This process's environment without the variables that move a recipe's folders."""
    return {key: value for key, value in os.environ.items() if key not in ("DATA", "EXP", "DATA_DIR", "DOWNLOAD_DIR")}


def recipe_env(work: Path, corpora: Path) -> dict[str, str]:
    """A run.sh environment: DATA and EXP under ``work``, the shared corpora at ``corpora``, no bytecode."""
    return {
        **clean_env(),
        "DATA": str(work / "data"),
        "EXP": str(work / "exp"),
        "PYTHON": sys.executable,
        "DFCNN_DATA": str(corpora),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


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
def yesno(tmp_path_factory):
    corpus = shared_corpus("yesno")
    work = tmp_path_factory.mktemp("yesno")
    env = recipe_env(work, corpus.parent)
    before = snapshot(RECIPE)

    def run(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["bash", str(RECIPE / "run.sh"), *args], capture_output=True, text=True, env=env, cwd=work, timeout=900
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
        assert snapshot(RECIPE) == before, "run.sh wrote into the recipe folder despite DATA and EXP"
        return result

    first = run("--stop-stage", "3", f"train.epochs={EPOCHS}")
    return {"run": run, "first": first, "data": work / "data", "exp": work / "exp", "corpus": corpus}


@pytest.mark.slow
def test_yesno_prepares_trains_evaluates_and_transcribes(yesno):
    recipe = yesno
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


@pytest.mark.slow
def test_yesno_lm_tuned_on_dev_and_four_decoders(yesno, kenlm):
    recipe = yesno
    exp = recipe["exp"]
    out = recipe["run"]("--stage", "4").stdout
    assert re.findall(r"^==== stage (\d) ", out, re.M) == ["4", "5"]
    assert "2 words" in out and (exp / "lm" / "lm.bin").is_file()
    assert {line.split()[0] for line in (exp / "lm" / "lexicon.txt").read_text().splitlines()} == {"yes", "no"}
    best = json.loads((exp / "tune" / "best.json").read_text())
    assert (exp / "tune" / best["lm"]).resolve() == (exp / "lm" / "lm.bin").resolve()
    assert (exp / "decoder.json").is_file()  # shipped: the model decodes with it wherever it is loaded
    weights = f"--lm-weight {best['lm_weight']:g} --word-score {best['word_score']:g}"
    chosen = f"{weights} --blank-penalty {best['blank_penalty']:g}"
    assert re.search(rf"^best: {chosen}$", out, re.M)
    rows = table_rows(out)
    assert list(rows) == ["test greedy", "test beam", "test beam+lexicon", "test beam+lexicon+LM"]
    assert rows["test greedy"] == table_rows(recipe["first"].stdout)["test"]  # the same model, the same greedy
    assert table_rows((exp / "eval-test-decoders" / "results.md").read_text()) == rows
    # with the lexicon, only its two words can come out
    for line in (exp / "eval-test-decoders" / "hyps-beam-lexicon-LM.jsonl").read_text().splitlines():
        assert set(json.loads(line)["hyp"].split()) <= {"yes", "no"}


@pytest.mark.parametrize("run_sh", sorted(RECIPES.glob("*/run.sh")), ids=lambda path: path.parent.name)
def test_every_run_sh_names_existing_stages_and_has_help(run_sh):
    nothing = subprocess.run(["bash", str(run_sh), "--stage", "99"], capture_output=True, text=True, timeout=60)
    assert nothing.returncode == 0 and nothing.stdout == "" and nothing.stderr == "", nothing.stderr
    usage = subprocess.run(["bash", str(run_sh), "-h"], capture_output=True, text=True, timeout=60)
    assert usage.returncode == 0 and usage.stdout.startswith(run_sh.read_text().splitlines()[1][2:])
    assert "Every run.sh:" in usage.stdout and "DATA " in usage.stdout and "EXP " in usage.stdout


FAKE_RUN_SH = """source "{stages}" "$@"
dfcnn() {{ echo "dfcnn $*"; }}  # the command lines the stages would run
stage_hello() {{ echo "hello DATA=$DATA EXP=$EXP"; }}
TUNE_ARGS=(--lm-weights 1,2)
standard_stages hello train decoders
"""


def run_fake(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """A recipe folder in tmp_path whose run.sh runs stages.sh's train and decoders stages with a
    ``dfcnn`` that prints its arguments; started from tmp_path/elsewhere."""
    folder = tmp_path / "fake"
    folder.mkdir(exist_ok=True)
    (folder / "run.sh").write_text(FAKE_RUN_SH.format(stages=RECIPES / "stages.sh"))
    (tmp_path / "elsewhere").mkdir(exist_ok=True)
    return subprocess.run(
        ["bash", str(folder / "run.sh"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path / "elsewhere",
        env={**clean_env(), **env},
    )


def test_stages_numbered_selected_and_forwarded(tmp_path):
    everything = run_fake(tmp_path, "train.epochs=2", "model.channels=[8,16]")
    assert everything.returncode == 0, everything.stderr
    lines = [re.sub(r" \(\d\d:\d\d:\d\d\)", "", line) for line in everything.stdout.splitlines()]
    assert lines == [
        "==== stage 0 ====",
        "hello DATA=data EXP=exp",  # the defaults: data/ and exp in the recipe folder
        "==== stage 1 ====",
        "dfcnn train conf.yaml --resume exp_dir=exp train.epochs=2 model.channels=[8,16]",
        "==== stage 2 ====",
        "dfcnn tune --model exp/best.pt --manifest data/dev.jsonl --lm exp/lm/lm.bin --out exp/tune --ship --quiet "
        "--lm-weights 1,2",
        "dfcnn evaluate --model exp/best.pt --manifest data/test.jsonl --decoder-config exp/tune/best.json "
        "--compare --out exp/eval-test-decoders --quiet",
    ]
    # DATA and EXP relative to where run.sh is started; the train stage points conf.yaml at them
    moved = run_fake(tmp_path, "--stage", "1", "--stop-stage", "1", DATA="d", EXP="/abs/e")
    data = tmp_path / "elsewhere" / "d"
    assert moved.stdout.splitlines()[1:] == [
        f"dfcnn train conf.yaml --resume data.train_manifest={data}/train.jsonl data.dev_manifest={data}/dev.jsonl "
        f"data.vocab={data}/vocab.txt exp_dir=/abs/e"
    ]
    assert run_fake(tmp_path, "--stage=2", "--stop-stage=1").stdout == ""


def test_stages_refuse_unknown_options_and_stages(tmp_path):
    for args in (["--epochs", "2"], ["epochs"]):
        result = run_fake(tmp_path, *args)
        assert result.returncode == 2 and result.stderr.startswith(f"error: unknown option {args[0]} ")
    (tmp_path / "fake" / "run.sh").write_text(f'source "{RECIPES / "stages.sh"}" "$@"\nstandard_stages prepare trian\n')
    result = subprocess.run(["bash", str(tmp_path / "fake" / "run.sh")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "names a stage 'trian'" in result.stderr and "====" not in result.stdout


@pytest.mark.slow
def test_aishell3_fine_tunes_the_shipped_mandarin_model_with_the_syllables_it_lacks(tmp_path):
    from dfcnn.checkpoint import load_checkpoint
    from dfcnn.shipped import find_shipped

    corpus = shared_corpus("aishell3_SSB0139")
    result = subprocess.run(
        ["bash", str(RECIPES / "aishell3_SSB0139" / "run.sh"), "--stop-stage", "1", "train.epochs=1"],
        capture_output=True,
        text=True,
        env=recipe_env(tmp_path, corpus.parent),
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    base = load_checkpoint(find_shipped("mandarin").folder / "best.pt")
    tuned = load_checkpoint(tmp_path / "exp" / "best.pt")
    added = tuned["tokenizer"]["tokens"][len(base["tokenizer"]["tokens"]) :]
    assert tuned["tokenizer"]["tokens"][: len(base["tokenizer"]["tokens"])] == base["tokenizer"]["tokens"]
    assert len(added) > 10 and {"bing3", "o2"} <= set(added)  # syllables SSB0139 reads and mandarin lacks
    assert f"--new-tokens: {' '.join(added[:20])}" in result.stderr
    assert tuned["model_config"] == {**base["model_config"], "vocab_size": len(tuned["tokenizer"]["tokens"])}
    assert tuned["config"]["train"]["epochs"] == 1  # the command line's override came after the recipe's 30
    assert tuned["config"]["train"]["lr"] == pytest.approx(1e-3)
