"""Scoring a cohort: posteriors of the targets for many cases at once."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .exceptions import ImpossibleEvidenceError, InvalidEvidenceError, UnknownStateError
from .network import Network

__all__ = ["posteriors"]


def posteriors(network: Network | str, cases: pd.DataFrame, *, errors: str = "raise") -> pd.DataFrame:
    """Posterior of every target for every case of a cohort.

    Parameters
    ----------
    network : Network or str
        A loaded network or a bundled name.
    cases : pandas.DataFrame
        One row per case, one column per observed node, values are state labels; missing values
        (NaN, None, ``pd.NA``) mean "not observed".
    errors : {"raise", "nan"}
        What to do with cases whose evidence has probability zero: raise
        :class:`~bayesdx.ImpossibleEvidenceError` naming them (default), or give them NaN
        posteriors and warn with their count. Invalid labels always raise.

    Returns
    -------
    pandas.DataFrame
        Same index as ``cases``; columns are a MultiIndex ``(target, state)``.

    Raises
    ------
    UnknownNodeError
        A column that is not a node.
    UnknownStateError
        A value that is not a state label of its column (the rows are listed).
    ImpossibleEvidenceError
        With ``errors="raise"``, a case whose evidence is impossible.

    Examples
    --------
    >>> import pandas as pd, bayesdx
    >>> cases = pd.DataFrame({"ck": ["gt_1000", None], "tsh": ["normal", "high"]})
    >>> post = bayesdx.posteriors("fasciculation", cases)
    >>> post.shape
    (2, 20)
    >>> bool(post["thyroid_disease"]["subclinical_hypo"].iloc[1] > post["thyroid_disease"]["subclinical_hypo"].iloc[0])
    True
    """
    if not isinstance(network, Network):
        from .io import load_network

        network = load_network(network)
    if errors not in ("raise", "nan"):
        raise ValueError(f"errors must be 'raise' or 'nan'; got {errors!r}.")
    if not isinstance(cases, pd.DataFrame):
        raise InvalidEvidenceError(
            f"cases must be a pandas DataFrame (one row per case, one column per node); "
            f"got {type(cases).__name__}."
        )
    columns = [network.check_node(str(c)) if isinstance(c, str) else network.check_node(c)
               for c in cases.columns]
    if len(set(columns)) != len(columns):
        node = next(n for n in columns if columns.count(n) > 1)
        raise InvalidEvidenceError(
            f"cases has {columns.count(node)} columns for node '{node}' (positions "
            f"{[j for j, n in enumerate(columns) if n == node]}); give each node one column.")
    codes = np.full((len(cases), len(columns)), -1, dtype=np.int64)
    for j, node in enumerate(columns):
        states = network.states(node)
        values = cases.iloc[:, j]
        try:
            observed = values.notna().to_numpy()
            col = pd.Index(list(states)).get_indexer(values.astype(object).where(observed, None))
        except TypeError:  # an unhashable cell (a list, a dict, ...): name its column and row
            from .exceptions import _elide

            for index, value in zip(cases.index, values):
                if type(value).__hash__ is None:
                    raise InvalidEvidenceError(
                        f"cases column '{node}', row index {_elide(index)}: the cell holds a "
                        f"{type(value).__name__} ({_elide(value)}); every cell must be a state "
                        f"label of '{node}' or missing.") from None
            raise
        bad = observed & (col < 0)
        if bad.any():
            rows = list(cases.index[bad][:5])
            sample = values[bad].iloc[0]
            err = UnknownStateError(node, sample, states)
            err.message += f" Found in {int(bad.sum())} row(s), e.g. index {rows}."
            err.rows = list(cases.index[bad])
            raise err
        codes[:, j] = col
    marginals, possible = network.engine.marginals_batch(columns, codes, network.targets)
    if not possible.all():
        bad_rows = list(cases.index[~possible])
        if errors == "raise":
            first = {n: network.states(n)[c] for n, c in zip(columns, codes[~possible][0]) if c >= 0}
            raise ImpossibleEvidenceError(
                first, f"{len(bad_rows)} case(s) are impossible, e.g. index {bad_rows[:5]}; "
                       f"pass errors='nan' to score the others."
            )
        warnings.warn(f"{len(bad_rows)} case(s) have impossible evidence; their posteriors are NaN "
                      f"(e.g. index {bad_rows[:5]}).", stacklevel=2)
    blocks = {}
    for target in network.targets:
        for k, state in enumerate(network.states(target)):
            blocks[(target, state)] = marginals[target][:, k]
    frame = pd.DataFrame(blocks, index=cases.index)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["target", "state"])
    return frame
