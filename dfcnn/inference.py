"""The Recognizer: a network (PyTorch, or an exported ONNX graph) with its tokenizer and decoder,
from waveforms to hypotheses and timed transcripts. ``dfcnn.loading.load_model`` builds one from files.

    from dfcnn import load_model
    recognizer = load_model("exp/best.pt")
    transcript = recognizer.transcribe("speech.flac")       # any length: chunked past chunk_seconds
    transcript.text, transcript.segments[0].words[0].start

    recognizer = Recognizer(TorchNetwork(model.eval(), features.eval()), tokenizer)   # modules in memory

A network is anything with ``log_probs(waves, wave_lengths)`` and the feature and model configs
(``Network``): ``TorchNetwork`` here, ``dfcnn.deploy.runtime.OnnxNetwork`` for exported graphs.
Decoding, alignment and transcripts are the same code for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from .align import align_tokens, split_at_pauses, words_from_spans
from .audio import SAMPLE_RATE, audio_info, check_samples, load_audio, resample, stream_audio
from .data import DurationBatchSampler, SpeechDataset, Utterance, collate
from .decode import Decoder, DecoderConfig, Hypothesis, build_decoder
from .errors import AudioError, DfcnnError
from .features import FeatureConfig, FeatureExtractor
from .longform import chunked_log_probs
from .model import DFCNN, ModelConfig
from .options import ChunkConfig, TranscribeConfig  # noqa: F401 (the API)
from .text import Tokenizer
from .transcript import Segment, Transcript, join_words


class Network(Protocol):
    """What a Recognizer runs: 16 kHz waves -> CTC log-probs, and the configs that say how."""

    feature_config: FeatureConfig
    model_config: ModelConfig
    device: torch.device  # where waves go (results may be on it)

    def log_probs(self, waves: torch.Tensor, wave_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) 16 kHz waves, (B,) lengths -> (B, T', V) log-probs, (B,) output lengths."""
        ...


