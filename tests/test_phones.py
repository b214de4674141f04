"""English phones as CTC tokens across the modules: pronunciations (CMUdict, eSpeak NG's
letter-to-sound), the phone tokenizer, a lexicon of every pronunciation, lexicon + LM decoding to
words with word times, the checkpoint's record of the unit, and a model memorising real recordings."""

import json

import numpy as np
import pytest
import soundfile
import torch
from conftest import shared_corpus

from dfcnn.align import align_tokens, words_from_spans
from dfcnn.checkpoint import load_checkpoint
from dfcnn.config import load_config
from dfcnn.data import Utterance, write_manifest
from dfcnn.decode import DecoderConfig, build_decoder
from dfcnn.errors import VocabError
from dfcnn.evaluate import evaluate, tune_decoder
from dfcnn.lm import build_lm, read_lexicon, write_lexicon
from dfcnn.loading import load_model
from dfcnn.pronounce import PHONES, Pronouncer, ipa_to_arpabet, letter_to_sound
from dfcnn.text import Tokenizer, build_vocab, save_vocab
from dfcnn.training.train import ExperimentConfig, Trainer

PHONE_TOKENIZER = Tokenizer(tuple(build_vocab([], unit="phone")), "english", "phone")


def test_dictionary_pronunciations_are_stressless_arpabet_with_every_variant():
    pronouncer = Pronouncer()
    assert pronouncer.pronunciations("tomato") == [["T", "AH", "M", "EY", "T", "OW"], ["T", "AH", "M", "AA", "T", "OW"]]
    read = pronouncer.pronunciations("read")
    assert ["R", "IY", "D"] in read and ["R", "EH", "D"] in read
    assert all(set(p) <= set(PHONES) for word in ("hello", "world", "judge") for p in pronouncer.pronunciations(word))


def test_letter_to_sound_reads_words_the_dictionary_lacks():
    pronouncer = Pronouncer()
    for word in ("dfcnn", "speechocean", "blorptastic"):
        assert not pronouncer.in_dictionary(word)
        guess = pronouncer.pronounce(word)
        assert guess and set(guess) <= set(PHONES), (word, guess)
    assert pronouncer.pronounce("speechocean")[:4] == ["S", "P", "IY", "CH"]
    # on common words eSpeak NG's rules agree with the dictionary
    for word in ("cat", "church", "thought", "measure", "singing"):
        assert letter_to_sound(word) in pronouncer.pronunciations(word), word


@pytest.mark.parametrize(
    "ipa, phones",
    [
        ("həlˈoʊ", ["HH", "AH", "L", "OW"]),
        ("tʃˈɜːtʃ", ["CH", "ER", "CH"]),
        ("bˈʌʔn̩", ["B", "AH", "T", "AH", "N"]),
        ("kˈɑːɹ", ["K", "AA", "R"]),
        ("ðˈɛɹ", ["DH", "EH", "R"]),
        ("sˈɪŋɪŋ", ["S", "IH", "NG", "IH", "NG"]),
    ],
)
def test_espeak_ipa_maps_to_arpabet(ipa, phones):
    assert ipa_to_arpabet(ipa) == phones


def test_a_custom_dictionary_file_and_its_errors(tmp_path):
    good = tmp_path / "dict.txt"
    good.write_text(";;; my words\nDFCNN  D IY1 EH1 F S IY1 EH1 N EH1 N\nTOMATO  T AH0 M AA1 T OW2\n")
    assert Pronouncer(str(good)).pronunciations("tomato") == [["T", "AH", "M", "AA", "T", "OW"]]
    bad = tmp_path / "bad.txt"
    bad.write_text("HELLO  HH AH0 L OW1\nWORLD  W ER1 L D X\n")
    with pytest.raises(VocabError, match=r"bad.txt:2: 'WORLD' needs ARPAbet phones"):
        Pronouncer(str(bad))


