"""dfcnn manifest: each of the five layouts built from real recordings of ../shared/data, every kind of
bad entry reported on one line naming its file and line, dev splits, Kaldi segments read through the
dataset, and a manifest it writes that ``dfcnn train`` trains on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import shared_corpus
from helpers import TINY_MODEL

from dfcnn.audio import audio_info, load_audio
from dfcnn.cli import main
from dfcnn.config import load_config
from dfcnn.data import SpeechDataset, Utterance, load_utterance, read_manifest, write_manifest
from dfcnn.errors import AudioError, ManifestError
from dfcnn.layouts import detect_layout
from dfcnn.training.train import ExperimentConfig, Trainer

CV_HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment"


def _link(target: Path, link: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


def _fsdd(count: int, speakers=("george", "jackson")) -> list[tuple[Path, str, str]]:
    """(wav, word, speaker) of a FSDD training clip of each digit below ``count``, for each speaker."""
    fsdd = shared_corpus("fsdd")
    rows = [line.split("\t") for line in (fsdd / "transcripts.tsv").read_text().splitlines()[1:]]
    chosen = []
    for speaker in speakers:
        for digit in range(count):
            row = next(r for r in rows if r[1] == str(digit) and r[3] == speaker and r[4] == "train")
            chosen.append((fsdd / row[0], row[2], speaker))
    return chosen


def build_folder(root: Path) -> Path:
    """AISHELL-1 clips and their .txt, one subfolder per speaker (pinyin, speakers from folders)."""
    data = shared_corpus("aishell1_sample") / "AISHELL_Sample_data"
    for speaker in ("S0150", "S0252"):
        for index in (1, 2, 3):
            stem = f"BAC009{speaker}W{index:04d}"
            _link(data / f"{stem}.opus", root / speaker / f"{stem}.opus")
            _link(data / f"{stem}.txt", root / speaker / f"{stem}.txt")
    return root


def build_folder_lab(root: Path) -> Path:
    """CMU ARCTIC clips with their transcripts as .lab files (English)."""
    data = shared_corpus("cathy_arctic") / "data_16k"
    for audio in sorted(data.glob("arctic_a000*.opus"))[:4]:
        _link(audio, root / audio.name)
        (root / audio.with_suffix(".lab").name).write_text(audio.with_suffix(".txt").read_text())
    return root


def build_ljspeech(root: Path) -> Path:
    """metadata.csv of four LJSpeech lines; wavs/ holds the clips as .opus (found by their stem)."""
    data = shared_corpus("ljspeech_subset") / "LJSpeech-1.1"
    lines = (data / "metadata_subset.csv").read_text().splitlines()[:4]
    for line in lines:
        clip = line.split("|")[0]
        _link(data / "wavs" / f"{clip}.opus", root / "wavs" / f"{clip}.opus")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    return root


def build_commonvoice(root: Path) -> Path:
    """clips/ of FSDD digits (the client_id is the speaker) with train.tsv and test.tsv."""
    clips = _fsdd(3)
    for split, part in (("train", clips[:4]), ("test", clips[4:])):
        rows = [CV_HEADER]
        for wav, word, speaker in part:
            _link(wav, root / "clips" / wav.name)
            rows.append(f"{speaker}\t{wav.name}\t{word.capitalize()}.\t2\t0\t\t\t\ten\t")
        (root / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return root


def build_kaldi(root: Path, utterances: int = 4) -> Path:
    """speechocean762's train/ and test/ Kaldi folders, cut to a few utterances, paths relative to
    the corpus folder (resolved through the data folder's parent)."""
    corpus = shared_corpus("speechocean762")
    _link(corpus / "WAVE", root / "WAVE")
    for split in ("train", "test"):
        texts = (corpus / split / "text").read_text().splitlines()[:utterances]
        ids = {line.split()[0] for line in texts}
        (root / split).mkdir(parents=True)
        (root / split / "text").write_text("\n".join(texts) + "\n")
        for name in ("wav.scp", "utt2spk"):
            keep = [line for line in (corpus / split / name).read_text().splitlines() if line.split()[0] in ids]
            (root / split / name).write_text("\n".join(keep) + "\n")
    return root


def build_tsv(root: Path) -> Path:
    """A path<TAB>text file with a header, FSDD clips below it."""
    lines = ["path\ttext"]
    for wav, word, _ in _fsdd(3):
        _link(wav, root / "recordings" / wav.name)
        lines.append(f"recordings/{wav.name}\t{word}")
    (root / "list.tsv").write_text("\n".join(lines) + "\n")
    return root / "list.tsv"


def build_segments(root: Path) -> tuple[Path, list[np.ndarray]]:
    """A Kaldi folder whose two recordings each hold three FSDD digits with 0.3 s gaps (16 kHz float),
    one utterance a segment, times in 10 ms as Kaldi writes them. Returns the folder and the digits'
    waves (zero-padded to 10 ms) in segment order."""
    waves, texts, segments, wav_scp = [], [], [], []
    gap = np.zeros(4800, dtype=np.float32)
    clips = _fsdd(3)
    for number, start in enumerate((0, 3)):
        recording, parts, position = f"rec{number}", [], 0
        for index, (wav, word, _) in enumerate(clips[start : start + 3]):
            wave = load_audio(wav)
            wave = np.pad(wave, (0, -len(wave) % 160))  # whole 10 ms frames
            utt = f"{recording}-{index}"
            segments.append(f"{utt} {recording} {position / 16000:.2f} {(position + len(wave)) / 16000:.2f}")
            texts.append(f"{utt} {word}")
            parts += [wave, gap]
            waves.append(wave)
            position += len(wave) + len(gap)
        soundfile.write(str(root / f"{recording}.wav"), np.concatenate(parts), 16000, subtype="FLOAT")
        wav_scp.append(f"{recording} {recording}.wav")
    for name, lines in (("text", texts), ("segments", segments), ("wav.scp", wav_scp)):
        (root / name).write_text("\n".join(lines) + "\n")
    return root, waves


def run(capsys, *argv) -> tuple[int, list[str], str]:
    """``dfcnn manifest ARGV``: (exit code, stdout lines, stderr)."""
    code = main(["manifest", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


LAYOUTS = {  # layout: (builder, options, {split: (utterances, speakers)}, speakers in all)
    "folder": (build_folder, ["--unit", "pinyin"], {"train": (6, 2)}, 2),
    "ljspeech": (build_ljspeech, [], {"train": (4, 0)}, 0),
    "commonvoice": (build_commonvoice, [], {"train": (4, 2), "test": (2, 1)}, 2),
    "kaldi": (build_kaldi, [], {"train": (4, 1), "test": (4, 1)}, 2),
    "tsv": (build_tsv, [], {"train": (6, 0)}, 0),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_is_detected_checked_and_written(tmp_path, capsys, layout):
    build, options, counts, speakers = LAYOUTS[layout]
    source = build(tmp_path / "corpus")
    assert detect_layout(source) == layout
    code, out, err = run(capsys, source, "--out", tmp_path / "data", *options)
    assert code == 0, err
    assert out[0] == (
        f"{layout} layout (detected) of {source}; unit {options[1] if options else 'char'} "
        f"({'mandarin' if options else 'english'} normaliser)"
    )
    for split, (count, split_speakers) in counts.items():
        utterances = read_manifest(tmp_path / "data" / f"{split}.jsonl")
        assert len(utterances) == count
        for utterance in utterances:
            assert utterance.duration == pytest.approx(audio_info(utterance.audio_filepath)[0], abs=1e-3)
            assert utterance.text.strip() and utterance.offset is None
        assert len({u.speaker for u in utterances} - {None}) == split_speakers
    total = sum(count for count, _ in counts.values())
    hours = sum(u.duration for split in counts for u in read_manifest(tmp_path / "data" / f"{split}.jsonl")) / 3600
    row = next(line for line in out if line.startswith("all "))
    assert row.split()[1:3] == [str(total), f"{hours:.3f}"]
    assert row.split()[3] == (str(speakers) if speakers else "-")
    assert not (tmp_path / "data" / "dev.jsonl").exists()


def test_the_folder_layout_reads_lab_transcripts(tmp_path, capsys):
    code, _, err = run(capsys, build_folder_lab(tmp_path / "corpus"), "--out", tmp_path / "data")
    assert code == 0, err
    utterances = read_manifest(tmp_path / "data" / "train.jsonl")
    assert [u.text for u in utterances][0] == (
        shared_corpus("cathy_arctic") / "data_16k" / f"{utterances[0].utt_id}.txt"
    ).read_text().strip()


def _append(path: Path, line: str) -> int:
    """Add ``line`` to a text file; its line number."""
    lines = path.read_text().splitlines() + [line]
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def _garbage(path: Path, data: bytes = b"this is not audio at all, only text") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _bad_tsv_line(line):
    def defect(root):
        source = build_tsv(root)
        return source, f"{source}:{_append(source, line)}"

    return defect


def _bad_kaldi(name: str, line: str, split: str = "train"):
    def defect(root):
        source = build_kaldi(root)
        return source, f"{source / split / name}:{_append(source / split / name, line)}"

    return defect


def _unreadable(root):
    source = build_folder(root)
    _garbage(source / "S0150" / "broken.wav")
    (source / "S0150" / "broken.txt").write_text("设定二十度\n")
    return source, str(source / "S0150" / "broken.txt")


def _empty_file(root):
    source = build_tsv(root)
    _garbage(source.parent / "recordings" / "empty.wav", b"")
    line = _append(source, "recordings/empty.wav\tzero")
    return source, f"{source}:{line}"


def _empty_transcript(root):
    source = build_kaldi(root)
    text = source / "train" / "text"
    lines = text.read_text().splitlines()
    text.write_text("\n".join([lines[0].split()[0], *lines[1:]]) + "\n")
    return source, f"{text}:1"


def _too_short(root):
    source = build_tsv(root)
    _link(shared_corpus("fsdd") / "recordings" / "0_george_20.wav", source.parent / "recordings" / "0_george_20.wav")
    line = _append(source, "recordings/0_george_20.wav\tzero one two three four")
    return source, f"{source}:{line}"


def _normalised_away(root):
    source = build_ljspeech(root)
    data = shared_corpus("ljspeech_subset") / "LJSpeech-1.1"
    _link(data / "wavs" / "LJ001-0005.opus", source / "wavs" / "LJ001-0005.opus")
    return source, f"{source / 'metadata.csv'}:{_append(source / 'metadata.csv', 'LJ001-0005|!!!|...')}"


def _not_utf8(root):
    source = build_folder(root)
    path = source / "S0150" / "BAC009S0150W0001.txt"
    path.unlink()
    path.write_bytes("设定".encode("gb18030"))
    return source, f"{path}:1"


def _duplicate_audio(root):
    source = build_kaldi(root)
    first = (source / "train" / "wav.scp").read_text().split()[1]
    _append(source / "train" / "wav.scp", f"copy {first}")
    _append(source / "train" / "utt2spk", "copy 0001")
    return source, f"{source / 'train' / 'text'}:{_append(source / 'train' / 'text', 'copy WE CALL IT BEAR')}"


def _no_audio_entry(root):
    source = build_kaldi(root)
    return source, f"{source / 'train' / 'text'}:{_append(source / 'train' / 'text', 'ghost HELLO')}"


def _segment_past_end(root):
    root.mkdir()
    source, _ = build_segments(root)
    _append(source / "segments", "late rec0 9.0 9.5")
    return source, f"{source / 'text'}:{_append(source / 'text', 'late zero')}"


def _ljspeech_line(line):
    def defect(root):
        source = build_ljspeech(root)
        return source, f"{source / 'metadata.csv'}:{_append(source / 'metadata.csv', line)}"

    return defect


def _commonvoice_row(root):
    source = build_commonvoice(root)
    line = _append(source / "train.tsv", "george\tx.wav\tZero.")
    return source, f"{source / 'train.tsv'}:{line}"


def _latin_in_pinyin(root):
    source = build_folder(root)
    (source / "S0252" / "BAC009S0252W0002.txt").unlink()
    (source / "S0252" / "BAC009S0252W0002.txt").write_text("我用loft了\n")
    return source, str(source / "S0252" / "BAC009S0252W0002.txt")


BAD_ENTRIES = {  # case: (defect, extra options, words the line must hold)
    "missing audio": (_bad_tsv_line("recordings/9_nobody_0.wav\tnine"), [], ["9_nobody_0.wav: no such file"]),
    "unreadable audio": (_unreadable, ["--unit", "pinyin"], ["broken.wav: not a readable audio file"]),
    "empty audio file": (_empty_file, [], ["empty.wav: empty file (0 bytes)"]),
    "empty transcript": (_empty_transcript, [], ["empty transcript"]),
    "empty once normalised": (_normalised_away, [], ["transcript is empty once normalised (english): '...'"]),
    "latin in pinyin": (_latin_in_pinyin, ["--unit", "pinyin"], ["unit pinyin: no syllable for 'loft'"]),
    "too short for CTC": (_too_short, [], ["is too short for its 23 tokens", "CTC needs"]),
    "duplicate id in a table": (
        _bad_kaldi("text", "000010011 WE CALL IT BEAR"),
        [],
        ["duplicate id '000010011' (first at", "text:1"],
    ),
    "duplicate id across entries": (
        _bad_tsv_line("recordings/0_george_10.wav\tzero"),
        [],
        ["duplicate id 'recordings/0_george_10' (first at", "list.tsv:2)"],
    ),
    "duplicate audio": (_duplicate_audio, [], ["same audio as '000010011'"]),
    "not in wav.scp": (_no_audio_entry, [], ["'ghost' is not in", "wav.scp"]),
    "no transcript for a recording": (
        _bad_kaldi("wav.scp", "orphan WAVE/SPEAKER0001/000010011.opus"),
        [],
        ["'orphan' has no transcript in", "/train/text"],
    ),
    "malformed wav.scp": (_bad_kaldi("wav.scp", "lonely"), [], ["'lonely' has no value after it"]),
    "malformed tsv": (_bad_tsv_line("recordings/0_george_10.wav zero"), [], ["expected AUDIO<TAB>TEXT"]),
    "malformed metadata": (_ljspeech_line("LJ009-0001|a|b|c"), [], ["expected ID|TEXT|NORMALIZED, got 4 field(s)"]),
    "malformed commonvoice row": (_commonvoice_row, [], ["expected 10 tab-separated fields as in the header, got 3"]),
    "segment past its recording": (_segment_past_end, [], ["segment 9-9.5 s lies past the end of its recording"]),
    "not UTF-8": (_not_utf8, ["--unit", "pinyin"], ["the transcript is not UTF-8 text"]),
}


@pytest.mark.parametrize("case", BAD_ENTRIES)
def test_every_bad_entry_is_one_line_naming_its_place_and_nothing_is_written(tmp_path, capsys, case):
    defect, options, words = BAD_ENTRIES[case]
    source, where = defect(tmp_path / "corpus")
    code, out, err = run(capsys, source, "--out", tmp_path / "data", *options)
    assert code == 1
    listed = [line for line in out if line.startswith(str(tmp_path))]
    assert len(listed) == 1, out
    assert listed[0].startswith(f"{where}: "), listed
    for word in words:
        assert word in listed[0]
    assert err.count("\n") == 1 and err.startswith("dfcnn: error: ") and "nothing written" in err
    assert "Traceback" not in err
    assert not (tmp_path / "data").exists()


def test_mandarin_through_the_english_normaliser_says_what_to_do(tmp_path, capsys):
    source = build_folder(tmp_path / "corpus")
    code, out, _ = run(capsys, source)
    listed = [line for line in out if line.startswith(str(tmp_path))]
    assert code == 1 and len(listed) == 6
    assert listed[0] == (
        f"{source / 'S0150' / 'BAC009S0150W0001.txt'}: transcript is empty once normalised "
        "(english): '设定二十九度'; Mandarin text? use --normalizer mandarin"
    )


def test_kaldi_lines_that_are_wrong_in_other_ways(tmp_path, capsys):
    """A piped wav.scp command, a bad segment line, an utterance missing from utt2spk: one line each."""
    source = build_kaldi(tmp_path / "corpus")
    train = source / "train"
    pipe = _append(train / "wav.scp", "piped sox in.wav -t wav - |")
    _append(train / "utt2spk", "piped 0001")
    _append(train / "text", "piped HELLO")
    nobody = _append(train / "text", "nobody HELLO")
    _append(train / "wav.scp", "nobody WAVE/SPEAKER0001/000010035.opus")
    code, out, _ = run(capsys, source)
    listed = [line for line in out if line.startswith(str(tmp_path))]
    assert code == 1 and len(listed) == 2, out
    assert listed[0].startswith(f"{train / 'text'}:{nobody}: 'nobody' is not in {train / 'utt2spk'}")
    assert listed[1].startswith(f"{train / 'wav.scp'}:{pipe}: 'piped' is a piped command, not a file")

    segments_root = tmp_path / "segments"
    segments_root.mkdir()
    folder, _ = build_segments(segments_root)
    line = _append(folder / "segments", "rec0-0 rec0 2.0 1.0")
    code, out, _ = run(capsys, folder)
    listed = [line for line in out if line.startswith(str(tmp_path))]
    assert code == 1 and len(listed) == 1
    assert listed[0].startswith(f"{folder / 'segments'}:{line}: duplicate id 'rec0-0'")
    (folder / "segments").write_text((folder / "segments").read_text().replace("rec0-1 rec0 ", "rec0-1 rec0 x"))
    code, out, _ = run(capsys, folder)
    listed = [line for line in out if line.startswith(str(tmp_path))]
    assert len(listed) == 2 and f"{folder / 'segments'}:2: expected UTTERANCE RECORDING START END" in listed[0]


def test_durations_past_the_trainers_limit_are_bad_for_training_only(tmp_path, capsys):
    source = build_kaldi(tmp_path / "corpus")
    splits = _manifest(tmp_path, capsys, source)
    limit = round(sorted(u.duration for u in splits["train"])[1] + 0.01, 2)  # the two longest exceed it
    assert max(u.duration for u in splits["test"]) > limit  # test utterances are only scored: no limit
    code, out, _ = run(capsys, source, "--max-duration", limit)
    listed = [line for line in out if line.startswith(str(tmp_path))]
    assert code == 1 and len(listed) == 2, out
    assert all(f"longer than the trainer's limit of {limit:g} s" in line for line in listed)

    config = tmp_path / "conf.yaml"
    config.write_text(f"data:\n  max_utterance_duration: {limit}\n")
    code, out, _ = run(capsys, source, "--config", config)
    assert code == 1 and len([line for line in out if "longer than the trainer's limit" in line]) == 2


def _manifest(tmp_path, capsys, source, *options) -> dict[str, list[Utterance]]:
    out = tmp_path / "check"
    shutil.rmtree(out, ignore_errors=True)
    code, lines, err = run(capsys, source, "--out", out, *options)
    assert code == 0, (lines, err)
    return {path.stem: read_manifest(path) for path in sorted(out.glob("*.jsonl"))}


def test_skip_bad_writes_the_good_entries_and_counts_the_rest(tmp_path, capsys):
    source = build_tsv(tmp_path / "corpus")
    _append(source, "recordings/missing.wav\tzero")
    _link(shared_corpus("fsdd") / "recordings" / "0_george_20.wav", source.parent / "recordings" / "0_george_20.wav")
    _append(source, "recordings/0_george_20.wav\t")
    code, out, err = run(capsys, source, "--out", tmp_path / "data", "--skip-bad")
    assert code == 0 and err == ""
    assert [line for line in out if line.startswith("bad entries")] == [
        "bad entries: 2 (1 missing audio, 1 empty transcript), listed above; left out"
    ]
    assert len(read_manifest(tmp_path / "data" / "train.jsonl")) == 6


def test_letter_to_sound_words_are_listed_for_phones(tmp_path, capsys):
    source = build_tsv(tmp_path / "corpus")
    source.write_text(source.read_text().replace("\tzero\n", "\tzero blorptastic\n", 1))
    code, out, err = run(capsys, source, "--unit", "phone", "--out", tmp_path / "data")
    assert code == 0, err  # they train, on a guess
    assert any(o.startswith("letter-to-sound: 1 word is not in the pronunciation dictionary") for o in out)
    guess = next(o for o in out if o.startswith("  blorptastic: "))
    assert guess.endswith(f"(1 utterance, first at {source}:2)")
    phones = guess.split(": ")[1].split(" (")[0].split()
    assert {"B", "L", "P", "T", "S", "K"} <= set(phones)


def test_a_vocabulary_given_spells_the_transcripts(tmp_path, capsys):
    source = build_tsv(tmp_path / "corpus")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("<blank>\n|\ne\no\nr\nz\n")  # the letters of "zero" only
    code, out, _ = run(capsys, source, "--vocab", vocab)
    listed = [line for line in out if line.startswith(str(tmp_path))]
    assert code == 1 and len(listed) == 4  # "one" and "two" of each speaker
    assert listed[0] == f"{source}:3: cannot be spelt in the vocabulary {vocab}: character 'n' is not in the vocabulary"
    assert "character 't'" in listed[1]


def test_speaker_pattern_names_speakers_and_reports_ids_it_does_not_match(tmp_path, capsys):
    source = build_tsv(tmp_path / "corpus")
    splits = _manifest(tmp_path, capsys, source, "--speaker-pattern", r"\d_([a-z]+)_\d+$")
    assert {u.speaker for u in splits["train"]} == {"george", "jackson"}
    code, out, _ = run(capsys, source, "--speaker-pattern", "jackson")
    listed = [line for line in out if line.startswith(str(tmp_path))]
    assert code == 1 and len(listed) == 3
    assert all("does not match --speaker-pattern 'jackson'" in line for line in listed)


def test_decode_finds_samples_past_the_header_that_are_not_audio(tmp_path, capsys):
    source = build_tsv(tmp_path / "corpus")
    wave = np.zeros(8000, dtype=np.float32)
    wave[4000] = np.nan
    soundfile.write(str(source.parent / "recordings" / "nan.wav"), wave, 16000, subtype="FLOAT")
    line = _append(source, "recordings/nan.wav\tzero")
    assert run(capsys, source)[0] == 0  # the header is fine
    code, out, _ = run(capsys, source, "--decode")
    listed = [o for o in out if o.startswith(str(tmp_path))]
    assert code == 1 and listed == [
        f"{source}:{line}: audio {source.parent / 'recordings' / 'nan.wav'}: contains NaN or infinite samples"
    ]


def test_dev_splits_are_deterministic_and_disjoint(tmp_path, capsys):
    source = build_kaldi(tmp_path / "corpus", utterances=40)
    by_fraction = _manifest(tmp_path, capsys, source, "--dev-fraction", "0.25")
    assert len(by_fraction["dev"]) == 10 and len(by_fraction["train"]) == 30
    assert _manifest(tmp_path, capsys, source, "--dev-fraction", "0.25") == by_fraction
    assert _manifest(tmp_path, capsys, source, "--dev-fraction", "0.25", "--seed", "1")["dev"] != by_fraction["dev"]
    ids = [u.utt_id for split in ("train", "dev") for u in by_fraction[split]]
    assert len(set(ids)) == 40

    by_speaker = _manifest(tmp_path, capsys, source, "--dev-speakers", "1")
    dev_speakers = {u.speaker for u in by_speaker["dev"]}
    assert len(dev_speakers) == 1 and not dev_speakers & {u.speaker for u in by_speaker["train"]}
    assert len(by_speaker["train"]) + len(by_speaker["dev"]) == 40 and len(by_speaker["test"]) == 40


def test_options_that_cannot_work_are_one_line(tmp_path, capsys):
    source = build_ljspeech(tmp_path / "lj")
    code, _, err = run(capsys, source, "--dev-speakers", "1")
    assert code == 1 and err.startswith("dfcnn: error: --dev-speakers needs every training utterance's speaker")
    code, _, err = run(capsys, source, "--dev-fraction", "1.5")
    assert code == 1 and err.startswith("dfcnn: error: --dev-fraction must lie in [0, 1)")
    code, _, err = run(capsys, build_commonvoice(tmp_path / "cv"), "--dev-fraction", "0.9")
    assert code == 1 and "leaves none for training" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(capsys, empty)
    assert code == 1 and err.startswith(f"dfcnn: error: {empty}: cannot tell its layout") and err.count("\n") == 1
    table = build_tsv(tmp_path / "tsv")
    assert run(capsys, table, "--layout", "kaldi")[2] == f"dfcnn: error: {table}: the kaldi layout reads a folder\n"
    code, _, err = run(capsys, table.parent, "--layout", "tsv")
    assert (
        code == 1
        and err == f"dfcnn: error: {table.parent}: the tsv layout reads a file of AUDIO<TAB>TEXT lines, not a folder\n"
    )


def test_kaldi_segments_are_offsets_read_through_the_dataset(tmp_path, capsys):
    source, waves = build_segments(tmp_path)
    code, out, err = run(capsys, source, "--out", tmp_path / "data")
    assert code == 0, err
    utterances = read_manifest(tmp_path / "data" / "train.jsonl")
    assert [u.offset is not None for u in utterances] == [True] * 6
    assert utterances[1].offset == pytest.approx((len(waves[0]) + 4800) / 16000, abs=1e-6)
    dataset = SpeechDataset(utterances)
    for index, wave in enumerate(waves):
        _, loaded, _, error = dataset[index]
        assert error is None
        np.testing.assert_array_equal(loaded.numpy(), wave)


def test_offset_and_speaker_round_trip_and_are_checked(tmp_path):
    wav = shared_corpus("fsdd") / "recordings" / "0_george_10.wav"
    path = tmp_path / "m.jsonl"
    write_manifest(path, [Utterance(wav, 0.2, "zero", "a", "george", 0.1), Utterance(wav, 0.4, "zero", "b")])
    first, second = read_manifest(path)
    assert (first.speaker, first.offset, second.speaker, second.offset) == ("george", 0.1, None, None)
    assert "offset" not in path.read_text().splitlines()[1]
    assert len(load_utterance(first)) == pytest.approx(0.2 * 16000, abs=2)
    for record, problem in (
        ({"offset": -1}, "'offset' must be a number of seconds >= 0"),
        ({"speaker": 3}, "'speaker' has the wrong type"),
    ):
        path.write_text(json.dumps({"audio_filepath": str(wav), "duration": 0.4, "text": "zero", **record}) + "\n")
        with pytest.raises(ManifestError, match=f"{path}:1: {problem}"):
            read_manifest(path)
    with pytest.raises(AudioError, match="holds no audio samples from 30 s on"):
        load_audio(wav, offset=30.0, duration=1.0)


def test_a_manifest_it_writes_trains(tmp_path, capsys):
    """Kaldi segments -> manifest and vocabulary -> a tiny model trains a step on them."""
    source, _ = build_segments(tmp_path)
    code, out, err = run(capsys, source, "--out", tmp_path / "data", "--write-vocab", "--dev-fraction", "0.34")
    assert code == 0, err
    assert (tmp_path / "data" / "vocab.txt").read_text().splitlines()[:2] == ["<blank>", "|"]
    data = tmp_path / "data"
    config = load_config(
        ExperimentConfig,
        None,
        [
            f"exp_dir={tmp_path / 'exp'}",
            f"data.train_manifest={data / 'train.jsonl'}",
            f"data.dev_manifest={data / 'dev.jsonl'}",
            f"data.vocab={data / 'vocab.txt'}",
            "data.num_workers=0",
            "data.max_batch_duration=4.0",
            "data.stats_utterances=4",
            "train.epochs=1",
            "train.warmup_steps=1",
            "train.log_every_steps=1",
            *TINY_MODEL,
        ],
    )
    trainer = Trainer(config, progress=False)
    trainer.run()
    assert len(trainer.data.dataset) == 4 and trainer.dropped == {}
    metrics = [json.loads(line) for line in (tmp_path / "exp" / "metrics.jsonl").read_text().splitlines()]
    assert any("loss" in record and np.isfinite(record["loss"]) for record in metrics)
    assert (tmp_path / "exp" / "best.pt").is_file()
