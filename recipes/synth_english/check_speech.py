#!/usr/bin/env python3
"""Check that a generated corpus is speech of its sentences, and drop what is not: cheap checks of
every clip (silence, clipping, seconds per word), PocketSphinx's WER per voice on a sample of each
voice's clips (outlier voices are dropped whole), and, once a DFCNN model exists, its error rate on
each clip and each voice (``--model``: clips above a ceiling and outlier voices are dropped).

    python -m recipes.synth_english.check_speech --out /work/corpora/neural_english
    python -m recipes.synth_english.check_speech --out /work/corpora/neural_english --model exp/best.pt
    python -m recipes.synth_english.check_speech --out /work/corpora/neural_english --model english --per-voice 0

Writes OUT/speech_check.json (every measure) and OUT/rejected.json ({"voices": {voice: reason},
"files": {utt_id: reason}}), and rewrites the manifests without the rejected clips (prepare_neural.py
leaves them out of every later rewrite too). Runs on a corpus still being generated: what is finished.
PocketSphinx (pocketsphinx==5.1.1, the `compare` extra) with its own en-us model and LM.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from dfcnn.audio import load_audio
from dfcnn.data import Utterance, read_manifest, write_manifest
from dfcnn.errors import DfcnnError
from dfcnn.fileio import atomic_write_text
from dfcnn.metrics import score
from recipes.common import REPO

SPLITS = ("train", "dev", "test")
SILENT_DBFS = -60.0  # a clip below this RMS is silence
CLIP_PEAK = 0.999  # a sample at or above this magnitude clips
SECONDS_PER_WORD = (0.15, 1.5)  # speech (pads removed, at speed 1) per word: outside is truncated or runaway
VOICE_WER_RATIO = 2.0  # a voice is an outlier when its WER is above this times the median voice's ...
VOICE_WER_FLOOR = 60.0  # ... and above this (percent)
# the model's rule: a voice whose mean error rate is this many robust deviations (1.4826 x the median absolute
# deviation of the voices' means) above the median voice's, and above the floor. A ratio of the median cannot
# fire on augmented speech, where the median voice is at 50-60%.
VOICE_ERROR_DEVIATIONS = 4.0
VOICE_ERROR_FLOOR = 60.0


def clip_problems(wave: np.ndarray, rate: int, text: str, settings: dict) -> list[str]:
    """What is wrong with one clip (empty: nothing): silent, clipping, or speech too short or long for
    its words. ``settings``: the clip's corpus.json entry (lead_s, trail_s, augment.speed)."""
    problems = []
    rms_db = 20 * np.log10(np.sqrt(np.mean(np.square(wave, dtype=np.float64))) + 1e-12) if len(wave) else -240.0
    if rms_db < SILENT_DBFS:
        problems.append(f"silent ({rms_db:.1f} dBFS)")
    if len(wave) and float(np.abs(wave).max()) >= CLIP_PEAK:
        problems.append(f"clips (peak {float(np.abs(wave).max()):.4f})")
    speed = settings.get("augment", {}).get("speed", 1.0)
    speech = len(wave) / rate * speed - settings.get("lead_s", 0.0) - settings.get("trail_s", 0.0)
    per_word = speech / max(len(text.split()), 1)
    if not SECONDS_PER_WORD[0] <= per_word <= SECONDS_PER_WORD[1]:
        problems.append(f"{per_word:.2f} s of speech per word (expected {SECONDS_PER_WORD[0]}-{SECONDS_PER_WORD[1]})")
    return problems


class Sphinx:
    """PocketSphinx with its packaged en-us acoustic model, dictionary and LM: a peer to score voices."""

    def __init__(self):
        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise DfcnnError("the speech check needs pocketsphinx: pip install -e .[compare]") from None
        self._decoder = Decoder(loglevel="FATAL")

    def transcribe(self, wave: np.ndarray) -> str:
        """Normalised words heard in 16 kHz float32 samples (N,)."""
        from dfcnn.text import normalize_english

        pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        hypothesis = self._decoder.hyp()
        return normalize_english(hypothesis.hypstr) if hypothesis is not None else ""


def sample_by_voice(utterances: list[Utterance], voice_of: dict[str, str], per_voice: int, seed: int = 0):
    """{voice: up to ``per_voice`` utterances}, a seeded sample of each voice's clips."""
    groups: dict[str, list[Utterance]] = {}
    for utt in utterances:
        groups.setdefault(voice_of[utt.utt_id], []).append(utt)
    rng = np.random.default_rng(seed)
    return {voice: [clips[i] for i in sorted(rng.permutation(len(clips))[:per_voice])]
            for voice, clips in sorted(groups.items())}  # fmt: skip


