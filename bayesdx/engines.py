"""The engine registry: which exact engines a network can use, by name, and the default.

:mod:`bayesdx.inference` defines the seam (:class:`~bayesdx.inference.Engine`) and the reference
engines (enumeration, pgmpy); :mod:`bayesdx.jtree` and :mod:`bayesdx.compiled` implement it. This
module only names them, so none of those modules imports another to register itself.
"""

from __future__ import annotations

from .compiled import CompiledEngine
from .exceptions import _suggest
from .inference import Engine, EnumerationEngine, ModelArrays, PgmpyEngine
from .jtree import JunctionTreeEngine

__all__ = ["ENGINES", "DEFAULT_ENGINE", "get_engine"]

#: Every engine by the name ``load_network(..., engine=...)`` takes.
ENGINES: dict[str, type[Engine]] = {
    "enumeration": EnumerationEngine,
    "pgmpy": PgmpyEngine,
    "jtree": JunctionTreeEngine,
    "compiled": CompiledEngine,
}
#: The engine a network uses unless told otherwise: the numpy junction tree (:mod:`bayesdx.jtree`).
#: The same junction tree executed by compiled kernels (:mod:`bayesdx.compiled`,
#: ``engine="compiled"``) is faster, but its first use on a machine compiles its kernels for one
#: to two minutes, too long a wait for a newcomer's first ``bayesdx demo``; it is opt-in until
#: that compile is cut.
DEFAULT_ENGINE = "jtree"


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
