"""A loaded model as one graph from waveform to log-probs: ONNX (fp32, or int8 through onnxruntime's
quantisation), for runtimes without dfcnn or PyTorch, and for ``--backend onnx``. It writes; ``runtime`` reads.

    dfcnn export --model exp/ --format onnx --int8 --calibration data/dev.jsonl --out deploy/
    # deploy/model.onnx, deploy/model.int8.onnx, deploy/decoder.json (+ the lexicon and LM it names)
    dfcnn transcribe --model deploy/ --backend onnx talk.flac

The graph:

    waves (B, N) float32 16 kHz, B recordings of N samples each, N >= ``min_samples`` (metadata)
        -> log_probs (B, T', V) float32, T' = the model's output length for N samples

Batch and time axes are dynamic. Rows are whole recordings (no padding, so no masks: the DFCNN's
unmasked path, see ``DFCNN.forward``); recordings of different lengths are run one by one. The
spectrogram is a strided convolution with the windowed DFT basis (the numbers of ``torch.stft``, in
operators every runtime has), followed by the feature extractor's own log, mask and normalisation
code, traced. The ONNX file's metadata (key ``dfcnn``) holds the feature and model configs and the
vocabulary: the file describes itself.

There is no TorchScript export: PyTorch deprecates TorchScript (torch 2.11), a TorchScript file needs
PyTorch to run anyway (as the torch backend does, with the checkpoint), and ONNX covers the runtimes
without it.

int8: static quantisation (QDQ, per-channel weights, activation ranges calibrated on real audio) of
the network's convolutions and linear layers; the spectrogram stays in float, where 8 bits would
cost accuracy for little time.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import math
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..audio import SAMPLE_RATE
from ..decode import DECODER_FILE, DecoderConfig
from ..errors import DfcnnError
from ..fileio import atomic_copy, atomic_write, atomic_write_text
from ..options import EXPORT_FORMATS
from .runtime import METADATA_FORMAT, METADATA_KEY, read_metadata

FORMATS = EXPORT_FORMATS
OPSET = 17
FP32_FILE, INT8_FILE = "model.onnx", "model.int8.onnx"
CALIBRATION_SECONDS = 600.0  # audio the int8 activation ranges are measured on (at most)


class DftSpectrogram(nn.Module):
    """``torchaudio.transforms.Spectrogram`` (no centring, one-sided) as a Conv1d with the windowed DFT basis.

    (B, N) waves -> (B, n_fft // 2 + 1, T) magnitudes (power 1) or powers (power 2), T = 1 + (N - n_fft) // hop.
    """

    def __init__(self, window: torch.Tensor, hop_length: int, power: float):
        super().__init__()
        n_fft = window.shape[0]
        bins = n_fft // 2 + 1
        angle = 2 * math.pi * torch.arange(bins, dtype=torch.float64)[:, None] * torch.arange(n_fft)[None, :] / n_fft
        basis = torch.cat([torch.cos(angle), -torch.sin(angle)]) * window.double()[None, :]  # (2 * bins, n_fft)
        self.register_buffer("basis", basis.float()[:, None, :])  # (2 * bins, 1, n_fft)
        self.hop_length, self.bins, self.power = hop_length, bins, power

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        parts = nn.functional.conv1d(waves[:, None, :], self.basis, stride=self.hop_length)  # (B, 2 * bins, T)
        power = parts[:, : self.bins] ** 2 + parts[:, self.bins :] ** 2  # (B, bins, T)
        return power if self.power == 2.0 else power.sqrt()


class WaveToLogProbs(nn.Module):
    """The feature extractor and the DFCNN as one module: (B, N) waves, (B,) lengths -> (B, T', V), (B,)."""

    def __init__(self, features: nn.Module, model: nn.Module):
        super().__init__()
        self.features = copy.deepcopy(features).cpu().eval()
        self.model = copy.deepcopy(model).cpu().eval()
        transform = self.features.transform  # the STFT as a convolution: exportable, and the same numbers
        if features.config.kind == "linear":
            self.features.transform = DftSpectrogram(transform.window, features.config.hop_length, 1.0)
        else:
            spectrogram = DftSpectrogram(transform.spectrogram.window, features.config.hop_length, 2.0)
            self.features.transform = nn.Sequential(spectrogram, transform.mel_scale)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        """(B, N) waves, each N samples long -> (B, T', V) log-probs."""
        wave_lengths = waves.shape[1] * torch.ones(waves.shape[0], dtype=torch.long)  # from the shape: traced
        features, _ = self.features(waves, wave_lengths)  # (B, 1, F, T)
        return self.model(features, None)[0]  # every frame valid: no padding, no masks


def describe(recognizer) -> dict:
    """What a runtime needs besides the graph: feature and model configs, vocabulary, input rules."""
    return {
        "format": METADATA_FORMAT,
        "version": 1,
        "sample_rate": SAMPLE_RATE,
        "min_samples": min_samples(recognizer),  # shorter recordings have no output frames: do not run them
        "feature_config": dataclasses.asdict(recognizer.feature_config),
        "model_config": dataclasses.asdict(recognizer.model_config),
        "tokenizer": recognizer.tokenizer.to_dict(),
    }


def min_samples(recognizer) -> int:
    """The shortest recording with an output frame: one analysis window and ``time_reduction - 1`` hops."""
    features = recognizer.feature_config
    return features.win_length + (recognizer.model_config.time_reduction - 1) * features.hop_length


def _example() -> tuple[torch.Tensor]:
    """Two recordings of an odd length, so the trace keeps batch and time symbolic."""
    return (0.1 * torch.randn(2, 3 * SAMPLE_RATE + 123, generator=torch.Generator().manual_seed(0)),)


def onnx_bytes(recognizer) -> bytes:
    """The fp32 ONNX graph of a torch ``Recognizer`` (its model and features), metadata included."""
    import onnx

    graph = WaveToLogProbs(recognizer.features, recognizer.model)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation note and tracer notes on checked shapes
        torch.onnx.export(
            graph,
            _example(),
            buffer,
            dynamo=False,
            opset_version=OPSET,
            input_names=["waves"],
            output_names=["log_probs"],
            dynamic_axes={"waves": {0: "batch", 1: "samples"}, "log_probs": {0: "batch", 1: "frames"}},
        )
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(describe(recognizer))})
    return proto.SerializeToString()


