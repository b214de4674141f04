"""Self-describing checkpoints, written atomically and read with ``torch.load(weights_only=True)``.

A checkpoint is a dict of plain types and tensors:

    format          "dfcnn-checkpoint", version 1
    model_config    ModelConfig as a dict: the model is rebuilt from it
    feature_config  FeatureConfig as a dict
    feature_stats   {"mean": (F,), "std": (F,)} global normalisation
    tokenizer       {"tokens": [...], "normalizer": "english", "unit": "char"}
    model           DFCNN state dict
    config          the whole experiment config (for reference and --resume)
    training        optimizer, scaler, step, epoch, sampler position, RNG states, best score (training
                    checkpoints only)
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import warnings
from pathlib import Path

import torch

from .config import build
from .errors import CheckpointError, ConfigError, DfcnnError
from .features import FeatureConfig, FeatureExtractor
from .fileio import atomic_write
from .model import DFCNN, ModelConfig
from .text import Tokenizer

FORMAT = "dfcnn-checkpoint"
VERSION = 1


def build_payload(
    model: DFCNN,
    features: FeatureExtractor,
    tokenizer: Tokenizer,
    config: dict | None = None,
    training: dict | None = None,
) -> dict:
    """Everything needed to rebuild and run the model, plus optional training state."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": dataclasses.asdict(model.config),
        "feature_config": dataclasses.asdict(features.config),
        "feature_stats": {"mean": features.mean.detach().cpu().clone(), "std": features.std.detach().cpu().clone()},
        "tokenizer": tokenizer.to_dict(),
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "config": config or {},
    }
    if training is not None:
        payload["training"] = training
    return payload


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """Serialise ``payload`` atomically: a crash never leaves half a file."""
    atomic_write(path, lambda file: torch.save(payload, file))


def copy_checkpoint(source: str | Path, target: str | Path) -> None:
    """Copy a saved checkpoint atomically (no second serialisation of the same state)."""
    with open(source, "rb") as original:
        atomic_write(target, lambda file: shutil.copyfileobj(original, file))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint safely (``weights_only=True``) and check it (``check_payload``).

    Raises:
        CheckpointError naming the file and what is wrong, on one line.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: checkpoint not found"
            if not path.exists()
            else f"{path}: a folder, not a checkpoint file"
            if path.is_dir()
            else f"{path}: not a file"
        )
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of files it then refuses
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # truncated zip, pickle of arbitrary objects, not a torch file, ...
        raise CheckpointError(f"{path}: {_what_it_is(path) or _load_failure(error)}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a dfcnn checkpoint")
    version = payload.get("version", 0)
    if not isinstance(version, int):
        raise CheckpointError(f"{path}: checkpoint version {version!r} is not a number")
    if version > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {version} is newer than this dfcnn ({VERSION})")
    check_payload(payload, path)
    return payload


def _what_it_is(path: Path) -> str | None:
    """ "a WAV audio file, not a dfcnn checkpoint": what a file torch cannot load is, from its first
    bytes, when it is something well known (audio given as --model, an exported graph, a config)."""
    kind = _known_kind(path)
    if kind == "onnx":
        return "an ONNX model (dfcnn export), not a dfcnn checkpoint: run it with --backend onnx"
    return f"{kind}, not a dfcnn checkpoint" if kind else None


def _known_kind(path: Path) -> str | None:
    try:
        with open(path, "rb") as file:
            head = file.read(4096)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "a WAV audio file"
    audio = {b"fLaC": "a FLAC audio file", b"OggS": "an Ogg audio file (Vorbis or Opus)", b"ID3": "an MP3 audio file"}
    for magic, kind in audio.items():
        if head.startswith(magic):
            return kind
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame's sync word
        return "an MP3 audio file"
    if path.suffix.lower() == ".onnx":
        return "onnx"
    if head.startswith(b"PK\x03\x04"):
        import zipfile

        try:
            names = zipfile.ZipFile(path).namelist()
        except (zipfile.BadZipFile, OSError):
            return None  # a torch file cut short: torch's own reason says more
        if any(name.endswith("/constants.pkl") or "/code/" in name for name in names):
            return "a TorchScript module (torch.jit.save)"
        return None if any(name.endswith("/data.pkl") for name in names) else "a zip archive"
    if head and b"\0" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "a text file"
    return None


