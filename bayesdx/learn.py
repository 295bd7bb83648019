"""Tuning a network to a population: :func:`fit` updates the numbers of a bayesdx YAML network
from local cases (maximum a posteriori, the file's numbers as the prior, EM for what was not
observed) and returns a new network whose provenance says what changed.

The maths of the update (parameter blocks, E-step, M-steps) lives in :mod:`bayesdx._em`.
"""

from __future__ import annotations

import dataclasses
import html
import math

import numpy as np
import pandas as pd

from . import _em
from .exceptions import (ImpossibleEvidenceError, InvalidEvidenceError, InvalidParameterError,
                         _check_count, _check_seed)
from .network import Network

__all__ = ["fit", "FitResult"]

_METHODS = ("em", "map")


@dataclasses.dataclass(frozen=True, repr=False)
class FitResult:
    """What :func:`fit` returns: the fitted network and how it was reached.

    Attributes
    ----------
    network : Network
        The new network (the input network is untouched).
    prior : Network
        The network given to :func:`fit`.
    n_cases : int
        Cases that observed at least one node (the others carry no information).
    method : str
        ``"em"`` or ``"map"``.
    log_posterior : tuple of float
        ln P(data | numbers) + ln prior(numbers) before the first update and after each
        iteration; never decreases.
    log_likelihood : float
        ln P(data | fitted numbers), natural log, summed over the cases.
    iterations : int
        Update steps taken.
    converged : bool
        True when the last step raised the log posterior by less than ``tol`` per case.
    not_fitted : dict of str to str
        Nodes whose numbers were kept exactly as the prior's, with the reason.
    bootstrap : pandas.DataFrame or None
        With ``bootstrap=B``: one row per fitted number, see :func:`fit`.
    """

    network: Network
    prior: Network
    n_cases: int
    method: str
    log_posterior: tuple
    log_likelihood: float
    iterations: int
    converged: bool
    not_fitted: dict
    changes: pd.DataFrame = dataclasses.field(repr=False)
    bootstrap: pd.DataFrame | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per changed number: node label, where in the file, state, prior value, fitted
        value, change, the prior's range and whether the fitted value lies outside it."""
        return self.changes.copy()

    def __repr__(self) -> str:
        state = "converged" if self.converged else "not converged"
        return (f"<FitResult {self.network.name!r}: {self.n_cases} cases, {self.method}, "
                f"{self.iterations} iteration(s), {state}, {len(self.changes)} numbers changed, "
                f"log-likelihood {self.log_likelihood:.6g}>")

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{html.escape(self.network.label(n))}: {html.escape(r)}</li>"
                        for n, r in self.not_fitted.items())
        head = html.escape(repr(self))
        return (f"<p>{head}</p>" + (f"<p>Kept from the prior:</p><ul>{notes}</ul>" if notes else "")
                + self.changes.to_html(max_rows=60, float_format=lambda v: f"{v:.4g}"))


