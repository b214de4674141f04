"""Your own words (--words) and grammars (--grammar): files, decoding, the front door and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
import torch
from conftest import shared_corpus
from test_decode import WORDS_TOKENIZER, spell, spelled_log_probs

from dfcnn.decode import (
    DEFAULT_WORDS_WEIGHT,
    SHIPPED,
    DecoderConfig,
    Shipped,
    build_decoder,
    decoder_config,
    resolve_decoder,
)
from dfcnn.errors import ConfigError, DfcnnError, VocabError
from dfcnn.lm import build_lm, write_lexicon
from dfcnn.pronounce import PHONES
from dfcnn.text import Tokenizer, build_vocab
from dfcnn.vocabulary import PhraseGrammar, read_phrases

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# the tiny model's units are a and b: each digit word gets a spelling of them, as a grammar line may give
TINY_SPELLINGS = ["a", "b", "a b", "b a", "a b a", "b a b", "a a", "b b", "a b b", "b a a"]


def dfcnn(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dfcnn", *map(str, args)], capture_output=True, text=True)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def decode_text(config: DecoderConfig, log_probs: torch.Tensor, tokenizer: Tokenizer = WORDS_TOKENIZER) -> str:
    return build_decoder(tokenizer, config).best(log_probs[None], torch.tensor([log_probs.shape[0]]))[0].text


# --- the words file -------------------------------------------------------------------------------


def test_words_are_spelt_from_the_dictionary_letter_to_sound_or_the_line(tmp_path):
    phones = Tokenizer(("<blank>", "|", *PHONES), unit="phone")
    path = write(
        tmp_path / "words.txt",
        "# names\n\nzero\nkubernetes  K UW1 B ER0 N EH1 T IY0 Z\nzxqvy\nNew York\ndoctor who\tD AA K T ER | HH UW\n",
    )
    phrases = read_phrases(path, phones)
    assert [p.words for p in phrases] == [("zero",), ("kubernetes",), ("zxqvy",), ("new", "york"), ("doctor", "who")]
    assert ("Z", "IH", "R", "OW") in phrases[0].spellings[0]  # CMUdict
    assert phrases[1].spellings == ((("K", "UW", "B", "ER", "N", "EH", "T", "IY", "Z"),),)  # given, stress dropped
    assert phrases[2].spellings[0] and all(len(s) >= 3 for s in phrases[2].spellings[0])  # letter-to-sound's guess
    assert phrases[4].spellings == ((("D", "AA", "K", "T", "ER"),), (("HH", "UW"),))
    assert phrases[3].where == f"{path}:6"
    characters = read_phrases(write(tmp_path / "chars.txt", "sad cat\n"), WORDS_TOKENIZER)
    assert characters[0].spellings == ((tuple("sad"),), (tuple("cat"),))  # a character model spells the word


@pytest.mark.parametrize(
    "text, message",
    [
        ("cat\ncat  c a x\n", r"words.txt:2: 'x' in the pronunciation of 'cat' is not a unit"),
        ("cat\n\nthe cat  t h e\n", r"words.txt:3: 2 word\(s\) \(the cat\) but 1 pronunciation"),
        ("cat\n#\nzebra\n", r"words.txt:3: cannot spell 'zebra' in this model's units \(char\)"),
        ("cat\n?!\n", r"words.txt:2: no word left in '\?!' once normalised"),
        ("# only a comment\n\n", r"words.txt: words file holds no words"),
    ],
)
def test_a_bad_words_file_is_one_line_naming_file_and_line(tmp_path, text, message):
    with pytest.raises(VocabError, match=message) as error:
        read_phrases(write(tmp_path / "words.txt", text), WORDS_TOKENIZER)
    assert "\n" not in str(error.value)


def test_a_missing_words_file_is_named(tmp_path):
    with pytest.raises(VocabError, match="missing.txt"):
        read_phrases(tmp_path / "missing.txt", WORDS_TOKENIZER)


# --- decoding with your words ---------------------------------------------------------------------

CAST = spelled_log_probs(WORDS_TOKENIZER, spell("the cast sat"))  # clearly spoken, but "cast" is no lexicon word


def test_an_added_word_is_written_with_a_lexicon_alone(tmp_path):
    lexicon = tmp_path / "lexicon.txt"
    write_lexicon(["the", "cat", "sat", "sad", "dog"], WORDS_TOKENIZER, lexicon)
    words = write(tmp_path / "words.txt", "cast\n")
    assert decode_text(DecoderConfig(lexicon=str(lexicon)), CAST) == "the cat sat"
    assert decode_text(DecoderConfig(lexicon=str(lexicon), words=str(words), words_weight=0.0), CAST) == "the cast sat"


def test_an_added_word_absent_from_the_lm_is_boosted_by_its_weight(tmp_path, kenlm):
    corpus = write(tmp_path / "corpus.txt", "the cat sat\nthe dog sat\nthe cat\nthe dog sad\n" * 5)
    model = build_lm([corpus], tmp_path / "lm", memory="64M", tokenizer=WORDS_TOKENIZER)
    words = write(tmp_path / "words.txt", "cast\n")
    with_lm = DecoderConfig(lm=str(model.binary), lm_weight=2.0)
    assert decode_text(with_lm, CAST) == "the cat sat"  # the LM's <unk> score keeps "cast" out
    # the score of "the cast sat" is 2.3 below "the cat sat" (measured here): a weight of 4 lifts it above
    assert (
        decode_text(DecoderConfig(lm=str(model.binary), lm_weight=2.0, words=str(words), words_weight=0.0), CAST)
        == "the cat sat"
    )
    assert (
        decode_text(DecoderConfig(lm=str(model.binary), lm_weight=2.0, words=str(words), words_weight=4.0), CAST)
        == "the cast sat"
    )
    # with the LM weighted 0 the LM is not consulted at all: the lexicon alone, and the words in it
    assert decode_text(DecoderConfig(lm=str(model.binary), lm_weight=0.0, words=str(words)), CAST) == "the cast sat"


def test_words_need_a_lexicon_to_join(tmp_path):
    with pytest.raises(DfcnnError, match="words.txt: your words join a lexicon, and this decoder has none"):
        build_decoder(WORDS_TOKENIZER, DecoderConfig(words=str(write(tmp_path / "words.txt", "cast\n"))))


@pytest.fixture
def fsdd_files() -> list[Path]:
    """Ten real recordings of FSDD's test split (index 0-4), one per digit."""
    recordings = shared_corpus("fsdd") / "recordings"
    files = [recordings / f"{digit}_jackson_{digit % 5}.wav" for digit in range(10)]
    return [file for file in files if file.is_file()] or pytest.skip(f"no FSDD test recordings in {recordings}")


