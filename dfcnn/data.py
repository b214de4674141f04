"""Data: JSONL manifests, the dataset, padding collate and a duration-bucketed batch sampler.

A manifest has one utterance a line, with NeMo's keys; a relative ``audio_filepath`` is resolved
against the manifest's folder, and ``utt_id`` is optional (the file stem otherwise):

    {"audio_filepath": "wav/0_george_5.wav", "duration": 0.43, "text": "zero"}

Optional keys: ``speaker``, and ``offset`` for an utterance that is a part of its file (a Kaldi
segment): then it is the ``duration`` seconds from ``offset`` on, and only that part is read.

    {"audio_filepath": "/data/meeting.flac", "offset": 61.2, "duration": 3.5, "text": "hi", "speaker": "ann"}
"""

from __future__ import annotations

import json
import math
import random
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .audio import AUDIO_SUFFIXES, SAMPLE_RATE, audio_info, expand_audio_paths, load_audio
from .errors import AudioError, ConfigError, DfcnnError, DfcnnWarning, ManifestError, VocabError, quote
from .fileio import atomic_write_text, read_jsonl
from .text import Tokenizer

if TYPE_CHECKING:
    from .augment import RobustnessConfig

REQUIRED_KEYS = {"audio_filepath": str, "duration": (int, float), "text": str}


@dataclass(frozen=True)
class Utterance:
    """One manifest line."""

    audio_filepath: Path  # absolute, or relative to the working directory
    duration: float  # seconds
    text: str  # transcript (normalised by prepare scripts; normalised again before use)
    utt_id: str  # unique name, for alignments and logs
    speaker: str | None = None  # who speaks, where known
    offset: float | None = None  # seconds into the file where the utterance starts; None: it is the whole file


def read_manifest(path: str | Path) -> list[Utterance]:
    """Parse a JSONL manifest; any malformed line raises ``ManifestError`` naming file and line, as
    does an utt_id given twice (alignments, hypotheses and skipped files are named by it)."""
    path = Path(path)
    utterances = []
    first_line: dict[str, int] = {}  # utt_id -> the line that has it
    for number, record in read_jsonl(path, "manifest", ManifestError):
        where = f"{path}:{number}"
        for key, kind in REQUIRED_KEYS.items():
            if key not in record:
                raise ManifestError(f"{where}: missing key {key!r}")
            if not isinstance(record[key], kind) or isinstance(record[key], bool):
                raise ManifestError(f"{where}: {key!r} has the wrong type ({quote(record[key])})")
        if not (math.isfinite(record["duration"]) and record["duration"] > 0):
            raise ManifestError(f"{where}: 'duration' must be a positive number of seconds, got {record['duration']}")
        offset, speaker = record.get("offset"), record.get("speaker")
        if offset is not None and (
            not isinstance(offset, (int, float)) or isinstance(offset, bool) or not math.isfinite(offset) or offset < 0
        ):
            raise ManifestError(f"{where}: 'offset' must be a number of seconds >= 0, got {quote(offset)}")
        if speaker is not None and not isinstance(speaker, str):
            raise ManifestError(f"{where}: 'speaker' has the wrong type ({quote(speaker)})")
        audio = Path(record["audio_filepath"])
        if not audio.is_absolute():
            audio = path.parent / audio
        utt_id = str(record.get("utt_id", audio.stem))
        if first_line.setdefault(utt_id, number) != number:
            origin = "" if "utt_id" in record else " (the file name's stem: the line has no utt_id)"
            raise ManifestError(
                f"{where}: utt_id {quote(utt_id)}{origin} is also on line {first_line[utt_id]}: "
                "each utterance needs an id of its own"
            )
        utterances.append(
            Utterance(
                audio,
                float(record["duration"]),
                record["text"],
                utt_id,
                speaker,
                None if offset is None else float(offset),
            )
        )
    if not utterances:
        raise ManifestError(f"{path}: manifest holds no utterances")
    return utterances


