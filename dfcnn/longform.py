"""Audio of any length: log-probs computed chunk by chunk with context, stitched exactly.

A chunk is ``chunk_seconds`` of audio plus ``context_seconds`` on each side. The network sees the
whole window but only the chunk's own output frames are kept. When the context covers the
network's receptive field, every kept frame sees the same input it would see in one pass over the
whole file, so the stitched log-probs equal the whole-file ones (up to float rounding): no word on
a chunk border is lost or doubled. Memory is bounded by the chunk size; time is linear in length.

    log_probs = chunked_log_probs(recognizer, stream_audio("talk.flac"))   # (T, V)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from .audio import SAMPLE_RATE
from .errors import ConfigError


@dataclass
class ChunkConfig:
    """How long audio is cut for the network."""

    chunk_seconds: float = 30.0  # audio whose output frames one forward pass keeps
    context_seconds: float = 1.0  # extra audio seen on each side and discarded; raised to the receptive field


def _samples_per_output_frame(recognizer) -> int:
    return recognizer.features.config.hop_length * recognizer.model.config.time_reduction


def context_samples(recognizer, config: ChunkConfig) -> int:
    """Context on each side, in samples: a whole number of output frames covering the receptive field."""
    step = _samples_per_output_frame(recognizer)
    features = recognizer.features.config
    model = recognizer.model.config
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


@torch.no_grad()
def chunked_log_probs(recognizer, blocks: Iterable[np.ndarray], config: ChunkConfig | None = None) -> torch.Tensor:
    """Stitched CTC log-probs of a stream of 16 kHz mono blocks.

    Args:
        recognizer: a ``Recognizer`` (its ``features`` and ``model`` are used, on its device).
        blocks: float32 arrays of shape (n,), in order (e.g. ``stream_audio(path)``).
    Returns:
        (T, V) float32 log-probs on the CPU, T = the model's output length for the whole stream.
    """
    config = config or ChunkConfig()
    step = _samples_per_output_frame(recognizer)
    chunk = chunk_samples(recognizer, config)
    context = context_samples(recognizer, config)

    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0  # stream position of buffer[0]; always a multiple of ``step``
    chunk_start = 0  # stream position of the next chunk to emit
    pieces: list[torch.Tensor] = []
    stream = iter(blocks)
    finished = False
    while True:
        # read until the next chunk has its right context, or the stream ends
        while not finished and buffer_start + len(buffer) < chunk_start + chunk + context:
            block = next(stream, None)
            if block is None:
                finished = True
            else:
                buffer = np.concatenate([buffer, np.asarray(block, dtype=np.float32)])
        window_start = max(0, chunk_start - context)
        window = buffer[window_start - buffer_start : chunk_start + chunk + context - buffer_start]
        at_end = finished and window_start + len(window) >= buffer_start + len(buffer)
        if len(window) == 0:
            break
        wave = torch.from_numpy(np.ascontiguousarray(window))[None, :]  # (1, n)
        log_probs, lengths = recognizer.log_probs(wave, torch.tensor([wave.shape[1]]))  # (1, T_w, V)
        first = (chunk_start - window_start) // step  # window frame of the chunk's first frame
        last = int(lengths[0]) if at_end else first + chunk // step
        pieces.append(log_probs[0, first:last].float().cpu())
        if at_end:
            break
        chunk_start += chunk
        drop = max(0, chunk_start - context) - buffer_start  # samples no later window needs
        buffer, buffer_start = buffer[drop:], buffer_start + drop
    if not pieces:
        return torch.zeros(0, len(recognizer.tokenizer))
    return torch.cat(pieces)
