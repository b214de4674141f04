"""Running a trained DFCNN: waveforms -> features -> log-probs -> hypotheses and timed transcripts.

    from dfcnn import load_model
    recognizer = load_model("exp/best.pt")
    transcript = recognizer.transcribe("speech.flac")       # any length: chunked past chunk_seconds
    transcript.text, transcript.segments[0].words[0].start

    recognizer = load_model("exp/best.pt", decoder=BeamSearchConfig(lexicon="lm/lexicon.txt", lm="lm/lm.bin"))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .align import align_tokens, relabel_words, split_at_pauses, words_from_spans
from .audio import SAMPLE_RATE, audio_info, load_audio, resample, stream_audio
from .checkpoint import load_checkpoint, restore_modules
from .data import DurationBatchSampler, SpeechDataset, Utterance, collate
from .decode import BeamSearchConfig, BeamSearchDecoder, Hypothesis, greedy_decode
from .errors import AudioError, DfcnnError
from .features import FeatureExtractor
from .longform import ChunkConfig, chunked_log_probs
from .model import DFCNN
from .text import Tokenizer
from .transcript import Segment, Transcript, join_words


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" -> CUDA when present, else CPU; "cpu", "cuda", "cuda:1" as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DfcnnError(f"device {name!r} was asked for, but torch sees no CUDA device")
    return device


@dataclass
class TranscribeConfig:
    """How files become timed transcripts."""

    chunk: ChunkConfig = field(default_factory=ChunkConfig)  # long audio: chunk length and context
    min_pause: float = 0.5  # seconds of blank that end a segment
    max_segment: float = 30.0  # a longer segment is cut at its longest pause
    max_batch_duration: float = 200.0  # seconds of short files decoded in one batch


class Recognizer:
    """A DFCNN with its feature extractor, tokenizer and decoder, in eval mode on one device."""

    def __init__(
        self, model: DFCNN, features: FeatureExtractor, tokenizer: Tokenizer, device: str | torch.device = "cpu",
        decoder: BeamSearchConfig | None = None, config: TranscribeConfig | None = None,
    ):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.features = features.to(self.device).eval()
        self.tokenizer = tokenizer
        self.config = config or TranscribeConfig()
        self.set_decoder(decoder)

    def set_decoder(self, config: BeamSearchConfig | None) -> None:
        """Greedy when ``config`` is None, else beam search (with lexicon / LM as configured)."""
        self.decoder_config = config
        self._beam = BeamSearchDecoder(self.tokenizer, config) if config is not None else None

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor) -> list[Hypothesis]:
        """(B, T, V) log-probs, (B,) lengths -> the best hypothesis of each utterance."""
        if self._beam is None:
            return greedy_decode(log_probs, lengths, self.tokenizer)
        return [nbest[0] for nbest in self._beam(log_probs, lengths)]

    @property
    def frame_seconds(self) -> float:
        """Seconds per output frame (hop x time reduction: 0.04 by default)."""
        return self.features.config.hop_length * self.model.config.time_reduction / SAMPLE_RATE

    @torch.no_grad()
    def log_probs(self, waves: torch.Tensor, wave_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) 16 kHz waves, (B,) lengths -> (B, T', V) log-probs, (B,) output lengths."""
        features, frame_lengths = self.features(waves.to(self.device), wave_lengths.to(self.device))
        return self.model(features, frame_lengths)

    def decode_batch(self, waves: torch.Tensor, wave_lengths: torch.Tensor) -> list[Hypothesis]:
        log_probs, lengths = self.log_probs(waves, wave_lengths)
        return self.decode(log_probs, lengths)

    def utterance_log_probs(
        self, utterances: Sequence[Utterance], max_batch_duration: float = 200.0, progress: bool = False
    ) -> list[torch.Tensor]:
        """(T_i, V) CPU log-probs of each manifest utterance, in input order: decode them many ways."""
        results: list[torch.Tensor | None] = [None] * len(utterances)
        for indices, log_probs, lengths in self._batches(utterances, max_batch_duration, progress):
            for row, index in enumerate(indices):
                results[index] = log_probs[row, : int(lengths[row])].cpu()
        return results  # type: ignore[return-value]

    def recognize(
        self, utterances: Sequence[Utterance], max_batch_duration: float = 200.0, progress: bool = False
    ) -> list[Hypothesis]:
        """Decode manifest utterances in duration-sorted batches; results in input order."""
        results: list[Hypothesis | None] = [None] * len(utterances)
        for indices, log_probs, lengths in self._batches(utterances, max_batch_duration, progress):
            for index, hypothesis in zip(indices, self.decode(log_probs, lengths)):
                results[index] = hypothesis
        return results  # type: ignore[return-value]

    def _batches(self, utterances: Sequence[Utterance], max_batch_duration: float, progress: bool):
        from tqdm import tqdm

        dataset = SpeechDataset(list(utterances))
        sampler = DurationBatchSampler(dataset.durations, max_batch_duration, shuffle=False)
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
        with tqdm(total=len(dataset), unit="utt", desc="decoding", disable=not progress, leave=False) as bar:
            for batch in loader:
                log_probs, lengths = self.log_probs(batch.waves, batch.wave_lengths)
                yield batch.indices, log_probs, lengths
                bar.update(len(batch.indices))

    def transcript_from_log_probs(
        self, log_probs: torch.Tensor, duration: float, audio_filepath: str | None = None
    ) -> Transcript:
        """(T, V) log-probs of one recording -> segments at pauses, each decoded, words force-aligned."""
        frame = self.frame_seconds
        segments = []
        for start, end in split_at_pauses(log_probs, frame, self.config.min_pause, self.config.max_segment):
            piece = log_probs[start:end].contiguous()  # (T_s, V)
            lengths = torch.tensor([end - start])
            if self._beam is not None:
                nbest = self._beam(piece[None], lengths)[0]
                hypothesis, alternatives = nbest[0], [h.text for h in nbest[1:]]
            else:
                hypothesis, alternatives = greedy_decode(piece[None], lengths, self.tokenizer)[0], []
            if not hypothesis.text:
                continue
            spans = align_tokens(piece, hypothesis.tokens)
            words = words_from_spans(spans, self.tokenizer, frame, offset_seconds=start * frame)
            if self._beam is not None and self._beam.writes_characters:  # syllable spans, character words
                words = relabel_words(words, [char for char in hypothesis.text if not char.isspace()])
            seg_start, seg_end = (words[0].start, words[-1].end) if words else (start * frame, end * frame)
            segments.append(Segment(seg_start, min(seg_end, duration), hypothesis.text, words, alternatives))
        text = join_words([segment.text for segment in segments])
        return Transcript(text, segments, duration, audio_filepath)

    def transcribe(self, audio: str | Path | np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE) -> Transcript:
        """Transcribe one file (any format, rate and length) or a mono waveform at ``sample_rate``."""
        if isinstance(audio, (str, Path)):
            return self._transcribe_file(Path(audio))
        wave = np.asarray(audio, dtype=np.float32)
        if wave.ndim != 1:
            raise AudioError(f"expected a mono waveform of shape (N,), got shape {wave.shape}")
        wave = resample(wave, sample_rate)
        log_probs = chunked_log_probs(self, [wave], self.config.chunk)
        return self.transcript_from_log_probs(log_probs, len(wave) / SAMPLE_RATE)

    def _transcribe_file(self, path: Path) -> Transcript:
        duration, _, _ = audio_info(path)
        if duration <= self.config.chunk.chunk_seconds:
            wave = load_audio(path)
            log_probs = chunked_log_probs(self, [wave], self.config.chunk)  # one chunk: a single pass
            return self.transcript_from_log_probs(log_probs, len(wave) / SAMPLE_RATE, str(path))
        blocks = stream_audio(path, block_seconds=self.config.chunk.chunk_seconds)
        log_probs = chunked_log_probs(self, blocks, self.config.chunk)
        return self.transcript_from_log_probs(log_probs, duration, str(path))

    def transcribe_files(self, paths: Sequence[str | Path]) -> Iterator[tuple[Path, float, Transcript | DfcnnError]]:
        """Transcribe many files, in order: short ones batched together, long ones chunked.

        Yields:
            (path, seconds of audio, transcript or the error that file raised); a bad file never
            stops the others.
        """
        pending: list[tuple[Path, np.ndarray | DfcnnError]] = []  # in input order; errors keep their place

        def flush():
            good = [(path, wave) for path, wave in pending if isinstance(wave, np.ndarray)]
            results = {}
            if good:
                waves = [torch.from_numpy(wave) for _, wave in good]
                batch = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)  # (B, N)
                log_probs, lengths = self.log_probs(batch, torch.tensor([len(w) for w in waves]))
                for row, (path, wave) in enumerate(good):
                    seconds = len(wave) / SAMPLE_RATE
                    piece = log_probs[row, : int(lengths[row])].float().cpu()  # (T_i, V)
                    results[row] = (path, seconds, self.transcript_from_log_probs(piece, seconds, str(path)))
            row = 0
            for path, wave in pending:
                if isinstance(wave, np.ndarray):
                    yield results[row]
                    row += 1
                else:
                    yield path, 0.0, wave
            pending.clear()

        pending_seconds = 0.0
        for path in map(Path, paths):
            try:
                duration, _, _ = audio_info(path)
                if duration > self.config.chunk.chunk_seconds:
                    yield from flush()
                    pending_seconds = 0.0
                    yield path, duration, self._transcribe_file(path)
                    continue
                pending.append((path, load_audio(path)))
                pending_seconds += duration
            except DfcnnError as error:
                if pending:
                    pending.append((path, error))
                else:
                    yield path, 0.0, error
            if pending_seconds >= self.config.max_batch_duration:
                yield from flush()
                pending_seconds = 0.0
        yield from flush()


def load_model(
    path: str | Path, device: str = "auto", decoder: BeamSearchConfig | None = None,
    config: TranscribeConfig | None = None,
) -> Recognizer:
    """Load a checkpoint written by ``dfcnn train`` into a ready-to-use ``Recognizer``."""
    model, features, tokenizer = restore_modules(load_checkpoint(path))
    return Recognizer(model, features, tokenizer, resolve_device(device), decoder, config)
