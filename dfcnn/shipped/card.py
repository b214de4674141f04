"""A shipped model's card: what people write by hand (``CardInfo``, a YAML file beside the recipe) and
what ``dfcnn ship`` measures, merged into card.json and rendered as card.md.

    info = CardInfo.from_file("recipes/speechocean762/card.yaml")   # checked before any work
    card_markdown(card)                                              # card.json -> card.md
    results_table(card)                                              # its test table, also for RESULTS.md

The hand-written YAML (every key but ``description`` and ``compute_note`` required):

    summary: English speech to words: a phone model with its lexicon and word LM   # one line
    language: en                                     # ISO 639-1 code of the speech it hears
    licence: CC-BY-SA-4.0                            # of the weights, and why (what the data's licences imply)
    description: ...                                 # optional: a paragraph
    training_data:                                   # every corpus the weights saw
      - {name: speechocean762, hours: 2.67, licence: CC-BY-4.0, url: https://www.openslr.org/101/}
      - {name: FSDD, hours: 0.29, licence: CC-BY-SA-4.0, note: share-alike: the weights are shared alike}
    compute_note: 2 CPU cores, one thread each        # optional: where it trained (the figures are measured)
    rebuild: cd recipes/speechocean762 && ./run.sh    # the command that rebuilds it
    limits:                                          # what it does badly
      - read speech of Mandarin L1 speakers, half children: other accents and spontaneous speech fare worse
"""

from __future__ import annotations

import math
import re
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

from ..config import read_yaml
from ..errors import ConfigError

FORMAT = "dfcnn-model-card"  # card.json's "format"
VERSION = 1  # card.json's "version"
LANGUAGE_PATTERN = re.compile(r"[a-z]{2}")  # ISO 639-1


@dataclass(frozen=True)
class TrainingData:
    """One corpus the weights were trained on."""

    name: str  # the corpus, as people know it ("speechocean762", "AISHELL-1")
    licence: str  # its licence (an SPDX id where there is one)
    hours: float | None = None  # hours of its audio used (None: not stated)
    url: str = ""  # where it is published
    note: str = ""  # what its licence or content means for the model


@dataclass(frozen=True)
class CardInfo:
    """The hand-written part of a model card (``dfcnn ship --card-info``); the numbers are measured."""

    summary: str  # one line: what it hears and writes
    language: str  # ISO 639-1 code of the speech it hears ("en", "zh")
    licence: str  # licence of the weights, given the training data's
    training_data: list[TrainingData]  # every corpus the weights saw
    rebuild: str  # the command that rebuilds the model from its data
    limits: list[str]  # known weaknesses: accents, vocabulary, noise, domain
    description: str = ""  # a paragraph, optional
    compute_note: str = ""  # where it trained (machine, threads), optional: the figures themselves are measured

    @classmethod
    def from_file(cls, path: str | Path) -> CardInfo:
        """Read and check a card-info YAML file: ``ConfigError`` naming the file and the key."""
        path = Path(path)
        values = read_yaml(path)
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a mapping of card fields (summary, language, ...)")
        checked = _checked(cls, values, str(path), "")
        data = values["training_data"]
        if not isinstance(data, list) or not data:
            raise ConfigError(f"{path}: training_data: expected a list of corpora (name, licence, hours, url, note)")
        corpora = []
        for index, corpus in enumerate(data):
            if not isinstance(corpus, dict):
                raise ConfigError(f"{path}: training_data[{index}]: expected a mapping (name, licence, ...)")
            corpora.append(TrainingData(**_checked(TrainingData, corpus, str(path), f"training_data[{index}].")))
        checked["training_data"] = corpora
        if not LANGUAGE_PATTERN.fullmatch(checked["language"]):
            raise ConfigError(f"{path}: language: expected an ISO 639-1 code (en, zh), got {values['language']!r}")
        for key in ("summary", "licence", "rebuild"):
            if not checked[key].strip():
                raise ConfigError(f"{path}: {key}: must not be empty")
        if "\n" in checked["summary"].strip():
            raise ConfigError(f"{path}: summary: must be one line (the description takes a paragraph)")
        return cls(**checked)