def voice_scores(samples: dict[str, list[Utterance]], sphinx: Sphinx, log=print) -> dict[str, dict]:
    """{voice: {"clips", "wer" (percent), "hyps"}}: PocketSphinx's WER over each voice's sample."""
    scores = {}
    for voice, utterances in samples.items():
        hyps = [sphinx.transcribe(load_audio(u.audio_filepath)) for u in utterances]
        wer = score([u.text for u in utterances], hyps).wer
        scores[voice] = {"clips": len(utterances), "wer": round(wer, 2), "hyps": hyps}
        log(f"  {voice:40s} {len(utterances):3d} clips  WER {wer:5.1f}%")
    return scores


def outlier_voices(scores: dict[str, dict], ratio: float = VOICE_WER_RATIO, floor: float = VOICE_WER_FLOOR) -> dict:
    """{voice: reason} of the voices whose WER is above ``ratio`` x the median voice's and ``floor``."""
    median = float(np.median([s["wer"] for s in scores.values()]))
    limit = max(ratio * median, floor)
    return {voice: f"PocketSphinx WER {s['wer']:.1f}% on {s['clips']} clips (median voice "
                   f"{median:.1f}%, limit {limit:.1f}%)"
            for voice, s in scores.items() if s["wer"] > limit}  # fmt: skip


def model_outlier_voices(
    errors: dict[str, float],
    voice_of: dict[str, str],
    deviations: float = VOICE_ERROR_DEVIATIONS,
    floor: float = VOICE_ERROR_FLOOR,
) -> tuple[dict[str, dict], dict[str, str]]:
    """Per voice, the model's mean error rate over its clips ({voice: {"clips", "error"}}), and the
    outlier voices ({voice: reason}): mean error above median + ``deviations`` x 1.4826 x MAD and ``floor``."""
    by_voice: dict[str, list[float]] = {}
    for utt_id, error in errors.items():
        by_voice.setdefault(voice_of[utt_id], []).append(error)
    scores = {v: {"clips": len(e), "error": round(float(np.mean(e)), 2)} for v, e in sorted(by_voice.items())}
    if not scores:
        return scores, {}
    means = np.array([s["error"] for s in scores.values()])
    median = float(np.median(means))
    spread = 1.4826 * float(np.median(np.abs(means - median)))
    limit = max(median + deviations * spread, floor)
    outliers = {voice: f"model error rate {s['error']:.1f}% on {s['clips']} clips (median voice {median:.1f}%, "
                       f"limit {limit:.1f}%)"
                for voice, s in scores.items() if s["error"] > limit}  # fmt: skip
    return scores, outliers


def model_errors(model: Path, utterances: list[Utterance]) -> dict[str, float]:
    """{utt_id: error rate, percent} of a trained DFCNN's greedy output on each clip (PER for a phone model)."""
    import torch

    from dfcnn.decode import DecoderConfig, build_decoder
    from dfcnn.loading import load_model

    recognizer = load_model(model, device="cpu", decoder=None)
    decoder = build_decoder(recognizer.tokenizer, DecoderConfig())
    log_probs = recognizer.utterance_log_probs(utterances)
    errors = {}
    for utt, lp in zip(utterances, log_probs):
        hyp = decoder.best(lp[None], torch.tensor([len(lp)]))[0].text
        errors[utt.utt_id] = round(decoder.score([utt.text], [hyp]).wer, 2)
    return errors


