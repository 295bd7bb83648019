"""Importing pgmpy quietly: some pgmpy releases emit FutureWarnings about their own modules at
import time, which bayesdx users can do nothing about."""

from __future__ import annotations

import warnings


def load_pgmpy() -> None:
    """Import the pgmpy modules bayesdx uses, silencing pgmpy's import-time FutureWarnings."""
    with warnings.catch_warnings():
        # FutureWarning/DeprecationWarning about pgmpy's own modules, and tqdm's "IProgress not
        # found" in notebooks without ipywidgets (bayesdx never shows pgmpy progress bars).
        warnings.simplefilter("ignore")
        import pgmpy.factors.discrete  # noqa: F401
        import pgmpy.inference  # noqa: F401
        import pgmpy.models  # noqa: F401
        import pgmpy.readwrite  # noqa: F401
