"""Corpus layouts: the common ways recordings and their transcripts sit on disk, read into entries
without judging them (``dfcnn.manifest`` checks them). Each is named by its format:

    folder       audio files, each with a same-stem .txt (else .lab) transcript beside it; files in a
                 subfolder get its name as their speaker; the id is the path below SOURCE, no suffix
    ljspeech     metadata.csv of ID|TEXT|NORMALIZED lines (NORMALIZED used when present), audio wavs/ID.wav
    commonvoice  clips/ beside train.tsv, dev.tsv, test.tsv (columns path, sentence, client_id = speaker)
    kaldi        wav.scp, text, optional segments and utt2spk: in SOURCE, or in each split's subfolder
                 (train/, test/, ...); relative paths are looked up from the data folder, its parent
                 and its grandparent (a recipe's data/train/ sits two levels below where Kaldi runs)
    tsv          a file of AUDIO<TAB>TEXT[<TAB>SPEAKER] lines, paths relative to the file; a first line
                 whose AUDIO is not an audio file (a header such as path<TAB>text) is skipped

    corpus = read_layout(Path("my_recordings"))          # the layout detected: corpus.layout == "folder"
    corpus.entries[0]   # Entry(utt_id="spk1/001", audio=.../spk1/001.wav, text="hello", where=".../001.txt", ...)

An audio path that names no file is looked up with the other audio suffixes (wavs/LJ001-0001.wav is
found as wavs/LJ001-0001.flac). Lines that cannot be read as an entry (a missing field, a duplicate
id, a recording without a transcript) are ``Problem``s, one line each naming the file and line.
Files that cannot be read at all (missing, not UTF-8, no header column) raise ``DfcnnError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .audio import AUDIO_SUFFIXES
from .errors import DfcnnError
from .fileio import read_text

LAYOUTS = ("folder", "ljspeech", "commonvoice", "kaldi", "tsv")
TRANSCRIPT_SUFFIXES = (".txt", ".lab")  # the folder layout's transcripts, in order of preference
COMMONVOICE_SPLITS = ("train", "dev", "test")
KALDI_SEARCH_UP = 2  # a relative wav.scp path is looked up from the data folder and this many parents
SEGMENT_OVERSHOOT = 0.5  # seconds a Kaldi segment may end past its recording (extract-segments' --max-overshoot)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Entry:
    """One utterance as the layout gives it."""

    utt_id: str  # unique name (Kaldi's utterance id, LJSpeech's ID, the path below SOURCE, ...)
    audio: Path  # the audio file (relative paths: to the working directory, as SOURCE was given)
    text: str  # the transcript as written, whitespace collapsed
    where: str  # FILE:LINE (or the transcript file) that gave the entry: what bad-entry lines name
    split: str = "train"  # the split the layout puts it in (train, dev, test, a Kaldi subfolder's name)
    speaker: str | None = None  # None where the layout names no speaker
    offset: float | None = None  # Kaldi segments: start in the recording, seconds; None: the whole file
    end: float | None = None  # Kaldi segments: end in the recording, seconds; None: the file's end


@dataclass(frozen=True)
class Problem:
    """An entry that cannot be used, as one line: ``where: message``."""

    where: str
    message: str
    kind: str  # short name counted in the report: "missing audio", "malformed line", ...

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class Corpus:
    """What a layout holds."""

    layout: str  # one of LAYOUTS
    source: Path  # the folder or file read
    entries: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # lines that make no entry
    notes: list[str] = field(default_factory=list)  # worth knowing, not wrong (transcripts without audio)


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _lines(path: Path, what: str) -> list[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file, a byte-order mark dropped, blank lines skipped."""
    text = read_text(path, what).removeprefix("\ufeff")
    return [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def find_audio(folder: Path, name: str) -> Path:
    """``folder / name``, or the file of the same stem with another audio suffix when that one is missing."""
    path = Path(name) if Path(name).is_absolute() else folder / name
    if path.is_file():
        return path
    for suffix in AUDIO_SUFFIXES:
        has_suffix = path.suffix.lower() in AUDIO_SUFFIXES  # else the name lacks one: "clip" for clip.mp3
        other = path.with_suffix(suffix) if has_suffix else path.with_name(path.name + suffix)
        if other.is_file():
            return other
    return path


def path_id(audio: Path, root: Path) -> str:
    """An utterance id from a file: its path below ``root`` without the suffix ("spk1/001"), else its stem."""
    try:
        return audio.with_suffix("").relative_to(root).as_posix()
    except ValueError:
        return audio.stem


def detect_layout(source: Path) -> str:
    """The layout of ``source`` from what it holds; a one-line ``DfcnnError`` when none fits."""
    if source.is_file():
        return "ljspeech" if source.suffix.lower() == ".csv" else "tsv"
    if not source.is_dir():
        raise DfcnnError(f"{source}: no such file or folder")
    if (source / "wav.scp").is_file() or any((child / "wav.scp").is_file() for child in source.iterdir()):
        return "kaldi"
    if (source / "clips").is_dir() and any((source / f"{split}.tsv").is_file() for split in COMMONVOICE_SPLITS):
        return "commonvoice"
    if (source / "metadata.csv").is_file():
        return "ljspeech"
    for path in source.rglob("*"):
        if path.suffix.lower() in AUDIO_SUFFIXES and any(path.with_suffix(s).is_file() for s in TRANSCRIPT_SUFFIXES):
            return "folder"
    raise DfcnnError(
        f"{source}: cannot tell its layout: it holds no wav.scp (kaldi), clips/ beside train.tsv (commonvoice), "
        "metadata.csv (ljspeech) or audio files with a .txt or .lab transcript beside them (folder); "
        "a file is read as tsv. Give --layout"
    )


def read_layout(source: str | Path, layout: str | None = None) -> Corpus:
    """The entries of ``source`` read as ``layout`` (detected when None)."""
    source = Path(source)
    layout = layout or detect_layout(source)
    if layout not in LAYOUTS:
        raise DfcnnError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if layout == "tsv" and not source.is_file():
        raise DfcnnError(f"{source}: the tsv layout reads a file of AUDIO<TAB>TEXT lines, not a folder")
    if layout == "ljspeech" and not source.exists():
        raise DfcnnError(f"{source}: no such folder or file")
    if layout not in ("tsv", "ljspeech") and not source.is_dir():
        raise DfcnnError(f"{source}: the {layout} layout reads a folder")
    corpus = Corpus(layout, source)
    {
        "folder": _read_folder,
        "ljspeech": _read_ljspeech,
        "commonvoice": _read_commonvoice,
        "kaldi": _read_kaldi,
        "tsv": _read_tsv,
    }[layout](corpus)
    return corpus


def _read_folder(corpus: Corpus) -> None:
    root = corpus.source
    audio_stems = set()
    for audio in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()):
        audio_stems.add(audio.with_suffix(""))
        transcript = next((audio.with_suffix(s) for s in TRANSCRIPT_SUFFIXES if audio.with_suffix(s).is_file()), None)
        if transcript is None:
            corpus.problems.append(
                Problem(str(audio), "no transcript beside it (a .txt or .lab of the same stem)", "no transcript")
            )
            continue
        try:
            text = " ".join(line for _, line in _lines(transcript, "transcript"))
        except DfcnnError as error:  # read_text's "FILE[:LINE]: the transcript is not UTF-8 text (byte 0xff)"
            located, _, message = str(error).rpartition(": ")
            corpus.problems.append(Problem(located, message, "malformed line"))
            continue
        speaker = audio.parent.name if audio.parent != root else None
        corpus.entries.append(Entry(path_id(audio, root), audio, _collapse(text), str(transcript), speaker=speaker))
    transcripts = (path for suffix in TRANSCRIPT_SUFFIXES for path in root.rglob(f"*{suffix}"))
    orphans = sorted(path for path in transcripts if path.with_suffix("") not in audio_stems)
    if orphans:
        shown = ", ".join(str(p.relative_to(root)) for p in orphans[:3]) + (" ..." if len(orphans) > 3 else "")
        corpus.notes.append(f"{len(orphans)} .txt/.lab files have no audio beside them, left out: {shown}")


