import math
from pathlib import Path

import pytest
import torch

from dfcnn.decode import BeamSearchDecoder, DecoderConfig, GreedyDecoder, build_decoder
from dfcnn.errors import ConfigError, DfcnnError, VocabError
from dfcnn.lm import build_lm, write_lexicon
from dfcnn.text import Tokenizer, build_vocab

TOK = Tokenizer(("<blank>", "|", "a", "b", "c"))


def greedy_decode(log_probs, lengths, tokenizer):
    return GreedyDecoder(tokenizer, DecoderConfig()).best(log_probs, lengths)


def log_probs_from_path(path: list[int], vocab: int = 5, confidence: float = 0.9) -> torch.Tensor:
    """(T, V) log-probs whose best path is ``path``."""
    rest = (1 - confidence) / (vocab - 1)
    probs = torch.full((len(path), vocab), rest)
    for t, token in enumerate(path):
        probs[t, token] = confidence
    return probs.log()


def test_greedy_merges_repeats_and_drops_blanks():
    path = [0, 2, 2, 0, 2, 3, 3, 1, 4, 0]  # a a _ a b b | c _
    hyp = greedy_decode(log_probs_from_path(path)[None], torch.tensor([10]), TOK)[0]
    assert hyp.tokens == [2, 2, 3, 1, 4]
    assert hyp.text == "aab c"
    assert hyp.frames == [1, 4, 5, 7, 8]
    assert math.isclose(hyp.score, 10 * math.log(0.9), rel_tol=1e-5)


def test_greedy_ignores_padded_frames_and_decodes_each_row():
    first = log_probs_from_path([2, 0, 3, 0, 4, 4])
    second = log_probs_from_path([4, 4, 0, 0, 0, 0])
    second[2:] = log_probs_from_path([2, 2, 2, 2])  # padding beyond length 2 would read "a"
    hyps = greedy_decode(torch.stack([first, second]), torch.tensor([6, 2]), TOK)
    assert [h.text for h in hyps] == ["abc", "c"]
    assert hyps[1].frames == [0]


def test_greedy_all_blank_is_empty():
    hyp = greedy_decode(log_probs_from_path([0, 0, 0])[None], torch.tensor([3]), TOK)[0]
    assert hyp.text == "" and hyp.tokens == [] and hyp.frames == []


def test_greedy_on_zero_frames():
    hyp = greedy_decode(torch.zeros(1, 0, 5), torch.tensor([0]), TOK)[0]
    assert hyp.text == "" and hyp.score == 0.0


# --- beam search -------------------------------------------------------------------------------

WORDS_TOKENIZER = Tokenizer(tuple(build_vocab(["the cat sat sad dog"])), "english")


def spelled_log_probs(tokenizer: Tokenizer, frames: list[dict[str, float]]) -> torch.Tensor:
    """(T, V) log-probs: each frame a {token: probability} dict, the rest of the mass on blank."""
    probs = torch.full((len(frames), len(tokenizer)), 1e-4)
    for t, frame in enumerate(frames):
        for token, p in frame.items():
            probs[t, tokenizer.tokens.index(token)] = p
        probs[t, 0] = max(1e-4, 1.0 - sum(frame.values()))
    return (probs / probs.sum(dim=1, keepdim=True)).log()


def spell(text: str, confusions: dict[int, dict[str, float]] | None = None) -> list[dict[str, float]]:
    """A clear frame per character (| between words) with a blank frame after each."""
    frames = []
    for index, char in enumerate(text):
        frames += [(confusions or {}).get(index, {"|" if char == " " else char: 0.9}), {}]
    return frames


def test_beam_search_without_lexicon_agrees_with_greedy_on_clear_input():
    log_probs = spelled_log_probs(WORDS_TOKENIZER, spell("the cat sat"))[None]
    lengths = torch.tensor([log_probs.shape[1]])
    beam = BeamSearchDecoder(WORDS_TOKENIZER, DecoderConfig(beam_size=8)).decode(log_probs, lengths)[0][0]
    assert beam.text == greedy_decode(log_probs, lengths, WORDS_TOKENIZER)[0].text == "the cat sat"
    assert [WORDS_TOKENIZER.tokens[t] for t in beam.tokens] == list("the|cat|sat")


