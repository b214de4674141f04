"""Transcripts and their writers: every subtitle file is parsed back with strict parsers."""

from __future__ import annotations

import json
import random
import re

import pytest

from dfcnn.transcript import (
    FORMATS,
    MIN_CUE_MS,
    Segment,
    SubtitleOptions,
    Transcript,
    Word,
    format_timestamp,
    format_transcript,
    join_words,
    subtitle_cues,
    write_transcript,
)

_SRT_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d),(\d{3})"  # hours two digits or more, comma milliseconds
_VTT_TIME = _SRT_TIME.replace("),(", r")\.(")
_SRT_TIMES = re.compile(f"{_SRT_TIME} --> {_SRT_TIME}")
_VTT_TIMES = re.compile(f"{_VTT_TIME} --> {_VTT_TIME}")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return (int(h) * 3_600_000 + int(m) * 60_000 + int(s) * 1000 + int(ms)) / 1000


def _parse_cues(body: str, times: re.Pattern, numbered: bool) -> list[tuple[float, float, str]]:
    """Cues separated by one blank line; each: [number], timestamp line, one or more non-blank lines."""
    if body == "":
        return []
    assert body.endswith("\n\n") and not body.endswith("\n\n\n"), "cues end with exactly one blank line"
    cues = []
    for n, block in enumerate(body[:-2].split("\n\n"), start=1):
        lines = block.split("\n")
        if numbered:
            assert lines.pop(0) == str(n), f"cue {n} is misnumbered"
        match = times.fullmatch(lines[0])
        assert match, f"bad timestamp line {lines[0]!r}"
        text = lines[1:]
        assert text and all(line.strip() for line in text), f"cue {n} has no text or a blank line"
        cues.append((_seconds(*match.groups()[:4]), _seconds(*match.groups()[4:]), "\n".join(text)))
    return cues


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    return _parse_cues(text, _SRT_TIMES, numbered=True)


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    assert text.startswith("WEBVTT\n\n")
    return _parse_cues(text[len("WEBVTT\n\n") :], _VTT_TIMES, numbered=False)


def _segment(words: list[tuple[str, float, float]]) -> Segment:
    ws = [Word(w, start, end, 0.9) for w, start, end in words]
    return Segment(ws[0].start, ws[-1].end, join_words(ws), ws)


def _evenly_timed(words: list[str], start: float, step: float) -> Segment:
    return _segment([(w, start + i * step, start + (i + 1) * step - 0.05) for i, w in enumerate(words)])


def _english() -> Transcript:
    segments = [
        _segment([("hello", 1.25, 1.6), ("world", 1.7, 2.1)]),
        _segment([("this", 3.0, 3.2), ("is", 3.25, 3.4), ("a", 3.45, 3.5), ("test", 3.55, 3.5004)]),
    ]
    return Transcript(" ".join(s.text for s in segments), segments, duration=5.0, audio_filepath="a.wav")


def _assert_valid(cues, duration: float) -> None:
    previous_end = 0.0
    for start, end, _ in cues:
        assert previous_end <= start < end <= duration
        previous_end = end


def test_dict_round_trip_through_json():
    t = _english()
    t.segments[0].words[0].confidence = 0.123456
    state = json.loads(json.dumps(t.to_dict()))
    assert state["segments"][0]["words"][0] == {"word": "hello", "start": 1.25, "end": 1.6, "confidence": 0.123}
    back = Transcript.from_dict(state)
    assert back.to_dict() == state
    assert [w.word for w in back.words] == ["hello", "world", "this", "is", "a", "test"]
    assert back.audio_filepath == "a.wav" and back.duration == 5.0


