"""Audio of any length: log-probs computed chunk by chunk with context, stitched exactly.

A chunk is ``chunk_seconds`` of audio plus ``context_seconds`` on each side. The network sees the
whole window but only the chunk's own output frames are kept. When the context covers the
network's receptive field, every kept frame sees the same input it would see in one pass over the
whole file, so the stitched log-probs equal the whole-file ones (up to float rounding): no word on
a chunk border is lost or doubled. Memory is bounded by the chunk size; time is linear in length.

    log_probs = chunked_log_probs(recognizer, stream_audio("talk.flac"))   # (T, V)

``LogProbStream`` does the same for audio arriving live (``dfcnn.streaming``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from .audio import SAMPLE_RATE
from .errors import ConfigError
from .options import ChunkConfig


def _samples_per_output_frame(recognizer) -> int:
    return recognizer.feature_config.hop_length * recognizer.model_config.time_reduction


def context_samples(recognizer, config: ChunkConfig) -> int:
    """Context on each side, in samples: a whole number of output frames covering the receptive field."""
    step = _samples_per_output_frame(recognizer)
    features = recognizer.feature_config
    model = recognizer.model_config
    # the receptive field in input frames, plus one output frame of slack and one analysis window
    needed = (model.receptive_radius + model.time_reduction) * features.hop_length + features.win_length
    wanted = max(needed, round(config.context_seconds * SAMPLE_RATE))
    return -(-wanted // step) * step


def chunk_samples(recognizer, config: ChunkConfig) -> int:
    step = _samples_per_output_frame(recognizer)
    samples = round(config.chunk_seconds * SAMPLE_RATE / step) * step
    if samples < step:
        raise ConfigError(f"chunk_seconds={config.chunk_seconds} is shorter than one output frame")
    return samples


class LogProbStream:
    """Exact log-probs of 16 kHz audio that arrives in pieces of any size.

    Audio is cut into chunks of ``chunk_samples``; a chunk is computed once ``context_samples`` of
    audio after it have arrived (its lookahead), over a window with that context on both sides, and
    only its own output frames are kept. What comes out, piece by piece, equals one pass over the
    whole stream (up to float rounding).

        stream = LogProbStream(recognizer, ChunkConfig(chunk_seconds=0.32, context_seconds=0.0))
        frames = stream.push(block)   # (n, V) CPU log-probs now final, n >= 0
        frames = stream.finish()      # the rest, once the audio has ended
    """

    def __init__(self, recognizer, config: ChunkConfig | None = None):
        config = config or ChunkConfig()
        self.recognizer = recognizer
        self.step = _samples_per_output_frame(recognizer)
        self.chunk = chunk_samples(recognizer, config)
        self.context = context_samples(recognizer, config)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0  # stream position of buffer[0]; always a multiple of ``step``
        self._chunk_start = 0  # stream position of the next chunk to emit
        self.samples = 0  # audio received so far
        self.frames = 0  # output frames returned so far
        self.finished = False

    @property
    def lookahead_samples(self) -> int:
        """Most audio that can arrive after a sample before its output frame comes out: a chunk and its context."""
        return self.chunk + self.context

    def push(self, block: np.ndarray) -> torch.Tensor:
        """Add (n,) float32 samples; returns the (n_frames, V) log-probs they completed."""
        if self.finished:
            raise RuntimeError("LogProbStream.push after finish()")
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        self._buffer = np.concatenate([self._buffer, block])
        self.samples += len(block)
        pieces = []
        while self.samples >= self._chunk_start + self.chunk + self.context:
            pieces.append(self._window(at_end=False))
            self._chunk_start += self.chunk
            drop = max(0, self._chunk_start - self.context) - self._buffer_start  # samples no later window needs
            self._buffer, self._buffer_start = self._buffer[drop:], self._buffer_start + drop
        return self._join(pieces)

    def finish(self) -> torch.Tensor:
        """The audio has ended: the (n_frames, V) log-probs of what is left."""
        if self.finished:
            raise RuntimeError("LogProbStream.finish called twice")
        self.finished = True
        if self.samples == 0:
            return self._join([])
        return self._join([self._window(at_end=True)])

    @torch.no_grad()
    def _window(self, at_end: bool) -> torch.Tensor:
        """The kept frames of the next chunk: its window is the chunk with context on each side (to
        the end of the audio for the last one)."""
        window_start = max(0, self._chunk_start - self.context)
        window_end = self.samples if at_end else self._chunk_start + self.chunk + self.context
        window = self._buffer[window_start - self._buffer_start : window_end - self._buffer_start]
        wave = torch.from_numpy(np.ascontiguousarray(window))[None, :]  # (1, n)
        log_probs, lengths = self.recognizer.log_probs(wave, torch.tensor([wave.shape[1]]))  # (1, T_w, V)
        first = (self._chunk_start - window_start) // self.step  # window frame of the chunk's first frame
        last = int(lengths[0]) if at_end else first + self.chunk // self.step
        kept = log_probs[0, first:last].float().cpu()
        self.frames += kept.shape[0]
        return kept

    def _join(self, pieces: list[torch.Tensor]) -> torch.Tensor:
        if not pieces:
            return torch.zeros(0, len(self.recognizer.tokenizer))
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces)


def chunked_log_probs(recognizer, blocks: Iterable[np.ndarray], config: ChunkConfig | None = None) -> torch.Tensor:
    """Stitched CTC log-probs of a stream of 16 kHz mono blocks.

    Args:
        recognizer: a ``Recognizer`` (its ``log_probs`` is called on each window).
        blocks: float32 arrays of shape (n,), in order (e.g. ``stream_audio(path)``).
    Returns:
        (T, V) float32 log-probs on the CPU, T = the model's output length for the whole stream.
    """
    stream = LogProbStream(recognizer, config)
    pieces = [stream.push(block) for block in blocks]
    pieces.append(stream.finish())
    return torch.cat(pieces)