def _read_ljspeech(corpus: Corpus) -> None:
    metadata = corpus.source if corpus.source.is_file() else corpus.source / "metadata.csv"
    folder = metadata.parent / "wavs"
    seen: dict[str, int] = {}
    for number, line in _lines(metadata, "metadata file"):
        where = f"{metadata}:{number}"
        fields = line.split("|")
        if not 2 <= len(fields) <= 3 or not fields[0].strip():
            corpus.problems.append(
                Problem(where, f"expected ID|TEXT|NORMALIZED, got {len(fields)} field(s)", "malformed line")
            )
            continue
        utt_id = fields[0].strip()
        if utt_id in seen:
            corpus.problems.append(
                Problem(where, f"duplicate id {utt_id!r} (first on line {seen[utt_id]})", "duplicate id")
            )
            continue
        seen[utt_id] = number
        text = fields[2] if len(fields) == 3 and fields[2].strip() else fields[1]
        corpus.entries.append(Entry(utt_id, find_audio(folder, f"{utt_id}.wav"), _collapse(text), where))


def _read_commonvoice(corpus: Corpus) -> None:
    clips = corpus.source / "clips"
    tables = [(split, corpus.source / f"{split}.tsv") for split in COMMONVOICE_SPLITS]
    tables = [(split, path) for split, path in tables if path.is_file()]
    if not clips.is_dir() or not tables:
        raise DfcnnError(f"{corpus.source}: the commonvoice layout needs clips/ and train.tsv, dev.tsv or test.tsv")
    for split, table in tables:
        lines = _lines(table, "Common Voice table")
        header = lines[0][1].split("\t") if lines else []
        missing = [name for name in ("path", "sentence") if name not in header]
        if missing:
            raise DfcnnError(f"{table}:1: the header has no {' or '.join(repr(m) for m in missing)} column")
        column = {name: header.index(name) for name in ("path", "sentence", "client_id") if name in header}
        for number, line in lines[1:]:
            where = f"{table}:{number}"
            fields = line.split("\t")
            if len(fields) != len(header):
                corpus.problems.append(
                    Problem(
                        where,
                        f"expected {len(header)} tab-separated fields as in the header, got {len(fields)}",
                        "malformed line",
                    )
                )
                continue
            name = fields[column["path"]].strip()
            speaker = (fields[column["client_id"]].strip() or None) if "client_id" in column else None
            corpus.entries.append(
                Entry(
                    Path(name).stem,
                    find_audio(clips, name),
                    _collapse(fields[column["sentence"]]),
                    where,
                    split,
                    speaker,
                )
            )


