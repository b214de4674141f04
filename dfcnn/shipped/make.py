"""``dfcnn ship``: a trained model folder -> a shipped model, its card measured, never typed.

    dfcnn ship recipes/speechocean762/exp --name english --card-info recipes/speechocean762/card.yaml \\
        --test test=recipes/speechocean762/data/test.jsonl --results recipes/speechocean762/RESULTS.md

Steps, each checked before the next: the card info is read and every input checked (nothing is
written while one is wrong); the network is copied without its training state (optimizer, RNG:
what only ``--resume`` reads); the decoder the model ships (its decoder.json) is copied with the
lexicon and LM it names, renamed relative to the new folder; every test manifest is scored greedy
and as shipped by ``evaluate`` on the copied files; the training's compute is read from the run's
folder (and from the run it was initialised from: pre-training); card.json, card.md and SHA256SUMS
are written. All of this happens in a hidden folder beside the target, which then replaces the old
model in one rename; ``--results`` gets the same test table between ``<!-- shipped:NAME -->`` markers.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import __version__
from ..checkpoint import load_checkpoint, save_checkpoint
from ..config import read_yaml
from ..data import read_manifest
from ..decode import SHIPPED, resolve_decoder
from ..deploy.export import ship_decoder
from ..errors import ConfigError, DfcnnError
from ..evaluate import Row, evaluate_rows
from ..fileio import atomic_write_text, check_writable_folder, read_jsonl, read_text
from ..loading import CHECKPOINT_IN_FOLDER, ModelFiles, find_model
from ..text import Tokenizer
from . import CARD_FILE, CARD_TEXT_FILE, NAME_PATTERN, SUMS_FILE, sha256
from .card import FORMAT, VERSION, CardInfo, card_markdown, results_table

MAX_INIT_CHAIN = 4  # runs followed back through train.init_from (fine-tuning <- pre-training <- ...)


@dataclass(frozen=True)
class ShipConfig:
    """What ``dfcnn ship`` makes, from what."""

    exp: str  # the trained model: a dfcnn train folder (best.pt, decoder.json, metrics.jsonl) or a checkpoint in one
    name: str  # the shipped model's name (NAME_PATTERN): --model NAME, the API's model field
    card_info: str  # the hand-written card YAML (``CardInfo``)
    tests: tuple[tuple[str, str], ...]  # (test set name, manifest): scored greedy and as shipped
    into: str  # the folder of shipped models the model goes into (as <into>/<name>/)
    results: str | None = None  # a RESULTS.md whose <!-- shipped:NAME --> block gets the test table
    device: str = "auto"  # where the test sets are decoded
    max_batch_duration: float = 200.0  # seconds of audio per batch while scoring
    progress: bool = True  # progress bars while scoring
    command: str = ""  # the command line that shipped it, recorded in the card and the RESULTS block


def _check(config: ShipConfig) -> tuple[CardInfo, ModelFiles, dict]:
    """Everything ``ship`` reads, checked before anything is written: the card info, the model's
    files and its checkpoint."""
    if not NAME_PATTERN.fullmatch(config.name):
        raise DfcnnError(
            f"--name {config.name!r}: a shipped model's name is lower-case letters, digits, - and _ "
            "(a folder name and an API model id)"
        )
    info = CardInfo.from_file(config.card_info)
    if not config.tests:
        raise DfcnnError("give at least one --test NAME=MANIFEST: the card's numbers are measured, not typed")
    names = [name for name, _ in config.tests]
    if len(set(names)) != len(names):
        raise DfcnnError(f"--test names must differ: {', '.join(names)}")
    for _, manifest in config.tests:
        read_manifest(manifest)  # a malformed line: ManifestError naming it
    files = find_model(config.exp)
    payload = load_checkpoint(files.network)
    if config.results is not None and Path(config.results).is_dir():
        raise DfcnnError(f"--results {config.results}: a folder, not a RESULTS.md file")
    check_writable_folder(config.into, "--into")
    return info, files, payload


def ship(config: ShipConfig) -> Path:
    """Make (or replace) the shipped model ``config.name`` in ``config.into``; returns its folder."""
    info, files, payload = _check(config)
    into = Path(config.into)
    staging = Path(tempfile.mkdtemp(dir=into, prefix=f".{config.name}.staging-"))
    staging.chmod(0o755)  # mkdtemp makes it private; a shipped model is read by whoever runs dfcnn
    try:
        inference = {key: value for key, value in payload.items() if key != "training"}  # --resume state: not shipped
        save_checkpoint(staging / CHECKPOINT_IN_FOLDER, inference)
        tokenizer = Tokenizer.from_dict(payload["tokenizer"])
        decoder = resolve_decoder(SHIPPED, files.folder)
        if decoder is not None:
            ship_decoder(decoder, staging, tokenizer)
        tests = [_test(staging, name, manifest, config) for name, manifest in config.tests]
        card = _card(config, info, payload, tests, _compute(files.folder, payload), staging)
        atomic_write_text(staging / CARD_FILE, json.dumps(card, indent=2, ensure_ascii=False) + "\n")
        atomic_write_text(staging / CARD_TEXT_FILE, card_markdown(card))
        write_sums(staging)
        target = _replace(staging, into / config.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if config.results is not None:
        update_results(config.results, config.name, card)
    return target


def _replace(staging: Path, target: Path) -> Path:
    """Put ``staging`` where ``target`` is, the old model moved aside first and removed after."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
        os.replace(target, old / target.name)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def write_sums(folder: Path) -> None:
    """SHA256SUMS of every file in ``folder`` but itself, in sha256sum's format (``sha256sum -c`` reads it)."""
    lines = [
        f"{sha256(path)}  {path.name}\n"
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name != SUMS_FILE
    ]
    atomic_write_text(folder / SUMS_FILE, "".join(lines))


