"""The network figure: a left-to-right layered drawing (context, diseases, latent causes,
findings), labels wrapped in the boxes, belief bars inside them, and a disease-centred view of
large networks (private; use :func:`bayesdx.plotting.plot_network`)."""

from __future__ import annotations

import math
import textwrap

import numpy as np

from ._plot_base import POST_COLOR, ROLE_COLORS, _new_ax, _set_title

#: Networks with more nodes are drawn as their targets and the targets' neighbours.
MAX_NODES = 64
#: A node with more states shows its most probable ones and a line for the rest.
MAX_STATES = 10
FONT_PT = 9.0  # the smallest text in the figure
CHAR_IN = 0.075  # width of an average character at 9 pt, inches
LINE_IN = 0.17  # one line of text at 9 pt, inches
GAP_IN = 0.95  # between columns, room for the edges
EDGE_COLORS = ["#c2444e", "#3572b0", "#3a9b5c", "#d9822b", "#8f5ab0", "#b7a32f", "#2a9d9d",
               "#a0522d", "#6f7f8f"]


def _shown_nodes(network, max_nodes: int, observed=()):
    """The nodes drawn, and a note of those left out (None when all are drawn): all when few
    enough, else the targets with their parents, children and the observed nodes (then the
    children's other parents too while under ``max_nodes``)."""
    nodes = list(network.nodes)
    if len(nodes) <= max_nodes:
        return nodes, None
    targets = list(network.targets)
    children = {n: [] for n in nodes}
    for n in nodes:
        for p in network.parents(n):
            children[p].append(n)
    keep = set(targets) | set(observed)
    for t in targets:
        keep.update(network.parents(t))
        keep.update(children[t])
    spouses = {p for t in targets for c in children[t] for p in network.parents(c)} - keep
    if len(keep) + len(spouses) <= max_nodes:
        keep |= spouses
    cut = ""
    if len(keep) > max_nodes:  # too many neighbours too: the first ones, in network order
        first = set(targets) | set(observed)
        first |= {p for t in targets for p in network.parents(t)}
        rest = [n for n in nodes if n in keep and n not in first]
        room = max(max_nodes - len(first), 0)
        keep = first | set(rest[:room])
        cut = f" (the first {room} of {len(rest)} neighbours)" if rest[room:] else ""
    shown = [n for n in nodes if n in keep]
    left = len(nodes) - len(shown)
    note = (f"Disease-centred view: the {len(targets)} target(s) and their parents, children"
            f"{', co-parents' if spouses and spouses <= keep else ''}"
            f"{' and observed nodes' if observed else ''}{cut}; {left} of {len(nodes)} "
            f"nodes left out (plot_network(..., max_nodes={len(nodes)}) draws them all).")
    return shown, note


def _layers(network, shown):
    """Column of each node: by role when the file gives roles (context, targets, latent,
    findings); otherwise the longest path from a root among the drawn nodes, the targets no
    further left than their drawn parents allow."""
    if network.spec is not None:
        roles = [r for r in ("context", "target", "latent", "finding")
                 if any(network.role(n) == r for n in shown)]
        return {n: roles.index(network.role(n)) for n in shown}
    kept = set(shown)
    col: dict[str, int] = {}
    for n in _topological(network, shown):
        col[n] = max((col[p] + 1 for p in network.parents(n) if p in kept), default=0)
    return col


def _topological(network, shown):
    import networkx as nx

    kept = set(shown)
    graph = nx.DiGraph((p, n) for n in shown for p in network.parents(n) if p in kept)
    graph.add_nodes_from(shown)
    order = {n: i for i, n in enumerate(shown)}
    return list(nx.lexicographical_topological_sort(graph, key=order.get))


def _order(network, shown, layer, sweeps: int = 4):
    """Nodes of each layer ordered top to bottom by the mean position of their neighbours in the
    layers beside them (a few barycentre sweeps, down and up)."""
    kept = set(shown)
    n_layers = max(layer.values()) + 1
    rows = [[n for n in shown if layer[n] == k] for k in range(n_layers)]
    pos = {n: (i + 0.5) / len(row) for row in rows for i, n in enumerate(row)}
    children = {n: [] for n in shown}
    for n in shown:
        for p in network.parents(n):
            if p in kept:
                children[p].append(n)

    def resort(k, neighbours):
        def key(n):
            xs = [pos[m] for m in neighbours(n)]
            return (float(np.mean(xs)) if xs else pos[n], rows[k].index(n))
        rows[k] = sorted(rows[k], key=key)
        pos.update((n, (i + 0.5) / len(rows[k])) for i, n in enumerate(rows[k]))

    for _ in range(sweeps):
        for k in range(1, n_layers):
            resort(k, lambda n: [p for p in network.parents(n) if p in kept])
        for k in range(n_layers - 2, -1, -1):
            resort(k, lambda n: children[n])
    return rows