def _read_tsv(corpus: Corpus) -> None:
    folder = corpus.source.parent
    for index, (number, line) in enumerate(_lines(corpus.source, "transcript table")):
        where = f"{corpus.source}:{number}"
        fields = line.split("\t")
        name = fields[0].strip()
        if (
            index == 0
            and 2 <= len(fields) <= 3
            and Path(name).suffix.lower() not in AUDIO_SUFFIXES
            and not (folder / name).is_file()
        ):
            continue  # a header line
        if not 2 <= len(fields) <= 3 or not fields[0].strip():
            corpus.problems.append(
                Problem(
                    where,
                    f"expected AUDIO<TAB>TEXT[<TAB>SPEAKER], got {len(fields)} tab-separated field(s)",
                    "malformed line",
                )
            )
            continue
        audio = find_audio(folder, fields[0].strip())
        speaker = (fields[2].strip() or None) if len(fields) == 3 else None
        corpus.entries.append(Entry(path_id(audio, folder), audio, _collapse(fields[1]), where, speaker=speaker))


# ---- Kaldi data folders ----


def _kaldi_table(path: Path, corpus: Corpus, needs_value: bool = True) -> tuple[dict[str, tuple[str, str]], set[str]]:
    """A Kaldi ``KEY VALUE...`` file: (key -> (value, FILE:LINE), keys whose line was rejected).

    A repeated key and (with ``needs_value``) a key without a value are problems; the first line of a
    repeated key stands.
    """
    table: dict[str, tuple[str, str]] = {}
    rejected: set[str] = set()
    for number, line in _lines(path, "Kaldi file"):
        where = f"{path}:{number}"
        key, *rest = line.strip().split(maxsplit=1)
        value = rest[0].strip() if rest else ""
        if key in table or key in rejected:
            first = f" (first at {table[key][1]})" if key in table else ""
            corpus.problems.append(Problem(where, f"duplicate id {key!r}{first}", "duplicate id"))
        elif needs_value and not value:
            corpus.problems.append(Problem(where, f"{key!r} has no value after it", "malformed line"))
            rejected.add(key)
        else:
            table[key] = (value, where)
    return table, rejected


