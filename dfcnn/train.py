"""Training a DFCNN with CTC.

    dfcnn train recipes/fsdd/conf.yaml                   # fresh run into exp_dir
    dfcnn train recipes/fsdd/conf.yaml train.lr=5e-4     # with overrides
    dfcnn train recipes/fsdd/conf.yaml --resume          # continue exp_dir/last.pt exactly
    torchrun --nproc-per-node 4 -m dfcnn train conf.yaml # data-parallel on 4 GPUs

Writes to ``exp_dir``: last.pt (every ``save_every_steps`` and each epoch), epoch-N.pt (the last
``keep_epoch_checkpoints``), best.pt (best dev error), metrics.jsonl, tensorboard/, config.yaml.
"""

from __future__ import annotations

import math
import os
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from . import config as config_io
from .audio import SAMPLE_RATE
from .checkpoint import build_payload, copy_checkpoint, load_checkpoint, save_checkpoint, transfer_weights
from .data import DurationBatchSampler, SpeechDataset, collate, filter_for_ctc, read_manifest, worker_options
from .errors import ConfigError
from .features import FeatureConfig, FeatureExtractor, SpecAugment, SpecAugmentConfig, compute_stats
from .inference import Recognizer, resolve_device
from .metrics import score
from .model import DFCNN, ModelConfig
from .text import Tokenizer
from .tracking import MetricsLog


@dataclass
class DataConfig:
    train_manifest: str = ""  # JSONL manifest of the training utterances
    dev_manifest: str = ""  # JSONL manifest scored after each epoch (best.pt follows it)
    vocab: str = ""  # vocabulary file, one token per line, <blank> first
    normalizer: str = "english"  # text normaliser: english | mandarin | none
    unit: str = "char"  # what a vocab token is: char | pinyin (tonal syllables such as ni3, for mandarin) | word (closed vocabularies)
    max_batch_duration: float = 200.0  # seconds of padded audio per batch
    max_utterance_duration: float = 30.0  # longer training utterances are dropped (memory)
    speed_perturb: list[float] = field(default_factory=list)  # speeds drawn per utterance and epoch, e.g. [0.9, 1.0, 1.1]; [] = off
    num_workers: int = 2  # audio decoding processes
    worker_start: str = "forkserver"  # how they start: forkserver (small; a script must guard its entry point) | fork
    stats_utterances: int = 500  # training utterances sampled for the normalisation statistics


@dataclass
class TrainConfig:
    epochs: int = 30  # passes over the training data
    lr: float = 1e-3  # peak learning rate (AdamW)
    weight_decay: float = 1e-2  # AdamW decoupled weight decay
    warmup_steps: int = 500  # linear warmup from 0, then cosine decay to lr * final_lr_ratio
    final_lr_ratio: float = 0.05  # learning rate at the last step, relative to lr
    grad_clip: float = 5.0  # max global gradient norm
    seed: int = 0  # seeds model init, batch order, SpecAugment and dropout
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # mixed precision on CUDA (bf16 where supported, else fp16); ignored on CPU
    log_every_steps: int = 20  # metrics.jsonl / TensorBoard interval
    save_every_steps: int = 500  # mid-epoch last.pt interval, for resuming long epochs
    keep_epoch_checkpoints: int = 5  # epoch-N.pt files kept (for averaging)
    select_metric: str = "wer"  # dev metric that picks best.pt: wer | cer
    dev_every_epochs: int = 1  # score dev every N epochs (and after the last)
    patience: int = 0  # early stopping: end after this many dev scorings without a new best; 0 = off
    init_from: str = ""  # checkpoint whose weights start a fresh run (fine-tuning); output rows matched by token


@dataclass
class ExperimentConfig:
    exp_dir: str = "exp"  # checkpoints, logs and TensorBoard events go here
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    specaugment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


def learning_rate(step: int, total_steps: int, cfg: TrainConfig) -> float:
    """Linear warmup to ``cfg.lr`` then cosine decay to ``cfg.lr * cfg.final_lr_ratio``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
    floor = cfg.lr * cfg.final_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class Distributed:
    """This process's place in a torchrun launch (rank 0 of 1 without one)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Distributed:
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


