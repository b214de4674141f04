"""Your own words and grammars on real recordings (issue 22, point 4): a shipped model, no retraining.

    .venv/bin/python bench/vocabulary.py                        # the shipped english model
    .venv/bin/python bench/vocabulary.py --model exp/ --weights 0 2 4 8 --max-utterances 60 --out /tmp/vocab

(a) Words the model's shipped lexicon lacks. Sentences of cathy_arctic and the LJSpeech subset whose
normalised words include some that are not in the lexicon of the model's shipped decoder (names, rare
words: found by reading that lexicon) are the test set; all those words go in one words file, spelt as
a user's would be (CMUdict, then eSpeak NG's letter-to-sound). Each utterance is decoded by the shipped
decoder and with the words at each --weights (``--words-weight``): WER, the share of the target words'
occurrences that the hypotheses hold, and the WER of as many control utterances without such words
(what the boost costs elsewhere), with the seconds each decoder took.
(b) FSDD digits, test split (index 0-4): greedy (for a phone model its phone error rate, PER), the
shipped decoder, and a grammar of the ten digit words (``--grammar``): digit WER.

The network runs once per utterance; every decoder reads the same log-probs. Needs a model that
ships a lexicon decoder (decoder.json), and ../shared/data (or $DFCNN_DATA). Writes
``bench/vocabulary.md`` and ``.json`` (``--out``: another stem), the command at the top.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dfcnn.audio import audio_info  # noqa: E402
from dfcnn.data import Utterance  # noqa: E402
from dfcnn.decode import DEFAULT_WORDS_WEIGHT, SHIPPED, DecoderConfig, build_decoder  # noqa: E402
from dfcnn.errors import DfcnnError  # noqa: E402
from dfcnn.fileio import atomic_write_text  # noqa: E402
from dfcnn.layouts import read_layout  # noqa: E402
from dfcnn.lm import read_lexicon, resolve_lexicon  # noqa: E402
from dfcnn.loading import load_model  # noqa: E402

DATA = Path(os.environ.get("DFCNN_DATA", REPO.parent / "shared" / "data"))
SENTENCE_CORPORA = {"cathy_arctic": "cathy_arctic/data_16k", "ljspeech_subset": "ljspeech_subset/LJSpeech-1.1"}
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FSDD_TEST_INDICES = range(5)  # FSDD's test split: recordings 0-4 of each digit and speaker


def sentence_sets(lexicon: set[str], normalize, limit: int) -> tuple[list[Utterance], list[Utterance], list[str]]:
    """(utterances with words outside ``lexicon``, as many control utterances without any, those words):
    one recording per distinct sentence, corpora in SENTENCE_CORPORA's order, up to ``limit`` each."""
    targets, controls, missing = [], [], {}
    for corpus, folder in SENTENCE_CORPORA.items():
        if not (DATA / folder).is_dir():
            print(f"skipping {corpus}: {DATA / folder} not found", file=sys.stderr)
            continue
        seen = set()
        for entry in read_layout(DATA / folder).entries:
            text = normalize(entry.text)
            if text in seen or not entry.audio.is_file():
                continue
            seen.add(text)
            outside = [word for word in text.split() if word not in lexicon]
            chosen = targets if outside else controls
            if len(chosen) < limit:
                chosen.append(Utterance(entry.audio, audio_info(entry.audio)[0], text, f"{corpus}/{entry.utt_id}"))
                missing.update(dict.fromkeys(outside))
    return targets, controls[: len(targets)], list(missing)


def fsdd_test() -> list[Utterance]:
    recordings = DATA / "fsdd" / "recordings"
    if not recordings.is_dir():
        raise DfcnnError(f"{recordings}: FSDD not found (set DFCNN_DATA to the shared data folder)")
    utterances = []
    for path in sorted(recordings.glob("*.wav")):
        digit, speaker, index = path.stem.split("_")
        if int(index) in FSDD_TEST_INDICES:
            utterances.append(Utterance(path, audio_info(path)[0], DIGITS[int(digit)], path.stem, speaker))
    return utterances


