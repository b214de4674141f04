"""dfcnn: speech recognition with a deep fully convolutional network over spectrograms, trained with CTC.

    from dfcnn import load_model
    transcript = load_model("exp/best.pt").transcribe("speech.flac")

    from dfcnn import ExperimentConfig, train
    best = train(ExperimentConfig(...))

The public names below are lazy: ``import dfcnn`` loads neither torch nor torchaudio, so ``dfcnn --help``
starts at once; each name imports its module on first use. The rooms: the pipeline at the top level
(audio, features, model, text, decode, lm, align, longform, transcript, metrics, checkpoint, inference,
data, ...), ``loading`` (the front door), ``training/``, ``deploy/`` (export, ONNX runtime), ``serve/``,
``viz/`` and ``cli``.
"""

from .errors import DfcnnError

_LAZY = {
    "load_model": "loading",
    "Recognizer": "inference",
    "DecoderConfig": "decode",
    "decoder_config": "decode",
    "TranscribeConfig": "options",
    "StreamingRecognizer": "streaming",
    "ExperimentConfig": "training.experiment",
    "Trainer": "training.train",
    "train": "training.train",
}
__all__ = ["DfcnnError", *_LAZY]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'dfcnn' has no attribute {name!r}")
