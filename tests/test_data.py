import json
import math

import pytest
import torch

from dfcnn.data import (
    DurationBatchSampler,
    SpeechDataset,
    Utterance,
    bucketed_length,
    collate,
    ctc_min_frames,
    filter_for_ctc,
    read_manifest,
    write_manifest,
)
from dfcnn.errors import ManifestError
from dfcnn.text import Tokenizer, build_vocab


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_manifest_round_trip_and_relative_paths(tmp_path, write_tone):
    write_tone("a.wav")
    manifest = write_lines(
        tmp_path / "m.jsonl", [json.dumps({"audio_filepath": "a.wav", "duration": 1.0, "text": "hi"})]
    )
    utts = read_manifest(manifest)
    assert utts[0].audio_filepath == tmp_path / "a.wav" and utts[0].utt_id == "a"
    write_manifest(tmp_path / "out.jsonl", utts)
    assert read_manifest(tmp_path / "out.jsonl") == utts


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ('{"audio_filepath": "a.wav", "duration": 1.0', "m.jsonl:2: not valid JSON"),
        ('{"audio_filepath": "a.wav", "text": "x"}', "m.jsonl:2: missing key 'duration'"),
        ('{"audio_filepath": "a.wav", "duration": "1", "text": "x"}', "m.jsonl:2: 'duration' has the wrong type"),
        ('{"audio_filepath": "a.wav", "duration": -1, "text": "x"}', "m.jsonl:2: 'duration' must be a positive number"),
        ('{"audio_filepath": "a.wav", "duration": Infinity, "text": "x"}', "m.jsonl:2: 'duration' must be a positive"),
        ('["a.wav", 1.0, "x"]', "m.jsonl:2: expected a JSON object"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, bad_line, message):
    good = json.dumps({"audio_filepath": "a.wav", "duration": 1.0, "text": "x"})
    manifest = write_lines(tmp_path / "m.jsonl", [good, bad_line, good])
    with pytest.raises(ManifestError, match=message):
        read_manifest(manifest)


@pytest.mark.parametrize(
    "second, message",
    [
        (
            {"audio_filepath": "b.wav", "utt_id": "one"},
            "m.jsonl:3: utt_id 'one' is also on line 1: each utterance needs an id of its own",
        ),
        (
            {"audio_filepath": "x/a.wav"},
            "m.jsonl:3: utt_id 'a' \\(the file name's stem: the line has no utt_id\\) is also on line 2",
        ),
    ],
)
def test_an_utt_id_given_twice_names_both_lines(tmp_path, second, message):
    lines = [{"audio_filepath": "one.wav", "utt_id": "one"}, {"audio_filepath": "a.wav"}, second]
    manifest = write_lines(tmp_path / "m.jsonl", [json.dumps({"duration": 1.0, "text": "x", **r}) for r in lines])
    with pytest.raises(ManifestError, match=message):
        read_manifest(manifest)


def test_missing_and_empty_manifest(tmp_path):
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest(tmp_path / "none.jsonl")
    with pytest.raises(ManifestError, match="holds no utterances"):
        read_manifest(write_lines(tmp_path / "e.jsonl", [""]))


def test_ctc_min_frames():
    assert ctc_min_frames([1, 2, 3]) == 3
    assert ctc_min_frames([1, 1, 2, 2, 2]) == 8


def test_filter_counts_every_dropped_utterance(tmp_path):
    tok = Tokenizer(tuple(build_vocab(["abc"])))
    utts = [
        Utterance(tmp_path / "ok.wav", 1.0, "abc", "ok"),
        Utterance(tmp_path / "long.wav", 40.0, "abc", "long"),
        Utterance(tmp_path / "short.wav", 0.1, "aaaa", "short"),  # 2.5 frames for 7 needed
        Utterance(tmp_path / "oov.wav", 1.0, "xyz", "oov"),
        Utterance(tmp_path / "empty.wav", 1.0, "...", "empty"),
    ]
    kept, targets, dropped = filter_for_ctc(utts, tok, lambda seconds: int(seconds * 25), max_duration=30)
    assert [u.utt_id for u in kept] == ["ok"] and targets == [tok.encode("abc")]
    assert sum(dropped.values()) == 4
    assert dropped["longer than 30 s"] == 1 and dropped["too short for its transcript under CTC"] == 1


