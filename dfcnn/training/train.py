"""The Trainer: one training run with CTC (data, optimisation, checkpoints, dev scoring, stops, resume).

    dfcnn train recipes/fsdd/conf.yaml                   # fresh run into exp_dir
    dfcnn train recipes/fsdd/conf.yaml train.lr=5e-4     # with overrides
    dfcnn train recipes/fsdd/conf.yaml --resume          # continue exp_dir/last.pt exactly
    dfcnn train --nproc 4 conf.yaml                      # data-parallel on 4 GPUs (torchrun's launch)

Writes to ``exp_dir``: last.pt (every ``save_every_steps``, at each epoch's end before and after dev
scoring, and on a stop), epoch-N.pt (the last ``keep_epoch_checkpoints``), best.pt (best dev
error), metrics.jsonl, tensorboard/, config.yaml.

Stops lose nothing: Ctrl-C or SIGTERM ends the run at the next step boundary with last.pt saved;
kill -9 loses only the steps since the last save. ``--resume`` then continues bitwise as an
uninterrupted run would (every rank's random state is in last.pt), and recovers best.pt from the
bookkeeping in last.pt if the stop fell between writing the two.
"""

from __future__ import annotations

import dataclasses
import math
import random
import signal
import threading
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import yaml

from .. import config as config_io
from ..audio import SAMPLE_RATE
from ..checkpoint import build_payload, copy_checkpoint, load_checkpoint, save_checkpoint, transfer_weights
from ..data import (
    DurationBatchSampler,
    NoiseRecordings,
    SpeechDataset,
    Utterance,
    collate,
    filter_for_ctc,
    read_manifest,
)
from ..decode import build_decoder
from ..device import resolve_device
from ..errors import AudioError, ConfigError, DfcnnError, Interrupted
from ..features import FeatureExtractor, SpecAugment, compute_stats
from ..fileio import atomic_write_text, check_writable_folder, remove_stale_temp_files
from ..inference import Recognizer, TorchNetwork
from ..model import DFCNN
from ..pronounce import CMUDICT
from ..text import Tokenizer
from .allocator import allocator_in_use
from .distributed import Distributed, lost_peer
from .exp_dir import ExpDirLock
from .exp_dir import prepare as prepare_exp_dir
from .experiment import DataConfig, ExperimentConfig, TrainConfig
from .generators import Generators
from .tracking import LogWindow, MetricsLog
from .workers import worker_options

