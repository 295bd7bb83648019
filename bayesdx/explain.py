"""Why a test is worth doing, and what the findings so far have done.

This module owns :class:`Explanation` (the answer of :meth:`bayesdx.Diagnosis.explain`: one
order's value split by target, its outcomes, every target's posterior under each outcome and the
actions each outcome would change) and :func:`evidence_impact` (how much each observed finding
moved each target: the leave-one-out likelihood ratio, as GeNIe's diagnostic values and pyAgrum's
``evidenceImpact``). Both are views over arrays a :class:`~bayesdx.Diagnosis` already holds.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from .ranking import subset_joint
from .voi import mutual_information_stacked_bits

__all__ = ["Explanation", "evidence_impact"]


def _marginals(flat: np.ndarray, cards: tuple[int, ...]) -> list[np.ndarray]:
    """Per-target marginals of flat joint columns: ``flat`` (n_t, k) -> list of (card_t, k)."""
    shaped = flat.reshape((*cards, flat.shape[1]))
    out = []
    for axis in range(len(cards)):
        other = tuple(i for i in range(len(cards)) if i != axis)
        out.append(shaped.sum(axis=other) if other else shaped)
    return out


class Explanation:
    """Why one order is worth what the ranking says. Immutable; made by
    :meth:`bayesdx.Diagnosis.explain`.

    Attributes
    ----------
    order : Order
    objective : Objective
    value : float
        The order's value under the objective (as in the ranking's ``value`` column).
    info_gain_bits : float
        Information about the joint of all targets.
    decision_value_utils, cost_utils, same_decision_prob : float
        NaN without a decision model.
    outcome_evidence : tuple of dict
        Each outcome as evidence ``{readout: state}`` (ready for :func:`bayesdx.diagnose`).
    outcome_labels : tuple of str
    p_outcome : numpy.ndarray
        P(outcome | evidence), read-only.

    Examples
    --------
    >>> import bayesdx
    >>> dx = bayesdx.diagnose("fasciculation")
    >>> why = dx.explain(dx.next_test)
    >>> round(float(why.p_outcome.sum()), 12)
    1.0
    >>> list(why.shares().columns)
    ['info_gain_bits', 'decision_value_utils', 'share']
    """

    def __init__(self, diagnosis, k: int):
        tables, values = diagnosis._order_tables, diagnosis._order_values
        network = diagnosis.network
        self._network = network
        self.order = tables.orders[k]
        self.objective = values.objective
        self.evidence = diagnosis.evidence
        self.value = float(values.value[k])
        self.info_gain_bits = float(values.info_gain_bits[k])
        self.decision_value_utils = float(values.decision_value_utils[k])
        self.cost_utils = float(values.cost_utils[k])
        self.same_decision_prob = float(values.same_decision_prob[k])
        self.cost_usd = float(self.order.cost_usd)
        self.readouts = tables.readouts[k]
        block = tables.block(k)
        p = block.sum(axis=0)
        keep = p > 0
        block, p = block[:, keep], p[keep]
        self.outcome_evidence = tuple(dict(o) for o, kept in zip(tables.outcomes[k], keep) if kept)
        self.outcome_labels = tuple(lab for lab, kept in zip(tables.outcome_labels(k), keep) if kept)
        p.flags.writeable = False
        self.p_outcome = p
        cards = tables.target_cards
        self._now = _marginals(tables.target_probs.reshape(-1, 1), cards)
        self._after = _marginals(block / p, cards)
        self._target_info = np.array([
            float(mutual_information_stacked_bits(
                *subset_joint(tables.target_probs, block, cards, [i]), [0], [block.shape[1]])[0])
            for i in range(len(cards))])
        self._decisions = diagnosis.decisions
        if self._decisions is not None:
            from .decision import decision_values

            ind = diagnosis._indicator
            dv = decision_values(self._decisions, ind, tables.target_probs, block, [0],
                                 [block.shape[1]])
            self._gain = dv.gain[0]
            self._acts_now = dv.acts_now
            self._acts = dv.acts  # (n_actions, n_outcomes)
            self._p_help_now = tables.target_probs @ ind
            self._p_help = (ind.T @ block) / p
        self._shares = self._share_frame()

    # -- tables ------------------------------------------------------------------------------
    def _share_frame(self) -> pd.DataFrame:
        targets = self._network.targets
        dv = np.full(len(targets), np.nan)
        if self._decisions is not None:
            dv = np.zeros(len(targets))
            for gain, action in zip(self._gain, self._decisions.actions):
                dv[targets.index(action.target)] += gain
        kind = self.objective.kind
        if kind == "decision":
            basis = dv
        elif kind == "focus" and self.objective.weights is not None:
            basis = np.array([self.objective.weights.get(t, 0.0) for t in targets]) * self._target_info
        elif kind == "focus":
            basis = np.where([t in self.objective.targets for t in targets], self._target_info, 0.0)
        else:
            basis = self._target_info
        total = float(np.sum(basis))
        share = basis / total if total > 0 else np.full(len(targets), np.nan)
        return pd.DataFrame({"info_gain_bits": self._target_info, "decision_value_utils": dv,
                             "share": share}, index=pd.Index(list(targets), name="target"))

    def shares(self) -> pd.DataFrame:
        """Each target's part of the order's value.

        Returns
        -------
        pandas.DataFrame
            Indexed by target: ``info_gain_bits`` (the order's information about that target
            alone; these do not add up to the joint information), ``decision_value_utils`` (the
            expected utility gain of the actions about that target; they add up to the order's
            decision value) and ``share`` (of the objective's basis: decision value under
            *decision*, else per-target information, weighted under *focus*; NaN when the
            order is worth nothing).
        """
        return self._shares.copy()

    def to_frame(self) -> pd.DataFrame:
        """Every target's posterior under each outcome, in long format.

        Returns
        -------
        pandas.DataFrame
            Columns ``outcome``, ``p_outcome``, ``target``, ``state``, ``posterior_now`` and
            ``posterior`` (after that outcome).
        """
        rows = []
        for j, label in enumerate(self.outcome_labels):
            for i, target in enumerate(self._network.targets):
                for s, state in enumerate(self._network.states(target)):
                    rows.append((label, float(self.p_outcome[j]), target, state,
                                 float(self._now[i][s, 0]), float(self._after[i][s, j])))
        return pd.DataFrame(rows, columns=["outcome", "p_outcome", "target", "state",
                                           "posterior_now", "posterior"])

    def actions(self) -> pd.DataFrame:
        """Each action under each outcome: the probability of its states, and whether it is
        taken now and after the outcome.

        Returns
        -------
        pandas.DataFrame
            Columns ``outcome``, ``p_outcome``, ``action``, ``label``, ``target``, ``threshold``,
            ``probability_now``, ``probability``, ``taken_now``, ``taken``, ``changed``. Empty
            without a decision model.
        """
        columns = ["outcome", "p_outcome", "action", "label", "target", "threshold",
                   "probability_now", "probability", "taken_now", "taken", "changed"]
        rows = []
        if self._decisions is not None:
            for j, label in enumerate(self.outcome_labels):
                for a, action in enumerate(self._decisions.actions):
                    now, after = bool(self._acts_now[a]), bool(self._acts[a, j])
                    rows.append((label, float(self.p_outcome[j]), action.name, action.label,
                                 action.target, action.threshold, float(self._p_help_now[a]),
                                 float(self._p_help[a, j]), now, after, now != after))
        return pd.DataFrame(rows, columns=columns)

    def action_values(self) -> pd.DataFrame:
        """Each action's expected utility gain from this order (ΔMEU per action, >= 0), with its
        threshold and the probability of its states now. Empty without a decision model."""
        columns = ["label", "target", "threshold", "probability_now", "taken_now",
                   "decision_value_utils"]
        if self._decisions is None:
            return pd.DataFrame(columns=columns, index=pd.Index([], name="action"))
        acts = self._decisions.actions
        return pd.DataFrame({
            "label": [a.label for a in acts], "target": [a.target for a in acts],
            "threshold": [a.threshold for a in acts], "probability_now": self._p_help_now,
            "taken_now": self._acts_now.astype(bool), "decision_value_utils": self._gain,
        }, index=pd.Index([a.name for a in acts], name="action"), columns=columns)

    def outcomes(self) -> pd.DataFrame:
        """One row per outcome: its probability, each target's probability of not being in its
        reference state after it, and the actions it would change.

        Returns
        -------
        pandas.DataFrame
            Indexed by outcome label: ``p_outcome``, one column per target (P(target is not in
            its reference state), e.g. P(disease present)) and ``changes`` (text such as
            ``"add: Start levothyroxine; drop: Refer"``: the actions this outcome would start or
            stop; empty when it changes nothing).
        """
        data = {"p_outcome": self.p_outcome}
        for i, target in enumerate(self._network.targets):
            ref = self._network.states(target).index(self._network.reference_state(target))
            data[target] = np.clip(1.0 - self._after[i][ref], 0.0, 1.0)
        data["changes"] = [self._changes(j) for j in range(len(self.outcome_labels))]
        return pd.DataFrame(data, index=pd.Index(list(self.outcome_labels), name="outcome"))

    def _changes(self, j: int) -> str:
        if self._decisions is None:
            return ""
        parts = []
        for a, action in enumerate(self._decisions.actions):
            if self._acts[a, j] != self._acts_now[a]:
                parts.append(("add: " if self._acts[a, j] else "drop: ") + action.label)
        return "; ".join(parts)

    # -- display -----------------------------------------------------------------------------
    def _head(self, width: int = 80, names: bool = False) -> list[str]:
        from ._text import money, wrap

        o = self.order
        name = o.name if names else o.label
        unit = self.objective.value_unit
        lines = wrap(f"Why {name}: objective {self.objective.kind}, value {self.value:.3g} {unit}",
                     width, "", "  ")
        parts = [f"information {self.info_gain_bits:.4f} bits"]
        if not math.isnan(self.decision_value_utils):
            parts.append(f"decision value {self.decision_value_utils:.3g} utils "
                         f"- cost {self.cost_utils:.3g} utils")
            parts.append(f"same decision with p={self.same_decision_prob:.3f}")
        if not math.isnan(self.cost_usd):
            parts.append(money(self.cost_usd) + (", invasive" if o.invasive else ""))
        lines += wrap("; ".join(parts), width, "  ", "    ")
        return lines

    def __repr__(self) -> str:
        return self.text()

    def text(self, max_outcomes: int = 8, *, width: int = 80, names: bool = False) -> str:
        """The explanation as text: the value by target, then the ``max_outcomes`` most probable
        outcomes with the targets they move by at least one percentage point and the actions
        they change; at most ``width`` columns, by label (``names=True``: by name)."""
        from ._text import MIN_WIDTH, Column, Names, number, percent, table, wrap

        width = max(int(width), MIN_WIDTH)
        nm = Names(self._network, names)
        lines = self._head(width, names)
        shares = self._shares
        lines.append("  Share of the value by target:")
        cells = [[nm.node(t), percent(row["share"]), f"{row['info_gain_bits']:.4f}",
                  number(row["decision_value_utils"])]
                 for t, row in shares.iterrows()]
        cols = [Column("target", "<", flex=True), Column("share"), Column("bits")]
        if any(c[3] for c in cells):
            cols.append(Column("utils"))
        lines += table(cols, [c[:len(cols)] for c in cells], width, indent="    ", wrap_flex=True)
        table_ = self.outcomes()
        n = len(table_)
        shown = np.argsort(-self.p_outcome, kind="stable")[:max_outcomes]
        lines += wrap(f"{'Most likely outcomes' if n > len(shown) else 'Outcomes'} (of {n}), with "
                      f"the targets they move by 1 point or more (P(not healthy) now -> after):",
                      width, "  ", "  ")
        targets = self._network.targets
        now = {}
        for i, target in enumerate(targets):
            ref = self._network.states(target).index(self._network.reference_state(target))
            now[target] = 1.0 - float(self._now[i][ref, 0])
        for j in shown:
            row = table_.iloc[j]
            outcome = nm.outcome(self.outcome_evidence[j]) if not names else table_.index[j]
            lines += wrap(f"p={row['p_outcome']:.3f}  {outcome}", width, "    ", " " * 13)
            moved = [f"{nm.node(t)} {percent(now[t])} -> {percent(row[t])}" for t in targets
                     if abs(row[t] - now[t]) >= 0.01]
            if moved:
                lines += wrap("; ".join(moved), width, " " * 13, " " * 13)
            if row["changes"]:
                lines += wrap("actions: " + row["changes"], width, " " * 13, " " * 15)
        if n > len(shown):
            rest = float(self.p_outcome.sum() - self.p_outcome[shown].sum())
            lines += wrap(f"... {n - len(shown)} more outcomes (p={rest:.3f}); see .outcomes()",
                          width, "    ")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from ._text import Names

        nm = Names(self._network)
        head = "<br>".join(html.escape(line.strip()) for line in self._head(width=120))
        fmt = {"float_format": lambda v: f"{v:.4g}", "na_rep": ""}
        shares = self._shares.rename(index=nm.node)
        shares.index.name = "target"
        outcomes = self.outcomes().rename(columns={t: nm.node(t) for t in self._network.targets})
        outcomes.index = [nm.outcome(ev) for ev in self.outcome_evidence]
        outcomes.index.name = "outcome (only what is away from normal)"
        return (f"<div><p><b>{head}</b></p><p>Share of the value by target</p>"
                f"{shares.to_html(**fmt)}<p>Outcomes, with P(not healthy) of each target after "
                f"them</p>{outcomes.to_html(**fmt)}</div>")


# -- evidence impact ---------------------------------------------------------------------------


def evidence_impact(diagnosis) -> pd.DataFrame:
    """How much each observed finding moved each target, given the other findings.

    For each observed node f and each non-reference state s of each target, the posterior
    P(s | e) and the posterior without f, P(s | e \\ f), and the factor by which f multiplied the
    odds of s: ``likelihood_ratio`` = odds(s | e) / odds(s | e \\ f). For a binary target this is
    the likelihood ratio of f given the other findings, P(f | s, e \\ f) / P(f | not s, e \\ f).

    Returns
    -------
    pandas.DataFrame
        Columns ``finding``, ``observed`` (its state), ``target``, ``state``, ``posterior``,
        ``posterior_without``, ``likelihood_ratio`` and ``log10_lr`` (0 = no effect; ±inf when
        the finding made the state certain or impossible).
    """
    network = diagnosis.network
    encoded = network.encode_evidence(dict(diagnosis.evidence))
    columns = ["finding", "observed", "target", "state", "posterior", "posterior_without",
               "likelihood_ratio", "log10_lr"]
    rows = []
    for finding, observed in diagnosis.evidence.items():
        rest = {n: s for n, s in encoded.items() if n != finding}
        without = network.engine.joint_query(rest, network.targets, []).target_joint
        for i, target in enumerate(network.targets):
            other = tuple(a for a in range(len(network.targets)) if a != i)
            before = without.sum(axis=other) if other else without
            after = diagnosis.marginal(target).to_numpy()
            ref = network.reference_state(target)
            for s, state in enumerate(network.states(target)):
                if state == ref:
                    continue
                with np.errstate(divide="ignore", invalid="ignore"):
                    lr = float(np.divide(_odds(after[s]), _odds(before[s])))
                    log = float(np.log10(lr)) if not math.isnan(lr) else math.nan
                rows.append((finding, observed, target, state, float(after[s]), float(before[s]),
                             lr, log))
    return pd.DataFrame(rows, columns=columns)


def _odds(p: float) -> float:
    p = float(p)
    if p >= 1.0:
        return math.inf
    return p / (1.0 - p)
