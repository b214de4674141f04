"""An exported graph in ONNX Runtime's CPU provider: the ``OnnxNetwork`` a ``Recognizer`` runs, built
from the .onnx file (fp32 or int8, ``dfcnn.deploy.export``) and the description in its metadata alone.

    network, tokenizer = load_onnx("deploy/model.onnx")
    recognizer = Recognizer(network, tokenizer)              # or: load_model("deploy/", backend="onnx")
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError, DfcnnError
from ..features import FeatureConfig
from ..model import ModelConfig
from ..text import Tokenizer
from ..versions import require_extra

METADATA_KEY = "dfcnn"  # ONNX metadata_props key of the self-description
METADATA_FORMAT = "dfcnn-graph"  # tells a dfcnn graph's metadata from anything else


class OnnxNetwork:
    """An exported wave -> log-probs graph in onnxruntime (no torch modules): a ``Network``."""

    device = torch.device("cpu")

    def __init__(self, session, feature_config: FeatureConfig, model_config: ModelConfig, min_samples: int = 400):
        self.session = session
        self.feature_config = feature_config
        self.model_config = model_config
        self.min_samples = min_samples  # shorter recordings have no output frame (``export.min_samples``)

    @torch.no_grad()
    def log_probs(self, waves: torch.Tensor, wave_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) 16 kHz waves, (B,) lengths -> (B, T', V) log-probs, (B,) output lengths (CPU tensors).

        The graph takes whole recordings: each row runs alone, trimmed to its length."""
        waves = waves.detach().to("cpu", torch.float32).numpy()
        rows = []
        for row, length in enumerate(wave_lengths.tolist()):
            if length < self.min_samples:  # too short for one output frame (as in torch)
                rows.append(torch.zeros(0, self.model_config.vocab_size))
                continue
            wave = np.ascontiguousarray(waves[row, None, :length])
            rows.append(torch.from_numpy(self.session.run(None, {"waves": wave})[0][0]))
        lengths = torch.tensor([row.shape[0] for row in rows])
        return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True), lengths


def read_metadata(proto) -> dict:
    """The dfcnn description of an ONNX ``ModelProto`` or an ORT session's model metadata."""
    props = (
        proto.custom_metadata_map
        if hasattr(proto, "custom_metadata_map")
        else {p.key: p.value for p in proto.metadata_props}
    )
    try:
        meta = json.loads(props[METADATA_KEY])
        if meta.get("format") != METADATA_FORMAT:
            raise KeyError(METADATA_KEY)
    except (KeyError, json.JSONDecodeError):
        raise DfcnnError("not an ONNX model exported by dfcnn (no dfcnn metadata)") from None
    return meta


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


def load_onnx(source: str | Path | bytes, threads: int | None = None) -> tuple[OnnxNetwork, Tokenizer]:
    """An exported graph (its file, or its bytes) as an ``OnnxNetwork``, with the tokenizer its metadata holds."""
    require_extra("onnxruntime", what="the onnx backend")
    import onnxruntime

    name = "the exported graph" if isinstance(source, bytes) else str(source)
    try:
        session = onnxruntime.InferenceSession(
            source if isinstance(source, bytes) else str(source),
            session_options(threads),
            providers=["CPUExecutionProvider"],
        )
    except Exception as error:  # onnxruntime raises its own types for unreadable or invalid files
        raise CheckpointError(f"{name}: onnxruntime cannot load it ({str(error).splitlines()[0]})") from None
    meta = read_metadata(session.get_modelmeta())
    network = OnnxNetwork(
        session, FeatureConfig(**meta["feature_config"]), ModelConfig(**meta["model_config"]), meta["min_samples"]
    )
    return network, Tokenizer.from_dict(meta["tokenizer"])
