"""Transcripts in the shapes of OpenAI's ``/v1/audio/transcriptions``, and its error bodies.

    json          {"text": ..., "usage": {"type": "duration", "seconds": N}}
    text          the text and a newline
    srt, vtt      subtitles (``dfcnn.transcript``'s cues)
    verbose_json  {"task", "language", "duration", "text", "segments": [...], "words": [...]}:
                  segments by default, words with ``timestamp_granularities[]=word``

Segments carry whisper's fields so its clients parse them; the values that only mean something for
whisper are filled honestly: ``tokens`` is empty (CTC units are not whisper tokens), ``temperature``
0 (no sampling), ``no_speech_prob`` 0 (a segment exists because speech was found), ``avg_logprob``
the mean log word confidence, ``compression_ratio`` measured on the text as whisper does.
"""

from __future__ import annotations

import math
import zlib

from ..transcript import Transcript, format_transcript

RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("segment", "word")
LANGUAGE_NAMES = {"en": "english", "zh": "chinese"}  # verbose_json names the language as whisper does
MEDIA_TYPES = {"text": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}


def model_language(tokenizer) -> str | None:
    """ISO 639-1 code of the speech a model hears, where its units fix it: ARPAbet phones are English,
    pinyin syllables (or the Mandarin normaliser's characters) Mandarin. Letters or whole words say
    only what the model writes, not what it hears (the yesno model writes Hebrew answers as "yes" and
    "no"): None, unknown, unless ``dfcnn serve --language`` names it."""
    if tokenizer.unit == "phone":
        return "en"
    if tokenizer.unit == "pinyin" or tokenizer.normalizer == "mandarin":
        return "zh"
    return None


def error_body(
    message: str, kind: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict:
    """OpenAI's error shape: its clients raise an exception carrying ``message``."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return round(len(data) / len(zlib.compress(data)), 3) if data else 0.0


def _avg_logprob(confidences: list[float]) -> float:
    if not confidences:
        return 0.0
    return round(sum(math.log(max(c, 1e-10)) for c in confidences) / len(confidences), 4)


def verbose_json(transcript: Transcript, language: str | None, granularities: list[str]) -> dict:
    """whisper's verbose_json; ``granularities`` picks segments, words or both (default: segments)."""
    body = {
        "task": "transcribe",
        "language": LANGUAGE_NAMES.get(language, language or "unknown"),
        "duration": round(transcript.duration, 3),
        "text": transcript.text,
    }
    wanted = set(granularities or ["segment"])
    if "segment" in wanted:
        body["segments"] = [
            {
                "id": index,
                "seek": 0,
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "text": s.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": _avg_logprob([w.confidence for w in s.words]),
                "compression_ratio": _compression_ratio(s.text),
                "no_speech_prob": 0.0,
            }
            for index, s in enumerate(transcript.segments)
        ]
    if "word" in wanted:
        body["words"] = [
            {"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3), "confidence": round(w.confidence, 3)}
            for w in transcript.words
        ]
    body["usage"] = {"type": "duration", "seconds": math.ceil(transcript.duration)}
    return body


def render(
    transcript: Transcript, response_format: str, language: str | None, granularities: list[str]
) -> tuple[dict | str, str]:
    """(body, media type): a dict for the JSON formats, a string for the others."""
    if response_format == "json":
        return {"text": transcript.text, "usage": {"type": "duration", "seconds": math.ceil(transcript.duration)}}, (
            "application/json"
        )
    if response_format == "verbose_json":
        return verbose_json(transcript, language, granularities), "application/json"
    if response_format == "text":
        return transcript.text + "\n", MEDIA_TYPES["text"]
    return format_transcript(transcript, response_format), MEDIA_TYPES[response_format]
