"""Running a trained DFCNN: waveforms -> features -> log-probs -> hypotheses.

    from dfcnn import load_model
    recognizer = load_model("exp/best.pt")
    recognizer.transcribe("speech.flac").text
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .audio import SAMPLE_RATE, load_audio, resample
from .checkpoint import load_checkpoint, restore_modules
from .data import DurationBatchSampler, SpeechDataset, Utterance, collate
from .decode import Hypothesis, greedy_decode
from .errors import AudioError, DfcnnError
from .features import FeatureExtractor
from .model import DFCNN
from .text import Tokenizer


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" -> CUDA when present, else CPU; "cpu", "cuda", "cuda:1" as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DfcnnError(f"device {name!r} was asked for, but torch sees no CUDA device")
    return device


class Recognizer:
    """A DFCNN with its feature extractor and tokenizer, in eval mode on one device."""

    def __init__(self, model: DFCNN, features: FeatureExtractor, tokenizer: Tokenizer, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.features = features.to(self.device).eval()
        self.tokenizer = tokenizer

    @torch.no_grad()
    def log_probs(self, waves: torch.Tensor, wave_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) 16 kHz waves, (B,) lengths -> (B, T', V) log-probs, (B,) output lengths."""
        features, frame_lengths = self.features(waves.to(self.device), wave_lengths.to(self.device))
        return self.model(features, frame_lengths)

    def decode_batch(self, waves: torch.Tensor, wave_lengths: torch.Tensor) -> list[Hypothesis]:
        log_probs, lengths = self.log_probs(waves, wave_lengths)
        return greedy_decode(log_probs, lengths, self.tokenizer)

    def recognize(
        self, utterances: Sequence[Utterance], max_batch_duration: float = 200.0, num_workers: int = 0,
        progress: bool = False,
    ) -> list[Hypothesis]:
        """Decode manifest utterances in duration-sorted batches; results in input order."""
        from tqdm import tqdm

        dataset = SpeechDataset(utterances)
        sampler = DurationBatchSampler(dataset.durations, max_batch_duration, shuffle=False)
        loader = torch.utils.data.DataLoader(
            dataset, batch_sampler=sampler, collate_fn=collate, num_workers=num_workers
        )
        results: list[Hypothesis | None] = [None] * len(dataset)
        with tqdm(total=len(dataset), unit="utt", desc="decoding", disable=not progress, leave=False) as bar:
            for batch in loader:
                for index, hypothesis in zip(batch.indices, self.decode_batch(batch.waves, batch.wave_lengths)):
                    results[index] = hypothesis
                bar.update(len(batch.indices))
        return results  # type: ignore[return-value]

    def transcribe(self, audio: str | Path | np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE) -> Hypothesis:
        """Transcribe one file (any format and rate) or a mono waveform at ``sample_rate``."""
        if isinstance(audio, (str, Path)):
            wave = load_audio(audio)
        else:
            wave = np.asarray(audio, dtype=np.float32)
            if wave.ndim != 1:
                raise AudioError(f"expected a mono waveform of shape (N,), got shape {wave.shape}")
            wave = resample(wave, sample_rate)
        waves = torch.from_numpy(np.ascontiguousarray(wave))[None, :]
        return self.decode_batch(waves, torch.tensor([waves.shape[1]]))[0]


def load_model(path: str | Path, device: str = "auto") -> Recognizer:
    """Load a checkpoint written by ``dfcnn train`` into a ready-to-use ``Recognizer``."""
    model, features, tokenizer = restore_modules(load_checkpoint(path))
    return Recognizer(model, features, tokenizer, resolve_device(device))