def test_lexicon_constrains_output_to_its_words(tmp_path):
    # acoustically "the cst sat": greedy keeps the non-word, the lexicon forces a real one
    frames = spell("the cst sat", {5: {"s": 0.5, "a": 0.4}})
    log_probs = spelled_log_probs(WORDS_TOKENIZER, frames)[None]
    lengths = torch.tensor([log_probs.shape[1]])
    assert greedy_decode(log_probs, lengths, WORDS_TOKENIZER)[0].text == "the cst sat"
    lexicon = tmp_path / "lexicon.txt"
    write_lexicon(["the", "cat", "sat", "sad"], WORDS_TOKENIZER, lexicon)
    decoder = BeamSearchDecoder(WORDS_TOKENIZER, DecoderConfig(lexicon=str(lexicon), nbest=3))
    nbest = decoder.decode(log_probs, lengths)[0]
    assert nbest[0].text == "the cat sat"
    assert all(set(h.text.split()) <= {"the", "cat", "sat", "sad"} for h in nbest)
    assert nbest[0].score >= nbest[-1].score


def test_language_model_fixes_an_acoustic_confusion(tmp_path, kenlm):
    # the last letter sounds more like "d" than "t": greedy and the lexicon alone say "sad";
    # an LM that has only ever seen cats sit says "sat"
    frames = spell("the cat sat", {10: {"d": 0.55, "t": 0.4}})
    log_probs = spelled_log_probs(WORDS_TOKENIZER, frames)[None]
    lengths = torch.tensor([log_probs.shape[1]])
    assert greedy_decode(log_probs, lengths, WORDS_TOKENIZER)[0].text == "the cat sad"
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat\nthe dog sat\nthe cat\nthe dog sad\n" * 5)
    model = build_lm([corpus], tmp_path / "lm", memory="64M", tokenizer=WORDS_TOKENIZER)
    write_lexicon(["the", "cat", "sat", "sad", "dog"], WORDS_TOKENIZER, model.lexicon)
    lexicon_only = BeamSearchDecoder(WORDS_TOKENIZER, DecoderConfig(lexicon=str(model.lexicon)))
    assert lexicon_only.decode(log_probs, lengths)[0][0].text == "the cat sad"
    with_lm = BeamSearchDecoder(WORDS_TOKENIZER, DecoderConfig(lm=str(model.binary), lm_weight=2.0))
    assert with_lm.decode(log_probs, lengths)[0][0].text == "the cat sat"  # lexicon.txt beside the LM is found
    with_arpa = BeamSearchDecoder(
        WORDS_TOKENIZER, DecoderConfig(lm=str(model.arpa), lexicon=str(model.lexicon), lm_weight=2.0)
    )
    assert with_arpa.decode(log_probs, lengths)[0][0].text == "the cat sat"


def test_lexicon_is_derived_from_an_arpa_lm_alone(tmp_path):
    arpa = tmp_path / "only.arpa"
    arpa.write_text(  # a hand-written bigram LM: KenLM needs at least order 2
        "\\data\\\nngram 1=5\nngram 2=2\n\n\\1-grams:\n-1.0\t<unk>\t0\n0\t<s>\t-0.3\n-0.5\t</s>\t0\n"
        "-0.5\tcat\t-0.2\n-0.5\tthe\t-0.2\n\n\\2-grams:\n-0.1\t<s> the\n-0.1\tthe cat\n\n\\end\\\n"
    )
    log_probs = spelled_log_probs(WORDS_TOKENIZER, spell("the cat"))[None]
    decoder = BeamSearchDecoder(WORDS_TOKENIZER, DecoderConfig(lm=str(arpa)))
    assert decoder.decode(log_probs, torch.tensor([log_probs.shape[1]]))[0][0].text == "the cat"


@pytest.mark.parametrize(
    "config, message",
    [
        (DecoderConfig(lm="missing.bin"), "missing.bin: language model not found"),
        (DecoderConfig(lexicon="missing.txt"), "missing.txt: lexicon not found"),
    ],
)
def test_decoder_input_errors_name_the_file(config, message):
    with pytest.raises(DfcnnError, match=message):
        BeamSearchDecoder(WORDS_TOKENIZER, config)


def test_binary_lm_without_lexicon_says_what_to_give(tmp_path):
    binary = tmp_path / "lm.bin"
    binary.write_bytes(b"mmap lm http://kheafield.com/code format version 5\0" + bytes(100))
    with pytest.raises(DfcnnError, match="binary LM needs a lexicon"):
        BeamSearchDecoder(WORDS_TOKENIZER, DecoderConfig(lm=str(binary)))


def test_lexicon_with_a_token_outside_the_vocabulary_is_refused(tmp_path):
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("the t h e |\nzoo z o o |\n")
    with pytest.raises(VocabError, match=r"lexicon.txt:2"):
        BeamSearchDecoder(WORDS_TOKENIZER, DecoderConfig(lexicon=str(lexicon)))


