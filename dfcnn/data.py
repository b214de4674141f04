"""Data: JSONL manifests, the dataset, padding collate and a duration-bucketed batch sampler.

A manifest has one utterance a line, with NeMo's keys; a relative ``audio_filepath`` is resolved
against the manifest's folder, and ``utt_id`` is optional (the file stem otherwise):

    {"audio_filepath": "wav/0_george_5.wav", "duration": 0.43, "text": "zero"}
"""

from __future__ import annotations

import json
import multiprocessing
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_write_text
from .audio import SAMPLE_RATE, load_audio, resample
from .errors import ConfigError, DfcnnError, ManifestError, VocabError
from .text import Tokenizer

REQUIRED_KEYS = {"audio_filepath": str, "duration": (int, float), "text": str}


@dataclass(frozen=True)
class Utterance:
    """One manifest line."""

    audio_filepath: Path  # absolute, or relative to the working directory
    duration: float  # seconds
    text: str  # transcript (normalised by prepare scripts; normalised again before use)
    utt_id: str  # unique name, for alignments and logs


def read_manifest(path: str | Path) -> list[Utterance]:
    """Parse a JSONL manifest; any malformed line raises ``ManifestError`` naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    utterances = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ManifestError(f"{where}: not valid JSON ({error.msg} at column {error.colno})") from None
            if not isinstance(record, dict):
                raise ManifestError(f"{where}: expected a JSON object, got {type(record).__name__}")
            for key, kind in REQUIRED_KEYS.items():
                if key not in record:
                    raise ManifestError(f"{where}: missing key {key!r}")
                if not isinstance(record[key], kind) or isinstance(record[key], bool):
                    raise ManifestError(f"{where}: {key!r} has the wrong type ({record[key]!r})")
            if not record["duration"] > 0:
                raise ManifestError(f"{where}: 'duration' must be positive, got {record['duration']}")
            audio = Path(record["audio_filepath"])
            if not audio.is_absolute():
                audio = path.parent / audio
            utterances.append(
                Utterance(audio, float(record["duration"]), record["text"], str(record.get("utt_id", audio.stem)))
            )
    if not utterances:
        raise ManifestError(f"{path}: manifest holds no utterances")
    return utterances


def write_manifest(path: str | Path, utterances: Sequence[Utterance]) -> None:
    """Write a manifest atomically (temp file + rename), paths as given."""
    records = [
        {"audio_filepath": str(u.audio_filepath), "duration": round(u.duration, 4), "text": u.text, "utt_id": u.utt_id}
        for u in utterances
    ]
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


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
    """A padded batch. B utterances, N samples, L target tokens."""

    waves: torch.Tensor  # (B, N) float32, 16 kHz, zero-padded
    wave_lengths: torch.Tensor  # (B,) int64, samples
    targets: torch.Tensor  # (B, L) int64, zero-padded token ids
    target_lengths: torch.Tensor  # (B,) int64
    indices: list[int]  # positions in the dataset

    def to(self, device: torch.device) -> Batch:
        move = dict(non_blocking=True)
        return Batch(
            self.waves.to(device, **move),
            self.wave_lengths.to(device, **move),
            self.targets.to(device, **move),
            self.target_lengths.to(device, **move),
            self.indices,
        )


class SpeechDataset(torch.utils.data.Dataset):
    """Utterances with their token ids; items are decoded from disk on access.

    With ``speeds`` (Kaldi's speed perturbation, e.g. 0.9, 1.0, 1.1) each item is played at a speed
    drawn from (seed, epoch, index) alone, so workers need no shared RNG and a resumed run draws the
    same speeds: factor f resamples the wave as if it had been recorded at f x 16 kHz, so it lasts 1/f
    as long with pitch and formants scaled by f.
    """

    def __init__(
        self, utterances: Sequence[Utterance], targets: Sequence[Sequence[int]] | None = None,
        speeds: Sequence[float] = (), seed: int = 0,
    ):
        self.utterances = list(utterances)
        self.targets = [list(t) for t in targets] if targets is not None else [[] for _ in self.utterances]
        if any(not 0.5 <= speed <= 2.0 for speed in speeds):
            raise DfcnnError(f"speed perturbation factors must lie in [0.5, 2], got {list(speeds)}")
        self.speeds = list(speeds)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's speed draws (call before the DataLoader starts its workers)."""
        self.epoch = epoch

    def speed(self, index: int) -> float:
        """The speed factor of item ``index`` in the current epoch (1.0 without perturbation)."""
        if not self.speeds:
            return 1.0
        return random.Random(self.seed * 1_000_003 + self.epoch * 100_003 + index).choice(self.speeds)

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor, list[int]]:
        wave = load_audio(self.utterances[index].audio_filepath)
        speed = self.speed(index)
        if speed != 1.0:
            wave = resample(wave, round(SAMPLE_RATE * speed), SAMPLE_RATE)  # (N,) -> (~N / speed,)
        return index, torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), self.targets[index]

    @property
    def durations(self) -> list[float]:
        return [u.duration for u in self.utterances]


