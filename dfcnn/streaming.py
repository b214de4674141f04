"""Live recognition: audio arriving in pieces -> partial text while it is spoken, final segments at
pauses, with word times.

    stream = StreamingRecognizer(load_model("exp/"))           # 16 kHz input; sample_rate=... to resample
    for pcm in microphone():                                     # blocks of any size: float32, int16 or PCM16 bytes
        for event in stream.feed(pcm):
            print(event.kind, event.segment.text)                # "partial" (whole words so far), "final"
    for event in stream.finish():
        ...
    stream.transcript()                                          # the finals: equals recognizer.transcribe(audio)

Exact, not approximate. The DFCNN is not causal, but an output frame depends only on audio within
its receptive field (``ModelConfig.receptive_radius``), so ``longform.LogProbStream`` holds that
much audio back as lookahead and the streamed log-probs equal one pass over the whole recording.
The cuts at pauses (``align.split_at_pauses``) depend only on a segment and its neighbours: a
segment is final once ``PauseFrames.hold`` blank frames follow it, and it is then cut, padded and
decoded exactly as ``Recognizer.transcribe`` would. So the final text equals the offline one for
16 kHz input (other rates are resampled block by block, which differs from a whole-file resampling
at the edges) as long as no stretch of speech runs past ``max_open_seconds`` without a pause.

Partials show whole words: the open segment is decoded, with the model's own decoder (so a phone or
pinyin model shows the words or characters its finals will show), up to its last word boundary in
the greedy path: the last word separator (character and phone units), the last token once
``WORD_GAP_SECONDS`` of blank follow it, or the last token at all where every token is a word (word
and syllable units). The word still being spoken appears once a boundary follows it, or in the
final. Frames are exact once computed, so a partial changes only when the boundary moves, and is
decoded only then.

Latency: a frame is computed once ``lookahead_seconds`` (one chunk plus the receptive field) of audio
follow it; a partial word then waits for the boundary after it; a final comes ``hold`` frames
(``min_pause``, 0.5 s by default) after the speech ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .align import PauseFrames, cut_long_ranges, pad_ranges, speech_ranges
from .audio import SAMPLE_RATE, stream_resampler
from .errors import AudioError, ConfigError, check_field
from .longform import ChunkConfig, LogProbStream
from .text import WORD_SEPARATOR, WORD_UNITS
from .transcript import Segment, Transcript, join_words

PCM16_SCALE = 32768.0  # int16 full scale: PCM16 samples / 32768 lie in [-1, 1)
# blank this long after a token ends a word even without a separator (models trained on whole
# utterances write none after a sentence's last word): longer than the closure of a stop consonant
# (under about 0.15 s), shorter than the default min_pause that makes the segment final
WORD_GAP_SECONDS = 0.25


@dataclass(frozen=True)
class StreamConfig:
    """How a live stream is computed."""

    chunk_seconds: float = 0.32  # audio per network pass (rounded to output frames): smaller answers sooner, costs more
    max_open_seconds: float = 120.0  # speech without a pause longer than this is cut where it stands (bounds memory)

    def __post_init__(self):
        check_field(self.chunk_seconds > 0, "chunk_seconds", f"must be positive, got {self.chunk_seconds}")
        check_field(self.max_open_seconds > 0, "max_open_seconds", f"must be positive, got {self.max_open_seconds}")


@dataclass
class StreamEvent:
    """What a stream reports: the open segment's text so far, or a segment that will not change."""

    kind: str  # "partial" (the open segment's whole words so far; may be empty) or "final"
    segment: Segment  # times in seconds from the start of the stream

    def to_dict(self) -> dict:
        return {"type": self.kind, **self.segment.to_dict(tokens=False)}


