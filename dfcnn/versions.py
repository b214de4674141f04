"""The installed packages dfcnn needs: the torch / torchaudio pair, and the optional ``serve`` extra.

torchaudio's native library is compiled against one torch release: beside any other torch it fails
to load with an undefined symbol, and every module that needs it fails with that. dfcnn therefore
loads torchaudio only through ``load_torchaudio``, which checks the installed pair first (from the
package metadata, before any native code loads) and turns a mismatch into one line naming both
versions and the fix.
"""

from __future__ import annotations

import importlib.metadata
import sys
from types import ModuleType

from .errors import DfcnnError


def release(version: str) -> str:
    """The release part of a version: "2.11.0+cu130" -> "2.11.0"."""
    return version.split("+", 1)[0]


def torch_pair_problem(torch_version: str | None, torchaudio_version: str | None) -> str | None:
    """Why this torch and torchaudio cannot work together, or None when they can.

    A torchaudio release is built for the torch release of the same number (2.11.0 for 2.11.0).
    """
    if torch_version is None:
        return "torch is not installed: run `make setup` (or pip install -r requirements.lock)"
    if torchaudio_version is None:
        return (
            f"torchaudio is not installed: pip install torchaudio=={release(torch_version)} "
            f"(the one built for torch {torch_version})"
        )
    if release(torch_version) != release(torchaudio_version):
        return (
            f"torch {torch_version} and torchaudio {torchaudio_version} do not match: torchaudio is built for one "
            f"torch release; install the pair dfcnn is locked to with `make setup` (requirements.lock), or "
            f"pip install torchaudio=={release(torch_version)}"
        )
    return None


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_torchaudio() -> ModuleType:
    """``import torchaudio``, after checking that it was built for the installed torch.

    Raises:
        DfcnnError with one line naming both versions and the fix, for a mismatched pair or a
        torchaudio whose native library fails to load.
    """
    if "torchaudio" in sys.modules:  # imported (and checked) before: the metadata reads cost ms a call
        return sys.modules["torchaudio"]
    torch_version, torchaudio_version = installed_version("torch"), installed_version("torchaudio")
    problem = torch_pair_problem(torch_version, torchaudio_version)
    if problem:
        raise DfcnnError(problem)
    try:
        import torchaudio
    except (ImportError, OSError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DfcnnError(
            f"torchaudio {torchaudio_version} fails to load beside torch {torch_version} ({first_line[:160]}); "
            "reinstall the locked pair with `make setup`"
        ) from None
    return torchaudio


def require_extra(*modules: str, what: str = "this command") -> None:
    """Fail with the install line when a module of the ``serve`` extra (serving, export, the onnx
    backend) is not installed."""
    import importlib.util

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise DfcnnError(f"{what} needs {', '.join(missing)}: pip install 'dfcnn[serve]'")
