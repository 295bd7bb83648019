"""Figures of an :class:`~bayesdx.evaluate.Evaluation`: reliability, top-k and accuracy against
cost (private; reached through the Evaluation's ``plot_*`` methods)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._plot_base import _new_ax, _short
from .exceptions import InvalidParameterError, UnknownNodeError


def plot_reliability(evaluation, targets: Sequence[str] | None = None, *, ax=None):
    ax = _new_ax(ax, (5.5, 5))
    if targets is None:
        targets = evaluation.targets
    elif isinstance(targets, str):
        targets = [targets]
    for target in targets:
        if target not in evaluation.targets:
            raise UnknownNodeError(target, evaluation.targets,
                                   network=f"{evaluation.network.name} (evaluated)")
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfect calibration")
    for target in targets:
        table = evaluation.reliability(target)
        shown = table[table["count"] > 0]
        ax.plot(shown["mean_predicted"], shown["observed"], marker="o", markersize=4,
                label=_short(evaluation.network.label(target), 40))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability (bin mean)")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"Reliability, {evaluation.n_cases} cases ({evaluation.n_bins} bins)",
                 fontsize="medium")
    ax.legend(fontsize="small", loc="upper left")
    return ax


def plot_top_k(evaluation, *, ax=None):
    ax = _new_ax(ax, (5.5, 4))
    table = evaluation.top_k()
    ks = table.index.to_numpy()
    ax.step(ks, table["any_in_top_k"], where="mid", marker="o", label="a present disease in top k")
    ax.step(ks, table["all_in_top_k"], where="mid", marker="s", label="every present disease in top k")
    ax.set_xticks(ks)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("k")
    ax.set_ylabel(f"fraction of the {int(table['cases'].iloc[0])} cases with a disease")
    ax.set_title("Top-k accuracy of the differential", fontsize="medium")
    ax.legend(fontsize="small", loc="lower right")
    return ax


def plot_cost_curve(evaluation, *, ax=None):
    curve = evaluation.cost_curve()
    if curve.empty:
        raise InvalidParameterError("This evaluation has no sequential run: pass sequential= to "
                                    "bayesdx.evaluate for an accuracy-against-cost curve.")
    ax = _new_ax(ax, (6, 4))
    summary = evaluation.sequential()
    for policy, part in curve.groupby("policy", sort=False):
        x = np.r_[part["cost_usd"].to_numpy(), curve["cost_usd"].max()]
        y = np.r_[part["accuracy"].to_numpy(), part["accuracy"].iloc[-1]]
        (line,) = ax.step(x, y, where="post", label=_short(str(policy), 30))
        row = summary.loc[policy]
        ax.plot([row["mean_cost_usd"]], [row["accuracy_at_stop"]], marker="o",
                color=line.get_color())
    ax.set_xlabel("cumulative cost per case (USD)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title("Accuracy against cumulative test cost (dot: mean cost at stop)",
                 fontsize="medium")
    ax.legend(fontsize="small", loc="lower right")
    return ax