def _load_failure(error: Exception) -> str:
    """Why ``torch.load`` failed, in a line that never passes on torch's advice to load with
    ``weights_only=False`` (which would run whatever code the file holds)."""
    text = str(error).strip()
    found = re.search(r"GLOBAL ([\w.]+)", text)
    if found:
        return (
            f"refused: it holds Python objects ({found.group(1)}) that no checkpoint has, and loading them "
            "could run code; it is not a dfcnn checkpoint, or it has been tampered with"
        )
    if "Weights only load failed" in text or isinstance(error, (KeyError, EOFError, UnicodeDecodeError)):
        return "not a readable checkpoint (not a file torch.save wrote, or one cut short)"
    first = text.splitlines()[0] if text else type(error).__name__
    if "weights_only" in first or "invalid load key" in first:
        first = "not a file torch.save wrote"
    return f"not a readable checkpoint ({first[:200]})"


PARTS = {"model_config": dict, "feature_config": dict, "feature_stats": dict, "tokenizer": dict, "model": dict}


def _config(cls: type, payload: dict, key: str, path: Path):
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(payload[key]) - known)
    if unknown:
        raise CheckpointError(f"{path}: {key} has an unknown field {unknown[0]!r} (written by another dfcnn?)")
    try:
        return build(cls, payload[key], str(path), prefix=f"{key}.")
    except ConfigError as error:
        raise CheckpointError(str(error)) from None


