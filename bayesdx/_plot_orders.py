"""Figures of the ranking by order and of one order's explanation (private; re-exported by
:mod:`bayesdx.plotting`)."""

from __future__ import annotations

import math
import textwrap

import numpy as np

from ._plot_base import KIND_COLORS, POST_COLOR, _check_targets, _new_ax, _rows, _set_title
from ._text import Names
from .exceptions import _check_count

OUTCOME_COLORS = ["#3a9b5c", "#d9822b", "#c2444e", "#8f5ab0", "#3572b0", "#b7a32f", "#6f7f8f",
                  "#2f8f8f"]


def _with_objective(diagnosis, objective):
    return diagnosis if objective is None else diagnosis.with_objective(objective)


# -- ranking ------------------------------------------------------------------------------------
def plot_ranking(diagnosis, ax=None, *, top=10, objective=None, bar_kw=None):
    """The best unobserved orders (or tests) by the diagnosis' objective, best on top.

    Bars are the ``value`` column (bits, or utils under the *decision* objective), labelled with
    the order's label, coloured by kind (lab, exam, ...), hatched when the order is invasive, and
    annotated with the value and the cost in USD. Under the *decision* objective the decision
    value before cost is drawn as an outline behind each bar, so the cost is the gap between the
    two.

    Parameters
    ----------
    diagnosis : Diagnosis
    ax : matplotlib.axes.Axes, optional
    top : int, default 10
        How many orders to show (at least 1).
    objective : str or Objective, optional
        Rank by this objective instead of the diagnosis' own (:meth:`Diagnosis.with_objective`).
    bar_kw : dict, optional
        Passed to ``ax.barh`` for the value bars.

    Raises
    ------
    InvalidParameterError
        ``top`` is not an int >= 1.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.containers[0]`` holds one value bar per order.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.plotting import plot_ranking
    >>> dx = bayesdx.diagnose("fasciculation", evidence={"ck": "gt_1000"})
    >>> ax = plot_ranking(dx, top=5)
    >>> [t.get_text() for t in ax.get_yticklabels()] == list(dx.ranking["label"][:5])
    True
    """
    top = _check_count(top, "top", "plot_ranking")
    dx = _with_objective(diagnosis, objective)
    ranking = dx.ranking.head(top)
    ax = _new_ax(ax, (8.0, 1.4 + 0.38 * max(len(ranking), 1)))
    what = "order" if dx.by == "order" else "test"
    _set_title(ax, f"Next {what} by {dx.objective.kind}", dx.evidence, network=dx.network)
    if not len(ranking):
        ax.text(0.5, 0.5, "every test is observed", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    y = np.arange(len(ranking))[::-1].astype(float)
    values = ranking["value"].to_numpy(float)
    kinds = [k if isinstance(k, str) else None for k in ranking["kind"]]
    palette = {k: KIND_COLORS.get(k, "#6f7f8f") for k in sorted({k for k in kinds if k})}
    colors = [palette.get(k, POST_COLOR) for k in kinds]
    invasive = [v is True for v in ranking["invasive"]]
    bars = ax.barh(y, values, 0.7, **{"color": colors, **(bar_kw or {})})
    for bar, inv in zip(bars, invasive):
        if inv:
            bar.set_hatch("///")
            bar.set_edgecolor("#222222")
    unit = dx.objective.value_unit
    lows, highs = [min(values.min(), 0.0)], [max(values.max(), 0.0)]
    ends = np.maximum(values, 0.0)  # where each bar's annotation starts
    if dx.objective.kind == "decision":
        gross = ranking["decision_value_utils"].to_numpy(float)
        ends = np.maximum(ends, gross)
        ax.barh(y, gross, 0.7, fill=False, edgecolor="#444444", linestyle="--", linewidth=0.8,
                label="decision value before cost")
        highs.append(float(gross.max()))
    from ._text import money

    labels = []
    for v, c, inv in zip(values, ranking["cost_usd"].to_numpy(float), invasive):
        labels.append(f"{v:.3g} {unit}" + ("" if math.isnan(c) else f"  {money(c)}")
                      + ("  invasive" if inv else ""))
    for bar, text, x in zip(bars, labels, ends):
        ax.annotate(text, (x, bar.get_y() + bar.get_height() / 2), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize="small")
    ax.set_yticks(y, ["\n".join(textwrap.wrap(str(lab), 36)) for lab in ranking["label"]])
    low, high = min(lows), max(highs)
    span = max(high - low, 1e-9)
    ax.set_xlim(low - 0.05 * span if low < 0 else 0, high + 0.6 * span)
    if low < 0:
        ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("\n".join(textwrap.wrap(dx.objective.describe(), 70)))
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=k) for k, c in palette.items()]
    if any(invasive):
        handles.append(Patch(facecolor="white", edgecolor="#222222", hatch="///", label="invasive"))
    if dx.objective.kind == "decision":
        handles.append(Patch(fill=False, edgecolor="#444444", linestyle="--",
                             label="value before cost"))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small",
                  frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def _row_label(network, target: str, index: int) -> str:
    """A target's label, with the state for a multi-state target ("Thyroid disease: overt_hypo")."""
    label = network.label(target)
    return label if len(network.states(target)) == 2 else f"{label}: {network.states(target)[index]}"


