"""Transcription of real use: streaming audio, chunked log-probs, alignment, timed transcripts."""

import io

import numpy as np
import pytest
import soundfile
import torch
from helpers import TOKENIZER, noisy_speechlike, peaky_log_probs, random_recognizer

from dfcnn import progress
from dfcnn.align import align_tokens, split_at_pauses, words_from_spans
from dfcnn.audio import expand_audio_paths, load_audio, stream_audio
from dfcnn.errors import AudioError
from dfcnn.inference import TranscribeConfig
from dfcnn.longform import ChunkConfig, chunked_log_probs, context_samples
from dfcnn.text import Tokenizer, build_vocab


@pytest.mark.parametrize("chunk_seconds, block", [(2.0, 7777), (3.3, 16000), (1.0, 100_000)])
def test_chunked_log_probs_equal_a_single_pass(chunk_seconds, block):
    recognizer = random_recognizer()
    wave = noisy_speechlike(9.37)
    whole, lengths = recognizer.log_probs(torch.from_numpy(wave)[None], torch.tensor([len(wave)]))
    whole = whole[0, : int(lengths[0])]
    blocks = [wave[i : i + block] for i in range(0, len(wave), block)]
    stitched = chunked_log_probs(recognizer, blocks, ChunkConfig(chunk_seconds=chunk_seconds, context_seconds=0.0))
    assert stitched.shape == whole.shape  # no frame lost or doubled at the chunk borders
    torch.testing.assert_close(stitched, whole, atol=1e-4, rtol=1e-4)