def _checked(cls: type, values: dict, where: str, prefix: str) -> dict:
    """``values`` for dataclass ``cls``: unknown and missing keys and wrong types named (``prefix`` + key)."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known), key=str)
    if unknown:
        raise ConfigError(f"{where}: unknown key {prefix}{unknown[0]} (known: {', '.join(known)})")
    checked = {}
    for name, spec in known.items():
        if name not in values:
            if spec.default is MISSING:
                raise ConfigError(f"{where}: missing key {prefix}{name}")
            continue
        value, kind = values[name], spec.type
        if name == "training_data":
            checked[name] = value  # checked corpus by corpus by the caller
        elif kind == "float | None" and (value is None or _is_number(value)):
            checked[name] = None if value is None else float(value)
        elif kind == "str" and isinstance(value, str):
            checked[name] = value
        elif kind == "list[str]" and isinstance(value, list) and all(isinstance(item, str) for item in value):
            checked[name] = value
        else:
            expected = {"str": "text", "float | None": "a number of hours", "list[str]": "a list of lines"}[kind]
            raise ConfigError(f"{where}: {prefix}{name}: expected {expected}, got {value!r}")
    return checked


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def results_table(card: dict) -> str:
    """The card's test results as a markdown table: each test set greedy and as shipped."""
    lines = ["|test set|utterances|audio (h)|decoding|error rate|WER %|CER %|", "|---|---:|---:|---|---|---:|---:|"]
    for test in card["tests"]:
        for label in ("greedy", "shipped"):
            row = test[label]
            decoding = "greedy" if label == "greedy" else f"as shipped: {row['decoder']}"
            wer = None if row["metric"] in ("PER", "CER") else row["wer"]
            cer = None if row["metric"] == "PER" else row["cer"]
            lines.append(
                f"|{test['name']}|{test['utterances']}|{test['hours']:.2f}|{decoding}|"
                f"{row['metric']} {row['error_rate']:.1f}%|{_percent(wer)}|{_percent(cer)}|"
            )
    return "\n".join(lines) + "\n"


def _hours(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value * 60:.0f} min" if value < 1 else f"{value:.2f} h"


def compute_lines(card: dict) -> list[str]:
    lines = []
    for stage in card["compute"]["stages"]:
        lines.append(
            f"- `{stage['folder']}`: {stage['epochs']} epochs, {stage['steps']} steps, "
            f"{_hours(stage['audio_hours_seen'])} of audio seen (training set {_hours(stage['train_hours'])} "
            f"x epochs), wall time {_hours(stage['wall_hours'])} (first to last line of its metrics.jsonl)"
        )
    total = card["compute"]["total"]
    lines.append(
        f"- in all: {_hours(total['audio_hours_seen'])} of audio seen, {_hours(total['wall_hours'])} of training"
    )
    if card.get("compute_note"):
        lines.append(f"- {card['compute_note']}")
    return lines


def card_markdown(card: dict) -> str:
    """card.md: the card for people, from card.json (``dfcnn models NAME`` prints it)."""
    sizes = card["sizes"]
    corpora = "\n".join(
        f"|{c['name']}|{_hours(c.get('hours'))}|{c['licence']}|{c.get('url') or '-'}|{c.get('note') or '-'}|"
        for c in card["training_data"]
    )
    files = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in sizes["files"].items())
    parts = [
        f"# {card['name']}: {card['summary']}\n",
        *([card["description"].strip() + "\n"] if card.get("description") else []),
        f"- language: {card['language']}; the network's unit: {card['unit']}; it writes {card['writes']}",
        f"- decoder as shipped: {card['decoder']}",
        f"- size: {sizes['parameters']:,} parameters; {sizes['total_bytes'] / 1e6:.2f} MB on disk ({files})",
        f"- licence of the weights: {card['licence']}",
        f"- shipped by dfcnn {card['dfcnn_version']} on {card['shipped_on']} from `{card['source']}`\n",
        "## Test results\n",
        "Measured by `dfcnn ship` on the shipped files (the same evaluation as `dfcnn evaluate`).\n",
        results_table(card),
        "## Training data\n",
        "|corpus|audio|licence|url|note|\n|---|---:|---|---|---|\n" + corpora + "\n",
        "## Compute\n",
        "\n".join(compute_lines(card)) + "\n",
        "## Rebuild\n",
        f"    {card['rebuild']}\n",
        "## Limits\n",
        "\n".join(f"- {limit}" for limit in card["limits"]) + "\n",
    ]
    return "\n".join(parts)