def test_build_decoder_picks_greedy_or_beam_and_says_what_it_writes(tmp_path):
    assert isinstance(build_decoder(TOK), GreedyDecoder) and build_decoder(TOK).writes == "units"
    assert isinstance(build_decoder(WORDS_TOKENIZER, DecoderConfig(beam_size=4)), BeamSearchDecoder)
    assert build_decoder(WORDS_TOKENIZER, DecoderConfig(beam_size=4)).writes == "units"
    lexicon = tmp_path / "lexicon.txt"
    write_lexicon(["the", "cat"], WORDS_TOKENIZER, lexicon)
    with_lexicon = build_decoder(WORDS_TOKENIZER, DecoderConfig(lexicon=str(lexicon)))
    assert with_lexicon.writes == "words" and with_lexicon.config.beam == 50  # a lexicon asks for the beam
    # references are scored in the form the decoder writes: normalised words here
    assert with_lexicon.reference("The CAT!") == "the cat"
    assert with_lexicon.score(["The cat."], ["the cat"]).wer == 0.0


@pytest.mark.parametrize(
    "values, message",
    [
        ({"beam_size": 0}, "beam_size must be at least 1"),
        ({"nbest": 0}, "nbest must be at least 1"),
        ({"lm_weight": float("nan")}, "lm_weight must be a finite number"),
    ],
)
def test_decoder_options_are_checked(values, message):
    with pytest.raises(ConfigError, match=message):
        DecoderConfig(**values)


def test_decoder_config_file_round_trip_and_errors(tmp_path):
    from dfcnn.evaluate import write_decoder_config

    (tmp_path / "lm").mkdir()
    config = DecoderConfig(lm=str(tmp_path / "lm" / "lm.bin"), lm_weight=1.5, word_score=-1.0)
    write_decoder_config(tmp_path / "exp" / "decoder.json", config)
    text = (tmp_path / "exp" / "decoder.json").read_text()
    assert '"lm": "../lm/lm.bin"' in text  # relative: the folders move together
    assert DecoderConfig.from_file(tmp_path / "exp" / "decoder.json").lm_weight == 1.5
    assert Path(DecoderConfig.from_file(tmp_path / "exp" / "decoder.json").lm).resolve() == tmp_path / "lm" / "lm.bin"
    (tmp_path / "bad.json").write_text('{"lm_wieght": 2}')
    with pytest.raises(ConfigError, match="bad.json: unknown decoder option 'lm_wieght'"):
        DecoderConfig.from_file(tmp_path / "bad.json")
    (tmp_path / "type.json").write_text('{"beam_size": "big"}')
    with pytest.raises(ConfigError, match="type.json: decoder option 'beam_size' has the wrong type"):
        DecoderConfig.from_file(tmp_path / "type.json")


# --- blank penalty ------------------------------------------------------------------------------


def test_blank_penalty_writes_the_units_a_close_blank_hid():
    # frame 1 holds "b" at 0.4 against the blank's 0.5: dropped as is, written with a penalty of 0.5
    probs = torch.tensor(
        [[0.05, 0.05, 0.8, 0.05, 0.05], [0.5, 0.03, 0.04, 0.4, 0.03], [0.8, 0.05, 0.05, 0.05, 0.05]]
    ).log()[None]
    lengths = torch.tensor([3])
    assert greedy_decode(probs, lengths, TOK)[0].text == "a"
    penalised = DecoderConfig(blank_penalty=0.5)
    assert penalised.is_greedy and penalised.describe() == "greedy, blank penalty 0.5"
    assert GreedyDecoder(TOK, penalised).best(probs, lengths)[0].text == "ab"
    beam = BeamSearchDecoder(TOK, DecoderConfig(beam_size=8, blank_penalty=0.5)).best(probs, lengths)[0]
    assert beam.text == "ab"
    assert probs[0, 1, 0] == math.log(0.5)  # the caller's log-probs are left as they were
    with pytest.raises(ConfigError, match="blank_penalty must be a finite number"):
        DecoderConfig(blank_penalty=float("inf"))


def test_a_blank_penalty_alone_goes_on_top_of_the_shipped_decoder(tmp_path):
    from dfcnn.decode import Shipped, decoder_config, resolve_decoder
    from dfcnn.evaluate import write_decoder_config

    write_decoder_config(tmp_path / "decoder.json", DecoderConfig(lm=str(tmp_path / "lm.bin"), lm_weight=1.5))
    asked = decoder_config(blank_penalty=1.0)
    assert isinstance(asked, Shipped)
    resolved = resolve_decoder(asked, tmp_path)
    assert (resolved.lm_weight, resolved.blank_penalty, Path(resolved.lm).name) == (1.5, 1.0, "lm.bin")
    assert decoder_config(greedy=True, blank_penalty=1.0) == DecoderConfig(blank_penalty=1.0)
    assert DecoderConfig.from_dict({"lm_weight": 2}).blank_penalty == 0.0  # decoder.json files written before it
