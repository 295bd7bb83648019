"""How the answers of "how sure are we?" read: :class:`~bayesdx.Uncertainty` in notebook HTML and
in text, the tornado of :func:`bayesdx.sensitivity.tornado` and the admissible deviations of
:func:`bayesdx.sensitivity.admissible_deviations` as text, and every network number described in
words by label (``Fasciculations visible on examination given ALS alone``).

The diseases come first, each with P(not in its healthy state), its credible interval drawn as a
bar; then the orders with the probability that each is the top recommendation.
"""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pandas as pd

from ._text import DEFAULT_WIDTH, Column, Names, fit, number, percent, table, wrap

__all__ = ["ci_columns", "with_intervals", "disease_intervals", "parameter_text", "uncertainty_html",
           "uncertainty_lines", "tornado_lines", "admissible_lines"]

_BAR_W = 160


def ci_columns(frame: pd.DataFrame) -> tuple[str, str]:
    """The (low, high) credible-interval columns of a summary frame, e.g. ``ci90_low``."""
    low = [c for c in frame.columns if re.fullmatch(r"ci[0-9_]+_low", str(c))]
    if len(low) != 1:
        raise ValueError(f"expected one ci<level>_low column; got {list(frame.columns)}")
    return low[0], low[0][:-4] + "_high"


def with_intervals(frame: pd.DataFrame, dx, u) -> pd.DataFrame:
    """``frame`` (a :meth:`Diagnosis.to_frame`) with the ``median`` and credible interval of each
    posterior from ``u``, an :class:`~bayesdx.Uncertainty` of the same network and evidence."""
    from .exceptions import InvalidParameterError

    if type(u).__name__ != "Uncertainty":
        raise InvalidParameterError(f"The 'uncertainty' parameter of to_frame must be an "
                                    f"Uncertainty (bayesdx.uncertainty). Got {type(u).__name__} "
                                    f"instead.")
    if u.network.name != dx.network.name or list(u.network.targets) != list(dx.network.targets):
        raise InvalidParameterError(f"The uncertainty is of network {u.network.name!r}, the "
                                    f"diagnosis of {dx.network.name!r}.")
    if dict(u.evidence) != dict(dx.evidence):
        raise InvalidParameterError(f"The uncertainty was computed given {dict(u.evidence)}, the "
                                    f"diagnosis given {dict(dx.evidence)}: pass the same evidence.")
    post = u.posteriors
    low, high = ci_columns(post)
    return frame.merge(post[["target", "state", "median", low, high]], on=["target", "state"],
                       how="left", validate="one_to_one")


def _level_text(u) -> str:
    return f"{100 * u.level:g}%"


def disease_intervals(u) -> pd.DataFrame:
    """One row per disease of an :class:`~bayesdx.Uncertainty`: P(not in its healthy state) with
    the stated numbers (``point``), its median and credible interval over the draws; a target with
    no healthy state known gives a row per state. Columns ``target``, ``label``, ``state`` (None
    for P(not healthy)), ``point``, ``median``, ``ci<level>_low``, ``ci<level>_high``."""
    net = u.network
    nm = Names(net)
    draws = u.posterior_draws()
    post = u.posteriors
    low, high = ci_columns(post)
    qs = [0.5, (1 - u.level) / 2, (1 + u.level) / 2]
    rows = []
    for t in net.targets:
        mine = post[post.target == t]
        if net.has_reference_state(t):
            ref = net.reference_state(t)
            samples = 1.0 - draws[(t, ref)].to_numpy()
            q = np.quantile(samples, qs) if len(samples) else [math.nan] * 3
            point = 1.0 - float(mine.loc[mine.state == ref, "point"].iloc[0])
            rows.append({"target": t, "label": nm.node(t), "state": None, "point": point,
                         "median": float(q[0]), low: float(q[1]), high: float(q[2])})
        else:
            for r in mine.itertuples(index=False):
                rows.append({"target": t, "label": f"{nm.node(t)}: {r.state}", "state": r.state,
                             "point": r.point, "median": r.median, low: getattr(r, low),
                             high: getattr(r, high)})
    return pd.DataFrame(rows, columns=["target", "label", "state", "point", "median", low, high])


