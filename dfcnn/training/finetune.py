"""``dfcnn finetune``: adapt a trained model (a shipped name, a training folder or a checkpoint) to your
own manifest, with no YAML to write.

    dfcnn finetune --model english --train data/train.jsonl --out exp/mine
    dfcnn finetune --model english --train data/train.jsonl --dev data/dev.jsonl --out exp/mine train.epochs=5
    dfcnn finetune --model english --train data/train.jsonl --out exp/mine --resume    # after a stop

It builds an ordinary training config and runs the one trainer on it (``Trainer``), so OUT is a
normal training folder: best.pt, last.pt, metrics.jsonl, config.yaml; transcribe, evaluate, tune and
ship take it, and a stop (Ctrl-C) continues with ``--resume`` as ``dfcnn train`` does.

From the model's checkpoint: its features, model, vocabulary (written as OUT/vocab.txt), unit,
normaliser and pronunciations, its SpecAugment and data limits; ``train.init_from`` is the checkpoint,
and its normalisation statistics are kept (``train.keep_init_stats``). On top come the small-data
defaults of ``small_data_settings`` (each with its reason), then the user's ``key=value`` overrides.

Before any training every transcript is checked as ``dfcnn manifest`` checks one, spelt in the model's
vocabulary: one line per bad entry (FILE:LINE: what), and nothing trains while one is bad unless
``skip_bad``. With ``new_tokens`` the characters (syllables) the transcripts spell and the model lacks
join its vocabulary first, with untrained output rows: a Mandarin speaker's rarer syllables are learnt
instead of their sentences being refused. Without a dev manifest, ``dev_fraction`` of the training
utterances, chosen by a hash of their utt_id (the same on every machine), become OUT/dev.jsonl and the
rest OUT/train.jsonl.

The decoder the model ships (decoder.json with its lexicon and LM) is copied into OUT when the run
starts, so the fine-tuned model writes words as the base model does (a phone model's own greedy
output is phones); ``decoder=False`` leaves it out.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import config as config_io
from ..checkpoint import load_checkpoint
from ..data import DurationBatchSampler, Utterance, read_manifest, write_manifest
from ..decode import DECODER_FILE, SHIPPED, resolve_decoder
from ..deploy.export import ship_decoder
from ..errors import DfcnnError
from ..features import FeatureConfig, SpecAugmentConfig
from ..fileio import check_writable_folder
from ..loading import find_model
from ..manifest import check_manifest, split_dev
from ..model import ModelConfig
from ..options import FINETUNE_DEV_FRACTION
from ..text import WORD_SEPARATOR, Tokenizer, build_vocab, save_vocab
from .exp_dir import ExpDirLock
from .exp_dir import prepare as prepare_exp_dir
from .experiment import DataConfig, ExperimentConfig
from .train import train

VOCAB_FILE = "vocab.txt"  # the model's vocabulary, written into OUT (data.vocab names a file)
DEV_FRACTION = FINETUNE_DEV_FRACTION  # without --dev: a tenth held out (dfcnn.options, for the torch-free --help)
# small-data defaults (see small_data_settings)
LR_SHARE = 0.1  # of the base run's peak learning rate: small steps keep what it learnt from far more data
FALLBACK_LR = 3e-4  # a checkpoint without its run's config: a tenth of the 3e-3 the shipped english trained at
BATCH_SECONDS = 30.0  # of padded audio a batch: more updates per pass over small data (why: small_data_settings)
TARGET_STEPS = 300  # optimizer steps the epochs are scaled to: enough to adapt, few enough to run in minutes
EPOCH_RANGE = (3, 30)  # fewest and most epochs: a large set still gets 3 passes, a tiny one is not memorised
WARMUP_SHARE = 0.1  # of the run's steps: the weights are trained already, the warm-up only settles AdamW
DATA_KEPT = ("normalizer", "unit", "pronunciations", "max_utterance_duration", "speed_perturb")  # from the base run


@dataclass(frozen=True)
class FinetuneConfig:
    """What ``dfcnn finetune`` adapts, to what, and where it writes."""

    model: str  # a shipped name (english, mandarin), a training folder (best.pt) or a checkpoint
    train_manifest: str  # the user's JSONL manifest to adapt to
    out: str  # the training folder written (exp_dir)
    dev_manifest: str = ""  # scored after each epoch (best.pt follows it); "" = split off the training manifest
    overrides: tuple[str, ...] = ()  # key=value settings on top of the fine-tuning defaults
    dev_fraction: float = DEV_FRACTION  # without dev_manifest: this share of the training utterances is dev
    decoder: bool = True  # copy the base model's shipped decoder (decoder.json, lexicon, LM) into out
    skip_bad: bool = False  # leave bad manifest entries out (listed all the same) instead of stopping
    # add the tokens the manifests spell and the model lacks (fresh output rows) instead of refusing their entries
    new_tokens: bool = False
    resume: bool = False  # continue out/last.pt, as dfcnn train --resume
    force: bool = False  # start over in an out folder holding an earlier run (removes its checkpoints)
    progress: bool = True  # progress bars

    def __post_init__(self):
        if not 0 < self.dev_fraction < 1:
            raise DfcnnError(f"--dev-fraction must lie in (0, 1), got {self.dev_fraction:g}")


def _say(message: str) -> None:
    print(f"dfcnn: {message}", file=sys.stderr, flush=True)


def base_experiment(payload: dict, checkpoint: Path, out: Path) -> ExperimentConfig:
    """What fine-tuning keeps of the model's own run: its features, model, vocabulary, unit,
    normaliser and pronunciations (from the checkpoint's parts), its SpecAugment and data limits (from
    the run's config it carries, where it does); exp_dir ``out``, init_from ``checkpoint``."""
    run = payload.get("config") or {}

    def known(cls, values) -> dict:  # a field this dfcnn no longer has is left out, not an error
        names = {field.name for field in dataclasses.fields(cls)}
        return {key: value for key, value in (values or {}).items() if key in names}

    tokenizer = payload["tokenizer"]
    data = {key: value for key, value in known(DataConfig, run.get("data")).items() if key in DATA_KEPT}
    data.update(
        normalizer=tokenizer["normalizer"],
        unit=tokenizer.get("unit", "char"),
        pronunciations=tokenizer.get("pronunciations", DataConfig.pronunciations),
        vocab=str(out / VOCAB_FILE),
    )
    values = {
        "exp_dir": str(out),
        "data": data,
        "features": known(FeatureConfig, payload["feature_config"]),
        "specaugment": known(SpecAugmentConfig, run.get("specaugment")),
        "model": known(ModelConfig, payload["model_config"]),
        "train": {
            "init_from": str(checkpoint),
            "keep_init_stats": True,
            "lr": _base_lr(run) * LR_SHARE if _base_lr(run) else FALLBACK_LR,
        },
    }
    return config_io.build(ExperimentConfig, values, f"{checkpoint} (the model's own config)")


def _base_lr(run: dict) -> float | None:
    lr = (run.get("train") or {}).get("lr")
    return float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0 else None


def small_data_settings(config: ExperimentConfig, train_seconds: list[float], given: set[str]) -> ExperimentConfig:
    """The fine-tuning defaults for a few hundred utterances, each unless the user set it (``given``:
    dotted keys). The learning rate (a tenth of the base run's) is set in ``base_experiment``."""
    data, cfg = config.data, config.train
    if "data.max_batch_duration" not in given:
        # 30 s a batch (the shipped models trained on 60): twice the updates per pass over small data, and
        # still about ten 3-second utterances for BatchNorm's batch statistics
        data = dataclasses.replace(data, max_batch_duration=BATCH_SECONDS)
    batches = len(
        DurationBatchSampler(
            train_seconds, data.max_batch_duration, seed=cfg.seed, buckets_per_doubling=data.length_buckets
        ).epoch_batches()
    )  # one epoch's
    if "train.epochs" not in given:
        # epochs scaled to about TARGET_STEPS steps: 300 utterances of 3 s make ~35 batches, so 9 epochs; a
        # large set still gets 3 passes, a tiny one at most 30 (more would only memorise it)
        low, high = EPOCH_RANGE
        cfg = dataclasses.replace(cfg, epochs=min(high, max(low, math.ceil(TARGET_STEPS / max(1, batches)))))
    if "train.warmup_steps" not in given:
        # a short warm-up: the weights are trained already, AdamW's moment estimates only need tens of steps
        cfg = dataclasses.replace(cfg, warmup_steps=max(1, round(WARMUP_SHARE * cfg.epochs * batches)))
    # kept as they are: SpecAugment (the base run's masks: the best guard against memorising a few
    # hundred utterances), weight decay, and every layer trainable (the models are small, and the low
    # learning rate already keeps them near where they were); best.pt follows the dev score each epoch
    return dataclasses.replace(config, data=data, train=cfg)


def _checked(path: str, training: ExperimentConfig, tokenizer: Tokenizer, name: str, split: str) -> tuple:
    good, bad = check_manifest(path, training, tokenizer, f"of the model {name}", split)
    for problem in bad:
        print(problem, file=sys.stderr)
    return good, bad


def manifests(
    config: FinetuneConfig, training: ExperimentConfig, tokenizer: Tokenizer
) -> tuple[str, str, list[Utterance]]:
    """Check the manifests (one line per bad entry, before any training), split off dev if none was
    given; returns the train and dev manifests the run reads (OUT/train.jsonl and OUT/dev.jsonl when
    derived: split, or bad entries left out) and the training utterances."""
    out = Path(config.out)
    train_good, bad = _checked(config.train_manifest, training, tokenizer, config.model, "train")
    dev_good = []
    if config.dev_manifest:
        dev_good, dev_bad = _checked(config.dev_manifest, training, tokenizer, config.model, "dev")
        bad += dev_bad
    if bad and not config.skip_bad:
        count = f"{len(bad)} bad entries" if len(bad) > 1 else "1 bad entry"
        spelling = any(problem.kind == "unspellable" for problem in bad) and not config.new_tokens
        hint = " (--new-tokens adds the characters the model lacks)" if spelling else ""
        raise DfcnnError(
            f"{count} (listed above): nothing trained; fix them{hint}, or pass --skip-bad to leave them out"
        )
    if bad:
        _say(f"left out {len(bad)} bad entries (listed above)")
    if not train_good:
        raise DfcnnError(f"{config.train_manifest}: no usable training utterances")
    if config.dev_manifest and not bad:
        return config.train_manifest, config.dev_manifest, train_good
    if not config.dev_manifest:
        splits = split_dev({"train": train_good}, config.dev_fraction, seed=0)
        train_good, dev_good = splits["train"], splits["dev"]
        _say(
            f"no --dev: {len(dev_good)} of the {len(train_good) + len(dev_good)} utterances of "
            f"{config.train_manifest} are the dev set ({config.dev_fraction:g}, chosen by a hash of utt_id): "
            f"{out / 'dev.jsonl'}, the rest {out / 'train.jsonl'}"
        )
    if not dev_good:
        raise DfcnnError(f"{config.dev_manifest}: no usable dev utterances")
    written = []
    for name, utterances in (("train.jsonl", train_good), ("dev.jsonl", dev_good)):
        absolute = [
            dataclasses.replace(u, audio_filepath=Path(os.path.abspath(u.audio_filepath))) for u in utterances
        ]  # the manifest moves into OUT: its audio paths may not stay relative
        write_manifest(out / name, absolute)
        written.append(str(out / name))
    return written[0], written[1], train_good


def with_new_tokens(tokenizer: Tokenizer, paths: list[str]) -> tuple[Tokenizer, list[str]]:
    """``tokenizer`` with the tokens the manifests' transcripts spell and it lacks appended, sorted, and
    those tokens. Their output rows start fresh; ``transfer_weights`` carries every other row over by
    token. Unit phone adds none (its 39 phones are all there); a transcript holding the word separator
    adds none (the manifest check names it)."""
    texts = [tokenizer.normalize(u.text) for path in paths for u in read_manifest(path)]
    spelt = build_vocab([text for text in texts if WORD_SEPARATOR not in text], unit=tokenizer.unit)
    new = sorted(set(spelt) - set(tokenizer.tokens))
    return dataclasses.replace(tokenizer, tokens=tokenizer.tokens + tuple(new)), new


def carry_decoder(config: FinetuneConfig, model_folder: Path, tokenizer: Tokenizer) -> None:
    """The base model's decoder (decoder.json, its lexicon and LM) copied into OUT, or none there."""
    out = Path(config.out)
    shipped = resolve_decoder(SHIPPED, model_folder)
    if not config.decoder or shipped is None or shipped.is_greedy:
        (out / DECODER_FILE).unlink(missing_ok=True)  # a fresh run carries no earlier run's decoder
        if config.decoder:
            _say(f"{config.model} ships no decoder: the fine-tuned model writes its own greedy output")
        return
    ship_decoder(shipped, out, tokenizer)
    names = ", ".join(Path(path).name for path in (shipped.lexicon, shipped.lm) if path)
    _say(
        f"the decoder of {config.model} is carried into {out} ({DECODER_FILE}, {names}): the fine-tuned model "
        f"writes words as {config.model} does (--no-decoder: its own greedy output)"
    )


def finetune_experiment(config: FinetuneConfig) -> ExperimentConfig:
    """Everything but the training: the model found and read, the manifests checked (and dev split
    off), OUT/vocab.txt and the decoder written, and the training config returned (``finetune`` runs it)."""
    files = find_model(config.model)
    payload = load_checkpoint(files.network)
    out = check_writable_folder(config.out, "--out")
    if not config.force:
        prepare_exp_dir(out, config.resume, force=False)  # an earlier run: refused before anything is written
    tokenizer = Tokenizer.from_dict(payload["tokenizer"])
    if config.new_tokens:
        tokenizer, new = with_new_tokens(tokenizer, [p for p in (config.train_manifest, config.dev_manifest) if p])
        if new:
            shown = " ".join(new[:20]) + (f" ... ({len(new)} in all)" if len(new) > 20 else "")
            _say(f"--new-tokens: {shown}, which {config.model} lacks, added with untrained output rows")
    start = base_experiment(payload, files.network, out)
    training = config_io.load_config(ExperimentConfig, None, list(config.overrides), start=start)
    train_manifest, dev_manifest, utterances = manifests(config, training, tokenizer)
    save_vocab(list(tokenizer.tokens), out / VOCAB_FILE)
    training = dataclasses.replace(
        training, data=dataclasses.replace(training.data, train_manifest=train_manifest, dev_manifest=dev_manifest)
    )
    given = {".".join(config_io.parse_override(text)[0]) for text in config.overrides}
    training = small_data_settings(training, [u.duration for u in utterances], given)
    if not (config.resume and (out / "last.pt").is_file()):
        carry_decoder(config, files.folder, tokenizer)
    cfg = training.train
    where = f" ({files.network})" if str(files.network) != config.model else ""
    _say(
        f"fine-tuning {config.model}{where}: lr {cfg.lr:.3g}, {cfg.epochs} epoch{'s' * (cfg.epochs != 1)} of "
        f"{training.data.max_batch_duration:g} s batches, warm-up {cfg.warmup_steps} steps, its SpecAugment and "
        "normalisation statistics (key=value overrides any of these)"
    )
    return training


def finetune(config: FinetuneConfig) -> Path:
    """Fine-tune ``config.model`` on ``config.train_manifest`` into ``config.out``; returns best.pt's path."""
    find_model(config.model)  # a wrong --model: its line, before OUT is made
    out = check_writable_folder(config.out, "--out")
    lock = ExpDirLock(out)  # held while the run's files are written, so no other trainer's change under it
    note = lock.acquire()
    if note:
        _say(note)
    try:
        training = finetune_experiment(config)
        return train(training, resume=config.resume, progress=config.progress, force=config.force)
    finally:
        lock.release()
