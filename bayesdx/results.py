"""``diagnose`` and its result: posteriors of every node and the test orders ranked by an objective.

The valuation of orders (outcome tables, objectives, stopping) lives in :mod:`bayesdx.ranking` and
the explanations in :mod:`bayesdx.explain`; a :class:`Diagnosis` is a thin, immutable view over
what they computed once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cached_property
from types import MappingProxyType

import numpy as np
import pandas as pd

from .exceptions import ImpossibleEvidenceError, UnknownOrderError
from .inference import JointQuery, ZeroProbabilityEvidence
from .network import Network
from .ranking import (
    RANKING_COLUMNS,
    Objective,
    StopAdvice,
    build_tables,
    ranking_frame,
    resolve_objective,
    stop_advice,
    threshold_frame,
    value_orders,
)
from .voi import entropy_bits

__all__ = ["diagnose", "Diagnosis", "RANKING_COLUMNS"]

BY = ("order", "node")


def _query(network: Network, encoded: dict[str, int], labels: Mapping[str, str]) -> JointQuery:
    from ._leafjoints import joint_query

    key = ("query nodes", network.targets)
    nodes = network._cache.get(key)
    if nodes is None:
        nodes = network._cache[key] = tuple(n for n in network.nodes if n not in network.targets)
    try:  # unobserved leaves are read from their parents' joints, not by the engine
        return joint_query(network, encoded, nodes)
    except ZeroProbabilityEvidence:
        raise ImpossibleEvidenceError(dict(labels), _impossible_hint(network, labels)) from None


def _impossible_hint(network: Network, labels: Mapping[str, str]) -> str:
    """Name the smallest culprit we can find cheaply: a single finding impossible on its own."""
    for node, state in labels.items():
        try:
            network.engine.joint_query({node: network.states(node).index(state)}, network.targets, [])
        except ZeroProbabilityEvidence:
            return f"On its own, {node}={state} is already impossible."
    return "Each finding is possible on its own; their combination is not."


def _prior(network: Network) -> JointQuery:
    key = ("prior", network.engine_name, network.targets)
    cache = network._cache
    if key not in cache:
        cache[key] = _query(network, {}, {})
    return cache[key]


def diagnose(network: Network | str, *, evidence: Mapping[str, str] | None = None,
             objective: str | Objective | None = None, by: str = "order",
             orders=None, decisions=None) -> Diagnosis:
    """Posterior of every target given the evidence, and every test order with an unobserved
    readout ranked by an objective.

    Parameters
    ----------
    network : Network or str
        A loaded network, or anything :func:`bayesdx.load_network` accepts without targets
        (e.g. a bundled name).
    evidence : mapping of str to str, optional
        Observed findings ``{node: state}``, by label.
    objective : str or Objective, optional
        What the ranking maximises: ``"information"``, ``"decision"``, or an
        :class:`~bayesdx.Objective` (needed for ``"focus"`` and ``"cost"``, which take
        parameters). Default: ``"decision"`` when there is a decision model, else
        ``"information"``.
    by : {"order", "node"}, default "order"
        Rank test orders (the value of all an order's readouts together; an order whose readouts
        are all observed drops out, a partly observed one is valued on the rest), or every test
        node on its own.
    orders : sequence of Order, optional
        Orders to rank instead of the network's (:attr:`Network.orders`); ``by="order"`` only.
    decisions : DecisionModel, optional
        Actions and utilities instead of the network's (:attr:`Network.decisions`).

    Returns
    -------
    Diagnosis

    Raises
    ------
    UnknownNodeError, UnknownStateError
        A node or state the network does not have (with the closest valid names).
    ImpossibleEvidenceError
        The evidence has probability zero.
    InvalidObjectiveError
        A malformed objective, or the decision objective without a decision model.

    Examples
    --------
    >>> import bayesdx
    >>> net = bayesdx.load_network("fasciculation")
    >>> dx = bayesdx.diagnose(net, evidence={"ck": "gt_1000", "dermatomyositis_rash": "present"})
    >>> round(float(dx.marginal("inflammatory_myopathy").sum()), 12)
    1.0
    >>> dx.next_test in dx.ranking.index
    True
    >>> bool((dx.ranking["info_gain_bits"] >= 0).all())
    True
    >>> by_node = bayesdx.diagnose(net, evidence={"ck": "gt_1000"}, by="node")
    >>> by_node.ranking.index.name
    'test'
    """
    from .io import as_network

    network = as_network(network)
    encoded = network.encode_evidence(evidence)
    states = network.arrays.states
    labels = {n: states[n][s] for n, s in encoded.items()}
    query = _query(network, encoded, labels)
    return Diagnosis(network, labels, query, _prior(network), objective=objective, by=by,
                     orders=orders, decisions=decisions, _encoded=encoded)


def _indicator(network: Network, decisions) -> np.ndarray:
    """``decisions.indicator(network)``, kept on the network for its targets (read-only)."""
    try:
        key = ("indicator", network.targets, decisions)
        got = network._cache.get(key)
    except TypeError:  # an unhashable decision model: made each time
        key, got = None, None
    if got is None:
        got = decisions.indicator(network)
        got.flags.writeable = False
        if key is not None:
            network._cache[key] = got
    return got


class Diagnosis:
    """The answer of :func:`diagnose`. Immutable.

    Attributes
    ----------
    network : Network
    evidence : mapping of str to str
        The evidence, by label.
    prob_evidence : float
        P(evidence) under the network (0.0 when it is below about 1e-308; see
        :attr:`log_prob_evidence`).
    entropy_bits : float
        Entropy of the joint posterior of the targets, in bits.
    objective : Objective
        What the ranking maximises.
    by : {"order", "node"}
    decisions : DecisionModel or None
        The actions and utilities in use.
    ranking : pandas.DataFrame
        One row per order (``by="node"``: per test) with an unobserved readout, best first.
    next_test : str or None
        The best order (``by="node"``: test); None when every test is observed.
    stopping : StopAdvice
        Whether testing should stop, and why (also :attr:`should_stop`, :attr:`stop_reason`).
    """

    def __init__(self, network: Network, evidence: Mapping[str, str], query: JointQuery,
                 prior: JointQuery, *, objective: str | Objective | None = None, by: str = "order",
                 orders=None, decisions=None, _tables=None, _encoded=None):
        from .orders import network_orders

        self.network = network
        self.evidence = MappingProxyType(dict(evidence))
        self._query = query
        self._prior = prior
        self.prob_evidence = float(query.prob_evidence)
        self.entropy_bits = entropy_bits(query.target_joint)
        if by not in BY:
            raise ValueError(f"by must be 'order' or 'node'; got {by!r}.")
        self.by = by
        if by == "node":
            if orders is not None:
                raise ValueError("orders= ranks test orders; it has no meaning with by='node'.")
            self._orders = network_orders(network, [])
        else:
            self._orders = network.orders if orders is None else network_orders(network, orders)
        if decisions is not None:
            from .decision import DecisionModel

            if not isinstance(decisions, DecisionModel):
                raise TypeError(f"decisions must be a bayesdx DecisionModel; got "
                                f"{type(decisions).__name__}.")
        self.decisions = decisions if decisions is not None else network.decisions
        self._indicator = _indicator(network, self.decisions) if self.decisions is not None else None
        self.objective = resolve_objective(objective, network, self.decisions)
        self._given_tables = _tables
        self._encoded = _encoded  # the evidence as state indices, when diagnose encoded it

    @property
    def log_prob_evidence(self) -> float:
        """ln P(evidence), the natural log: finite even when :attr:`prob_evidence` underflows to
        0.0 (the engine keeps it exactly, scaling between cliques).

        Examples
        --------
        >>> import math, bayesdx
        >>> dx = bayesdx.diagnose("fasciculation", evidence={"ck": "gt_1000"})
        >>> math.isclose(math.exp(dx.log_prob_evidence), dx.prob_evidence, rel_tol=1e-12)
        True
        """
        value = self._query.log_prob_evidence
        return math.log(self.prob_evidence) if math.isnan(value) else float(value)

    def with_objective(self, objective: str | Objective | None) -> Diagnosis:
        """The same diagnosis ranked by another objective, reusing the outcome tables.

        Examples
        --------
        >>> import bayesdx
        >>> dx = bayesdx.diagnose("fasciculation", objective="information")
        >>> cheap = dx.with_objective(bayesdx.Objective("cost", alpha=0.002))
        >>> cheap.objective.kind, bool(cheap.ranking["value"].max() <= dx.ranking["value"].max())
        ('cost', True)
        """
        return Diagnosis(self.network, self.evidence, self._query, self._prior, objective=objective,
                         by=self.by, orders=self._orders if self.by == "order" else None,
                         decisions=self.decisions, _tables=self._order_tables,
                         _encoded=self._encoded)

    # -- the valuation, computed once ------------------------------------------------------
    @cached_property
    def _order_tables(self):
        if self._given_tables is not None:
            return self._given_tables
        encoded = self._encoded
        if encoded is None:
            encoded = self.network.encode_evidence(dict(self.evidence))
        return build_tables(self.network, encoded, self._query, self._orders)

    @cached_property
    def _order_values(self):
        return value_orders(self._order_tables, self.objective, self.network, self.decisions,
                            self._indicator)

    def _ranking_frame(self) -> pd.DataFrame:
        return ranking_frame(self._order_tables, self._order_values,
                             "order" if self.by == "order" else "test")

    @cached_property
    def _ranking(self) -> pd.DataFrame:
        """The ranking kept for the displays (never handed out: :attr:`ranking` builds anew)."""
        return self._ranking_frame()

    @property
    def ranking(self) -> pd.DataFrame:
        """One row per order with an unobserved readout (``by="node"``: per unobserved test),
        best first: by ``value`` descending, ties cheaper first, then by name. A copy.

        Columns (the same whatever the objective; NaN where they do not apply):

        ``label``
            What people read, e.g. "EMG/NCS study".
        ``objective``, ``value``
            The objective's name and the order's value under it: bits for *information*, *focus*
            and *cost* (information − α × cost), utils for *decision* (= ``net_value_utils``).
        ``info_gain_bits``
            Information about the joint of all targets, I(targets ; outcome | evidence).
        ``info_per_usd``
            Bits per US dollar (inf for a free, informative order; NaN when the cost is unknown).
        ``decision_value_utils``
            ΔMEU: the expected utility gain of deciding after the result (>= 0; needs a
            decision model).
        ``cost_utils``
            ``cost_usd`` / ``usd_per_util`` + the order's risk, in utils.
        ``net_value_utils``
            ``decision_value_utils`` − ``cost_utils``.
        ``same_decision_prob``
            Probability that the result leaves every action as it is now.
        ``cost_usd``, ``turnaround_days``, ``kind``, ``invasive``
            From the order (or the node).
        ``readouts``
            The unobserved readouts the order is valued on (a tuple).
        ``outcome_probs``
            {outcome: probability}; an outcome of several readouts reads ``"a=x, b=y"``.
        """
        # built anew from the cached valuation: as cheap as a deep copy, and nothing is shared
        return self._ranking_frame()

    @property
    def next_test(self) -> str | None:
        """The name of the best order (``by="node"``: test); None when every test is observed."""
        tables = self._order_tables
        if not len(tables.orders):
            return None
        return tables.orders[int(self._order_values.rank[0])].name

    @property
    def orders(self) -> tuple:
        """The orders this diagnosis ranks (those with an unobserved readout), in network order."""
        return self._order_tables.orders

    @cached_property
    def stopping(self) -> StopAdvice:
        """Whether testing should stop, and why (see :func:`bayesdx.ranking.stop_advice`)."""
        return stop_advice(self._order_tables, self._order_values)

    @property
    def should_stop(self) -> bool:
        """True when the objective's stopping rule says no further test is worth doing."""
        return self.stopping.should_stop

    @property
    def stop_reason(self) -> str:
        """The stopping rule's verdict in words."""
        return self.stopping.reason

    def thresholds(self) -> pd.DataFrame:
        """Each action's threshold p* = C / (B + C), the probability of its states now and whether
        it is taken now.

        Returns
        -------
        pandas.DataFrame
            Indexed by action: ``label``, ``target``, ``states``, ``benefit``, ``harm``,
            ``threshold``, ``probability``, ``taken_now``, ``eu_now_utils``.

        Raises
        ------
        InvalidObjectiveError
            There is no decision model.
        """
        if self.decisions is None:
            from .exceptions import InvalidObjectiveError

            raise InvalidObjectiveError(
                f"Network {self.network.name!r} declares no decision model, so there are no action "
                f"thresholds. Pass decisions=bayesdx.DecisionModel(...) to diagnose.")
        pt = np.reshape(self._query.target_joint, -1)
        return threshold_frame(self.decisions, self._indicator, pt)

    def explain(self, order: str):
        """Why ``order`` is worth what the ranking says: its value by target, its outcomes,
        every target's posterior under each, and the actions each would change.

        Parameters
        ----------
        order : str
            The name of a ranked order (an index of :attr:`ranking`).

        Returns
        -------
        Explanation

        Raises
        ------
        UnknownOrderError
            Not a ranked order (observed orders are not ranked), with the closest names.
        """
        from .explain import Explanation

        k = self._order_tables.index(order) if isinstance(order, str) else None
        if k is None:
            names = [o.name for o in self._order_tables.orders]
            detail = ""
            if any(o.name == order for o in self._orders):
                detail = "Its readouts are all observed."
            raise UnknownOrderError(order, names, detail=detail)
        return Explanation(self, k)

    def evidence_impact(self) -> pd.DataFrame:
        """How much each observed finding moved each target (see
        :func:`bayesdx.explain.evidence_impact`)."""
        from .explain import evidence_impact

        return evidence_impact(self)

    # -- marginals -------------------------------------------------------------------------
    def _marginal_array(self, query: JointQuery, node: str) -> np.ndarray:
        targets = query.targets
        if node in targets:
            axis = targets.index(node)
            other = tuple(i for i in range(len(targets)) if i != axis)
            return query.target_joint.sum(axis=other)
        joint = query.node_joints[node]
        return joint.reshape(-1, joint.shape[-1]).sum(axis=0)

    def marginal(self, node: str) -> pd.Series:
        """Posterior distribution of any node.

        Returns
        -------
        pandas.Series
            Indexed by the node's state labels, summing to 1.
        """
        self.network.check_node(node)
        if node in self.evidence:  # exact point mass, not a renormalised one
            values = np.zeros(len(self.network.states(node)))
            values[self.network.states(node).index(self.evidence[node])] = 1.0
        else:
            values = self._marginal_array(self._query, node)
        return pd.Series(values, index=pd.Index(self.network.states(node), name="state"),
                         name=node)

    def prior(self, node: str) -> pd.Series:
        """Distribution of ``node`` with no evidence at all."""
        self.network.check_node(node)
        values = self._marginal_array(self._prior, node)
        return pd.Series(values, index=pd.Index(self.network.states(node), name="state"),
                         name=node)

    def joint(self) -> pd.Series:
        """The joint posterior of all targets, indexed by their states."""
        index = pd.MultiIndex.from_product(
            [self.network.states(t) for t in self.network.targets], names=list(self.network.targets)
        )
        return pd.Series(self._query.target_joint.ravel(), index=index, name="posterior")

    # -- tables ----------------------------------------------------------------------------
    def to_frame(self, uncertainty=None) -> pd.DataFrame:
        """Tidy table of the targets: one row per (target, state) with prior and posterior.

        Parameters
        ----------
        uncertainty : Uncertainty, optional
            From :func:`bayesdx.uncertainty` on the same network and evidence: adds each
            posterior's ``median``, ``ci<level>_low`` and ``ci<level>_high`` over its draws.

        Returns
        -------
        pandas.DataFrame
            Columns ``target``, ``state``, ``prior``, ``posterior`` (and the interval columns).
        """
        rows = []
        for target in self.network.targets:
            post = self._marginal_array(self._query, target)
            prior = self._marginal_array(self._prior, target)
            for state, p0, p1 in zip(self.network.states(target), prior, post):
                rows.append({"target": target, "state": state, "prior": float(p0),
                             "posterior": float(p1)})
        frame = pd.DataFrame(rows, columns=["target", "state", "prior", "posterior"])
        if uncertainty is None:
            return frame
        from ._display_uncertainty import with_intervals

        return with_intervals(frame, self, uncertainty)

    def probability_not_reference(self) -> pd.Series:
        """For each target, P(target is not in its reference state): the probability of disease.

        The reference state is :meth:`Network.reference_state` (the one named in
        ``load_network(..., reference_states=...)``, else ``absent``, ``normal``, ``no``, ... by
        name), so on Hepar II as on the bundled networks this is P(disease present). A target
        with no such state (e.g. Pathfinder's ``Fault``, whose 63 states are all diseases) has no
        "not healthy" probability: it is left out with a :class:`~bayesdx.exceptions.
        NoReferenceStateWarning` (see its :meth:`marginal` instead), never summarised by an
        arbitrary first state. Sorted descending.

        Warns
        -----
        NoReferenceStateWarning
            Some targets were left out; the warning names them.
        """
        values, left_out = {}, []
        for t in self.network.targets:
            if not self.network.has_reference_state(t):
                left_out.append(t)
                continue
            ref = self.network.states(t).index(self.network.reference_state(t))
            values[t] = 1.0 - float(self._marginal_array(self._query, t)[ref])
        if left_out:
            import warnings

            from .exceptions import NoReferenceStateWarning, _cut

            shown = _cut(", ".join(f"'{t}'" for t in left_out), 200)
            warnings.warn(
                f"probability_not_reference leaves out {shown}: no state is named like a healthy "
                f"one (absent, normal, no, ...). Use marginal(), or name it with load_network(..., "
                f"reference_states={{{left_out[0]!r}: ...}}).", NoReferenceStateWarning, stacklevel=2)
        return pd.Series(values, name="posterior", dtype=float).sort_values(ascending=False)

    def what_if(self, test: str) -> pd.DataFrame:
        """Each target's posterior under each outcome of ``test``, with the outcome probabilities.

        Returns
        -------
        pandas.DataFrame
            Long format: ``outcome``, ``p_outcome``, ``target``, ``state``, ``posterior``.
        """
        self.network.check_node(test)
        if test in self.network.targets:
            raise ValueError(f"'{test}' is a target; what_if takes a test node.")
        joint = self._query.node_joints[test]
        targets = self.network.targets
        rows = []
        p_outcome = joint.reshape(-1, joint.shape[-1]).sum(axis=0)
        for x, state_x in enumerate(self.network.states(test)):
            if p_outcome[x] <= 0:
                continue
            cond = joint[..., x] / p_outcome[x]
            for axis, target in enumerate(targets):
                other = tuple(i for i in range(len(targets)) if i != axis)
                post = cond.sum(axis=other)
                for state, p in zip(self.network.states(target), post):
                    rows.append({"outcome": state_x, "p_outcome": float(p_outcome[x]),
                                 "target": target, "state": state, "posterior": float(p)})
        return pd.DataFrame(rows, columns=["outcome", "p_outcome", "target", "state", "posterior"])

    # -- display ---------------------------------------------------------------------------
    def __repr__(self) -> str:
        from ._display import diagnosis_text

        return diagnosis_text(self)

    def _repr_html_(self) -> str:
        from ._display import diagnosis_html

        return diagnosis_html(self)
