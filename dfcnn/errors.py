"""The exceptions dfcnn raises for bad input.

Every error a user can cause (a missing file, a malformed manifest line, an unknown config key) is a
``DfcnnError``; the CLI prints its message on one line and exits non-zero instead of a traceback.
"""


class DfcnnError(Exception):
    """Base class of the errors caused by input (files, configs, manifests), not by bugs."""


class AudioError(DfcnnError):
    """An audio file is missing, empty, corrupt or not audio. The message names the file."""


class ManifestError(DfcnnError):
    """A manifest line is malformed. The message names the file and the line."""


class ConfigError(DfcnnError):
    """A config file or override is invalid. The message names the key."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field  # the dataclass field at fault, when a __post_init__ check raised it


class CheckpointError(DfcnnError):
    """A checkpoint is missing, truncated or not a dfcnn checkpoint."""


class VocabError(DfcnnError):
    """A vocabulary file is malformed or a text cannot be tokenised with it."""


class Interrupted(DfcnnError):
    """Work stopped on a signal (Ctrl-C, SIGTERM) with its state saved; the exit code is 128 + ``signal_number``."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.signal_number = signal_number


class DfcnnWarning(UserWarning):
    """Input that works but may mislead (a manifest whose references cannot be matched, ...); the CLI
    prints it on one line."""


QUOTE_LIMIT = 200  # characters of a bad value an error message shows: a line, not a megabyte


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text``, or its first ``limit`` characters and how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters."""
    return shorten(repr(value), limit)


def check_field(ok: bool, field: str, problem: str) -> None:
    """Raise ``ConfigError`` for config field ``field`` (e.g. "lr") unless ``ok``: used in
    ``__post_init__`` so a config is validated before any work starts. ``load_config`` prefixes the
    section and names the file or override that set the value. A ``problem`` quoting a huge value is
    cut short."""
    if not ok:
        raise ConfigError(f"{field} {shorten(problem, QUOTE_LIMIT + 100)}", field=field)
