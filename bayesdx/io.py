"""Loading and writing networks: bundled names, bayesdx YAML, and the formats pgmpy reads."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from .exceptions import BayesdxError, NetworkSpecError, TargetsRequiredError, _cut, _suggest
from .inference import ModelArrays
from ._pgmpy import write_arrays
from .network import Network, arrays_from_pgmpy

__all__ = ["load_network", "bundled_networks", "write_network", "NetworkNotFoundError",
           "FOREIGN_FORMATS", "ROW_SUM_TOLERANCE"]

#: File suffixes read through pgmpy, and the pgmpy reader used for each.
FOREIGN_FORMATS = {
    ".bif": "BIFReader",
    ".xmlbif": "XMLBIFReader",
    ".xml": "XMLBIFReader",
    ".uai": "UAIReader",
    ".net": "NETReader",
    ".xdsl": "XDSLReader",
}
YAML_SUFFIXES = (".yaml", ".yml")
#: Foreign files round their numbers; rows within this distance of 1 are renormalised.
ROW_SUM_TOLERANCE = 1e-4


class NetworkNotFoundError(BayesdxError, FileNotFoundError):
    """No bundled network of that name, or no file at that path."""


def _bundled_files() -> list[Path]:
    """The .yaml files of the ``bayesdx.networks`` package data, then of a source checkout."""
    files: list[Path] = []
    try:
        folder = resources.files("bayesdx.networks")
        files.extend(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".yaml"))
    except ModuleNotFoundError:  # pragma: no cover - running from a source tree without install
        pass
    source_tree = Path(__file__).resolve().parent.parent / "networks"
    if source_tree.is_dir():
        files.extend(sorted(source_tree.glob("*.yaml")))
    return files


def bundled_networks() -> dict[str, Path]:
    """The networks shipped with bayesdx, by name.

    Returns
    -------
    dict of str to pathlib.Path

    Examples
    --------
    >>> import bayesdx
    >>> "fasciculation" in bayesdx.bundled_networks()
    True
    """
    found: dict[str, Path] = {}
    for path in _bundled_files():
        found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def as_network(network) -> Network:
    """``network`` itself if it is a :class:`Network`, else ``load_network(network)`` (a bundled
    name or a path): the first step of every function that takes either."""
    return network if isinstance(network, Network) else load_network(network)


def load_network(
    source,
    *,
    targets: Sequence[str] | None = None,
    tests: Sequence[str] | None = None,
    engine: str | None = None,
    orders=None,
    decisions=None,
    reference_states=None,
    cache: bool | None = None,
) -> Network:
    """Load a network for diagnosis.

    Parameters
    ----------
    source : str, os.PathLike, Network or pgmpy DiscreteBayesianNetwork
        A bundled network name (see :func:`bundled_networks`), or a path to a bayesdx YAML file
        (``.yaml``) or a file pgmpy reads (``.bif``, ``.xmlbif``/``.xml``, ``.uai``, ``.net``,
        ``.xdsl``), or an in-memory model.
    targets : sequence of str, optional
        The diagnosis nodes. Required for foreign formats; a YAML network defaults to its
        ``role: target`` nodes.
    tests : sequence of str, optional
        Candidate tests. Default: the ``finding`` nodes of a YAML network, every non-target node
        of a foreign one.
    engine : str, optional
        Inference engine name (default: the fastest exact engine available).
    orders : sequence of bayesdx.Order, optional
        Test orders to rank instead of the file's (a foreign network has none: every test is
        then its own order).
    decisions : bayesdx.DecisionModel, optional
        Actions and utilities instead of the file's (needed for the *decision* objective on a
        foreign network).
    reference_states : mapping of str to str, optional
        The healthy (reference) state of nodes whose state names do not say it, e.g.
        ``{"Fault": "Normal"}``; checked (unknown nodes and states raise with suggestions). See
        :meth:`Network.reference_state`.
    cache : bool, optional
        Keep a parsed foreign file (BIF, XMLBIF, ...) in the user cache, keyed by a hash of its
        bytes, so the next load of the same content reads the tables instead of parsing (see
        :mod:`bayesdx._netcache`: ``$BAYESDX_CACHE_DIR`` or ``~/.cache/bayesdx``). Default: on,
        unless the environment sets ``BAYESDX_CACHE=0``.

    Returns
    -------
    Network

    Raises
    ------
    NetworkNotFoundError
        Unknown bundled name or missing file.
    NetworkSpecError
        Malformed file: every problem, with the file and the node.
    TargetsRequiredError
        A foreign network loaded without ``targets``.

    Examples
    --------
    >>> import bayesdx
    >>> net = bayesdx.load_network("fasciculation")
    >>> len(net.targets)
    6
    """
    if isinstance(source, Network):
        out = source
        if targets is not None or tests is not None:
            out = out.with_targets(targets or source.targets, tests)
        if engine is not None:
            out = out.with_engine(engine)
        if orders is not None or decisions is not None:
            out = out.with_orders(orders, decisions)
        if reference_states is not None:
            out = out.with_reference_states(reference_states)
        return out
    if hasattr(source, "get_cpds") and hasattr(source, "nodes"):
        arrays = _normalised(arrays_from_pgmpy(source), "<pgmpy model>")
        return Network(arrays, name=getattr(source, "name", None) or "model",
                       targets=_require_targets(targets, arrays, "<pgmpy model>"), tests=tests,
                       source="<pgmpy model>", engine=engine, orders=orders, decisions=decisions,
                       reference_states=reference_states)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"source must be a bundled network name, a path or a pgmpy model; got {type(source).__name__}."
        )
    path = Path(source)
    bundled = bundled_networks()
    if isinstance(source, str) and path.suffix == "" and os.sep not in source and "/" not in source:
        if source not in bundled:
            raise NetworkNotFoundError(
                f"No bundled network named {source!r}.{_suggest(source, bundled)} "
                f"Bundled networks: {', '.join(bundled) or 'none'}. To load a file, pass its path "
                f"with its suffix ({', '.join((*YAML_SUFFIXES, *FOREIGN_FORMATS))})."
            )
        return _load_yaml(bundled[source], targets, tests, engine, origin=f"bundled:{source}",
                          orders=orders, decisions=decisions, reference_states=reference_states)
    if not path.exists():
        raise NetworkNotFoundError(f"No network file at {str(path)!r}.")
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        return _load_yaml(path, targets, tests, engine, origin=str(path), orders=orders,
                          decisions=decisions, reference_states=reference_states)
    if suffix in FOREIGN_FORMATS:
        arrays = _read_foreign(path, suffix, cache)
        return Network(arrays, name=path.stem, targets=_require_targets(targets, arrays, str(path)),
                       tests=tests, source=str(path), engine=engine, orders=orders,
                       decisions=decisions, reference_states=reference_states)
    raise NetworkSpecError([(str(path), None, f"unknown file type {suffix!r}; bayesdx reads "
                             f"{', '.join((*YAML_SUFFIXES, *FOREIGN_FORMATS))}")])


def _load_yaml(path: Path, targets, tests, engine, origin: str, orders=None,
               decisions=None, reference_states=None) -> Network:
    from ._compile import spec_arrays
    from .spec import read_spec

    spec = read_spec(path)
    arrays = spec_arrays(spec)
    if targets is None:
        targets = [n for n in arrays.nodes if spec.nodes[n].role == "target"]
        if not targets:
            raise TargetsRequiredError(
                f"{path}: no node has role 'target'; pass targets=[...] to load_network."
            )
    return Network(arrays, name=spec.name, targets=targets, tests=tests, spec=spec,
                   source=origin, engine=engine, orders=orders, decisions=decisions,
                   reference_states=reference_states)


def _require_targets(targets, arrays: ModelArrays, where: str):
    if targets is None or (not isinstance(targets, str) and len(targets) == 0):
        roots = [n for n in arrays.nodes if not arrays.parents[n]]
        raise TargetsRequiredError(
            f"{where}: a network in a foreign format does not say which nodes are the diagnoses. "
            f"Pass targets=[...] (e.g. targets=[{arrays.nodes[0]!r}]). It has {len(arrays.nodes)} "
            f"nodes; its root nodes are: {', '.join(roots[:12])}{', ...' if len(roots) > 12 else ''}."
        )
    return targets


def _read_foreign(path: Path, suffix: str, cache: bool | None = None) -> ModelArrays:
    """Read a foreign network file: from the content cache when it holds these bytes, else BIF
    by :func:`bayesdx._bifscan.read_bif` (no pgmpy) and the other formats by pgmpy, after
    :mod:`bayesdx._bifscan` checked what it can (every format: readable, not empty, not too large;
    BIF also: UTF-8, blocks, duplicate declarations, rows, entries and state labels), so every
    problem is a :class:`NetworkSpecError` with its node."""
    from . import _netcache
    from ._bifscan import decode_text, read_bif, read_bytes, scan_xmlbif

    where = str(path)
    problems: list = []
    data = read_bytes(path, problems)
    if problems:
        raise NetworkSpecError(problems)
    key = _netcache.content_key(data, suffix) if _netcache.cache_enabled(cache) else None
    if key is not None:
        arrays = _netcache.load_cached(key)
        if arrays is not None:
            return arrays
    text = decode_text(data, where, problems, strict_utf8=suffix in (".bif", ".uai", ".net"))
    if problems:
        raise NetworkSpecError(problems)
    if suffix == ".bif":
        arrays, problems = read_bif(text, where)
        if problems:
            raise NetworkSpecError(problems)
        arrays = _normalised(arrays, where)
    else:
        if suffix in (".xmlbif", ".xml") and text is not None:
            problems = scan_xmlbif(text, where)
            if problems:
                raise NetworkSpecError(problems)
        arrays = _read_with_pgmpy(where, suffix)
    if key is not None:
        _netcache.store(key, arrays)
    return arrays


def _read_with_pgmpy(where: str, suffix: str) -> ModelArrays:
    problems: list = []
    from ._pgmpy import load_pgmpy

    load_pgmpy()
    import pgmpy.readwrite as readwrite

    reader_cls = getattr(readwrite, FOREIGN_FORMATS[suffix])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = reader_cls(where).get_model()
    except RecursionError:
        raise NetworkSpecError([(where, None, f"nested too deeply for {reader_cls.__name__} "
                                              f"(RecursionError)")]) from None
    except Exception as exc:  # pgmpy raises many types for malformed input
        raise NetworkSpecError(
            [(where, None, f"pgmpy's {reader_cls.__name__} could not read it: "
                           f"{type(exc).__name__}: {_cut(str(exc), 300)}")]
        ) from None
    if len(model.nodes()) == 0:
        raise NetworkSpecError([(where, None, f"{reader_cls.__name__} found no nodes in it: not a "
                                              f"{suffix} network, or truncated?")])
    for node in model.nodes():
        if model.get_cpds(node) is None:
            problems.append((where, node, "has no probability table"))
    if problems:
        raise NetworkSpecError(problems)
    try:
        arrays = arrays_from_pgmpy(model)
    except Exception as exc:
        raise NetworkSpecError([(where, getattr(exc, "node", None),
                                 f"inconsistent tables: {_cut(str(exc), 300)}")]) from None
    return _normalised(arrays, where)


def _normalised(arrays: ModelArrays, where: str) -> ModelArrays:
    """Renormalise rows that rounding left within ROW_SUM_TOLERANCE of 1; reject the rest."""
    problems = []
    cpts = {}
    for node in arrays.nodes:
        labels = arrays.states[node]
        if len(set(labels)) != len(labels):
            dup = sorted({x for x in labels if labels.count(x) > 1})
            problems.append((where, node, f"duplicate state(s) {_cut(', '.join(dup))}"))
            continue
        table = np.asarray(arrays.cpts[node], dtype=float)
        if table.shape[-1:] != (len(labels),):
            problems.append((where, node, f"its table has {table.shape[-1:] or 'no'} columns for "
                                          f"{len(labels)} states"))
            continue
        sums = table.sum(axis=-1, keepdims=True)
        if not np.all(np.isfinite(table)) or np.any(table < 0):
            problems.append((where, node, "has negative or non-finite probabilities"))
            continue
        worst = float(np.max(np.abs(sums - 1.0)))
        if worst > ROW_SUM_TOLERANCE:
            problems.append((where, node, f"a distribution sums to {1.0 + worst:.6g} (or {1.0 - worst:.6g}), "
                                          f"not 1 (tolerance {ROW_SUM_TOLERANCE})"))
            continue
        cpts[node] = table / sums
    if problems:
        raise NetworkSpecError(problems)
    return ModelArrays(nodes=arrays.nodes, states=arrays.states, parents=arrays.parents, cpts=cpts)


def write_network(network: Network, path, *, format: str | None = None) -> None:
    """Write ``network`` as BIF or XMLBIF through pgmpy's writers (exact float repr).

    The file is built from ``network.arrays``, the tables :func:`bayesdx.diagnose` uses (an edit
    of ``network.model`` is not exported). The format is ``format``, else the file's suffix."""
    write_arrays(network.arrays, path, format=format)
