"""Live streams: log-probs equal to one pass, finals equal to transcribe(), partials as audio arrives."""

import numpy as np
import pytest
import torch
from helpers import noisy_speechlike, peaky_log_probs, random_recognizer

from dfcnn.align import split_at_pauses
from dfcnn.errors import AudioError, ConfigError
from dfcnn.inference import TranscribeConfig
from dfcnn.longform import ChunkConfig, LogProbStream
from dfcnn.streaming import StreamConfig, StreamingRecognizer, pcm_to_float


def blocks_of(wave: np.ndarray, sizes: list[int]):
    """Cut ``wave`` into consecutive blocks whose sizes cycle through ``sizes``."""
    position, index = 0, 0
    while position < len(wave):
        size = sizes[index % len(sizes)]
        yield wave[position : position + size]
        position, index = position + size, index + 1


def one_pass(recognizer, wave: np.ndarray) -> torch.Tensor:
    log_probs, lengths = recognizer.log_probs(torch.from_numpy(wave)[None], torch.tensor([len(wave)]))
    return log_probs[0, : int(lengths[0])]


def talkative_recognizer(wave: np.ndarray, **transcribe_options):
    """A random recognizer whose blank wins on about half of ``wave``'s frames: speech and pauses."""
    recognizer = random_recognizer()
    recognizer.config = TranscribeConfig(**transcribe_options)
    with torch.no_grad():
        recognizer.model.head[-1].bias[0] = 0.0
        log_probs = one_pass(recognizer, wave)
        recognizer.model.head[-1].bias[0] = (log_probs[:, 1:].max(-1).values - log_probs[:, 0]).median()
    return recognizer