def _edge_path(p, n, xs, ys, grid, box_w, sub_gap, slot: int = 0, between=()):
    """The edge from ``p`` to ``n`` as a polyline that runs between boxes: out of ``p``'s right
    side (along the channel between its rows to the right edge of its layer when it is not in
    the last sub-column), through each layer ``between`` along the channel nearest its course,
    along the channel beside ``n``'s row to the gap left of ``n``'s sub-column, and into ``n``'s
    left side. ``slot`` spreads edges that share a channel."""
    from matplotlib.path import Path

    cp, kp, rp, stepp, _, rightp = grid[p]
    cn, kn, rn, stepn, leftn, _ = grid[n]
    verts = [(xs[p] + box_w / 2, ys[p])]
    if cp < kp - 1:  # leave p's layer along the channel nearest n
        below = ys[n] < ys[p]
        y = -(rp + (1 if below else 0)) * stepp + slot * 0.02
        verts += [(xs[p] + box_w / 2 + sub_gap / 2, y), (rightp + 0.15, y)]
    for step, rows, left, right, boxes in between:  # through each layer between
        x0, y0 = verts[-1]
        t = (left - x0) / max(xs[n] - box_w / 2 - x0, 1e-9)
        want = y0 + t * (ys[n] - y0) + slot * 0.02
        if boxes is not None:  # one column: keep the course unless a box is in the way
            hit = next(((lo, hi) for lo, hi in boxes if lo - 0.06 < want < hi + 0.06), None)
            y = want if hit is None else (hit[1] + 0.1 if want > (hit[0] + hit[1]) / 2
                                          else hit[0] - 0.1)
        else:  # a grid: along the channel between rows nearest the course
            r = min(max(round(-want / step), 0), rows)
            y = -r * step + slot * 0.02
        verts += [(left - 0.15, y), (right + 0.15, y)]
    if cn > 0:  # reach n along the channel on the side of the edge's origin
        above = verts[-1][1] > ys[n]
        y = -(rn + (0 if above else 1)) * stepn + slot * 0.02
        verts += [(leftn - 0.15, y), (xs[n] - box_w / 2 - sub_gap / 2, y)]
    verts.append((xs[n] - box_w / 2, ys[n]))
    return Path(verts, [Path.MOVETO] + [Path.LINETO] * (len(verts) - 1))


def _wrap(text: str, chars: int) -> list[str]:
    return textwrap.wrap(text, chars, break_long_words=True, break_on_hyphens=False) or [text]