def decode_all(recognizer, config: DecoderConfig | None, log_probs) -> tuple[object, list[str], float]:
    """(decoder, best hypothesis text of each utterance, decoding seconds)."""
    import torch

    decoder = build_decoder(recognizer.tokenizer, config)
    start = time.perf_counter()
    texts = [decoder.best(lp[None], torch.tensor([lp.shape[0]]))[0].text for lp in log_probs]
    return decoder, texts, time.perf_counter() - start


def found(hypotheses: list[str], references: list[str], targets: set[str]) -> tuple[int, int]:
    """(target-word occurrences of the references that the hypotheses hold, all such occurrences)."""
    held = total = 0
    for hypothesis, reference in zip(hypotheses, references):
        wanted = Counter(word for word in reference.split() if word in targets)
        written = Counter(hypothesis.split())
        held += sum(min(count, written[word]) for word, count in wanted.items())
        total += sum(wanted.values())
    return held, total


def measure_words(recognizer, shipped: DecoderConfig, args, scratch: Path) -> dict:
    lexicon = set(read_lexicon(resolve_lexicon(shipped.lexicon, shipped.lm, recognizer.tokenizer)))
    targets, controls, words = sentence_sets(lexicon, recognizer.tokenizer.normalize, args.max_utterances)
    if not targets:
        raise DfcnnError("no sentence of the corpora has a word outside the shipped lexicon")
    words_file = scratch / "words.txt"
    atomic_write_text(words_file, "".join(f"{word}\n" for word in words))
    log_probs = recognizer.utterance_log_probs(targets + controls, args.max_batch_duration, progress=True)
    target_lp, control_lp = log_probs[: len(targets)], log_probs[len(targets) :]
    references = [u.text for u in targets]
    variants = {"shipped": shipped}
    variants.update(
        {
            f"shipped + words (weight {w:g})": DecoderConfig(
                **{**shipped.to_dict(), "words": str(words_file), "words_weight": w}
            )
            for w in args.weights
        }
    )
    rows = []
    for label, config in variants.items():
        decoder, hyps, seconds = decode_all(recognizer, config, target_lp)
        _, control_hyps, control_seconds = decode_all(recognizer, config, control_lp)
        held, total = found(hyps, references, set(words))
        rows.append(
            {
                "decoder": label,
                "wer": decoder.score(references, hyps).wer,
                "control_wer": decoder.score([u.text for u in controls], control_hyps).wer if controls else None,
                "targets_found": held,
                "targets": total,
                "decode_seconds": seconds + control_seconds,
                "hypotheses": {u.utt_id: h for u, h in zip(targets, hyps)},
            }
        )
        print(f"{label}: WER {rows[-1]['wer']:.1f}%, targets {held}/{total}", file=sys.stderr)
    return {
        "utterances": len(targets),
        "controls": len(controls),
        "words": words,
        "references": {u.utt_id: u.text for u in targets},
        "audio_seconds": sum(u.duration for u in targets + controls),
        "rows": rows,
    }


def measure_digits(recognizer, shipped: DecoderConfig, scratch: Path) -> dict:
    utterances = fsdd_test()
    grammar = scratch / "digits.txt"
    atomic_write_text(grammar, "".join(f"{word}\n" for word in DIGITS))
    log_probs = recognizer.utterance_log_probs(utterances, progress=True)
    references = [u.text for u in utterances]
    variants = {
        "greedy": None,
        "shipped": shipped,
        "grammar of the ten digit words": DecoderConfig(beam_size=shipped.beam_size, grammar=str(grammar)),
    }
    rows = []
    for label, config in variants.items():
        decoder, hyps, seconds = decode_all(recognizer, config, log_probs)
        result = decoder.score(references, hyps)
        metric = "PER" if decoder.writes == "units" and recognizer.tokenizer.unit == "phone" else "WER"
        in_digits = sum(h in DIGITS for h in hyps)
        rows.append(
            {
                "decoder": label,
                "metric": metric,
                "error_rate": result.wer,
                "decode_seconds": seconds,
                "one_digit_word": in_digits,
            }
        )
        print(f"{label}: {metric} {result.wer:.1f}%", file=sys.stderr)
    return {"utterances": len(utterances), "rows": rows}


