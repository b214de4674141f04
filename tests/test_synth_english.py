"""The synthetic English corpus (recipes/synth_english): sentence sources and filter, voices, splits,
and a tiny end-to-end build (audio, manifests, determinism, resume)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import MISSING, missing

from recipes.synth_english import check, generate, prepare, texts, voices

pytest.importorskip("espeakng_loader", reason=f"{MISSING} eSpeak NG (pip install espeakng-loader)")


SECRET = "Kate loves China very much"  # a speechocean762 *test* sentence that other sources also hold


def _needs(*programs: str):
    absent = [p for p in programs if shutil.which(p) is None]
    if absent:
        missing(f"{', '.join(absent)} not installed (make tts installs them)")


@pytest.fixture
def sources(tmp_path) -> tuple[Path, Path]:
    """(data root, WordNet folder): each source in its real format, a few sentences each."""
    root, wordnet = tmp_path / "data", tmp_path / "wordnet"
    lj = root / texts.LJSPEECH
    lj.parent.mkdir(parents=True)
    lj.write_text("LJ001-0001|In 1850, Mr. Smith came.|In eighteen fifty, Mr. Smith came home.\n"
                  "LJ001-0002|x|The prisoners were taken to the yard every morning.\n"
                  f"LJ001-0003|x|{SECRET.upper()}!\n")  # fmt: skip
    arctic = root / texts.ARCTIC
    arctic.parent.mkdir(parents=True)
    arctic.write_text('( arctic_a0001 "Author of the danger trail, Philip Steels, etc." )\n'
                      '( arctic_a0002 "It cost 5 dollars." )\n'
                      '( arctic_a0003 "The FBI agent waved from the car." )\n'
                      '( arctic_a0004 "Gad, your letter came just in time." )\n')  # fmt: skip
    for split, lines in (
        (
            "train",
            [
                "0001 WE CALL IT BEAR",
                "0002 ZERO THREE FIVE ONE",
                f"0003 {SECRET.upper()}",
                "0004 THE BIG DOG RAN ACROSS THE FIELD",
            ],
        ),
        ("test", ["9001 KATE LOVES CHINA VERY MUCH", "9002 MARK IS GOING TO SEE ELEPHANT"]),
    ):
        path = root / f"speechocean762/{split}/text"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")  # fmt: skip
    wordnet.mkdir()
    examples = ["they were sitting around the table", "she sang a song to the baby", "the train arrived late",
                "he painted the fence green", "a bright yellow kite flew over the beach",
                "Mark is going to see elephant",
                "we planted tomatoes in the garden", "the old clock stopped at noon", "my brother fixed the bike",
                "a cold wind blew from the north", "the children laughed at the clown", "rain fell all night long",
                "the cat slept on the warm stove", "birds built a nest in the chimney", "the river flooded the town",
                "she opened the window to let in air", "the teacher read a story aloud", "the bread smelled wonderful",
                "the NATO summit ended", "he paid 20 pounds", "the music & the dance"]  # fmt: skip
    lines = ["  1 This software and database is being provided to you, the LICENSEE, by Princeton"]
    lines += [f'{i:08d} 05 n 01 word 0 000 | a gloss; "{text}"' for i, text in enumerate(examples)]
    (wordnet / "data.noun").write_text("\n".join(lines) + "\n", encoding="latin-1")
    for name in ("data.verb", "data.adj", "data.adv"):
        (wordnet / name).write_text('  1 licence\n00000001 29 v 01 go 0 000 | move; "they go home early"\n')
    return root, wordnet


def test_speakable_keeps_only_what_a_voice_reads_as_spelled():
    assert texts.speakable("Author of the danger trail, Philip Steels, etc.") == (
        "Author of the danger trail, Philip Steels, et cetera.")  # fmt: skip
    assert texts.speakable('Then Mr. Smith said "no" twice.') == "Then Mister Smith said no twice."
    for bad in ("It cost 5 dollars today.", "The FBI agent waved.", "Henry VIII had six wives.",
                "We met at 5 p.m. sharp.", "salt & pepper on the table", "the caf\u00e9 was closed today",
                "in the U.S. army", "too short", " ".join(["word"] * 31)):  # fmt: skip
        assert texts.speakable(bad) is None, bad
    assert texts.speakable("KATE LOVES CHINA", mixed_case=False) == "kate loves china"


def test_sources_are_read_and_speechocean_test_sentences_are_absent(sources):
    root, wordnet = sources
    sentences = texts.load_sentences(root, wordnet)
    spoken = {s.text for s in sentences}
    assert "kate loves china very much" not in spoken and "mark is going to see elephant" not in spoken
    assert texts.forbidden_texts(root) == {"kate loves china very much", "mark is going to see elephant"}
    assert "in eighteen fifty mister smith came home" in spoken  # LJSpeech's normalised column, Mr. expanded
    assert "author of the danger trail philip steels et cetera" in spoken
    assert "we call it bear" in spoken and "they go home early" in spoken
    assert not any(c.isdigit() for text in spoken for c in text)
    assert not {"the fbi agent waved from the car", "the nato summit ended", "the music the dance"} & spoken
    assert len(spoken) == len(sentences)  # one sentence per transcript
    from dfcnn.text import normalize_english

    assert all(normalize_english(s.spoken) == s.text for s in sentences)


def test_malformed_sources_name_file_and_line(sources, tmp_path, capsys):
    root, wordnet = sources
    arctic = root / texts.ARCTIC
    arctic.write_text(arctic.read_text() + "arctic_a0005 no parentheses\n")
    with pytest.raises(texts.TextError, match=r"cmuarctic\.data:5: expected"):
        texts.load_sentences(root, wordnet)
    (root / texts.LJSPEECH).write_text("LJ1|only two\n")
    with pytest.raises(texts.TextError, match=r"metadata_subset\.csv:1: expected"):
        texts.read_ljspeech(root / texts.LJSPEECH)
    with pytest.raises(texts.TextError, match="WordNet data not found"):
        texts.read_wordnet(tmp_path / "nowhere")
    # the command line: one line, no traceback; exit 2 for a missing data folder, 1 for bad content
    assert prepare.main(["--data-dir", str(root), "--wordnet-dir", str(wordnet), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert prepare.main(["--data-dir", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err


def test_default_plan_holds_out_voices_and_sentences():
    split_voices = generate.default_voices()
    speakers = {s: {voices.voice(k).speaker for k in keys} for s, keys in split_voices.items()}
    assert {"kal", "slt"} <= speakers["train"] and "awb" in speakers["dev"] and {"rms", "ked"} <= speakers["test"]
    assert not speakers["train"] & speakers["dev"] and not speakers["train"] & speakers["test"]
    assert not speakers["dev"] & speakers["test"]
    engines = {s: {k.split(":")[0] for k in keys} for s, keys in split_voices.items()}
    assert engines["train"] == engines["test"] == {"flite", "festival", "espeak"}
    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()
    sentences = [texts.Sentence(f"{a} {b} {c}", f"{a} {b} {c}", "wordnet", "x") for a in words for b in words
                 for c in words[:4]]  # fmt: skip
    config = generate.CorpusConfig(num_train=300, num_dev=20, num_test=20, babble_clips=5)
    jobs, babble = generate.plan(config, sentences, split_voices)
    by_split = {s: [j for j in jobs if j["split"] == s] for s in generate.SPLITS}
    assert [len(by_split[s]) for s in generate.SPLITS] == [300, 20, 20]
    said = {s: {j["text"] for j in by_split[s]} for s in generate.SPLITS}
    assert not said["train"] & said["dev"] and not said["train"] & said["test"] and not said["dev"] & said["test"]
    assert not {j["text"] for j in babble} & set().union(*said.values())
    for split in generate.SPLITS:
        assert {j["voice"] for j in by_split[split]} <= set(split_voices[split])
    assert jobs == generate.plan(config, sentences, split_voices)[0]  # a function of the seed
    with pytest.raises(texts.TextError, match="share speakers"):
        generate.plan(config, sentences, {**split_voices, "dev": ("flite:kal16",)})
    with pytest.raises(texts.TextError, match="needs 5000 sentences"):
        generate.plan(dataclasses.replace(config, num_train=5000), sentences, split_voices)


def _f0(wave: np.ndarray, rate: int) -> float:
    """Median F0 of the clearly voiced 40 ms frames (autocorrelation peak at 60-400 Hz)."""
    frame, found = int(0.04 * rate), []
    for start in range(0, len(wave) - frame, frame // 2):
        x = wave[start : start + frame].astype(np.float64)
        x -= x.mean()
        corr = np.correlate(x, x, "full")[frame - 1 :]
        lag = int(rate / 400) + int(np.argmax(corr[int(rate / 400) : int(rate / 60)]))
        if corr[0] > 0 and corr[lag] > 0.6 * corr[0]:
            found.append(rate / lag)
    return float(np.median(found))


def test_every_natural_voice_speaks_plausibly_and_in_its_own_register():
    _needs("flite", "festival")
    keys = [v.key for v in voices.NATURAL]
    assert voices.check_voices(keys + ["espeak:base", "espeak:f3"]) == []
    sentence = "She sells sea shells by the sea shore."
    f0 = {key: _f0(*voices.synthesize([voices.Take(key, sentence)])[0]) for key in keys}
    female = {"flite:slt", "festival:cmu_us_slt_arctic_hts"}
    assert all(f0[k] > 150 for k in female), f0
    assert all(70 < f0[k] < 140 for k in keys if k not in female), f0
    # Festival: one process for several takes, each as if alone (no history), the same on every call
    alone = voices.synthesize([voices.Take("festival:ked_diphone", sentence, 1.1)])[0][0]
    batch = voices.synthesize([voices.Take("festival:cmu_us_slt_arctic_hts", "Good morning to you."),
                               voices.Take("festival:ked_diphone", sentence, 1.1)])  # fmt: skip
    assert np.array_equal(alone, batch[1][0])
    slower = voices.synthesize([voices.Take("flite:slt", sentence, 1.2)])[0][0]
    normal = voices.synthesize([voices.Take("flite:slt", sentence, 1.0)])[0][0]
    assert len(slower) / len(normal) == pytest.approx(1.2, rel=0.08)
    with pytest.raises(voices.VoiceError, match="unknown voice"):
        voices.voice("flite:nobody")


TINY_VOICES = {"train": ("flite:kal16", "espeak:m1"), "dev": ("espeak:f4",), "test": ("festival:ked_diphone",)}


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted((out / "audio").rglob("*.flac"))}


@pytest.mark.slow
def test_tiny_build_is_right_deterministic_and_resumes(sources, tmp_path):
    _needs("flite", "festival")
    from dfcnn.data import read_manifest

    root, wordnet = sources
    sentences = texts.load_sentences(root, wordnet)
    config = generate.CorpusConfig(
        num_train=8,
        num_dev=3,
        num_test=3,
        dev_fraction=0.2,
        test_fraction=0.2,
        babble_clips=3,
        espeak_share=0.5,  # fmt: skip
        augment=dataclasses.replace(generate.CorpusConfig().augment, noise_p=1.0),
    )
    first = tmp_path / "a"
    summary = prepare.build(first, config, sentences, TINY_VOICES, workers=2, log=lambda line: None)
    corpus = {s: read_manifest(first / f"{s}.jsonl") for s in generate.SPLITS}
    assert [len(corpus[s]) for s in generate.SPLITS] == [8, 3, 3]
    details = json.loads((first / "corpus.json").read_text())["utterances"]
    for split, utterances in corpus.items():
        for utt in utterances:
            audio, rate = soundfile.read(str(utt.audio_filepath), dtype="float32")
            assert rate == 16000 and audio.ndim == 1 and utt.audio_filepath.parent.name == split
            assert abs(len(audio) / rate - utt.duration) < 1e-3
            assert 0.2 * len(utt.text.split()) < utt.duration < 1.2 * len(utt.text.split()) + 1.0
            assert np.sqrt(np.mean(audio**2)) > 3e-3 and np.abs(audio).max() <= 0.99
            assert details[utt.utt_id]["voice"] in TINY_VOICES[split]
    said = {s: {u.text for u in corpus[s]} for s in generate.SPLITS}
    assert not said["train"] & said["dev"] and not said["train"] & said["test"] and not said["dev"] & said["test"]
    assert not texts.forbidden_texts(root) & set().union(*said.values())
    assert summary["splits"]["train"]["utterances"] == 8
    assert (first / "vocab.txt").read_text().split("\n")[0] == "<blank>"
    assert prepare.build(first, config, sentences, TINY_VOICES, log=lambda line: None) is None  # .done: no-op
    assert check.main(["--out", str(first)]) == 0

    second = tmp_path / "b"  # the same settings in one process: the same bytes
    prepare.build(second, config, sentences, TINY_VOICES, workers=1, log=lambda line: None)
    assert _files(second) == _files(first)
    assert (second / "train.jsonl").read_text() == (first / "train.jsonl").read_text().replace(str(first), str(second))

    # an interrupted run: .config written but no .done, one clip missing, a half-written temporary left
    (second / ".done").rename(second / ".config")
    lost = corpus["test"][0].audio_filepath.relative_to(first)
    (second / lost).unlink()
    (second / lost).with_name(".half.123.tmp").write_bytes(b"partial")
    kept = {p: p.stat().st_mtime_ns for p in (second / "audio").rglob("*.flac")}
    prepare.build(second, config, sentences, TINY_VOICES, workers=1, log=lambda line: None)
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in kept.items())  # finished files not redone
    assert _files(second) == _files(first) and not list((second / "audio").rglob("*.tmp"))

    clipped = second / lost  # check.py flags a clipping file
    audio, rate = soundfile.read(str(clipped), dtype="float32")
    soundfile.write(str(clipped), np.clip(audio * 100, -1, 1), rate, subtype="PCM_16")
    assert check.main(["--out", str(second)]) == 1

    other = dataclasses.replace(config, seed=1)  # other settings: other audio, stale files removed
    prepare.build(second, other, sentences, TINY_VOICES, workers=1, log=lambda line: None)
    assert _files(second) != _files(first)
