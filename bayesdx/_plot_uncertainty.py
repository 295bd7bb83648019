"""Figures of "how sure are we?": each disease's probability with its credible interval
(:func:`plot_uncertainty`), the tornado of the numbers that move an answer most
(:func:`plot_tornado`), how often each order is the top recommendation (:func:`plot_stability`)
and a one-way sweep of one number (:func:`plot_sweep`).

Each draws on one Axes and returns it (``ax=None`` creates a figure); nothing is shown or saved.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ._plot_base import POST_COLOR, _new_ax, _short

__all__ = ["plot_uncertainty", "plot_tornado", "plot_stability", "plot_sweep"]

LOW_COLOR, HIGH_COLOR, TOP_COLOR = "#7fa7d1", "#d9822b", "#3a9b5c"


def _check_instance(obj, cls_name: str, func: str, what: str):
    if type(obj).__name__ != cls_name:
        raise TypeError(f"{func} takes {what}; got {type(obj).__name__}.")


def _wrap(label: str, width: int = 34) -> str:
    """A tick label on at most two lines of ``width`` characters."""
    import textwrap

    lines = textwrap.wrap(str(label), width)
    return "\n".join(lines[:1] + [_short(" ".join(lines[1:]), width)] if len(lines) > 1 else lines)


def _title(ax, head: str, evidence, network) -> None:
    """``head`` and the evidence by label, or how many findings when there are more than three."""
    from ._text import Names

    if not evidence:
        given = "given no findings"
    elif len(evidence) > 3:
        given = f"given {len(evidence)} findings"
    else:
        given = "given " + Names(network).evidence(evidence)
    ax.set_title(f"{head}\n{_short(given, 90)}", fontsize="medium")


def plot_uncertainty(u, ax=None, *, bar_kw=None, interval_kw=None):
    """Each disease's probability with the stated numbers, as a bar, and its credible interval
    over the draws of the network's numbers, as a line with the median marked.

    Parameters
    ----------
    u : Uncertainty
        From :func:`bayesdx.uncertainty`.
    ax : matplotlib.axes.Axes, optional
    bar_kw, interval_kw : dict, optional
        Passed to ``ax.barh`` (the point answers) and ``ax.hlines`` (the intervals).

    Returns
    -------
    matplotlib.axes.Axes
        The bars are labelled ``"with the stated numbers"``; the intervals are one
        ``LineCollection`` labelled ``"90% credible interval"`` (the level of ``u``), one segment
        per row, top row first.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.plotting import plot_uncertainty
    >>> u = bayesdx.uncertainty("fasciculation", evidence={"ck": "gt_1000"}, draws=40, seed=1)
    >>> ax = plot_uncertainty(u)
    >>> ax.get_yticklabels()[0].get_text()
    'ALS / lower motor neurone disease'
    """
    from ._display_uncertainty import ci_columns, disease_intervals

    _check_instance(u, "Uncertainty", "plot_uncertainty", "an Uncertainty (bayesdx.uncertainty)")
    rows = disease_intervals(u)
    low, high = ci_columns(rows)
    n = len(rows)
    ax = _new_ax(ax, (7.5, 1.3 + 0.5 * n))
    y = np.arange(n)[::-1].astype(float)
    lvl = f"{100 * u.level:g}%"
    bars = ax.barh(y, rows["point"], 0.55, **{"color": POST_COLOR, "alpha": 0.35,
                                               "label": "with the stated numbers", **(bar_kw or {})})
    ax.hlines(y, rows[low], rows[high], **{"color": "#1b2a3a", "linewidth": 2.2,
                                           "label": f"{lvl} credible interval",
                                           **(interval_kw or {})})
    ax.plot(rows["median"], y, "o", color="#1b2a3a", markersize=4, label="median")
    right = float(np.nanmax(np.r_[rows[high].to_numpy(), rows["point"].to_numpy(), 0.05]))
    xmax = min(1.0, right * 1.25) if right < 0.8 else 1.0
    labels = [f"{p:.1%} ({lo:.1%} to {hi:.1%})" for p, lo, hi in
              zip(rows["point"], rows[low], rows[high])]
    for yy, text in zip(y, labels):
        ax.text(1.02, yy, text, va="center", fontsize=9, transform=ax.get_yaxis_transform())
    ax.set_xlim(0, xmax)
    ax.set_yticks(y, [_wrap(s) for s in rows["label"]])
    ax.set_xlabel("probability the disease is present")
    ax.tick_params(labelsize=9)
    _title(ax, f"How sure are we? Each disease over {u.draws:,} draws of the network's numbers",
           u.evidence, u.network)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16 if n > 3 else -0.3), ncol=3,
              fontsize=9, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    del bars
    return ax


def plot_tornado(tornado, ax=None, *, network=None, top: int | None = None, bar_kw=None):
    """The tornado of :func:`bayesdx.sensitivity.tornado`: for each number, a bar from the
    answer with the stated numbers to the answer at each end of the number's stated range.

    Parameters
    ----------
    tornado : pandas.DataFrame
        The frame :func:`bayesdx.sensitivity.tornado` returns (largest swing first).
    ax : matplotlib.axes.Axes, optional
    network : Network, optional
        Describes each number by label (e.g. "Fasciculations ... given ALS ... alone"); without
        it, by the node's label and where the number sits.
    top : int, optional
        Show only the first ``top`` rows.
    bar_kw : dict, optional
        Passed to both ``ax.barh`` calls.

    Returns
    -------
    matplotlib.axes.Axes
        Two bar containers, ``"at the range's low end"`` and ``"at the range's high end"``, each
        bar starting at the stated answer (``bar.get_x()``) and ending at that end's answer.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx import sensitivity
    >>> from bayesdx.plotting import plot_tornado
    >>> t = sensitivity.tornado("fasciculation", quantity=("posterior", "als", "present"), top=4)
    >>> ax = plot_tornado(t)
    >>> len(ax.get_yticklabels())
    4
    """
    import pandas as pd

    from ._display_uncertainty import parameter_text

    needed = {"at_low", "at_high", "point", "quantity", "node", "where"}
    if not isinstance(tornado, pd.DataFrame) or not needed <= set(tornado.columns):
        raise TypeError("plot_tornado takes the frame of bayesdx.sensitivity.tornado; got "
                        f"{type(tornado).__name__}.")
    frame = tornado if top is None else tornado.head(int(top))
    if not len(frame):
        raise ValueError("plot_tornado: the tornado frame is empty (no number with a range).")
    n = len(frame)
    ax = _new_ax(ax, (8.5, 1.4 + 0.42 * n))
    y = np.arange(n)[::-1].astype(float)
    point = float(frame["point"].iloc[0])
    lo = frame["at_low"].to_numpy(dtype=float)
    hi = frame["at_high"].to_numpy(dtype=float)
    kw = bar_kw or {}
    ax.barh(y, np.nan_to_num(lo - point), 0.6, left=point,
            **{"color": LOW_COLOR, "label": "at the range's low end", **kw})
    ax.barh(y, np.nan_to_num(hi - point), 0.6, left=point,
            **{"color": HIGH_COLOR, "label": "at the range's high end", "alpha": 0.85, **kw})
    ax.axvline(point, color="#1b2a3a", linewidth=1, label="with the stated numbers")
    quantity = str(frame["quantity"].iloc[0])
    if quantity.startswith("margin"):
        ax.axvline(0, color="#c2444e", linewidth=1, linestyle="--",
                   label="below 0: another order is on top")
    names = []
    for _, r in frame.iterrows():
        text = parameter_text(r, network)
        rng = (f" ({r['range_low']:.3g} to {r['range_high']:.3g})"
               if not math.isnan(float(r["range_low"])) else "")
        names.append(_short(text, 58 - len(rng)) + rng)
    ax.set_yticks(y, names)
    ax.tick_params(labelsize=9)
    ax.set_xlabel(quantity, fontsize=10)
    ax.set_title("What moves the answer most across the stated ranges", fontsize="medium")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14 if n > 3 else -0.3), ncol=2,
              fontsize=9, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_stability(u, ax=None, *, top: int = 8, bar_kw=None):
    """How often each order is the top recommendation over the draws of the network's numbers
    (the recommendation with the stated numbers highlighted).

    Parameters
    ----------
    u : Uncertainty
    ax : matplotlib.axes.Axes, optional
    top : int, default 8
        Orders shown: those most often on top; the rest are summed into one bar.
    bar_kw : dict, optional
        Passed to ``ax.barh``.

    Returns
    -------
    matplotlib.axes.Axes
        One bar container labelled ``"P(top recommendation)"``, a bar per row, top row first;
        the bar widths are the ``prob_top`` column of ``u.orders``.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.plotting import plot_stability
    >>> u = bayesdx.uncertainty("fasciculation", draws=40, seed=1)
    >>> ax = plot_stability(u)
    >>> ax.get_xlabel()
    'share of draws in which the order is the top recommendation'
    """
    from .exceptions import _check_count

    _check_instance(u, "Uncertainty", "plot_stability", "an Uncertainty (bayesdx.uncertainty)")
    top = _check_count(top, "top", "plot_stability")
    orders = u.orders
    if not len(orders):
        raise ValueError("plot_stability: there is no ranked order (every test is observed).")
    best = orders.iloc[0]["order"]
    shown = orders.sort_values(["prob_top", "point_rank"], ascending=[False, True],
                               kind="stable").head(top)
    labels = [_wrap(s) for s in shown["label"]]
    shares = list(shown["prob_top"])
    colours = [TOP_COLOR if o == best else "#9fb7a7" for o in shown["order"]]
    rest = orders[~orders["order"].isin(shown["order"])]
    if len(rest):
        labels.append(f"{len(rest)} other orders")
        shares.append(float(rest["prob_top"].sum()))
        colours.append("#cccccc")
    n = len(labels)
    ax = _new_ax(ax, (7.5, 1.3 + 0.4 * n))
    y = np.arange(n)[::-1].astype(float)
    bars = ax.barh(y, shares, 0.6, **{"color": colours, "label": "P(top recommendation)",
                                      **(bar_kw or {})})
    ax.bar_label(bars, labels=[f"{s:.0%}" for s in shares], padding=3, fontsize=9)
    ax.set_yticks(y, labels)
    ax.tick_params(labelsize=9)
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("share of draws in which the order is the top recommendation")
    _title(ax, f"How often each order is on top over {u.draws:,} draws (green: the "
           f"recommendation\nwith the stated numbers)", u.evidence, u.network)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def plot_sweep(sweep, ax=None, *, show: str = "orders", point: float | None = None,
               top: int = 5, line_kw=None):
    """A one-way sweep (:func:`bayesdx.sensitivity.sweep`): the orders' values (or the diseases'
    probabilities) along the swept number's values, the stated value marked and the stretches
    where each order is the top recommendation shaded.

    Parameters
    ----------
    sweep : Sweep
    ax : matplotlib.axes.Axes, optional
    show : {"orders", "posteriors"}, default "orders"
    point : float, optional
        The number's stated value, drawn as a vertical line (default ``sweep.point`` if it has
        one).
    top : int, default 5
        Lines drawn: every order that is ever on top, then the best others at the first value
        (``show="orders"``); the targets' non-reference states with the highest probability
        anywhere (``"posteriors"``).
    line_kw : dict, optional
        Passed to every ``ax.plot``.

    Returns
    -------
    matplotlib.axes.Axes
        One line per order or disease, labelled by label, with the sweep's values as x.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx import sensitivity
    >>> from bayesdx.plotting import plot_sweep
    >>> s = sensitivity.sweep("fasciculation", "als", [0.005, 0.03, 0.1])
    >>> ax = plot_sweep(s, point=0.03)
    >>> ax.get_xscale()
    'log'
    """
    from .exceptions import InvalidParameterError, _check_count

    _check_instance(sweep, "Sweep", "plot_sweep", "a Sweep (bayesdx.sensitivity.sweep)")
    if show not in ("orders", "posteriors"):
        raise InvalidParameterError(f"The 'show' parameter of plot_sweep must be 'orders' or "
                                    f"'posteriors'. Got {show!r} instead.")
    top = _check_count(top, "top", "plot_sweep")
    point = getattr(sweep, "point", None) if point is None else point
    x = np.asarray(sweep.values, dtype=float)
    labels = sweep._labels
    ax = _new_ax(ax, (7.5, 4.2))
    colours = ["#3572b0", "#d9822b", "#3a9b5c", "#c2444e", "#8f5ab0", "#b7a32f", "#555555",
               "#17becf"]
    if show == "orders":
        values = sweep.order_values
        ever = list(dict.fromkeys(t for t in sweep.top if t is not None))
        others = [o for o in values.iloc[0].sort_values(ascending=False).index if o not in ever]
        chosen = (ever + others)[:max(top, len(ever))]
        for k, o in enumerate(chosen):
            ax.plot(x, values[o].to_numpy(), **{"color": colours[k % len(colours)],
                                                "linewidth": 2.4 if o in ever else 1.2,
                                                "label": _wrap(labels.get(o, o), 36),
                                                **(line_kw or {})})
        colour_of = {o: colours[k % len(colours)] for k, o in enumerate(chosen)}
        tops = list(sweep.top)
        edges = np.r_[x[0], (x[1:] + x[:-1]) / 2, x[-1]] if len(x) > 1 else np.r_[x, x]
        if len(x) > 1 and x.min() > 0 and x.max() / x.min() >= 10:
            edges = np.r_[x[0], np.sqrt(x[1:] * x[:-1]), x[-1]]
        for i, t in enumerate(tops):
            if t is not None:
                ax.axvspan(edges[i], edges[i + 1], color=colour_of.get(t, "#cccccc"), alpha=0.08,
                           linewidth=0)
        ax.set_ylabel(f"value of the order ({sweep.objective.value_unit})")
        ax.axhline(0, color="#999999", linewidth=0.8)
        head = "Which order is on top as the number changes (shaded: the top order)"
    else:
        post = sweep.posteriors
        cols = [c for c in post.columns if len(post.columns.get_level_values(0)) and
                c[1] != _reference(sweep, c[0])]
        cols = sorted(cols, key=lambda c: -float(post[c].max()))[:top]
        for k, c in enumerate(cols):
            name = labels.get(c[0], c[0])
            states = [s for t, s in post.columns if t == c[0]]
            text = name if len(states) == 2 else f"{name}: {c[1]}"
            ax.plot(x, post[c].to_numpy(), **{"color": colours[k % len(colours)], "linewidth": 2,
                                              "label": _wrap(text, 36), **(line_kw or {})})
        ax.set_ylabel("probability")
        ax.set_ylim(0, None)
        head = "Diseases' probabilities as the number changes"
    if len(x) > 1 and x.min() > 0 and x.max() / x.min() >= 10:
        ax.set_xscale("log")
    if point is not None:
        ax.axvline(float(point), color="#1b2a3a", linestyle="--", linewidth=1.2,
                   label=f"stated value ({point:.3g})")
    ax.set_xlabel(_short(_sweep_label(sweep), 70))
    ax.tick_params(labelsize=9)
    ax.set_title(head, fontsize="medium")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def _reference(sweep, target):
    """The reference state of ``target`` in a sweep: "absent"/"normal"/"no" if present, else the
    first state."""
    states = [s for t, s in sweep.posteriors.columns if t == target]
    for s in states:
        if str(s).lower() in ("absent", "normal", "no", "none", "negative"):
            return s
    return states[0]


def _sweep_label(sweep) -> str:
    """The swept number in words (``Prior of ALS ...: present``), else as the sweep names it."""
    from ._display_uncertainty import parameter_text

    m = re.fullmatch(r"(\S+) (\S+)(?: \[(.*)\])?", str(sweep.parameter))
    if not m:
        return str(sweep.parameter)
    node, where, state = m.groups()
    return parameter_text({"node": node, "where": where, "state": state,
                           "label": sweep._labels.get(node, node)})