def test_the_tiny_model_writes_a_word_only_once_it_is_added(tiny_model, fsdd_files, tmp_path):
    """The lexicon holds only "a"; the added word "b" is spelt exactly as the model's greedy output
    reads: before, it cannot be written; after, its path is the best one, boosted."""
    from dfcnn import load_model

    greedy = load_model(tiny_model, "cpu", decoder=None)
    heard = next((f for f in fsdd_files if greedy.transcribe(f).text.split() == ["b"]), None)
    if heard is None:
        pytest.skip("the tiny model reads no recording as 'b' here")  # its training is not bit-exact everywhere
    lexicon = write(tmp_path / "lexicon.txt", "a a\n")
    before = load_model(tiny_model, "cpu", decoder=DecoderConfig(lexicon=str(lexicon))).transcribe(heard).text
    words = write(tmp_path / "words.txt", "b\n")
    after = load_model(tiny_model, "cpu", decoder=DecoderConfig(lexicon=str(lexicon), words=str(words)))
    assert "b" not in before.split()
    assert "b" in after.transcribe(heard).text.split()


# --- grammars -------------------------------------------------------------------------------------


def test_phrase_grammar_accepts_its_phrases_and_snaps_to_the_nearest():
    grammar = PhraseGrammar([("yes",), ("no",), ("call", "home"), ("call", "home", "now")])
    assert grammar.accepts(["call", "home"]) and grammar.accepts(["call", "home", "now"])
    assert not grammar.accepts(["call"]) and not grammar.accepts(["yes", "no"]) and not grammar.accepts([])
    assert grammar.closest(["call", "homes"]) == ["call", "home"]
    assert grammar.closest(["yes", "yes"]) == ["yes"]
    assert grammar.closest([]) == ["yes"]  # ties: the first phrase
    repeated = PhraseGrammar([("one",), ("two",), ("one", "two", "three")], repeat=True)
    assert repeated.accepts(["one", "two", "one"]) and repeated.accepts(["one", "two", "three", "two"])
    assert not repeated.accepts(["three"]) and not repeated.accepts([])
    # one edit away, each: "tree" dropped, or read as one of the words that may follow "one"
    assert repeated.closest(["one", "tree", "two"]) in (["one", "two"], ["one", "one", "two"], ["one", "two", "two"])


