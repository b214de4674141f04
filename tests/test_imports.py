"""The house's floors: dfcnn's imports (at module level and inside functions) form no cycle and never
point up, from the pipeline to the rooms built on it; and ``load_model`` resolves its decoder argument
in one place, the decoder's module."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from dfcnn.decode import SHIPPED, DecoderConfig
from dfcnn.errors import DfcnnError

PACKAGE = Path(__file__).resolve().parents[1] / "dfcnn"
# built on the pipeline (and training's config), used by the commands: the front door, scoring, manifests
FACE = {"dfcnn.loading", "dfcnn.evaluate", "dfcnn.manifest"}
ROOMS = ("training", "deploy", "shipped", "serve", "viz")  # sub-packages built on the pipeline (and cli on top)
COMMANDS = {
    "dfcnn.deploy.commands",
    "dfcnn.serve.commands",
    "dfcnn.viz.commands",
    "dfcnn.shipped.commands",
    "dfcnn.shipped.make",
    "dfcnn.training.commands",
    "dfcnn.training.finetune",
}  # a room's door to the cli (making a shipped model scores it: above evaluate;
# fine-tuning finds its model through the front door and checks manifests as dfcnn manifest does)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The dfcnn modules ``name`` imports, anywhere in it (function bodies included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            stem = ".".join(base + ([node.module] if node.module else []))
            targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in known and target != name}
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imported(name, path, set(found)) for name, path in found.items()}


def layer(name: str) -> tuple[str, int]:
    """(room, floor): the pipeline 0, training, deploy's export and runtime and the shipped models' files
    1, the front door (and evaluate, manifest) 2, serve, viz and the commands 3, the cli 4."""
    if name in ("dfcnn.cli", "dfcnn.__main__"):
        return "cli", 4
    parts = name.split(".")
    room = parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ROOMS) else "pipeline"
    if name in COMMANDS or room in ("serve", "viz"):
        return room, 3
    if name in FACE:
        return "face", 2
    if room in ("training", "deploy", "shipped"):
        return room, 1
    return "pipeline", 0


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_imports_inside_functions():
    edges = graph()
    assert "dfcnn.training.train" in edges["dfcnn.cli"]  # imported inside _train
    assert "dfcnn.lm" in edges["dfcnn.decode"]  # inside BeamSearchDecoder.__init__
    assert "dfcnn.training.workers" in edges["dfcnn.training._forkserver_guard"]


def test_imports_form_no_cycle():
    assert cycles(graph()) == []


def test_no_import_points_up_or_across_to_another_room():
    wrong = []
    for source, targets in graph().items():
        room, floor = layer(source)
        for target in targets:
            target_room, target_floor = layer(target)
            if target_room == room:
                continue
            if target_floor >= floor:
                wrong.append(f"{source} ({room}, floor {floor}) imports {target} ({target_room}, floor {target_floor})")
    assert wrong == []


def test_the_pipeline_imports_none_of_the_rooms_built_on_it():
    edges = graph()
    pipeline = [name for name in edges if layer(name) == ("pipeline", 0)]
    assert {"dfcnn.audio", "dfcnn.features", "dfcnn.model", "dfcnn.decode", "dfcnn.inference", "dfcnn.data"} <= set(
        pipeline
    )
    above = ("dfcnn.training", "dfcnn.deploy", "dfcnn.serve", "dfcnn.viz", "dfcnn.cli", "dfcnn.loading")
    assert {(name, target) for name in pipeline for target in edges[name] if target.startswith(above)} == set()


def test_export_never_loads_and_the_runtime_reads_only_its_file():
    edges = graph()
    assert "dfcnn.loading" not in edges["dfcnn.deploy.export"]
    assert edges["dfcnn.deploy.runtime"] & {"dfcnn.loading", "dfcnn.deploy.export", "dfcnn.checkpoint"} == set()
    assert "dfcnn.device" in edges["dfcnn.training.train"]  # resolve_device: below both, not in inference


def trace_calls(work) -> list[tuple[str, str]]:
    """(module, function) of every dfcnn function called while ``work()`` runs, in order."""
    calls = []

    def profile(frame, event, arg):
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            if module.startswith("dfcnn"):
                calls.append((module, frame.f_code.co_qualname))

    sys.setprofile(profile)
    try:
        work()
    finally:
        sys.setprofile(None)
    return calls


@pytest.fixture
def shipping_model(tiny_model, tmp_path) -> Path:
    """The tiny model in a folder of its own, shipping a lexicon beam search (decoder.json beside it)."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "best.pt").write_bytes((tiny_model / "best.pt").read_bytes())
    (folder / "lexicon.txt").write_text("ab a b\nba b a\n")
    (folder / "decoder.json").write_text('{"lexicon": "lexicon.txt", "beam_size": 4}\n')
    return folder


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_load_model_resolves_the_shipped_decoder_once_in_the_decoders_module(shipping_model, backend):
    if backend == "onnx":
        pytest.importorskip("onnxruntime")
    from dfcnn import load_model

    loaded = []
    calls = trace_calls(lambda: loaded.append(load_model(shipping_model, "cpu", backend=backend)))
    assert loaded[0].decoder.config == DecoderConfig(beam_size=4, lexicon=str(shipping_model / "lexicon.txt"))
    resolutions = [call for call in calls if call[1] == "resolve_decoder"]
    assert resolutions == [("dfcnn.decode", "resolve_decoder")]
    reads = [call for call in calls if call[1] == "DecoderConfig.from_file"]  # decoder.json, read once
    assert reads == [("dfcnn.decode", "DecoderConfig.from_file")]


def test_a_given_decoder_goes_from_the_front_door_to_the_decoders_module_once(shipping_model):
    """The decoder argument's walk: load_model (loading) -> resolve_decoder and build_decoder (decode),
    never another room, and decoder.json is not read."""
    from dfcnn import load_model

    given = DecoderConfig(beam_size=3)
    holders = []

    def profile(frame, event, arg):
        module = frame.f_globals.get("__name__", "")
        if event == "call" and module.startswith("dfcnn") and any(v is given for v in frame.f_locals.values()):
            holders.append(module)

    sys.setprofile(profile)
    try:
        recognizer = load_model(shipping_model, "cpu", decoder=given)
    finally:
        sys.setprofile(None)
    assert recognizer.decoder.config is given
    rooms = [module for i, module in enumerate(holders) if i == 0 or holders[i - 1] != module]
    assert rooms == ["dfcnn.loading", "dfcnn.decode"]
    assert load_model(shipping_model, "cpu", decoder=None).decoder.config.is_greedy
    with pytest.raises(DfcnnError, match=f"decoder must be a DecoderConfig, None or '{SHIPPED}'"):
        load_model(shipping_model, "cpu", decoder="beam")
