"""The neural voices of recipes/synth_english on this CPU: the CPU cost of each engine per second of
audio (one thread) and PocketSphinx's WER on each voice's clean speech (its intelligibility), and the
Kokoro int8 graph against the same graph with its ConvInteger layers turned back into float Conv.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/tts_voices.py                # every voice
    OMP_NUM_THREADS=1 .venv/bin/python bench/tts_voices.py --voices kokoro:af_heart piper:joe --graphs

CPU seconds (process time, not wall time: the machine is shared) per audio second, so 0.5 is twice
real time. Clean speech: the engine's output resampled to 16 kHz and levelled, no augmentation.
Writes bench/tts_voices.md and .json. Needs the `voices` and `compare` extras.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soxr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's dfcnn and recipes
from dfcnn.metrics import score  # noqa: E402
from dfcnn.text import normalize_english  # noqa: E402
from recipes.synth_english import check_speech, neural_corpus, neural_voices, voices  # noqa: E402

SENTENCES = (  # everyday sentences, none from the corpus's sources
    "The children walked to school together every morning.",
    "Please leave the keys on the table by the door.",
    "We could not find a good place to park the car.",
    "She asked her brother to call back after dinner.",
)


def default_keys() -> list[str]:
    packs = neural_voices.available_packs()
    mixed = neural_corpus.default_voices(neural_corpus.NeuralConfig(), packs)["train"]["mixture"][:4]
    return [f"kokoro:{p}" for p in packs] + mixed + [neural_voices.PIPER.key] + [v.key for v in neural_voices.PICO]


def measure_voice(key: str, sphinx: check_speech.Sphinx) -> dict:
    """CPU s per audio s over SENTENCES (after one warm-up take) and PocketSphinx's WER on them."""
    voices.synthesize([voices.Take(key, "Hello there.")])  # loads the engine: not timed
    cpu = audio = 0.0
    hyps = []
    for sentence in SENTENCES:
        begin = time.process_time()
        wave, rate = voices.synthesize([voices.Take(key, sentence, accent="en-gb" if ":b" in key[:8] else "en-us")])[0]
        cpu += time.process_time() - begin
        audio += len(wave) / rate
        wave = soxr.resample(wave, rate, 16000).astype(np.float32)
        hyps.append(sphinx.transcribe(wave * np.float32(0.1 / (np.sqrt(np.mean(wave**2)) + 1e-9))))
    wer = score([normalize_english(s) for s in SENTENCES], hyps).wer
    return {"cpu_per_audio_s": round(cpu / audio, 3), "audio_s": round(audio, 2), "wer": round(wer, 1), "hyps": hyps}


def dequantized_convs(model):
    """The Kokoro graph with each DynamicQuantizeLinear -> ConvInteger -> (+bias) -> Cast -> Mul chain
    replaced by one float Conv of the dequantised weights (W = (Wq - zero point) x scale)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers = collections.defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)

    def array(name):
        return numpy_helper.to_array(inits[name]).astype(np.float32)

    replacement, added = {}, []
    for node in graph.node:
        if node.op_type != "ConvInteger":
            continue
        x_q, w_q, _, w_zero = node.input
        base = w_q[: -len("_quantized")]
        weight = (array(w_q) - array(w_zero)) * array(base + "_scale")
        after, bias = consumers[node.output[0]][0], []
        if after.op_type == "Add":  # int32 bias = Floor(bias / scale), reshaped: take the float bias
            div = producer[producer[producer[producer[after.input[1]].input[0]].input[0]].input[0]]
            bias, after = [div.input[0]], consumers[after.output[0]][0]
        mul = consumers[after.output[0]][0]  # after: the Cast to float
        added.append(numpy_helper.from_array(weight, base + "_float"))
        conv = helper.make_node("Conv", [producer[x_q].input[0], base + "_float", *bias], [mul.output[0]])
        conv.attribute.extend(node.attribute)
        replacement[id(mul)] = conv
    nodes = [replacement.get(id(n), n) for n in graph.node]
    producer = {o: n for n in nodes for o in n.output}
    live, stack = set(), [o.name for o in graph.output]
    while stack:  # keep the nodes the outputs still need
        node = producer.get(stack.pop())
        if node is not None and id(node) not in live:
            live.add(id(node))
            stack.extend(i for i in node.input if i)
    del graph.node[:]
    graph.node.extend(n for n in nodes if id(n) in live)
    graph.initializer.extend(added)
    used = {i for n in graph.node for i in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model, len(replacement)


def measure_graphs() -> dict:
    """CPU s per audio s of af_heart over SENTENCES: the int8 graph, then its float-Conv version."""
    import onnx
    import onnxruntime
    from kokoro_onnx import Kokoro

    path = neural_voices.kokoro_model()
    floated, count = dequantized_convs(onnx.load(str(path)))
    float_path = Path(tempfile.mkdtemp()) / "kokoro-float-conv.onnx"  # kokoro-onnx wants a model file
    onnx.save(floated, str(float_path))
    results = {}
    graphs = (("int8 (as shipped)", path), (f"float Conv ({count} ConvInteger replaced)", float_path))
    for name, model in graphs:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        kokoro = Kokoro.from_session(session, str(neural_voices.cache_dir() / "kokoro-no-voices.npz"))
        style = neural_voices.style("af_heart")
        kokoro.create("Hello there.", voice=style)
        cpu = audio = 0.0
        for sentence in SENTENCES:
            begin = time.process_time()
            wave, rate = kokoro.create(sentence, voice=style)
            cpu += time.process_time() - begin
            audio += len(wave) / rate
        results[name] = round(cpu / audio, 3)
        print(f"{name}: {cpu / audio:.3f} CPU s per audio s", flush=True)
    shutil.rmtree(float_path.parent)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voices", nargs="*", default=None, help="voice keys (default: every voice)")
    parser.add_argument("--graphs", action="store_true", help="also time Kokoro's int8 graph against float Conv")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "tts_voices.md")
    args = parser.parse_args()
    os.environ.setdefault("DFCNN_DATA", str(REPO.parent / "shared" / "data"))
    sphinx = check_speech.Sphinx()
    rows = {}
    for key in args.voices or default_keys():
        rows[key] = measure_voice(key, sphinx)
        print(f"{key:40s} {rows[key]['cpu_per_audio_s']:6.3f} CPU s/audio s  WER {rows[key]['wer']:5.1f}%", flush=True)
    graphs = measure_graphs() if args.graphs else {}
    lines = [f"# Neural voices on this CPU ({datetime.date.today()}, `{' '.join(sys.argv)}`)", "",
             "| voice | CPU s per audio s (1 thread) | PocketSphinx WER % (4 clean sentences) |",
             "|---|---:|---:|"]  # fmt: skip
    lines += [f"| `{k}` | {r['cpu_per_audio_s']:.3f} | {r['wer']:.1f} |" for k, r in rows.items()]
    if graphs:
        lines += ["", "| Kokoro graph (af_heart) | CPU s per audio s |", "|---|---:|"]
        lines += [f"| {name} | {value:.3f} |" for name, value in graphs.items()]
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"voices": rows, "kokoro_graphs": graphs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
