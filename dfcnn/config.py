"""Configs as typed dataclasses, overridden by a short YAML file and ``key=value`` arguments.

    config = load_config(ExperimentConfig, "conf.yaml", ["train.lr=5e-4", "model.channels=[16,32]"])

Defaults live in the dataclasses; a YAML file holds only what differs. Every value is checked
before any work starts: unknown keys, wrong types and out-of-range values (each dataclass's
``__post_init__``) are errors that name the key and where its value came from, the file or the
override.

The YAML is read strictly and within bounds: a key given twice in one mapping is an error (YAML
would silently keep the last), and so is a file over ``MAX_CONFIG_BYTES`` or one whose anchors and
aliases expand to more than ``MAX_CONFIG_NODES`` values (a "billion laughs" file is refused before
it is expanded). Error messages quote at most ``QUOTE_LIMIT`` characters of a bad value.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import ConfigError, quote
from .fileio import read_text

T = TypeVar("T")
_SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")
MAX_CONFIG_BYTES = 1 << 20  # a config holds about a hundred values: a megabyte is no config
MAX_CONFIG_NODES = 10_000  # values (scalars, lists, mappings) after aliases are expanded


class _DuplicateKey(Exception):
    def __init__(self, key, line: int, first: int):
        super().__init__(key)
        self.key, self.line, self.first = key, line, first


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (at any depth)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *base" merges may be overridden: not a duplicate
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in seen:
                    raise _DuplicateKey(key, key_node.start_mark.line + 1, seen[key])
                seen[key] = key_node.start_mark.line + 1
            except TypeError:  # an unhashable key: the constructor itself says so
                continue
        return super().construct_mapping(node, deep)


def _expanded_size(root: yaml.Node, limit: int) -> int | None:
    """Values in the tree under ``root`` with every alias expanded, computed without expanding it;
    None once past ``limit``. Raises ValueError for an alias that contains itself."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # nodes whose children are still being counted
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, counted = stack.pop()
        children = (
            []
            if isinstance(node, yaml.ScalarNode)
            else ([item for pair in node.value for item in pair] if isinstance(node, yaml.MappingNode) else node.value)
        )
        if counted:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[id(node)] > limit:
                return None
        elif id(node) not in sizes:
            if id(node) in open_nodes:
                raise ValueError("an alias that contains itself")
            open_nodes.add(id(node))
            stack.append((node, True))
            stack += [(child, False) for child in children if id(child) not in sizes]
    return sizes[id(root)]


def read_yaml(path: Path) -> Any:
    """The YAML document of ``path``, read strictly and within bounds (see the module docstring)."""
    if path.is_file() and path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {path.stat().st_size:,} bytes is no config file (at most {MAX_CONFIG_BYTES:,})")
    text = read_text(path, "config file", ConfigError)
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, MAX_CONFIG_NODES)
        if size is None:
            raise ConfigError(
                f"{path}: its anchors and aliases expand to more than {MAX_CONFIG_NODES:,} values: "
                "refused (no config is that large; a file built to exhaust memory is)"
            )
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: not valid YAML") from None
    except _DuplicateKey as duplicate:
        raise ConfigError(
            f"{path}:{duplicate.line}: duplicate key {quote(duplicate.key)} (first at line "
            f"{duplicate.first}); YAML would silently keep only the last"
        ) from None
    except (ValueError, RecursionError) as error:
        problem = str(error) if isinstance(error, ValueError) else "nested too deeply"
        raise ConfigError(f"{path}: not a usable config ({problem})") from None
    finally:
        loader.dispose()


def _element_kind(hint) -> type | None:
    """list[int] -> int, list[float] -> float; None for anything else."""
    args = typing.get_args(hint)
    return args[0] if typing.get_origin(hint) is list and args and args[0] in (int, float, str) else None


