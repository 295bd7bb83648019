"""How sure are we? :func:`uncertainty` draws every sourced number from its distribution
(:mod:`bayesdx.priors`) and answers the diagnosis for every draw at once, giving credible intervals
on the posteriors and on the orders' values, and how often each order is the top recommendation.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .exceptions import InvalidParameterError, _check_count, _check_seed

__all__ = ["MAX_DRAWS", "Uncertainty", "uncertainty"]

#: The most draws :func:`uncertainty` takes in one call. Draws are answered in chunks and only
#: each target's marginal and each order's value are kept per draw, so memory grows by about
#: 8 bytes x (target states + orders) per draw: under 40 MB at this bound on the bundled network.
MAX_DRAWS = 100_000


def _ci_names(level: float) -> tuple[str, str]:
    pct = f"{100 * level:.10g}".replace(".", "_")
    return f"ci{pct}_low", f"ci{pct}_high"


class Uncertainty:
    """The answer of a diagnosis under the uncertainty of the network's numbers.

    Built by :func:`uncertainty`; immutable (every frame is a copy).

    Attributes
    ----------
    network : Network
    evidence : mapping of str to str
    draws : int
        Number of parameter draws.
    level : float
        Probability of each credible interval (central).
    objective : Objective
        What the orders are valued by.
    seed : int or None
    """

    def __init__(self, network, evidence, point, draws_out, level, seed, rule):
        self.network = network
        self.evidence = dict(evidence)
        self.draws = int(draws_out["marginals"].shape[0])
        self.level = float(level)
        self.objective = point.objective
        self.seed = seed
        self.rule = rule
        self._point = point
        self._out = draws_out
        self._low, self._high = _ci_names(level)

    # -- raw draws -----------------------------------------------------------------------------
    def posterior_draws(self) -> pd.DataFrame:
        """Every draw's posterior of every target state: one row per draw, columns
        (target, state) as a MultiIndex."""
        net = self.network
        columns = [(t, state) for t in net.targets for state in net.states(t)]
        frame = pd.DataFrame(self._out["marginals"].copy(), columns=pd.MultiIndex.from_tuples(
            columns, names=["target", "state"]))
        frame.index.name = "draw"
        return frame

    def order_value_draws(self) -> pd.DataFrame:
        """Every draw's value of every ranked order (the objective's unit): one row per draw,
        one column per order."""
        names = [o.name for o in self._point.orders]
        frame = pd.DataFrame(self._out["value"].copy(), columns=pd.Index(names, name="order"))
        frame.index.name = "draw"
        return frame

    def _summary(self, samples: np.ndarray) -> dict[str, np.ndarray]:
        q = np.quantile(samples, [0.5, (1 - self.level) / 2, (1 + self.level) / 2], axis=0)
        return {"mean": samples.mean(axis=0), "median": q[0], self._low: q[1], self._high: q[2]}

    # -- summaries -----------------------------------------------------------------------------
    @property
    def posteriors(self) -> pd.DataFrame:
        """One row per (target, state): ``target``, ``label``, ``state``, ``point`` (the posterior
        with the stated numbers), ``mean``, ``median``, ``ci<level>_low``, ``ci<level>_high``
        (e.g. ``ci90_low``), over the draws."""
        draws = self.posterior_draws()
        stats = self._summary(draws.to_numpy())
        rows = []
        for j, (t, state) in enumerate(draws.columns):
            rows.append({"target": t, "label": self.network.label(t), "state": state,
                         "point": float(self._point.marginal(t)[state]),
                         **{k: float(v[j]) for k, v in stats.items()}})
        return pd.DataFrame(rows, columns=["target", "label", "state", "point", "mean", "median",
                                           self._low, self._high])

    @property
    def orders(self) -> pd.DataFrame:
        """One row per ranked order, in the point ranking's order: ``order``, ``label``,
        ``objective``, ``point`` (its value with the stated numbers), ``point_rank`` (1 = the
        recommendation), ``mean``, ``median``, ``ci<level>_low``, ``ci<level>_high`` of its value,
        and ``prob_top``: the share of draws in which it is the top recommendation."""
        orders = self._point.orders
        values0 = self._point._order_values
        stats = self._summary(self._out["value"])
        top = self._out["top"]
        rank = np.empty(len(orders), dtype=int)
        rank[np.asarray(values0.rank)] = np.arange(1, len(orders) + 1)
        rows = []
        for k, o in enumerate(orders):
            rows.append({"order": o.name, "label": o.label, "objective": self.objective.kind,
                         "point": float(values0.value[k]), "point_rank": int(rank[k]),
                         **{name: float(v[k]) for name, v in stats.items()},
                         "prob_top": float(np.mean(top == k))})
        frame = pd.DataFrame(rows, columns=["order", "label", "objective", "point", "point_rank",
                                            "mean", "median", self._low, self._high, "prob_top"])
        return frame.sort_values("point_rank", kind="stable").reset_index(drop=True)

    @property
    def actions(self) -> pd.DataFrame:
        """One row per action of the decision model (empty without one): ``action``, ``label``,
        ``taken_now`` (with the stated numbers) and ``prob_taken``: the share of draws in which
        deciding now takes it (the action is worth more than not acting)."""
        model = self._point.decisions
        columns = ["action", "label", "taken_now", "prob_taken"]
        if model is None or self._out["acts"] is None:
            return pd.DataFrame(columns=columns)
        from .decision import decision_values

        tables = self._point._order_tables
        now = decision_values(model, self._point._indicator, tables.target_probs, tables.stacked,
                              tables.starts, tables.cards).acts_now
        acts = self._out["acts"]
        return pd.DataFrame([{"action": a.name, "label": a.label, "taken_now": bool(now[k]),
                              "prob_taken": float(acts[:, k].mean())}
                             for k, a in enumerate(model.actions)], columns=columns)

    @property
    def prob_top(self) -> float:
        """Probability that the point recommendation (the best order with the stated numbers)
        is the top recommendation."""
        rank0 = self._point._order_values.rank
        if not len(rank0):
            return float("nan")
        return float(np.mean(self._out["top"] == int(rank0[0])))

    def to_frame(self) -> pd.DataFrame:
        """Every summary in one tidy frame.

        Returns
        -------
        pandas.DataFrame
            Columns ``quantity`` (``"posterior"``, ``"order_value"`` or ``"action_taken"``),
            ``item`` (target, order or action name), ``label``, ``state`` (posteriors only),
            ``point``, ``mean``, ``median``, ``ci<level>_low``, ``ci<level>_high`` and ``prob_top``
            (orders: share of draws in which it is the top recommendation). For actions,
            ``point`` is 1 if taken now and ``mean`` the share of draws in which it is taken.
        """
        columns = ["quantity", "item", "label", "state", "point", "mean", "median", self._low,
                   self._high, "prob_top"]
        post = self.posteriors.rename(columns={"target": "item"}).assign(quantity="posterior")
        orders = self.orders.rename(columns={"order": "item"}).assign(quantity="order_value",
                                                                      state=None)
        acts = self.actions
        acts = pd.DataFrame({"quantity": "action_taken", "item": acts["action"],
                             "label": acts["label"], "point": acts["taken_now"].astype(float),
                             "mean": acts["prob_taken"]})
        parts = [p.reindex(columns=columns) for p in (post, orders, acts) if len(p)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)

    # -- display -------------------------------------------------------------------------------
    def _head(self) -> str:
        pct = f"{100 * self.level:g}%"
        top = self._point.next_test
        label = next((o.label for o in self._point.orders if o.name == top), top)
        text = (f"Uncertainty of the diagnosis on {self.network.name!r} over {self.draws} draws of "
                f"its numbers ({pct} credible intervals)")
        if top is not None:
            text += f"; the recommendation {label!r} stays on top in {100 * self.prob_top:.0f}% of draws"
        return text

    def __repr__(self) -> str:
        post = self.posteriors
        lines = [self._head() + ":"]
        for t in self.network.targets:
            rows = post[post.target == t]
            ref = self.network.reference_state(t)
            for _, r in rows[rows.state != ref].iterrows():
                lines.append(f"  P({r.label} = {r.state}) {r.point:.3f} [{r[self._low]:.3f}, "
                             f"{r[self._high]:.3f}]")
        orders = self.orders.head(5)
        for _, r in orders.iterrows():
            lines.append(f"  {r.point_rank}. {r.label}: top in {100 * r.prob_top:.0f}% of draws")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from ._display_uncertainty import uncertainty_html

        return uncertainty_html(self)


def uncertainty(network, *, evidence: Mapping[str, str] | None = None, draws: int = 1000,
                seed: int | np.random.Generator | None = None, level: float = 0.9,
                objective=None, orders=None, rule: float | None = None) -> Uncertainty:
    """Credible intervals of a diagnosis from the stated ranges of the network's numbers.

    Every CPT number with a range is drawn from its distribution (:mod:`bayesdx.priors`; a node's
    numbers are drawn again when the file's checks reject them, e.g. a noisy-OR cause below its
    leak), and the diagnosis is answered for all draws at once (the draw is a batch axis of the
    tables and of the inference).

    Parameters
    ----------
    network : Network or str
        A network read from a bayesdx YAML file (or a bundled network's name).
    evidence : mapping of str to str, optional
        Observed findings ``{node: state}``.
    draws : int, default 1000
        Number of parameter draws, at most :data:`MAX_DRAWS` (100,000). They are drawn and
        answered in chunks of 100 (the same draws for a seed on every machine), keeping only
        each target's marginal and each order's value per draw, so memory stays bounded.
    seed : int or numpy.random.Generator, optional
        For reproducible draws.
    level : float, default 0.9
        Probability of the central credible intervals (``ci90_low``, ``ci90_high``).
    objective, orders
        As for :func:`bayesdx.diagnose`: what orders are valued by, and which orders.
    rule : float, optional
        How to read numbers without a range (see :func:`bayesdx.priors.parameter_priors`).

    Returns
    -------
    Uncertainty

    Raises
    ------
    InvalidParameterError
        A bad ``draws`` (not a whole number from 1 to :data:`MAX_DRAWS`), ``level`` or ``rule``,
        or a network with no sourced numbers.

    Warns
    -----
    UserWarning
        When no number of the network has a range, so every interval has zero width.

    Examples
    --------
    >>> import bayesdx
    >>> u = bayesdx.uncertainty("fasciculation", evidence={"ck": "gt_1000"}, draws=50, seed=1)
    >>> row = u.posteriors.query("target == 'als' and state == 'present'").iloc[0]
    >>> bool(row["ci90_low"] <= row["median"] <= row["ci90_high"])
    True
    >>> 0 <= u.prob_top <= 1
    True
    """
    from ._batcheval import CHUNK, SettingsEvaluator
    from .priors import _blocks

    if isinstance(network, str):
        from .io import load_network

        network = load_network(network)
    draws = _check_count(draws, "draws", "uncertainty")
    if draws > MAX_DRAWS:
        raise InvalidParameterError(f"The 'draws' parameter of uncertainty must be an int from 1 to "
                                    f"{MAX_DRAWS:,}. Got {draws:,} instead.")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise InvalidParameterError(f"The 'level' parameter of uncertainty must be a number in (0, 1), "
                                    f"e.g. 0.9. Got {level!r} instead.")
    evaluator = SettingsEvaluator(network, evidence, objective, orders)
    blocks = [b for b in _blocks(network, rule) if b.family != "point"]
    if not blocks:
        warnings.warn(f"No number of network '{network.name}' has a range (or every range has zero "
                      f"width): every interval is the point answer. Pass rule= to give ranges.",
                      UserWarning, stacklevel=2)
    rng = _check_seed(seed, "uncertainty")
    parts: dict[str, list] = {}
    for start in range(0, draws, CHUNK):
        n = min(CHUNK, draws - start)
        _, tables = evaluator.draw(n, rng, blocks)
        out = evaluator.answer(tables, n)
        out["marginals"] = _marginals(network, out.pop("target_probs"))
        for k, v in out.items():
            parts.setdefault(k, []).append(v)
    out = {k: (np.concatenate(v) if v[0] is not None else None) for k, v in parts.items()}
    if not out["possible"].all():
        keep = out["possible"]
        warnings.warn(f"The evidence is impossible in {int((~keep).sum())} of {draws} draws; they are "
                      f"left out.", UserWarning, stacklevel=2)
        out = {k: (v[keep] if v is not None else None) for k, v in out.items()}
    return Uncertainty(network, evidence or {}, evaluator.point, out, level,
                       seed if not isinstance(seed, np.random.Generator) else None, rule)


def _marginals(network, target_probs: np.ndarray) -> np.ndarray:
    """Each target's marginal per draw, (draws, states of every target in turn), from the
    targets' joint (draws, product of their cards)."""
    cards = [network.arrays.card(t) for t in network.targets]
    joint = target_probs.reshape((-1, *cards))
    return np.column_stack([joint.sum(axis=tuple(1 + j for j in range(len(cards)) if j != k))
                            for k in range(len(cards))])
