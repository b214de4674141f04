"""Your own recordings -> the JSONL manifests ``dfcnn train`` and ``dfcnn evaluate`` read, each entry
checked as the trainer will use it.

    dfcnn manifest my_recordings/ --out data/ --dev-fraction 0.1 --write-vocab

    report = make_manifests(ManifestConfig("my_recordings", out="data", dev_fraction=0.1))
    print(report.text())

The layout (``dfcnn.layouts``) is detected or given. Each entry is checked, and the first thing
wrong with it is one line naming its file and line: a duplicate id or audio, audio that is missing
or unreadable, a Kaldi segment past its recording's end, an empty transcript, a transcript the unit
cannot spell (a character outside ``vocab``, a Latin word in pinyin, a word with no pronunciation),
and for training entries a duration outside the trainer's limits (longer than
``data.max_utterance_duration``, or too short for its tokens under CTC with the configured
features and model pooling). For unit phone, the words that take their pronunciation from
letter-to-sound rather than the dictionary are listed too: they train, but on a guess.

Nothing is written while an entry is bad, unless ``skip_bad`` leaves the bad ones out. A dev set
can be split off the training entries, deterministically from ``seed``: a share of the utterances
(``dev_fraction``) or whole speakers (``dev_speakers``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .audio import SAMPLE_RATE, audio_info, load_audio
from .data import Utterance, ctc_min_frames, read_manifest, write_manifest
from .errors import AudioError, DfcnnError, ManifestError, VocabError, check_field
from .fileio import check_writable_folder, read_jsonl
from .layouts import LAYOUTS, SEGMENT_OVERSHOOT, Corpus, Entry, Problem, read_layout
from .mandarin import is_cjk, pinyin_pieces
from .text import WORD_SEPARATOR, Tokenizer, build_vocab, get_normalizer, save_vocab
from .training.experiment import ExperimentConfig

VOCAB_FILE = "vocab.txt"  # written beside the manifests with write_vocab
SPLIT_ORDER = ("train", "dev", "test")  # how splits are listed; others (Kaldi subfolders) follow by name
SHOWN_GUESSES = 30  # letter-to-sound words listed in the report, most frequent first


@dataclass
class ManifestConfig:
    """What ``make_manifests`` reads, checks and writes."""

    source: str  # the corpus: a folder, or a file for the ljspeech and tsv layouts
    out: str = ""  # folder for <split>.jsonl (and vocab.txt); "" checks and reports, writing nothing
    layout: str = ""  # one of LAYOUTS; "" detects it from what the source holds
    # the run the manifests are for: data.unit, normalizer and pronunciations spell the transcripts;
    # data.max_utterance_duration, data.speed_perturb, features and model pooling bound the durations
    training: ExperimentConfig = field(default_factory=ExperimentConfig)
    vocab: str = ""  # spell the transcripts in this vocabulary (a model's, to fine-tune it); "" = the unit's own
    write_vocab: bool = False  # write OUT/vocab.txt, the vocabulary of the training transcripts in the unit
    speaker_pattern: str = ""  # regex searched in each id: its first group (or the match) is the speaker
    dev_fraction: float = 0.0  # split off this share of the training utterances as dev; 0 = none
    dev_speakers: int = 0  # or split off this many training speakers, all their utterances; 0 = none
    seed: int = 0  # which utterances or speakers the dev split draws (a hash of seed and id: any machine)
    skip_bad: bool = False  # leave bad entries out and write the rest; else write nothing while one is bad
    decode: bool = False  # decode every file, not only its header: slower, catches corrupt data past the header

    def __post_init__(self):
        check_field(self.layout in ("", *LAYOUTS), "layout", f"must be one of {', '.join(LAYOUTS)}")
        check_field(0 <= self.dev_fraction < 1, "dev_fraction", f"must lie in [0, 1), got {self.dev_fraction}")
        check_field(self.dev_speakers >= 0, "dev_speakers", f"must be >= 0, got {self.dev_speakers}")
        check_field(
            not (self.dev_fraction and self.dev_speakers),
            "dev_fraction",
            "and dev_speakers each choose the dev set: give one",
        )
        check_field(
            not (self.vocab and self.write_vocab),
            "write_vocab",
            "writes the vocabulary of the data, vocab names one to spell in: give one",
        )
        try:
            re.compile(self.speaker_pattern)
        except re.error as error:
            check_field(False, "speaker_pattern", f"is not a regular expression ({error})")


@dataclass
class Guess:
    """A word pronounced by letter-to-sound."""

    phones: list[str]
    count: int  # utterances it occurs in
    first: str  # where it first occurs


@dataclass
class Report:
    """What ``make_manifests`` found and wrote."""

    corpus: Corpus
    detected: bool  # the layout was detected, not given
    unit: str  # "char (english normaliser)"
    splits: dict[str, list[Utterance]]  # the good entries of each split, dev drawn
    bad: list[Problem]  # every bad entry, in the order read
    guesses: dict[str, Guess]  # unit phone: words pronounced by letter-to-sound
    written: list[Path]  # files written ([] while bad entries stop it, or without out)

    def text(self) -> str:
        how = "detected" if self.detected else "given"
        lines = [
            f"{self.corpus.layout} layout ({how}) of {self.corpus.source}; unit {self.unit}",
            f"{'split':<8}{'utterances':>11}{'hours':>9}{'speakers':>9}",
        ]
        everything = [u for utterances in self.splits.values() for u in utterances]
        for name, utterances in [*self.splits.items(), ("all", everything)]:
            known = {u.speaker for u in utterances if u.speaker is not None}
            speakers = str(len(known)) if known else "-"
            lines.append(
                f"{name:<8}{len(utterances):>11}{sum(u.duration for u in utterances) / 3600:>9.3f}{speakers:>9}"
            )
        if not any(u.speaker for u in everything):
            lines.append("speakers: the layout names none (--speaker-pattern takes them from the ids)")
        if self.bad:
            kinds = ", ".join(f"{count} {kind}" for kind, count in Counter(p.kind for p in self.bad).most_common())
            lines.append(
                f"bad entries: {len(self.bad)} ({kinds}), listed above" + ("; left out" if self.written else "")
            )
        if self.guesses:
            words = f"{len(self.guesses)} words are" if len(self.guesses) > 1 else "1 word is"
            lines.append(
                f"letter-to-sound: {words} not in the pronunciation dictionary; they train on eSpeak NG's guess:"
            )
            ranked = sorted(self.guesses.items(), key=lambda item: -item[1].count)
            for word, guess in ranked[:SHOWN_GUESSES]:
                times = f"{guess.count} utterances" if guess.count > 1 else "1 utterance"
                lines.append(f"  {word}: {' '.join(guess.phones)} ({times}, first at {guess.first})")
            if len(ranked) > SHOWN_GUESSES:
                lines.append(f"  and {len(ranked) - SHOWN_GUESSES} more")
        lines += [f"note: {note}" for note in self.corpus.notes]
        if self.written:
            lines.append(f"wrote {', '.join(str(path) for path in self.written)}")
        return "\n".join(lines)


def make_manifests(config: ManifestConfig) -> Report:
    """Read, check and (with ``config.out``, unless an entry is bad and ``skip_bad`` is off) write."""
    corpus = read_layout(config.source, config.layout or None)
    created = bool(config.out) and not Path(config.out).exists()
    out = check_writable_folder(config.out, "--out") if config.out else None  # fail now, not after the checks
    try:
        return _check_and_write(config, corpus, out)
    finally:
        if created and not any(out.iterdir()):
            out.rmdir()  # made by the check above, and nothing written in it


def _check_and_write(config: ManifestConfig, corpus: Corpus, out: Path | None) -> Report:
    data = config.training.data
    tokenizer = _spelling_tokenizer(config, corpus.entries)
    checker = _Checker(config, tokenizer)
    by_split: dict[str, list[Utterance]] = {}
    for entry in corpus.entries:
        utterance = checker.check(entry)
        if utterance is not None:
            by_split.setdefault(entry.split, []).append(utterance)
    bad = sorted(corpus.problems + checker.bad, key=_order)
    order = sorted(by_split, key=lambda name: (SPLIT_ORDER.index(name) if name in SPLIT_ORDER else 3, name))
    splits = split_dev({name: by_split[name] for name in order}, config.dev_fraction, config.dev_speakers, config.seed)
    report = Report(
        corpus, not config.layout, f"{data.unit} ({data.normalizer} normaliser)", splits, bad, checker.guesses, []
    )
    if out is None or (bad and not config.skip_bad):
        return report
    if not any(splits.values()):
        raise DfcnnError(f"{corpus.source}: no good entries left to write")
    if config.write_vocab and not splits.get("train"):
        raise DfcnnError(f"{corpus.source}: no training entries to build the vocabulary of --write-vocab from")
    for name, items in splits.items():
        if items:
            write_manifest(out / f"{name}.jsonl", items)
            report.written.append(out / f"{name}.jsonl")
    if config.write_vocab:
        texts = (tokenizer.normalize(u.text) for u in splits["train"])
        save_vocab(build_vocab(texts, unit=data.unit), out / VOCAB_FILE)
        report.written.append(out / VOCAB_FILE)
    return report


def _order(problem: Problem) -> tuple:
    """Bad entries in the order of their files and lines."""
    file, _, line = problem.where.rpartition(":")
    return (file, int(line)) if line.isdigit() else (problem.where, 0)


def _spelling_tokenizer(config: ManifestConfig, entries: list[Entry]) -> Tokenizer:
    """The given vocabulary, or every token the unit has for these texts (for char and word units
    that spells everything; for pinyin, a Latin word still has no syllable; for phone, a word with no
    pronunciation has none)."""
    data = config.training.data
    if config.vocab:
        return Tokenizer.from_file(config.vocab, data.normalizer, data.unit, data.pronunciations)
    normalize = get_normalizer(data.normalizer)
    texts = [normalize(entry.text) for entry in entries]
    tokens = build_vocab([t for t in texts if WORD_SEPARATOR not in t], unit=data.unit)
    return Tokenizer(tuple(tokens), data.normalizer, data.unit, data.pronunciations)


class _Checker:
    """Entry -> Utterance, or None with the first thing wrong with it added to ``bad``."""

    def __init__(self, config: ManifestConfig, tokenizer: Tokenizer):
        self.config, self.tokenizer = config, tokenizer
        self.speaker_pattern = re.compile(config.speaker_pattern) if config.speaker_pattern else None
        self.bad: list[Problem] = []
        self.guesses: dict[str, Guess] = {}
        self.ids: dict[str, str] = {}  # id -> where it was first seen
        self.audio_used: dict[tuple[Path, float | None], Entry] = {}
        self.audio: dict[Path, float | AudioError] = {}  # file -> its duration, or why it cannot be read

    def check(self, entry: Entry) -> Utterance | None:
        try:
            return self._check(entry)
        except _Bad as bad:
            self.bad.append(Problem(entry.where, bad.message, bad.kind))
            return None

    def _check(self, entry: Entry) -> Utterance:
        speaker = self._speaker(entry)
        if entry.utt_id in self.ids:
            raise _Bad("duplicate id", f"duplicate id {entry.utt_id!r} (first at {self.ids[entry.utt_id]})")
        self.ids[entry.utt_id] = entry.where
        duration = self._duration(entry)
        audio = Path(os.path.abspath(entry.audio))  # absolute: the manifest works from any folder
        first = self.audio_used.setdefault((audio, entry.offset), entry)
        if first is not entry:
            raise _Bad("duplicate audio", f"same audio as {first.utt_id!r} at {first.where}: {entry.audio}")
        tokens = self._tokens(entry)
        if entry.split == "train":
            self._check_duration(duration, tokens)
        return Utterance(audio, duration, entry.text, entry.utt_id, speaker, entry.offset)

    def _speaker(self, entry: Entry) -> str | None:
        if self.speaker_pattern is None:
            return entry.speaker
        match = self.speaker_pattern.search(entry.utt_id)
        if match is None:
            raise _Bad(
                "no speaker", f"id {entry.utt_id!r} does not match --speaker-pattern {self.speaker_pattern.pattern!r}"
            )
        return match.group(1) if self.speaker_pattern.groups else match.group(0)

    def _file_seconds(self, path: Path) -> float:
        if path not in self.audio:
            try:
                seconds = audio_info(path)[0]
                if self.config.decode:
                    load_audio(path)
                self.audio[path] = seconds
            except AudioError as error:
                self.audio[path] = error
        found = self.audio[path]
        if isinstance(found, AudioError):
            kind = "missing audio" if not path.exists() else "unreadable audio"
            raise _Bad(kind, f"audio {found}")
        return found

    def _duration(self, entry: Entry) -> float:
        """Seconds of the entry's audio: its file's, or its segment's (its end clipped to the file's)."""
        seconds = self._file_seconds(entry.audio)
        start, end = entry.offset or 0.0, seconds if entry.end is None else entry.end
        if entry.offset is not None and (start >= seconds or end > seconds + SEGMENT_OVERSHOOT):
            raise _Bad(
                "segment past the end",
                f"segment {start:g}-{end:g} s lies past the end of its recording ({seconds:.2f} s): {entry.audio}",
            )
        duration = min(end, seconds) - start
        if duration <= 0:
            raise _Bad("unreadable audio", f"audio {entry.audio}: holds no audio samples")
        return duration

    def _tokens(self, entry: Entry) -> list[int]:
        if not entry.text:
            raise _Bad("empty transcript", "empty transcript")
        text = self.tokenizer.normalize(entry.text)
        data = self.config.training.data
        if not text:
            hint = (
                "; Mandarin text? use --normalizer mandarin"
                if any(map(is_cjk, entry.text)) and data.normalizer == "english"
                else ""
            )
            raise _Bad(
                "empty transcript", f"transcript is empty once normalised ({data.normalizer}): {entry.text!r}{hint}"
            )
        if data.unit == "char" and WORD_SEPARATOR in text:
            raise _Bad(
                "unspellable",
                f"{WORD_SEPARATOR!r} is the vocabulary's word separator, not a character of text: {entry.text!r}",
            )
        try:
            tokens = self.tokenizer.encode(text)
        except VocabError as error:
            if self.config.vocab:
                reason = f"the vocabulary {self.config.vocab}: {str(error).split(' (text:')[0]}"
            elif data.unit == "pinyin":
                foreign = [piece for piece, syllable in pinyin_pieces(text) if not syllable]
                reason = f"unit pinyin: no syllable for {', '.join(map(repr, foreign))} (it spells Chinese characters)"
            else:
                reason = f"unit {data.unit}: {str(error).split(' (text:')[0]}"
            raise _Bad("unspellable", f"cannot be spelt in {reason}") from None
        if data.unit == "phone":
            self._note_guesses(entry, text)
        return tokens

    def _note_guesses(self, entry: Entry, text: str) -> None:
        pronouncer = self.tokenizer.pronouncer
        for word in dict.fromkeys(text.split()):
            if not pronouncer.in_dictionary(word):
                guess = self.guesses.setdefault(word, Guess(pronouncer.pronounce(word), 0, entry.where))
                guess.count += 1

    def _check_duration(self, seconds: float, tokens: list[int]) -> None:
        """The trainer's limits (``filter_for_ctc``): not longer than data.max_utterance_duration, and
        long enough at the fastest speed perturbation for CTC to fit its tokens."""
        training = self.config.training
        limit = training.data.max_utterance_duration
        if seconds > limit:
            raise _Bad(
                "too long",
                f"{seconds:.2f} s is longer than the trainer's limit of {limit:g} s (data.max_utterance_duration)",
            )
        fastest = max(training.data.speed_perturb, default=1.0)
        frames = training.features.num_frames(round(seconds / fastest * SAMPLE_RATE)) // training.model.time_reduction
        needed = ctc_min_frames(tokens)
        if frames < needed:
            raise _Bad(
                "too short",
                f"{seconds:.2f} s is too short for its {len(tokens)} tokens: the model's "
                f"{frames} output frames cannot hold the {needed} CTC needs",
            )


def check_manifest(
    path: str | Path, training: ExperimentConfig, tokenizer: Tokenizer, vocab: str, split: str = "train"
) -> tuple[list[Utterance], list[Problem]]:
    """A JSONL manifest's utterances checked as ``make_manifests`` checks a corpus's entries, spelt by
    ``tokenizer`` (``vocab``: how its vocabulary is named in the lines, e.g. a model's). Returns the
    good utterances as the manifest gives them and one ``Problem`` (FILE:LINE: what) per bad one; a
    malformed line is a ``ManifestError`` (``read_manifest``). ``split`` "train" also checks the
    trainer's duration limits."""
    path = Path(path)
    utterances = read_manifest(path)
    lines = [number for number, _ in read_jsonl(path, "manifest", ManifestError)]  # one per utterance, in order
    checker = _Checker(ManifestConfig(str(path), training=training, vocab=vocab), tokenizer)
    good = []
    for utterance, line in zip(utterances, lines):
        end = None if utterance.offset is None else utterance.offset + utterance.duration
        entry = Entry(
            utterance.utt_id,
            utterance.audio_filepath,
            utterance.text,
            f"{path}:{line}",
            split,
            utterance.speaker,
            utterance.offset,
            end,
        )
        if checker.check(entry) is not None:
            good.append(utterance)
    return good, checker.bad


class _Bad(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


def _hash_ranked(keys, seed: int) -> list[str]:
    """Distinct ``keys`` in the order of an MD5 of (seed, key): the same on every machine and Python."""
    return sorted(set(keys), key=lambda key: hashlib.md5(f"{seed}:{key}".encode()).hexdigest())


def split_dev(
    splits: dict[str, list[Utterance]], fraction: float = 0.0, speakers: int = 0, seed: int = 0
) -> dict[str, list[Utterance]]:
    """``splits`` with a dev split drawn from train: ``round(fraction * n)`` of its n utterances (at
    least one), or all the utterances of ``speakers`` of its speakers; unchanged when both are 0."""
    if not fraction and not speakers:
        return splits
    if "dev" in splits:
        raise DfcnnError("the layout has a dev split already: --dev-fraction or --dev-speakers would make a second")
    train = splits.get("train", [])
    if not train:
        raise DfcnnError("no training entries to split a dev set from")
    if speakers:
        if any(u.speaker is None for u in train):
            raise DfcnnError(
                "--dev-speakers needs every training utterance's speaker: this layout names none "
                "for some (--speaker-pattern takes them from the ids)"
            )
        ranked = _hash_ranked((u.speaker for u in train), seed)
        if speakers >= len(ranked):
            raise DfcnnError(f"--dev-speakers {speakers} leaves no training speaker: there are {len(ranked)}")
        chosen = set(ranked[:speakers])
        in_dev = [u.speaker in chosen for u in train]
    else:
        count = max(1, round(fraction * len(train)))
        if count >= len(train):
            raise DfcnnError(f"--dev-fraction {fraction:g} of {len(train)} utterances leaves none for training")
        chosen = set(_hash_ranked((u.utt_id for u in train), seed)[:count])
        in_dev = [u.utt_id in chosen for u in train]
    kept = [u for u, dev in zip(train, in_dev) if not dev]
    held_out = [u for u, dev in zip(train, in_dev) if dev]
    return {"train": kept, "dev": held_out, **{name: items for name, items in splits.items() if name != "train"}}
