"""Scoring a cohort on Dask: :func:`bayesdx.posteriors` and :func:`bayesdx.evaluate` over a
``dask.dataframe.DataFrame``, partition by partition.

This module owns what travels to the workers and what they keep:

* :class:`ShippedNetwork`, a network as plain data: the text of its bayesdx YAML file when the
  network is that file's, else its tables (nodes, states, parents and CPT arrays), plus the load
  options (targets, tests, engine, reference states). Never a pickled pgmpy object: a
  :class:`~bayesdx.Network` does not pickle, and a network travels as a few tens of kilobytes.
* A per-process cache keyed by the shipped network's content (a SHA-256), so each worker builds
  the network and its engine once, however many partitions it scores.
* :func:`posteriors` and :func:`score_cases`: the in-memory functions applied to each partition
  with ``map_partitions(..., meta=...)``. A case's posterior depends on that case alone (see
  :mod:`bayesdx.cohort`), so the result equals the in-memory one to the last bit whatever the
  partitions.

Dask is optional: ``pip install "bayesdx[dask]"``. ``bayesdx.posteriors(network, ddf)`` and
``bayesdx.evaluate(network, ddf, truth_ddf)`` come here when given a Dask DataFrame.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .exceptions import InvalidEvidenceError
from .network import Network

__all__ = ["ShippedNetwork", "posteriors", "score_cases", "evaluate", "require_dask",
           "is_dask_dataframe", "DASK_EXTRA", "BUILDS"]

#: The command that installs what this module needs.
DASK_EXTRA = 'pip install "bayesdx[dask]"'
#: Networks built in this process, by :attr:`ShippedNetwork.key` (workers count here; tests read it).
BUILDS: collections.Counter = collections.Counter()
#: The most shipped networks a process keeps built.
CACHE_SIZE = 8
_BUILT: dict[str, Network] = {}
_LOCK = threading.Lock()


def require_dask():
    """Import and return ``dask.dataframe``, or raise ImportError saying how to install it."""
    try:
        import dask.dataframe as dd
        import distributed  # noqa: F401 - the extra installs both; say so if either is missing
    except ImportError as exc:
        raise ImportError(f"Scoring a Dask DataFrame needs dask[dataframe,distributed]: "
                          f"{DASK_EXTRA} ({exc})") from exc
    return dd


def is_dask_dataframe(obj) -> bool:
    """Whether ``obj`` is a Dask DataFrame, without importing Dask."""
    module = type(obj).__module__ or ""
    return module.split(".")[0] in ("dask", "dask_expr") and hasattr(obj, "map_partitions")


@dataclass(frozen=True, repr=False)
class ShippedNetwork:
    """A network as plain data, for the workers of a cluster.

    Build one with :meth:`from_network`; :meth:`network` gives the network back, built once per
    process and cached by :attr:`key`.

    Attributes
    ----------
    key : str
        SHA-256 of everything below: the cache key.
    kind : {"yaml", "tables"}
        ``"yaml"``: ``payload`` is the UTF-8 text of the network's bayesdx YAML file;
        ``"tables"``: an ``.npz`` archive of the tables (no pickles inside).
    payload : bytes
    options : str
        JSON of the load options: name, origin, targets, tests, engine, reference states.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.distributed import ShippedNetwork
    >>> net = bayesdx.load_network("fasciculation")
    >>> shipped = ShippedNetwork.from_network(net)
    >>> shipped.kind, shipped.nbytes < 400_000
    ('yaml', True)
    >>> again = shipped.build()
    >>> again.targets == net.targets and again.arrays.nodes == net.arrays.nodes
    True
    """

    key: str
    kind: str
    payload: bytes
    options: str

    @classmethod
    def from_network(cls, network: Network) -> ShippedNetwork:
        """Ship ``network``: as its YAML text when the file still compiles to exactly its tables,
        else as its tables."""
        options = {
            "name": network.name, "origin": network.source or "", "targets": list(network.targets),
            "tests": list(network.tests), "engine": network.engine_name,
            "reference_states": dict(network._references),
        }
        cache_key = ("shipped", json.dumps(options, sort_keys=True))
        got = network._cache.get(cache_key)
        if got is not None:
            return got
        text = _yaml_text(network)
        if text is not None:
            kind, payload = "yaml", text.encode("utf-8")
        else:
            kind, payload = "tables", _tables_bytes(network)
        opts = json.dumps(options, sort_keys=True)
        digest = hashlib.sha256(kind.encode() + b"\0" + opts.encode() + b"\0" + payload).hexdigest()
        shipped = network._cache[cache_key] = cls(digest, kind, payload, opts)
        return shipped

    @property
    def nbytes(self) -> int:
        """Size of what travels, in bytes."""
        return len(self.payload) + len(self.options)

    def build(self) -> Network:
        """The network, built now (not cached)."""
        from .inference import ModelArrays

        opts = json.loads(self.options)
        common = dict(targets=opts["targets"], tests=opts["tests"], engine=opts["engine"],
                      reference_states=opts["reference_states"] or None)
        if self.kind == "yaml":
            from ._compile import spec_arrays
            from .spec import parse_spec

            spec = parse_spec(self.payload.decode("utf-8"), opts["origin"] or "<shipped>")
            return Network(spec_arrays(spec), name=spec.name, spec=spec, source=opts["origin"],
                           **common)
        with np.load(io.BytesIO(self.payload), allow_pickle=False) as archive:
            header = json.loads(bytes(archive["header"]).decode("utf-8"))
            nodes = tuple(header["nodes"])
            arrays = ModelArrays(
                nodes=nodes, states={n: tuple(header["states"][n]) for n in nodes},
                parents={n: tuple(header["parents"][n]) for n in nodes},
                cpts={n: archive[f"cpt{i}"] for i, n in enumerate(nodes)})
        return Network(arrays, name=opts["name"], source=opts["origin"] or None, **common)

    def network(self) -> Network:
        """The network with its engine compiled, built once per process (cached by :attr:`key`)."""
        with _LOCK:
            net = _BUILT.get(self.key)
            if net is None:
                net = self.build()
                net.engine  # noqa: B018 - compile it now, once, inside the lock
                while len(_BUILT) >= CACHE_SIZE:
                    _BUILT.pop(next(iter(_BUILT)))
                _BUILT[self.key] = net
                BUILDS[self.key] += 1
            return net

    def __repr__(self) -> str:
        return f"<ShippedNetwork {json.loads(self.options)['name']!r} as {self.kind}, " \
               f"{self.nbytes:,} bytes, key {self.key[:12]}>"


def _yaml_text(network: Network) -> str | None:
    """The text of the network's YAML file if that file compiles to exactly its tables."""
    spec = network.spec
    if spec is None or not spec.path or not Path(spec.path).is_file():
        return None
    from ._compile import spec_arrays
    from .spec import parse_spec

    try:
        text = Path(spec.path).read_bytes().decode("utf-8-sig")
        arrays = spec_arrays(parse_spec(text, spec.path))
    except Exception:  # the file changed or went unreadable since loading: ship the tables
        return None
    mine = network.arrays
    same = (arrays.nodes == mine.nodes and arrays.states == mine.states
            and arrays.parents == mine.parents
            and all(np.array_equal(arrays.cpts[n], mine.cpts[n]) for n in mine.nodes))
    return text if same else None