def test_sampler_covers_each_utterance_once_and_respects_budget():
    durations = [0.5 + (i * 37 % 100) / 20 for i in range(200)]
    sampler = DurationBatchSampler(durations, max_duration=20.0, seed=3)
    batches = [[index for epoch, index in batch] for batch in sampler]
    assert {epoch for batch in sampler for epoch, _ in batch} == {0}  # keys carry the epoch
    assert sorted(i for b in batches for i in b) == list(range(200))
    for batch in batches:
        assert max(durations[i] for i in batch) * len(batch) <= 20.0 or len(batch) == 1
    assert len(sampler) == len(batches)


def test_sampler_is_deterministic_per_epoch_and_skips_for_resume():
    durations = [1.0 + i % 7 for i in range(100)]
    sampler = DurationBatchSampler(durations, max_duration=15.0, seed=1)
    sampler.set_epoch(2)
    epoch2 = list(sampler)
    sampler.set_epoch(3)
    assert list(sampler) != epoch2
    sampler.set_epoch(2, skip_batches=4)
    assert list(sampler) == epoch2[4:]


def test_sampler_shards_across_ranks():
    durations = [1.0] * 40
    shards = [list(DurationBatchSampler(durations, 4.0, seed=0, rank=r, world_size=3)) for r in range(3)]
    assert len({len(s) for s in shards}) == 1  # every rank runs the same number of steps
    flat = [i for s in shards for b in s for i in b]
    assert len(flat) == len(set(flat))


def test_collate_pads_and_keeps_lengths(write_tone):
    a, b = write_tone("a.wav", seconds=0.5), write_tone("b.wav", seconds=0.25)
    dataset = SpeechDataset([Utterance(a, 0.5, "x", "a"), Utterance(b, 0.25, "y", "b")], [[1, 2, 3], [4]])
    batch = collate([dataset[0], dataset[1]])
    assert batch.waves.shape == (2, 8000)
    assert batch.wave_lengths.tolist() == [8000, 4000]
    assert torch.all(batch.waves[1, 4000:] == 0)
    assert batch.targets.tolist() == [[1, 2, 3], [4, 0, 0]] and batch.target_lengths.tolist() == [3, 1]


@pytest.mark.parametrize("per_doubling", [8, 24])
def test_bucketed_lengths_are_few_and_pad_little(per_doubling):
    lengths = range(1, 30 * 16000, 997)  # up to 30 s
    padded = [bucketed_length(n, per_doubling) for n in lengths]
    assert all(n <= p <= max(n, 4000) * 2 ** (1 / per_doubling) + 1 for n, p in zip(lengths, padded))
    assert padded == sorted(padded)
    assert len(set(padded)) <= per_doubling * math.log2(30 * 16000 / 4000) + 2  # a few sizes per doubling
    assert [bucketed_length(n, 0) for n in (1, 12345)] == [1, 12345]  # 0: exact


def test_collate_pads_to_the_length_bucket(write_tone):
    a, b = write_tone("a.wav", seconds=0.45), write_tone("b.wav", seconds=0.25)
    dataset = SpeechDataset([Utterance(a, 0.45, "x", "a"), Utterance(b, 0.25, "y", "b")], [[1, 2, 3], [4]])
    batch = collate([dataset[0], dataset[1]], buckets_per_doubling=8)
    assert batch.waves.shape == (2, bucketed_length(7200, 8)) and batch.waves.shape[1] > 7200
    assert batch.wave_lengths.tolist() == [7200, 4000]
    assert torch.all(batch.waves[0, 7200:] == 0) and torch.all(batch.waves[1, 4000:] == 0)


def test_sampler_budget_counts_the_bucketed_length():
    durations = [0.5 + (i * 37 % 100) / 20 for i in range(200)]
    sampler = DurationBatchSampler(durations, max_duration=20.0, seed=3, buckets_per_doubling=8)
    batches = [[index for _, index in batch] for batch in sampler]
    assert sorted(i for b in batches for i in b) == list(range(200))
    for batch in batches:
        longest = bucketed_length(round(max(durations[i] for i in batch) * 16000), 8) / 16000
        assert longest * len(batch) <= 20.0 or len(batch) == 1