def plot_network(network, diagnosis=None, ax=None, *, max_nodes: int = MAX_NODES,
                 per_column: int | None = None, node_kw=None, edge_kw=None, font_size=None):
    """The network drawn left to right in layers, each node a box with its label, and with a
    diagnosis a belief bar per state inside it.

    Columns follow the arrows: context, then the diseases (targets), then what they cause
    (latent nodes, findings); a long column is split into sub-columns of aligned rows. Edges
    run along the channels between rows and the gaps between columns, so that they pass under
    no box (edges inside one column bend round its left side). Labels are wrapped, never cut;
    all text is at least 9 pt at the default size. Edges leaving a disease take that disease's
    colour so they can be followed. Observed
    nodes are outlined in black and shaded yellow. A network of more than ``max_nodes`` nodes is
    drawn as its targets and their neighbours, with a note of what was left out.

    Parameters
    ----------
    network : Network
    diagnosis : Diagnosis, optional
        Beliefs to draw; must be a diagnosis on ``network``.
    ax : matplotlib.axes.Axes, optional
        With ``ax=None`` the figure is sized so that text is at least 9 pt.
    max_nodes : int, default 64
        Larger networks are drawn disease-centred.
    per_column : int, optional
        Most boxes in one sub-column (default: what makes the drawing about 1.6 times as wide
        as it is tall).
    node_kw, edge_kw : dict, optional
        Passed to the node boxes (``FancyBboxPatch``) and edges (``FancyArrowPatch``).
    font_size : float, optional
        Font size of labels in points (default and least 9).

    Returns
    -------
    matplotlib.axes.Axes
        Each node box has ``gid`` ``"node:<name>"``, or ``"observed:<name>"`` when observed;
        each edge ``"edge:<parent>><child>"``.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.plotting import plot_network
    >>> net = bayesdx.load_network("fasciculation")
    >>> ax = plot_network(net, bayesdx.diagnose(net, evidence={"ck": "gt_1000"}))
    >>> gids = [p.get_gid() for p in ax.patches if (p.get_gid() or "").startswith(("node", "obs"))]
    >>> len(gids) == len(net.nodes), "observed:ck" in gids
    (True, True)
    >>> min(t.get_fontsize() for t in ax.texts) >= 9
    True
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

    from .exceptions import _check_count

    if diagnosis is not None and diagnosis.network.nodes != network.nodes:
        raise ValueError("The diagnosis was computed on another network.")
    max_nodes = _check_count(max_nodes, "max_nodes", "plot_network")
    shown, note = _shown_nodes(network, max_nodes, diagnosis.evidence if diagnosis else ())
    layer = _layers(network, shown)
    rows = _order(network, shown, layer)
    fs = max(float(font_size or FONT_PT), FONT_PT)
    scale = fs / FONT_PT
    char_in, line_in = CHAR_IN * scale, LINE_IN * scale
    beliefs = diagnosis is not None
    # characters a line: 22, or the longest word of a label (words are never broken)
    chars = max([22] + [len(w) for n in shown for w in network.label(n).split()])
    chars = min(chars, 34)
    labels = {n: _wrap(network.label(n), chars) for n in shown}
    observed = dict(diagnosis.evidence) if beliefs else {}

    def lines(n):  # the states drawn: all, or the most probable and a line for the rest
        states = list(zip(network.states(n), diagnosis.marginal(n).to_numpy(float)))
        if len(states) <= MAX_STATES:
            return states
        top = sorted(states, key=lambda sp: -sp[1])[:MAX_STATES - 1]
        rest = 1.0 - sum(p for _, p in top)
        return top + [(f"{len(states) - len(top)} more states", rest)]

    state_lines = {n: lines(n) for n in shown} if beliefs else {}
    longest_state = max(len(s) for n in shown for s, _ in state_lines[n]) if beliefs else 0
    box_w = max(chars * char_in, (min(longest_state, 40) + 5) * char_in) + 0.16

    def height(n):
        return line_in * (len(labels[n]) + len(state_lines.get(n, ()))) + 0.12

    pitch = max(height(n) for n in shown) + 0.3
    sub_gap = GAP_IN * 0.6

    def layout(per_col):
        # each layer: k staggered sub-columns; node i of the layer in sub-column i % k, slot i
        spans = [(row, max(1, math.ceil(len(row) / per_col))) for row in rows]
        total_h = max(math.ceil(len(row) / k) * pitch for row, k in spans)
        total_w = sum(k * box_w + (k - 1) * sub_gap for _, k in spans) + GAP_IN * (len(rows) - 1)
        return spans, total_w, total_h

    if per_column is not None:
        per_col = _check_count(per_column, "per_column", "plot_network")
    else:  # the sub-column height that makes the drawing about 1.6 times as wide as tall
        per_col = min(range(4, max(5, max(map(len, rows)) + 1)),
                      key=lambda m: abs(math.log(layout(m)[1] / layout(m)[2] / 1.6)))
    spans, total_w, total_h = layout(per_col)
    xs, ys, x = {}, {}, 0.0
    grid = {}  # node -> (sub-column, sub-columns, row, row step, layer's left x, right x)
    bands = []  # per layer: (row step, rows, left x, right x)
    for row, k in spans:
        right = x + k * box_w + (k - 1) * sub_gap
        # one column is spread over the full height; several are a grid of aligned rows, so
        # that edges can run along the channels between the rows
        step = total_h / (len(row) if k == 1 else math.ceil(len(row) / k))
        for i, n in enumerate(row):
            r, c = divmod(i, k)
            xs[n], ys[n] = x + c * (box_w + sub_gap) + box_w / 2, -(r + 0.5) * step
            grid[n] = (c, k, r, step, x, right)
        spans_y = [(ys[n] - height(n) / 2, ys[n] + height(n) / 2) for n in row] if k == 1 else None
        bands.append((step, math.ceil(len(row) / k), x, right, spans_y))
        x = right + GAP_IN
    ax = _new_ax(ax, (total_w + 0.4, total_h + 1.4 + (0.3 if note else 0)))
    boxes = {}
    for n in shown:
        is_obs = n in observed
        h, cx, cy = height(n), xs[n], ys[n]
        left, top = cx - box_w / 2, cy + h / 2
        style = {"facecolor": "#fff3b0" if is_obs else ROLE_COLORS.get(
                     network.role(n) if network.spec is not None or n not in network.targets
                     else "target", "#eee"),
                 "edgecolor": "black" if is_obs else "#7a7a7a", "linewidth": 2.0 if is_obs else 0.6,
                 "zorder": 2, **(node_kw or {})}
        if network.spec is None and n in network.targets and not is_obs:
            style["facecolor"] = ROLE_COLORS["target"]
        box = FancyBboxPatch((left, top - h), box_w, h, boxstyle="round,pad=0.02", **style)
        box.set_gid(("observed:" if is_obs else "node:") + n)
        boxes[n] = ax.add_patch(box)
        ax.text(cx, top - 0.05, "\n".join(labels[n]), ha="center", va="top", fontsize=fs,
                zorder=4, linespacing=1.05,
                fontweight="bold" if n in network.targets else "normal")
        if not beliefs:
            continue
        y0 = top - 0.07 - line_in * len(labels[n])
        for j, (state, p) in enumerate(state_lines[n]):
            yk = y0 - line_in * (j + 0.5)
            ax.add_patch(FancyBboxPatch((left + 0.05, yk - line_in * 0.42), (box_w - 0.1) * p,
                                        line_in * 0.84, boxstyle="square,pad=0", linewidth=0,
                                        zorder=3, alpha=0.45,
                                        facecolor="#c2444e" if is_obs else POST_COLOR))
            ax.text(left + 0.08, yk, state, ha="left", va="center", fontsize=fs, zorder=4)
            ax.text(left + box_w - 0.06, yk, f"{p:.0%}" if p >= 0.01 or p == 0 else "<1%",
                    ha="right", va="center", fontsize=fs, zorder=4)
    colour = {t: EDGE_COLORS[i % len(EDGE_COLORS)] for i, t in enumerate(
        t for t in network.targets if t in boxes)}
    kept, index = set(shown), {n: i for i, n in enumerate(shown)}
    for n in shown:
        for p in network.parents(n):
            if p not in kept:
                continue
            style = {"arrowstyle": "-|>", "mutation_scale": 8, "color": colour.get(p, "#8a8a8a"),
                     "linewidth": 0.9 if p in colour else 0.6, "alpha": 0.75, "zorder": 1,
                     "shrinkA": 2, "shrinkB": 2, **(edge_kw or {})}
            if layer[n] == layer[p]:  # inside one column: bend round its left side
                ax.add_patch(FancyArrowPatch((xs[p] - box_w / 2, ys[p]), (xs[n] - box_w / 2, ys[n]),
                                             connectionstyle="arc3,rad=0.4", gid=f"edge:{p}>{n}",
                                             **style))
                continue
            path = _edge_path(p, n, xs, ys, grid, box_w, sub_gap, slot=index[p] % 5 - 2,
                              between=[bands[k] for k in range(layer[p] + 1, layer[n])])
            ax.add_patch(FancyArrowPatch(path=path, gid=f"edge:{p}>{n}", **{
                k: v for k, v in style.items() if k not in ("shrinkA", "shrinkB")}))
    ax.set_xlim(-0.1, total_w + 0.1)
    ax.set_ylim(-total_h - 0.1, 0.1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    roles = list(dict.fromkeys(
        (network.role(n) if network.spec is not None else ("target" if n in network.targets
                                                           else "other")) for n in shown))
    handles = [Patch(facecolor=ROLE_COLORS.get(r, "#eee"), edgecolor="#7a7a7a", label=r)
               for r in roles]
    if observed:
        handles.append(Patch(facecolor="#fff3b0", edgecolor="black", linewidth=2, label="observed"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles),
              fontsize=fs, frameon=False)
    head = f"{network.title}: {len(network.nodes)} nodes"
    if diagnosis is not None:
        _set_title(ax, head, diagnosis.evidence, network=network, pad=24)
    else:
        ax.set_title(head, fontsize="medium", pad=24)
    if note:
        ax.text(0.0, -0.01, note, transform=ax.transAxes, ha="left", va="top", fontsize=fs,
                wrap=True, gid="left-out-note")
    return ax