def _row(row: Row) -> dict:
    return {
        "decoder": row.decoder.describe(),
        "writes": row.writes,
        "metric": row.metric,
        "error_rate": round(row.error_rate, 2),
        "wer": round(row.score.wer, 2),
        "cer": round(row.score.cer, 2),
    }


def _test(model: Path, name: str, manifest: str, config: ShipConfig) -> dict:
    """One test set scored greedy and as shipped, through ``evaluate`` on the shipped files."""
    rows, _ = evaluate_rows(
        model,
        manifest,
        device=config.device,
        max_batch_duration=config.max_batch_duration,
        name=name,
        progress=config.progress,
        decoder=SHIPPED,
    )
    by_label = {row.label: row for row in rows}
    greedy = by_label.get("greedy", rows[0])
    shipped = by_label.get("shipped", greedy)  # a model without decoder.json ships greedy
    utterances = read_manifest(manifest)
    return {
        "name": name,
        "manifest": str(manifest),
        "utterances": len(utterances),
        "hours": round(sum(u.duration for u in utterances) / 3600, 3),
        "greedy": _row(greedy),
        "shipped": _row(shipped),
    }


def _card(config: ShipConfig, info: CardInfo, payload: dict, tests: list[dict], compute: dict, folder: Path) -> dict:
    import torch

    from ..model import DFCNN, ModelConfig

    with torch.device("meta"):  # shapes only
        parameters = sum(p.numel() for p in DFCNN(ModelConfig(**payload["model_config"])).parameters())
    sizes = {path.name: path.stat().st_size for path in sorted(folder.iterdir()) if path.is_file()}
    shipped = tests[0]["shipped"]
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": config.name,
        "summary": info.summary,
        "language": info.language,
        "unit": payload["tokenizer"].get("unit", "char"),
        "writes": shipped["writes"],
        "decoder": shipped["decoder"],
        "description": info.description,
        "licence": info.licence,
        "sizes": {"parameters": parameters, "files": sizes, "total_bytes": sum(sizes.values())},
        "tests": tests,
        "training_data": [asdict(corpus) for corpus in info.training_data],
        "compute": compute,
        "compute_note": info.compute_note,
        "rebuild": info.rebuild,
        "limits": list(info.limits),
        "source": str(config.exp),
        "ship_command": config.command,
        "dfcnn_version": __version__,
        "shipped_on": datetime.date.today().isoformat(),
    }