def _tables_bytes(network: Network) -> bytes:
    arrays = network.arrays
    header = {"nodes": list(arrays.nodes), "states": {n: list(s) for n, s in arrays.states.items()},
              "parents": {n: list(p) for n, p in arrays.parents.items()}}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, header=np.frombuffer(json.dumps(header).encode("utf-8"), np.uint8),
                        **{f"cpt{i}": np.asarray(arrays.cpts[n], dtype=float)
                           for i, n in enumerate(arrays.nodes)})
    return buffer.getvalue()


# ---------------------------------------------------------------------------- per partition
def _posteriors_part(part: pd.DataFrame, shipped: ShippedNetwork, errors: str) -> pd.DataFrame:
    from .cohort import posteriors as posteriors_memory

    return posteriors_memory(shipped.network(), part, errors=errors)


def _scores_part(cases: pd.DataFrame, truth: pd.DataFrame, shipped: ShippedNetwork) -> pd.DataFrame:
    from .evaluate import score_cases as score_memory

    return score_memory(shipped.network(), cases, truth)


def _ship(network: Network):
    """The shipped network as one task of the graph, so each worker receives it once."""
    import dask

    shipped = ShippedNetwork.from_network(network)
    return dask.delayed(shipped, name=f"bayesdx-network-{shipped.key[:16]}")