def test_grammar_decoding_writes_only_its_phrases(tmp_path):
    grammar = write(tmp_path / "grammar.txt", "the cat\nthe dog sat\n")
    assert decode_text(DecoderConfig(grammar=str(grammar)), CAST) in {"the cat", "the dog sat"}
    two = spelled_log_probs(WORDS_TOKENIZER, spell("the cat the dog sat"))
    assert decode_text(DecoderConfig(grammar=str(grammar), grammar_repeat=True), two) == "the cat the dog sat"
    assert decode_text(DecoderConfig(grammar=str(grammar)), two) in {"the cat", "the dog sat"}
    silence = spelled_log_probs(WORDS_TOKENIZER, [{}] * 12)  # nothing said: still a phrase, the nearest
    assert decode_text(DecoderConfig(grammar=str(grammar)), silence) in {"the cat", "the dog sat"}


@pytest.fixture
def digit_grammar(tmp_path) -> Path:
    return write(tmp_path / "digits.txt", "".join(f"{w}  {s}\n" for w, s in zip(DIGITS, TINY_SPELLINGS)))


@pytest.mark.parametrize("repeat", [False, True])
def test_grammar_output_is_always_in_the_grammar_for_real_recordings(tiny_model, fsdd_files, digit_grammar, repeat):
    from dfcnn import load_model

    recognizer = load_model(tiny_model, "cpu", decoder=DecoderConfig(grammar=str(digit_grammar), grammar_repeat=repeat))
    assert recognizer.decoder.writes == "words"
    for file in fsdd_files:
        words = recognizer.transcribe(file).text.split()
        assert (len(words) >= 1 and set(words) <= set(DIGITS)) if repeat else len(words) == 1 and words[0] in DIGITS


def test_a_bad_grammar_line_is_named(tiny_model, tmp_path):
    grammar = write(tmp_path / "digits.txt", "zero  a\none  b c\n")
    with pytest.raises(VocabError, match=r"digits.txt:2: 'c' in the pronunciation of 'one' is not a unit"):
        build_decoder(Tokenizer(("<blank>", "|", "a", "b")), DecoderConfig(grammar=str(grammar)))


# --- options: Python, decoder.json and the command line -----------------------------------------


def test_decoder_options_with_words_or_a_grammar(tmp_path):
    assert decoder_config(words="names.txt") == Shipped({"words": "names.txt"})
    assert decoder_config(words=Path("n.txt"), words_weight=2.0) == Shipped({"words": "n.txt", "words_weight": 2.0})
    assert decoder_config(words="n.txt", lexicon="l.txt") == DecoderConfig(words="n.txt", lexicon="l.txt")
    with pytest.raises(ConfigError, match="grammar restricts the output to its phrases, --words adds"):
        decoder_config(words="n.txt", grammar="g.txt")
    with pytest.raises(ConfigError, match="grammar decodes with its own words and no LM"):
        DecoderConfig(grammar="g.txt", lm="lm.bin")
    with pytest.raises(ConfigError, match="grammar_repeat needs a grammar"):
        DecoderConfig(grammar_repeat=True)
    with pytest.raises(ConfigError, match="words_weight must be a finite number"):
        decoder_config(words="n.txt", words_weight=float("nan"))
    with pytest.raises(DfcnnError, match="--greedy decodes without beam search"):
        decoder_config(greedy=True, grammar="g.txt")
    assert not DecoderConfig(words="n.txt").is_greedy and not DecoderConfig(grammar="g.txt").is_greedy
    described = DecoderConfig(grammar="g/digits.txt", grammar_repeat=True).describe()
    assert described == "beam 50, grammar digits.txt (repeated)"