def test_srt_and_vtt_parse_back_to_the_cues():
    t = _english()
    cues = [(c.start, c.end, c.text) for c in subtitle_cues(t)]
    assert cues == [(1.25, 2.1, "hello world"), (3.0, 3.5, "this is a test")]  # 3.5004 s rounds to 3.500
    assert parse_srt(format_transcript(t, "srt")) == cues
    assert parse_vtt(format_transcript(t, "vtt")) == cues
    assert format_transcript(t, "srt").startswith("1\n00:00:01,250 --> 00:00:02,100\nhello world\n\n2\n")
    _assert_valid(cues, t.duration)


def test_txt_json_and_tsv():
    t = _english()
    assert format_transcript(t, "txt") == "hello world\nthis is a test\n"
    assert json.loads(format_transcript(t, "json")) == t.to_dict()
    assert format_transcript(t, "tsv") == "start\tend\ttext\n1250\t2100\thello world\n3000\t3500\tthis is a test\n"


def test_long_segment_splits_within_width_lines_and_seconds():
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 12))) for _ in range(80)]
    t = Transcript("", [_evenly_timed(words, 0.5, 0.3)], duration=30.0)
    options = SubtitleOptions(max_line_width=42, max_lines=2, max_cue_seconds=7.0)
    cues = subtitle_cues(t, options)
    assert len(cues) > 3
    for cue in cues:
        assert 1 <= len(cue.lines) <= 2
        assert all(len(line) <= 42 for line in cue.lines)
        assert cue.end - cue.start <= 7.0
    assert " ".join(" ".join(c.lines) for c in cues) == " ".join(words)  # every word once, in order
    _assert_valid(parse_srt(format_transcript(t, "srt", options)), t.duration)
    # greedy fill: a line breaks only when the next word would not fit on it
    for cue in cues:
        for line, following in zip(cue.lines, cue.lines[1:]):
            assert len(line) + 1 + len(following.split()[0]) > 42


def test_one_line_cues_and_a_word_wider_than_a_line():
    long_word = "x" * 50
    t = Transcript("", [_evenly_timed(["short", long_word, "tail"], 0.0, 1.0)], duration=4.0)
    cues = subtitle_cues(t, SubtitleOptions(max_lines=1))
    assert [c.lines for c in cues] == [["short"], [long_word], ["tail"]]


def test_timestamps_at_hour_boundaries():
    assert format_timestamp(3600.5) == "01:00:00,500"
    assert format_timestamp(3600.5, ".") == "01:00:00.500"
    assert format_timestamp(3599.9996) == "01:00:00,000"  # rounding carries into the hour
    assert format_timestamp(0) == "00:00:00,000"
    assert format_timestamp(360_000.0) == "100:00:00,000"
    t = Transcript("", [_segment([("late", 3599.5, 3600.5)])], duration=3601.0)
    assert format_transcript(t, "srt") == "1\n00:59:59,500 --> 01:00:00,500\nlate\n\n"
    assert format_transcript(t, "vtt") == "WEBVTT\n\n00:59:59.500 --> 01:00:00.500\nlate\n\n"


def test_mandarin_characters_join_without_spaces():
    assert join_words(["今", "天", "天", "气", "很", "好"]) == "今天天气很好"
    assert join_words(["我", "用", "GPU", "训", "练"]) == "我用 GPU 训练"
    assert join_words([Word(" hello ", 0, 1, 1.0), Word("world", 1, 2, 1.0)]) == "hello world"
    chars = list("北京欢迎你") * 20  # 100 characters over 10 s
    t = Transcript("", [_evenly_timed(chars, 0.0, 0.1)], duration=10.0)
    cues = subtitle_cues(t)
    assert all(" " not in line and len(line) <= 42 for c in cues for line in c.lines)
    assert "".join("".join(c.lines) for c in cues) == "".join(chars)
    tsv_rows = format_transcript(t, "tsv").splitlines()[1:]
    assert "".join(row.split("\t")[2] for row in tsv_rows) == "".join(chars)  # lines joined without spaces


