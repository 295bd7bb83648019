"""The Fagan likelihood-ratio nomogram (private; use :mod:`bayesdx.plotting`)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._plot_base import _check_targets, _new_ax, _reference_index

class FaganInputs(NamedTuple):
    """What a Fagan nomogram needs, for one test result and one disease."""

    pre_test_probability: float
    likelihood_ratio: float
    post_test_probability: float


def fagan_inputs(diagnosis, test, outcome, target, state=None) -> FaganInputs:
    """Pre-test probability, likelihood ratio and post-test probability, exactly from a diagnosis.

    The disease is ``target = state`` (default: ``target`` in any non-reference state). With
    evidence e, LR = P(outcome | disease, e) / P(outcome | no disease, e), and the post-test
    probability is P(disease | e, test = outcome).

    Parameters
    ----------
    diagnosis : Diagnosis
    test : str
        An unobserved non-target node.
    outcome : str
        One of the test's states.
    target : str
        A target node.
    state : str, optional
        The disease state of ``target``.

    Returns
    -------
    FaganInputs
        ``(pre_test_probability, likelihood_ratio, post_test_probability)``; the ratio is
        ``inf`` when the outcome is impossible without the disease.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.plotting import fagan_inputs
    >>> dx = bayesdx.diagnose("fasciculation")
    >>> pre, lr, post = fagan_inputs(dx, "ck", "gt_1000", "inflammatory_myopathy")
    >>> odds = pre / (1 - pre) * lr
    >>> abs(odds / (1 + odds) - post) < 1e-12
    True
    """
    network = diagnosis.network
    _check_targets(network, [target])
    x = network.check_state(test, outcome)
    if test in network.targets:
        raise ValueError(f"'{test}' is a target; pass a test node.")
    if test in diagnosis.evidence:
        raise ValueError(f"'{test}' is already observed ({test}={diagnosis.evidence[test]}).")
    joint = diagnosis._query.node_joints[test]
    axis = network.targets.index(target)
    other = tuple(i for i in range(len(network.targets)) if i != axis)
    table = joint.sum(axis=other) if other else joint  # (card(target), card(test))
    if state is None:
        disease = np.ones(table.shape[0], bool)
        disease[_reference_index(network, target)] = False
    else:
        disease = np.zeros(table.shape[0], bool)
        disease[network.check_state(target, state)] = True
    p_d = float(table[disease].sum())
    p_xd, p_xn = float(table[disease, x].sum()), float(table[~disease, x].sum())
    if not 0 < p_d < 1:
        raise ValueError(f"P({target} disease state | evidence) = {p_d}; a likelihood ratio "
                         "needs a pre-test probability strictly between 0 and 1.")
    sens, fpr = p_xd / p_d, p_xn / (1 - p_d)
    lr = math.inf if fpr == 0 else sens / fpr
    post = p_xd / (p_xd + p_xn) if p_xd + p_xn > 0 else math.nan
    return FaganInputs(p_d, lr, post)


def _logit(p):
    return math.log(p) - math.log1p(-p)


def plot_fagan(pre_test_probability, likelihood_ratio, ax=None, *, line_kw=None, title=None):
    """The Fagan nomogram: a straight line from pre-test probability through the likelihood
    ratio to the post-test probability.

    The three vertical scales are in log-odds: the pre-test axis (left, increasing downwards)
    at −logit(p), the likelihood-ratio axis (middle) at ½·ln(LR) and the post-test axis (right) at
    logit(p) + ln(LR), so the post-test log-odds are the pre-test log-odds plus ln(LR).

    Parameters
    ----------
    pre_test_probability : float
        Strictly between 0 and 1.
    likelihood_ratio : float
        Positive and finite.
    ax : matplotlib.axes.Axes, optional
    line_kw : dict, optional
        Passed to ``ax.plot`` for the line.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        The line (``gid`` ``"fagan-line"``) has x = [0, 1, 2] and y = [−logit(pre), ½ ln LR,
        logit(post)].

    Examples
    --------
    >>> import math
    >>> from bayesdx.plotting import plot_fagan
    >>> ax = plot_fagan(0.2, 6.0)
    >>> y = [line for line in ax.lines if line.get_gid() == "fagan-line"][0].get_ydata()[-1]
    >>> round(1 / (1 + math.exp(-y)), 4)  # 0.25 * 6 = 1.5 odds
    0.6
    """
    pre, lr = float(pre_test_probability), float(likelihood_ratio)
    if not 0 < pre < 1:
        raise ValueError(f"pre_test_probability must be strictly between 0 and 1; got {pre}.")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"likelihood_ratio must be positive and finite; got {lr}.")
    y0, y2 = -_logit(pre), _logit(pre) + math.log(lr)
    post = 1 / (1 + math.exp(-y2))
    ax = _new_ax(ax, (5.2, 6.4))
    lim = max(_logit(0.999), abs(y0), abs(y2)) * 1.04
    p_ticks = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6,
               0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9998, 0.9999]
    p_ticks = [p for p in p_ticks if abs(_logit(p)) <= lim]
    lr_ticks = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100,
                200, 500, 1000]
    lr_ticks = [v for v in lr_ticks if abs(0.5 * math.log(v)) <= lim]

    def pct(p):
        return f"{100 * p:g}"

    for xa, ticks, side in ((0, [(-_logit(p), pct(p)) for p in p_ticks], -1),
                            (1, [(0.5 * math.log(v), f"{v:g}") for v in lr_ticks], 1),
                            (2, [(_logit(p), pct(p)) for p in p_ticks], 1)):
        ax.plot([xa, xa], [-lim, lim], color="black", linewidth=1)
        for y, text in ticks:
            ax.plot([xa, xa + 0.04 * side], [y, y], color="black", linewidth=0.8)
            ax.text(xa + 0.07 * side, y, text, ha="left" if side > 0 else "right", va="center",
                    fontsize="x-small")
    for xa, text in ((0, "Pre-test\nprobability (%)"), (1, "Likelihood\nratio"),
                     (2, "Post-test\nprobability (%)")):
        ax.text(xa, lim * 1.03, text, ha="center", va="bottom", fontsize="small", fontweight="bold")
    ax.plot([0, 1, 2], [y0, 0.5 * math.log(lr), y2], gid="fagan-line",
            **{"color": "#c2444e", "linewidth": 2, "marker": "o", **(line_kw or {})})
    box = {"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "#c2444e"}
    for xa, y, text, ha in ((0, y0, f"{pre:.1%}", "left"), (1, 0.5 * math.log(lr), f"LR {lr:.3g}", "right"),
                            (2, y2, f"{post:.1%}", "right")):
        ax.annotate(text, (xa, y), xytext=(8 if ha == "left" else -8, 10), textcoords="offset points",
                    ha=ha, fontsize="small", color="#c2444e", bbox=box, zorder=5)
    ax.set_xlim(-0.45, 2.45)
    ax.set_ylim(-lim * 1.02, lim * 1.22)
    ax.set_axis_off()
    ax.set_title(title or f"Fagan nomogram: {pre:.1%} \u00d7 LR {lr:.3g} \u2192 {post:.1%}",
                 fontsize="medium", wrap=True)
    return ax
