"""Exported graphs: ONNX (fp32, int8) gives PyTorch's log-probs; --backend onnx
transcribes and streams like the torch backend."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import noisy_speechlike, random_recognizer

pytest.importorskip("onnxruntime")

from dfcnn.deploy.export import min_samples, onnx_bytes  # noqa: E402
from dfcnn.deploy.runtime import OnnxNetwork, load_onnx  # noqa: E402
from dfcnn.errors import DfcnnError  # noqa: E402
from dfcnn.features import FeatureConfig  # noqa: E402
from dfcnn.inference import Recognizer  # noqa: E402
from dfcnn.loading import load_model  # noqa: E402
from dfcnn.streaming import StreamingRecognizer  # noqa: E402


def dfcnn(*args):
    return subprocess.run([sys.executable, "-m", "dfcnn", *map(str, args)], capture_output=True, text=True)


def onnx_twin(recognizer) -> Recognizer:
    """The same recognizer with its network exported to ONNX and run by onnxruntime."""
    network, tokenizer = load_onnx(onnx_bytes(recognizer), threads=1)
    assert isinstance(network, OnnxNetwork) and network.min_samples == min_samples(recognizer)
    assert tokenizer.tokens == recognizer.tokenizer.tokens
    return Recognizer(network, recognizer.tokenizer, recognizer.decoder, recognizer.config)


def padded_batch(lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    waves = [torch.from_numpy(noisy_speechlike(n / 16000 + 0.01, seed=i)[:n]) for i, n in enumerate(lengths)]
    return torch.nn.utils.rnn.pad_sequence(waves, batch_first=True), torch.tensor(lengths)


MODELS = {
    "mel": {},
    "linear-residual": dict(
        features=FeatureConfig(n_linear_bins=64), residual=True, convs_per_block=3, time_pool=[2, 1, 1]
    ),
    "utterance-mean-norm": dict(features=FeatureConfig(kind="mel", n_mels=32, utterance_mean_norm=True)),
    "stem-2x3": dict(stem_stride=[2, 3], time_pool=[1, 2, 1], freq_pool=[1, 2, 2], residual=True),  # 6x in time
}


@pytest.mark.parametrize("kind", MODELS)
def test_onnx_log_probs_equal_pytorch(kind):
    recognizer = random_recognizer(**MODELS[kind])
    exported = onnx_twin(recognizer)
    waves, lengths = padded_batch([16000 * 3 + 77, 250, 16000 * 7 + 480, 8123, 880, 900])  # padding, tiny clips
    expected, expected_lengths = recognizer.log_probs(waves, lengths)
    got, got_lengths = exported.log_probs(waves, lengths)
    assert got_lengths.tolist() == expected_lengths.tolist()
    for row, length in enumerate(expected_lengths.tolist()):
        torch.testing.assert_close(got[row, :length], expected[row, :length], atol=1e-4, rtol=1e-4)


def test_streaming_through_onnx_equals_offline_torch():
    from dfcnn.inference import TranscribeConfig

    wave = np.concatenate([noisy_speechlike(2.5, seed=8), np.zeros(4000, np.float32), noisy_speechlike(2.0, seed=9)])
    recognizer = random_recognizer()
    recognizer.config = TranscribeConfig(min_pause=0.2)
    exported = onnx_twin(recognizer)
    stream = StreamingRecognizer(exported)
    for start in range(0, len(wave), 2000):
        stream.feed(wave[start : start + 2000])
    stream.finish()
    assert stream.transcript().text == recognizer.transcribe(wave).text


def test_export_command_writes_self_describing_graphs(tiny_model, tmp_path):
    (tiny_model / "lexicon.txt").write_text("ab a b\nba b a\n")
    (tiny_model / "decoder.json").write_text(json.dumps({"lexicon": "lexicon.txt", "beam_size": 4}))
    manifest = tiny_model.parent / "train.jsonl"
    try:
        out = tmp_path / "deploy"
        result = dfcnn(
            "export", "--model", tiny_model, "--format", "onnx", "--int8", "--calibration", manifest, "--out", out
        )
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in out.iterdir()) == ["decoder.json", "lexicon.txt", "model.int8.onnx", "model.onnx"]
        assert json.loads((out / "decoder.json").read_text())["lexicon"] == "lexicon.txt"  # beside it, relative
        torch_recognizer = load_model(tiny_model, "cpu")
        for name in ("model.onnx", "model.int8.onnx"):
            recognizer = load_model(out / name, backend="onnx")
            assert recognizer.decoder.writes == "words"
            assert recognizer.tokenizer.tokens == torch_recognizer.tokenizer.tokens
        fp32 = load_model(out, backend="onnx")  # the folder: model.onnx
        audio = tiny_model.parent / "utt3.wav"
        assert fp32.transcribe(audio).text == torch_recognizer.transcribe(audio).text
        script = dfcnn("export", "--model", tiny_model, "--format", "torchscript", "--out", tmp_path / "ts")
        assert script.returncode == 2 and "invalid choice: 'torchscript' (choose from 'onnx')" in script.stderr
    finally:
        (tiny_model / "decoder.json").unlink()
        (tiny_model / "lexicon.txt").unlink()


def test_transcribe_with_the_onnx_backend_matches_torch(tiny_model):
    audio = [tiny_model.parent / f"utt{i}.wav" for i in range(3)]
    torch_run = dfcnn("transcribe", "--model", tiny_model, *audio, "--quiet")
    onnx_run = dfcnn("transcribe", "--model", tiny_model, *audio, "--backend", "onnx", "--quiet")
    assert onnx_run.returncode == 0, onnx_run.stderr
    assert onnx_run.stdout == torch_run.stdout and len(onnx_run.stdout.splitlines()) == 3


def test_export_errors_are_one_line(tiny_model, tmp_path):
    no_calibration = dfcnn("export", "--model", tiny_model, "--format", "onnx", "--int8", "--out", tmp_path / "a")
    assert no_calibration.returncode == 1 and "--int8 needs --calibration" in no_calibration.stderr
    import onnx

    foreign = tmp_path / "foreign.onnx"
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    onnx.save(onnx.helper.make_model(graph), foreign)
    with pytest.raises(DfcnnError, match="not an ONNX model exported by dfcnn"):
        load_model(foreign, backend="onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    result = dfcnn("transcribe", "--model", broken, "--backend", "onnx", tiny_model.parent / "utt0.wav")
    assert result.returncode == 1 and "broken.onnx: onnxruntime cannot load it" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_int8_keeps_the_word_error_rate_of_fp32_on_real_speech(yesno_model, tmp_path):
    """Real model, real recordings (the yesno test set, never trained on): int8 decoded with the model's
    shipped decoder makes at most two word errors more than fp32 (of the test set's 232 words: a
    bound in words, since one word is 0.43 points and which borderline word flips depends on the
    CPU's kernels), and the network's own output, frame by frame, is the same token almost everywhere."""
    from dfcnn.data import read_manifest
    from dfcnn.deploy.export import export_model

    data = yesno_model.parent / "data"
    export_model(load_model(yesno_model, "cpu"), "onnx", tmp_path, int8=True, calibration=data / "train.jsonl")
    test = read_manifest(data / "test.jsonl")
    scores, errors, log_probs = {}, {}, {}
    for name in ("model.onnx", "model.int8.onnx"):
        recognizer = load_model(tmp_path / name, backend="onnx")  # with decoder.json, copied beside the graphs
        assert recognizer.decoder.writes == "words"
        log_probs[name] = recognizer.utterance_log_probs(test)
        hypotheses = [h.text for h in recognizer.recognize(test)]
        score = recognizer.decoder.score([u.text for u in test], hypotheses)
        scores[name] = score.wer
        errors[name] = score.words.substitutions + score.words.deletions + score.words.insertions
    assert scores["model.onnx"] < 15, scores  # a model that recognises the words
    assert errors["model.int8.onnx"] <= errors["model.onnx"] + 2, (errors, scores)
    same = torch.cat(
        [(a.argmax(-1) == b.argmax(-1)).float() for a, b in zip(log_probs["model.onnx"], log_probs["model.int8.onnx"])]
    ).mean()
    assert same >= 0.99, f"int8 changes the best token of {100 * (1 - same):.1f}% of frames"
