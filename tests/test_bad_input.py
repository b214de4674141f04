"""Bad input gets one line naming the file (or option) and the problem, never a traceback, and never
after the work: bad text files, overrides, output paths, checkpoints and audio, and input that used to
be accepted without a word. The commands run in-process (``dfcnn.cli.main``) as a user types them."""

from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from helpers import tiny_config

from dfcnn.audio import load_audio
from dfcnn.checkpoint import load_checkpoint
from dfcnn.cli import main
from dfcnn.errors import AudioError, CheckpointError
from dfcnn.inference import Recognizer
from dfcnn.loading import load_model
from dfcnn.training.train import Trainer

HERE = Path(__file__).resolve().parent


@pytest.fixture
def experiment(tiny_experiment):
    """The session's tiny model (exp/), its corpus and conf.yaml, which trains it into new-exp/."""
    return tiny_experiment


@pytest.fixture
def dfcnn(capsys, monkeypatch):
    """dfcnn(*args) -> (exit code, stdout, stderr lines); a command that blocks (on a fifo) fails."""
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main() sets its own

    def timed_out(*_):
        raise AssertionError("the command blocked")

    def run(*args):
        previous = signal.signal(signal.SIGALRM, timed_out)
        signal.alarm(60)
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exit:  # argparse
            code = exit.code
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out, err.strip().splitlines()

    return run


def one_error(result, *parts) -> str:
    """The single error line of a failed command, checked to hold every one of ``parts``."""
    code, _, lines = result
    assert code == 1 and len(lines) == 1 and lines[0].startswith("dfcnn: error: "), lines
    for part in parts:
        assert str(part) in lines[0], lines[0]
    return lines[0]


# ---- text files that are not text ----

BAD_TEXT = {
    "binary": (lambda path: path.write_bytes(b"PK\x03\x04\x00\x00binary\x00data"), "is a binary file, not text"),
    "latin-1": (lambda path: path.write_bytes("caf\xe9 au lait\n".encode("latin-1")), ":1: the"),
    "fifo": (os.mkfifo, "is not a regular file (a pipe or a device)"),
    "folder": (lambda path: path.mkdir(), "is a folder"),
}


def text_file_commands(folder: Path, bad: Path) -> dict[str, list]:
    model, wav = folder / "exp" / "best.pt", folder / "utt0.wav"
    return {
        "config": ["train", bad],
        "train manifest": ["train", folder / "conf.yaml", f"data.train_manifest={bad}"],
        "vocabulary": ["train", folder / "conf.yaml", f"data.vocab={bad}"],
        "manifest": ["evaluate", "--model", model, "--manifest", bad, "--quiet"],
        "lexicon": ["transcribe", "--model", model, "--lexicon", bad, wav],
        "decoder config": ["transcribe", "--model", model, "--decoder-config", bad, wav],
    }


@pytest.mark.parametrize("kind", list(BAD_TEXT))
@pytest.mark.parametrize("role", ["config", "train manifest", "vocabulary", "manifest", "lexicon", "decoder config"])
def test_a_text_file_that_is_not_text_is_one_line_naming_it(experiment, tmp_path, dfcnn, kind, role):
    make, problem = BAD_TEXT[kind]
    bad = tmp_path / "bad.txt"
    make(bad)
    line = one_error(dfcnn(*text_file_commands(experiment, bad)[role]), bad)
    if kind == "latin-1":
        assert "not UTF-8 text (byte 0xe9)" in line
    elif kind == "folder":
        assert "a folder" in line
    else:
        assert problem in line or "not a regular file" in line


# ---- overrides and options that parse but are invalid: refused before any work, blamed on themselves ----