def report(results: dict) -> str:
    words, digits = results["words"], results["digits"]
    lines = [
        f"# Your own words and grammars ({results['date']}, {results['machine']})",
        "",
        f"    {results['command']}",
        "",
        f"Model `{results['model']}`, shipped decoder: {results['shipped']}.",
        "",
        "## (a) Words absent from the shipped lexicon",
        "",
        f"{words['utterances']} sentences (cathy_arctic, LJSpeech subset; one recording each) hold "
        f"{len(words['words'])} words the shipped lexicon lacks; all of them in one words file, spelt by CMUdict "
        f"or letter-to-sound. Control: {words['controls']} sentences without such words. "
        f"{words['audio_seconds'] / 60:.1f} min of audio.",
        "",
        "| decoder | WER % | target words found | control WER % | decoding s |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in words["rows"]:
        control = f"{row['control_wer']:.1f}" if row["control_wer"] is not None else "-"
        lines.append(
            f"| {row['decoder']} | {row['wer']:.1f} | {row['targets_found']}/{row['targets']} | "
            f"{control} | {row['decode_seconds']:.1f} |"
        )
    default = f"shipped + words (weight {DEFAULT_WORDS_WEIGHT:g})"
    shown = next((r for r in words["rows"] if r["decoder"] == default), words["rows"][-1])
    before, after = words["rows"][0]["hypotheses"], shown["hypotheses"]
    changed = [utt_id for utt_id in after if after[utt_id] != before[utt_id]]
    lines += [
        "",
        f"Words: {', '.join(words['words'])}",
        "",
        f"Sentences the words changed ({shown['decoder']}: {len(changed)} of {len(after)}, the first 8):",
        "",
    ]
    for utt_id in changed[:8]:
        lines.append(
            f"- `{utt_id}` REF: {words['references'][utt_id]}  \n  shipped: {before[utt_id]}  \n"
            f"  with words: {after[utt_id]}"
        )
    lines += [
        "",
        "## (b) FSDD digits through a grammar, no retraining",
        "",
        f"FSDD test split (index 0-4): {digits['utterances']} recordings of one digit each.",
        "",
        "| decoder | error rate % | outputs that are one digit word | decoding s |",
        "|---|---:|---:|---:|",
    ]
    for row in digits["rows"]:
        lines.append(
            f"| {row['decoder']} | {row['error_rate']:.1f} ({row['metric']}) | "
            f"{row['one_digit_word']}/{digits['utterances']} | {row['decode_seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--model", default="english", help="a shipped model's name, a checkpoint or its folder")
    parser.add_argument(
        "--weights", type=float, nargs="+", default=[0.0, 4.0, 8.0, 12.0], help="--words-weight values to measure"
    )
    parser.add_argument("--max-utterances", type=int, default=80, help="sentences with missing words (and controls)")
    parser.add_argument("--max-batch-duration", type=float, default=60.0, help="seconds of audio per network batch")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "vocabulary", help="writes OUT.md and OUT.json")
    args = parser.parse_args(argv)
    try:
        recognizer = load_model(args.model, args.device, decoder=SHIPPED)
        shipped = recognizer.decoder.config
        if shipped.is_greedy or (shipped.lexicon is None and shipped.lm is None):
            raise DfcnnError(f"{args.model}: ships no lexicon decoder (decoder.json): nothing to add words to")
        with tempfile.TemporaryDirectory(prefix="dfcnn-vocabulary-bench-") as scratch:
            results = {
                "command": "python bench/vocabulary.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
                "date": datetime.date.today().isoformat(),
                "machine": f"{os.cpu_count()} CPU cores, load {os.getloadavg()[0]:.1f}, OMP_NUM_THREADS="
                f"{os.environ.get('OMP_NUM_THREADS', 'unset')}",
                "model": str(args.model),
                "shipped": shipped.describe(),
                "words": measure_words(recognizer, shipped, args, Path(scratch)),
                "digits": measure_digits(recognizer, shipped, Path(scratch)),
            }
    except DfcnnError as error:
        print(f"vocabulary: error: {error}", file=sys.stderr)
        return 1
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(results, indent=2) + "\n")
    atomic_write_text(args.out.with_suffix(".md"), report(results))
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