def test_phone_tokenizer_encodes_words_with_boundaries_and_scores_phones():
    tokenizer = PHONE_TOKENIZER
    ids = tokenizer.encode(tokenizer.normalize("Hello, world!"))
    assert [tokenizer.tokens[i] for i in ids] == ["HH", "AH", "L", "OW", "|", "W", "ER", "L", "D"]
    assert tokenizer.decode(ids) == "HH AH L OW W ER L D" == tokenizer.reference_text("hello world")
    restored = Tokenizer.from_dict(tokenizer.to_dict())
    assert restored == tokenizer and tokenizer.to_dict()["pronunciations_version"].startswith("cmudict ")
    with pytest.raises(VocabError, match="not an ARPAbet phone"):
        Tokenizer(tuple(build_vocab(["abc"])), "english", "phone")
    with pytest.raises(VocabError, match="set the unit to 'phone'"):
        Tokenizer(tuple(build_vocab([], unit="phone")), "english", "char")


def phone_log_probs(tokenizer: Tokenizer, tokens: list[str], confidence: float = 0.9) -> torch.Tensor:
    """(T, V) log-probs: each token clear on one frame, then a blank frame."""
    frames = []
    for token in tokens:
        frames += [token, "<blank>"]
    probs = torch.full((len(frames), len(tokenizer)), (1 - confidence) / (len(tokenizer) - 1))
    for t, token in enumerate(frames):
        probs[t, tokenizer.tokens.index(token)] = confidence
    return probs.log()


