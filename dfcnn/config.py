"""Configs as typed dataclasses, overridden by a short YAML file and ``key=value`` arguments.

    config = load_config(ExperimentConfig, "conf.yaml", ["train.lr=5e-4", "model.channels=[16,32]"])

Defaults live in the dataclasses; a YAML file holds only what differs. Unknown keys and values of
the wrong type are errors that name the key and the file.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import ConfigError

T = TypeVar("T")
_SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def _check_value(value: Any, default: Any, where: str) -> Any:
    """Coerce ``value`` to the kind of ``default`` (int -> float allowed) or raise ConfigError."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, list):
        ok = isinstance(value, list)
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{where}: expected {type(default).__name__}, got {value!r}")
    return value


def _merge(defaults: dict, updates: dict, where: str, nested: set[str]) -> dict:
    merged = dict(defaults)
    for key, value in updates.items():
        if key not in defaults:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(defaults))})")
        if key in nested:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {key!r} must be a mapping of its fields")
            merged[key] = _merge(merged[key], value, f"{where}: {key}", set())
        else:
            merged[key] = value
    return merged


def build(cls: type[T], values: dict, where: str) -> T:
    """Instantiate dataclass ``cls`` (recursively) from ``values``, checking keys and types."""
    hints = typing.get_type_hints(cls)
    defaults = cls()
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in values:
            continue
        value = values[field.name]
        default = getattr(defaults, field.name)
        if dataclasses.is_dataclass(hints[field.name]):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {field.name!r} must be a mapping")
            unknown = set(value) - {f.name for f in dataclasses.fields(hints[field.name])}
            if unknown:
                known = ", ".join(f.name for f in dataclasses.fields(hints[field.name]))
                raise ConfigError(f"{where}: unknown key {field.name}.{sorted(unknown)[0]} (known: {known})")
            kwargs[field.name] = build(hints[field.name], value, f"{where}: {field.name}")
        else:
            kwargs[field.name] = _check_value(value, default, f"{where}: {field.name}")
    return cls(**kwargs)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=5e-4"`` -> (["train", "lr"], 0.0005); the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key=value, e.g. train.lr=5e-4")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and _SCIENTIFIC.match(value.strip()):
        value = float(value)  # YAML 1.1 reads "5e-4" as a string
    return key.strip().split("."), value


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] = ()) -> T:
    """Defaults of ``cls``, updated by the YAML file at ``path``, then by ``key=value`` overrides."""
    values = dataclasses.asdict(cls())
    nested = {f.name for f in dataclasses.fields(cls) if dataclasses.is_dataclass(typing.get_type_hints(cls)[f.name])}
    source = "defaults"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise ConfigError(f"{path}{line}: not valid YAML") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        _fix_numbers(loaded)
        values = _merge(values, loaded, str(path), nested)
        source = str(path)
    for text in overrides:
        keys, value = parse_override(text)
        update: Any = value
        for key in reversed(keys[1:]):
            update = {key: update}
        values = _merge(values, {keys[0]: update}, f"override {text!r}", nested)
    return build(cls, values, source)


def _fix_numbers(tree: dict) -> None:
    """YAML 1.1 reads ``1e-3`` (no dot) as a string: turn such strings into floats in place."""
    for key, value in tree.items():
        if isinstance(value, dict):
            _fix_numbers(value)
        elif isinstance(value, str) and _SCIENTIFIC.match(value.strip()):
            tree[key] = float(value)


def to_dict(config: Any) -> dict:
    """A config dataclass as plain types (for checkpoints and YAML dumps)."""
    return dataclasses.asdict(config)