def _check_value(value: Any, default: Any, hint, where: str) -> Any:
    """Coerce ``value`` to the kind of ``default`` (int -> float allowed) or raise ConfigError."""

    def number(item, kind) -> tuple[bool, Any]:
        if isinstance(item, bool):
            return False, item
        if kind is int:
            return isinstance(item, int), item
        ok = isinstance(item, (int, float))
        return ok, float(item) if ok else item

    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, (int, float)):
        ok, value = number(value, type(default))
        if ok and isinstance(value, float) and math.isnan(value):
            ok = False
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, list):
        ok = isinstance(value, list)
        kind = _element_kind(hint)
        if ok and kind in (int, float):
            checked = [number(item, kind) for item in value]
            ok = all(good for good, _ in checked)
            value = [item for _, item in checked]
        elif ok and kind is str:
            ok = all(isinstance(item, str) for item in value)
        if not ok:
            expected = f"a list of {kind.__name__}" if kind else "a list"
            raise ConfigError(f"{where}: expected {expected}, got {quote(value)}")
    elif default is None:
        ok = True  # optional fields (str | None, int | None): the dataclass checks them
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{where}: expected {type(default).__name__}, got {quote(value)}")
    return value


def _merge(defaults: dict, updates: dict, where: str, nested: set[str], origins: dict, prefix: str = "") -> dict:
    """``defaults`` updated by ``updates``; ``origins`` records which source set each dotted key."""
    merged = dict(defaults)
    for key, value in updates.items():
        if key not in defaults:
            raise ConfigError(f"{where}: unknown key {quote(f'{prefix}{key}')} (known: {', '.join(sorted(defaults))})")
        if key in nested or isinstance(defaults[key], dict):  # a section, at any depth (data.robustness)
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{prefix}{key}' must be a mapping of its fields")
            merged[key] = _merge(merged[key], value, where, set(), origins, f"{prefix}{key}.")
        else:
            merged[key] = value
            origins[f"{prefix}{key}"] = where
    return merged


def build(cls: type[T], values: dict, where: str = "config", origins: dict | None = None, prefix: str = "") -> T:
    """Instantiate dataclass ``cls`` (recursively) from ``values``, checking keys, types and ranges.

    Errors name the dotted key and, from ``origins`` (key -> source), the file or override that set it.
    """
    origins = origins or {}
    hints = typing.get_type_hints(cls)
    defaults = cls()
    kwargs = {}
    for field in dataclasses.fields(cls):
        if field.name not in values:
            continue
        key = f"{prefix}{field.name}"
        source = origins.get(key, where)
        value = values[field.name]
        if dataclasses.is_dataclass(hints[field.name]):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {key!r} must be a mapping")
            unknown = set(value) - {f.name for f in dataclasses.fields(hints[field.name])}
            if unknown:
                known = ", ".join(f.name for f in dataclasses.fields(hints[field.name]))
                first = quote(f"{key}.{sorted(unknown, key=str)[0]}")
                raise ConfigError(f"{source}: unknown key {first} (known: {known})")
            kwargs[field.name] = build(hints[field.name], value, where, origins, f"{key}.")
        else:
            default = getattr(defaults, field.name)
            kwargs[field.name] = _check_value(value, default, hints[field.name], f"{source}: {key}")
    try:
        return cls(**kwargs)
    except ConfigError as error:
        if error.field is None:
            raise
        key = f"{prefix}{error.field}"
        raise ConfigError(f"{origins.get(key, where)}: {prefix}{error}", field=key) from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=5e-4"`` -> (["train", "lr"], 0.0005); the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {quote(text)}: expected key=value, e.g. train.lr=5e-4")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and _SCIENTIFIC.match(value.strip()):
        value = float(value)  # YAML 1.1 reads "5e-4" as a string
    return key.strip().split("."), value


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] = (), start: T | None = None) -> T:
    """Defaults of ``cls`` (or the values of ``start``: a config built elsewhere, such as the one
    ``dfcnn finetune`` takes from a checkpoint), updated by the YAML file at ``path``, then by
    ``key=value`` overrides."""
    values = dataclasses.asdict(cls() if start is None else start)
    nested = {f.name for f in dataclasses.fields(cls) if dataclasses.is_dataclass(typing.get_type_hints(cls)[f.name])}
    origins: dict[str, str] = {}
    if path is not None:
        path = Path(path)
        loaded = read_yaml(path) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        _fix_numbers(loaded)
        values = _merge(values, loaded, str(path), nested, origins)
    for text in overrides:
        keys, value = parse_override(text)
        update: Any = value
        for key in reversed(keys[1:]):
            update = {key: update}
        values = _merge(values, {keys[0]: update}, f"override {quote(text, 80)}", nested, origins)
    return build(cls, values, str(path) if path is not None else "defaults", origins)


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