def test_lexicon_and_lm_turn_either_pronunciation_into_the_word(tmp_path, kenlm):
    """Both pronunciations of tomato decode to "tomato"; the LM picks between homophones."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("i like a red tomato\nyou read a book\ni read the red book\n" * 3)
    model = build_lm([corpus], tmp_path / "lm", memory="64M", tokenizer=PHONE_TOKENIZER)
    lexicon = read_lexicon(model.lexicon, PHONE_TOKENIZER)
    assert lexicon["tomato"] == [["T", "AH", "M", "EY", "T", "OW"], ["T", "AH", "M", "AA", "T", "OW"]]
    assert ["R", "EH", "D"] in lexicon["read"] and ["R", "EH", "D"] in lexicon["red"]  # homophones
    decoder = build_decoder(PHONE_TOKENIZER, DecoderConfig(lm=str(model.binary), lm_weight=2.0))
    assert decoder.writes == "words"
    for tomato in lexicon["tomato"]:
        spoken = ["AH", "|", "R", "EH", "D", "|", *tomato]  # "a red tomato"
        log_probs = phone_log_probs(PHONE_TOKENIZER, spoken)
        hypothesis = decoder.best(log_probs[None], torch.tensor([log_probs.shape[0]]))[0]
        assert hypothesis.text == "a red tomato"
        # word times come from the phone alignment, labelled with the words the lexicon wrote
        spans = align_tokens(log_probs, hypothesis.tokens)
        words = words_from_spans(
            spans, PHONE_TOKENIZER, 0.04, word_starts=hypothesis.word_starts, labels=hypothesis.words
        )
        assert [w.word for w in words] == ["a", "red", "tomato"]
        assert [t.token for t in words[2].tokens] == tomato
        assert words[0].end <= words[1].start and words[1].end <= words[2].start
    # "you R EH D a book": the LM writes the homophone it has seen there
    log_probs = phone_log_probs(PHONE_TOKENIZER, ["Y", "UW", "|", "R", "EH", "D", "|", "AH", "|", "B", "UH", "K"])
    assert decoder.best(log_probs[None], torch.tensor([log_probs.shape[0]]))[0].text == "you read a book"


def test_lexicon_of_an_unknown_word_uses_letter_to_sound(tmp_path):
    write_lexicon(["dfcnn", "cat"], PHONE_TOKENIZER, tmp_path / "lexicon.txt")
    lexicon = read_lexicon(tmp_path / "lexicon.txt", PHONE_TOKENIZER)
    assert lexicon["cat"] == [["K", "AE", "T"]] and lexicon["dfcnn"][0][:2] == ["D", "IY"]


DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.mark.slow
def test_a_phone_model_memorises_real_recordings_and_decodes_words(tmp_path, kenlm):
    """Real FSDD digit pairs: the phone model learns its training set (PER under 10%: how close to zero
    a memorising run gets depends on the CPU's kernels and rounding), its checkpoint records the unit and
    pronunciation source, and with a lexicon + LM it writes the words, timed: the lexicon absorbs the
    odd lost phone."""
    from dfcnn.audio import SAMPLE_RATE, load_audio

    fsdd = shared_corpus("fsdd")
    pairs = [
        ("jackson", 1, 3),
        ("jackson", 5, 7),
        ("jackson", 0, 8),
        ("jackson", 2, 9),
        ("nicolas", 4, 6),
        ("nicolas", 1, 5),
    ]
    gap = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)
    utterances = []
    for speaker, first, second in pairs:
        a, b = (load_audio(next(fsdd.rglob(f"{digit}_{speaker}_7.wav"))) for digit in (first, second))
        path = tmp_path / f"{first}{second}_{speaker}.wav"
        wave = np.concatenate([gap, a, gap, b, gap])
        soundfile.write(str(path), np.pad(wave, (0, -len(wave) % 640)), SAMPLE_RATE)
        utterances.append(
            Utterance(path, soundfile.info(str(path)).duration, f"{DIGITS[first]} {DIGITS[second]}", path.stem)
        )
    write_manifest(tmp_path / "train.jsonl", utterances)
    save_vocab(build_vocab([], unit="phone"), tmp_path / "vocab.txt")
    config = load_config(
        ExperimentConfig,
        None,
        [
            f"exp_dir={tmp_path / 'exp'}",
            f"data.train_manifest={tmp_path / 'train.jsonl'}",
            f"data.dev_manifest={tmp_path / 'train.jsonl'}",
            f"data.vocab={tmp_path / 'vocab.txt'}",
            "data.unit=phone",
            "data.num_workers=0",
            "data.max_batch_duration=5",
            "data.robustness.enabled=false",  # it memorises six clean clips
            "features.kind=mel",
            "features.n_mels=40",
            "model.channels=[8,16,32]",
            "model.time_pool=[2,2,1]",
            "model.freq_pool=[2,2,2]",
            "model.hidden_dim=64",
            "model.dropout=0.0",
            "specaugment.freq_masks=0",
            "specaugment.time_masks=0",
            "train.epochs=250",
            "train.lr=3e-3",
            "train.warmup_steps=20",
            "train.dev_every_epochs=50",
            "train.weight_decay=0.0",
        ],
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # a memorised model depends on the thread count: train as CI does
    try:
        Trainer(config, progress=False).run()
    finally:
        torch.set_num_threads(threads)
    checkpoint = tmp_path / "exp" / "best.pt"
    assert load_checkpoint(checkpoint)["tokenizer"]["unit"] == "phone"
    assert load_checkpoint(checkpoint)["tokenizer"]["pronunciations"] == "cmudict"

    greedy, table = evaluate(checkpoint, tmp_path / "train.jsonl", device="cpu", progress=False, decoder=None)
    assert "### PER" in table and greedy.wer < 10, greedy.word_alignment  # phones, nearly memorised

    (tmp_path / "digits.txt").write_text("\n".join(f"{a} {b}" for a in DIGITS for b in DIGITS) + "\n")
    lm = build_lm([tmp_path / "digits.txt"], tmp_path / "lm", memory="64M", tokenizer=PHONE_TOKENIZER)
    base = DecoderConfig(lm=str(lm.binary))
    best, tune_table = tune_decoder(
        checkpoint,
        tmp_path / "train.jsonl",
        base,
        [0.5, 1.0],
        [0.0],
        device="cpu",
        progress=False,
        ship=True,
        blank_penalties=[1000.0, 0.0, 1.0],  # 1000: blank never wins, a phone at every frame
    )
    greedy_table, *passes = tune_table.split("\n\n")
    assert greedy_table.count("\n| 1000 |") == 1 and best.blank_penalty in (0.0, 1.0)

    def rows(table):
        return [[float(cell) for cell in line.strip("|").split("|")] for line in table.splitlines()[2:]]

    # grids alternate with each penalty decoded at the grid's best weights, until the two agree
    grids, repicks = passes[0::2], passes[1::2]
    assert len(grids) - len(repicks) in (0, 1) and 1 <= len(grids) <= 3 and repicks
    decoded = {row[0]: row[1] for row in rows(repicks[-1])}
    assert set(decoded) == {1000.0, 0.0, 1.0} and decoded[best.blank_penalty] == min(decoded.values())
    # each pass starts from the best point so far: the one shipped is the best WER of every pass
    every_wer = [row[2] for table in grids for row in rows(table)] + [row[1] for t in repicks for row in rows(t)]
    assert decoded[best.blank_penalty] == min(every_wer)
    assert DecoderConfig.from_file(tmp_path / "exp" / "decoder.json").blank_penalty == best.blank_penalty
    assert (tmp_path / "exp" / "decoder.json").is_file()
    shipped, table = evaluate(tmp_path / "exp", tmp_path / "train.jsonl", device="cpu", progress=False)
    assert "### PER" in table and "### WER" in table  # the network's own phones beside the shipped words
    assert shipped.words.errors <= 1, shipped.word_alignment  # of 12 words

    recognizer = load_model(tmp_path / "exp", "cpu")  # decodes with decoder.json by default
    transcripts = [recognizer.transcribe(u.audio_filepath) for u in utterances]
    assert sum(t.text != u.text for t, u in zip(transcripts, utterances)) <= 1  # as evaluate's shipped WER
    transcript = next(t for t, u in zip(transcripts, utterances) if t.text == u.text)
    assert [w.word for w in transcript.words] == transcript.text.split() and len(transcript.words) == 2
    assert transcript.words[0].end <= transcript.words[1].start
    assert json.loads(json.dumps(transcript.to_dict()))["text"] == transcript.text


def test_inspect_labels_the_posteriorgram_with_phones(tmp_path):
    """dfcnn inspect on a phone model: its posteriorgram rows are ARPAbet phones (and the boundary)."""
    from dfcnn.features import FeatureConfig, FeatureExtractor
    from dfcnn.inference import Recognizer, TorchNetwork
    from dfcnn.model import DFCNN, ModelConfig
    from dfcnn.viz.inspect import inspect_file, posteriorgram_figure, run_network

    torch.manual_seed(0)
    config = ModelConfig(
        input_bins=32,
        vocab_size=len(PHONE_TOKENIZER),
        channels=[4, 6],
        time_pool=[2, 2],
        freq_pool=[2, 2],
        convs_per_block=1,
        hidden_dim=8,
    )
    model = DFCNN(config).eval()
    with torch.no_grad():
        model.head[-1].bias[0] = -3.0  # an untrained model that still emits phones
    features = FeatureExtractor(FeatureConfig(kind="mel", n_mels=32)).eval()
    recognizer = Recognizer(TorchNetwork(model, features), PHONE_TOKENIZER)
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.wav"
    soundfile.write(str(path), (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000)
    figure, hypothesis, _ = posteriorgram_figure(
        recognizer, run_network(recognizer, rng.standard_normal(16000).astype(np.float32))
    )
    rows = [[tick.get_text() for tick in axis.get_yticklabels()] for axis in figure.axes]
    labels = next(labels for labels in rows if labels and set(labels) <= set(PHONES) | {"␣ (space)"})
    assert len(labels) >= 3, rows
    assert set(hypothesis.text.split()) <= set(PHONES)
    assert (inspect_file(recognizer, path, tmp_path / "page")).is_file()