@pytest.mark.parametrize(
    "override, problem",
    [
        ("train.dev_every_epochs=0", "must be at least 1, got 0"),
        ("train.save_every_steps=0", "must be at least 1, got 0"),
        ("train.log_every_steps=0", "must be at least 1, got 0"),
        ("train.epochs=0", "must lie in [1, 100,000], got 0"),
        ("train.epochs=1000000000000000000000000000000", "must lie in [1, 100,000], got 1e+30"),
        ("data.max_batch_duration=0.001", "must lie in [1, 100000] seconds of padded audio a batch, got 0.001"),
        ("specaugment.freq_mask_width=1000000", "must be at most the 32 feature bins (features.n_mels)"),
        ("features.hop_ms=0", "must be a positive number of milliseconds"),
        ("features.win_ms=.nan", "expected float, got nan"),
        ("train.lr=-1e-3", "must be a positive number, got -0.001"),
        ("train.lr=.inf", "must be a positive number, got inf"),
        ("model.dropout=1.5", "must lie in [0, 1), got 1.5"),
        ("model.channels=[8.5,16,32,64]", "expected a list of int"),
        ("model.channels=[8,-16]", "must all be positive"),
        ("model.channels=many", "expected a list of int"),
        ("train.device=foo", "must be auto, cpu, cuda or cuda:N, got 'foo'"),
        ("data.num_workers=-1", "must be >= 0"),
        ("data.max_batch_duration=0", "must be a positive number of seconds"),
        ("specaugment.time_mask_max_ratio=2", "must lie in [0, 1]"),
        ("train.seed=100000000000000000000000", "must lie in [0, 2**63)"),
        ("features.n_mels=100000", "must lie in [1, 201]"),
        ("features.win_ms=1e9", "at most 1000"),
        ("exp_dir=", "must name a folder"),
    ],
)
def test_a_bad_override_is_refused_before_any_work_and_blamed_on_itself(experiment, dfcnn, override, problem):
    shutil.rmtree(experiment / "new-exp", ignore_errors=True)  # made by the tests of bad text files
    line = one_error(dfcnn("train", experiment / "conf.yaml", override))
    assert line.startswith(f"dfcnn: error: override {override!r}: "), line
    assert problem in line
    assert not (experiment / "new-exp").exists()


@pytest.mark.parametrize(
    "option, value, problem",
    [
        ("--chunk-seconds", "nan", "expected a positive finite number of seconds, got 'nan'"),
        ("--chunk-seconds", "inf", "expected a positive finite number of seconds, got 'inf'"),
        ("--chunk-seconds", "0", "expected a positive finite number of seconds, got '0'"),
        ("--max-batch-duration", "-5", "expected a positive finite number of seconds, got '-5'"),
        ("--device", "foo", "unknown device 'foo'"),
    ],
)
def test_a_bad_option_is_named_by_argparse(experiment, dfcnn, option, value, problem):
    code, _, lines = dfcnn(
        "transcribe", "--model", experiment / "exp" / "best.pt", option, value, experiment / "utt0.wav"
    )
    assert code == 2 and len(lines) == 1 and lines[0].startswith(f"dfcnn: error: argument {option}: {problem}"), lines
    assert lines[0].endswith(" (see 'dfcnn transcribe --help')")


@pytest.mark.parametrize(
    "args, message",
    [
        (["transcribe"], "the following arguments are required: PATH (see 'dfcnn transcribe --help')"),
        (["evaluate", "--model"], "argument --model: expected one argument (see 'dfcnn evaluate --help')"),
        (["trian"], "argument COMMAND: invalid choice: 'trian' (choose from "),
        (["train", "c.yaml", "--bogus"], "unrecognized arguments: --bogus (see 'dfcnn train --help')"),
    ],
)
def test_a_usage_error_is_one_line_pointing_at_help(dfcnn, args, message):
    code, out, lines = dfcnn(*args)
    assert code == 2 and out == "" and len(lines) == 1 and lines[0].startswith("dfcnn: error: "), lines
    assert message in lines[0]


