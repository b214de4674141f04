"""eSpeak NG in-process: the one ctypes binding to the library and voice data that the PyPI package
espeakng-loader ships. ``pronounce`` reads letter-to-sound from it (``espeak_TextToPhonemes``); a
recipe synthesises speech with it (``espeak_Synth`` and a ``SYNTH_CALLBACK`` that collects the samples).

    library, sample_rate = open_library()     # loaded and initialised (22050 Hz output)
    library.espeak_SetVoiceByName(b"en-us")
    close_library(library)                    # terminated and unloaded

Every function the package and the recipes call is declared here with its C signature (speak_lib.h);
calls on one library instance must be serialised by the caller (the library is global state).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
from pathlib import Path

from .errors import DfcnnError

INSTALL_HINT = "pip install espeakng-loader"

# espeak_AUDIO_OUTPUT and the espeak_Initialize option of speak_lib.h
AUDIO_OUTPUT_SYNCHRONOUS = 2  # synthesis returns once the text is spoken, audio through the synth callback
INITIALIZE_DONT_EXIT = 0x8000  # report a missing data folder as an error instead of exiting the process

# eSpeak copies the data path into a fixed buffer (160 bytes on Linux); a longer path is reached
# through a short symbolic link in the temporary folder.
_MAX_DATA_PATH = 120

SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class EspeakError(DfcnnError):
    """eSpeak NG is missing, or refused a voice, a parameter or a text."""


class VoiceEntry(ctypes.Structure):
    """``espeak_VOICE``: one entry of ``espeak_ListVoices``."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, NUL-terminated tag)*, then a 0 byte
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


def library_paths() -> tuple[str, str]:
    """(path of libespeak-ng, path of espeak-ng-data) from ``espeakng-loader``."""
    try:
        import espeakng_loader
    except ImportError:
        raise EspeakError(f"eSpeak NG (letter-to-sound, speech synthesis) is not installed: {INSTALL_HINT}") from None
    library = espeakng_loader.get_library_path()
    try:
        data = espeakng_loader.get_data_path()
    except RuntimeError as error:
        raise EspeakError(f"espeakng-loader has no voice data ({error}); reinstall it: {INSTALL_HINT}") from None
    if not Path(library).is_file():
        raise EspeakError(f"espeakng-loader's library {library} is missing; reinstall it: {INSTALL_HINT}")
    return library, data


def _short_data_path(data: str) -> str:
    if len(data.encode()) <= _MAX_DATA_PATH:
        return data
    link = Path(tempfile.gettempdir()) / f"espeak-ng-data-{hashlib.sha1(data.encode()).hexdigest()[:12]}"
    if not (link.is_symlink() and os.readlink(link) == data):
        tmp = link.with_name(f"{link.name}.{os.getpid()}")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(data)
        os.replace(tmp, link)
    return str(link)


def _declare(lib: ctypes.CDLL) -> None:
    """The C signatures of the functions called through ``lib``."""
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_SetSynthCallback.argtypes = [SYNTH_CALLBACK]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
        ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_ListVoices.argtypes = [ctypes.POINTER(VoiceEntry)]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(VoiceEntry))
    lib.espeak_Terminate.restype = ctypes.c_int


def open_library(path: str | None = None) -> tuple[ctypes.CDLL, int]:
    """Load libespeak-ng and initialise it with espeakng-loader's voice data: (library, output sample rate).

    ``path``: the library file to load (a private copy, for one that can be unloaded and loaded
    afresh); default espeakng-loader's. Raises ``EspeakError`` with the install hint when it cannot.
    """
    library, data = library_paths()
    try:
        lib = ctypes.CDLL(path or library)
    except OSError as error:
        raise EspeakError(f"cannot load {library}: {error} ({INSTALL_HINT})") from None
    _declare(lib)
    rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, _short_data_path(data).encode(), INITIALIZE_DONT_EXIT)
    if rate <= 0:
        raise EspeakError(f"espeak_Initialize failed (data {data}); reinstall: {INSTALL_HINT}")
    return lib, rate


def close_library(lib: ctypes.CDLL) -> None:
    """Terminate and unload ``lib`` (``dlclose``: the process may still hold it if it was opened twice)."""
    import _ctypes

    lib.espeak_Terminate()
    _ctypes.dlclose(lib._handle)