def _encode(network: Network, frame: pd.DataFrame, what: str) -> tuple[list[str], np.ndarray]:
    columns = [network.check_node(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise InvalidParameterError(f"The '{what}' frame of fit names a node twice.")
    from .cohort import state_codes

    codes = np.full((len(frame), len(columns)), -1, dtype=np.int64)
    for j, node in enumerate(columns):
        codes[:, j] = state_codes(network, node, frame.iloc[:, j], frame=what, rows_of=f" of {what}")
    return columns, codes


def _check_data(network, data, truth):
    if not isinstance(data, pd.DataFrame):
        raise InvalidEvidenceError(f"The 'data' parameter of fit must be a pandas DataFrame (one row "
                                   f"per case, one column per node); got {type(data).__name__}.")
    columns, codes = _encode(network, data, "data")
    if truth is not None:
        if not isinstance(truth, pd.DataFrame):
            raise InvalidEvidenceError(f"The 'truth' parameter of fit must be a pandas DataFrame of "
                                       f"target columns; got {type(truth).__name__}.")
        if len(truth) != len(data) or not truth.index.equals(data.index):
            raise InvalidParameterError(f"The 'truth' frame of fit must have the same index as 'data' "
                                        f"({len(data)} rows); got {len(truth)} rows.")
        t_cols, t_codes = _encode(network, truth, "truth")
        other = [c for c in t_cols if c not in network.targets]
        if other:
            raise InvalidParameterError(
                f"The 'truth' frame of fit has column(s) {other} that are not targets; targets: "
                f"{', '.join(network.targets)}. Give other nodes in 'data'.")
        both = [c for c in t_cols if c in columns]
        if both:
            raise InvalidParameterError(f"Column(s) {both} are in both 'data' and 'truth' of fit.")
        columns, codes = columns + t_cols, np.hstack([codes, t_codes])
    return columns, codes


def _check_options(method, max_iter, tol, prior_strength, bootstrap):
    if method not in _METHODS:
        raise InvalidParameterError(f"The 'method' parameter of fit must be one of {_METHODS}. "
                                    f"Got {method!r} instead.")
    max_iter = _check_count(max_iter, "max_iter", "fit")
    bootstrap = _check_count(bootstrap, "bootstrap", "fit", low=0)
    for name, value in (("tol", tol), ("prior_strength", prior_strength)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value <= 0:
            raise InvalidParameterError(f"The '{name}' parameter of fit must be a finite number > 0. "
                                        f"Got {value!r} instead.")
    return max_iter, bootstrap


def _informed(network, columns, codes) -> set[str]:
    """Nodes whose numbers the data bear on: those observed, or with an observed descendant."""
    seen = {c for j, c in enumerate(columns) if (codes[:, j] >= 0).any()}
    out = set()
    for node in reversed(network.nodes):
        kids = [n for n in network.nodes if node in network.parents(n)]
        if node in seen or any(k in out for k in kids):
            out.add(node)
    return out


def _run(network, columns, codes, families, fit_nodes, method, max_iter, tol, index=None):
    """EM (or one closed-form pass) over ``fit_nodes``; the log posterior trace. ``index``: the
    data's row labels, for messages."""
    from .engines import get_engine

    cards = {n: network.arrays.card(n) for n in network.nodes}
    order = {n: i for i, n in enumerate(network.nodes)}
    fitting = {n: families[n] for n in fit_nodes}
    trace, iterations, converged = [], 0, False
    engine = network.engine
    for _ in range(max_iter + 1):
        ll = _em.log_likelihood(engine, columns, codes)
        if not np.isfinite(ll).all():
            bad = int(np.flatnonzero(~np.isfinite(ll))[0])
            raise ImpossibleEvidenceError(
                {c: network.states(c)[codes[bad, j]] for j, c in enumerate(columns) if codes[bad, j] >= 0},
                f"{int((~np.isfinite(ll)).sum())} case(s) of the data are impossible under the network, "
                f"e.g. index {index[bad] if index is not None else bad}; fit cannot explain them.")
        trace.append(float(ll.sum()) + _em.log_prior(families))
        if len(trace) > 1 and trace[-1] - trace[-2] <= tol * len(codes):
            converged = True
            break
        if iterations == max_iter:
            break
        counts = _em.expected_counts(engine, columns, codes, fitting, cards, order)
        for name, fam in fitting.items():
            fam.m_step(counts[name])
        iterations += 1
        engine = get_engine(network.engine_name, _em.fitted_arrays(network, families))
        if method == "map":
            converged = True
            ll = _em.log_likelihood(engine, columns, codes)
            trace.append(float(ll.sum()) + _em.log_prior(families))
            break
    return tuple(trace), float(ll.sum()), iterations, converged


def _incomplete(network, columns, codes, fit_nodes):
    observed_all = {c for j, c in enumerate(columns) if (codes[:, j] >= 0).all()}
    for node in fit_nodes:
        missing = [m for m in (*network.parents(node), node) if m not in observed_all]
        if missing:
            return node, missing[0]
    return None


def fit(network: Network | str, data: pd.DataFrame, *, truth: pd.DataFrame | None = None,
        method: str = "em", max_iter: int = 50, tol: float = 1e-6, prior_strength: float = 1.0,
        bootstrap: int = 0, seed=None) -> FitResult:
    """Update a network's numbers from local cases: MAP with the file's numbers as the prior.

    Every ``table`` row, noisy-OR / noisy-MAX leak and cause, and ``fixed`` row is a distribution
    p over the node's states with the prior density proportional to prod_k p_k ** alpha_k, where
    alpha = s x (the file's numbers) are the pseudo-counts of the Beta / Dirichlet distribution
    that :func:`bayesdx.priors.parameter_priors` fits to each number's value, range and grade
    (``s``, its concentration, is the *equivalent sample size*, times ``prior_strength``). With
    no data the maximum is the file's number itself; a row seen in ``n`` cases, ``n_k`` of them in
    state k, becomes ``(n_k + s p_k) / (n + s)``. Numbers held as point masses (a zero-width
    range) get s = 1e6 and do not move. Noisy-OR and noisy-MAX nodes stay noisy: their leak and
    causes are fitted as such, by direct maximisation of the expected log posterior (BFGS on the
    logits of the leak and of each cause's link distribution); their ``fixed`` rows are fitted
    like table rows. Unobserved cells, latent nodes and diseases without a truth column are
    handled by EM, with the exact engine's posterior marginals for the expected counts; the log
    posterior never decreases. ``odds`` nodes are fitted as such too (:mod:`bayesdx._emodds`):
    their base odds, odds ratios (log-normal priors) and fixed rows, the stated marginal's prior
    read as the average over the prior network's parent distribution; the tuned file states the
    marginal the fitted network implies (which calibrates back to the fitted base odds). A node
    whose numbers the data cannot bear on (neither it nor a descendant observed) keeps its
    numbers exactly (listed in ``not_fitted``), and cases that observe nothing are dropped: data
    with no information give back the prior network exactly.

    Parameters
    ----------
    network : Network or str
        A bayesdx YAML network (its source blocks are the prior), or a bundled name.
    data : pandas.DataFrame
        One row per case, one column per node (state labels; missing = not observed).
    truth : pandas.DataFrame, optional
        The diagnoses of the same cases, one column per target (missing = unknown).
    method : {"em", "map"}
        ``"em"``: iterate to a maximum of the posterior. ``"map"``: one closed-form pass, for
        complete data only (every fitted node and its parents observed in every case).
    max_iter : int
        Most EM iterations.
    tol : float
        Stop when an iteration raises the log posterior by at most ``tol`` per case.
    prior_strength : float
        Multiplies every equivalent sample size (0.5 halves the weight of the file's numbers).
    bootstrap : int
        With B > 0, refit on B resamples of the cases (with replacement, EM started from the
        fit) and report 95% percentile intervals in ``FitResult.bootstrap``: one row per fitted
        number with columns node, where, state, value (the fit), prior, boot_mean, boot_sd,
        ci95_low, ci95_high, n_boot. Each changed number of ``.network`` then takes its
        bootstrap interval as its range and ``measured`` as its grade (read as a 95% interval by
        :mod:`bayesdx.priors`), so :func:`bayesdx.uncertainty` on the fitted network draws from
        the uncertainty the local cases leave.
    seed : int, numpy.random.Generator or None
        Randomness of the bootstrap.

    Returns
    -------
    FitResult
        ``.network`` is the fitted network; ``net.parameters()`` says "updated from N cases"
        in the locator of every changed number and keeps the prior's references and grade.

    Raises
    ------
    UnknownNodeError, UnknownStateError
        A column that is not a node, or a value that is not one of its states.
    InvalidParameterError
        No rows, a ``truth`` column that is not a target, bad options, or ``method="map"`` on
        incomplete data.
    ImpossibleEvidenceError
        A case that the network gives probability zero.

    Examples
    --------
    Tune the age and sex mix of the bundled network to 500 (here simulated) patients:

    >>> import bayesdx
    >>> net = bayesdx.load_network("fasciculation")
    >>> cases, truth = bayesdx.simulate(net, 500, seed=1)
    >>> result = bayesdx.fit(net, cases[["age_band", "sex"]])
    >>> result.converged, result.network is not net
    (True, True)
    >>> result.to_frame()[["label", "state", "prior", "fitted"]].head(2)
          label      state  prior    fitted
    0  Age band  age_40_69    0.5  0.517406
    1  Age band  age_lt_40    0.3  0.286462
    >>> params = result.network.parameters()
    >>> params.loc[params["node"] == "age_band", "locator"].iloc[0]
    '...; updated from 500 cases (bayesdx.fit: MAP, this number as the prior)'
    """
    from .io import as_network

    network = as_network(network)
    if network.spec is None:
        raise InvalidParameterError(
            f"fit needs a bayesdx YAML network, whose source blocks give the prior; network "
            f"{network.name!r} was read from {network.source} and carries no provenance.")
    max_iter, bootstrap = _check_options(method, max_iter, tol, prior_strength, bootstrap)
    _check_seed(seed, "fit")  # checked even when no bootstrap draws from it
    columns, codes = _check_data(network, data, truth)
    informative = (codes >= 0).any(axis=1)
    codes = codes[informative]
    n_cases = int(informative.sum())
    families = _em.build_families(network, strength=float(prior_strength))
    informed = _informed(network, columns, codes)
    fit_nodes = [n for n in network.nodes if n in informed]
    not_fitted = {n: "neither it nor a descendant is observed in the data" for n in network.nodes
                  if n not in informed}
    if method == "map" and n_cases:
        gap = _incomplete(network, columns, codes, fit_nodes)
        if gap:
            raise InvalidParameterError(
                f"method='map' needs complete data, but {gap[1]!r} (in the family of "
                f"{network.label(gap[0])!r}) is not observed in every case; use method='em'.")
    if n_cases == 0:
        empty = pd.DataFrame(columns=_CHANGE_COLUMNS)
        same = _rebuild(network, families, {}, 0, network.arrays)
        return FitResult(same, network, 0, method, (), 0.0, 0, True, not_fitted, empty, None)
    trace, ll, iterations, converged = _run(network, columns, codes, families, fit_nodes, method,
                                            max_iter, tol, data.index[informative])
    arrays = _em.fitted_arrays(network, families)
    fitted = _rebuild(network, families, {n: families[n] for n in fit_nodes}, n_cases, arrays)
    changes = _changes(network, fitted)
    boot = None
    if bootstrap:
        from ._fitboot import bootstrap_intervals

        boot = bootstrap_intervals(network, columns, codes, families, fit_nodes, method, max_iter,
                                   tol, bootstrap, seed, _run)
        if not changes.empty:
            from ._fitboot import bootstrap_ranges

            fitted = bootstrap_ranges(fitted, boot, n_cases)
    return FitResult(fitted, network, n_cases, method, trace, ll, iterations, converged,
                     not_fitted, changes, boot)


_CHANGE_COLUMNS = ["node", "label", "where", "state", "prior", "fitted", "change", "range_low",
                   "range_high", "outside_range"]




def _changes(network, tuned) -> pd.DataFrame:
    """One row per number whose value differs between the prior and the tuned network."""
    before, after = network.parameters(), tuned.parameters()
    moved = before["value"].to_numpy() != after["value"].to_numpy()
    rows = []
    for i in np.flatnonzero(moved):
        p, q = before.iloc[i], after.iloc[i]
        low, high = p["range_low"], p["range_high"]
        value = float(q["value"])
        outside = bool(pd.notna(low) and not low - 1e-12 <= value <= high + 1e-12)
        rows.append({"node": p["node"], "label": network.label(p["node"]), "where": p["where"],
                     "state": p["state"], "prior": float(p["value"]), "fitted": value,
                     "change": value - float(p["value"]), "range_low": low, "range_high": high,
                     "outside_range": outside})
    return pd.DataFrame(rows, columns=_CHANGE_COLUMNS)


def _rebuild(network, families, fitted, n_cases, arrays) -> Network:
    """The new network: the file with the fitted numbers, compiled again by the file's compiler
    (:meth:`Network.with_parameters`; a range is widened where a fitted number left it), whose
    locators say what changed. With nothing changed, the prior's tables and numbers as they are."""
    from ._changes import changed_network

    spec = network.spec
    new_values = {}
    for name, fam in fitted.items():
        states = network.states(name)
        for b in fam.blocks:
            if np.array_equal(b.value, b.prior):
                continue
            if b.scalar:
                new_values[(name, b.where, None)] = float(b.value[1])
            else:
                for k, s in enumerate(states):
                    new_values[(name, b.where, s)] = float(b.value[k])
    if not new_values:
        return Network(network.arrays, name=network.name, targets=network.targets,
                       tests=network.tests, spec=dataclasses.replace(spec, params=list(spec.params)),
                       source=network.source, engine=network.engine_name,
                       orders=network._given_orders, decisions=network._given_decisions,
                       reference_states=network._references)
    implied = _implied_marginals(network, arrays)
    tuned = changed_network(network, {**new_values, **implied})
    note = f"updated from {n_cases} cases (bayesdx.fit: MAP, this number as the prior)"
    restated = (f"implied by the parents fitted to {n_cases} cases (bayesdx.fit; odds ratios and "
                f"fixed rows kept from the prior)")
    params = tuned.spec.params
    for i, p in enumerate(params):
        key = (p.node, p.where, p.state)
        if key in new_values or key in implied:
            locator = f"{p.locator}; {restated if key in implied and p.node not in fitted else note}"
            params[i] = dataclasses.replace(p, locator=locator)
            if p.block is not None:
                p.block["locator"] = locator
    return tuned


def _implied_marginals(network, arrays):
    """The marginal of every odds node under the fitted network, where it moved."""
    from .engines import get_engine

    odds = [n for n in network.nodes if network.spec.nodes[n].cpt["type"] == "odds"]
    if not odds:
        return {}
    engine = get_engine(network.engine_name, arrays)
    marg, _ = engine.marginals_batch([], np.zeros((1, 0), dtype=np.int64), odds)
    out = {}
    params = {(p.node, p.where, p.state): p for p in network.spec.params}
    for n in odds:
        for k, s in enumerate(network.states(n)):
            p = params.get((n, "cpt.marginal", s))
            if p is not None and abs(float(marg[n][0, k]) - p.value) > 1e-12:
                out[(n, "cpt.marginal", s)] = float(marg[n][0, k])
    return out
