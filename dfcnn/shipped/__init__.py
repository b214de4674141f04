"""The models that come with dfcnn: found by name, checked against their sums when they load.

    dfcnn transcribe speech.flac                 # the shipped model "english" (said on stderr)
    load_model("mandarin")                       # any shipped name works where a model path does
    dfcnn models [NAME]                          # what is shipped; one model's card
    dfcnn ship exp/ --name english --card-info recipes/speechocean762/card.yaml --test test=data/test.jsonl

A shipped model is a folder ``<root>/<name>/`` holding:

    best.pt        the network (a checkpoint without its training state)
    decoder.json   the decoder it ships (dfcnn tune --ship), with the lexicon and LM it names beside it
    card.json      its model card, machine-readable (``dfcnn.shipped.card``); card.md, the same for people
    SHA256SUMS     the sha256 of every other file, checked once per process before it loads

The root is this package's folder (so a wheel carries its models), or ``$DFCNN_SHIPPED_DIR`` when set
(tests, or models kept outside the installation). ``dfcnn ship`` (``dfcnn.shipped.make``) is the one way
to make or replace one. This module reads only files: no torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DfcnnError
from ..fileio import read_text

ROOT_ENV = "DFCNN_SHIPPED_DIR"  # another folder of shipped models than the package's own
DEFAULT_MODEL = "english"  # what dfcnn transcribe uses without --model
CARD_FILE = "card.json"  # the machine-readable card: its presence makes a folder a shipped model
CARD_TEXT_FILE = "card.md"  # the card for people, rendered from card.json
SUMS_FILE = "SHA256SUMS"  # "<sha256>  <file>" per line (sha256sum's format), every file but itself
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,39}")  # a shipped model's name: a folder, an API model id
WHERE_MODELS_COME_FROM = (
    "a model is a `dfcnn train` folder (with best.pt), a .pt checkpoint, a `dfcnn export` folder "
    "(--backend onnx), or the name of a shipped model"
)


class ShippedModelError(DfcnnError):
    """A shipped model is missing, unknown, or one of its files is damaged. The message names it."""


@dataclass(frozen=True)
class ShippedModel:
    """A shipped model's folder and what its card says (``card.json``, as ``dfcnn ship`` wrote it)."""

    name: str  # the folder's name: what --model, load_model and the API's model field take
    folder: Path  # <root>/<name>
    card: dict  # card.json

    @property
    def language(self) -> str | None:
        return self.card.get("language")

    @property
    def size_bytes(self) -> int:
        """Bytes of every file in the folder (what it adds to an installation)."""
        return sum(path.stat().st_size for path in self.folder.iterdir() if path.is_file())


def shipped_root() -> Path:
    """The folder the shipped models are in: ``$DFCNN_SHIPPED_DIR``, else this package's folder."""
    given = os.environ.get(ROOT_ENV, "").strip()
    return Path(given) if given else Path(__file__).resolve().parent


def is_model_name(text: str) -> bool:
    """Whether a --model value is spelt like a shipped model's name (no folder, no suffix)."""
    return NAME_PATTERN.fullmatch(text) is not None


def installed(root: Path | None = None) -> list[ShippedModel]:
    """The shipped models in ``root`` (default ``shipped_root()``), by name; folders without a card
    are not models (this package's own __pycache__)."""
    root = shipped_root() if root is None else Path(root)
    if not root.is_dir():
        return []
    models = []
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and is_model_name(folder.name) and (folder / CARD_FILE).is_file():
            models.append(ShippedModel(folder.name, folder, read_card(folder / CARD_FILE)))
    return models


def read_card(path: Path) -> dict:
    try:
        card = json.loads(read_text(path, "model card", ShippedModelError))
    except json.JSONDecodeError as error:
        raise ShippedModelError(f"{path}: not a JSON model card ({error.msg} at line {error.lineno})") from None
    if not isinstance(card, dict):
        raise ShippedModelError(f"{path}: not a JSON model card (expected an object)")
    return card


def names_line(root: Path | None = None) -> str:
    """ "english, mandarin" or "none is installed": the shipped names, for messages."""
    names = [model.name for model in installed(root)]
    return ", ".join(names) if names else f"none is installed in {shipped_root() if root is None else root}"


def unknown_model(model: str) -> ShippedModelError:
    """The one-line error for a --model value that is neither a path nor a shipped model."""
    return ShippedModelError(
        f"{model}: no such model: not a file or folder, nor a shipped model (shipped: {names_line()}); "
        f"{WHERE_MODELS_COME_FROM} (dfcnn models lists them)"
    )


def find_shipped(name: str) -> ShippedModel:
    """The shipped model ``name``, its files checked (``verify``); ``ShippedModelError`` when unknown."""
    folder = shipped_root() / name
    if not is_model_name(name) or not (folder / CARD_FILE).is_file():
        raise unknown_model(name)
    verify(folder)
    return ShippedModel(name, folder, read_card(folder / CARD_FILE))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_sums(folder: Path) -> dict[str, str]:
    """{file name: sha256} of a shipped model's SHA256SUMS."""
    path = folder / SUMS_FILE
    if not path.is_file():
        raise ShippedModelError(f"{path}: missing: the shipped model cannot be checked (remake it with dfcnn ship)")
    sums = {}
    for number, line in enumerate(read_text(path, "checksum file", ShippedModelError).splitlines(), 1):
        digest, _, name = line.partition("  ")
        if not re.fullmatch(r"[0-9a-f]{64}", digest) or not name or "/" in name or name in ("..", "."):
            raise ShippedModelError(f"{path}:{number}: not a line of sha256sum's format (HASH  FILE)")
        sums[name] = digest
    return sums


_VERIFIED: dict[Path, tuple] = {}  # folder -> the (name, size, mtime) of its files when they last checked out


def _signature(folder: Path) -> tuple:
    return tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file()))


def verify(folder: Path) -> None:
    """Check every file of a shipped model against SHA256SUMS: ``ShippedModelError`` naming the first
    file that is missing, damaged or not listed. A folder whose files have not changed (names, sizes,
    times) since it last checked out in this process is not hashed again."""
    folder = Path(folder).resolve()
    signature = _signature(folder)
    if _VERIFIED.get(folder) == signature:
        return
    sums = read_sums(folder)
    for name, digest in sums.items():
        path = folder / name
        if not path.is_file():
            raise ShippedModelError(f"{path}: missing from the shipped model {folder.name} (reinstall dfcnn)")
        if sha256(path) != digest:
            raise ShippedModelError(
                f"{path}: damaged: its sha256 differs from {SUMS_FILE}'s (reinstall dfcnn or remake it: dfcnn ship)"
            )
    unlisted = sorted(name for name, *_ in signature if name not in sums and name != SUMS_FILE)
    if unlisted:
        raise ShippedModelError(
            f"{folder / unlisted[0]}: not listed in {SUMS_FILE}: the shipped model was changed "
            "by hand (remake it with dfcnn ship)"
        )
    _VERIFIED[folder] = signature