__all__ = ["DataConfig", "ExperimentConfig", "Interrupted", "TrainConfig", "Trainer", "train"]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def learning_rate(step: int, total_steps: int, cfg: TrainConfig) -> float:
    """Linear warmup to ``cfg.lr`` then cosine decay to ``cfg.lr * cfg.final_lr_ratio``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
    floor = cfg.lr * cfg.final_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class TrainingData:
    """The training utterances as batches, and the dev set."""

    dataset: SpeechDataset
    sampler: DurationBatchSampler
    loader: torch.utils.data.DataLoader
    dev: list[Utterance]
    dropped: Counter  # training utterances left out, by reason


def build_data(config: ExperimentConfig, tokenizer: Tokenizer, model: DFCNN, dist: Distributed) -> TrainingData:
    """Read, filter and batch the training manifest (every utterance CTC can learn from)."""
    data, seed = config.data, config.train.seed
    fastest = max(data.speed_perturb, default=1.0)

    def output_frames(seconds: float) -> int:  # at the fastest speed: every draw must fit CTC
        frames = config.features.num_frames(round(seconds / fastest * SAMPLE_RATE))
        return int(model.output_lengths(torch.tensor([frames]))[0])

    utterances, targets, dropped = filter_for_ctc(
        read_manifest(data.train_manifest), tokenizer, output_frames, data.max_utterance_duration
    )
    if not utterances:
        raise ConfigError(f"{data.train_manifest}: no usable training utterances left ({dict(dropped)})")
    robustness = data.robustness if data.robustness.enabled else None
    noise = NoiseRecordings(robustness.noise_dir) if robustness is not None and robustness.noise_dir else None
    dataset = SpeechDataset(utterances, targets, data.speed_perturb, seed, robustness, noise)
    sampler = DurationBatchSampler(  # batches sized by each epoch's drawn lengths: the memory bound holds
        dataset.durations,
        data.max_batch_duration,
        shuffle=True,
        seed=seed,
        rank=dist.rank,
        world_size=dist.world_size,
        buckets_per_doubling=data.length_buckets,
        epoch_durations=dataset.epoch_durations,
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=partial(collate, buckets_per_doubling=data.length_buckets),
        pin_memory=torch.cuda.is_available(),
        generator=torch.Generator().manual_seed(seed),  # global RNG untouched
        **worker_options(data.num_workers, data.worker_start),
    )
    return TrainingData(dataset, sampler, loader, read_manifest(data.dev_manifest), dropped)


@dataclass
class Optimization:
    """The optimiser and mixed precision of a run."""

    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    autocast: object  # () -> context manager
    amp_dtype: torch.dtype


def build_optimization(model: DFCNN, cfg: TrainConfig, device: torch.device) -> Optimization:
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    amp = cfg.amp and device.type == "cuda"
    dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
    autocast = (lambda: torch.autocast("cuda", dtype=dtype)) if amp else nullcontext
    scaler = torch.amp.GradScaler("cuda", enabled=amp and dtype == torch.float16)
    return Optimization(optimizer, scaler, autocast, dtype)


def check_inputs(config: ExperimentConfig) -> None:
    """The files a run needs exist and are files (before anything is built)."""
    data = config.data
    needed = {f"data.{key}": getattr(data, key) for key in ("train_manifest", "dev_manifest", "vocab")}
    for key, value in needed.items():
        if not value:
            raise ConfigError(f"{key} is not set")
    if data.unit == "phone" and data.pronunciations != CMUDICT:
        needed["data.pronunciations"] = data.pronunciations
    if config.train.init_from:
        needed["train.init_from"] = config.train.init_from
    for key, value in needed.items():
        path = Path(value)
        if not path.exists():
            builtin = "; or use cmudict" if key == "data.pronunciations" else ""
            raise ConfigError(
                f"{key}: {path} not found (config paths are relative to the working directory, {Path.cwd()}{builtin})"
            )
        if not path.is_file():
            kind = "a folder" if path.is_dir() else "not a regular file (a pipe or a device)"
            raise ConfigError(f"{key}: {path} is {kind}, not a file")


class Trainer:
    """One training run: builds everything from an ``ExperimentConfig`` and runs or resumes it."""

    def __init__(self, config: ExperimentConfig, resume: bool = False, progress: bool = True, force: bool = False):
        check_inputs(config)
        self.progress = progress
        self.dist = Distributed.from_env()
        self.exp_dir = Path(config.exp_dir)
        cfg = config.train
        self.device = resolve_device(cfg.device)
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        self.dist.start(self.device.type)
        self.lock = ExpDirLock(self.exp_dir)
        self._claim_exp_dir(resume, force)  # now, not after the feature statistics
        try:
            self._build(config, resume)
        except BaseException:
            self.close()
            raise

    def _build(self, config: ExperimentConfig, resume: bool) -> None:
        """Model, data, optimiser and the state to start from (last.pt's when resuming)."""
        cfg = config.train
        last = self.exp_dir / "last.pt"
        resume_from = load_checkpoint(last) if resume and last.is_file() else None
        self.generators = Generators(cfg.seed, self.device)  # the caller's global generators stay untouched

        data = config.data
        self.tokenizer = Tokenizer.from_file(data.vocab, data.normalizer, data.unit, data.pronunciations)
        model_config = dataclasses.replace(
            config.model, input_bins=config.features.num_bins, vocab_size=len(self.tokenizer)
        )
        self.config = dataclasses.replace(config, model=model_config)  # the caller's config stays as it was
        if resume_from is not None and "robustness" not in ((resume_from.get("config") or {}).get("data") or {}):
            self.config = dataclasses.replace(
                self.config,
                data=dataclasses.replace(data, robustness=dataclasses.replace(data.robustness, enabled=False)),
            )
            self._say(f"{last} was trained before data.robustness existed: it continues without it, as it began")
        with self.generators.active():
            self.model = DFCNN(model_config).to(self.device)
        self.features = FeatureExtractor(config.features).to(self.device)
        self.specaugment = SpecAugment(config.specaugment).to(self.device)
        self.data = build_data(self.config, self.tokenizer, self.model, self.dist)
        for reason, count in sorted(self.data.dropped.items()):
            self._say(f"dropped {count} training utterances: {reason}")
        self.optim = build_optimization(self.model, cfg, self.device)
        self.ddp_model = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp_model = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

        self.step = 0
        self.epoch = 0
        self.batches_done = 0  # in the current epoch
        self.dev_pending = False  # the epoch has ended but its dev scoring has not (a stop in between)
        self.skipped_batches = 0  # non-finite loss or gradient, or no readable audio
        self.bad_audio: dict[str, str] = {}  # utt_id -> why it could not be read (skipped)
        self.grad_norm = 0.0  # of the last step, before clipping
        self.log_window = LogWindow()  # what the next metrics.jsonl line averages
        self.saved_step: int | None = None  # the step of the last save of last.pt (None: none yet)
        self.best = {"score": float("inf"), "epoch": -1}
        self.total_steps = cfg.epochs * len(self.data.sampler.epoch_batches())
        self._stop_signal: int | None = None
        if resume_from is not None:
            self._restore(resume_from)
        else:
            init = load_checkpoint(cfg.init_from) if cfg.init_from else None
            if init is not None:
                reused = transfer_weights(init, self.model, self.tokenizer)
                self._say(f"weights from {cfg.init_from} ({reused})")
            if init is not None and cfg.keep_init_stats:
                self._keep_stats(init)
            else:
                self._init_stats()
        keep_lines = resume_from["training"].get("metrics_lines") if resume_from else 0  # None: an older last.pt
        self.metrics = MetricsLog(self.exp_dir, self.dist.is_main, keep_lines, after_step=self.step)

    # shortcuts to what build_data and build_optimization made
    @property
    def dataset(self) -> SpeechDataset:
        return self.data.dataset

    @property
    def sampler(self) -> DurationBatchSampler:
        return self.data.sampler

    @property
    def loader(self) -> torch.utils.data.DataLoader:
        return self.data.loader

    @property
    def dropped(self) -> dict:
        return dict(self.data.dropped)

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.optim.optimizer

    def _claim_exp_dir(self, resume: bool, force: bool) -> None:
        """Rank 0 locks exp_dir, clears what killed writes left, and checks (or with ``force``
        clears) what an earlier run left; every rank raises its verdict, so all refuse together."""
        problem = None
        if self.dist.is_main:
            try:
                check_writable_folder(self.exp_dir, "exp_dir")
                note = self.lock.acquire()
                if note:
                    self._say(note)
                for stale in remove_stale_temp_files(self.exp_dir):
                    self._say(f"removed {stale.name}, left by a write that was killed")
                for line in prepare_exp_dir(self.exp_dir, resume, force):
                    self._say(line)
            except DfcnnError as error:
                self.lock.release()
                problem = str(error)
        problem = self.dist.broadcast(problem)
        if problem is not None:
            raise ConfigError(problem)

    def close(self) -> None:
        """Give exp_dir up (``run`` does, when it ends): another trainer may then use it."""
        self.lock.release()

    def _say(self, message: str) -> None:
        if self.dist.is_main:
            from tqdm import tqdm

            tqdm.write(message)

    def _init_stats(self) -> None:
        data = self.config.data
        rng = random.Random(self.config.train.seed)
        count = min(len(self.dataset), data.stats_utterances)
        subset = SpeechDataset(rng.sample(self.dataset.utterances, count))
        loader = torch.utils.data.DataLoader(
            subset,
            batch_size=16,
            collate_fn=collate,
            generator=torch.Generator().manual_seed(0),
            **worker_options(data.num_workers, data.worker_start, persistent=False),
        )
        batches = ((b.waves.to(self.device), b.wave_lengths.to(self.device)) for b in loader if b.indices)
        mean, std = compute_stats(self.features, batches)
        self.features.set_stats(mean, std)
        self._say(f"feature statistics from {count} training utterances")

    def _keep_stats(self, init: dict) -> None:
        """The normalisation statistics of train.init_from's checkpoint: its weights were learnt on
        features normalised by them, so the fine-tuning starts from exactly the model it was."""
        if init["feature_config"] != dataclasses.asdict(self.features.config):
            raise ConfigError(
                f"train.keep_init_stats: {self.config.train.init_from} was trained with other features "
                "than features.* here: its statistics do not apply (set it false, or use its features)"
            )
        stats = init["feature_stats"]
        self.features.set_stats(stats["mean"].to(self.device), stats["std"].to(self.device))
        self._say(f"feature statistics from {self.config.train.init_from}")

    def _restore(self, payload: dict) -> None:
        last = self.exp_dir / "last.pt"
        if not isinstance(payload.get("training"), dict):
            raise ConfigError(
                f"{last} holds no training state (an averaged or exported model?): it cannot be "
                "resumed; start a fresh run from its weights with train.init_from"
            )
        state = payload["training"]
        try:
            self.model.load_state_dict(payload["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, ValueError, TypeError):
            raise ConfigError(
                f"{last} was trained with another model, feature or vocabulary config than this one; "
                "resume with the original config, or set another exp_dir"
            ) from None
        try:
            self.step, self.epoch, self.batches_done = state["step"], state["epoch"], state["batches_done"]
            self.skipped_batches, self.best = state["skipped_batches"], dict(state["best"])
            self.dev_pending = state.get("dev_pending", False)
            self.bad_audio = dict(state.get("bad_audio", {}))
            self.log_window = LogWindow.from_state(state.get("log_window"))
            self.grad_norm = float(state.get("grad_norm", 0.0))
            states = state["rng"] if isinstance(state["rng"], list) else [state["rng"]]  # older: rank 0's only
            self.generators.set_state(states[min(self.dist.rank, len(states) - 1)])
            if state.get("scaler"):
                self.optim.scaler.load_state_dict(state["scaler"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise ConfigError(f"{last}: its training state is incomplete ({type(error).__name__}: {error})") from None
        self.features.set_stats(payload["feature_stats"]["mean"], payload["feature_stats"]["std"])
        if len(states) != self.dist.world_size and self.dist.enabled:
            self._say(
                f"{last} was saved by {len(states)} ranks, resumed by {self.dist.world_size}: "
                "the run continues, but not bitwise as it would have"
            )
        self.saved_step = self.step
        where = f"dev scoring of epoch {self.epoch}" if self.dev_pending else f"epoch {self.epoch + 1}"
        self._say(f"resumed {last}: {where}, step {self.step}")
        if self.dist.is_main:
            self._recover_best()

    def _recover_best(self) -> None:
        """Make best.pt match the bookkeeping in last.pt (a stop between writing the two)."""
        best_epoch, best = self.best["epoch"], self.exp_dir / "best.pt"
        if best_epoch < 1:
            return
        if best.is_file():
            try:
                if load_checkpoint(best)["training"]["epoch"] == best_epoch:
                    return
            except (DfcnnError, KeyError):
                pass
        sources = [self.exp_dir / f"epoch-{best_epoch}.pt"]
        if self.epoch == best_epoch and self.batches_done == 0 and not self.dev_pending:
            sources.insert(0, self.exp_dir / "last.pt")
        for source in sources:
            if source.is_file():
                copy_checkpoint(source, best)
                self._say(f"recovered {best} (epoch {best_epoch}) from {source.name}")
                return
        self._say(f"warning: best.pt of epoch {best_epoch} is gone and cannot be recovered")

    def _payload(self) -> dict:
        """The training checkpoint (a collective call: every rank's random state is gathered)."""
        states = self.dist.gather(self.generators.state())
        training = {
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.optim.scaler.state_dict() if self.optim.scaler.is_enabled() else {},
            "step": self.step,
            "epoch": self.epoch,
            "batches_done": self.batches_done,
            "dev_pending": self.dev_pending,
            "skipped_batches": self.skipped_batches,
            "best": dict(self.best),
            "bad_audio": dict(self.bad_audio),
            "rng": states,
            "metrics_lines": self.metrics.lines,
            "log_window": self.log_window.state_dict(),
            "grad_norm": self.grad_norm,
        }
        return build_payload(self.model, self.features, self.tokenizer, config_io.to_dict(self.config), training)

    def save(self, name: str = "last.pt") -> None:
        """Write the training state (call on every rank; rank 0 writes)."""
        payload = self._payload()
        if self.dist.is_main:
            save_checkpoint(self.exp_dir / name, payload)
        self.saved_step = self.step

    def train_step(self, batch) -> float | None:
        """One optimisation step; returns the loss, or None when the batch was skipped: no readable
        audio, or a non-finite loss or gradient (with DDP, on any rank: all ranks skip together)."""
        usable = bool(batch.indices)
        if usable:
            batch = batch.to(self.device)
            with torch.no_grad():
                features, frame_lengths = self.features(batch.waves, batch.wave_lengths)
                features = self.specaugment(features)
            with self.optim.autocast():
                log_probs, output_lengths = self.ddp_model(features, frame_lengths)  # (B, T', V)
            loss = torch.nn.functional.ctc_loss(
                log_probs.transpose(0, 1),
                batch.targets,
                output_lengths,
                batch.target_lengths,
                blank=self.tokenizer.blank_id,
                reduction="mean",
            )
            usable = bool(torch.isfinite(loss))
        if self.dist.enabled:
            usable = all(self.dist.gather(usable))  # a skipped backward on one rank would hang the others
        optimizer, scaler = self.optimizer, self.optim.scaler
        optimizer.zero_grad(set_to_none=True)
        if not usable:
            self.skipped_batches += 1
            return None
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.grad_clip)
        if not torch.isfinite(grad_norm):
            optimizer.zero_grad(set_to_none=True)
            scaler.update()
            self.skipped_batches += 1
            return None
        scaler.step(optimizer)
        scaler.update()
        self.grad_norm = float(grad_norm)
        return float(loss.detach())

    def _check_audio(self, batch) -> None:
        """Name and count the utterances of ``batch`` whose audio could not be read (or stop on them)."""
        for index, error in batch.failed:
            utterance = self.dataset.utterances[index]
            if not self.config.data.skip_bad_audio:
                raise AudioError(f"{error} (training utterance {utterance.utt_id}; data.skip_bad_audio=true skips it)")
            if utterance.utt_id not in self.bad_audio:
                self.bad_audio[utterance.utt_id] = error
                self._say(
                    f"skipped unreadable training utterance {utterance.utt_id}: {error} ({len(self.bad_audio)} so far)"
                )

    def evaluate_dev(self) -> dict:
        """Greedy WER/CER on dev (rank 0), the model switched to eval mode and back."""
        self.model.eval()
        self.features.eval()
        try:
            recognizer = Recognizer(TorchNetwork(self.model, self.features), self.tokenizer)
            skip = self.config.data.skip_bad_audio
            hypotheses = recognizer.recognize(
                self.data.dev, self.config.data.max_batch_duration, progress=self.progress, skip_failed=skip
            )
        finally:
            self.model.train()
            self.features.train()
        scored = [(u, h) for u, h in zip(self.data.dev, hypotheses) if h is not None]
        if len(scored) < len(self.data.dev):
            self._say(
                f"warning: {len(self.data.dev) - len(scored)} dev utterances could not be read and were "
                "left out of the dev score"
            )
        if not scored:
            raise AudioError(f"{self.config.data.dev_manifest}: no dev utterance could be read")
        decoder = build_decoder(self.tokenizer)
        result = decoder.score([u.text for u, _ in scored], [h.text for _, h in scored])
        return {"dev_wer": result.wer, "dev_cer": result.cer}

    def _on_signal(self, number: int, frame) -> None:
        self._stop_signal = number
        if number == signal.SIGINT:  # a second Ctrl-C aborts at once (last.pt holds the last save)
            signal.signal(signal.SIGINT, signal.default_int_handler)
        again = " (Ctrl-C again to abort at once)" if number == signal.SIGINT else ""
        self._say(f"{signal.Signals(number).name}: stopping at the next step boundary, then saving last.pt{again}")

    def _stop_requested(self) -> int | None:
        """The signal that asks this run to stop, agreed by every rank (rank order: the first seen)."""
        return next((s for s in self.dist.gather(self._stop_signal) if s is not None), None)

    def _stop(self, number: int) -> None:
        self.save()
        raise Interrupted(
            f"stopped by {signal.Signals(number).name} at epoch {self.epoch + 1}, step {self.step}: state saved to "
            f"{self.exp_dir / 'last.pt'}; continue with --resume",
            number,
        )

    def run(self, max_steps: int | None = None) -> Path:
        """Train until ``train.epochs`` (or ``max_steps`` steps, for tests); returns best.pt's path
        (last.pt's when no dev scoring has happened yet)."""
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            handlers = {number: signal.signal(number, self._on_signal) for number in STOP_SIGNALS}
        try:
            with self.generators.active():
                self._run(max_steps)
            self.dist.stop()
        except RuntimeError as error:  # under DDP: a collective whose peer process died (kill -9, a crash)
            if not (self.dist.enabled and lost_peer(error)):
                raise
            raise DfcnnError(self._lost_peer()) from None
        finally:
            for number, handler in handlers.items():
                signal.signal(number, handler)
            self.metrics.close()
            self.close()
        best = self.exp_dir / "best.pt"
        return best if best.is_file() else self.exp_dir / "last.pt"

    def _run(self, max_steps: int | None) -> None:
        from tqdm import tqdm

        cfg = self.config.train
        self.exp_dir.mkdir(parents=True, exist_ok=True)
        if self.dist.is_main:
            config_yaml = yaml.safe_dump(config_io.to_dict(self.config), sort_keys=False)
            atomic_write_text(self.exp_dir / "config.yaml", config_yaml)
            self._say(
                f"{sum(p.numel() for p in self.model.parameters()):,} parameters, {len(self.dataset)} utterances "
                f"({sum(self.dataset.durations) / 3600:.2f} h), {len(self.sampler.epoch_batches())} batches/epoch, "
                f"device {self.device}, {allocator_in_use()}"
            )
        if self.dev_pending:  # stopped between an epoch's end and its dev scoring
            self._score_epoch()
        self.model.train()
        self.features.train()
        while self.epoch < cfg.epochs and not self.out_of_patience():
            self.sampler.set_epoch(self.epoch, skip_batches=self.batches_done)
            bar = tqdm(
                total=len(self.sampler) + self.batches_done,
                initial=self.batches_done,
                unit="batch",
                desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
                dynamic_ncols=True,
                disable=not (self.progress and self.dist.is_main),
            )
            if self.batches_done == 0:  # an epoch's unlogged last steps are not carried into the next
                self.log_window = LogWindow()
            for batch in self.loader:
                for group in self.optimizer.param_groups:
                    group["lr"] = learning_rate(self.step, self.total_steps, cfg)
                self._check_audio(batch)
                loss = self.train_step(batch)
                self.step += 1
                self.batches_done += 1
                self.log_window.add(loss, float(batch.wave_lengths.sum()) / SAMPLE_RATE * self.dist.world_size)
                bar.update(1)
                if self.step % cfg.log_every_steps == 0 and self.log_window.losses:
                    speed, mean_loss = self.log_window.speed(), self.log_window.mean_loss()
                    bar.set_postfix(loss=f"{mean_loss:.3f}", audio_s_per_s=f"{speed:.1f}")
                    self.metrics.log(
                        self.step,
                        {
                            "epoch": self.epoch + 1,
                            "loss": mean_loss,
                            "lr": self.optimizer.param_groups[0]["lr"],
                            "audio_sec_per_sec": speed,
                            "grad_norm": self.grad_norm,
                            "skipped_batches": self.skipped_batches,
                            "bad_audio": len(self.bad_audio),
                        },
                    )
                    self.log_window = LogWindow()
                if self.step % cfg.save_every_steps == 0:
                    self.save()
                stop = self._stop_requested()
                if stop is not None:
                    bar.close()
                    self._stop(stop)
                if max_steps is not None and self.step >= max_steps:
                    bar.close()
                    self.save()
                    return
            bar.close()
            self._end_epoch()
            stop = self._stop_requested()  # a signal during dev scoring
            if stop is not None:
                self._stop(stop)

    def _lost_peer(self) -> str:
        """The line a rank whose peer died exits with."""
        other = f"rank {1 - self.dist.rank}" if self.dist.world_size == 2 else "another rank"
        if self.saved_step is None:
            return f"rank {self.dist.rank} lost {other}: nothing was saved yet; start the run again"
        return f"rank {self.dist.rank} lost {other}: state saved at step {self.saved_step}; resume with --resume"

    def out_of_patience(self) -> bool:
        """True once ``train.patience`` dev scorings in a row brought no new best (never when 0)."""
        cfg = self.config.train
        if cfg.patience <= 0 or self.best["epoch"] < 1:
            return False
        stale = (self.epoch - self.best["epoch"]) // cfg.dev_every_epochs
        if stale >= cfg.patience:
            self._say(
                f"early stop after epoch {self.epoch}: no better dev {cfg.select_metric} "
                f"since epoch {self.best['epoch']}"
            )
            return True
        return False

    def _end_epoch(self) -> None:
        cfg = self.config.train
        self.epoch += 1
        self.batches_done = 0
        self.dev_pending = self.epoch % cfg.dev_every_epochs == 0 or self.epoch == cfg.epochs
        self.save()  # the epoch's training is kept even if dev scoring fails or is stopped
        self._score_epoch()

    def _score_epoch(self) -> None:
        """Dev scoring of the epoch just ended (if due), then last.pt, epoch-N.pt and best.pt."""
        cfg = self.config.train
        record = {"epoch": self.epoch, "skipped_batches": self.skipped_batches, "bad_audio": len(self.bad_audio)}
        improved = False
        if self.dev_pending:
            scores = self.evaluate_dev() if self.dist.is_main else None
            scores = self.dist.broadcast(scores)  # every rank keeps the same best and stop decision
            record.update(scores)
            other = "cer" if cfg.select_metric == "wer" else "wer"
            current = [scores[f"dev_{cfg.select_metric}"], scores[f"dev_{other}"]]  # ties broken by the other
            improved = current < [self.best["score"], self.best.get("tiebreak", float("inf"))]
            if improved:
                self.best = {"score": current[0], "tiebreak": current[1], "epoch": self.epoch}
            wer = "PER" if self.tokenizer.unit == "phone" else "WER"  # a phone model's own output: phones
            self._say(
                f"epoch {self.epoch}: dev {wer} {scores['dev_wer']:.2f}% CER {scores['dev_cer']:.2f}%"
                + (" (best)" if improved else f" (best {self.best['score']:.2f}% at epoch {self.best['epoch']})")
            )
            self.dev_pending = False
        self.metrics.log(self.step, record)
        self.save()
        if self.dist.is_main:
            last = self.exp_dir / "last.pt"
            copy_checkpoint(last, self.exp_dir / f"epoch-{self.epoch}.pt")
            if improved:
                copy_checkpoint(last, self.exp_dir / "best.pt")
            (self.exp_dir / f"epoch-{self.epoch - cfg.keep_epoch_checkpoints}.pt").unlink(missing_ok=True)
        self.dist.barrier()


def train(config: ExperimentConfig, resume: bool = False, progress: bool = True, force: bool = False) -> Path:
    """Train (or resume) the experiment described by ``config``; returns the path of best.pt. ``force``:
    start over in an exp_dir that holds an earlier run (its checkpoints and metrics are removed)."""
    return Trainer(config, resume=resume, progress=progress, force=force).run()