def parameter_text(row, network=None) -> str:
    """One number of a network in words: a row of :meth:`Network.parameters` (or of a tornado or
    admissible-deviation frame), by label when ``network`` is given.

    Examples
    --------
    >>> import bayesdx
    >>> net = bayesdx.load_network("fasciculation")
    >>> p = net.parameters()
    >>> parameter_text(p.loc[25], net)
    'Prior of ALS / lower motor neurone disease'
    >>> parameter_text(p.loc[426], net)
    'Fasciculations visible on examination given ALS / lower motor neurone disease alone'
    """
    node, where = row["node"], str(row["where"])
    state = row.get("state")
    state = None if state is None or (isinstance(state, float) and math.isnan(state)) else state

    def lab(name):
        return network.label(name) if network is not None and name in network.nodes else name

    label = row["label"] if "label" in row and network is None else lab(node)
    what = f"{label}: {state}" if state is not None else label
    if (state is not None and network is not None and node in network.nodes
            and network.has_reference_state(node) and len(network.states(node)) == 2
            and state != network.reference_state(node)):
        what = label  # a two-state node's other state goes without saying
    if where == "cpt.marginal":
        return f"Prior of {what}"
    if where == "cpt.leak":
        return f"{what}, leak (no cause present)"
    m = re.fullmatch(r"cpt\.causes\.([^.]+)(?:\.(.+))?", where)
    if m:
        cause = lab(m.group(1)) + (f": {m.group(2)}" if m.group(2) else "")
        return f"{what} given {cause} alone"
    m = re.fullmatch(r"cpt\.multipliers\.([^.]+)\.([^.]+)\.(.+)", where)
    if m:
        return f"{label}: {m.group(3)}, odds ratio for {lab(m.group(1))}: {m.group(2)}"
    m = re.fullmatch(r"cpt\.(rows|fixed)\[\d+\]\s*\{(.*)\}", where)
    if m:
        given = [part.split(":", 1) for part in m.group(2).split(",") if ":" in part]
        cond = "; ".join(f"{lab(k.strip())}: {v.strip()}" for k, v in given)
        return f"{what} given {cond}" if cond else what
    return f"{what} ({where})"


# -- HTML ----------------------------------------------------------------------------------------
def _interval_bar(low: float, high: float, point: float, colour: str = "#3572b0") -> str:
    """An inline bar over [0, 1]: the interval shaded, the point as a dark tick."""
    def pct(x):
        return 0.0 if x is None or math.isnan(x) else 100 * min(max(float(x), 0.0), 1.0)

    lo, hi, pt = pct(low), pct(high), pct(point)
    return (f'<div style="display:inline-block;position:relative;vertical-align:middle;'
            f'background:#e6ecf3;width:{_BAR_W}px;height:0.9em">'
            f'<div style="position:absolute;left:{lo:.1f}%;width:{max(hi - lo, 0.6):.1f}%;'
            f'height:100%;background:{colour};opacity:0.45"></div>'
            f'<div style="position:absolute;left:{pt:.1f}%;width:2px;margin-left:-1px;'
            f'height:100%;background:#1b2a3a"></div></div>')


def _share_bar(p: float, colour: str = "#3a9b5c") -> str:
    p = 0.0 if p is None or math.isnan(p) else min(max(float(p), 0.0), 1.0)
    return (f'<div style="display:inline-block;vertical-align:middle;background:#e6ecf3;'
            f'width:{_BAR_W}px;height:0.9em"><div style="background:{colour};width:{100 * p:.1f}%;'
            f'height:100%"></div></div>')


def uncertainty_html(u, top: int = 10) -> str:
    """Notebook HTML of an :class:`~bayesdx.Uncertainty`: each disease's probability with its
    credible interval as a bar, then the orders with their value's interval and how often each is
    the top recommendation, the actions' shares, and (collapsed) every state."""
    net = u.network
    nm = Names(net)
    lvl = _level_text(u)
    dis = disease_intervals(u)
    low, high = ci_columns(dis)
    out = [f"<div><p><b>How sure are we?</b> <code>{html.escape(net.name)}</code> given "
           f"{html.escape(nm.evidence(u.evidence))}: {u.draws:,} draws of the network's numbers "
           f"from their stated ranges; {lvl} credible intervals.</p>",
           '<table><tr><th style="text-align:left">disease</th><th>with the stated numbers</th>'
           f"<th>{lvl} interval</th><th></th></tr>"]
    for r in dis.itertuples(index=False):
        lo, hi = getattr(r, low), getattr(r, high)
        out.append(f'<tr><td style="text-align:left">{html.escape(r.label)}</td>'
                   f"<td><b>{percent(r.point)}</b></td><td>{percent(lo)} to {percent(hi)}</td>"
                   f"<td>{_interval_bar(lo, hi, r.point)}</td></tr>")
    out.append("</table>")
    orders = u.orders
    if len(orders):
        olo, ohi = ci_columns(orders)
        unit = u.objective.value_unit
        out.append(f"<p><b>Orders</b> by {html.escape(u.objective.describe())}: the recommendation "
                   f"stays on top in <b>{percent(u.prob_top, digits=0)}</b> of draws.</p>")
        out.append('<table><tr><th>rank</th><th style="text-align:left">order</th>'
                   f"<th>value ({html.escape(unit)})</th><th>{lvl} interval</th>"
                   "<th>P(top)</th><th></th></tr>")
        for r in orders.head(top).itertuples(index=False):
            out.append(f"<tr><td>{r.point_rank}</td><td style=\"text-align:left\">"
                       f"{html.escape(r.label)}</td><td>{number(r.point)}</td>"
                       f"<td>{number(getattr(r, olo))} to {number(getattr(r, ohi))}</td>"
                       f"<td><b>{percent(r.prob_top)}</b></td><td>{_share_bar(r.prob_top)}</td></tr>")
        out.append("</table>")
        if len(orders) > top:
            rest = orders.iloc[top:]
            out.append(f"<p>{len(rest)} more orders, top together in "
                       f"{percent(float(rest.prob_top.sum()))} of draws.</p>")
    acts = u.actions
    if len(acts):
        out.append("<p><b>Actions</b>: how often deciding now takes each</p><table><tr>"
                   '<th style="text-align:left">action</th><th>now</th><th>share of draws</th>'
                   "<th></th></tr>")
        for r in acts.itertuples(index=False):
            out.append(f'<tr><td style="text-align:left">{html.escape(r.label)}</td>'
                       f"<td>{'take' if r.taken_now else 'not now'}</td>"
                       f"<td>{percent(r.prob_taken)}</td><td>{_share_bar(r.prob_taken, '#d9822b')}"
                       "</td></tr>")
        out.append("</table>")
    post = u.posteriors.drop(columns=["target"])
    out.append("<details><summary>Every state of each target</summary>"
               + post.to_html(index=False, float_format=lambda x: f"{x:.4f}") + "</details></div>")
    return "".join(out)


# -- text ----------------------------------------------------------------------------------------
def _text_bar(low: float, high: float, point: float, width: int) -> str:
    """``[   |==*===      ]``-like: the interval over [0, 1] as ``=``, the point as ``*``."""
    cells = [" "] * width

    def at(x):
        return min(width - 1, max(0, int(round(float(x) * (width - 1)))))

    if not (math.isnan(low) or math.isnan(high)):
        for i in range(at(low), at(high) + 1):
            cells[i] = "="
    if not math.isnan(point):
        cells[at(point)] = "*"
    return "|" + "".join(cells) + "|"