class TorchNetwork:
    """A DFCNN and its feature extractor in PyTorch.

    Used as given: in eval mode, on their device (``load_model`` prepares them); nothing here changes
    either, so a trainer can score dev with its own modules.
    """

    def __init__(self, model: DFCNN, features: FeatureExtractor):
        self.model = model
        self.features = features
        self.device = next(model.parameters()).device

    @property
    def feature_config(self) -> FeatureConfig:
        return self.features.config

    @property
    def model_config(self) -> ModelConfig:
        return self.model.config

    @torch.no_grad()
    def log_probs(self, waves: torch.Tensor, wave_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) 16 kHz waves, (B,) lengths -> (B, T', V) log-probs, (B,) output lengths."""
        if self.model.training or self.features.training:
            raise RuntimeError("Recognizer needs the model and features in eval mode (call .eval() first)")
        features, frame_lengths = self.features(waves.to(self.device), wave_lengths.to(self.device))
        return self.model(features, frame_lengths)


class Recognizer:
    """A network with its tokenizer and decoder: waveforms and files -> hypotheses and transcripts."""

    def __init__(
        self,
        network: Network,
        tokenizer: Tokenizer,
        decoder: Decoder | None = None,
        config: TranscribeConfig | None = None,
    ):
        self.network = network
        self.tokenizer = tokenizer
        self.config = config or TranscribeConfig()
        self.decoder = decoder if decoder is not None else build_decoder(tokenizer)

    def set_decoder(self, config: DecoderConfig | None) -> None:
        """Decode with ``config`` from now on (None: greedy)."""
        self.decoder = build_decoder(self.tokenizer, config)

    @property
    def feature_config(self) -> FeatureConfig:
        return self.network.feature_config

    @property
    def model_config(self) -> ModelConfig:
        return self.network.model_config

    @property
    def device(self) -> torch.device:
        return self.network.device

    @property
    def model(self) -> DFCNN:
        """The PyTorch DFCNN of a torch network (inspection, export); an exported graph has none."""
        return self._torch_network().model

    @property
    def features(self) -> FeatureExtractor:
        """The PyTorch feature extractor of a torch network; an exported graph has none."""
        return self._torch_network().features

    def _torch_network(self) -> TorchNetwork:
        if not isinstance(self.network, TorchNetwork):
            raise DfcnnError("this needs the PyTorch model: load a checkpoint (backend torch), not an exported graph")
        return self.network

    @property
    def frame_seconds(self) -> float:
        """Seconds per output frame (hop x time reduction: 0.04 by default)."""
        return self.feature_config.hop_length * self.model_config.time_reduction / SAMPLE_RATE

    def log_probs(self, waves: torch.Tensor, wave_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) 16 kHz waves, (B,) lengths -> (B, T', V) log-probs, (B,) output lengths."""
        return self.network.log_probs(waves, wave_lengths)

    def utterance_log_probs(
        self,
        utterances: Sequence[Utterance],
        max_batch_duration: float = 200.0,
        progress: bool = False,
        skip_failed: bool = False,
    ) -> list[torch.Tensor | None]:
        """(T_i, V) CPU log-probs of each manifest utterance, in input order: decode them many ways.

        An unreadable file raises ``AudioError`` naming it, or with ``skip_failed`` gets None.
        """
        results: list[torch.Tensor | None] = [None] * len(utterances)
        for indices, log_probs, lengths in self._batches(utterances, max_batch_duration, progress, skip_failed):
            for row, index in enumerate(indices):
                results[index] = log_probs[row, : int(lengths[row])].cpu()
        return results

    def recognize(
        self,
        utterances: Sequence[Utterance],
        max_batch_duration: float = 200.0,
        progress: bool = False,
        skip_failed: bool = False,
    ) -> list[Hypothesis | None]:
        """Decode manifest utterances in duration-sorted batches; results in input order (None for
        an unreadable file with ``skip_failed``, else ``AudioError``)."""
        results: list[Hypothesis | None] = [None] * len(utterances)
        for indices, log_probs, lengths in self._batches(utterances, max_batch_duration, progress, skip_failed):
            for index, hypothesis in zip(indices, self.decoder.best(log_probs, lengths)):
                results[index] = hypothesis
        return results

    def _batches(self, utterances: Sequence[Utterance], max_batch_duration: float, progress: bool, skip_failed: bool):
        from tqdm import tqdm

        dataset = SpeechDataset(list(utterances))
        sampler = DurationBatchSampler(dataset.durations, max_batch_duration, shuffle=False)
        loader = torch.utils.data.DataLoader(
            dataset, batch_sampler=sampler, collate_fn=collate, generator=torch.Generator().manual_seed(0)
        )  # its own generator: scoring never draws from the global RNG a training run resumes
        with tqdm(total=len(dataset), unit="utt", desc="decoding", disable=not progress, leave=False) as bar:
            for batch in loader:
                if batch.failed and not skip_failed:
                    raise AudioError(batch.failed[0][1])
                if batch.indices:
                    log_probs, lengths = self.log_probs(batch.waves, batch.wave_lengths)
                    yield batch.indices, log_probs, lengths
                bar.update(len(batch.indices) + len(batch.failed))

    def transcript_from_log_probs(
        self, log_probs: torch.Tensor, duration: float, audio_filepath: str | None = None
    ) -> Transcript:
        """(T, V) log-probs of one recording -> segments at pauses, each decoded, words force-aligned."""
        segments = []
        cuts = split_at_pauses(log_probs, self.frame_seconds, self.config.min_pause, self.config.max_segment)
        for start, end in cuts:
            segment = self.decode_segment(log_probs[start:end], start, duration)
            if segment is not None:
                segments.append(segment)
        text = join_words([segment.text for segment in segments])
        return Transcript(text, segments, duration, audio_filepath)

    def decode_segment(
        self, log_probs: torch.Tensor, first_frame: int, duration: float, decoder: Decoder | None = None
    ) -> Segment | None:
        """(T_s, V) log-probs of one segment starting at output frame ``first_frame`` of a recording
        ``duration`` s long -> the decoded segment with force-aligned words (None when it says nothing).
        ``decoder``: this recognizer's own unless given (the streaming partials decode greedily)."""
        decoder = decoder or self.decoder
        frame = self.frame_seconds
        piece = log_probs.contiguous()
        nbest = decoder.decode(piece[None], torch.tensor([piece.shape[0]]))[0]
        hypothesis, alternatives = nbest[0], [h.text for h in nbest[1:]]
        if not hypothesis.text:
            return None
        spans = align_tokens(piece, hypothesis.tokens)
        words = words_from_spans(
            spans, self.tokenizer, frame, first_frame * frame, hypothesis.word_starts, hypothesis.words
        )
        end = first_frame + piece.shape[0]
        seg_start, seg_end = (words[0].start, words[-1].end) if words else (first_frame * frame, end * frame)
        return Segment(seg_start, min(seg_end, duration), hypothesis.text, words, alternatives)

    def transcribe(self, audio: str | Path | np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE) -> Transcript:
        """Transcribe one file (any format, rate and length) or a mono waveform at ``sample_rate``."""
        if isinstance(audio, (str, Path)):
            return self._transcribe_file(Path(audio))
        wave = np.asarray(audio, dtype=np.float32)
        if wave.ndim != 1:
            raise AudioError(f"expected a mono waveform of shape (N,), got shape {wave.shape}")
        check_samples(wave, "the waveform")
        wave = resample(wave, sample_rate)
        log_probs = chunked_log_probs(self, [wave], self.config.chunk)
        return self.transcript_from_log_probs(log_probs, len(wave) / SAMPLE_RATE)

    def _transcribe_file(self, path: Path, progress: Callable[[float], None] | None = None) -> Transcript:
        duration, _, _ = audio_info(path)
        if duration <= self.config.chunk.chunk_seconds:
            wave = load_audio(path)
            log_probs = chunked_log_probs(self, [wave], self.config.chunk)  # one chunk: a single pass
            if progress is not None:
                progress(len(wave) / SAMPLE_RATE)
            return self.transcript_from_log_probs(log_probs, len(wave) / SAMPLE_RATE, str(path))
        blocks = stream_audio(path, block_seconds=self.config.chunk.chunk_seconds)
        if progress is not None:
            blocks = _reported(blocks, progress)
        log_probs = chunked_log_probs(self, blocks, self.config.chunk)
        return self.transcript_from_log_probs(log_probs, duration, str(path))

    def transcribe_files(
        self, paths: Sequence[str | Path], progress: Callable[[float], None] | None = None
    ) -> Iterator[tuple[Path, float, Transcript | DfcnnError]]:
        """Transcribe many files, in order: short ones batched together, long ones chunked.

        Args:
            progress: called with the seconds of audio just computed: per chunk of a long file, per
                batch of short ones (a progress bar that moves within a long file).
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
                if progress is not None:
                    progress(sum(len(w) for w in waves) / SAMPLE_RATE)
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
                    yield path, duration, self._transcribe_file(path, progress)
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


def _reported(blocks: Iterable[np.ndarray], progress: Callable[[float], None]) -> Iterator[np.ndarray]:
    """``blocks``, calling ``progress(seconds)`` for each once its consumer asks for the next one,
    that is once that block's log-probs are computed."""
    for block in blocks:
        yield block
        progress(len(block) / SAMPLE_RATE)