def worker_options(num_workers: int, start: str = "forkserver") -> dict:
    """DataLoader options for ``num_workers`` audio-decoding processes started by ``start``.

    forkserver (the default; spawn where there is none): a worker forked from the trainer shares its
    heap copy-on-write, and its own allocations reuse pages the trainer has freed, copying each:
    measured here, every forked worker grew to the trainer's size (5.2 GB), against 0.55 GB from the
    forkserver, which re-imports torch once an epoch (first batch of an epoch: 2.7 s against a
    fork's 1.6 s, measured on FSDD).
    A forkserver child re-runs the main script, so a script that trains must guard its entry point
    (``if __name__ == "__main__":``), as on macOS and Windows; the dfcnn command does. ``fork``
    needs no guard.
    """
    if start not in ("forkserver", "fork"):
        raise ConfigError(f"data.worker_start must be forkserver or fork, got {start!r}")
    if num_workers <= 0:
        return {"num_workers": 0}
    methods = multiprocessing.get_all_start_methods()
    context = start if start in methods else "spawn"
    return {"num_workers": num_workers, "multiprocessing_context": context}


def collate(items: Sequence[tuple[int, torch.Tensor, list[int]]]) -> Batch:
    """Pad waves and targets of ``SpeechDataset`` items into a ``Batch``."""
    indices = [index for index, _, _ in items]
    wave_lengths = torch.tensor([len(wave) for _, wave, _ in items], dtype=torch.long)
    waves = torch.zeros(len(items), int(wave_lengths.max()))
    for row, (_, wave, _) in enumerate(items):
        waves[row, : len(wave)] = wave
    target_lengths = torch.tensor([len(t) for _, _, t in items], dtype=torch.long)
    targets = torch.zeros(len(items), max(1, int(target_lengths.max())), dtype=torch.long)
    for row, (_, _, target) in enumerate(items):
        targets[row, : len(target)] = torch.tensor(target, dtype=torch.long)
    return Batch(waves, wave_lengths, targets, target_lengths, indices)


class DurationBatchSampler(torch.utils.data.Sampler):
    """Batches of similar-length utterances holding at most ``max_duration`` padded seconds.

    Utterances are sorted by duration, cut into buckets of neighbours, shuffled inside each bucket,
    packed greedily (a batch's cost is its longest utterance times its size) and the batches shuffled.
    Each epoch's batches follow from (seed, epoch) alone, so a resumed run replays the same order and
    skips the batches already done. With ``world_size`` > 1 each rank takes every world_size-th batch.
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
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        """Select the epoch's batch order; skip its first ``skip_batches`` batches (for resume)."""
        self.epoch = epoch
        self.skip = skip_batches

    def epoch_batches(self) -> list[list[int]]:
        """All batches of the current epoch on this rank (ignores the resume skip)."""
        order = sorted(range(len(self.durations)), key=lambda i: self.durations[i])
        rng = random.Random(self.seed * 100_003 + self.epoch)
        if self.shuffle:
            size = max(1, -(-len(order) // self.num_buckets))
            buckets = [order[i : i + size] for i in range(0, len(order), size)]
            for bucket in buckets:
                rng.shuffle(bucket)
            order = [i for bucket in buckets for i in bucket]
        batches, current, longest = [], [], 0.0
        for index in order:
            new_longest = max(longest, self.durations[index])
            if current and new_longest * (len(current) + 1) > self.max_duration:
                batches.append(current)
                current, new_longest = [], self.durations[index]
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

    def __iter__(self) -> Iterator[list[int]]:
        yield from self.epoch_batches()[self.skip :]

    def __len__(self) -> int:
        return max(0, len(self.epoch_batches()) - self.skip)