def test_words_and_grammars_go_on_top_of_the_shipped_decoder(tmp_path):
    from dfcnn.evaluate import write_decoder_config

    model = tmp_path / "model"
    model.mkdir()
    write_decoder_config(model / "decoder.json", DecoderConfig(lexicon=str(tmp_path / "lexicon.txt"), beam_size=8))
    shipped = resolve_decoder(SHIPPED, model)
    with_words = DecoderConfig(**{**shipped.to_dict(), "words": "n.txt"})
    assert resolve_decoder(decoder_config(words="n.txt"), model) == with_words
    # your words get today's default weight, not the one an older decoder.json recorded, unless you give one
    write_decoder_config(model / "decoder.json", DecoderConfig(lexicon=str(tmp_path / "lexicon.txt"), words_weight=1.5))
    assert resolve_decoder(decoder_config(words="n.txt"), model).words_weight == DEFAULT_WORDS_WEIGHT
    assert resolve_decoder(decoder_config(words="n.txt", words_weight=3.0), model).words_weight == 3.0
    write_decoder_config(model / "decoder.json", DecoderConfig(lexicon=str(tmp_path / "lexicon.txt"), beam_size=8))
    # a grammar replaces the shipped lexicon and LM, and keeps its beam
    assert resolve_decoder(decoder_config(grammar="g.txt"), model) == DecoderConfig(beam_size=8, grammar="g.txt")
    assert resolve_decoder(decoder_config(grammar="g.txt"), tmp_path) == DecoderConfig(grammar="g.txt")  # greedy model
    # a shipped decoder may carry your words or grammar: named relative to decoder.json, as the lexicon is
    write_decoder_config(model / "decoder.json", DecoderConfig(grammar=str(tmp_path / "model" / "digits.txt")))
    assert '"grammar": "digits.txt"' in (model / "decoder.json").read_text()
    assert resolve_decoder(SHIPPED, model).grammar == str(model / "digits.txt")


def test_transcribe_serve_and_evaluate_take_words_and_grammar():
    from dfcnn.arguments import decoder_from_args
    from dfcnn.cli import build_parser

    parser = build_parser()
    for command in (["transcribe", "x.wav"], ["serve"], ["evaluate", "--model", "m", "--manifest", "m.jsonl"]):
        args = parser.parse_args([*command, "--words", "names.txt", "--words-weight", "3"])
        assert decoder_from_args(args) == Shipped({"words": "names.txt", "words_weight": 3.0})
        args = parser.parse_args([*command, "--grammar", "digits.txt", "--grammar-repeat", "--beam-size", "8"])
        assert decoder_from_args(args) == DecoderConfig(beam_size=8, grammar="digits.txt", grammar_repeat=True)
        with pytest.raises(DfcnnError, match="^--grammar restricts the output to its phrases"):
            decoder_from_args(parser.parse_args([*command, "--words", "n.txt", "--grammar", "g.txt"]))


def test_transcribe_with_words_and_grammar_from_the_command_line(tiny_model, fsdd_files, digit_grammar, tmp_path):
    file = fsdd_files[0]
    result = dfcnn("transcribe", "--model", tiny_model, "--device", "cpu", "--grammar", digit_grammar, file)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in DIGITS
    lexicon = write(tmp_path / "lexicon.txt", "a a\n")
    words = write(tmp_path / "words.txt", "bee  b\n")
    greedy = dfcnn("transcribe", "--model", tiny_model, "--device", "cpu", "--greedy", file).stdout.split()
    result = dfcnn(
        "transcribe",
        "--model",
        tiny_model,
        "--device",
        "cpu",
        "--lexicon",
        lexicon,
        "--words",
        words,
        "--words-weight",
        "50",
        file,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) <= {"a", "bee"}
    assert ("bee" in result.stdout.split()) == ("b" in greedy)  # "bee" is spelt b: the model's own reading


@pytest.mark.parametrize(
    "options, message",
    [
        (["--words", "WORDS", "--grammar", "GRAMMAR"], "dfcnn: error: --grammar restricts the output to its phrases"),
        (["--grammar", "BAD"], "dfcnn: error: BAD:2: 'z' in the pronunciation of 'one' is not a unit of this model"),
        (["--lexicon", "LEXICON", "--words", "BAD"], "dfcnn: error: BAD:2: 'z' in the pronunciation of 'one'"),
    ],
)
def test_command_line_errors_are_one_line(tiny_model, fsdd_files, digit_grammar, tmp_path, options, message):
    files = {
        "WORDS": write(tmp_path / "words.txt", "bee  b\n"),
        "GRAMMAR": digit_grammar,
        "BAD": write(tmp_path / "bad.txt", "zero  a\none  z\n"),
        "LEXICON": write(tmp_path / "lex.txt", "a a\n"),
    }
    options = [str(files.get(option, option)) for option in options]
    result = dfcnn("transcribe", "--model", tiny_model, "--device", "cpu", *options, fsdd_files[0])
    assert result.returncode == 1
    expected = message.replace("BAD", str(files["BAD"]))
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1, result.stderr