def filter_manifests(out: Path, dropped: dict[str, str]) -> dict[str, int]:
    """Rewrite each manifest without the dropped clips; {split: clips removed}."""
    removed = {}
    for split in SPLITS:
        path = out / f"{split}.jsonl"
        if path.is_file():
            utterances = read_manifest(path)
            kept = [u for u in utterances if u.utt_id not in dropped]
            removed[split] = len(utterances) - len(kept)
            if removed[split]:  # paths relative to the corpus folder, as prepare_neural.py writes them
                write_manifest(path, [dataclasses.replace(u, audio_filepath=Path(u.audio_filepath).relative_to(out))
                                      for u in kept])  # fmt: skip
    return removed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "data" / "neural_english", help="corpus folder")
    parser.add_argument(
        "--per-voice", type=int, default=12, help="clips per voice PocketSphinx scores (default 12; 0: no PocketSphinx)"
    )
    parser.add_argument(
        "--voice-wer-ratio",
        type=float,
        default=VOICE_WER_RATIO,
        help="drop a voice whose WER is above this x the median voice's (default %(default)s)",
    )
    parser.add_argument(
        "--voice-wer-floor",
        type=float,
        default=VOICE_WER_FLOOR,
        help="... and above this, percent (default %(default)s)",
    )
    parser.add_argument("--model", type=Path, default=None, help="a trained DFCNN: score every clip with it")
    parser.add_argument(
        "--max-file-error",
        type=float,
        default=80.0,
        help="with --model: drop a clip whose error rate (percent) is above this (default %(default)s)",
    )
    parser.add_argument(
        "--voice-error-deviations",
        type=float,
        default=VOICE_ERROR_DEVIATIONS,
        help="with --model: drop a voice whose mean error rate is this many robust deviations above the median "
        "voice's (default %(default)s) ...",
    )
    parser.add_argument(
        "--voice-error-floor",
        type=float,
        default=VOICE_ERROR_FLOOR,
        help="... and above this, percent (default %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.per_voice < 0:
        parser.error(f"--per-voice must be >= 0, got {args.per_voice}")
    out = args.out.resolve()
    # an earlier check's verdicts stand: the manifests it rewrote no longer list its clips, so this run cannot judge
    # them again, and the generator leaves out only what rejected.json names
    earlier = _earlier(out / "rejected.json")
    if earlier is None:
        print(f"error: {out / 'rejected.json'}: not a speech check's rejections; move it away to check afresh",
              file=sys.stderr)  # fmt: skip
        return 1
    try:
        settings = json.loads((out / "corpus.json").read_text())["utterances"]
        utterances = [u for s in SPLITS if (out / f"{s}.jsonl").is_file() for u in read_manifest(out / f"{s}.jsonl")]
    except (OSError, ValueError, KeyError, DfcnnError) as error:
        print(f"error: {out}: not a generated corpus ({error})", file=sys.stderr)
        return 1
    files: dict[str, str] = {}
    for utt in utterances:
        wave = load_audio(utt.audio_filepath)
        problems = clip_problems(wave, 16000, utt.text, settings[utt.utt_id])
        if problems:
            files[utt.utt_id] = "; ".join(problems)
    print(f"{len(utterances)} clips read, {len(files)} failed the cheap checks")
    voice_of = {u.utt_id: settings[u.utt_id]["voice"] for u in utterances}
    try:
        scores = voice_scores(sample_by_voice(utterances, voice_of, args.per_voice), Sphinx()) if args.per_voice else {}
        errors = model_errors(args.model, utterances) if args.model else {}
    except DfcnnError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    bad_voices = outlier_voices(scores, args.voice_wer_ratio, args.voice_wer_floor) if scores else {}
    model_voices, bad_model_voices = model_outlier_voices(
        errors, voice_of, args.voice_error_deviations, args.voice_error_floor
    )
    bad_voices |= {voice: reason for voice, reason in bad_model_voices.items() if voice not in bad_voices}
    bad_voices = earlier["voices"] | bad_voices
    for utt in utterances:
        if voice_of[utt.utt_id] in bad_voices:
            files.setdefault(utt.utt_id, f"voice {voice_of[utt.utt_id]}: {bad_voices[voice_of[utt.utt_id]]}")
        elif errors.get(utt.utt_id, 0.0) > args.max_file_error:
            files.setdefault(utt.utt_id, f"{args.model}: error rate {errors[utt.utt_id]:.1f}%")
    measures = {"voices": scores, "model_voices": model_voices, "model_errors": errors}
    atomic_write_text(out / "speech_check.json", json.dumps(measures, indent=1) + "\n")
    every_file = earlier["files"] | files
    atomic_write_text(out / "rejected.json", json.dumps({"voices": bad_voices, "files": every_file}, indent=1) + "\n")
    removed = filter_manifests(out, every_file)
    for voice, reason in bad_voices.items():
        print(f"dropped voice {voice}: {reason}")
    print(f"rejected {len(files)} of the {len(utterances)} clips read ({len(every_file)} in all, with earlier "
          f"checks'); manifests rewritten: {removed}")  # fmt: skip
    return 0


def _earlier(path: Path) -> dict[str, dict[str, str]] | None:
    """rejected.json of an earlier check ({"voices": {}, "files": {}} when there is none; None when unreadable)."""
    try:
        earlier = json.loads(path.read_text())
        return {"voices": dict(earlier["voices"]), "files": dict(earlier["files"])}
    except FileNotFoundError:
        return {"voices": {}, "files": {}}
    except (OSError, ValueError, KeyError, TypeError):
        return None


if __name__ == "__main__":
    sys.exit(main())