def test_context_covers_the_receptive_field_of_a_deep_model():
    recognizer = random_recognizer(
        channels=[4, 4, 4, 4], time_pool=[2, 2, 2, 1], freq_pool=[2, 2, 2, 1], convs_per_block=3
    )
    needed = recognizer.model.config.receptive_radius * recognizer.features.config.hop_length
    assert context_samples(recognizer, ChunkConfig(context_seconds=0.0)) > needed
    wave = noisy_speechlike(6.0, seed=1)
    whole, lengths = recognizer.log_probs(torch.from_numpy(wave)[None], torch.tensor([len(wave)]))
    stitched = chunked_log_probs(recognizer, [wave], ChunkConfig(chunk_seconds=1.0, context_seconds=0.0))
    torch.testing.assert_close(stitched, whole[0, : int(lengths[0])], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("rate, channels", [(16000, 1), (44100, 2), (8000, 1)])
def test_streamed_audio_matches_loaded_audio(tmp_path, rate, channels):
    rng = np.random.default_rng(0)
    data = (0.3 * rng.standard_normal((int(rate * 3.2), channels))).astype(np.float32)
    path = tmp_path / "audio.flac"
    soundfile.write(str(path), data, rate)
    streamed = np.concatenate(list(stream_audio(path, block_seconds=0.7)))
    loaded = load_audio(path)
    assert abs(len(streamed) - len(loaded)) <= 1
    n = min(len(streamed), len(loaded))
    if rate == 16000:
        np.testing.assert_array_equal(streamed, loaded)
    else:  # streaming and one-shot soxr agree away from the edges
        assert np.abs(streamed[1000 : n - 1000] - loaded[1000 : n - 1000]).max() < 1e-3


def test_stream_audio_errors_name_the_file(tmp_path):
    (tmp_path / "bad.wav").write_text("not audio")
    with pytest.raises(AudioError, match="bad.wav: not a readable audio file"):
        next(stream_audio(tmp_path / "bad.wav"))
    with pytest.raises(AudioError, match="missing.wav: no such file"):
        next(stream_audio(tmp_path / "missing.wav"))


def test_alignment_puts_words_where_their_tokens_peak():
    log_probs = peaky_log_probs({10: "a", 12: "b", 15: "|", 30: "d", 31: "e"}, 50)
    tokens = TOKENIZER.encode("ab de")
    spans = align_tokens(log_probs, tokens)
    assert [(s.token, s.start, s.end) for s in spans] == [(t, f, f + 1) for t, f in zip(tokens, [10, 12, 15, 30, 31])]
    words = words_from_spans(spans, TOKENIZER, frame_seconds=0.04, offset_seconds=1.0)
    assert [w.word for w in words] == ["ab", "de"]
    assert [(t.token, round(t.start, 2), round(t.end, 2)) for t in words[0].tokens] == [
        ("a", 1.4, 1.44),
        ("b", 1.48, 1.52),
    ]
    assert words[0].start == pytest.approx(1.0 + 10 * 0.04) and words[0].end == pytest.approx(1.0 + 13 * 0.04)
    assert words[1].start == pytest.approx(1.0 + 30 * 0.04) and words[1].end == pytest.approx(1.0 + 32 * 0.04)
    assert all(0.7 < w.confidence <= 1.0 for w in words)


def test_alignment_of_an_impossible_sequence_is_empty():
    assert align_tokens(peaky_log_probs({}, 3), TOKENIZER.encode("aaaa")) == []
    assert align_tokens(peaky_log_probs({}, 3), []) == []


def test_mandarin_characters_are_words_of_their_own():
    tokenizer = Tokenizer(tuple(build_vocab(["你好"])), "mandarin")
    probs = torch.full((6, len(tokenizer)), 0.01)
    probs[:, 0] = 0.9
    probs[1, tokenizer.tokens.index("你")] = probs[4, tokenizer.tokens.index("好")] = 0.9
    spans = align_tokens(probs.log(), tokenizer.encode("你好"))
    assert [w.word for w in words_from_spans(spans, tokenizer, 0.04)] == ["你", "好"]


def test_word_tokens_are_words_of_their_own():
    tokenizer = Tokenizer(tuple(build_vocab(["yes no"], unit="word")), unit="word")
    probs = torch.full((8, len(tokenizer)), 0.01)
    probs[:, 0] = 0.9
    probs[1, tokenizer.tokens.index("no")] = probs[2, tokenizer.tokens.index("no")] = 0.9  # one word, 2 frames
    probs[1:3, 0] = 0.01
    probs[5, tokenizer.tokens.index("yes")] = 0.9
    spans = align_tokens(probs.log(), tokenizer.encode("no yes"))
    words = words_from_spans(spans, tokenizer, 0.04)
    assert [(w.word, w.start, w.end) for w in words] == [("no", 0.04, 0.12), ("yes", 0.2, 0.24)]


def test_split_at_pauses_cuts_long_blank_runs_and_long_segments():
    log_probs = peaky_log_probs({5: "a", 8: "b", 40: "d", 41: "e", 100: "c"}, 120)
    segments = split_at_pauses(log_probs, frame_seconds=0.04, min_pause=0.5, margin=0.2)
    assert len(segments) == 3
    assert all(a[1] <= b[0] for a, b in zip(segments, segments[1:]))  # ordered, no overlap
    assert segments[0][0] <= 5 < 8 < segments[0][1] and segments[1][0] <= 40 < 41 < segments[1][1]
    assert segments[2][0] <= 100 < segments[2][1] <= 120
    long = split_at_pauses(log_probs, frame_seconds=0.04, min_pause=10.0, max_segment=2.0)
    assert len(long) >= 2 and all(end - start <= 2.0 / 0.04 + 2 * 5 for start, end in long)
    assert split_at_pauses(peaky_log_probs({}, 50), 0.04) == []
    no_blank = peaky_log_probs({t: "a" if t < 37 else "b" for t in range(60)}, 60)
    assert [end for _, end in split_at_pauses(no_blank, 0.04, max_segment=2.0)][:1] == [37]  # not inside a run


def test_transcript_from_log_probs_has_segments_and_timed_words():
    recognizer = random_recognizer()  # only its tokenizer and frame length (0.04 s) matter here
    log_probs = peaky_log_probs({10: "a", 12: "b", 15: "|", 18: "d", 19: "e", 80: "c", 82: "a", 83: "b"}, 120)
    transcript = recognizer.transcript_from_log_probs(log_probs, duration=4.8)
    assert transcript.text == "ab de cab"
    assert [s.text for s in transcript.segments] == ["ab de", "cab"]
    assert [(w.word, round(w.start, 2), round(w.end, 2)) for w in transcript.words] == [
        ("ab", 0.4, 0.52),
        ("de", 0.72, 0.8),
        ("cab", 3.2, 3.36),
    ]


def test_beam_search_transcript_lists_alternatives():
    from dfcnn.decode import DecoderConfig

    recognizer = random_recognizer()
    recognizer.set_decoder(DecoderConfig(beam_size=10, nbest=3))
    log_probs = peaky_log_probs({10: "a", 12: "b", 15: "|", 18: "d", 19: "e"}, 40)
    segment = recognizer.transcript_from_log_probs(log_probs, duration=1.6).segments[0]
    assert segment.text == "ab de" and len(segment.alternatives) == 2 and "ab de" not in segment.alternatives


def test_transcript_times_are_ordered_and_inside_the_audio():
    recognizer = random_recognizer()
    recognizer.config = TranscribeConfig(chunk=ChunkConfig(chunk_seconds=2.0), min_pause=0.2)
    wave = noisy_speechlike(7.5, seed=3)
    transcript = recognizer.transcribe(wave)
    assert transcript.words, "an untrained model still emits tokens"
    times = [t for w in transcript.words for t in (w.start, w.end)]
    assert times == sorted(times) and 0.0 <= times[0] and times[-1] <= transcript.duration + 1e-6
    assert all(s.start <= s.words[0].start and s.words[-1].end <= s.end for s in transcript.segments if s.words)
    # segments are cut at pauses only, so their texts make up greedy decoding of the whole file
    whole = recognizer.decoder.best(*recognizer.log_probs(torch.from_numpy(wave)[None], torch.tensor([len(wave)])))[0]
    assert transcript.text.split() == whole.text.split()


def test_transcribe_files_batches_short_files_and_reports_bad_ones(tmp_path):
    recognizer = random_recognizer()
    recognizer.config = TranscribeConfig(chunk=ChunkConfig(chunk_seconds=3.0), max_batch_duration=4.0)
    paths = []
    for index, seconds in enumerate([1.0, 2.5, 5.0, 0.7]):
        paths.append(tmp_path / f"f{index}.wav")
        soundfile.write(str(paths[-1]), noisy_speechlike(seconds, seed=index), 16000)
    (tmp_path / "bad.wav").write_text("not audio")
    paths.insert(2, tmp_path / "bad.wav")
    results = list(recognizer.transcribe_files(paths))
    assert [path for path, _, _ in results] == paths  # input order, whatever the batching
    assert isinstance(results[2][2], AudioError) and "bad.wav" in str(results[2][2])
    for path, seconds, transcript in results[:2] + results[3:]:
        alone = recognizer.transcribe(path)  # batched with others or chunked: the same result
        assert transcript.text == alone.text and transcript.duration == pytest.approx(seconds)


def test_progress_moves_per_chunk_of_a_long_file_and_per_batch_of_short_ones(tmp_path):
    recognizer = random_recognizer()
    recognizer.config = TranscribeConfig(chunk=ChunkConfig(chunk_seconds=2.0), max_batch_duration=4.0)
    lengths = [7.3, 0.8, 1.1]
    paths = []
    for index, seconds in enumerate(lengths):
        paths.append(tmp_path / f"f{index}.wav")
        soundfile.write(str(paths[-1]), noisy_speechlike(seconds, seed=index), 16000)
    reported = []
    results = list(recognizer.transcribe_files(paths, progress=reported.append))
    assert len(results) == 3 and sum(reported) == pytest.approx(sum(lengths), abs=1e-3)
    assert reported[:4] == pytest.approx([2.0, 2.0, 2.0, 1.3], abs=1e-3)  # the long file, chunk by chunk
    assert reported[4:] == pytest.approx([1.9], abs=1e-3)  # the two short ones, batched


def test_progress_lines_in_a_log_are_rounded_and_spaced():
    readings = iter([0.0, 4.0, 12.5, 13.0, 30.0])  # the start, then one reading per advance
    log = io.StringIO()  # not a terminal: lines, not a bar
    bar = progress.AudioProgress(367.7, files=2, stream=log, clock=lambda: next(readings))
    for seconds in (100.1, 100.1, 148.0999999):  # at 4 s (too soon), 12.5 s (a line), 13 s (too soon)
        bar.advance(seconds)
    bar.file_done()
    bar.advance(19.4)  # at 30 s
    assert log.getvalue().splitlines() == [
        "audio 200/368 s (54%), 0/2 files, 12 s",
        "audio 368/368 s (100%), 1/2 files, 30 s",
    ]
    quiet = io.StringIO()
    short = progress.AudioProgress(59.0, files=1, stream=quiet)  # under a minute of audio: no lines
    short.advance(59.0)
    assert quiet.getvalue() == ""


def test_the_bar_on_a_terminal_shows_whole_seconds():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    bar = progress.AudioProgress(367.7, files=1, stream=screen)
    for _ in range(3):
        bar.advance(116.1)
    bar.bar.refresh()  # tqdm redraws at most every 0.1 s
    shown = screen.getvalue().replace("\r", "\n").splitlines()[-1]
    assert "348/368 s" in shown and "348.29" not in shown, shown
    bar.close()


def test_paths_expand_folders_recursively_and_globs(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ["a/one.wav", "a/b/two.flac", "a/notes.txt", "three.mp3"]:
        (tmp_path / name).write_bytes(b"x")
    found = expand_audio_paths([tmp_path / "a", str(tmp_path / "*.mp3"), tmp_path / "a" / "one.wav"])
    assert found == [tmp_path / "a" / "b" / "two.flac", tmp_path / "a" / "one.wav", tmp_path / "three.mp3"]
    assert expand_audio_paths([str(tmp_path / "*.ogg")]) == [tmp_path / "*.ogg"]  # reported later as missing