# -- explanation --------------------------------------------------------------------------------
def plot_explanation(diagnosis, order, ax=None, *, targets=None, max_outcomes=6, min_change=0.01,
                     objective=None, bar_kw=None):
    """Why one order is worth doing: each target's posterior under its most probable outcomes.

    One group of bars per outcome (the ``max_outcomes`` most probable; the legend gives each
    outcome's probability and the actions it would start or stop), the current posterior as a
    black tick, and each action's threshold as a red dashed mark on the row of its state.

    Parameters
    ----------
    diagnosis : Diagnosis
    order : str
        A ranked order (see :meth:`Diagnosis.explain`).
    ax : matplotlib.axes.Axes, optional
    targets : sequence of str, optional
        Targets to show (default: every target state whose probability one of the outcomes
        shown moves by at least ``min_change``).
    max_outcomes : int, default 6
    min_change : float, default 0.01
        See ``targets``.
    objective : str or Objective, optional
        Explain under this objective instead of the diagnosis' own.
    bar_kw : dict, optional
        Passed to ``ax.barh`` for every outcome.

    Returns
    -------
    matplotlib.axes.Axes
        One bar container per outcome shown.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.plotting import plot_explanation
    >>> dx = bayesdx.diagnose("fasciculation")
    >>> ax = plot_explanation(dx, dx.next_test, max_outcomes=2)
    >>> len(ax.containers)
    2
    """
    dx = _with_objective(diagnosis, objective)
    why = dx.explain(order)
    network = dx.network
    shown = np.argsort(-why.p_outcome, kind="stable")[: int(max_outcomes)]
    table = why.to_frame()
    rows = _rows(network, _check_targets(network, targets))
    if targets is None:
        chosen = {why.outcome_labels[j] for j in shown}
        part = table[table["outcome"].isin(chosen)]
        moved = (part["posterior"] - part["posterior_now"]).abs().groupby(
            [part["target"], part["state"]]).max()
        rows = [r for r in rows if moved[(r[1], network.states(r[1])[r[2]])] >= min_change] or rows
    rows = [(_row_label(network, t, i), t, i) for _, t, i in rows]
    outcomes = why.outcomes()
    ax = _new_ax(ax, (11.0, 2.2 + len(rows) * (0.2 * len(shown) + 0.3)))
    y = np.arange(len(rows))[::-1].astype(float)
    h = 0.8 / max(len(shown), 1)
    for slot, j in enumerate(shown):
        label = why.outcome_labels[j]
        sub = table[table["outcome"] == label].set_index(["target", "state"])["posterior"]
        values = [float(sub[(t, network.states(t)[i])]) for _, t, i in rows]
        change = outcomes["changes"].iloc[j]
        said = Names(network).outcome(why.outcome_evidence[j])  # only what is away from normal
        legend = "\n".join(textwrap.wrap(
            f"{said or label} (p={why.p_outcome[j]:.2f})"
            + (f" \u2192 {change}" if change else ""), 48, subsequent_indent="  "))
        ax.barh(y + 0.4 - h * (slot + 0.5), values, h * 0.92,
                **{"color": OUTCOME_COLORS[slot % len(OUTCOME_COLORS)], "label": legend,
                   **(bar_kw or {})})
    now = [float(dx.marginal(t).iloc[i]) for _, t, i in rows]
    ax.scatter(now, y, marker="|", s=500, color="black", linewidths=2, zorder=3,
               label="now (before the order)")
    if dx.decisions is not None:
        first = True
        for (_, t, i), yy in zip(rows, y):
            for action in dx.decisions.actions:
                if action.target == t and tuple(action.states) == (network.states(t)[i],):
                    ax.plot([action.threshold] * 2, [yy - 0.45, yy + 0.45], color="#c2444e",
                            linestyle="--", linewidth=1.2, zorder=4,
                            label="action threshold" if first else None)
                    first = False
    ax.set_yticks(y, [r[0] for r in rows])
    ax.set_xlim(0, 1)
    ax.set_xlabel("posterior probability after the outcome")
    covered = float(why.p_outcome[shown].sum())
    note = "" if len(shown) == len(why.p_outcome) else \
        f" ({len(shown)} of {len(why.p_outcome)} outcomes, p={covered:.2f})"
    unit = dx.objective.value_unit
    _set_title(ax, f"Why {why.order.label}? {why.value:.3g} {unit} by {dx.objective.kind}{note}",
               dx.evidence, network=dx.network)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax
