"""Simulated cases: forward sampling of findings and diagnoses from a network's own tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from .exceptions import InvalidParameterError, _check_count, _check_seed
from .network import Network

__all__ = ["SimulatedCases", "simulate", "MAX_SIMULATED_CELLS"]

#: The most cells (cases times nodes) one call draws: 2**28, about 2 GiB of codes and uniforms at
#: their widest; a larger cohort is drawn in batches.
MAX_SIMULATED_CELLS = 2**28


class SimulatedCases(NamedTuple):
    """Cases drawn by :func:`simulate`: unpack as ``findings, truth = simulate(...)``.

    Attributes
    ----------
    findings : pandas.DataFrame
        One row per case, one categorical column per observed node (categories are the node's
        states, in table order); NaN where a finding was hidden by ``missing``.
    truth : pandas.DataFrame
        Same index, one categorical column per target: the state each case really has.
    """

    findings: pd.DataFrame
    truth: pd.DataFrame


def _observed_nodes(network: Network, observe) -> tuple[str, ...]:
    if observe is None:
        return tuple(n for n in network.nodes
                     if n not in network.targets and network.role(n) != "latent")
    if observe == "tests":
        return tuple(network.tests)
    if isinstance(observe, str) or not isinstance(observe, Sequence):
        raise InvalidParameterError(f"The 'observe' parameter of simulate must be None, 'tests' or "
                                    f"a list of node names. Got {observe!r} instead.")
    nodes = tuple(network.check_node(n) for n in observe)
    if len(set(nodes)) != len(nodes):
        raise InvalidParameterError(f"The 'observe' parameter of simulate lists a node twice: "
                                    f"{sorted(n for n in set(nodes) if nodes.count(n) > 1)}.")
    return nodes


def sample_codes(network: Network, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """State indices of every node for ``n`` cases drawn from the joint distribution.

    Ancestral sampling in topological order: each node's state is drawn from its table row
    given its parents' drawn states, by inverse CDF on one uniform number per case.
    """
    arrays = network.arrays
    codes: dict[str, np.ndarray] = {}
    for node in arrays.nodes:
        table = arrays.cpts[node]
        card = table.shape[-1]
        cum = np.cumsum(table.reshape(-1, card), axis=1)
        row = np.zeros(n, dtype=np.int64)
        for parent, size in zip(arrays.parents[node], table.shape[:-1]):
            row = row * size + codes[parent]
        u = rng.random(n)
        code = np.zeros(n, dtype=np.int16 if card > 127 else np.int8)
        for k in range(card - 1):  # one gather per state: memory stays O(n)
            code += u >= cum[row, k]
        codes[node] = code
    return codes


def _frame(network: Network, codes: dict[str, np.ndarray], nodes: Sequence[str],
           index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame({
        node: pd.Categorical.from_codes(codes[node], categories=list(network.states(node)))
        for node in nodes
    }, index=index)


def simulate(network: Network | str, n: int, *, seed=None, observe=None,
             missing: float = 0.0) -> SimulatedCases:
    """Draw ``n`` cases from the network's joint distribution: their findings and true diagnoses.

    Parameters
    ----------
    network : Network or str
        A loaded network or a bundled name.
    n : int
        Number of cases (>= 0).
    seed : int, numpy.random.Generator or None
        Randomness; the same int gives the same cases.
    observe : None, "tests" or list of str
        The nodes reported as findings. Default: every node that is neither a target nor latent
        (for bayesdx YAML networks the context and the findings); ``"tests"``: the network's
        tests; or the nodes listed.
    missing : float
        Probability, in [0, 1), that each finding of each case is hidden (NaN), independently
        of everything else (missing completely at random).

    Returns
    -------
    SimulatedCases
        ``(findings, truth)``: two DataFrames indexed 0..n-1 whose columns are categorical, with
        each node's states as categories; ``truth`` has one column per target.

    Examples
    --------
    >>> import bayesdx
    >>> findings, truth = bayesdx.simulate("fasciculation", 1000, seed=0)
    >>> findings.shape[0], list(truth.columns) == list(bayesdx.load_network("fasciculation").targets)
    (1000, True)
    >>> post = bayesdx.posteriors("fasciculation", findings)   # ready for scoring
    """
    from .io import as_network

    network = as_network(network)
    n = _check_count(n, "n", "simulate", low=0)
    if n * len(network.nodes) > MAX_SIMULATED_CELLS:
        raise InvalidParameterError(
            f"The 'n' parameter of simulate asks for {n:,} cases of {len(network.nodes)} nodes "
            f"({n * len(network.nodes):,} cells), over the budget of {MAX_SIMULATED_CELLS:,} "
            f"(bayesdx.simulate.MAX_SIMULATED_CELLS): draw the cohort in batches, each with its "
            f"own seed.")
    if isinstance(missing, bool) or not isinstance(missing, (int, float, np.floating)) \
            or not 0.0 <= float(missing) < 1.0:
        raise InvalidParameterError(f"The 'missing' parameter of simulate must be a float in "
                                    f"[0, 1). Got {missing!r} instead.")
    rng = _check_seed(seed, "simulate")
    nodes = _observed_nodes(network, observe)
    codes = sample_codes(network, n, rng)
    index = pd.RangeIndex(n)
    shown = dict(codes)
    if missing > 0:
        for node in nodes:
            hidden = rng.random(n) < missing
            shown[node] = np.where(hidden, -1, codes[node]).astype(codes[node].dtype)
    return SimulatedCases(_frame(network, shown, nodes, index),
                          _frame(network, codes, network.targets, index))