def uncertainty_lines(u, *, width: int = DEFAULT_WIDTH, names: bool = False,
                      top: int = 10) -> list[str]:
    """The text of an :class:`~bayesdx.Uncertainty` in ``width`` columns: each disease with its
    credible interval (and a bar over 0-100%), then each order's value interval and P(top)."""
    nm = Names(u.network, names)
    lvl = _level_text(u)
    lines = wrap(f"How sure are we? {u.draws:,} draws of the network's numbers from their stated "
                 f"ranges ({lvl} credible intervals" + (f", seed {u.seed}" if u.seed is not None
                                                          else "") + "):", width, "", "  ")
    dis = disease_intervals(u)
    low, high = ci_columns(dis)
    bar_w = max(10, min(22, (width - 66) // 2 + 10))
    cells = []
    for r in dis.itertuples(index=False):
        label = nm.target(r.target, r.state) if names or r.state is not None else r.label
        lo, hi = getattr(r, low), getattr(r, high)
        cells.append([label, percent(r.point), f"{percent(lo)} to {percent(hi)}",
                      _text_bar(lo, hi, r.point, bar_w)])
    lines += table([Column("disease", "<", flex=True, priority=9),
                    Column("stated", priority=8), Column(f"{lvl} interval", priority=7),
                    Column("0% ... 100%", "<", priority=1)], cells, width, flex_min=24,
                    wrap_flex=True)
    orders = u.orders
    if len(orders):
        lines.append("")
        lines += wrap(f"Orders by {u.objective.describe()}; P(top) = share of draws in which the "
                      f"order is the top recommendation:", width, "", "  ")
        olo, ohi = ci_columns(orders)
        cells = [[str(r.point_rank), nm.order(r.order), number(r.point),
                  f"{number(getattr(r, olo))} to {number(getattr(r, ohi))}", percent(r.prob_top)]
                 for r in orders.head(top).itertuples(index=False)]
        lines += table([Column("#", priority=9), Column("order", "<", flex=True, priority=9),
                        Column(f"value ({u.objective.value_unit})", priority=6),
                        Column(f"{lvl} interval", priority=5), Column("P(top)", priority=8)],
                       cells, width, flex_min=24)
        if len(orders) > top:
            rest = orders.iloc[top:]
            lines.append(f"  ... {len(rest)} more, top together in "
                         f"{percent(float(rest.prob_top.sum()))} of draws")
        best = orders.iloc[0]
        lines += wrap(f"The recommendation, {nm.order(best.order)}, stays on top in "
                      f"{percent(u.prob_top, digits=0)} of draws.", width, "", "  ")
    acts = u.actions
    if len(acts):
        lines.append("")
        lines.append("Actions: share of draws in which deciding now takes each:")
        cells = [[r.action if names else r.label, "take" if r.taken_now else "not now",
                  percent(r.prob_taken)] for r in acts.itertuples(index=False)]
        lines += table([Column("action", "<", flex=True), Column("now", "<"),
                        Column("share")], cells, width, flex_min=24)
    return fit(lines, width)


def _range_text(lo, hi) -> str:
    if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
        return ""
    def text(x):
        return x if isinstance(x, str) else number(x)

    return f"{text(lo)} to {text(hi)}"


def tornado_lines(frame: pd.DataFrame, network=None, *, width: int = DEFAULT_WIDTH,
                  names: bool = False) -> list[str]:
    """The tornado of :func:`bayesdx.sensitivity.tornado` as text: the quantity, then each number
    (in words, or as ``node where state`` with ``names``), its stated value and range, and the
    quantity at each end of the range."""
    if not len(frame):
        return ["No number with a range moves it."]
    first = frame.iloc[0]
    lines = wrap(f"Numbers that move the {first['quantity']} most across their stated ranges "
                 f"(with the stated numbers: {number(first['point'])}):", width, "", "  ")
    cells = []
    for i, r in frame.iterrows():
        what = (f"#{i} {r['node']} {r['where']}" + (f" [{r['state']}]" if isinstance(r['state'], str)
                                                     else "")) if names else parameter_text(r, network)
        cells.append([what, number(r["value"]), _range_text(r["range_low"], r["range_high"]),
                      number(r["at_low"]), number(r["at_high"])])
    lines += table([Column("number", "<", flex=True, priority=9), Column("stated", priority=3),
                    Column("range", priority=5), Column("at low", priority=8),
                    Column("at high", priority=8)], cells, width, wrap_flex=True, flex_min=36)
    return fit(lines, width)


def admissible_lines(frame: pd.DataFrame, network=None, *, width: int = DEFAULT_WIDTH,
                     names: bool = False) -> list[str]:
    """Admissible deviations (:func:`bayesdx.sensitivity.admissible_deviations`) as text: for
    each number, the interval over which the recommendation stays on top, whether the stated
    range lies inside it, and the order that takes over beyond it."""
    if not len(frame):
        return []
    top = frame.iloc[0]["top_order"]
    lines = wrap(f"Where {top!r} stays the recommendation (each number moved alone):", width, "",
                 "  ")
    cells = []
    for i, r in frame.iterrows():
        what = (f"#{i} {r['node']} {r['where']}" + (f" [{r['state']}]" if isinstance(r['state'], str)
                                                     else "")) if names else parameter_text(r, network)
        takers = [x for x in (r["changes_low"], r["changes_high"]) if isinstance(x, str)]
        # the order stays on top to the end of a probability's domain: write 0 or 1
        lo = "0" if not isinstance(r["changes_low"], str) and r["admissible_low"] < 1e-5 \
            else r["admissible_low"]
        hi = "1" if not isinstance(r["changes_high"], str) and 0.9999 < r["admissible_high"] <= 1 \
            else r["admissible_high"]
        cells.append([what, _range_text(r["range_low"], r["range_high"]),
                      _range_text(lo, hi),
                      "yes" if r["robust_in_range"] else "NO", "; ".join(takers)])
    lines += table([Column("number", "<", flex=True, priority=9), Column("stated range", priority=6),
                    Column("stays on top", priority=8), Column("robust", "<", priority=7),
                    Column("then", "<", priority=2)], cells, width, wrap_flex=True, flex_min=26)
    return fit(lines, width)