def test_an_exp_dir_that_cannot_take_files_is_refused_before_any_work(experiment, tmp_path, dfcnn, monkeypatch):
    monkeypatch.setattr(Trainer, "_init_stats", lambda self: pytest.fail("work started"))
    (tmp_path / "file").write_text("x")
    one_error(dfcnn("train", experiment / "conf.yaml", f"exp_dir={tmp_path / 'file'}"), "is a file, not a folder")
    one_error(dfcnn("train", experiment / "conf.yaml", "exp_dir=/proc/exp"), "exp_dir /proc/exp cannot take files")


# ---- output paths that cannot take the output: refused before decoding ----


@pytest.fixture
def no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("decoding started before the output path was checked")

    monkeypatch.setattr(Recognizer, "transcribe_files", refuse)
    monkeypatch.setattr(Recognizer, "utterance_log_probs", refuse)


def mount_tmpfs(folder: Path, options: str) -> None:
    folder.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {made.stderr.decode().strip()}")


@pytest.fixture
def output_path(tmp_path, request):
    """An output folder that is a file, on a read-only file system, or on a full one."""
    kind = request.param
    if kind == "file":
        (tmp_path / "out").write_text("I am a file")
        yield tmp_path / "out", "is a file, not a folder"
        return
    mount = tmp_path / "disk"
    mount_tmpfs(mount, "size=64k,ro" if kind == "read-only" else "size=64k")
    if kind == "full":
        with open(mount / "filler", "wb") as filler, pytest.raises(OSError):
            filler.write(b"\0" * 128 * 1024)
            filler.flush()
    yield mount / "out", "read-only file system" if kind == "read-only" else "no space left"
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("output_path", ["file", "read-only", "full"], indirect=True)
@pytest.mark.parametrize(
    "command", ["transcribe --output-dir", "evaluate --out", "average --out", "report --out", "inspect --out"]
)
def test_an_output_path_that_cannot_take_files_fails_before_decoding(
    experiment, dfcnn, no_decoding, output_path, command
):
    out, problem = output_path
    model, wav = experiment / "exp" / "best.pt", experiment / "utt0.wav"
    args = {
        "transcribe --output-dir": ["transcribe", "--model", model, wav, "--format", "all", "--output-dir", out],
        "evaluate --out": ["evaluate", "--model", model, "--manifest", experiment / "train.jsonl", "--out", out],
        "average --out": ["average", model, model, "--out", out / "avg.pt"],
        "report --out": ["report", "--metrics", experiment / "exp" / "metrics.jsonl", "--out", out],
        "inspect --out": ["inspect", "--model", model, wav, "--out", out],
    }[command]
    one_error(dfcnn(*args), problem)


# ---- checkpoints that unpickle safely but are wrong ----


def variant(payload: dict, change: str) -> dict:
    payload = copy.deepcopy(payload)
    weights, tokenizer, stats = payload["model"], payload["tokenizer"], payload["feature_stats"]
    if change == "no model":
        del payload["model"]
    elif change == "no tokenizer":
        del payload["tokenizer"]
    elif change == "weights of another shape":
        weights["head.3.weight"] = torch.zeros(3, 16)
    elif change == "a weight missing":
        del weights["head.3.bias"]
    elif change == "a weight too many":
        weights["head.9.weight"] = torch.zeros(2)
    elif change == "tokens not a list":
        tokenizer["tokens"] = "<blank>ab"
    elif change == "no blank":
        tokenizer["tokens"][0] = "x"
    elif change == "a token short":
        tokenizer["tokens"].pop()
    elif change == "unknown normaliser":
        tokenizer["normalizer"] = "klingon"
    elif change == "all-NaN weights":
        for tensor in weights.values():
            if tensor.is_floating_point():
                tensor.fill_(float("nan"))
    elif change == "an infinite weight":
        weights["head.0.bias"][3] = float("inf")
    elif change == "zero std":
        stats["std"].zero_()
    elif change == "negative std":
        stats["std"][0] = -1.0
    elif change == "NaN mean":
        stats["mean"][1] = float("nan")
    elif change == "bad model config":
        payload["model_config"]["dropout"] = 3.0
    elif change == "unknown model config field":
        payload["model_config"]["depth"] = 12
    elif change == "bad feature config":
        payload["feature_config"]["hop_ms"] = 0
    elif change == "model not a dict":
        payload["model"] = [1, 2]
    elif change == "weight not a tensor":
        weights["head.3.bias"] = "zeros"
    return payload


