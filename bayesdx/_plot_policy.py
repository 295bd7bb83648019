"""The policy tree figure (private; use :func:`bayesdx.plotting.plot_policy`)."""

from __future__ import annotations

import math
import textwrap

from ._plot_base import _new_ax, _short

ORDER_COLOR, ACT_COLOR, IDLE_COLOR, MORE_COLOR = "#d6e8f5", "#d9f0d3", "#eeeeee", "#ffffff"


def _label(policy, node, more, width: int) -> tuple[str, str]:
    """(text, face colour) of one box."""
    if node is None:
        n, p, deeper = more
        text = (f"... {n} results\n(policy continues)" if deeper
                else f"... {n} more results\n(p = {p:.2g})")
        return text, MORE_COLOR
    lines = []
    if node.depth > 0:
        lines.append(textwrap.fill(policy.outcome_text(node.outcome, brief=True, chars=24), width)
                     + f"\np = {node.branch_probability:.2g}")
    if node.order is not None:
        cost = "" if math.isnan(node.order.cost_usd) else f" (${node.order.cost_usd:,.0f})"
        lines.append(textwrap.fill(f"\u2192 {node.order.label}{cost}", width))
        return "\n".join(lines), ORDER_COLOR
    labels = {a.name: a.label for a in policy.decision_model.actions}
    acts = "; ".join(_short(labels[a], 40) for a in node.actions) or "no action"
    lines.append(textwrap.fill(f"STOP: {acts}", width))
    return "\n".join(lines), ACT_COLOR if node.actions else IDLE_COLOR


def _layout(policy, max_depth: int, max_branches: int, width: int):
    """Visible boxes (depth, y in text lines, text, colour, parent, node): every box gets a band
    as tall as itself or as everything right of it, whichever is taller, and sits in its middle."""
    rows = []

    def add(depth, node, parent, more=None):
        text, color = _label(policy, node, more, width)
        rows.append({"depth": depth, "node": node, "parent": parent, "text": text,
                     "color": color, "kids": [], "y": None})
        if parent >= 0:
            rows[parent]["kids"].append(len(rows) - 1)
        return len(rows) - 1

    def visit(node, parent):
        me = add(node.depth, node, parent)
        kids = list(node.children)
        if node.depth >= max_depth and kids:
            add(node.depth + 1, None, me, (len(kids), 1.0, True))
            return
        top = sorted(kids, key=lambda k: -k.branch_probability)[:max_branches]
        for child in kids:
            if child in top:
                visit(child, me)
        hidden = [k for k in kids if k not in top]
        if hidden:
            add(node.depth + 1, None, me,
                (len(hidden), sum(k.branch_probability for k in hidden), False))

    visit(policy.root, -1)
    spans: dict[int, float] = {}

    def span(i):  # rows of text a box and everything right of it need
        if i not in spans:
            own = rows[i]["text"].count("\n") + 2.2
            spans[i] = max(own, sum(span(k) for k in rows[i]["kids"]))
        return spans[i]

    def place(i, top):
        rows[i]["y"] = top + span(i) / 2
        start = top + (span(i) - sum(span(k) for k in rows[i]["kids"])) / 2
        for k in rows[i]["kids"]:
            place(k, start)
            start += span(k)

    place(0, 0.0)
    return rows, span(0)


def plot_policy(policy, ax=None, *, max_depth: int = 2, max_branches: int = 4, width: int = 30,
                box_kw=None, line_kw=None):
    """The testing policy as a tree, read left to right.

    Each box is one step: the result that led there (with its probability given the step
    before), then the next order (blue) or STOP with the actions taken (green; grey when no
    action pays). Line widths grow with the probability of reaching the step.

    Parameters
    ----------
    policy : Policy
        From :func:`bayesdx.plan`.
    ax : matplotlib.axes.Axes, optional
    max_depth : int, default 2
        Orders shown along a path; deeper steps are summarised in one box.
    max_branches : int, default 4
        Results shown under each order (the most probable); the rest are summarised.
    width : int, default 30
        Characters per line in a box.
    box_kw, line_kw : dict, optional
        Passed to the boxes (``bbox`` of ``ax.text``) and to ``ax.plot`` for the lines.

    Returns
    -------
    matplotlib.axes.Axes
        One text box per shown step (``gid`` ``"policy-node"``), the root first.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.plotting import plot_policy
    >>> net = bayesdx.load_network("fasciculation")
    >>> refer = bayesdx.DecisionModel(
    ...     [bayesdx.Action("refer", "als", ["present"], benefit=0.15, harm=0.005)],
    ...     usd_per_util=100_000)
    >>> policy = bayesdx.plan(net, evidence={"fasciculations_exam": "present"},
    ...                       orders=[bayesdx.Order("ck", ["ck"], label="CK", cost_usd=7)],
    ...                       decision_model=refer)
    >>> ax = plot_policy(policy)
    >>> sum(t.get_gid() == "policy-node" for t in ax.texts) == sum(1 for _ in policy.root.walk())
    True
    """
    for name, value in (("max_depth", max_depth), ("max_branches", max_branches), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"The '{name}' parameter of plot_policy must be an int >= 1; got "
                             f"{value!r} instead.")
    rows, lines = _layout(policy, max_depth, max_branches, width)
    depth = max(r["depth"] for r in rows)
    ax = _new_ax(ax, (min(0.085 * width * (depth + 1) + 0.6, 18.0), max(2.6, 0.135 * lines + 1.0)))
    step = 1.0
    for i, row in enumerate(rows):
        x, y = row["depth"] * step, row["y"]
        if row["parent"] >= 0:
            parent = rows[row["parent"]]
            reach = row["node"].probability if row["node"] is not None else 0.0
            px = parent["depth"] * step
            ax.plot([px + 0.5 * step, px + 0.5 * step, x - 0.04], [parent["y"], y, y],
                    **{"color": "#8a97a6", "linewidth": 0.6 + 3.0 * reach,
                       "solid_capstyle": "butt", "zorder": 1, **(line_kw or {})})
    for row in rows:
        box = {"boxstyle": "round,pad=0.3", "facecolor": row["color"], "edgecolor": "#5b6b7b",
               "linewidth": 0.6, **(box_kw or {})}
        ax.text(row["depth"] * step, row["y"], row["text"], ha="left", va="center",
                fontsize="x-small", bbox=box, zorder=3,
                gid="policy-node" if row["node"] is not None else "policy-more")
    ax.set_xlim(-0.05, (depth + 1) * step)
    ax.set_ylim(lines, 0.0)
    ax.set_axis_off()
    kind = ("exact optimal policy" if policy.optimal else f"{policy.horizon}-step look-ahead policy")
    ax.set_title(f"Testing policy ({kind}): expected utility {policy.expected_utility:.4g} "
                 f"{policy.unit}\nact now {policy.stop_utility:.4g}; expected cost "
                 f"${policy.expected_cost_usd:,.0f}; expected orders {policy.expected_tests:.2f}",
                 fontsize="medium", loc="left")
    return ax