# the tiny model's letters cannot spell the digit words: evaluate says so, though the grammar gives their spellings
@pytest.mark.filterwarnings("ignore:.*characters outside the model's vocabulary")
def test_evaluate_scores_through_a_grammar(tiny_model, fsdd_files, digit_grammar, tmp_path):
    from dfcnn.data import Utterance, write_manifest
    from dfcnn.evaluate import evaluate

    manifest = tmp_path / "digits.jsonl"
    write_manifest(
        manifest, [Utterance(f, soundfile.info(str(f)).duration, DIGITS[int(f.name[0])], f.stem) for f in fsdd_files]
    )
    score, table = evaluate(
        tiny_model, manifest, device="cpu", progress=False, decoder=DecoderConfig(grammar=str(digit_grammar))
    )
    assert score.words.insertions == score.words.deletions == 0  # one digit out for each digit in
    assert f"|digits|{len(fsdd_files)}|{len(fsdd_files)}|" in table


def test_grammar_tokens_of_a_new_vocabulary(tmp_path):
    """A grammar word spelt in letters outside the lexicon of any LM: only the vocabulary matters."""
    tokenizer = Tokenizer(tuple(build_vocab(["yes no"])), "english")
    grammar = write(tmp_path / "yesno.txt", "yes\nno\n")
    for word in ("yes", "no"):
        log_probs = spelled_log_probs(tokenizer, spell(word))
        assert decode_text(DecoderConfig(grammar=str(grammar)), log_probs, tokenizer) == word


def test_serve_loads_a_model_with_your_words_or_grammar(tiny_model, digit_grammar, tmp_path):
    from dfcnn.cli import build_parser
    from dfcnn.serve.commands import _load

    parser = build_parser()
    lexicon, words = write(tmp_path / "lexicon.txt", "a a\n"), write(tmp_path / "words.txt", "bee  b\n")
    served = _load(
        parser.parse_args(
            ["serve", "--model", str(tiny_model), "--device", "cpu", "--lexicon", str(lexicon), "--words", str(words)]
        )
    )
    assert served.decoder.config.words == str(words) and served.decoder.writes == "words"
    served = _load(
        parser.parse_args(["serve", "--model", str(tiny_model), "--device", "cpu", "--grammar", str(digit_grammar)])
    )
    assert served.decoder.grammar is not None and served.decoder.config.grammar == str(digit_grammar)


def test_evaluate_compare_adds_the_words_row_last(tmp_path):
    from dfcnn.evaluate import decoder_variants

    lexicon = tmp_path / "lexicon.txt"
    write_lexicon(["the", "cat"], WORDS_TOKENIZER, lexicon)
    config = DecoderConfig(lexicon=str(lexicon), words="names.txt", beam_size=8)
    variants = decoder_variants(config, WORDS_TOKENIZER)
    assert list(variants) == ["greedy", "beam", "beam+lexicon", "beam+lexicon+words"]
    assert variants["beam+lexicon+words"] is config and variants["beam+lexicon"].words is None
    grammar = decoder_variants(DecoderConfig(grammar="digits.txt"), WORDS_TOKENIZER)
    assert list(grammar) == ["greedy", "beam", "beam+grammar"] and grammar["beam"].grammar is None


def test_an_exported_model_ships_its_grammar_beside_it(tmp_path, digit_grammar):
    from dfcnn.deploy.export import ship_decoder

    out = tmp_path / "deploy"
    out.mkdir()
    shipped = ship_decoder(DecoderConfig(grammar=str(digit_grammar), grammar_repeat=True), out, WORDS_TOKENIZER)
    assert (out / "digits.txt").read_text() == digit_grammar.read_text()
    assert resolve_decoder(SHIPPED, out) == DecoderConfig(grammar=str(out / "digits.txt"), grammar_repeat=True)
    assert shipped == out / "decoder.json"
