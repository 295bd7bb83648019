"""Teaching figures: posteriors, the test ranking, what-if, trajectories, the network, Fagan, and
the testing policy of :func:`bayesdx.plan`, and how sure an answer is (credible intervals, the
tornado of the numbers that move it, how often each order is on top, one-way sweeps).

Every ``plot_*`` function draws on one Matplotlib Axes and returns it. Pass ``ax=`` to draw into
your own figure; with ``ax=None`` a figure sized for the content is created. Style goes through
dicts (``bar_kw=``, ``line_kw=``, ...). Nothing here calls ``plt.show``, saves files or changes
``rcParams``, except :func:`write_teaching_figures`, whose job is to write PNG files.
Matplotlib is imported on first use, so ``import bayesdx`` stays cheap.

Targets are shown by label. Binary targets are shown as P(non-reference state), e.g. ``ALS / lower
motor neurone disease`` for P(als = present); multi-state targets show each non-reference state,
e.g. ``Thyroid disease: overt_hypo``. The reference state is the
first state, unless the target has a state named like ``absent``/``normal``/``no`` (so Hepar II's
``present``-first nodes are read the natural way).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["plot_posteriors", "plot_ranking", "plot_explanation", "plot_what_if", "plot_trajectory",
           "plot_network", "plot_fagan", "fagan_inputs", "FaganInputs", "plot_policy",
           "plot_uncertainty", "plot_tornado", "plot_stability", "plot_sweep",
           "write_teaching_figures"]

from ._plot_base import (  # noqa: F401 - re-exported colours
    KIND_COLORS,
    POST_COLOR,
    PRIOR_COLOR,
    ROLE_COLORS,
    _check_targets,
    _diagnoses_of,
    _new_ax,
    _rows,
    _set_title,
    _step_labels,
)
from ._plot_fagan import FaganInputs, fagan_inputs, plot_fagan
from ._plot_network import plot_network
from ._plot_orders import plot_explanation, plot_ranking
from ._plot_policy import plot_policy
from ._plot_uncertainty import plot_stability, plot_sweep, plot_tornado, plot_uncertainty

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
    'ALS / lower motor neurone disease'
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
    _set_title(ax, f"Diagnoses on {network.title}", diagnosis.evidence, network=network)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small", frameon=False)
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
        One bar container per outcome, labelled ``"Test label: outcome (p=...)"``.

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
                                                  "label": f"{network.label(test)}: {outcome} "
                                                           f"(p={p:.2f})",
                                                  **(bar_kw or {})})
    current = [float(diagnosis.marginal(t).iloc[i]) for _, t, i in rows]
    ax.scatter(current, y, marker="|", s=500, color="black", linewidths=2, zorder=3,
               label="now (before the test)")
    ax.set_yticks(y, [r[0] for r in rows])
    ax.set_xlim(0, 1)
    ax.set_xlabel("posterior probability")
    _set_title(ax, f"What if {network.label(test)} were observed?", diagnosis.evidence,
               network=network)
    longest = max(len(str(o)) for o in outcomes) + len(network.label(test))
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
    ax.set_xticks(x, [lab.replace(": ", ":\n", 1) if len(lab) > 16 else lab for lab in labels],
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
    _set_title(ax, "Posteriors as findings are added", diagnoses[0].evidence, "start: ",
               network=diagnoses[0].network)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return ax


# -- writer -------------------------------------------------------------------------------------
def _next_node(dx):
    """The first unobserved readout of the next order (a node), or None."""
    if dx.next_test is None:
        return None
    return dx.ranking["readouts"].iloc[0][0]


def _fagan_example(dx):
    """(target, outcome, FaganInputs) with the largest finite likelihood ratio of the next order's
    first unobserved readout, among targets whose disease probability lies between 1% and 99%."""
    node = _next_node(dx)
    if node is None:
        return None
    best = None
    for target in dx.network.targets:
        for outcome in dx.network.states(node):
            try:
                inputs = fagan_inputs(dx, node, outcome, target)
            except ValueError:
                continue
            lr = inputs.likelihood_ratio
            if 0.01 <= inputs.pre_test_probability <= 0.99 and 0 < lr < math.inf and (
                    best is None or lr > best[2].likelihood_ratio):
                best = (target, outcome, inputs)
    return best


def write_teaching_figures(network, evidence, directory, *, dpi=120) -> list[Path]:
    """Write the teaching figures for one case as PNG files.

    Files (in ``directory``, created if needed): ``posteriors.png``, ``ranking.png`` (orders by
    the network's default objective), ``explanation_<next order>.png``, ``what_if_<node>.png``
    (the next order's first unobserved readout), ``trajectory.png`` (when there is evidence: the
    findings added one at a time, in the order given), ``network.png`` and
    ``fagan_<node>_<target>.png`` (the outcome of that readout with the largest likelihood ratio
    for a target whose probability is between 1% and 99%).

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
    readout = _next_node(dx)
    if readout is not None:
        jobs.append((f"explanation_{dx.next_test}.png",
                     lambda ax: plot_explanation(dx, dx.next_test, ax)))
        jobs.append((f"what_if_{readout}.png", lambda ax: plot_what_if(dx, readout, ax)))
    if evidence:
        session = Session(network)
        for node, state in evidence.items():
            session.add(node, state)
        jobs.append(("trajectory.png", lambda ax: plot_trajectory(session, ax)))
    jobs.append(("network.png", lambda ax: plot_network(network, dx, ax)))
    example = _fagan_example(dx)
    if example is not None:
        target, outcome, inputs = example
        title = (f"Fagan nomogram\n{target} if {readout}={outcome}:\n"
                 f"{inputs.pre_test_probability:.1%} \u00d7 LR {inputs.likelihood_ratio:.3g} "
                 f"\u2192 {inputs.post_test_probability:.1%}")
        jobs.append((f"fagan_{readout}_{target}.png",
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
