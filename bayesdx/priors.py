"""Parameter distributions from provenance: every sourced CPT number with a range becomes a
distribution (Beta, Dirichlet or log-normal), as ``networks/README.md`` ("Parameter uncertainty")
documents.

This module owns the fit (:func:`parameter_priors`, one row per number, the form
:func:`bayesdx.uncertainty` draws from and a learner can use as pseudo-counts) and the draws
(:func:`draw_parameters`). Which numbers are grouped:

* a *distribution* (a ``table`` or ``fixed`` row, an ``odds`` marginal, a ``noisy_max`` leak or
  cause) is one Dirichlet block: alpha_k = point_k x concentration;
* a single probability (a ``noisy_or`` leak or cause) is a Beta: (point x c, (1 - point) x c);
* an odds ratio (an ``odds`` multiplier) is a log-normal with median the stated value.

The concentration c (and sigma) are fitted so that the stated ``range`` is the central interval of
the grade's level (:data:`GRADE_LEVELS`): least squares on the logit (log for odds ratios) scale of
the two ends, by a grid search refined by golden section. A zero-width range, a point of 0 or 1, or
a row whose only ranged states are points, give a point mass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .exceptions import InvalidParameterError

__all__ = ["GRADE_LEVELS", "parameter_priors", "draw_parameters", "CPT_KINDS"]

#: The probability a stated range holds, by evidence grade: an expert's range reads as a central
#: 80% interval (wider distribution), a measured one as 95%.
GRADE_LEVELS = {"measured": 0.95, "derived": 0.90, "secondary": 0.90, "expert": 0.80}
#: Parameter kinds (``cpt_type`` of :meth:`bayesdx.Network.parameters`) that are CPT numbers.
CPT_KINDS = ("table", "noisy_or", "noisy_max", "odds")
_KAPPA = (2.0, 1e7)  # search interval of a Beta/Dirichlet concentration
_EPS = 1e-9


@dataclass(frozen=True)
class _Block:
    """One distribution: the parameter rows it covers and its family's numbers."""

    rows: tuple[int, ...]
    family: str  # "dirichlet", "beta", "lognormal", "point"
    point: np.ndarray
    alpha: np.ndarray | None = None  # dirichlet: alpha per row; beta: (a, b)
    mu: float = float("nan")
    sigma: float = float("nan")
    level: float = float("nan")


def _logit(p):
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _fit_concentration(means: np.ndarray, lows: np.ndarray, highs: np.ndarray, level: float) -> float:
    """c minimising the logit-scale squared error between each Beta(m c, (1 - m) c)'s central
    ``level`` interval and the stated [low, high]."""
    from scipy.special import betaincinv

    qa, qb = (1 - level) / 2, (1 + level) / 2
    tl, th = _logit(lows), _logit(highs)

    def loss(log_c):
        c = np.exp(np.atleast_1d(log_c))[:, None]
        a, b = means[None, :] * c, (1 - means[None, :]) * c
        lo = _logit(betaincinv(a, b, qa))
        hi = _logit(betaincinv(a, b, qb))
        return ((lo - tl) ** 2 + (hi - th) ** 2).sum(axis=1)

    grid = np.linspace(math.log(_KAPPA[0]), math.log(_KAPPA[1]), 121)
    values = loss(grid)
    k = int(np.argmin(values))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    g = (math.sqrt(5) - 1) / 2
    for _ in range(40):  # golden section on the bracketing cells
        x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
        if loss(x1)[0] <= loss(x2)[0]:
            hi = x2
        else:
            lo = x1
    return float(math.exp((lo + hi) / 2))


def _ranges(frame, rule):
    """(low, high) per row: the stated range, else the rule's x/÷ factor, else NaN."""
    low = frame["range_low"].to_numpy(dtype=float).copy()
    high = frame["range_high"].to_numpy(dtype=float).copy()
    if rule is not None:
        value = frame["value"].to_numpy(dtype=float)
        missing = np.isnan(low)
        is_prob = frame["where"].str.contains("multipliers").to_numpy() == False  # noqa: E712
        low = np.where(missing, value / rule, low)
        high = np.where(missing, np.where(is_prob, np.minimum(value * rule, 1.0), value * rule), high)
    return low, high


def _check_rule(rule):
    if rule is None:
        return None
    if isinstance(rule, bool) or not isinstance(rule, (int, float)) or not (rule > 1 and math.isfinite(rule)):
        raise InvalidParameterError(
            f"The 'rule' parameter must be a number > 1 (a missing range is read as [value / rule, "
            f"value x rule], e.g. rule=2). Got {rule!r} instead.")
    return float(rule)