def write_manifest(path: str | Path, utterances: Sequence[Utterance]) -> None:
    """Write a manifest atomically (temp file + rename), paths as given; ``speaker`` and ``offset``
    where they are set."""
    records = []
    for u in utterances:
        record = {
            "audio_filepath": str(u.audio_filepath),
            "duration": round(u.duration, 4),
            "text": u.text,
            "utt_id": u.utt_id,
        }
        if u.offset is not None:
            record["offset"] = round(u.offset, 4)
        if u.speaker is not None:
            record["speaker"] = u.speaker
        records.append(record)
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def load_utterance(utterance: Utterance, strict: bool = False) -> np.ndarray:
    """The (N,) float32 16 kHz samples of a manifest utterance: its file, or its part of it (``offset``);
    ``strict``: a file cut short or damaged is an ``AudioError`` (see ``audio.load_audio``)."""
    if utterance.offset is None:
        return load_audio(utterance.audio_filepath, strict=strict)
    return load_audio(utterance.audio_filepath, offset=utterance.offset, duration=utterance.duration)


def _examples(items: Sequence[str], shown: int = 3) -> str:
    return ", ".join(items[:shown]) + (f" and {len(items) - shown} more" if len(items) > shown else "")


def warn_about_references(
    manifest: str | Path,
    utterances: Sequence[Utterance],
    tokenizer: Tokenizer,
    audio_seconds: Sequence[float | None] = (),
) -> list[str]:
    """Warn (``DfcnnWarning``, one line each, with a count and examples) about what would make a
    score of ``utterances`` mislead: references empty after normalisation (every hypothesis word is
    an insertion), references with characters outside the vocabulary (the model can never write
    them), and manifest durations far from the audio's (``audio_seconds``, None where unknown; the
    manifest duration sizes batches). Returns the warnings.
    """
    empty, unknown, durations, sample = [], [], [], ""
    for index, utterance in enumerate(utterances):
        text = tokenizer.normalize(utterance.text)
        if not text.strip():
            empty.append(utterance.utt_id)
        else:
            try:
                tokenizer.encode(text)
            except VocabError as error:
                unknown.append(utterance.utt_id)
                sample = sample or str(error).split(" (text:")[0]
        actual = audio_seconds[index] if index < len(audio_seconds) else None
        if actual is not None and abs(utterance.duration - actual) > 0.5 + 0.1 * actual:
            durations.append(f"{utterance.utt_id} ({utterance.duration:g} s, audio {actual:.1f} s)")
    total = len(utterances)
    problems = []
    if empty:
        problems.append(
            f"{manifest}: {len(empty)} of {total} references are empty after normalisation (their "
            f"hypotheses' words all count as insertions): {_examples(empty)}"
        )
    if unknown:
        problems.append(
            f"{manifest}: {len(unknown)} of {total} references have characters outside the model's "
            f"vocabulary, which it can never write (e.g. {sample}): {_examples(unknown)}"
        )
    if durations:
        problems.append(
            f"{manifest}: {len(durations)} of {total} durations disagree with their audio: {_examples(durations)}"
        )
    for problem in problems:
        warnings.warn(problem, DfcnnWarning, stacklevel=2)
    return problems


def ctc_min_frames(token_ids: Sequence[int]) -> int:
    """Fewest output frames CTC needs for a label sequence: one per token, plus a blank between repeats."""
    repeats = sum(1 for a, b in zip(token_ids, token_ids[1:]) if a == b)
    return len(token_ids) + repeats


def filter_for_ctc(
    utterances: Sequence[Utterance],
    tokenizer: Tokenizer,
    output_frames: Callable[[float], int],
    max_duration: float,
) -> tuple[list[Utterance], list[list[int]], Counter]:
    """Keep the utterances CTC can train on; count the rest by reason, never drop silently.

    Args:
        output_frames: duration in seconds -> number of model output frames.
        max_duration: longer utterances are dropped (they would not fit in memory).
    Returns:
        (kept utterances, their token ids, Counter of dropped reasons).
    """
    kept, targets, dropped = [], [], Counter()
    for utt in utterances:
        if utt.duration > max_duration:
            dropped[f"longer than {max_duration:g} s"] += 1
            continue
        try:
            ids = tokenizer.encode(tokenizer.normalize(utt.text))
        except VocabError:
            dropped["characters outside the vocabulary"] += 1
            continue
        if not ids:
            dropped["empty transcript"] += 1
            continue
        if output_frames(utt.duration) < ctc_min_frames(ids):
            dropped["too short for its transcript under CTC"] += 1
            continue
        kept.append(utt)
        targets.append(ids)
    return kept, targets, dropped