CHECKPOINT_CHANGES = {
    "no model": "the checkpoint has no model",
    "no tokenizer": "the checkpoint has no tokenizer",
    "weights of another shape": "head.3.weight has shape (3, 16), but (4, 16)",
    "a weight missing": "the model lacks head.3.bias",
    "a weight too many": "'head.9.weight' that its model_config does not describe",
    "tokens not a list": "tokens are not a list of strings",
    "no blank": "bad tokenizer (the first token of a vocabulary must be '<blank>')",
    "a token short": "the tokenizer has 3 tokens but the model outputs 4",
    "unknown normaliser": "bad tokenizer (unknown text normalizer 'klingon'",
    "all-NaN weights": "holds NaN or infinite values",
    "an infinite weight": "head.0.bias holds NaN or infinite values",
    "zero std": "feature_stats std has zero or negative values",
    "negative std": "feature_stats std has zero or negative values",
    "NaN mean": "feature_stats mean holds NaN or infinite values",
    "bad model config": "model_config.dropout must lie in [0, 1), got 3.0",
    "unknown model config field": "model_config has an unknown field 'depth'",
    "bad feature config": "feature_config.hop_ms must be a positive number of milliseconds",
    "model not a dict": "model is a list, not a dict",
    "weight not a tensor": "head.3.bias is a str, not a tensor",
}


@pytest.mark.parametrize("change", list(CHECKPOINT_CHANGES))
def test_a_wrong_checkpoint_is_refused_on_one_line(experiment, tmp_path, dfcnn, change):
    path = tmp_path / "model.pt"
    torch.save(variant(torch.load(experiment / "exp" / "best.pt", weights_only=True), change), path)
    with pytest.raises(CheckpointError, match=f"^{path}: "):
        load_model(path)
    one_error(dfcnn("transcribe", "--model", path, experiment / "utt0.wav"), path, CHECKPOINT_CHANGES[change])


def test_a_file_that_is_no_checkpoint_is_named_for_what_it_is(experiment, tmp_path, dfcnn):
    from conftest import shared_corpus

    recording = sorted((shared_corpus("yesno") / "waves_yesno").glob("*.wav"))[0]
    wave, rate = soundfile.read(str(recording), dtype="float32")
    files = {
        "speech.wav": "a WAV audio file, not a dfcnn checkpoint",
        "speech.flac": "a FLAC audio file, not a dfcnn checkpoint",
        "speech.ogg": "an Ogg audio file (Vorbis or Opus), not a dfcnn checkpoint",
        "speech.mp3": "an MP3 audio file, not a dfcnn checkpoint",
        "conf.yaml": "a text file, not a dfcnn checkpoint",
        "model.onnx": "an ONNX model (dfcnn export), not a dfcnn checkpoint: run it with --backend onnx",
    }
    for name in files:
        if name.startswith("speech."):
            soundfile.write(str(tmp_path / name), wave, rate, **({"format": "MP3"} if name.endswith(".mp3") else {}))
    (tmp_path / "conf.yaml").write_text("train:\n  epochs: 3\n")
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(200))
    for name, problem in files.items():
        one_error(dfcnn("transcribe", "--model", tmp_path / name, recording), f"{tmp_path / name}: {problem}")


class RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_a_malicious_pickle_is_refused_without_advice_to_load_it_unsafely(experiment, tmp_path, dfcnn, how):
    path, marker = tmp_path / "evil.pt", tmp_path / "ran"
    payload = {"format": "dfcnn-checkpoint", "version": 1, "model": RunsCode(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    line = one_error(dfcnn("transcribe", "--model", path, experiment / "utt0.wav"), path, "refused", "system")
    assert "weights_only" not in line and "trusted source" not in line
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_training_run_does_not_resume_from_a_model_without_training_state(experiment, tmp_path, dfcnn):
    exp = tmp_path / "exp"
    exp.mkdir()
    payload = torch.load(experiment / "exp" / "best.pt", weights_only=True)
    del payload["training"]
    torch.save(payload, exp / "last.pt")
    one_error(dfcnn("train", experiment / "conf.yaml", f"exp_dir={exp}", "--resume"), "holds no training state")


# ---- input once accepted without a word ----


def test_an_empty_folder_to_transcribe_is_an_error(experiment, tmp_path, dfcnn):
    (tmp_path / "empty").mkdir()
    one_error(
        dfcnn("transcribe", "--model", experiment / "exp" / "best.pt", tmp_path / "empty"),
        tmp_path / "empty",
        "is a folder with no audio files in it (looked for .wav, .flac",
    )


def unreadable_paths(folder: Path) -> dict[str, str]:
    """Paths a batch may hold that are no audio file -> what their one line must say."""
    (folder / "x.wav").mkdir(parents=True)  # a folder named like audio, with nothing in it
    (folder / "loop.wav").symlink_to(folder / "loop2.wav")
    (folder / "loop2.wav").symlink_to(folder / "loop.wav")
    (folder / "gone.flac").symlink_to(folder / "nowhere.flac")
    os.mkfifo(folder / "pipe.mp3")
    (folder / "garbage.ogg").write_bytes(b"OggS" + bytes(range(256)) * 20)
    return {
        "x.wav": "is a folder with no audio files in it (looked for .wav",
        "loop.wav": "a symlink loop (following its links leads back to a link already followed)",
        "gone.flac": f"a broken symlink (to {folder / 'nowhere.flac'}, which does not exist)",
        "pipe.mp3": "not a regular file (a pipe or a device)",
        "garbage.ogg": "not a readable audio file",
    }


def test_a_batch_reports_each_unreadable_path_in_a_line_and_transcribes_the_rest(experiment, tmp_path, dfcnn):
    from conftest import shared_corpus

    recordings = sorted((shared_corpus("fsdd") / "recordings").glob("*.wav"))[:3]
    problems = unreadable_paths(tmp_path / "bad")
    paths = [recordings[0], *(tmp_path / "bad" / name for name in problems), *recordings[1:], tmp_path / "missing.wav"]
    code, out, lines = dfcnn("transcribe", "--model", experiment / "exp" / "best.pt", *paths)
    assert code == 1
    assert [line.split("\t")[0] for line in out.splitlines()] == [str(path) for path in recordings]
    expected = [f"dfcnn: error: {tmp_path / 'bad' / name}: {problem}" for name, problem in problems.items()]
    expected.append(f"dfcnn: error: {tmp_path / 'missing.wav'}: no such file")
    assert len(lines) == len(expected) + 1, lines
    for line, start in zip(lines, expected):
        assert line.startswith(start), line
    assert lines[-1] == f"dfcnn: {len(expected)} of {len(paths)} files failed"


def test_a_folder_reports_the_broken_links_named_like_audio_in_it(experiment, tmp_path, dfcnn):
    from conftest import shared_corpus

    unreadable_paths(tmp_path)
    (tmp_path / "x.wav" / "real.wav").write_bytes(
        sorted((shared_corpus("fsdd") / "recordings").glob("*.wav"))[0].read_bytes()
    )
    code, out, lines = dfcnn("transcribe", "--model", experiment / "exp" / "best.pt", tmp_path)
    assert code == 1 and out.split("\t")[0] == str(tmp_path / "x.wav" / "real.wav")
    assert [line.split(": ")[2] for line in lines[:-1]] == [
        str(tmp_path / name) for name in ("garbage.ogg", "gone.flac", "loop.wav", "loop2.wav", "pipe.mp3")
    ]
    assert lines[-1] == "dfcnn: 5 of 6 files failed"


@pytest.mark.parametrize("name", ["x.wav", "loop.wav", "gone.flac", "pipe.mp3", "garbage.ogg"])
def test_a_single_file_that_fails_is_one_line(experiment, tmp_path, dfcnn, name):
    problem = unreadable_paths(tmp_path)[name]
    for more in ([], ["--output-dir", tmp_path / "out"]):
        one_error(
            dfcnn("transcribe", "--model", experiment / "exp" / "best.pt", tmp_path / name, *more),
            f"{tmp_path / name}: {problem}",
        )


def bad_audio(folder: Path) -> dict[str, str]:
    """Files that are not usable audio -> what the error must say about each."""
    folder.mkdir(exist_ok=True)
    os.mkfifo(folder / "pipe.wav")
    (folder / "noise.mp3").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    soundfile.write(str(folder / "huge.wav"), np.full(16000, 1e30, np.float32), 16000, subtype="FLOAT")
    t = np.arange(16000) / 16000
    soundfile.write(
        str(folder / "int16.wav"), (30000 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000, subtype="FLOAT"
    )
    (folder / "empty.wav").write_bytes(b"")
    return {
        "pipe.wav": "not a regular file (a pipe or a device)",
        "noise.mp3": "not a readable audio file (unknown format or corrupt data",
        "huge.wav": "samples reach 1e+30, far outside [-1, 1]",
        "int16.wav": "samples reach 3e+04, far outside [-1, 1]: not audio at a level any recording has (a float "
        "file written with 16-bit integer values? divide them by 32768)",
        "empty.wav": "empty file (0 bytes)",
    }


def test_unusable_audio_is_named_with_what_is_wrong(experiment, tmp_path, dfcnn):
    expected = bad_audio(tmp_path)
    for name, problem in expected.items():
        with pytest.raises(AudioError) as caught:
            load_audio(tmp_path / name)
        assert str(caught.value).startswith(f"{tmp_path / name}: {problem}")
        assert "does not exist" not in str(caught.value) and "empty" not in str(caught.value) or name == "empty.wav"
    code, out, lines = dfcnn("transcribe", "--model", experiment / "exp" / "best.pt", *sorted(tmp_path.iterdir()))
    assert code == 1 and out == ""
    assert len(lines) == len(expected) + 1 and lines[-1] == f"dfcnn: {len(expected)} of {len(expected)} files failed"
    for line, name in zip(lines, sorted(expected)):
        assert line.startswith(f"dfcnn: error: {tmp_path / name}: {expected[name]}"), line
    with pytest.raises(AudioError, match="samples reach 1e\\+30"):
        load_model(experiment / "exp" / "best.pt").transcribe(np.full(8000, 1e30, np.float32))


def test_evaluate_warns_about_references_it_cannot_score_fairly(experiment, tmp_path, dfcnn):
    lines = [json.loads(line) for line in (experiment / "train.jsonl").read_text().splitlines()]
    for line in lines:
        line["audio_filepath"] = str(experiment / line["audio_filepath"])
    lines[0]["text"], lines[1]["text"] = "", "?!"  # nothing left after normalisation
    lines[2]["text"] = "xyz ab"  # x, y, z: not in the vocabulary
    lines[3]["duration"], lines[4]["duration"] = 3600.0, 0.01
    manifest = tmp_path / "odd.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out, err = dfcnn("evaluate", "--model", experiment / "exp" / "best.pt", "--manifest", manifest, "--quiet")
    assert code == 0 and "|odd|8|" in out
    assert err == [
        f"dfcnn: warning: {manifest}: 2 of 8 references are empty after normalisation (their hypotheses' words all "
        "count as insertions): utt0, utt1",
        f"dfcnn: warning: {manifest}: 1 of 8 references have characters outside the model's vocabulary, which it "
        "can never write (e.g. character 'x' is not in the vocabulary): utt2",
        f"dfcnn: warning: {manifest}: 2 of 8 durations disagree with their audio: utt3 (3600 s, audio 0.8 s), "
        "utt4 (0.01 s, audio 0.9 s)",
    ]


def test_tabs_and_newlines_in_file_names_do_not_break_path_tab_text_lines(experiment, tmp_path, dfcnn):
    names = ["a\tb.wav", "c\nd.wav", "e\\f.wav"]
    for name in names:
        (tmp_path / name).write_bytes((experiment / "utt0.wav").read_bytes())
    code, out, _ = dfcnn("transcribe", "--model", experiment / "exp" / "best.pt", *(tmp_path / n for n in names))
    assert code == 0
    paths = [line.split("\t")[0] for line in out.splitlines()]
    assert paths == [str(tmp_path / n).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n") for n in names]


def test_file_names_that_are_not_utf8_are_read_and_written_escaped(experiment, tmp_path, dfcnn):
    name = os.fsdecode(b"caf\xe9.wav")
    (tmp_path / name).write_bytes((experiment / "utt0.wav").read_bytes())
    code, out, _ = dfcnn("transcribe", "--model", experiment / "exp" / "best.pt", tmp_path / name, "--with-path")
    assert code == 0 and out.startswith(f"{tmp_path}/caf\\xe9.wav\t")
    code, out, _ = dfcnn("transcribe", "--model", experiment / "exp" / "best.pt", tmp_path / name, "--format", "json")
    assert code == 0 and os.fsencode(json.loads(out)["audio_filepath"]) == os.fsencode(tmp_path / name)
    code, _, _ = dfcnn(
        "transcribe",
        "--model",
        experiment / "exp" / "best.pt",
        tmp_path / name,
        "--format",
        "all",
        "--output-dir",
        tmp_path / "out",
    )
    assert code == 0 and json.loads((tmp_path / "out" / os.fsdecode(b"caf\xe9.json")).read_text())["text"] is not None


# ---- unreadable training audio ----


def test_unreadable_training_audio_is_skipped_named_and_counted_without_a_worker_traceback(tmp_path, capfd):
    config = tiny_config(tmp_path, "data.num_workers=1", "train.epochs=1")
    manifest = tmp_path / "train.jsonl"
    (tmp_path / "utt3.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")  # cut short after the header
    trainer = Trainer(config, progress=False)
    trainer.run()
    assert list(trainer.bad_audio) == ["utt3"]
    err = "".join(capfd.readouterr())  # the trainer's notes go to stdout, a worker's traceback would go to stderr
    assert "Traceback" not in err
    assert f"skipped unreadable training utterance utt3: {tmp_path / 'utt3.wav'}: not a readable audio file" in err
    assert "1 dev utterances could not be read and were left out of the dev score" in err
    assert json.loads((tmp_path / "exp" / "metrics.jsonl").read_text().splitlines()[-1])["bad_audio"] == 1
    with pytest.raises(
        AudioError, match=f"{tmp_path / 'utt3.wav'}: .*training utterance utt3; data.skip_bad_audio=true skips it"
    ):
        Trainer(
            tiny_config(tmp_path / "strict", f"data.train_manifest={manifest}", "data.skip_bad_audio=false"),
            progress=False,
        ).run()


def test_no_command_prints_a_traceback_for_odd_arguments(experiment, tmp_path):
    """A few whole commands as a user would run them, in a fresh process."""
    model = experiment / "exp" / "best.pt"
    (tmp_path / "notes.txt").write_text("not audio")
    for args in (
        ["transcribe", "--model", experiment / "train.jsonl", experiment / "utt0.wav"],
        ["transcribe", "--model", tmp_path, experiment / "utt0.wav"],
        ["evaluate", "--model", model, "--manifest", model],
        ["average", "--out", tmp_path / "a.pt", experiment / "train.jsonl"],
        ["train", experiment / "conf.yaml", "train.init_from=" + str(tmp_path)],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "dfcnn", *map(str, args)], capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