def pcm_to_float(samples: np.ndarray | bytes | bytearray | memoryview) -> np.ndarray:
    """PCM16 little-endian bytes or an int16 array -> float32 in [-1, 1); float arrays pass as float32."""
    if isinstance(samples, (bytes, bytearray, memoryview)):
        if len(samples) % 2:
            raise AudioError(f"PCM16 audio comes in whole 2-byte samples, got {len(samples)} bytes")
        return np.frombuffer(samples, dtype="<i2").astype(np.float32) / PCM16_SCALE
    samples = np.asarray(samples)
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / PCM16_SCALE
    if samples.ndim != 1:
        raise AudioError(f"expected mono samples of shape (n,), got shape {samples.shape}")
    return samples.astype(np.float32, copy=False)


class StreamingRecognizer:
    """One live audio stream through a ``Recognizer`` (either backend). Not thread-safe: one stream, one caller."""

    def __init__(self, recognizer, sample_rate: int = SAMPLE_RATE, config: StreamConfig | None = None):
        if recognizer.feature_config.utterance_mean_norm:
            raise ConfigError(
                "this model subtracts each utterance's own mean (features.utterance_mean_norm): "
                "it needs the whole recording and cannot stream"
            )
        if sample_rate <= 0:
            raise AudioError(f"sample rate must be positive, got {sample_rate}")
        self.recognizer = recognizer
        self.config = config or StreamConfig()
        self.sample_rate = sample_rate
        self._resampler = stream_resampler(sample_rate)
        self._log_probs = LogProbStream(recognizer, ChunkConfig(self.config.chunk_seconds, context_seconds=0.0))
        offline = recognizer.config
        self.frame_seconds = recognizer.frame_seconds
        self._rule = PauseFrames.of(self.frame_seconds, offline.min_pause, offline.max_segment)
        self._max_open = max(self._rule.max_frames, round(self.config.max_open_seconds / self.frame_seconds))
        tokenizer = recognizer.tokenizer
        # the token that ends a word, for units that spell words out (None: every token is a word)
        self._separator = None if tokenizer.unit in WORD_UNITS else tokenizer.tokens.index(WORD_SEPARATOR)
        self._word_gap = max(1, round(WORD_GAP_SECONDS / self.frame_seconds))
        self._pending = torch.zeros(0, len(recognizer.tokenizer))  # (T_p, V): frames not yet in a final
        self._offset = 0  # stream frame of pending[0]
        self._frames_seen = 0  # output frames taken
        self._previous_last: int | None = None  # stream frame of the last speech frame already in a final
        self._partial = ""
        self._partial_until = 0  # stream frame where the last partial's decoded frames ended
        self.segments: list[Segment] = []  # the finals so far

    @property
    def lookahead_seconds(self) -> float:
        """The most audio that arrives after a sample before the network has seen it whole: a chunk and its context."""
        return self._log_probs.lookahead_samples / SAMPLE_RATE

    @property
    def pause_seconds(self) -> float:
        """The blank after a segment's last speech frame that makes it final (``PauseFrames.hold``)."""
        return self._rule.hold * self.frame_seconds

    @property
    def seconds(self) -> float:
        """Seconds of audio received (at 16 kHz), or of log-prob frames given to ``accept_log_probs``."""
        return max(self._log_probs.samples / SAMPLE_RATE, self._frames_seen * self.frame_seconds)

    def feed(self, samples: np.ndarray | bytes) -> list[StreamEvent]:
        """Add audio at the stream's rate (float32, int16 or PCM16 LE bytes): finals completed, then a
        partial when the open segment's text changed."""
        wave = pcm_to_float(samples)
        if not np.isfinite(wave).all():
            raise AudioError("the audio contains NaN or infinite samples")
        if self._resampler is not None:
            wave = self._resampler.resample_chunk(wave)
        return self.accept_log_probs(self._log_probs.push(wave), at_end=False)

    def finish(self) -> list[StreamEvent]:
        """The audio has ended: the last finals."""
        if self._resampler is not None:
            self._log_probs.push(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        return self.accept_log_probs(self._log_probs.finish(), at_end=True)

    def transcript(self) -> Transcript:
        """The finals so far as one transcript (after ``finish``: the whole stream's)."""
        return Transcript(join_words([s.text for s in self.segments]), list(self.segments), self.seconds)

    def accept_log_probs(self, frames: torch.Tensor, at_end: bool = False) -> list[StreamEvent]:
        """Take the (n, V) log-probs of the next frames (what ``feed`` computes from audio): the finals of
        every segment now settled, then a partial when the open text changed. ``at_end``: nothing follows."""
        if frames.shape[0] == 0 and not at_end:
            return []
        self._pending = torch.cat([self._pending, frames])
        self._frames_seen += frames.shape[0]
        best = self._pending.argmax(dim=-1)  # (T_p,)
        ranges = speech_ranges(best, self._rule.min_gap)
        closed, following = ranges, None
        if ranges and not at_end:
            open_range = ranges[-1]
            settled = len(best) - 1 - open_range[1] >= self._rule.hold
            if not settled:
                closed, following = ranges[:-1], open_range
                if open_range[1] + 1 - open_range[0] > self._max_open:  # no pause for too long: cut it here
                    pieces = cut_long_ranges([open_range], best, self._rule.max_frames)
                    closed, following = ranges[:-1] + pieces[:-1], pieces[-1]
        events = [StreamEvent("final", s) for s in self._commit(closed, following, best)]
        if not at_end:
            events += self._partial_event()
        return events

    def _partial_event(self) -> list[StreamEvent]:
        """The open segment decoded up to its last word boundary, when that boundary moved and the text changed."""
        until = self._words_end(self._pending.argmax(dim=-1))
        if self._offset + until == self._partial_until:
            return []  # the same exact frames: the same text
        self._partial_until = self._offset + until
        partial = self.recognizer.decode_segment(self._pending[:until], self._offset, self.seconds) if until else None
        text = partial.text if partial is not None else ""
        if text == self._partial:
            return []
        self._partial = text
        start = self._offset * self.frame_seconds
        return [StreamEvent("partial", partial or Segment(start, start, ""))]

    def _words_end(self, best: torch.Tensor) -> int:
        """Pending frames up to the last word boundary of the greedy path ``best`` (T_p,): past the last
        separator, or past the last token when ``word_gap`` blank frames follow it or (units whose
        tokens are words) always; 0 when no word is complete."""
        tokens = (best != self.recognizer.tokenizer.blank_id).nonzero()
        if not len(tokens):
            return 0
        last = int(tokens[-1])
        if self._separator is None or len(best) - 1 - last >= self._word_gap:
            return last + 1
        separators = (best == self._separator).nonzero()
        return int(separators[-1]) + 1 if len(separators) else 0

    def _commit(self, closed: list[list[int]], following: list[int] | None, best: torch.Tensor) -> list[Segment]:
        """Decode the settled ranges (pending frames) as ``transcript_from_log_probs`` would; drop their frames."""
        if not closed:
            if not following:  # silence: keep only what a later segment's margin can reach back to
                drop = max(0, len(best) - self._rule.pad)
                self._pending, self._offset = self._pending[drop:], self._offset + drop
            return []
        pieces = cut_long_ranges(closed, best, self._rule.max_frames)
        previous = None if self._previous_last is None else self._previous_last - self._offset
        neighbours = pieces + ([following] if following else [])
        spans = pad_ranges(neighbours, self._rule.pad, len(best), previous)[: len(pieces)]
        finals = []
        for start, end in spans:
            segment = self.recognizer.decode_segment(self._pending[start:end], self._offset + start, self.seconds)
            if segment is not None:
                finals.append(segment)
        self.segments += finals
        self._previous_last = self._offset + pieces[-1][1]
        drop = spans[-1][1]  # a later segment starts at or after this frame
        self._pending, self._offset = self._pending[drop:], self._offset + drop
        if finals:
            self._partial = ""
        return finals
