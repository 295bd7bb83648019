"""Teaching figures: posteriors, the test ranking, what-if, trajectories, the network, Fagan.

Every ``plot_*`` function draws on one Matplotlib Axes and returns it. Pass ``ax=`` to draw into
your own figure; with ``ax=None`` a figure sized for the content is created. Style goes through
dicts (``bar_kw=``, ``line_kw=``, ...). Nothing here calls ``plt.show``, saves files or changes
``rcParams``, except :func:`write_teaching_figures`, whose job is to write PNG files.
Matplotlib is imported on first use, so ``import bayesdx`` stays cheap.

Binary targets are shown as P(non-reference state), e.g. P(als = present); multi-state targets
show each non-reference state, e.g. ``thyroid_disease: hypothyroid``. The reference state is the
first state, unless the target has a state named like ``absent``/``normal``/``no`` (so Hepar II's
``present``-first nodes are read the natural way).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["plot_posteriors", "plot_ranking", "plot_what_if", "plot_trajectory", "plot_network",
           "plot_fagan", "fagan_inputs", "FaganInputs", "write_teaching_figures"]

PRIOR_COLOR, POST_COLOR = "#b9c7d8", "#3572b0"
ROLE_COLORS = {"context": "#e4dcf0", "target": "#fbe0c8", "latent": "#e8e8e8",
               "finding": "#d6e8f5", "test": "#d6e8f5", "other": "#e8eee0"}
KIND_COLORS = {"history": "#b7a32f", "exam": "#d9822b", "lab": "#3a9b5c",
               "electrodiagnostic": "#3572b0", "imaging": "#c2444e", "pathology": "#8f5ab0"}


# -- helpers ------------------------------------------------------------------------------------
def _new_ax(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _reference_index(network, node: str) -> int:
    return network.states(node).index(network.reference_state(node))


def _evidence_text(evidence: Mapping[str, str], width: int = 80, prefix: str = "given ") -> str:
    text = ", ".join(f"{k}={v}" for k, v in evidence.items())
    return "\n".join(textwrap.wrap(prefix + text, width)) if text else prefix + "no evidence"


def _set_title(ax, head: str, evidence: Mapping[str, str], prefix: str = "given ", **kw):
    """Title with the evidence wrapped to the width of the Axes (about 12 characters an inch)."""
    width_in = ax.get_position().width * ax.figure.get_figwidth()
    text = _evidence_text(evidence, max(30, int(12 * width_in)), prefix)
    ax.set_title(f"{head}\n{text}", fontsize="medium", wrap=True, **kw)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _check_targets(network, targets):
    if targets is None:
        return list(network.targets)
    targets = [targets] if isinstance(targets, str) else list(targets)
    for t in targets:
        if t not in network.targets:
            network.check_node(t)
            raise ValueError(f"'{t}' is not a target of network '{network.name}'; "
                             f"targets: {', '.join(network.targets)}.")
    return targets


def _rows(network, targets):
    """(label, target, state index) for each non-reference state of each target."""
    return [(t if len(network.states(t)) == 2 else f"{t}: {state}", t, i)
            for t in targets for i, state in enumerate(network.states(t))
            if i != _reference_index(network, t)]


def _diagnoses_of(session_or_history):
    from .results import Diagnosis

    if hasattr(session_or_history, "diagnoses"):
        return list(session_or_history.diagnoses)
    items = list(session_or_history)
    if not items or not all(isinstance(d, Diagnosis) for d in items):
        raise TypeError("plot_trajectory takes a Session or a non-empty sequence of Diagnosis "
                        f"objects; got {type(session_or_history).__name__}.")
    return items


def _step_labels(diagnoses):
    labels = ["start"]
    for before, after in zip(diagnoses, diagnoses[1:]):
        new = [f"{k}={v}" for k, v in after.evidence.items() if before.evidence.get(k) != v]
        labels.append(", ".join(new) or "(same)")
    return labels


# -- posteriors ---------------------------------------------------------------------------------
def plot_posteriors(diagnosis, ax=None, *, targets=None, bar_kw=None, prior_kw=None):
    """Prior and posterior probability of each target, as horizontal bars.

    Parameters
    ----------
    diagnosis : Diagnosis
    ax : matplotlib.axes.Axes, optional
    targets : sequence of str, optional
        Targets to show (default: all, in network order).
    bar_kw, prior_kw : dict, optional
        Passed to ``ax.barh`` for the posterior and prior bars.

    Returns
    -------
    matplotlib.axes.Axes
        The bar containers are labelled ``"prior"`` and ``"posterior"``; one bar per row.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.plotting import plot_posteriors
    >>> dx = bayesdx.diagnose("fasciculation", evidence={"ck": "gt_1000"})
    >>> ax = plot_posteriors(dx)
    >>> ax.get_yticklabels()[0].get_text()
    'als'
    """
    network = diagnosis.network
    rows = _rows(network, _check_targets(network, targets))
    ax = _new_ax(ax, (7.5, 1.2 + 0.42 * len(rows)))
    y = np.arange(len(rows))[::-1].astype(float)
    prior = [float(diagnosis.prior(t).iloc[i]) for _, t, i in rows]
    post = [float(diagnosis.marginal(t).iloc[i]) for _, t, i in rows]
    h = 0.38
    ax.barh(y + h / 2, prior, h, **{"color": PRIOR_COLOR, "label": "prior", **(prior_kw or {})})
    bars = ax.barh(y - h / 2, post, h, **{"color": POST_COLOR, "label": "posterior", **(bar_kw or {})})
    ax.bar_label(bars, labels=[f"{p:.1%}" for p in post], padding=3, fontsize="small")
    ax.set_yticks(y, [r[0] for r in rows])
    ax.set_xlim(0, 1.12)
    ax.set_xticks(np.linspace(0, 1, 6))
    ax.set_xlabel("probability")
    _set_title(ax, f"Diagnoses on {network.name}", diagnosis.evidence)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


# -- ranking ------------------------------------------------------------------------------------
def plot_ranking(diagnosis, ax=None, *, top=10, bar_kw=None):
    """Information gain of the best unobserved tests, with their cost written beside each bar.

    Bars are coloured by the test's ``kind`` (lab, exam, ...) when the network gives one.

    Parameters
    ----------
    diagnosis : Diagnosis
    ax : matplotlib.axes.Axes, optional
    top : int, default 10
        How many tests to show, best first (at the top).
    bar_kw : dict, optional
        Passed to ``ax.barh``.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.plotting import plot_ranking
    >>> dx = bayesdx.diagnose("fasciculation", evidence={"ck": "gt_1000"})
    >>> ax = plot_ranking(dx, top=5)
    >>> [t.get_text() for t in ax.get_yticklabels()] == list(dx.ranking.index[:5])
    True
    """
    ranking = diagnosis.ranking.head(int(top))
    ax = _new_ax(ax, (7.5, 1.4 + 0.36 * max(len(ranking), 1)))
    _set_title(ax, "Next test by value of information", diagnosis.evidence)
    if not len(ranking):
        ax.text(0.5, 0.5, "every test is observed", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    y = np.arange(len(ranking))[::-1].astype(float)
    gains = ranking["info_gain_bits"].to_numpy(float)
    kinds = [k if isinstance(k, str) else None for k in ranking["kind"]]
    palette = {k: KIND_COLORS.get(k, "#6f7f8f") for k in sorted({k for k in kinds if k})}
    colors = [palette.get(k, POST_COLOR) for k in kinds]
    bars = ax.barh(y, gains, 0.7, **{"color": colors, **(bar_kw or {})})
    labels = []
    for g, c in zip(gains, ranking["cost_usd"].to_numpy(float)):
        labels.append(f"{g:.3f} bits" + ("" if math.isnan(c) else f"  ${c:,.0f}"))
    ax.bar_label(bars, labels=labels, padding=3, fontsize="small")
    ax.set_yticks(y, list(ranking.index))
    ax.set_xlim(0, max(gains.max(), 1e-9) * 1.45)
    ax.set_xlabel("expected information gain about the targets (bits)")
    if palette:
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=c, label=k) for k, c in palette.items()],
                  loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", title="kind",
                  title_fontsize="small", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


# -- what if ------------------------------------------------------------------------------------
def plot_what_if(diagnosis, test, ax=None, *, targets=None, bar_kw=None):
    """Each target's posterior under each possible outcome of one test.

    One group of bars per outcome (legend: the outcome and its probability), with the current
    posterior drawn as a black tick for reference.

    Parameters
    ----------
    diagnosis : Diagnosis
    test : str
        An unobserved node (usually a test).
    ax : matplotlib.axes.Axes, optional
    targets : sequence of str, optional
        Targets to show (default: all).
    bar_kw : dict, optional
        Passed to ``ax.barh`` for every outcome.

    Returns
    -------
    matplotlib.axes.Axes
        One bar container per outcome, labelled ``"test=outcome (p=...)"``.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.plotting import plot_what_if
    >>> dx = bayesdx.diagnose("fasciculation")
    >>> ax = plot_what_if(dx, "ck")
    >>> len(ax.containers)
    3
    """
    network = diagnosis.network
    if test in diagnosis.evidence:
        raise ValueError(f"'{test}' is already observed ({test}={diagnosis.evidence[test]}); "
                         "what-if needs an unobserved node.")
    rows = _rows(network, _check_targets(network, targets))
    table = diagnosis.what_if(test)
    outcomes = list(dict.fromkeys(table["outcome"]))
    ax = _new_ax(ax, (7.5, 1.6 + len(rows) * (0.22 * len(outcomes) + 0.25)))
    y = np.arange(len(rows))[::-1].astype(float)
    h = 0.8 / len(outcomes)
    cmap = ["#3a9b5c", "#d9822b", "#c2444e", "#8f5ab0", "#3572b0", "#b7a32f", "#6f7f8f"]
    for k, outcome in enumerate(outcomes):
        sub = table[table["outcome"] == outcome].set_index(["target", "state"])["posterior"]
        p = float(table.loc[table["outcome"] == outcome, "p_outcome"].iloc[0])
        values = [float(sub[(t, network.states(t)[i])]) for _, t, i in rows]
        offset = 0.4 - h * (k + 0.5)
        ax.barh(y + offset, values, h * 0.92, **{"color": cmap[k % len(cmap)],
                                                  "label": f"{test}={outcome} (p={p:.2f})",
                                                  **(bar_kw or {})})
    current = [float(diagnosis.marginal(t).iloc[i]) for _, t, i in rows]
    ax.scatter(current, y, marker="|", s=500, color="black", linewidths=2, zorder=3,
               label="now (before the test)")
    ax.set_yticks(y, [r[0] for r in rows])
    ax.set_xlim(0, 1)
    ax.set_xlabel("posterior probability")
    _set_title(ax, f"What if {test} were observed?", diagnosis.evidence)
    longest = max(len(str(o)) for o in outcomes) + len(test)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 if len(rows) > 3 else -0.25),
              ncol=2 if longest < 24 else 1, fontsize="small", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


# -- trajectory ---------------------------------------------------------------------------------
def plot_trajectory(session_or_history, ax=None, *, targets=None, yscale="linear", line_kw=None):
    """Each target's posterior after each step of a sequence of findings.

    Parameters
    ----------
    session_or_history : Session or sequence of Diagnosis
        A :class:`~bayesdx.session.Session` (its :attr:`~Session.diagnoses`), or diagnoses in order.
        The x axis is labelled by the finding(s) each step added.
    ax : matplotlib.axes.Axes, optional
    targets : sequence of str, optional
        Targets to show (default: all).
    yscale : {"linear", "logit"}, default "linear"
        ``"logit"`` spreads out small and large probabilities (a likelihood ratio is then a
        constant step).
    line_kw : dict, optional
        Passed to ``ax.plot`` for every line.

    Returns
    -------
    matplotlib.axes.Axes
        One line per target (per non-reference state), one point per step.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.session import Session
    >>> from bayesdx.plotting import plot_trajectory
    >>> s = Session("fasciculation")
    >>> _ = s.add("fasciculations_exam", "present")
    >>> ax = plot_trajectory(s)
    >>> len(ax.lines[0].get_xdata())
    2
    """
    diagnoses = _diagnoses_of(session_or_history)
    network = diagnoses[0].network
    rows = _rows(network, _check_targets(network, targets))
    labels = _step_labels(diagnoses)
    if yscale not in ("linear", "logit"):
        raise ValueError(f"yscale must be 'linear' or 'logit'; got {yscale!r}.")
    ax = _new_ax(ax, (min(12.0, max(6.5, 0.9 * len(labels) + 4.0)), 4.8))
    x = np.arange(len(diagnoses))
    for label, t, i in rows:
        values = [float(d.marginal(t).iloc[i]) for d in diagnoses]
        ax.plot(x, values, **{"marker": "o", "label": label, **(line_kw or {})})
    ax.set_xticks(x, [lab.replace("=", "=\n", 1) if len(lab) > 16 else lab for lab in labels],
                  rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center",
                  fontsize="small")
    if yscale == "logit":
        from matplotlib.ticker import FuncFormatter, NullFormatter

        ax.set_yscale("logit", nonpositive="clip")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.6g}%"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("posterior probability")
    ax.set_xlabel("finding added")
    _set_title(ax, "Posteriors as findings are added", diagnoses[0].evidence, "start: ")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


# -- network ------------------------------------------------------------------------------------
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


# -- Fagan nomogram -----------------------------------------------------------------------------
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


# -- writer -------------------------------------------------------------------------------------
def _fagan_example(dx):
    """(target, outcome, FaganInputs) with the largest finite likelihood ratio of the next test,
    among targets whose disease probability lies between 1% and 99%."""
    if dx.next_test is None:
        return None
    best = None
    for target in dx.network.targets:
        for outcome in dx.network.states(dx.next_test):
            try:
                inputs = fagan_inputs(dx, dx.next_test, outcome, target)
            except ValueError:
                continue
            lr = inputs.likelihood_ratio
            if 0.01 <= inputs.pre_test_probability <= 0.99 and 0 < lr < math.inf and (
                    best is None or lr > best[2].likelihood_ratio):
                best = (target, outcome, inputs)
    return best


def write_teaching_figures(network, evidence, directory, *, dpi=120) -> list[Path]:
    """Write the teaching figures for one case as PNG files.

    Files (in ``directory``, created if needed): ``posteriors.png``, ``ranking.png``,
    ``what_if_<next test>.png``, ``trajectory.png`` (when there is evidence: the findings added
    one at a time, in the order given), ``network.png`` and ``fagan_<test>_<target>.png`` (the
    outcome of the next test with the largest likelihood ratio for a target whose probability
    is between 1% and 99%).

    Parameters
    ----------
    network : Network or str
    evidence : mapping of str to str or None
    directory : str or os.PathLike
    dpi : int, default 120

    Returns
    -------
    list of pathlib.Path
        The files written, in the order above.
    """
    import matplotlib.pyplot as plt

    from .results import diagnose
    from .session import Session

    if not hasattr(network, "nodes"):
        from .io import load_network

        network = load_network(network)
    evidence = dict(evidence or {})
    dx = diagnose(network, evidence=evidence)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    jobs = [("posteriors.png", lambda ax: plot_posteriors(dx, ax))]
    jobs.append(("ranking.png", lambda ax: plot_ranking(dx, ax)))
    if dx.next_test is not None:
        jobs.append((f"what_if_{dx.next_test}.png", lambda ax: plot_what_if(dx, dx.next_test, ax)))
    if evidence:
        session = Session(network)
        for node, state in evidence.items():
            session.add(node, state)
        jobs.append(("trajectory.png", lambda ax: plot_trajectory(session, ax)))
    jobs.append(("network.png", lambda ax: plot_network(network, dx, ax)))
    example = _fagan_example(dx)
    if example is not None:
        target, outcome, inputs = example
        title = (f"Fagan nomogram\n{target} if {dx.next_test}={outcome}:\n"
                 f"{inputs.pre_test_probability:.1%} \u00d7 LR {inputs.likelihood_ratio:.3g} "
                 f"\u2192 {inputs.post_test_probability:.1%}")
        jobs.append((f"fagan_{dx.next_test}_{target}.png",
                     lambda ax: plot_fagan(inputs[0], inputs[1], ax, title=title)))
    written = []
    for name, draw in jobs:
        ax = draw(None)
        fig = ax.figure
        try:
            path = directory / name
            fig.savefig(path, dpi=dpi)
            written.append(path)
        finally:
            plt.close(fig)
    return written