@pytest.mark.parametrize("chunk_seconds", [0.04, 0.32, 1.0])
@pytest.mark.parametrize("sizes", [[160], [1000, 37, 4096], [16000 * 3]])
def test_streamed_log_probs_equal_one_pass(chunk_seconds, sizes):
    recognizer = random_recognizer()
    wave = noisy_speechlike(5.13, seed=2)
    stream = LogProbStream(recognizer, ChunkConfig(chunk_seconds, context_seconds=0.0))
    pieces = [stream.push(block) for block in blocks_of(wave, sizes)]
    assert stream.frames < one_pass(recognizer, wave).shape[0]  # the lookahead is held back until the end
    streamed = torch.cat([*pieces, stream.finish()])
    whole = one_pass(recognizer, wave)
    assert streamed.shape == whole.shape
    torch.testing.assert_close(streamed, whole, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("stem_stride, time_pool", [([2, 2], [1, 2, 1]), ([1, 3], [1, 1, 2])])
def test_a_strided_stem_streams_exactly(stem_stride, time_pool):
    """The stem's frames and its reach (``receptive_radius``) are in the stream's arithmetic: 4x and 6x."""
    recognizer = random_recognizer(stem_stride=stem_stride, time_pool=time_pool, freq_pool=[1, 2, 2], residual=True)
    wave = noisy_speechlike(4.37, seed=3)
    stream = LogProbStream(recognizer, ChunkConfig(0.24, context_seconds=0.0))
    streamed = torch.cat([*(stream.push(block) for block in blocks_of(wave, [1000, 37, 4096])), stream.finish()])
    whole = one_pass(recognizer, wave)
    assert streamed.shape == whole.shape
    torch.testing.assert_close(streamed, whole, atol=1e-4, rtol=1e-4)


def test_frames_come_out_within_the_lookahead():
    recognizer = random_recognizer()
    stream = LogProbStream(recognizer, ChunkConfig(0.32, context_seconds=0.0))
    step = recognizer.feature_config.hop_length * recognizer.model_config.time_reduction
    wave = noisy_speechlike(4.0)
    for end in range(1600, len(wave), 1600):
        stream.push(wave[end - 1600 : end])
        assert stream.frames * step >= end - stream.lookahead_samples  # no sample waits longer than the lookahead


@pytest.mark.parametrize("sizes", [[320], [5000, 123], [16000 * 20]])
def test_final_text_equals_transcribe(sizes):
    wave = np.concatenate([noisy_speechlike(3.1, seed=4), np.zeros(8000, np.float32), noisy_speechlike(2.7, seed=5)])
    recognizer = talkative_recognizer(wave, min_pause=0.2, max_segment=0.6)  # some segments are cut for length
    offline = recognizer.transcribe(wave)
    assert len(offline.segments) >= 5 and len({s.text for s in offline.segments}) >= 3, "a test that means something"
    stream = StreamingRecognizer(recognizer, config=StreamConfig(chunk_seconds=0.2))
    events = [event for block in blocks_of(wave, sizes) for event in stream.feed(block)]
    events += stream.finish()
    finals = [event.segment for event in events if event.kind == "final"]
    assert stream.transcript().text == offline.text
    assert [(s.text, round(s.start, 3), round(s.end, 3)) for s in finals] == [
        (s.text, round(s.start, 3), round(s.end, 3)) for s in offline.segments
    ]
    assert [(w.word, round(w.start, 3)) for s in finals for w in s.words] == [
        (w.word, round(w.start, 3)) for w in offline.words
    ]


def test_finals_arrive_while_streaming_and_partials_show_the_open_text():
    wave = noisy_speechlike(4.0, seed=1)
    recognizer = talkative_recognizer(wave, min_pause=0.2)
    first = recognizer.transcribe(wave).segments[0]
    stream = StreamingRecognizer(recognizer, config=StreamConfig(chunk_seconds=0.16))
    hold = max(0.2, 2 * 0.2)  # blank after a segment that settles it (PauseFrames.hold): min_pause or 2 margins
    partials, final_at = [], None
    for index, block in enumerate(blocks_of(wave, [1600])):
        heard = (index + 1) * 0.1
        for event in stream.feed(block):
            if event.kind == "partial":
                partials.append(event.segment.text)
            elif final_at is None:
                final_at = heard
                assert (event.segment.text, event.segment.start) == (first.text, first.start)
    assert final_at is not None and final_at <= first.end + hold + stream.lookahead_seconds + 0.1 + 0.04
    assert first.text in partials, "the open segment's text is shown before it is final"


def test_hand_made_log_probs_are_cut_as_offline_for_any_arrival_pattern():
    recognizer = random_recognizer()  # its tokenizer and frame length (0.04 s) only
    recognizer.config = TranscribeConfig(min_pause=0.3, max_segment=1.0)
    rng = np.random.default_rng(0)
    for trial in range(12):
        frames = int(rng.integers(40, 300))
        speech = {int(t): str(rng.choice(["a", "b", "c", "|"])) for t in rng.integers(0, frames, frames // 3)}
        if trial % 4 == 0:  # long stretches without any blank: cut where the token changes
            speech.update({t: "a" if t % 7 else "b" for t in range(10, min(frames, 70))})
        log_probs = peaky_log_probs(speech, frames)
        offline = recognizer.transcript_from_log_probs(log_probs, duration=frames * 0.04)
        cuts = split_at_pauses(log_probs, 0.04, 0.3, 1.0)
        stream = StreamingRecognizer(recognizer)
        finals, position = [], 0
        while position < frames:
            size = int(rng.integers(1, 30))
            finals += [
                e.segment for e in stream.accept_log_probs(log_probs[position : position + size]) if e.kind == "final"
            ]
            position += size
        finals += [e.segment for e in stream.accept_log_probs(log_probs[:0], at_end=True)]
        assert [(s.text, s.start, s.end) for s in finals] == [(s.text, s.start, s.end) for s in offline.segments], (
            trial,
            cuts,
        )


def test_other_sample_rates_and_pcm16_bytes():
    recognizer = random_recognizer()
    wave16 = noisy_speechlike(3.0, seed=6)
    import soxr

    wave8 = soxr.resample(wave16, 16000, 8000).astype(np.float32)
    pcm = (np.clip(wave8, -1, 1) * 32767).astype("<i2").tobytes()
    stream = StreamingRecognizer(recognizer, sample_rate=8000)
    for start in range(0, len(pcm), 1000):
        stream.feed(pcm[start : start + 1000])
    stream.finish()
    assert stream.seconds == pytest.approx(3.0, abs=0.01)
    assert np.allclose(pcm_to_float(np.array([-32768, 16384], np.int16)), [-1.0, 0.5])
    with pytest.raises(AudioError, match="2-byte samples"):
        StreamingRecognizer(recognizer).feed(b"\x00\x01\x02")


def test_a_model_normalising_each_utterance_cannot_stream():
    recognizer = random_recognizer()
    recognizer.features.config.utterance_mean_norm = True
    with pytest.raises(ConfigError, match="cannot stream"):
        StreamingRecognizer(recognizer)


def partials_of(stream: StreamingRecognizer, log_probs: torch.Tensor) -> tuple[list[str], list[str]]:
    """Feed ``log_probs`` one frame at a time: the partial texts, then the final texts."""
    events = [event for t in range(log_probs.shape[0]) for event in stream.accept_log_probs(log_probs[t : t + 1])]
    events += stream.accept_log_probs(log_probs[:0], at_end=True)
    texts = {kind: [e.segment.text for e in events if e.kind == kind] for kind in ("partial", "final")}
    return texts["partial"], texts["final"]


def test_partials_hold_back_the_word_still_being_spoken():
    recognizer = random_recognizer()  # its tokenizer (<blank> | a b c d e), greedy decoder, 0.04 s frames
    # "ab cd": a separator after the first word, none after the last (as before any pause), then 1.2 s of blank
    log_probs = peaky_log_probs({2: "a", 4: "b", 6: "|", 8: "c", 10: "d"}, 40)
    partials, finals = partials_of(StreamingRecognizer(recognizer), log_probs)
    assert partials == ["ab", "ab cd"]  # never "a" or "ab c": a word appears once its separator or a pause follows
    assert finals == ["ab cd"]


def test_partials_of_a_phone_model_are_the_words_its_decoder_writes(tmp_path):
    from dfcnn.decode import DecoderConfig
    from dfcnn.inference import Recognizer
    from dfcnn.lm import write_lexicon
    from dfcnn.text import Tokenizer, build_vocab

    network = random_recognizer()  # its network only stands in: the phone log-probs are made by hand
    phones = Tokenizer(tuple(build_vocab(["hello world"], unit="phone")), "english", "phone")
    write_lexicon(["hello", "world", "hollow"], phones, tmp_path / "lexicon.txt")
    recognizer = Recognizer(network.network, phones)
    recognizer.set_decoder(DecoderConfig(lexicon=str(tmp_path / "lexicon.txt"), beam_size=8))
    spoken = "HH AH L OW | W ER L D".split()
    probs = torch.full((60, len(phones)), 0.01)
    probs[:, 0] = 0.95
    for index, phone in enumerate(spoken):
        probs[2 + 2 * index] = 0.01
        probs[2 + 2 * index, phones.tokens.index(phone)] = 0.8
    partials, finals = partials_of(StreamingRecognizer(recognizer), (probs / probs.sum(1, keepdim=True)).log())
    assert partials == ["hello", "hello world"] and finals == ["hello world"]  # words, never "HH AH L"