class _CalibrationReader:
    """onnxruntime's CalibrationDataReader protocol over real utterances, one at a time."""

    def __init__(self, waves: list[np.ndarray]):
        self._feeds = iter({"waves": wave[None, :].astype(np.float32)} for wave in waves)

    def get_next(self) -> dict | None:
        return next(self._feeds, None)


def calibration_waves(manifest: str | Path, shortest: int, seconds: float = CALIBRATION_SECONDS):
    """Up to ``seconds`` of audio from a manifest, spread over it (every k-th utterance), each at
    least ``shortest`` samples (zero-padded)."""
    from ..audio import load_audio
    from ..data import read_manifest

    utterances = read_manifest(manifest)
    total = sum(u.duration for u in utterances)
    stride = max(1, math.ceil(total / seconds))
    waves = [load_audio(u.audio_filepath) for u in utterances[::stride]]
    return [np.pad(w, (0, max(0, shortest - len(w)))) for w in waves]


def quantize_int8(fp32: Path, int8: Path, waves: list[np.ndarray]) -> None:
    """Static int8 (QDQ, per-channel, symmetric weights) of the network's Conv and MatMul/Gemm nodes;
    activation ranges from ``waves``. The spectrogram's DFT convolution stays float."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not waves:
        raise DfcnnError("int8 quantisation needs calibration audio (--calibration MANIFEST)")
    import onnx

    prepared = int8.with_name(int8.name + ".prep.onnx")
    try:
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        proto = onnx.load(str(prepared))
        features = [node.name for node in proto.graph.node if node.name.startswith("/features/")]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_static(
                str(prepared),
                str(int8),
                _CalibrationReader(waves),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=features,
                calibrate_method=CalibrationMethod.MinMax,
            )
        proto = onnx.load(str(int8))
        meta = read_metadata(onnx.load(str(fp32)))
        onnx.helper.set_model_props(proto, {METADATA_KEY: json.dumps(meta)})
        data = proto.SerializeToString()
        atomic_write(int8, lambda file: file.write(data))
    finally:
        prepared.unlink(missing_ok=True)


def ship_decoder(config: DecoderConfig, out: Path, tokenizer) -> Path | None:
    """Write the model's decoder (a beam search; greedy needs none) as decoder.json in ``out``, with
    the LM and the lexicon it uses (named, or found beside the LM), and its words or grammar file,
    copied in and named relative to it."""
    from ..lm import resolve_lexicon

    if config.is_greedy:
        return None
    lexicon = None if config.grammar else resolve_lexicon(config.lexicon, config.lm, tokenizer)
    sources = {"lexicon": lexicon, "lm": config.lm, "words": config.words, "grammar": config.grammar}
    copied = {}
    for key, source in sources.items():
        if source is not None:
            atomic_copy(source, out / Path(source).name)
            copied[key] = Path(source).name
    path = out / DECODER_FILE
    atomic_write_text(path, json.dumps(DecoderConfig(**{**config.to_dict(), **copied}).to_dict(), indent=2) + "\n")
    return path


def export_model(
    recognizer, fmt: str, out: str | Path, int8: bool = False, calibration: str | Path | None = None
) -> list[Path]:
    """Write a loaded model (a ``Recognizer`` with a PyTorch network) as ``fmt`` into ``out``, with
    its decoder (``ship_decoder``); returns the files written."""
    if fmt not in FORMATS:
        raise DfcnnError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if int8 and calibration is None:
        raise DfcnnError("--int8 needs --calibration MANIFEST: real audio to measure activation ranges on")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = onnx_bytes(recognizer)
    path = out / FP32_FILE
    atomic_write(path, lambda file: file.write(data))
    written = [path]
    if int8:
        waves = calibration_waves(calibration, min_samples(recognizer))
        quantize_int8(path, out / INT8_FILE, waves)
        written.append(out / INT8_FILE)
    decoder = ship_decoder(recognizer.decoder.config, out, recognizer.tokenizer)
    if decoder is not None:
        written.append(decoder)
    return written
