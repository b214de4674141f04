"""A small DFCNN must learn a handful of real recordings: the whole training path (features, masking,
CTC, optimiser, decoding) works on real speech. How close to zero errors a memorising run gets depends
on the CPU's kernels and rounding, so the bounds leave room for a letter or a word."""

import pytest
from conftest import shared_corpus

from dfcnn.config import load_config
from dfcnn.data import Utterance, write_manifest
from dfcnn.evaluate import evaluate
from dfcnn.text import build_vocab, save_vocab
from dfcnn.training.train import ExperimentConfig, Trainer

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


PAIRS = [
    ("jackson_7", 1, 3),
    ("jackson_7", 5, 7),
    ("jackson_7", 0, 8),
    ("jackson_7", 2, 9),
    ("nicolas_9", 4, 6),
    ("nicolas_9", 1, 5),
]
PAIR_GAP = 0.3  # seconds of silence between the two digits of a training utterance


@pytest.fixture(scope="module")
def overfit_model(tmp_path_factory):
    """(checkpoint, utterances, digit spans): a small DFCNN trained to memorise six real utterances,
    each two FSDD recordings with a short pause before, between and after them; digit spans are
    each recording's (start, end) in seconds."""
    import numpy as np
    import soundfile

    from dfcnn.audio import SAMPLE_RATE, load_audio

    tmp_path = tmp_path_factory.mktemp("overfit")
    fsdd = shared_corpus("fsdd")
    utterances, digit_spans = [], []
    gap = np.zeros(int(PAIR_GAP * SAMPLE_RATE), dtype=np.float32)
    for speaker, first, second in PAIRS:
        a, b = (load_audio(next(fsdd.rglob(f"{digit}_{speaker}.wav"))) for digit in (first, second))
        path = tmp_path / f"{first}{second}_{speaker}.wav"
        # a whole number of output frames (640 samples), so the utterances joined into one file keep
        # the pooling phase they were memorised with: a memorised model does not generalise over it
        wave = np.concatenate([gap, a, gap, b, gap])
        wave = np.pad(wave, (0, -len(wave) % 640))
        soundfile.write(str(path), wave, SAMPLE_RATE)
        duration = len(wave) / SAMPLE_RATE
        utterances.append(Utterance(path, duration, f"{DIGITS[first]} {DIGITS[second]}", path.stem))
        b_start = (len(a) + 2 * len(gap)) / SAMPLE_RATE
        digit_spans.append([(PAIR_GAP, PAIR_GAP + len(a) / SAMPLE_RATE), (b_start, b_start + len(b) / SAMPLE_RATE)])
    write_manifest(tmp_path / "train.jsonl", utterances)
    save_vocab(build_vocab(u.text for u in utterances), tmp_path / "vocab.txt")
    config = load_config(
        ExperimentConfig,
        None,
        [
            f"exp_dir={tmp_path / 'exp'}",
            f"data.train_manifest={tmp_path / 'train.jsonl'}",
            f"data.dev_manifest={tmp_path / 'train.jsonl'}",
            f"data.vocab={tmp_path / 'vocab.txt'}",
            "data.num_workers=0",
            "data.max_batch_duration=5",
            "features.kind=mel",
            "features.n_mels=40",
            "model.channels=[8,16,32]",
            "model.time_pool=[2,2,1]",
            "model.freq_pool=[2,2,2]",
            "model.hidden_dim=64",
            "model.dropout=0.0",
            "specaugment.freq_masks=0",
            "specaugment.time_masks=0",
            "data.robustness.enabled=false",
            "train.epochs=150",
            "train.lr=3e-3",
            "train.warmup_steps=20",
            "train.dev_every_epochs=50",
            "train.weight_decay=0.0",
        ],
    )
    # floating-point sums depend on the thread count, and a memorised model on those: train as CI does
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        Trainer(config, progress=False).run()
    finally:
        torch.set_num_threads(threads)
    return tmp_path / "exp" / "best.pt", utterances, digit_spans


@pytest.mark.slow
def test_overfit_real_digits(overfit_model, tmp_path):
    checkpoint, utterances, _ = overfit_model
    write_manifest(tmp_path / "train.jsonl", utterances)
    result, _ = evaluate(checkpoint, tmp_path / "train.jsonl", device="cpu", progress=False)
    assert result.words.errors <= 1, result.word_alignment  # of 12 words
    assert result.cer < 5, result.char_alignment  # of 63 letters and spaces


TIME_TOLERANCE = 0.1  # seconds: 2.5 output frames of 40 ms


@pytest.mark.slow
def test_word_times_fall_on_known_boundaries(overfit_model):
    """The six utterances joined into one file, whose joins are known: every recognised word lies
    inside its own utterance, and overlaps the stretch where its own recording has energy
    (librosa.effects.split). Within an utterance a memorising model may fire a word's first letter
    early in the pause before it, so the utterance joins are the boundaries checked."""
    import librosa
    import numpy as np

    from dfcnn.audio import SAMPLE_RATE, load_audio
    from dfcnn.inference import TranscribeConfig
    from dfcnn.loading import load_model
    from dfcnn.longform import ChunkConfig

    checkpoint, utterances, digit_spans = overfit_model
    pieces, joins, voiced, position = [], [], [], 0.0
    for utterance, digits in zip(utterances, digit_spans):
        wave = load_audio(utterance.audio_filepath)
        for start, end in digits:
            loud = librosa.effects.split(wave[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)], top_db=30)
            joins.append((position, position + len(wave) / SAMPLE_RATE))
            voiced.append((position + start + loud[0, 0] / SAMPLE_RATE, position + start + loud[-1, 1] / SAMPLE_RATE))
        pieces.append(wave)
        position += len(wave) / SAMPLE_RATE
    # 2 s chunks: the 15 s file crosses chunk borders, which must neither move nor double a word
    recognizer = load_model(checkpoint, "cpu", config=TranscribeConfig(chunk=ChunkConfig(chunk_seconds=2.0)))
    transcript = recognizer.transcribe(np.concatenate(pieces))
    words = transcript.words
    whole = load_model(checkpoint, "cpu").transcribe(np.concatenate(pieces))  # one pass: no chunk borders
    assert [w.word for w in words] == [w.word for w in whole.words]
    for word, one_pass in zip(words, whole.words):
        assert word.start == pytest.approx(one_pass.start, abs=1e-6) and word.end == pytest.approx(one_pass.end)
    reference = " ".join(u.text for u in utterances).split()
    matched = matched_words(reference, [w.word for w in words])
    assert len(matched) >= len(reference) - 1, (reference, [w.word for w in words])
    for ref_index, hyp_index in matched:
        word, (start, end), (onset, offset) = words[hyp_index], joins[ref_index], voiced[ref_index]
        assert start - TIME_TOLERANCE <= word.start < word.end <= end + TIME_TOLERANCE, (word, start, end)
        assert word.start < offset + TIME_TOLERANCE and word.end > onset - TIME_TOLERANCE, (word, onset, offset)
        assert 0.5 < word.confidence <= 1.0
    assert transcript.duration == pytest.approx(position)


def matched_words(reference: list[str], hypothesis: list[str]) -> list[tuple[int, int]]:
    """(reference index, hypothesis index) of the words jiwer's alignment finds equal."""
    import jiwer

    pairs = []
    for chunk in jiwer.process_words(" ".join(reference), " ".join(hypothesis)).alignments[0]:
        if chunk.type == "equal":
            pairs += zip(range(chunk.ref_start_idx, chunk.ref_end_idx), range(chunk.hyp_start_idx, chunk.hyp_end_idx))
    return pairs
