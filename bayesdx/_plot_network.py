"""The network figure: nodes in layers by role, belief bars inside the boxes (private; use
:func:`bayesdx.plotting.plot_network`)."""

from __future__ import annotations

import numpy as np

from ._plot_base import POST_COLOR, ROLE_COLORS, _new_ax, _set_title, _short

COL_IN, BOX_W_IN, LINE_IN = 1.7, 1.45, 0.13  # column width, box width, one belief line (inches)


def _layers(network):
    import networkx as nx

    graph = nx.DiGraph((p, n) for n in network.nodes for p in network.parents(n))
    graph.add_nodes_from(network.nodes)
    if network.spec is not None:
        order = ("context", "target", "latent", "finding")
        layers = [[n for n in network.nodes if network.role(n) == r] for r in order]
    else:
        above = set().union(*(nx.ancestors(graph, t) for t in network.targets)) - set(network.targets)
        layers = [[n for n in network.nodes if n in above], list(network.targets),
                  [n for n in network.nodes if n not in above and n not in network.targets]]
    return graph, [layer for layer in layers if layer]


def _columns(graph, layers, per_row):
    """Row and column of each node. A layer wraps onto rows of ``per_row``, nodes nearer the
    layer above first (by their depth inside the layer); a few barycentre sweeps order each row
    by the mean column of its neighbours."""
    import networkx as nx

    depth = {}
    for layer in layers:
        sub = graph.subgraph(layer)
        for gen, nodes in enumerate(nx.topological_generations(sub)):
            depth.update((n, gen) for n in nodes)
    col: dict[str, float] = {}
    for _ in range(3):
        placed, rows = {}, []
        for layer in layers:
            def key(n):
                xs = [(placed if m in placed else col)[m] for m in
                      (*graph.predecessors(n), *graph.successors(n)) if m in placed or m in col]
                return (np.mean(xs) if xs else per_row / 2, layer.index(n))

            ordered = sorted(layer, key=lambda n: (depth[n], key(n)))
            for start in range(0, len(ordered), per_row):
                chunk = sorted(ordered[start:start + per_row], key=key)
                offset = (per_row - len(chunk)) / 2
                placed.update((n, offset + j + 0.5) for j, n in enumerate(chunk))
                rows.append(chunk)
        col = placed
    return col, rows