def _blocks(network, rule=None) -> list[_Block]:
    """The distributions of ``network``'s CPT numbers (cached per network and rule)."""
    rule = _check_rule(rule)
    key = ("param_blocks", rule)
    if key in network._cache:
        return network._cache[key]
    frame = network.parameters()
    params = network.spec.params if network.spec is not None else []
    low, high = _ranges(frame, rule)
    groups: dict[int, list[int]] = {}
    for i, p in enumerate(params):
        if p.cpt_type in CPT_KINDS:
            groups.setdefault(id(p.block) if p.state is not None else -1 - i, []).append(i)
    blocks = []
    for rows in groups.values():
        rows = tuple(rows)
        p0 = params[rows[0]]
        point = np.array([params[i].value for i in rows])
        level = GRADE_LEVELS[p0.grade]
        lo, hi = low[list(rows)], high[list(rows)]
        ranged = ~np.isnan(lo) & (hi > lo)
        if p0.state is None and p0.value_key == "value":  # an odds ratio
            if not ranged[0]:
                blocks.append(_Block(rows, "point", point, level=level))
                continue
            z = _normal_quantile((1 + level) / 2)
            blocks.append(_Block(rows, "lognormal", point, mu=math.log(point[0]),
                                 sigma=math.log(hi[0] / lo[0]) / (2 * z), level=level))
            continue
        inside = (point > 0) & (point < 1)
        use = ranged & inside
        if not use.any():
            blocks.append(_Block(rows, "point", point, level=level))
            continue
        c = _fit_concentration(point[use], lo[use], hi[use], level)
        if p0.state is None:
            blocks.append(_Block(rows, "beta", point, alpha=np.array([point[0] * c, (1 - point[0]) * c]),
                                 level=level))
        else:
            blocks.append(_Block(rows, "dirichlet", point, alpha=point * c, level=level))
    network._cache[key] = blocks
    return blocks


def _normal_quantile(q: float) -> float:
    from scipy.special import ndtri

    return float(ndtri(q))


def parameter_priors(network, *, rule: float | None = None):
    """The distribution of every CPT number of a bayesdx YAML network, from its stated range.

    Parameters
    ----------
    network : Network
        A network read from a bayesdx YAML file (foreign networks carry no ranges: empty frame).
    rule : float, optional
        How to read a number without a range: as the range [value / rule, value x rule] (capped at
        1 for probabilities), e.g. ``rule=2``. Default: such numbers stay fixed (a point mass),
        apart from a distribution's unranged state, which takes up the rest of its row.

    Returns
    -------
    pandas.DataFrame
        One row per CPT number, indexed like :meth:`Network.parameters` (``param``: its row there).
        Columns: ``node``, ``where``, ``state``, ``value`` (the stated point), ``grade``,
        ``range_low``, ``range_high``, ``family`` (``dirichlet``, ``beta``, ``lognormal`` or
        ``point``), ``block`` (numbers of one Dirichlet share it), ``level`` (the probability the
        range is read to hold), ``alpha`` (Dirichlet: this state's alpha; Beta: a), ``beta``
        (Beta: b; Dirichlet: the row's other states' alphas summed, so (alpha, beta) is this
        number's marginal Beta), ``concentration`` (alpha + beta), ``mu`` and ``sigma`` (log-normal:
        the log's mean and standard deviation). As pseudo-counts, alpha - 1 and beta - 1 are the
        counts a MAP estimate adds.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.priors import parameter_priors
    >>> net = bayesdx.load_network("fasciculation")
    >>> priors = parameter_priors(net)
    >>> row = priors[(priors.node == "als") & (priors.state == "present")].iloc[0]
    >>> row.family, round(float(row.alpha / row.concentration), 3)
    ('dirichlet', 0.03)
    """
    import pandas as pd

    frame = network.parameters()
    columns = ["node", "where", "state", "value", "grade", "range_low", "range_high", "family",
               "block", "level", "alpha", "beta", "concentration", "mu", "sigma"]
    records = {}
    for b, block in enumerate(_blocks(network, rule)):
        total = float(block.alpha.sum()) if block.family == "dirichlet" else float("nan")
        for j, i in enumerate(block.rows):
            row = frame.iloc[i]
            a = bb = float("nan")
            if block.family == "dirichlet":
                a, bb = float(block.alpha[j]), total - float(block.alpha[j])
            elif block.family == "beta":
                a, bb = map(float, block.alpha)
            records[i] = {"node": row["node"], "where": row["where"], "state": row["state"],
                          "value": row["value"], "grade": row["grade"], "range_low": row["range_low"],
                          "range_high": row["range_high"], "family": block.family, "block": b,
                          "level": block.level, "alpha": a, "beta": bb, "concentration": a + bb,
                          "mu": block.mu, "sigma": block.sigma}
    out = pd.DataFrame.from_dict(records, orient="index", columns=columns).sort_index()
    out.index.name = "param"
    return out


def draw_parameters(network, draws: int, rng: np.random.Generator, *, rule: float | None = None,
                    blocks=None) -> np.ndarray:
    """Independent draws of every CPT number: shape (draws, len(network.parameters())).

    Columns of numbers that are not CPT numbers (order costs, utilities) and point masses hold the
    stated value. A Dirichlet or Beta draw that underflows to 0 where the point is positive is set
    to 1e-300 (then the row is renormalised), so no draw makes a stated-possible event impossible.
    """
    params = network.spec.params if network.spec is not None else []
    out = np.tile(np.array([p.value for p in params], dtype=float), (draws, 1))
    for block in (blocks if blocks is not None else _blocks(network, rule)):
        cols = list(block.rows)
        if block.family == "dirichlet":
            alpha = block.alpha
            g = np.zeros((draws, len(cols)))
            pos = alpha > 0
            g[:, pos] = rng.standard_gamma(alpha[pos], size=(draws, int(pos.sum())))
            g[:, pos] = np.maximum(g[:, pos], 1e-300)
            out[:, cols] = g / g.sum(axis=1, keepdims=True)
        elif block.family == "beta":
            a, b = block.alpha
            out[:, cols[0]] = np.clip(rng.beta(a, b, size=draws), 1e-300, 1 - 1e-16)
        elif block.family == "lognormal":
            out[:, cols[0]] = np.exp(rng.normal(block.mu, block.sigma, size=draws))
    return out
