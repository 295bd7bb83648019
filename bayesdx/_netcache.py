"""A cache of parsed foreign networks, keyed by the file's content.

Loading a BIF or XMLBIF file parses it once; the tables are then stored in a user cache directory
under the SHA-256 of the file's bytes, the file type and the bayesdx version, so the next load of
the same content (in any process) reads one ``.npz`` file instead of parsing.

* Where: ``$BAYESDX_CACHE_DIR``, else ``$XDG_CACHE_HOME/bayesdx``, else ``~/.cache/bayesdx``.
* Off: ``load_network(..., cache=False)`` or the environment variable ``BAYESDX_CACHE=0``.
* Safe: an entry is written to a temporary file in the same directory and renamed into place
  (atomic, so concurrent processes never see half a file); it is read with
  ``numpy.load(allow_pickle=False)`` (no code runs from a cache file), and it is used only when
  its recorded key and version match and its tables pass the checks of a fresh parse (shapes,
  finite, non-negative, rows summing to 1). Anything else, a corrupt or foreign file included, is
  ignored and the network parsed again. Nothing is written at import.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .inference import ModelArrays

__all__ = ["cache_dir", "cache_enabled", "content_key", "load_cached", "store"]

#: Bumped when the layout of an entry changes.
FORMAT = 1


def cache_dir() -> Path:
    """The cache directory (not created here)."""
    given = os.environ.get("BAYESDX_CACHE_DIR")
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bayesdx"


def cache_enabled(cache: bool | None) -> bool:
    """``cache`` if given, else False when ``BAYESDX_CACHE`` is 0/false/no/off, else True."""
    if cache is not None:
        return bool(cache)
    return os.environ.get("BAYESDX_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def _version() -> str:
    from . import __version__

    return str(__version__)


def content_key(data: bytes, suffix: str) -> str:
    """SHA-256 over the entry format, the bayesdx version, the file type and the bytes."""
    h = hashlib.sha256()
    h.update(f"bayesdx-network-cache/{FORMAT}/{_version()}/{suffix}\0".encode())
    h.update(data)
    return h.hexdigest()


def load_cached(key: str) -> ModelArrays | None:
    """The tables stored under ``key``, or None (missing, unreadable, foreign or inconsistent)."""
    path = cache_dir() / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(bytes(npz["meta"]).decode("utf-8"))
            if meta.get("key") != key or meta.get("format") != FORMAT or meta.get("version") != _version():
                return None
            nodes = tuple(meta["nodes"])
            states = {n: tuple(meta["states"][n]) for n in nodes}
            parents = {n: tuple(meta["parents"][n]) for n in nodes}
            cpts = {n: npz[f"cpt{i}"] for i, n in enumerate(nodes)}
    except Exception:  # missing, unreadable or foreign: OSError, KeyError, zipfile.BadZipFile, ...
        return None
    for n in nodes:
        t = cpts[n]
        shape = (*(len(states[p]) for p in parents[n]), len(states[n]))
        if (t.dtype != np.float64 or t.shape != shape or not np.isfinite(t).all() or (t < 0).any()
                or np.abs(t.sum(axis=-1) - 1.0).max(initial=0.0) > 1e-9
                or any(p not in states for p in parents[n])):
            return None
    return ModelArrays(nodes=nodes, states=states, parents=parents, cpts=cpts)


def store(key: str, arrays: ModelArrays) -> None:
    """Write ``arrays`` under ``key`` atomically; a cache that cannot be written is skipped."""
    folder = cache_dir()
    meta = {"format": FORMAT, "version": _version(), "key": key, "nodes": list(arrays.nodes),
            "states": {n: list(arrays.states[n]) for n in arrays.nodes},
            "parents": {n: list(arrays.parents[n]) for n in arrays.nodes}}
    tables = {f"cpt{i}": np.asarray(arrays.cpts[n], dtype=np.float64) for i, n in enumerate(arrays.nodes)}
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8), **tables)
        os.replace(tmp, folder / f"{key}.npz")
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
