"""Scores of probabilistic predictions against what happened: pure numpy functions.

Each takes ``y`` (0/1 outcomes) and ``p`` (predicted probabilities of 1) as 1-D arrays, in the
style of scikit-learn's ``brier_score_loss(y_true, y_prob)``; :mod:`bayesdx.evaluate` applies them
per disease and per ranking.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["brier", "log_loss", "auroc", "calibration_bins", "expected_calibration_error",
           "calibration_test", "top_k_hits"]

#: Probabilities are clipped to [EPS, 1 - EPS] in the log loss (as scikit-learn does), so an
#: exact 0 or 1 that turns out wrong costs -log(EPS) ~ 36 nats instead of infinity.
EPS = float(np.finfo(np.float64).eps)


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared difference between the probability and the 0/1 outcome.

    Examples
    --------
    >>> brier(np.array([1, 0]), np.array([0.8, 0.4]))
    0.1
    """
    return float(np.mean((p - y) ** 2))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood of the outcomes, in nats (natural log).

    Examples
    --------
    >>> round(log_loss(np.array([1, 0]), np.array([0.5, 0.5])), 6) == round(math.log(2), 6)
    True
    """
    q = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive case gets a higher
    probability than a random negative one, ties counting one half (Mann-Whitney U / (n1 n0)).
    NaN when the outcomes are all 0 or all 1 (the area is not defined).

    Examples
    --------
    >>> auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    y = np.asarray(y, dtype=bool)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    # mid-ranks of tied values
    first = np.r_[True, sorted_p[1:] != sorted_p[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], sorted_p.size]
    mid = (starts + ends + 1) / 2.0  # 1-based average rank of each tie group
    ranks = np.empty(p.size)
    ranks[order] = mid[group]
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def calibration_bins(y: np.ndarray, p: np.ndarray, n_bins: int) -> dict[str, np.ndarray]:
    """Cases grouped into ``n_bins`` equal-width probability bins [0, 1/B), ..., [1 - 1/B, 1].

    Returns ``count``, ``mean_predicted``, ``observed`` (fraction of 1s) and ``variance`` (the
    sum of p(1 - p): the variance of the count of 1s if the probabilities are right) per bin;
    means are NaN in empty bins.
    """
    which = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(which, minlength=n_bins).astype(float)
    sum_p = np.bincount(which, weights=p, minlength=n_bins)
    sum_y = np.bincount(which, weights=y.astype(float), minlength=n_bins)
    var = np.bincount(which, weights=p * (1 - p), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"count": count, "mean_predicted": sum_p / count, "observed": sum_y / count,
                "sum_predicted": sum_p, "sum_observed": sum_y, "variance": var}


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """ECE: the case-weighted mean, over equal-width bins, of |mean probability - observed
    frequency|.

    Examples
    --------
    >>> expected_calibration_error(np.array([1, 0, 0, 1]), np.array([0.9, 0.1, 0.3, 0.3]), n_bins=2)
    0.1
    """
    bins = calibration_bins(y, p, n_bins)
    return float(np.abs(bins["sum_predicted"] - bins["sum_observed"]).sum() / y.size)


def calibration_test(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> tuple[float, float, float]:
    """How far from perfect calibration the cases are, given Monte Carlo noise.

    Returns ``(ece_expected, chi2, p_value)``. ``ece_expected`` is the ECE a perfectly calibrated
    model would show on this many cases (by the normal approximation, the sum over bins of
    sqrt(2/pi) sqrt(sum p(1 - p)) / n). For the test, adjacent bins are pooled until each group's
    variance sum p(1 - p) reaches 1 (so the normal approximation holds for rare outcomes); then
    ``chi2`` sums, over the groups, (observed count - predicted count)^2 / sum p(1 - p). With
    probabilities not fitted to these cases it follows a chi-square distribution with one degree
    of freedom per group, which gives ``p_value`` (small: the probabilities are miscalibrated for
    these cases; 0 when a certain prediction was wrong).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(5000)
    >>> bool(calibration_test((rng.random(5000) < p).astype(int), p)[2] > 0.001)
    True
    >>> bool(calibration_test((rng.random(5000) < p ** 2).astype(int), p)[2] < 1e-9)
    True
    """
    from scipy import stats

    bins = calibration_bins(y, p, n_bins)
    var = bins["variance"]
    diff = bins["sum_observed"] - bins["sum_predicted"]
    impossible = bool(np.any(((p == 0) & (y == 1)) | ((p == 1) & (y == 0))))
    ece_expected = float(math.sqrt(2 / math.pi) * np.sqrt(var).sum() / y.size)
    groups_var, groups_diff = [], []
    acc_var = acc_diff = 0.0
    for v, d in zip(var, diff):
        acc_var += v
        acc_diff += d
        if acc_var >= 1.0:
            groups_var.append(acc_var)
            groups_diff.append(acc_diff)
            acc_var = acc_diff = 0.0
    if groups_var:  # the remainder joins the last group
        groups_var[-1] += acc_var
        groups_diff[-1] += acc_diff
    else:
        groups_var, groups_diff = [acc_var], [acc_diff]
    gv, gd = np.array(groups_var), np.array(groups_diff)
    if impossible or np.any((gv <= 1e-12) & (np.abs(gd) > 1e-9)):
        return ece_expected, math.inf, 0.0  # a certain prediction was wrong
    live = gv > 1e-12
    chi2 = float((gd[live] ** 2 / gv[live]).sum())
    dof = int(live.sum())
    return ece_expected, chi2, float(stats.chi2.sf(chi2, dof)) if dof else 1.0


def top_k_hits(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each case (row) and each k = 1..T: whether some present disease, and whether every
    present disease, is among the k most probable.

    ``p`` and ``y`` have shape (cases, T). Diseases are ranked by probability, descending; ties
    keep the column order. Returns two boolean arrays of shape (cases, T).

    Examples
    --------
    >>> any_, all_ = top_k_hits(np.array([[0.2, 0.7, 0.5]]), np.array([[1, 0, 1]]))
    >>> any_.astype(int).tolist(), all_.astype(int).tolist()
    ([[0, 1, 1]], [[0, 0, 1]])
    """
    order = np.argsort(-p, axis=1, kind="stable")
    present_ranked = np.take_along_axis(np.asarray(y, dtype=bool), order, axis=1)
    found = np.cumsum(present_ranked, axis=1)
    total = present_ranked.sum(axis=1, keepdims=True)
    return found > 0, (found == total) & (total > 0)
