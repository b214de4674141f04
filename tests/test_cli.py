"""The dfcnn command as a user runs it: a subprocess, its output and its exit code."""

import json
import subprocess
import sys

import pytest


def dfcnn(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "dfcnn", *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def experiment(tiny_experiment):
    """The session's tiny model (exp/) and its corpus."""
    return tiny_experiment


def test_evaluate_prints_table_and_writes_alignments(experiment):
    out = experiment / "eval"
    result = dfcnn(
        "evaluate",
        "--model",
        experiment / "exp" / "best.pt",
        "--manifest",
        experiment / "train.jsonl",
        "--out",
        out,
        "--quiet",
    )
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


def test_transcribe_uses_what_decodes_of_files_cut_short_and_says_so(experiment, tmp_path):
    import soundfile
    from conftest import shared_corpus

    recording = sorted((shared_corpus("cathy_arctic") / "data_16k").glob("*.opus"))[0]
    wave, rate = soundfile.read(str(recording), dtype="float32")
    cut = []
    for extension, options in (("flac", {}), ("mp3", {"format": "MP3", "subtype": "MPEG_LAYER_III"})):
        full = tmp_path / f"full.{extension}"
        soundfile.write(str(full), wave, rate, **options)
        cut.append(tmp_path / f"cut.{extension}")
        cut[-1].write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    result = dfcnn("transcribe", "--model", experiment / "exp" / "best.pt", *cut)
    assert result.returncode == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == [str(path) for path in cut]
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2, result.stderr
    for path, line in zip(cut, warnings):
        assert line.startswith(f"dfcnn: warning: {path}: cut short or damaged (") and " of the 3.30 s " in line


def test_no_transcript_overwrites_another_inputs(experiment, tmp_path):
    """yes.mp3 and yes.ogg in one folder, and a yes.wav below it: three transcripts, all counted."""
    import soundfile
    from conftest import shared_corpus

    recording = sorted((shared_corpus("yesno") / "waves_yesno").glob("*.wav"))[0]
    wave, rate = soundfile.read(str(recording), dtype="float32")
    (tmp_path / "in" / "more").mkdir(parents=True)
    soundfile.write(str(tmp_path / "in" / "yes.mp3"), wave, rate, format="MP3")
    soundfile.write(str(tmp_path / "in" / "yes.ogg"), wave, rate)
    soundfile.write(str(tmp_path / "in" / "more" / "yes.wav"), wave, rate)
    out = tmp_path / "out"
    result = dfcnn(
        "transcribe",
        "--model",
        experiment / "exp" / "best.pt",
        tmp_path / "in",
        "--format",
        "json",
        "--output-dir",
        out,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"3 transcripts (json) written to {out}"]
    written = {path.name: json.loads(path.read_text())["audio_filepath"] for path in out.iterdir()}
    inputs = [tmp_path / "in" / "yes.mp3", tmp_path / "in" / "yes.ogg", tmp_path / "in" / "more" / "yes.wav"]
    assert written == {f"{path.name}.json": str(path) for path in inputs}


def test_transcribe_folder_to_every_format(experiment, tmp_path):
    audio = tmp_path / "audio" / "nested"
    audio.mkdir(parents=True)
    for name in ("utt2.wav", "utt3.wav"):
        (audio / name).write_bytes((experiment / name).read_bytes())
    out = tmp_path / "out"
    result = dfcnn(
        "transcribe",
        "--model",
        experiment / "exp" / "best.pt",
        tmp_path / "audio",
        "--format",
        "all",
        "--output-dir",
        out,
        "--beam-size",
        "4",
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"utt{i}.{f}" for i in (2, 3) for f in ("txt", "json", "srt", "vtt", "tsv")
    )
    state = json.loads((out / "utt2.json").read_text())
    assert state["audio_filepath"].endswith("utt2.wav") and state["duration"] > 0
    for word in (w for s in state["segments"] for w in s["words"]):
        assert 0 <= word["start"] <= word["end"] <= state["duration"] and 0 <= word["confidence"] <= 1
    assert (out / "utt2.vtt").read_text().startswith("WEBVTT")
    assert (out / "utt2.tsv").read_text().startswith("start\tend\ttext")


def test_transcribe_one_file_to_stdout_as_json_and_srt(experiment):
    model, audio = experiment / "exp" / "best.pt", experiment / "utt0.wav"
    as_json = dfcnn("transcribe", "--model", model, audio, "--format", "json", "--quiet")
    assert as_json.returncode == 0, as_json.stderr
    text = json.loads(as_json.stdout)["text"]
    as_txt = dfcnn("transcribe", "--model", model, audio, "--quiet")
    assert as_txt.stdout.strip() == text  # one file: just the text
    as_srt = dfcnn("transcribe", "--model", model, audio, "--format", "srt", "--quiet")
    assert as_srt.returncode == 0 and ("-->" in as_srt.stdout or not text)


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "missing.yaml"], "missing.yaml: config file not found"),
        (["evaluate", "--model", "none.pt", "--manifest", "x.jsonl"], "none.pt: checkpoint not found"),
        (["transcribe", "--model", "none.pt", "a.wav"], "none.pt: checkpoint not found"),
        (
            ["transcribe", "--model", "none.pt", "a.wav", "b.wav", "--format", "srt"],
            "--format srt for 2 files writes one file each: give --output-dir",
        ),
        (["lm", "--text", "missing.txt", "--out", "lm"], "missing.txt: LM text file not found"),
        (
            ["evaluate", "--model", "none.pt", "--manifest", "x.jsonl", "--beam-size", "0"],
            "--beam-size must be at least 1, got 0",
        ),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path, args, message):
    result = dfcnn(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"dfcnn: error: {message}"


def test_missing_language_model_is_named(experiment, tmp_path):
    result = dfcnn(
        "transcribe", "--model", experiment / "exp" / "best.pt", experiment / "utt0.wav", "--lm", tmp_path / "none.bin"
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"dfcnn: error: {tmp_path / 'none.bin'}: language model not found"


def test_bad_manifest_line_is_named(experiment, tmp_path):
    (tmp_path / "m.jsonl").write_text('{"audio_filepath": "a.wav", "duration": 1, "text": "a"}\n{oops\n')
    result = dfcnn("evaluate", "--model", experiment / "exp" / "best.pt", "--manifest", tmp_path / "m.jsonl")
    assert result.returncode == 1
    assert "m.jsonl:2: not valid JSON" in result.stderr and "Traceback" not in result.stderr


def test_help_shows_defaults():
    result = dfcnn("evaluate", "--help")
    assert result.returncode == 0 and "(default: 200.0)" in result.stdout


def test_serve_takes_the_decoding_options_of_transcribe(tiny_model):
    from dfcnn.cli import build_parser
    from dfcnn.decode import DecoderConfig
    from dfcnn.errors import DfcnnError
    from dfcnn.serve.commands import _load

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices

    def decoding(command: str) -> set[str]:
        groups = commands[command]._action_groups
        return {o for g in groups if g.title.startswith("decoding") for a in g._group_actions for o in a.option_strings}

    assert decoding("serve") == decoding("transcribe") == decoding("evaluate") >= {"--beam-size", "--lm", "--greedy"}
    args = parser.parse_args(
        ["serve", "--model", str(tiny_model), "--device", "cpu", "--beam-size", "4", "--word-score", "0.5"]
    )
    assert _load(args).decoder.config == DecoderConfig(beam_size=4, word_score=0.5)
    with pytest.raises(DfcnnError, match="--greedy decodes without beam search"):
        _load(parser.parse_args(["serve", "--model", str(tiny_model), "--greedy", "--beam-size", "4"]))
