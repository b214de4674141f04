"""dfcnn: speech recognition with a deep fully convolutional network over spectrograms, trained with CTC.

    from dfcnn import load_model
    transcript = load_model("exp/best.pt").transcribe("speech.flac")

The top level is lazy: ``import dfcnn`` loads neither torch nor torchaudio, so ``dfcnn --help``
starts at once; ``load_model`` and ``Recognizer`` import them on first use.
"""

from .errors import DfcnnError

__all__ = ["DfcnnError", "Recognizer", "load_model"]
__version__ = "0.1.0"

_LAZY = {"Recognizer": "inference", "load_model": "inference"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'dfcnn' has no attribute {name!r}")
