"""The engine registry: which exact engines a network can use, by name, and the default.

:mod:`bayesdx.inference` defines the seam (:class:`~bayesdx.inference.Engine`) and the
enumeration oracle; the pgmpy oracle lives in the pgmpy seam (:mod:`bayesdx._pgmpy`, importable
as ``bayesdx.engines.PgmpyEngine``); :mod:`bayesdx.jtree`, :mod:`bayesdx.compiled` and
:mod:`bayesdx.lazy` implement it. This module only names them, so none of those modules imports
another to register itself.
"""

from __future__ import annotations

from .compiled import CompiledEngine
from .exceptions import _suggest
from ._pgmpy import PgmpyEngine
from .inference import Engine, EnumerationEngine, ModelArrays
from .jtree import JunctionTreeEngine
from .lazy import LazyEngine

__all__ = ["ENGINES", "DEFAULT_ENGINE", "LEAN_ABOVE_ENTRIES", "PgmpyEngine", "default_engine", "get_engine"]

#: Every engine by the name ``load_network(..., engine=...)`` takes.
ENGINES: dict[str, type[Engine]] = {
    "enumeration": EnumerationEngine,
    "pgmpy": PgmpyEngine,
    "jtree": JunctionTreeEngine,
    "compiled": CompiledEngine,
    "lazy": LazyEngine,
}
#: The engine a network uses unless told otherwise: the numpy junction tree (:mod:`bayesdx.jtree`).
#: The same junction tree executed by compiled kernels (:mod:`bayesdx.compiled`,
#: ``engine="compiled"``) is faster, but its first use on a machine compiles its kernels for one
#: to two minutes, too long a wait for a newcomer's first ``bayesdx demo``; it is opt-in until
#: that compile is cut.
DEFAULT_ENGINE = "jtree"
#: Networks whose junction tree's clique tables total more than this many entries (2**23 floats,
#: 64 MiB) use the compiled engine by default: the numpy engine keeps every clique table (MUNIN:
#: 255 MiB over baseline against pyAgrum's 150; MUNIN1: 3.4 GB against 0.6), where the compiled
#: engine's working memory stays near the largest clique (62 and 408 MiB), and it is three times
#: faster there; its kernels' one-time compile is small beside what such a network costs.
LEAN_ABOVE_ENTRIES = 2**23


def default_engine(arrays: ModelArrays) -> str:
    """The engine a network uses when none is named: :data:`DEFAULT_ENGINE`, or ``"compiled"``
    when its junction tree's clique tables total more than :data:`LEAN_ABOVE_ENTRIES` entries.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.engines import default_engine
    >>> default_engine(bayesdx.load_network("fasciculation").arrays)
    'jtree'
    """
    from . import _triangulate as tri

    index = {n: i for i, n in enumerate(arrays.nodes)}
    cards = [arrays.card(n) for n in arrays.nodes]
    adj = tri.moral_graph([[index[p] for p in arrays.parents[n]] for n in arrays.nodes])
    _, _, sizes = tri.best_triangulation(adj, cards)
    return "compiled" if min(sizes.values()) > LEAN_ABOVE_ENTRIES else DEFAULT_ENGINE


def get_engine(name: str, arrays: ModelArrays) -> Engine:
    """Build the engine named ``name`` for ``arrays``.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.engines import get_engine
    >>> net = bayesdx.load_network("fasciculation")
    >>> type(get_engine("jtree", net.arrays)).__name__
    'JunctionTreeEngine'
    """
    try:
        cls = ENGINES[name]
    except KeyError:
        raise ValueError(
            f"Unknown engine {name!r}.{_suggest(name, ENGINES)} Valid engines: {', '.join(ENGINES)}."
        ) from None
    return cls(arrays)