class Trainer:
    """One training run: builds everything from an ``ExperimentConfig`` and runs or resumes it."""

    def __init__(self, config: ExperimentConfig, resume: bool = False, progress: bool = True):
        self.config = config
        self.progress = progress
        self.dist = Distributed.from_env()
        self.exp_dir = Path(config.exp_dir)
        cfg, data = config.train, config.data
        if cfg.select_metric not in ("wer", "cer"):
            raise ConfigError(f"train.select_metric must be wer or cer, got {cfg.select_metric!r}")
        for key in ("train_manifest", "dev_manifest", "vocab"):
            if not getattr(data, key):
                raise ConfigError(f"data.{key} is not set")
            if not Path(getattr(data, key)).is_file():
                raise ConfigError(
                    f"data.{key}: {getattr(data, key)} not found (config paths are relative to the working "
                    f"directory, {Path.cwd()})"
                )

        last = self.exp_dir / "last.pt"
        resume_from = None
        if last.exists():
            if not resume:
                raise ConfigError(f"{last} exists: pass --resume to continue that run, or set another exp_dir")
            resume_from = load_checkpoint(last)
        elif resume:
            self._say(f"no {last} to resume from: starting a fresh run")

        if self.dist.world_size > 1:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend)
        self.device = resolve_device(cfg.device)
        if self.device.type == "cuda" and self.dist.world_size > 1:
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)

        self.tokenizer = Tokenizer.from_file(data.vocab, data.normalizer, data.unit)
        config.model.input_bins = config.features.num_bins
        config.model.vocab_size = len(self.tokenizer)
        self.model = DFCNN(config.model).to(self.device)
        self.features = FeatureExtractor(config.features).to(self.device)
        self.specaugment = SpecAugment(config.specaugment).to(self.device)

        fastest = max(data.speed_perturb, default=1.0)

        def output_frames(seconds: float) -> int:  # at the fastest speed: every draw must fit CTC
            frames = config.features.num_frames(round(seconds / fastest * SAMPLE_RATE))
            return int(self.model.output_lengths(torch.tensor([frames]))[0])

        utterances, targets, dropped = filter_for_ctc(
            read_manifest(data.train_manifest), self.tokenizer, output_frames, data.max_utterance_duration
        )
        for reason, count in sorted(dropped.items()):
            self._say(f"dropped {count} training utterances: {reason}")
        if not utterances:
            raise ConfigError(f"{data.train_manifest}: no usable training utterances left")
        self.dev = read_manifest(data.dev_manifest)
        self.dataset = SpeechDataset(utterances, targets, data.speed_perturb, cfg.seed)
        self.dropped = dict(dropped)
        self.sampler = DurationBatchSampler(
            self.dataset.durations, data.max_batch_duration, shuffle=True, seed=cfg.seed,
            rank=self.dist.rank, world_size=self.dist.world_size,
        )
        self.loader = torch.utils.data.DataLoader(
            self.dataset, batch_sampler=self.sampler, collate_fn=collate, **worker_options(data.num_workers, data.worker_start),
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(cfg.seed),  # keeps the global RNG untouched
        )
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        amp = cfg.amp and self.device.type == "cuda"
        self.amp_dtype = torch.bfloat16 if amp and torch.cuda.is_bf16_supported() else torch.float16
        self.autocast = (lambda: torch.autocast("cuda", dtype=self.amp_dtype)) if amp else nullcontext
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp and self.amp_dtype == torch.float16)
        self.ddp_model = self.model
        if self.dist.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp_model = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)

        self.step = 0
        self.epoch = 0
        self.batches_done = 0  # in the current epoch
        self.skipped_batches = 0  # non-finite loss or gradient
        self.grad_norm = 0.0  # of the last step, before clipping
        self.best = {"score": float("inf"), "epoch": -1}
        self.total_steps = cfg.epochs * len(self.sampler.epoch_batches())
        if resume_from is not None:
            self._restore(resume_from)
        else:
            if cfg.init_from:
                reused = transfer_weights(load_checkpoint(cfg.init_from), self.model, self.tokenizer)
                self._say(f"weights from {cfg.init_from} ({reused})")
            self._init_stats()
        self.metrics = MetricsLog(self.exp_dir, self.dist.is_main)

    def _say(self, message: str) -> None:
        if self.dist.is_main:
            from tqdm import tqdm

            tqdm.write(message)

    def _init_stats(self) -> None:
        rng = random.Random(self.config.train.seed)
        count = min(len(self.dataset), self.config.data.stats_utterances)
        subset = SpeechDataset(rng.sample(self.dataset.utterances, count))
        loader = torch.utils.data.DataLoader(
            subset, batch_size=16, collate_fn=collate, **worker_options(self.config.data.num_workers, self.config.data.worker_start)
        )
        batches = ((b.waves.to(self.device), b.wave_lengths.to(self.device)) for b in loader)
        mean, std = compute_stats(self.features, batches)
        self.features.set_stats(mean, std)
        self._say(f"feature statistics from {count} training utterances")

    def _restore(self, payload: dict) -> None:
        try:
            self.model.load_state_dict(payload["model"])
        except RuntimeError:
            raise ConfigError(
                f"{self.exp_dir / 'last.pt'} was trained with another model or feature config than this one; "
                "resume with the original config, or set another exp_dir"
            ) from None
        self.features.set_stats(payload["feature_stats"]["mean"], payload["feature_stats"]["std"])
        state = payload["training"]
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch, self.batches_done = state["step"], state["epoch"], state["batches_done"]
        self.skipped_batches, self.best = state["skipped_batches"], state["best"]
        _set_rng_state(state["rng"], self.device)
        self._say(f"resumed {self.exp_dir / 'last.pt'}: epoch {self.epoch + 1}, step {self.step}")

    def _payload(self) -> dict:
        training = {
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "step": self.step, "epoch": self.epoch, "batches_done": self.batches_done,
            "skipped_batches": self.skipped_batches, "best": dict(self.best),
            "rng": _rng_state(self.device),
        }
        return build_payload(self.model, self.features, self.tokenizer, config_io.to_dict(self.config), training)

    def save(self, name: str = "last.pt") -> None:
        if self.dist.is_main:
            save_checkpoint(self.exp_dir / name, self._payload())

    def train_step(self, batch) -> float | None:
        """One optimisation step; returns the loss, or None when the batch was skipped as non-finite."""
        batch = batch.to(self.device)
        with torch.no_grad():
            features, frame_lengths = self.features(batch.waves, batch.wave_lengths)
            features = self.specaugment(features)
        with self.autocast():
            log_probs, output_lengths = self.ddp_model(features, frame_lengths)  # (B, T', V)
        loss = torch.nn.functional.ctc_loss(
            log_probs.transpose(0, 1), batch.targets, output_lengths, batch.target_lengths,
            blank=self.tokenizer.blank_id, reduction="mean",
        )
        self.optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            self.skipped_batches += 1
            return None
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.grad_clip)
        if not torch.isfinite(grad_norm):
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.update()
            self.skipped_batches += 1
            return None
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.grad_norm = float(grad_norm)
        return float(loss.detach())

    def evaluate_dev(self) -> dict:
        recognizer = Recognizer(self.model, self.features, self.tokenizer, self.device)
        hypotheses = recognizer.recognize(self.dev, self.config.data.max_batch_duration, progress=self.progress)
        self.model.train()
        self.features.train()
        refs = [self.tokenizer.reference_text(u.text) for u in self.dev]  # pinyin: syllable error rate
        result = score(refs, [self.tokenizer.reference_text(h.text) for h in hypotheses])
        return {"dev_wer": result.wer, "dev_cer": result.cer}

    def run(self, max_steps: int | None = None) -> Path:
        """Train until ``train.epochs`` (or ``max_steps`` steps, for tests); returns best.pt's path."""
        from tqdm import tqdm

        cfg = self.config.train
        self.exp_dir.mkdir(parents=True, exist_ok=True)
        if self.dist.is_main:
            (self.exp_dir / "config.yaml").write_text(yaml.safe_dump(config_io.to_dict(self.config), sort_keys=False))
            self._say(
                f"{sum(p.numel() for p in self.model.parameters()):,} parameters, {len(self.dataset)} utterances "
                f"({sum(self.dataset.durations) / 3600:.2f} h), {len(self.sampler.epoch_batches())} batches/epoch, "
                f"device {self.device}"
            )
        self.model.train()
        self.features.train()
        try:
            while self.epoch < cfg.epochs and not self.out_of_patience():
                self.sampler.set_epoch(self.epoch, skip_batches=self.batches_done)
                self.dataset.set_epoch(self.epoch)
                bar = tqdm(total=len(self.sampler) + self.batches_done, initial=self.batches_done,
                           desc=f"epoch {self.epoch + 1}/{cfg.epochs}", disable=not (self.progress and self.dist.is_main),
                           unit="batch", dynamic_ncols=True)
                window_audio, window_start, window_losses = 0.0, time.perf_counter(), []
                for batch in self.loader:
                    for group in self.optimizer.param_groups:
                        group["lr"] = learning_rate(self.step, self.total_steps, cfg)
                    loss = self.train_step(batch)
                    self.step += 1
                    self.batches_done += 1
                    window_audio += float(batch.wave_lengths.sum()) / SAMPLE_RATE * self.dist.world_size
                    if loss is not None:
                        window_losses.append(loss)
                    bar.update(1)
                    if self.step % cfg.log_every_steps == 0 and window_losses:
                        speed = window_audio / (time.perf_counter() - window_start)
                        mean_loss = sum(window_losses) / len(window_losses)
                        bar.set_postfix(loss=f"{mean_loss:.3f}", audio_s_per_s=f"{speed:.1f}")
                        self.metrics.log(self.step, {
                            "epoch": self.epoch + 1, "loss": mean_loss, "lr": self.optimizer.param_groups[0]["lr"],
                            "audio_sec_per_sec": speed, "grad_norm": self.grad_norm,
                            "skipped_batches": self.skipped_batches,
                        })
                        window_audio, window_start, window_losses = 0.0, time.perf_counter(), []
                    if self.step % cfg.save_every_steps == 0:
                        self.save()
                    if max_steps is not None and self.step >= max_steps:
                        bar.close()
                        self.save()
                        return self.exp_dir / "best.pt"
                bar.close()
                self._end_epoch()
        except KeyboardInterrupt:
            self.save()
            self._say(f"interrupted: state saved to {self.exp_dir / 'last.pt'}; continue with --resume")
            raise
        finally:
            self.metrics.close()
        return self.exp_dir / "best.pt"

    def out_of_patience(self) -> bool:
        """True once ``train.patience`` dev scorings in a row brought no new best (never when 0)."""
        cfg = self.config.train
        if cfg.patience <= 0 or self.best["epoch"] < 1:
            return False
        stale = (self.epoch - self.best["epoch"]) // cfg.dev_every_epochs
        if stale >= cfg.patience:
            self._say(f"early stop after epoch {self.epoch}: no better dev {cfg.select_metric} since epoch {self.best['epoch']}")
            return True
        return False

    def _end_epoch(self) -> None:
        cfg = self.config.train
        self.epoch += 1
        self.batches_done = 0
        record = {"epoch": self.epoch, "skipped_batches": self.skipped_batches}
        improved = False
        if self.dist.is_main and (self.epoch % cfg.dev_every_epochs == 0 or self.epoch == cfg.epochs):
            record.update(self.evaluate_dev())
            other = "cer" if cfg.select_metric == "wer" else "wer"
            current = [record[f"dev_{cfg.select_metric}"], record[f"dev_{other}"]]  # ties broken by the other
            improved = current < [self.best["score"], self.best.get("tiebreak", float("inf"))]
            if improved:
                self.best = {"score": current[0], "tiebreak": current[1], "epoch": self.epoch}
            self._say(
                f"epoch {self.epoch}: dev WER {record['dev_wer']:.2f}% CER {record['dev_cer']:.2f}%"
                + (" (best)" if improved else f" (best {self.best['score']:.2f}% at epoch {self.best['epoch']})")
            )
        self.metrics.log(self.step, record)
        self.save()
        if self.dist.is_main:
            last = self.exp_dir / "last.pt"
            copy_checkpoint(last, self.exp_dir / f"epoch-{self.epoch}.pt")
            if improved:
                copy_checkpoint(last, self.exp_dir / "best.pt")
            stale = self.exp_dir / f"epoch-{self.epoch - cfg.keep_epoch_checkpoints}.pt"
            stale.unlink(missing_ok=True)
        if self.dist.world_size > 1:
            torch.distributed.barrier()


def train(config: ExperimentConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train (or resume) the experiment described by ``config``; returns the path of best.pt."""
    return Trainer(config, resume=resume, progress=progress).run()
