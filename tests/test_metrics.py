import pytest

from dfcnn.metrics import format_alignments, format_table, score


def test_hand_counted_word_errors():
    refs = ["the cat sat on the mat", "hello world", "a b c"]
    hyps = ["the cat sat on mat", "hello there world", "a x c"]
    # utt1: 1 deletion ("the"); utt2: 1 insertion ("there"); utt3: 1 substitution (b -> x)
    result = score(refs, hyps)
    w = result.words
    assert (w.sentences, w.units, w.correct, w.substitutions, w.deletions, w.insertions) == (3, 11, 9, 1, 1, 1)
    assert w.sentence_errors == 3
    assert result.wer == pytest.approx(100 * 3 / 11)


def test_hand_counted_char_errors():
    result = score(["abcd", "xy"], ["abd", "xy"])
    c = result.chars
    assert (c.units, c.correct, c.deletions, c.substitutions, c.insertions, c.sentence_errors) == (6, 5, 1, 0, 0, 1)
    assert result.cer == pytest.approx(100 / 6)


def test_perfect_and_empty_hypothesis():
    assert score(["a b"], ["a b"]).wer == 0.0
    assert score(["a b"], [""]).words.deletions == 2


def test_table_has_espnet_columns():
    table = format_table({"test": score(["a b c d"], ["a b x d"])})
    assert "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|" in table
    assert "|test|1|4|75.0|25.0|0.0|0.0|25.0|100.0|" in table
    assert "|dataset|Snt|Chr|" in table


def test_alignment_marks_errors():
    text = format_alignments(["u1"], score(["the cat sat"], ["the bat sat down"]))
    assert "id: u1" in text
    assert "REF: the CAT sat ****" in text
    assert "HYP: the BAT sat DOWN" in text
    assert "(#C #S #D #I) 2 1 0 1" in text


def test_mismatched_lengths():
    with pytest.raises(ValueError):
        score(["a"], ["a", "b"])