def _compute(folder: Path, payload: dict) -> dict:
    """The training behind the model, run by run (pre-training first): what each run's folder records."""
    stages, seen = [], set()
    config = _run_config(folder) or payload.get("config") or {}
    while folder is not None and folder.resolve() not in seen and len(stages) < MAX_INIT_CHAIN:
        seen.add(folder.resolve())
        stages.insert(0, _stage(folder, config))
        init_from = (config.get("train") or {}).get("init_from") or ""
        folder = _existing(init_from, folder)
        folder = folder.parent if folder is not None and folder.is_file() else folder
        config = _run_config(folder) if folder is not None else {}
    total = {key: _sum(stage[key] for stage in stages) for key in ("audio_hours_seen", "wall_hours")}
    return {"stages": stages, "total": total}


def _sum(values) -> float | None:
    values = list(values)
    return None if any(value is None for value in values) else round(sum(values), 3)


def _run_config(folder: Path) -> dict:
    """A run's config.yaml (the trainer writes it in its folder), or {}."""
    path = folder / "config.yaml"
    try:
        config = read_yaml(path) if path.is_file() else {}
    except ConfigError:
        return {}
    return config if isinstance(config, dict) else {}


def _existing(given: str, folder: Path) -> Path | None:
    """A path a run's config named: as given (relative to where it ran: the recipe, usually the run
    folder's parent), or None when it is not on this machine."""
    if not given:
        return None
    for candidate in (Path(given), folder.parent / given, folder / given):
        if candidate.exists():
            return candidate
    return None


def _stage(folder: Path, config: dict) -> dict:
    """Steps, epochs, audio seen and wall time of one run, from its metrics.jsonl and config.yaml."""
    records = []
    metrics = folder / "metrics.jsonl"
    if metrics.is_file():
        records = [record for _, record in read_jsonl(metrics, "metrics file")]
    steps = max((int(r.get("step", 0)) for r in records), default=0)
    ends = [int(r["epoch"]) for r in records if "epoch" in r and "loss" not in r]  # epoch-end lines carry no loss
    epochs = max(ends, default=0)
    times = [float(r["time"]) for r in records if "time" in r]
    wall = round((max(times) - min(times)) / 3600, 3) if len(times) > 1 else None
    manifest = _existing((config.get("data") or {}).get("train_manifest") or "", folder)
    train_hours = None
    if manifest is not None and manifest.is_file():
        try:
            train_hours = round(sum(u.duration for u in read_manifest(manifest)) / 3600, 3)
        except DfcnnError:
            train_hours = None
    seen = round(train_hours * epochs, 3) if train_hours is not None else None
    return {
        "folder": folder.name,
        "steps": steps,
        "epochs": epochs,
        "train_hours": train_hours,
        "audio_hours_seen": seen,
        "wall_hours": wall,
    }


def results_block(name: str, card: dict) -> str:
    """The RESULTS.md block of a shipped model: its markers around the card's test table."""
    command = f"\n\n    {card['ship_command']}" if card.get("ship_command") else ""
    return (
        f"<!-- shipped:{name} -->\n### The shipped model `{name}` ({card['shipped_on']})\n\n"
        f"Written by `dfcnn ship`: the numbers of its card.json.{command}\n\n"
        f"{results_table(card)}<!-- /shipped:{name} -->"
    )


def update_results(path: str | Path, name: str, card: dict) -> None:
    """Replace the <!-- shipped:NAME --> block of a RESULTS.md with the card's table (appended when absent)."""
    path = Path(path)
    text = read_text(path, "results file") if path.exists() else ""
    begin, end = f"<!-- shipped:{name} -->", f"<!-- /shipped:{name} -->"
    block = results_block(name, card)
    start = text.find(begin)
    stop = text.find(end, start + len(begin)) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        text = text[:start] + block + text[stop + len(end) :]
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + block + "\n"
    atomic_write_text(path, text)
