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
import shutil
from pathlib import Path

import torch

from .errors import CheckpointError
from .features import FeatureConfig, FeatureExtractor
from .fileio import atomic_write
from .model import DFCNN, ModelConfig
from .text import Tokenizer

FORMAT = "dfcnn-checkpoint"
VERSION = 1


def build_payload(
    model: DFCNN, features: FeatureExtractor, tokenizer: Tokenizer, config: dict | None = None,
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
    """Read a checkpoint safely (``weights_only=True``); ``CheckpointError`` naming the file on failure."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # truncated zip, pickle of arbitrary objects, not a torch file, ...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason[:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a dfcnn checkpoint")
    if payload.get("version", 0) > VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload['version']} is newer than this dfcnn ({VERSION})")
    return payload


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
