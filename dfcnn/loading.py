"""The front door: a model's name or path -> a ready ``Recognizer``, its network in PyTorch or ONNX
Runtime and its decoder as asked (the one it ships by default).

    from dfcnn import load_model
    recognizer = load_model("exp/")                          # exp/best.pt, with exp/decoder.json if shipped
    recognizer = load_model("exp/epoch-9.pt", decoder=None)  # the network's own (greedy) output
    recognizer = load_model("exp/", decoder=DecoderConfig(lexicon="lm/lexicon.txt", lm="lm/lm.bin"))
    recognizer = load_model("deploy/", backend="onnx")       # deploy/model.onnx (dfcnn export)
    recognizer = load_model("exp/", backend="onnx")          # the checkpoint, exported in memory
    recognizer = load_model("english")                       # a shipped model (dfcnn models), by name
    recognizer = load_model("english", decoder=decoder_config(words="names.txt"))  # its decoder, your words added

A model ships its decoder as ``decoder.json`` beside the checkpoint or graph (``dfcnn tune --ship``
writes it: the lexicon, LM, LM weight and word score tuned on dev, paths relative to the file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .checkpoint import load_checkpoint, restore_modules
from .decode import SHIPPED, DecoderConfig, Shipped, build_decoder, resolve_decoder
from .device import resolve_device
from .errors import CheckpointError, DfcnnError
from .inference import Recognizer, TorchNetwork
from .options import BACKENDS, TranscribeConfig
from .shipped import find_shipped, is_model_name
from .text import Tokenizer

CHECKPOINT_IN_FOLDER = "best.pt"  # the checkpoint ``load_model("exp/")`` loads


@dataclass(frozen=True)
class ModelFiles:
    """Where a model is: its network, and the folder its shipped decoder is looked for in."""

    network: Path  # a checkpoint (.pt) or an exported ONNX graph (.onnx)
    kind: str  # "checkpoint" or "onnx"

    @property
    def folder(self) -> Path:
        return self.network.parent


def find_model(model: str | Path, backend: str = "torch") -> ModelFiles:
    """A model's name or path -> its files: the one place a model argument is resolved.

    A checkpoint, or a folder holding best.pt; with ``backend="onnx"`` also an exported .onnx file or
    a folder holding model.onnx (preferred there to best.pt); or, where no such file or folder exists,
    the name of a shipped model (``dfcnn.shipped``), its files checked against their sums.
    """
    path = Path(model)
    if not path.exists() and is_model_name(str(model)):
        shipped = find_shipped(str(model))  # ShippedModelError naming the name, or a damaged file
        return ModelFiles(shipped.folder / CHECKPOINT_IN_FOLDER, "checkpoint")
    if backend == "onnx":
        from .deploy.export import FP32_FILE  # what dfcnn export writes

        if path.is_dir() and (path / FP32_FILE).is_file():
            return ModelFiles(path / FP32_FILE, "onnx")
        if path.suffix == ".onnx":
            if not path.is_file():
                raise CheckpointError(f"{path}: no such ONNX model")
            return ModelFiles(path, "onnx")
    if path.is_dir():
        checkpoint = path / CHECKPOINT_IN_FOLDER
        if not checkpoint.is_file():
            raise CheckpointError(f"{path}: a model folder needs {CHECKPOINT_IN_FOLDER} in it")
        return ModelFiles(checkpoint, "checkpoint")
    return ModelFiles(path, "checkpoint")


def torch_network(checkpoint: str | Path, device: str = "auto") -> tuple[TorchNetwork, Tokenizer]:
    """A checkpoint's model and feature extractor in eval mode on ``device``, and its tokenizer."""
    model, features, tokenizer = restore_modules(load_checkpoint(checkpoint))
    target = resolve_device(device)
    return TorchNetwork(model.to(target).eval(), features.to(target).eval()), tokenizer


def onnx_network(files: ModelFiles, threads: int | None = None):
    """An exported graph in onnxruntime, or a checkpoint exported to one in memory; and its tokenizer."""
    from .deploy.runtime import load_onnx

    if files.kind == "onnx":
        return load_onnx(files.network, threads)
    from .deploy.export import onnx_bytes
    from .versions import require_extra

    require_extra("onnx", "onnxruntime", what="the onnx backend")
    network, tokenizer = torch_network(files.network, "cpu")
    return load_onnx(onnx_bytes(Recognizer(network, tokenizer)), threads)


def load_model(
    path: str | Path,
    device: str = "auto",
    decoder: DecoderConfig | Shipped | None | str = SHIPPED,
    config: TranscribeConfig | None = None,
    backend: str = "torch",
) -> Recognizer:
    """Load a model written by ``dfcnn train`` (a .pt file, or a folder with best.pt) or ``dfcnn export``,
    or a shipped model by name ("english"), into a ready ``Recognizer`` in eval mode.

    Args:
        decoder: "shipped" (the default): the decoder.json beside the model, or greedy without one;
            None: greedy, the network's own output; a ``DecoderConfig`` (``decode.decoder_config``
            builds one from options); or a ``Shipped``: the shipped decoder with your words or grammar
            (``decoder_config(words=...)``, ``decoder_config(grammar=...)``).
        backend: "torch", or "onnx": the network in onnxruntime on the CPU; ``path`` may then also be an
            exported .onnx file or a folder holding model.onnx (``dfcnn export``).
    """
    if backend not in BACKENDS:
        raise DfcnnError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "onnx" and device not in ("auto", "cpu"):
        raise DfcnnError(f"the onnx backend runs on the CPU; device {device!r} was asked for")
    files = find_model(path, backend)
    decoder = resolve_decoder(decoder, files.folder)
    network, tokenizer = onnx_network(files) if backend == "onnx" else torch_network(files.network, device)
    return Recognizer(network, tokenizer, build_decoder(tokenizer, decoder), config)