def _tokenizer(state: dict, path: Path) -> Tokenizer:
    tokens = state.get("tokens")
    if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
        raise CheckpointError(f"{path}: the tokenizer's tokens are not a list of strings")
    try:
        return Tokenizer.from_dict(state)
    except (DfcnnError, KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: bad tokenizer ({error})") from None


def _check_tensor(tensor, name: str, shape: tuple, path: Path) -> None:
    if not isinstance(tensor, torch.Tensor):
        raise CheckpointError(f"{path}: {name} is a {type(tensor).__name__}, not a tensor")
    if tuple(tensor.shape) != tuple(shape):
        raise CheckpointError(
            f"{path}: {name} has shape {tuple(tensor.shape)}, but {tuple(shape)} in the model its configs describe"
        )
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        raise CheckpointError(
            f"{path}: {name} holds NaN or infinite values (a diverged training?); use an earlier checkpoint"
        )


def check_payload(payload: dict, path: str | Path) -> None:
    """A checkpoint rebuilds a model that can run: every part present, the configs valid, the
    tokenizer sound and as wide as the output layer, every weight of the shape the configs give and
    finite, the normalisation statistics finite with a positive std. ``CheckpointError`` otherwise."""
    path = Path(path)
    for key, kind in PARTS.items():
        if key not in payload:
            raise CheckpointError(f"{path}: the checkpoint has no {key}")
        if not isinstance(payload[key], kind):
            raise CheckpointError(f"{path}: {key} is a {type(payload[key]).__name__}, not a {kind.__name__}")
    model_config = _config(ModelConfig, payload, "model_config", path)
    feature_config = _config(FeatureConfig, payload, "feature_config", path)
    tokenizer = _tokenizer(payload["tokenizer"], path)
    if model_config.vocab_size != len(tokenizer):
        raise CheckpointError(
            f"{path}: the tokenizer has {len(tokenizer)} tokens but the model outputs {model_config.vocab_size}"
        )
    if model_config.input_bins != feature_config.num_bins:
        raise CheckpointError(
            f"{path}: the features have {feature_config.num_bins} bins but the model reads {model_config.input_bins}"
        )
    try:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            expected = DFCNN(model_config).state_dict()
    except ConfigError as error:
        raise CheckpointError(f"{path}: {error}") from None
    weights = payload["model"]
    missing = [name for name in expected if name not in weights]
    if missing:
        raise CheckpointError(
            f"{path}: the model lacks {missing[0]}"
            + (f" and {len(missing) - 1} more weights" if len(missing) > 1 else "")
        )
    extra = [name for name in weights if name not in expected]
    if extra:
        raise CheckpointError(f"{path}: the model has a weight {extra[0]!r} that its model_config does not describe")
    for name, tensor in weights.items():
        _check_tensor(tensor, f"model weight {name}", expected[name].shape, path)
    for key in ("mean", "std"):
        _check_tensor(payload["feature_stats"].get(key), f"feature_stats {key}", (feature_config.num_bins,), path)
    if not bool((payload["feature_stats"]["std"] > 0).all()):
        raise CheckpointError(f"{path}: feature_stats std has zero or negative values: features cannot be normalised")


def restore_modules(payload: dict) -> tuple[DFCNN, FeatureExtractor, Tokenizer]:
    """Rebuild the model, the feature extractor (with its statistics) and the tokenizer."""
    model = DFCNN(ModelConfig(**payload["model_config"]))
    model.load_state_dict(payload["model"])
    features = FeatureExtractor(FeatureConfig(**payload["feature_config"]))
    features.set_stats(payload["feature_stats"]["mean"], payload["feature_stats"]["std"])
    tokenizer = Tokenizer.from_dict(payload["tokenizer"])
    return model, features, tokenizer


def transfer_weights(payload: dict, model: DFCNN, tokenizer: Tokenizer) -> str:
    """Start ``model`` from a checkpoint's weights (pre-training -> fine-tuning).

    Every tensor must have the same shape, except the output layer's rows, which are matched by
    token: rows of tokens both vocabularies hold are copied, the rest keep their fresh init.
    Returns a one-line summary; raises ``CheckpointError`` naming the first mismatch.
    """
    source, target = payload["model"], model.state_dict()
    output_layer = f"head.{len(model.head) - 1}."
    old_rows = {token: row for row, token in enumerate(payload["tokenizer"]["tokens"])}
    shared = [(row, old_rows[token]) for row, token in enumerate(tokenizer.tokens) if token in old_rows]
    for name, tensor in target.items():
        if name not in source:
            raise CheckpointError(f"init_from: the checkpoint has no {name} (another model config?)")
        if name.startswith(output_layer):
            if shared:
                new_rows = torch.tensor([new for new, _ in shared], dtype=torch.long)
                old_rows_of = torch.tensor([old for _, old in shared], dtype=torch.long)
                tensor[new_rows] = source[name][old_rows_of].to(tensor.dtype)
        elif source[name].shape != tensor.shape:
            raise CheckpointError(
                f"init_from: {name} is {tuple(source[name].shape)} in the checkpoint but {tuple(tensor.shape)} "
                "in this model (model and feature configs must match)"
            )
        else:
            tensor.copy_(source[name])
    model.load_state_dict(target)
    return f"{len(shared)} of {len(tokenizer.tokens)} output tokens carried over"


def average_checkpoints(paths: list[str | Path]) -> dict:
    """The element-wise mean of the models of several checkpoints of one run (Vaswani et al.'s averaging).

    Float tensors (weights and BatchNorm statistics) are averaged; integer ones (BatchNorm's batch
    counter) come from the last checkpoint, as do the configs and the feature statistics. Training
    state is dropped: the result is for inference or evaluation, not for --resume.
    """
    if not paths:
        raise CheckpointError("no checkpoints to average")
    payloads = [load_checkpoint(path) for path in paths]
    last = payloads[-1]
    for path, payload in zip(paths, payloads):
        if payload["model_config"] != last["model_config"] or payload["tokenizer"] != last["tokenizer"]:
            raise CheckpointError(
                f"{path}: another model or vocabulary than {paths[-1]}; only one run's checkpoints average"
            )
    averaged = {}
    for name, tensor in last["model"].items():
        if tensor.is_floating_point():
            averaged[name] = (
                sum(payload["model"][name].double() for payload in payloads).div(len(payloads)).to(tensor.dtype)
            )
        else:
            averaged[name] = tensor.clone()
    result = {key: value for key, value in last.items() if key != "training"}
    result["model"] = averaged
    result["averaged_from"] = [str(path) for path in paths]
    return result
