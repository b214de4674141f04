"""dfcnn: speech recognition with a deep fully convolutional network over spectrograms, trained with CTC."""

from .errors import DfcnnError
from .inference import Recognizer, load_model

__all__ = ["DfcnnError", "Recognizer", "load_model"]
__version__ = "0.1.0"