def _check_columns(network: Network, ddf) -> None:
    if not is_dask_dataframe(ddf):
        raise InvalidEvidenceError(
            f"cases must be a Dask DataFrame here; got {type(ddf).__name__} (bayesdx.posteriors "
            f"and bayesdx.evaluate take pandas DataFrames and Dask ones alike).")
    for column in ddf.columns:  # fail on the client, before any work is sent
        network.check_node(column)


def posteriors(network: Network, ddf, *, errors: str = "raise"):
    """:func:`bayesdx.posteriors` of a Dask DataFrame, as a (lazy) Dask DataFrame.

    Each partition is scored on a worker by the in-memory function; the network travels once
    per worker as a :class:`ShippedNetwork` and its engine is built once per worker process.
    Computed, the result equals ``bayesdx.posteriors(network, ddf.compute())`` to the last bit
    (same index, same ``(target, state)`` columns).

    Examples
    --------
    >>> import bayesdx, dask.dataframe as dd
    >>> cases, _ = bayesdx.simulate("fasciculation", 120, seed=0, missing=0.5)
    >>> lazy = bayesdx.posteriors("fasciculation", dd.from_pandas(cases, npartitions=3))
    >>> post = lazy.compute(scheduler="sync")
    >>> post.equals(bayesdx.posteriors("fasciculation", cases))
    True
    """
    require_dask()
    if errors not in ("raise", "nan"):
        raise ValueError(f"errors must be 'raise' or 'nan'; got {errors!r}.")
    _check_columns(network, ddf)
    columns = pd.MultiIndex.from_tuples(
        [(t, s) for t in network.targets for s in network.states(t)], names=["target", "state"])
    meta = pd.DataFrame({c: pd.Series([], dtype=float) for c in columns},
                        index=ddf._meta.index, columns=columns)
    return ddf.map_partitions(_posteriors_part, _ship(network), errors, meta=meta,
                              transform_divisions=False, align_dataframes=False)


def score_cases(network: Network, cases, truth):
    """:func:`bayesdx.evaluate.score_cases` of two Dask DataFrames with the same partitions
    (partition i of ``truth`` holds the truth of partition i of ``cases``), as a lazy Dask
    DataFrame."""
    require_dask()
    _check_columns(network, cases)
    if not is_dask_dataframe(truth):
        raise InvalidEvidenceError(f"With Dask cases, truth must be a Dask DataFrame with the same "
                                   f"partitions; got {type(truth).__name__}.")
    if truth.npartitions != cases.npartitions:
        raise InvalidEvidenceError(
            f"cases and truth must have the same partitions; got {cases.npartitions} and "
            f"{truth.npartitions} (build both from one frame, or repartition one like the other).")
    from .evaluate import score_cases as score_memory

    meta = score_memory(network, cases._meta, truth._meta)
    return cases.map_partitions(_scores_part, truth, _ship(network), meta=meta,
                                transform_divisions=False, align_dataframes=False)


def evaluate(network: Network, cases, truth, *, none_threshold: float = 0.5, n_bins: int = 10):
    """:func:`bayesdx.evaluate` of Dask DataFrames: every case scored on the workers
    (:func:`score_cases`), the scores (two numbers per case and target) gathered and aggregated
    by :meth:`bayesdx.evaluate.Evaluation.from_scores`; equal to the in-memory evaluation."""
    from .evaluate import Evaluation

    scores = score_cases(network, cases, truth).compute()
    return Evaluation.from_scores(network, scores, none_threshold=none_threshold, n_bins=n_bins)