def test_zero_length_and_overlapping_words_stay_monotonic():
    segments = [
        _segment([("a", 1.0, 1.0)]),  # no duration: stretched to MIN_CUE_MS
        _segment([("b", 1.05, 1.05)]),  # starts before a's stretched end would: a stops at b
        _segment([("c", 0.9, 2.0)]),  # overlaps both: pushed after them
        _segment([("d", 3.0, 3.0), ("e", 3.0, 3.0)]),
        _segment([("f", 4.0, 4.0)]),  # at the very end of the audio: moved before it
    ]
    t = Transcript("", segments, duration=4.0)
    cues = parse_srt(format_transcript(t, "srt"))
    _assert_valid(cues, t.duration)
    assert cues[0] == (1.0, 1.05, "a")
    assert cues[-1] == (4.0 - MIN_CUE_MS / 1000, 4.0, "f")
    assert [c[2] for c in cues] == ["a", "b", "c", "d e", "f"]


def test_no_room_at_the_end_joins_the_previous_cue():
    t = Transcript("", [_segment([("x", 3.5, 4.0)]), _segment([("y", 4.0, 4.0)])], duration=4.0)
    cues = subtitle_cues(t, SubtitleOptions(max_cue_seconds=0.4))
    assert [(c.start, c.end, c.lines) for c in cues] == [(3.5, 4.0, ["x", "y"])]


def test_random_messy_times_always_parse_back_valid():
    rng = random.Random(1)
    for _ in range(200):
        duration = rng.choice([0.5, 3.0, 20.0])
        segments = []
        for _ in range(rng.randint(0, 5)):
            times = sorted(rng.uniform(-0.5, duration + 1.0) for _ in range(2))
            segments.append(_segment([("w", times[0], rng.choice([times[0], times[1]]))]))
        t = Transcript("", segments, duration=duration)
        srt, vtt = parse_srt(format_transcript(t, "srt")), parse_vtt(format_transcript(t, "vtt"))
        assert srt == vtt
        _assert_valid(srt, duration)
        assert sum(len(text.split()) for _, _, text in srt) == len(segments)  # no word lost


def test_segment_without_words_is_one_cue():
    t = Transcript("no times here", [Segment(0.5, 2.5, "no times here", [])], duration=3.0)
    assert parse_srt(format_transcript(t, "srt")) == [(0.5, 2.5, "no times here")]


def test_empty_transcript_outputs_are_valid():
    t = Transcript("", [], duration=0.0)
    assert format_transcript(t, "srt") == "" and parse_srt("") == []
    assert format_transcript(t, "vtt") == "WEBVTT\n\n" and parse_vtt(format_transcript(t, "vtt")) == []
    assert format_transcript(t, "tsv") == "start\tend\ttext\n"
    assert format_transcript(t, "txt") == ""
    assert Transcript.from_dict(json.loads(format_transcript(t, "json"))) == t


def test_write_transcript_names_files_by_stem_and_format(tmp_path):
    t = _english()
    for fmt in FORMATS:
        path = write_transcript(t, fmt, tmp_path / "out", "talk")
        assert path == tmp_path / "out" / f"talk.{fmt}"
        assert path.read_text(encoding="utf-8") == format_transcript(t, fmt)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"talk.{fmt}" for fmt in FORMATS)
    with pytest.raises(ValueError, match="unknown transcript format"):
        format_transcript(t, "docx")


@pytest.mark.parametrize(
    "bad",
    [
        "1\n0:00:01,000 --> 00:00:02,000\nx\n\n",  # one-digit hours
        "1\n00:00:01.000 --> 00:00:02,000\nx\n\n",  # vtt separator in srt
        "2\n00:00:01,000 --> 00:00:02,000\nx\n\n",  # numbering starts at 1
        "1\n00:00:01,000 --> 00:00:02,000\n\n",  # no text
        "1\n00:00:01,000 --> 00:00:02,000\nx\n",  # no blank line after the cue
    ],
)
def test_srt_parser_is_strict(bad):
    with pytest.raises(AssertionError):
        parse_srt(bad)
