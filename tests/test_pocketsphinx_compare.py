"""bench/pocketsphinx_compare.py keeps PocketSphinx's hypotheses (hours of decoding) and reuses them only while
everything they depend on is unchanged."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("pocketsphinx", reason="pocketsphinx is not installed (the `compare` extra)")

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "pocketsphinx_compare.py"


@pytest.fixture()
def compare(monkeypatch):
    spec = importlib.util.spec_from_file_location("pocketsphinx_compare", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = []

    def fake_run_sphinx(utterances, jobs, lm=None, dictionary=None):
        calls.append(lm)
        return [f"hyp {len(calls)} {u.utt_id}" for u in utterances], 12.5

    monkeypatch.setattr(module, "run_sphinx", fake_run_sphinx)
    module.calls = calls
    return module


def _utterances(tmp_path):
    utterances = []
    for name in ("a", "b"):
        audio = tmp_path / f"{name}.wav"
        audio.write_bytes(b"\0" * 100)
        utterances.append(SimpleNamespace(utt_id=name, audio_filepath=audio))
    return utterances


def test_hypotheses_are_reused_only_while_audio_and_lm_are_unchanged(compare, tmp_path):
    utterances = _utterances(tmp_path)
    lm, dictionary = tmp_path / "lm.arpa", tmp_path / "words.dict"
    lm.write_text("\\data\\\n")
    dictionary.write_text("a AH\n")
    cache = tmp_path / "table.sphinx"

    first = compare.cached_sphinx(utterances, 2, cache, "mix", str(lm), str(dictionary))
    assert first == (["hyp 1 a", "hyp 1 b"], 12.5, 2, None)
    again = compare.cached_sphinx(utterances, 1, cache, "mix", str(lm), str(dictionary))
    assert again[:3] == first[:3] and again[3] is not None  # stored hypotheses, wall time and processes
    assert len(compare.calls) == 1

    lm.write_text("\\data\\\nngram 1=1\n")  # another LM
    assert compare.cached_sphinx(utterances, 2, cache, "mix", str(lm), str(dictionary))[3] is None
    utterances[1].audio_filepath.write_bytes(b"\0" * 80)  # an audio file re-encoded
    assert compare.cached_sphinx(utterances, 2, cache, "mix", str(lm), str(dictionary))[3] is None
    assert compare.cached_sphinx(utterances, 2, cache, "own")[3] is None  # PocketSphinx's own LM: its own entry
    assert len(compare.calls) == 4
    assert compare.cached_sphinx(utterances, 2, None, "own")[3] is None  # no cache: always decodes
    assert len(compare.calls) == 5
