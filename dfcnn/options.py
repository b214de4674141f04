"""Inference settings (chunks of long audio, segments, batches) and the backend and export choices,
importable without torch.

``dfcnn --help`` builds its parser from these defaults and choices; keeping them here, apart from
the modules that run the network, is what lets it answer without loading torch (seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

BACKENDS = ("torch", "onnx")  # what runs the network: PyTorch, or onnxruntime's CPU provider (dfcnn.deploy.runtime)
EXPORT_FORMATS = ("onnx",)  # what dfcnn export writes (TorchScript was dropped: see dfcnn.deploy.export)
# dfcnn finetune without --dev: a tenth held out (30 utterances of 300: a dev score that means something)
FINETUNE_DEV_FRACTION = 0.1


@dataclass
class ChunkConfig:
    """How long audio is cut for the network (dfcnn.longform)."""

    chunk_seconds: float = 30.0  # audio whose output frames one forward pass keeps
    context_seconds: float = 1.0  # extra audio seen on each side and discarded; raised to the receptive field


@dataclass
class TranscribeConfig:
    """How files become timed transcripts (dfcnn.inference)."""

    chunk: ChunkConfig = field(default_factory=ChunkConfig)  # long audio: chunk length and context
    min_pause: float = 0.5  # seconds of blank that end a segment
    max_segment: float = 30.0  # a longer segment is cut at its longest pause
    max_batch_duration: float = 200.0  # seconds of short files decoded in one batch
