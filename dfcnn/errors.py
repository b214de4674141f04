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


class CheckpointError(DfcnnError):
    """A checkpoint is missing, truncated or not a dfcnn checkpoint."""


class VocabError(DfcnnError):
    """A vocabulary file is malformed or a text cannot be tokenised with it."""
