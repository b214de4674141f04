"""The network through ONNX Runtime's CPU provider: a ``Recognizer`` whose log-probs come from an
exported graph (``dfcnn.deploy.export``), fp32 or int8. Decoding, alignment and transcripts are the same code.

    recognizer = load_model("deploy/", backend="onnx")               # deploy/model.onnx (+ decoder.json)
    recognizer = load_model("deploy/model.int8.onnx", backend="onnx")
    recognizer = load_model("exp/", backend="onnx")                   # a checkpoint, exported in memory
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..decode import DecoderConfig, build_decoder
from ..errors import CheckpointError, DfcnnError
from ..features import FeatureConfig
from ..inference import SHIPPED, Recognizer, TranscribeConfig, resolve_model_path, shipped_decoder
from ..model import ModelConfig
from ..text import Tokenizer


class OnnxRecognizer(Recognizer):
    """A ``Recognizer`` running an exported wave -> log-probs graph in onnxruntime (no torch modules)."""

    def __init__(
        self,
        session,
        tokenizer: Tokenizer,
        feature_config: FeatureConfig,
        model_config: ModelConfig,
        decoder=None,
        config: TranscribeConfig | None = None,
        min_samples: int = 400,
    ):
        self.session = session
        self.model = self.features = None  # no torch modules: inspect and training need a checkpoint
        self.tokenizer = tokenizer
        self.device = torch.device("cpu")
        self.config = config or TranscribeConfig()
        self.decoder = decoder if decoder is not None else build_decoder(tokenizer)
        self._feature_config, self._model_config = feature_config, model_config
        self.min_samples = min_samples  # shorter recordings have no output frame (``export.min_samples``)

    @property
    def feature_config(self) -> FeatureConfig:
        return self._feature_config

    @property
    def model_config(self) -> ModelConfig:
        return self._model_config

    @torch.no_grad()
    def log_probs(self, waves: torch.Tensor, wave_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) 16 kHz waves, (B,) lengths -> (B, T', V) log-probs, (B,) output lengths (CPU tensors).

        The graph takes whole recordings: each row runs alone, trimmed to its length."""
        waves = waves.detach().to("cpu", torch.float32).numpy()
        rows = []
        for row, length in enumerate(wave_lengths.tolist()):
            if length < self.min_samples:  # too short for one output frame (as in torch)
                rows.append(torch.zeros(0, len(self.tokenizer)))
                continue
            wave = np.ascontiguousarray(waves[row, None, :length])
            rows.append(torch.from_numpy(self.session.run(None, {"waves": wave})[0][0]))
        lengths = torch.tensor([row.shape[0] for row in rows])
        return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True), lengths


def session_options(threads: int | None = None):
    """CPU session options: ``threads`` intra-op threads (default: torch's, so OMP_NUM_THREADS=1 holds
    for both backends), no inter-op parallelism, full graph optimisation (BatchNorm folded into convs)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: not the warnings about unused initializers
    return options


def resolve_onnx_path(path: str | Path) -> Path | None:
    """An .onnx file, or a folder holding model.onnx -> its path; None for a checkpoint (or its folder)."""
    from .export import FP32_FILE

    path = Path(path)
    if path.is_dir() and (path / FP32_FILE).is_file():
        return path / FP32_FILE
    if path.suffix == ".onnx":
        if not path.is_file():
            raise CheckpointError(f"{path}: no such ONNX model")
        return path
    return None


def load_onnx_model(
    path: str | Path,
    decoder: DecoderConfig | None | str = SHIPPED,
    config: TranscribeConfig | None = None,
    threads: int | None = None,
) -> OnnxRecognizer:
    """An ``OnnxRecognizer`` from an exported .onnx file, a folder with model.onnx, or a checkpoint
    (exported in memory). ``decoder`` as in ``load_model``: "shipped" reads decoder.json beside the file."""
    try:
        import onnxruntime
    except ImportError:
        raise DfcnnError("the onnx backend needs onnxruntime: pip install 'dfcnn[serve]'") from None

    from ..inference import load_model
    from .export import onnx_bytes, read_metadata

    onnx_path = resolve_onnx_path(path)
    if onnx_path is None:
        checkpoint = resolve_model_path(path)
        source: bytes | str = onnx_bytes(load_model(checkpoint, device="cpu", decoder=None))
        beside = checkpoint
    else:
        source, beside = str(onnx_path), onnx_path
    try:
        session = onnxruntime.InferenceSession(source, session_options(threads), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own types for unreadable or invalid files
        raise CheckpointError(f"{onnx_path}: onnxruntime cannot load it ({str(error).splitlines()[0]})") from None
    meta = read_metadata(session.get_modelmeta())
    if isinstance(decoder, str):
        if decoder != SHIPPED:
            raise DfcnnError(f"decoder must be a DecoderConfig, None or {SHIPPED!r}, got {decoder!r}")
        decoder = shipped_decoder(beside)
    tokenizer = Tokenizer.from_dict(meta["tokenizer"])
    return OnnxRecognizer(
        session,
        tokenizer,
        FeatureConfig(**meta["feature_config"]),
        ModelConfig(**meta["model_config"]),
        build_decoder(tokenizer, decoder),
        config,
        meta["min_samples"],
    )