def plot_network(network, diagnosis=None, ax=None, *, per_row=None, node_kw=None, edge_kw=None,
                 font_size=None):
    """The network drawn in layers by role, with belief bars inside the nodes.

    Layers: context, targets, latent, findings for bayesdx YAML networks; ancestors of the
    targets, targets, the rest for foreign networks. Long layers wrap onto several rows. With a
    diagnosis, each node box shows a bar per state (its posterior), and observed nodes are
    outlined in black and shaded yellow.

    Parameters
    ----------
    network : Network
    diagnosis : Diagnosis, optional
        Beliefs to draw; must be a diagnosis on ``network``.
    ax : matplotlib.axes.Axes, optional
        With ``ax=None`` the figure is sized by the number of nodes (about 1.7 inches per column).
    per_row : int, optional
        Most nodes per row (default: 8, or 10 for networks over 60 nodes).
    node_kw, edge_kw : dict, optional
        Passed to the node boxes (``FancyBboxPatch``) and edges (``FancyArrowPatch``).
    font_size : float, optional
        Font size of node names in points (default 7.5); state labels are one point smaller.

    Returns
    -------
    matplotlib.axes.Axes
        Each node box has ``gid`` ``"node:<name>"``, or ``"observed:<name>"`` when observed.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.plotting import plot_network
    >>> net = bayesdx.load_network("fasciculation")
    >>> ax = plot_network(net, bayesdx.diagnose(net, evidence={"ck": "gt_1000"}))
    >>> gids = [p.get_gid() for p in ax.patches if p.get_gid()]
    >>> len(gids) == len(net.nodes), "observed:ck" in gids
    (True, True)
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

    if diagnosis is not None and diagnosis.network.nodes != network.nodes:
        raise ValueError("The diagnosis was computed on another network.")
    graph, layers = _layers(network)
    per_row = int(per_row or min(10 if len(network.nodes) > 60 else 8, max(map(len, layers))))
    col, rows = _columns(graph, layers, per_row)
    fs = float(font_size or 7.5)

    def height(n):
        return 0.22 + LINE_IN * len(network.states(n)) if diagnosis is not None else 0.3

    # geometry in inches: x = column * COL_IN, rows stacked downwards from y = 0
    pos, tops, y, layer_of = {}, {}, 0.0, {n: i for i, layer in enumerate(layers) for n in layer}
    for r, row in enumerate(rows):
        if r and layer_of[row[0]] != layer_of[rows[r - 1][0]]:
            y -= 0.25
        for n in row:
            pos[n], tops[n] = (col[n] * COL_IN, y - height(n) / 2), y
        y -= max(map(height, row)) + 0.45
    total_h = -y - 0.45
    ax = _new_ax(ax, (per_row * COL_IN + 0.3, total_h + 1.3))
    observed = dict(diagnosis.evidence) if diagnosis is not None else {}
    boxes = {}
    for n, (x, yc) in pos.items():
        is_obs, left, top = n in observed, x - BOX_W_IN / 2, tops[n]
        style = {"facecolor": "#fff3b0" if is_obs else ROLE_COLORS.get(network.role(n), "#eee"),
                 "edgecolor": "black" if is_obs else "#7a7a7a", "linewidth": 2.0 if is_obs else 0.6,
                 "zorder": 2, **(node_kw or {})}
        box = FancyBboxPatch((left, top - height(n)), BOX_W_IN, height(n),
                             boxstyle="round,pad=0.02", **style)
        box.set_gid(("observed:" if is_obs else "node:") + n)
        boxes[n] = ax.add_patch(box)
        ax.text(x, top - 0.03, _short(n, 22), ha="center", va="top", fontsize=fs, zorder=4,
                fontweight="bold" if network.role(n) == "target" else "normal")
        if diagnosis is None:
            continue
        for k, (state, p) in enumerate(zip(network.states(n), diagnosis.marginal(n).to_numpy(float))):
            yk = top - 0.22 - LINE_IN * (k + 0.5) + 0.02
            ax.text(left + 0.58, yk, _short(state, 10), ha="right", va="center",
                    fontsize=fs - 1, zorder=4)
            ax.add_patch(FancyBboxPatch((left + 0.62, yk - 0.04), 0.5 * p, 0.08,
                                        boxstyle="square,pad=0", linewidth=0, zorder=3,
                                        facecolor="#c2444e" if is_obs else POST_COLOR))
            ax.text(left + 1.41, yk, f"{p:.0%}" if p >= 0.01 or p == 0 else "<1%", ha="right",
                    va="center", fontsize=fs - 1, zorder=4)
    for n in network.nodes:
        for p in network.parents(n):
            ax.add_patch(FancyArrowPatch(pos[p], pos[n], patchA=boxes[p], patchB=boxes[n],
                                         **{"arrowstyle": "-|>", "mutation_scale": 7,
                                            "color": "#8a8a8a", "linewidth": 0.5, "alpha": 0.7,
                                            "zorder": 1, "shrinkA": 1, "shrinkB": 1,
                                            **(edge_kw or {})}))
    ax.set_xlim(0, per_row * COL_IN)
    ax.set_ylim(-total_h - 0.05, 0.05)
    ax.set_aspect("equal")
    ax.set_axis_off()
    roles = list(dict.fromkeys(network.role(n) for layer in layers for n in layer))
    handles = [Patch(facecolor=ROLE_COLORS.get(r, "#eee"), edgecolor="#7a7a7a", label=r) for r in roles]
    if observed:
        handles.append(Patch(facecolor="#fff3b0", edgecolor="black", linewidth=2, label="observed"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles),
              fontsize="small", frameon=False)
    head = f"{network.name}: {len(network.nodes)} nodes"
    if diagnosis is not None:
        _set_title(ax, head, diagnosis.evidence, pad=22)
    else:
        ax.set_title(head, fontsize="medium", pad=22)
    return ax