@dataclass
class Batch:
    """A padded batch. B utterances, N samples (rounded up to a length bucket), L target tokens."""

    waves: torch.Tensor  # (B, N) float32, 16 kHz, zero-padded
    wave_lengths: torch.Tensor  # (B,) int64, samples
    targets: torch.Tensor  # (B, L) int64, zero-padded token ids
    target_lengths: torch.Tensor  # (B,) int64
    indices: list[int]  # positions in the dataset
    failed: list[tuple[int, str]] = field(default_factory=list)  # (position, why) of items that could not load

    def to(self, device: torch.device) -> Batch:
        move = dict(non_blocking=True)
        return Batch(
            self.waves.to(device, **move),
            self.wave_lengths.to(device, **move),
            self.targets.to(device, **move),
            self.target_lengths.to(device, **move),
            self.indices,
            self.failed,
        )


Item = tuple[int, "torch.Tensor | None", list[int], "str | None"]  # (position, wave or None, targets, error)
MICROPHONE_STREAM = 2  # tells the robustness draws' random stream apart from any other drawn from (seed, epoch, index)


class NoiseRecordings:
    """The noise recordings in a folder (``RobustnessConfig.noise_dir``), read a segment at a time."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        if not folder.is_dir():
            raise ConfigError(f"data.robustness.noise_dir: {folder} is not a folder")
        self.paths = [path for path in expand_audio_paths([folder]) if path != folder]
        if not self.paths:
            raise ConfigError(f"data.robustness.noise_dir: {folder} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
        self.durations = [audio_info(path)[0] for path in self.paths]  # an unreadable one: AudioError naming it

    def read(self, index: int, start: float, size: int) -> np.ndarray:
        """(size,) samples of recording ``index``, from ``start`` (a fraction of the part that leaves
        ``size`` samples after it), repeated where the recording is shorter."""
        seconds, total = size / SAMPLE_RATE, self.durations[index]
        offset = start * max(0.0, total - seconds)
        return np.resize(load_audio(self.paths[index], offset=offset, duration=min(seconds, total)), size)


class SpeechDataset(torch.utils.data.Dataset):
    """Utterances with their token ids; items are decoded from disk on access.

    An item is looked up by ``(epoch, index)`` (as ``DurationBatchSampler`` yields them) or by
    ``index``. With ``speeds`` (Kaldi's speed perturbation, e.g. 0.9, 1.0, 1.1) each item is played
    at a speed drawn from (seed, epoch, index) alone, so workers that live across epochs need no
    shared state and a resumed run draws the same speeds: factor f plays the wave f times faster
    (``augment.speed``), so it lasts 1/f as long with pitch and formants scaled by f. With
    ``robustness`` it then gets what a microphone adds (``augment.add_microphone``: silence at the
    ends, room noise, a pause; ``noise`` holds the noise recordings), drawn from (seed, epoch, index)
    too; ``max_samples`` bounds the result for the batch sampler.

    A file that cannot be decoded does not raise in the worker (a multi-line worker traceback): its
    item carries the error, and ``collate`` leaves it out of the batch and lists it in ``failed``.
    """

    def __init__(
        self,
        utterances: Sequence[Utterance],
        targets: Sequence[Sequence[int]] | None = None,
        speeds: Sequence[float] = (),
        seed: int = 0,
        robustness: RobustnessConfig | None = None,
        noise: NoiseRecordings | None = None,
    ):
        self.utterances = list(utterances)
        self.targets = [list(t) for t in targets] if targets is not None else [[] for _ in self.utterances]
        if any(not 0.5 <= speed <= 2.0 for speed in speeds):
            raise DfcnnError(f"speed perturbation factors must lie in [0.5, 2], got {list(speeds)}")
        self.speeds = list(speeds)
        self.seed = seed
        self.robustness = robustness if robustness is not None and robustness.enabled else None
        self.noise = noise

    def speed(self, index: int, epoch: int = 0) -> float:
        """The speed factor of item ``index`` in ``epoch`` (1.0 without perturbation)."""
        if not self.speeds:
            return 1.0
        return random.Random(self.seed * 1_000_003 + epoch * 100_003 + index).choice(self.speeds)

    def microphone(self, index: int, epoch: int = 0) -> dict:
        """The ``augment.add_microphone`` settings of item ``index`` in ``epoch`` ({} without robustness)."""
        if self.robustness is None:
            return {}
        rng = np.random.default_rng([self.seed, epoch, index, MICROPHONE_STREAM])
        return self.robustness.draw(rng, len(self.noise.paths) if self.noise is not None else 0)

    def max_samples(self, index: int, epoch: int = 0) -> int:
        """The most samples item ``index`` has in ``epoch``: its manifest duration at its drawn speed,
        plus the silence drawn for it."""
        samples = round(self.utterances[index].duration * SAMPLE_RATE / self.speed(index, epoch))
        params = self.microphone(index, epoch)
        if params:
            from .augment import added_samples

            samples += added_samples(params, SAMPLE_RATE)
        return samples

    def epoch_durations(self, epoch: int) -> list[float]:
        """Seconds of each item at most in ``epoch`` (``max_samples``): what the batch sampler packs."""
        return [self.max_samples(index, epoch) / SAMPLE_RATE for index in range(len(self))]

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, key: int | tuple[int, int]) -> Item:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        try:
            wave = load_utterance(self.utterances[index], strict=True)  # its text is of all of it
            speed, params = self.speed(index, epoch), self.microphone(index, epoch)
            if speed != 1.0:
                from .augment import speed as play_at  # scipy loads with it: only where speeds are drawn

                wave = play_at(wave, speed)  # (N,) -> (~N / speed,)
            if params:
                from .augment import add_microphone

                read_noise = None
                if params.get("noise") == "file":
                    read_noise = partial(self.noise.read, params["noise_file"], params["noise_start"])
                wave = add_microphone(wave, SAMPLE_RATE, params, read_noise)  # (N,) -> (N + silence,)
        except AudioError as error:  # the utterance's file, or the noise recording drawn for it
            return index, None, self.targets[index], str(error)
        return index, torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), self.targets[index], None

    @property
    def durations(self) -> list[float]:
        return [u.duration for u in self.utterances]


def bucketed_length(samples: int, buckets_per_doubling: int, floor: int = SAMPLE_RATE // 4) -> int:
    """``samples`` rounded up to the next of ``buckets_per_doubling`` geometric steps per doubling
    (from a quarter second): batches then come in a few repeating shapes, whose buffers the
    allocator and oneDNN reuse, instead of a new shape (and fresh heap) every step. 0: unchanged."""
    if buckets_per_doubling <= 0 or samples <= floor:
        return max(samples, 1) if buckets_per_doubling <= 0 else floor
    step = math.ceil(buckets_per_doubling * math.log2(samples / floor) - 1e-9)
    return max(samples, math.ceil(floor * 2 ** (step / buckets_per_doubling)))


def collate(items: Sequence[Item], buckets_per_doubling: int = 0) -> Batch:
    """Pad the waves and targets of ``SpeechDataset`` items into a ``Batch``; items whose audio
    failed to load are left out and listed in ``Batch.failed``. Waves are padded to the longest,
    rounded up to a length bucket (``bucketed_length``)."""
    failed = [(index, error) for index, wave, _, error in items if wave is None]
    items = [item for item in items if item[1] is not None]
    indices = [index for index, _, _, _ in items]
    wave_lengths = torch.tensor([len(wave) for _, wave, _, _ in items], dtype=torch.long)
    longest = int(wave_lengths.max()) if items else 0
    waves = torch.zeros(len(items), bucketed_length(longest, buckets_per_doubling) if items else 0)
    for row, (_, wave, _, _) in enumerate(items):
        waves[row, : len(wave)] = wave
    target_lengths = torch.tensor([len(t) for _, _, t, _ in items], dtype=torch.long)
    targets = torch.zeros(len(items), max(1, int(target_lengths.max()) if items else 1), dtype=torch.long)
    for row, (_, _, target, _) in enumerate(items):
        targets[row, : len(target)] = torch.tensor(target, dtype=torch.long)
    return Batch(waves, wave_lengths, targets, target_lengths, indices, failed)


class DurationBatchSampler(torch.utils.data.Sampler):
    """Batches of similar-length utterances holding at most ``max_duration`` padded seconds.

    Utterances are sorted by duration, cut into buckets of neighbours, shuffled inside each bucket,
    packed greedily (a batch's cost is its longest utterance, rounded up to its length bucket, times
    its size) and the batches shuffled. Each epoch's batches follow from (seed, epoch) alone, so a
    resumed run replays the same order and skips the batches already done. With ``world_size`` > 1
    each rank takes every world_size-th batch. Batches are lists of ``(epoch, index)`` keys.

    ``epoch_durations`` (epoch -> seconds of each item, e.g. ``SpeechDataset.epoch_durations``) gives
    the lengths an epoch's augmentation makes (speed, added silence); ``durations`` serve otherwise.
    """

    def __init__(
        self,
        durations: Sequence[float],
        max_duration: float,
        shuffle: bool = True,
        seed: int = 0,
        num_buckets: int = 20,
        rank: int = 0,
        world_size: int = 1,
        buckets_per_doubling: int = 0,
        epoch_durations: Callable[[int], Sequence[float]] | None = None,
    ):
        if max_duration <= 0:
            raise DfcnnError(f"max batch duration must be positive, got {max_duration}")
        self.durations = list(durations)
        self.max_duration = max_duration
        self.shuffle = shuffle
        self.seed = seed
        self.num_buckets = num_buckets
        self.rank = rank
        self.world_size = world_size
        self.buckets_per_doubling = buckets_per_doubling
        self.epoch_durations = epoch_durations
        self._lengths: tuple[int, list[float]] | None = None  # (epoch, its durations): drawn once an epoch
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        """Select the epoch's batch order; skip its first ``skip_batches`` batches (for resume)."""
        self.epoch = epoch
        self.skip = skip_batches

    def lengths(self) -> list[float]:
        """Seconds of each item in the current epoch."""
        if self.epoch_durations is None:
            return self.durations
        if self._lengths is None or self._lengths[0] != self.epoch:
            self._lengths = (self.epoch, list(self.epoch_durations(self.epoch)))
        return self._lengths[1]

    def _padded_seconds(self, seconds: float) -> float:
        return bucketed_length(round(seconds * SAMPLE_RATE), self.buckets_per_doubling) / SAMPLE_RATE

    def epoch_batches(self) -> list[list[int]]:
        """All batches of the current epoch on this rank, as dataset indices (ignores the resume skip)."""
        lengths = self.lengths()
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        rng = random.Random(self.seed * 100_003 + self.epoch)
        if self.shuffle:
            size = max(1, -(-len(order) // self.num_buckets))
            buckets = [order[i : i + size] for i in range(0, len(order), size)]
            for bucket in buckets:
                rng.shuffle(bucket)
            order = [i for bucket in buckets for i in bucket]
        batches, current, longest = [], [], 0.0
        for index in order:
            new_longest = max(longest, self._padded_seconds(lengths[index]))
            if current and new_longest * (len(current) + 1) > self.max_duration:
                batches.append(current)
                current, new_longest = [], self._padded_seconds(lengths[index])
            current.append(index)
            longest = new_longest
        if current:
            batches.append(current)
        if self.shuffle:
            rng.shuffle(batches)
        if self.world_size > 1:
            usable = len(batches) - len(batches) % self.world_size
            batches = batches[self.rank : usable : self.world_size]
        return batches

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for batch in self.epoch_batches()[self.skip :]:
            yield [(self.epoch, index) for index in batch]

    def __len__(self) -> int:
        return max(0, len(self.epoch_batches()) - self.skip)