def _kaldi_audio(folder: Path, location: str) -> Path:
    path = Path(location)
    if path.is_absolute():
        return find_audio(path.parent, path.name)
    for base in [folder, *folder.absolute().parents[:KALDI_SEARCH_UP]]:
        if (base / path).is_file():
            return base / path
    return find_audio(folder, location)


Segment = tuple[str, float, "float | None", str]  # (recording, start, end or None for its end, FILE:LINE)


def _segments(path: Path, corpus: Corpus) -> tuple[dict[str, Segment], set[str]]:
    """``segments``: (utterance -> Segment, utterances whose line was rejected)."""
    table, rejected = _kaldi_table(path, corpus)
    segments = {}
    for utt_id, (value, where) in table.items():
        fields = value.split()
        try:
            start, end = (float(fields[1]), float(fields[2])) if len(fields) == 3 else (-1.0, -1.0)
        except ValueError:
            start, end = -1.0, -1.0
        if start < 0 or not (end > start or end == -1):
            corpus.problems.append(
                Problem(
                    where,
                    "expected UTTERANCE RECORDING START END with 0 <= START < END "
                    f"seconds (END -1: the recording's end), got {utt_id} {value}",
                    "malformed line",
                )
            )
            rejected.add(utt_id)
            continue
        segments[utt_id] = (fields[0], start, None if end == -1 else end, where)
    return segments, rejected


def _read_kaldi_folder(corpus: Corpus, folder: Path, split: str) -> None:
    texts, _ = _kaldi_table(folder / "text", corpus, needs_value=False)
    wavs, bad_wavs = _kaldi_table(folder / "wav.scp", corpus)
    has_speakers, has_segments = (folder / "utt2spk").is_file(), (folder / "segments").is_file()
    speakers, bad_speakers = _kaldi_table(folder / "utt2spk", corpus) if has_speakers else ({}, set())
    segments, bad_segments = _segments(folder / "segments", corpus) if has_segments else ({}, set())
    for utt_id, (text, where) in texts.items():
        if utt_id in bad_segments or utt_id in bad_speakers:
            continue  # its segments or utt2spk line is listed already
        recording, start, end, segment_where = segments.get(utt_id, (utt_id, None, None, where))
        if has_segments and utt_id not in segments:
            corpus.problems.append(Problem(where, f"{utt_id!r} is not in {folder / 'segments'}", "missing audio"))
        elif recording in bad_wavs:
            continue
        elif recording not in wavs:
            corpus.problems.append(
                Problem(segment_where, f"recording {recording!r} is not in {folder / 'wav.scp'}", "missing audio")
            )
        elif wavs[recording][0].endswith("|"):
            corpus.problems.append(
                Problem(
                    wavs[recording][1],
                    f"{recording!r} is a piped command, not a file: write its output to audio files first",
                    "missing audio",
                )
            )
        elif has_speakers and utt_id not in speakers:
            corpus.problems.append(Problem(where, f"{utt_id!r} is not in {folder / 'utt2spk'}", "no speaker"))
        else:
            speaker = speakers[utt_id][0] if has_speakers else None
            corpus.entries.append(
                Entry(
                    utt_id, _kaldi_audio(folder, wavs[recording][0]), _collapse(text), where, split, speaker, start, end
                )
            )
    described = segments if has_segments else wavs
    for utt_id, item in described.items():
        if utt_id not in texts:
            corpus.problems.append(
                Problem(item[-1], f"{utt_id!r} has no transcript in {folder / 'text'}", "no transcript")
            )


def _read_kaldi(corpus: Corpus) -> None:
    if (corpus.source / "wav.scp").is_file():
        _read_kaldi_folder(corpus, corpus.source, "train")
        return
    folders = sorted(child for child in corpus.source.iterdir() if (child / "wav.scp").is_file())
    if not folders:
        raise DfcnnError(f"{corpus.source}: the kaldi layout needs wav.scp and text, in it or in split subfolders")
    for folder in folders:
        _read_kaldi_folder(corpus, folder, folder.name)
