"""Running a trained DFCNN: waveforms -> features -> log-probs -> hypotheses and timed transcripts.

    from dfcnn import load_model
    recognizer = load_model("exp/best.pt")
    transcript = recognizer.transcribe("speech.flac")       # any length: chunked past chunk_seconds
    transcript.text, transcript.segments[0].words[0].start

    recognizer = load_model("exp/best.pt", decoder=DecoderConfig(lexicon="lm/lexicon.txt", lm="lm/lm.bin"))
    recognizer = load_model("exp/")                          # with the decoder shipped beside best.pt
    recognizer = load_model("exp/", decoder=None)            # the network's own (greedy) output

A model ships its decoder as ``decoder.json`` beside the checkpoint (``dfcnn tune --ship`` writes
it: the lexicon, LM, LM weight and word score tuned on dev, paths relative to the file).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from .align import align_tokens, split_at_pauses, words_from_spans
from .audio import SAMPLE_RATE, audio_info, check_samples, load_audio, resample, stream_audio
from .checkpoint import load_checkpoint, restore_modules
from .data import DurationBatchSampler, SpeechDataset, Utterance, collate
from .decode import Decoder, DecoderConfig, Hypothesis, build_decoder
from .errors import AudioError, CheckpointError, DfcnnError
from .features import FeatureConfig, FeatureExtractor
from .longform import chunked_log_probs
from .model import DFCNN, ModelConfig
from .options import BACKENDS, DECODER_FILE, SHIPPED, ChunkConfig, TranscribeConfig  # noqa: F401 (the API)
from .text import Tokenizer
from .transcript import Segment, Transcript, join_words


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" -> CUDA when present, else CPU; "cpu", "cuda", "cuda:1" as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise DfcnnError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DfcnnError(f"device {name!r} was asked for, but torch sees no CUDA device")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DfcnnError(f"device {name!r} was asked for, but torch sees {torch.cuda.device_count()} CUDA devices")
    return device


class Recognizer:
    """A DFCNN with its feature extractor, tokenizer and decoder.

    The model and feature extractor are used as given: in eval mode, on their device (``load_model``
    prepares them); the Recognizer changes neither, so a trainer can score dev with its own model.
    """

    def __init__(
        self, model: DFCNN, features: FeatureExtractor, tokenizer: Tokenizer, decoder: Decoder | None = None,
        config: TranscribeConfig | None = None,
    ):
        self.model = model
        self.features = features
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        self.config = config or TranscribeConfig()
        self.decoder = decoder if decoder is not None else build_decoder(tokenizer)

    def set_decoder(self, config: DecoderConfig | None) -> None:
        """Decode with ``config`` from now on (None: greedy)."""
        self.decoder = build_decoder(self.tokenizer, config)

    @property
    def feature_config(self) -> FeatureConfig:
        return self.features.config

    @property
    def model_config(self) -> ModelConfig:
        return self.model.config

    @property
    def frame_seconds(self) -> float:
        """Seconds per output frame (hop x time reduction: 0.04 by default)."""
        return self.feature_config.hop_length * self.model_config.time_reduction / SAMPLE_RATE

    @torch.no_grad()
    def log_probs(self, waves: torch.Tensor, wave_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) 16 kHz waves, (B,) lengths -> (B, T', V) log-probs, (B,) output lengths."""
        if self.model.training or self.features.training:
            raise RuntimeError("Recognizer needs the model and features in eval mode (call .eval() first)")
        features, frame_lengths = self.features(waves.to(self.device), wave_lengths.to(self.device))
        return self.model(features, frame_lengths)

    def utterance_log_probs(
        self, utterances: Sequence[Utterance], max_batch_duration: float = 200.0, progress: bool = False,
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
        self, utterances: Sequence[Utterance], max_batch_duration: float = 200.0, progress: bool = False,
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


CHECKPOINT_IN_FOLDER = "best.pt"  # the checkpoint ``load_model("exp/")`` loads


def resolve_model_path(path: str | Path) -> Path:
    """A checkpoint file, or an experiment folder holding best.pt -> the checkpoint path."""
    path = Path(path)
    if path.is_dir():
        checkpoint = path / CHECKPOINT_IN_FOLDER
        if not checkpoint.is_file():
            raise CheckpointError(f"{path}: a model folder needs {CHECKPOINT_IN_FOLDER} in it")
        return checkpoint
    return path


def shipped_decoder(checkpoint: str | Path) -> DecoderConfig | None:
    """The decoder shipped with a checkpoint (decoder.json beside it), or None when there is none."""
    path = Path(checkpoint).parent / DECODER_FILE
    return DecoderConfig.from_file(path) if path.is_file() else None




def load_model(
    path: str | Path, device: str = "auto", decoder: DecoderConfig | None | str = SHIPPED,
    config: TranscribeConfig | None = None, backend: str = "torch",
) -> Recognizer:
    """Load a checkpoint written by ``dfcnn train`` (a .pt file, or a folder with best.pt) into a
    ready ``Recognizer`` in eval mode.

    Args:
        decoder: "shipped" (the default): the decoder.json beside the checkpoint, or greedy without
            one; None: greedy, the network's own output; or a ``DecoderConfig``.
        backend: "torch", or "onnx": the network in onnxruntime on the CPU; ``path`` may then also be an
            exported .onnx file or a folder holding model.onnx (``dfcnn export``).
    """
    if backend not in BACKENDS:
        raise DfcnnError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "onnx":
        if device not in ("auto", "cpu"):
            raise DfcnnError(f"the onnx backend runs on the CPU; device {device!r} was asked for")
        from .deploy.runtime import load_onnx_model

        return load_onnx_model(path, decoder, config)
    checkpoint = resolve_model_path(path)
    if isinstance(decoder, str):
        if decoder != SHIPPED:
            raise DfcnnError(f"decoder must be a DecoderConfig, None or {SHIPPED!r}, got {decoder!r}")
        decoder = shipped_decoder(checkpoint)
    model, features, tokenizer = restore_modules(load_checkpoint(checkpoint))
    target = resolve_device(device)
    model, features = model.to(target).eval(), features.to(target).eval()
    return Recognizer(model, features, tokenizer, build_decoder(tokenizer, decoder), config)
