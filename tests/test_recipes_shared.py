"""The prepare stage of the cathy_arctic, ljspeech_subset, aishell1_sample and aishell3_SSB0139
recipes, on the real shared corpora.

Each recipe's prepare function (``recipes.<corpus>.prepare``) runs into a temporary folder; the manifests it
writes are read back with ``dfcnn.data.read_manifest``. A test skips when its corpus is not under
$DFCNN_DATA (``shared_corpus``). Durations come from the file headers: the module runs in seconds.
A malformed transcript is tested on a copy of the corpus whose audio folders are links to the real
ones and whose transcript file is corrupted.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import shared_corpus

from dfcnn.data import read_manifest
from dfcnn.errors import DfcnnError
from dfcnn.text import Tokenizer, normalize_english, normalize_mandarin, to_pinyin
from recipes.aishell1_sample.prepare import prepare_aishell1_sample
from recipes.aishell3_SSB0139.prepare import prepare_aishell3_SSB0139
from recipes.cathy_arctic.prepare import prepare_cathy_arctic
from recipes.common import check_fractions, hash_ranked, held_out, held_out_speakers, read_transcript
from recipes.ljspeech_subset.prepare import prepare_ljspeech_subset

SPLITS = ("train", "dev", "test")
SYLLABLE = re.compile(r"[a-z]+[1-5]")


PREPARE = {
    "cathy_arctic": prepare_cathy_arctic,
    "ljspeech_subset": prepare_ljspeech_subset,
    "aishell1_sample": prepare_aishell1_sample,
    "aishell3_SSB0139": prepare_aishell3_SSB0139,
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """(corpus, options) -> {split: utterances read back}; each is prepared once per module."""
    cache = {}

    def run(corpus: str, **options):
        key = (corpus, tuple(sorted(options.items())))
        if key not in cache:
            source = shared_corpus(corpus)
            out = tmp_path_factory.mktemp(corpus)
            returned = PREPARE[corpus](source, out, **options)
            manifests = {split: read_manifest(out / f"{split}.jsonl") for split in SPLITS}
            assert {s: [u.utt_id for u in us] for s, us in returned.items()} == {
                s: [u.utt_id for u in us] for s, us in manifests.items()
            }
            cache[key] = out, manifests
        return cache[key]

    return run


def check_common(out: Path, splits: dict, normalizer: str) -> None:
    """Existing audio, positive durations, unique ids, normalised texts, a vocab that covers train."""
    ids = [u.utt_id for utterances in splits.values() for u in utterances]
    assert len(ids) == len(set(ids)), "an utterance is in two splits or twice in one"
    normalize = normalize_english if normalizer == "english" else normalize_mandarin
    for utterances in splits.values():
        assert utterances
        for utt in utterances:
            assert utt.audio_filepath.is_absolute() and utt.audio_filepath.is_file(), utt
            assert utt.duration > 0, utt
            assert utt.text and utt.text == normalize(utt.text), utt
    unit = "char" if normalizer == "english" else "pinyin"
    tokenizer = Tokenizer.from_file(out / "vocab.txt", normalizer=normalizer, unit=unit)
    for utt in splits["train"]:
        tokenizer.encode(utt.text)  # raises VocabError on a token the vocabulary lacks
    if unit == "char":
        expected = {c for u in splits["train"] for c in u.text} - {" "}
    else:
        expected = {s for u in splits["train"] for s in to_pinyin(u.text)}
        assert all(SYLLABLE.fullmatch(s) for s in expected)
    assert set(tokenizer.tokens) == {"<blank>", "|"} | expected  # from the train texts only


def hours(utterances) -> float:
    return sum(u.duration for u in utterances) / 3600


def corrupt_copy(source: Path, tmp_path: Path, transcript: str, line: int, replacement: str) -> Path:
    """A corpus folder in tmp_path: links to everything in ``source`` but a copy of ``transcript``
    (relative path) whose ``line`` is ``replacement``."""
    copy = tmp_path / source.name
    for item in source.rglob("*"):
        if item.is_file() and str(item.relative_to(source)) != transcript:
            target = copy / item.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(item)
    lines = (source / transcript).read_text(encoding="utf-8").splitlines()
    lines[line - 1] = replacement
    (copy / transcript).parent.mkdir(parents=True, exist_ok=True)
    (copy / transcript).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return copy


# cathy_arctic


def test_cathy_arctic_splits_by_prompt(prepared):
    out, splits = prepared("cathy_arctic")
    check_common(out, splits, "english")
    assert sum(len(s) for s in splits.values()) == 1620
    assert 1.3 < sum(hours(s) for s in splits.values()) < 1.45
    assert 60 <= len(splits["dev"]) <= 120 and 60 <= len(splits["test"]) <= 120
    prompts = {s: {u.utt_id.rsplit("_", 1)[0] for u in us} for s, us in splits.items()}
    texts = {s: {u.text for u in us} for s, us in splits.items()}
    for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
        assert not prompts[a] & prompts[b], f"a prompt id in {a} and {b}"
        assert not texts[a] & texts[b], f"a sentence in {a} and {b}"
    # arctic_b0536 and arctic_b0537 are the same sentence: they must land together
    assert sum({"arctic_b0536", "arctic_b0537"} <= p for p in prompts.values()) == 1
    assert len(set().union(*prompts.values())) == 1132
    source = shared_corpus("cathy_arctic")
    for utt in splits["test"][:20]:
        raw = (source / "data_16k" / f"{utt.utt_id}.txt").read_text(encoding="utf-8")
        assert utt.text == normalize_english(raw)
    assert splits["train"][0].text == "author of the danger trail philip steels etc"


def test_cathy_arctic_malformed_prompt_line(tmp_path):
    source = shared_corpus("cathy_arctic")
    copy = tmp_path / "cathy_arctic"
    copy.mkdir()
    (copy / "data_16k").symlink_to(source / "data_16k")
    lines = (source / "cmuarctic.data").read_text(encoding="utf-8").splitlines()
    lines[6] = "( arctic_a0007 missing quotes )"
    (copy / "cmuarctic.data").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DfcnnError, match=re.escape(f"{copy / 'cmuarctic.data'}:7:")):
        prepare_cathy_arctic(copy, tmp_path / "out")


# ljspeech_subset


def test_ljspeech_subset_split_by_id(prepared):
    out, splits = prepared("ljspeech_subset")
    check_common(out, splits, "english")
    assert [len(splits[s]) for s in SPLITS] == [327, 29, 29]
    assert 0.68 < sum(hours(s) for s in splits.values()) < 0.71
    ids = {s: {u.utt_id for u in us} for s, us in splits.items()}
    assert not ids["train"] & ids["dev"] and not ids["train"] & ids["test"] and not ids["dev"] & ids["test"]
    source = shared_corpus("ljspeech_subset") / "LJSpeech-1.1" / "metadata_subset.csv"
    normalized = {}
    for line in source.read_text(encoding="utf-8").splitlines():
        clip, _, text = line.split("|")
        normalized[clip] = text
    assert set(normalized) == set().union(*ids.values())
    for utt in splits["dev"] + splits["test"]:
        assert utt.text == normalize_english(normalized[utt.utt_id])  # the normalized (third) field


def test_ljspeech_subset_malformed_line(tmp_path):
    transcript = "LJSpeech-1.1/metadata_subset.csv"
    copy = corrupt_copy(shared_corpus("ljspeech_subset"), tmp_path, transcript, 12, "LJ001-0012|only two fields")
    with pytest.raises(DfcnnError, match=re.escape(f"{copy / transcript}:12:")):
        prepare_ljspeech_subset(copy, tmp_path / "out")


# aishell1_sample


def speaker(utt) -> str:
    return utt.utt_id[6:11]  # BAC009S0150W0001 -> S0150


def test_aishell1_sample_sentence_split(prepared):
    out, splits = prepared("aishell1_sample")
    check_common(out, splits, "mandarin")
    assert sum(len(s) for s in splits.values()) == 1000 - 71  # the utterances with Latin words are out
    assert 60 <= len(splits["dev"]) <= 90 and 60 <= len(splits["test"]) <= 90
    texts = {s: {u.text for u in us} for s, us in splits.items()}
    for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
        assert not texts[a] & texts[b], f"a sentence in {a} and {b}"
    for utterances in splits.values():
        assert {speaker(u) for u in utterances} == {"S0150", "S0252"}
    assert not any(re.search(r"[a-z0-9]", u.text) for us in splits.values() for u in us)
    source = shared_corpus("aishell1_sample") / "AISHELL_Sample_data"
    for utt in splits["test"][:20]:
        assert utt.text == normalize_mandarin((source / f"{utt.utt_id}.txt").read_text(encoding="utf-8-sig"))
    assert not any("\ufeff" in u.text for us in splits.values() for u in us)  # byte-order marks dropped


def test_aishell1_sample_speaker_split(prepared):
    out, splits = prepared("aishell1_sample", split="speaker")
    check_common(out, splits, "mandarin")
    assert {speaker(u) for u in splits["train"] + splits["dev"]} == {"S0150"}
    assert {speaker(u) for u in splits["test"]} == {"S0252"}
    assert len(splits["test"]) == 466  # 500 less 34 with Latin words
    assert not {u.text for u in splits["train"]} & {u.text for u in splits["dev"]}
    assert 25 <= len(splits["dev"]) <= 50


def test_aishell1_sample_malformed_transcript(tmp_path):
    source = shared_corpus("aishell1_sample")
    copy = tmp_path / "aishell1_sample" / "AISHELL_Sample_data"
    copy.mkdir(parents=True)
    for stem in ("BAC009S0150W0001", "BAC009S0150W0002"):
        (copy / f"{stem}.opus").symlink_to(source / "AISHELL_Sample_data" / f"{stem}.opus")
    (copy / "BAC009S0150W0001.txt").write_text("设定二十九度\n", encoding="utf-8")
    (copy / "BAC009S0150W0002.txt").write_text("第一行\n\n第二行\n", encoding="utf-8")
    with pytest.raises(DfcnnError, match=re.escape(f"{copy / 'BAC009S0150W0002.txt'}:3:")):
        prepare_aishell1_sample(copy.parent, tmp_path / "out")


# aishell3_SSB0139


def test_aishell3_ssb0139_given_split(prepared):
    out, splits = prepared("aishell3_SSB0139")
    check_common(out, splits, "mandarin")
    assert len(splits["train"]) + len(splits["dev"]) == 476
    assert len(splits["test"]) == 14
    assert len(splits["dev"]) == round(0.05 * 476)
    source = shared_corpus("aishell3_SSB0139")
    given = {}
    for line in (source / "test_sample" / "content_sample.txt").read_text(encoding="utf-8").splitlines():
        name, tokens = line.split("\t")
        given[name[: -len(".wav")]] = "".join(tokens.split()[0::2])
    assert {u.utt_id: u.text for u in splits["test"]} == given
    assert not {u.utt_id for u in splits["train"] + splits["dev"]} & set(given)


def test_aishell3_ssb0139_malformed_line(tmp_path):
    transcript = "train_sample/content.txt"
    copy = corrupt_copy(shared_corpus("aishell3_SSB0139"), tmp_path, transcript, 5, "SSB01390005.wav\t我 wo3 知")
    with pytest.raises(DfcnnError, match=re.escape(f"{copy / transcript}:5:")):
        prepare_aishell3_SSB0139(copy, tmp_path / "out")


# recipes/common.py: the hash-ranked held-out sets every split above is drawn with


def test_held_out_sets_are_disjoint_sized_and_fixed():
    keys = [f"utt{i:03d}" for i in range(200)]
    test, dev = held_out(keys + keys[:50], (0.05, 0.1))  # a repeated key counts once
    assert len(test) == 10 and len(dev) == 20 and not test & dev
    assert held_out(reversed(keys), (0.05, 0.1)) == [test, dev]  # the input order does not matter
    # the order is the keys' MD5, so a split is the same on every machine and Python version
    assert hash_ranked(keys)[:3] == ["utt109", "utt098", "utt037"]
    assert hash_ranked(keys)[0] in test
    with pytest.raises(DfcnnError, match="--dev-fraction and --test-fraction must be in"):
        check_fractions(0.6, 0.5)
    with pytest.raises(DfcnnError, match="--dev-fraction must be between 0 and 1, got 0"):
        check_fractions(0)


def test_held_out_speakers_in_proportion_and_at_least_one():
    children = [f"child{i:02d}" for i in range(62)]
    adults = [f"adult{i:02d}" for i in range(63)]
    dev = held_out_speakers([children, adults], 0.08)  # 10 of 125: 4.96 + 5.04 -> 5 + 5 by largest remainder
    assert len(dev & set(children)) == 5 and len(dev & set(adults)) == 5
    assert dev == held_out_speakers([reversed(children), adults + adults[:3]], 0.08)  # order and repeats do not matter
    assert dev & set(children) == set(hash_ranked(children)[:5])  # the first of each group by MD5 rank
    assert held_out_speakers([["a", "b", "c"]], 0.1) == {hash_ranked("abc")[0]}  # rounds to 0: still one
    assert held_out_speakers([[]], 0.5) == set()


def test_read_transcript_one_line_normalised(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("\ufeffHello, World!\n\n", encoding="utf-8")
    assert read_transcript(path, normalize_english) == "hello world"
    for content, message in (
        ("\n \n", ":1: empty transcript"),
        ("one\n\ntwo\n", ":3: expected one line"),
        ("\n?!\n", ":2: nothing left of the transcript once normalised: '?!'"),
    ):
        path.write_text(content, encoding="utf-8")
        with pytest.raises(DfcnnError, match=re.escape(f"{path}{message}")):
            read_transcript(path, normalize_english)
    with pytest.raises(DfcnnError, match=re.escape(f"{tmp_path / 'b.txt'}: transcript not found")):
        read_transcript(tmp_path / "b.txt", normalize_english)
