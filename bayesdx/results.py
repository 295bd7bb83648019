"""``diagnose`` and its result: posteriors of every node and the tests ranked by value of
information."""

from __future__ import annotations

import html
from collections.abc import Mapping
from functools import cached_property
from types import MappingProxyType

import numpy as np
import pandas as pd

from .exceptions import ImpossibleEvidenceError
from .inference import JointQuery, ZeroProbabilityEvidence
from .network import Network
from .voi import entropy_bits, mutual_information_many_bits

__all__ = ["diagnose", "Diagnosis"]

RANKING_COLUMNS = ["info_gain_bits", "cost_usd", "invasive", "kind", "outcome_probs"]


def _query(network: Network, encoded: dict[str, int], labels: Mapping[str, str]) -> JointQuery:
    nodes = [n for n in network.nodes if n not in network.targets]
    try:
        return network.engine.joint_query(encoded, network.targets, nodes)
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


def diagnose(network: Network | str, *, evidence: Mapping[str, str] | None = None) -> Diagnosis:
    """Posterior of every target given the evidence, and every unobserved test ranked by value of
    information.

    Parameters
    ----------
    network : Network or str
        A loaded network, or anything :func:`bayesdx.load_network` accepts without targets
        (e.g. a bundled name).
    evidence : mapping of str to str, optional
        Observed findings ``{node: state}``, by label.

    Returns
    -------
    Diagnosis

    Raises
    ------
    UnknownNodeError, UnknownStateError
        A node or state the network does not have (with the closest valid names).
    ImpossibleEvidenceError
        The evidence has probability zero.

    Examples
    --------
    >>> import bayesdx
    >>> net = bayesdx.load_network("fasciculation")
    >>> dx = bayesdx.diagnose(net, evidence={"ck": "gt_1000", "dermatomyositis_rash": "present"})
    >>> round(float(dx.marginal("inflammatory_myopathy").sum()), 12)
    1.0
    >>> dx.next_test in net.tests
    True
    >>> bool((dx.ranking["info_gain_bits"] >= 0).all())
    True
    """
    if not isinstance(network, Network):
        from .io import load_network

        network = load_network(network)
    encoded = network.encode_evidence(evidence)
    labels = {n: network.states(n)[s] for n, s in encoded.items()}
    query = _query(network, encoded, labels)
    return Diagnosis(network, labels, query, _prior(network))


class Diagnosis:
    """The answer of :func:`diagnose`. Immutable.

    Attributes
    ----------
    network : Network
    evidence : mapping of str to str
        The evidence, by label.
    prob_evidence : float
        P(evidence) under the network.
    entropy_bits : float
        Entropy of the joint posterior of the targets, in bits.
    ranking : pandas.DataFrame
        One row per unobserved test, sorted by ``info_gain_bits`` (descending; ties by cost),
        built on first access.
    next_test : str or None
        The test with the highest value of information (None when every test is observed).
    """

    def __init__(self, network: Network, evidence: Mapping[str, str], query: JointQuery,
                 prior: JointQuery):
        self.network = network
        self.evidence = MappingProxyType(dict(evidence))
        self._query = query
        self._prior = prior
        self.prob_evidence = float(query.prob_evidence)
        self.entropy_bits = entropy_bits(query.target_joint)
        self._tests = [t for t in network.tests if t not in self.evidence]
        self._gains = mutual_information_many_bits(
            query.target_joint, [query.node_joints[t] for t in self._tests])
        costs = network._costs()
        self._costs = np.array([costs[t] for t in self._tests])
        # ranking order: gain descending, then cost ascending (NaN last), then name
        names = np.array(self._tests, dtype=object)
        costs = np.where(np.isnan(self._costs), np.inf, self._costs)
        self._order = (np.lexsort((names, costs, -self._gains)) if self._tests
                       else np.zeros(0, dtype=int))
        self.next_test = self._tests[self._order[0]] if self._tests else None

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
    def to_frame(self) -> pd.DataFrame:
        """Tidy table of the targets: one row per (target, state) with prior and posterior.

        Returns
        -------
        pandas.DataFrame
            Columns ``target``, ``state``, ``prior``, ``posterior``.
        """
        rows = []
        for target in self.network.targets:
            post = self._marginal_array(self._query, target)
            prior = self._marginal_array(self._prior, target)
            for state, p0, p1 in zip(self.network.states(target), prior, post):
                rows.append({"target": target, "state": state, "prior": float(p0),
                             "posterior": float(p1)})
        return pd.DataFrame(rows, columns=["target", "state", "prior", "posterior"])

    def probability_not_reference(self) -> pd.Series:
        """For each target, P(target is not in its reference state): the probability of disease.

        The reference state is :meth:`Network.reference_state` (``absent``, ``normal``, ``no``,
        ... by name, else the first state), so on Hepar II as on the bundled networks this is
        P(disease present). Sorted descending.
        """
        values = {}
        for t in self.network.targets:
            ref = self.network.states(t).index(self.network.reference_state(t))
            values[t] = 1.0 - float(self._marginal_array(self._query, t)[ref])
        return pd.Series(values, name="posterior").sort_values(ascending=False)

    @cached_property
    def ranking(self) -> pd.DataFrame:
        """One row per unobserved test, by ``info_gain_bits`` descending (ties: cheaper first).

        Columns: ``info_gain_bits`` (I(targets ; test | evidence) in bits), ``cost_usd``,
        ``invasive``, ``kind`` and ``outcome_probs`` ({outcome: probability}).
        """
        spec = self.network.spec
        tests = [self._tests[i] for i in self._order]
        outcome_probs = []
        for test in tests:
            joint = self._query.node_joints[test]
            probs = joint.reshape(-1, joint.shape[-1]).sum(axis=0)
            outcome_probs.append(dict(zip(self.network.states(test), probs.tolist())))
        nodes = [spec.nodes[t] if spec is not None else None for t in tests]
        frame = pd.DataFrame(
            {
                "info_gain_bits": self._gains[self._order].astype(float),
                "cost_usd": self._costs[self._order].astype(float),
                "invasive": [n.invasive if n is not None else None for n in nodes],
                "kind": [n.kind if n is not None else None for n in nodes],
                "outcome_probs": outcome_probs,
            },
            index=pd.Index(tests, name="test", dtype=object),
            columns=RANKING_COLUMNS,
        )
        return frame

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
        ev = ", ".join(f"{k}={v}" for k, v in self.evidence.items()) or "none"
        lines = [f"Diagnosis on {self.network.name!r} given {ev}"]
        width = max(len(t) for t in self.network.targets)
        for target in self.network.targets:
            post = self.marginal(target)
            parts = "  ".join(f"{s} {p:6.1%}" for s, p in post.items())
            lines.append(f"  {target:<{width}}  {parts}")
        if self.next_test is not None:
            top = self.ranking.head(5)
            lines.append("Tests by value of information (bits):")
            lines.extend(f"  {t:<28} {g:.4f}" for t, g in top["info_gain_bits"].items())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        ev = ", ".join(f"{html.escape(k)}={html.escape(v)}" for k, v in self.evidence.items()) or "none"
        out = [f"<div><p><b>Diagnosis</b> on <code>{html.escape(self.network.name)}</code> "
               f"given {ev}</p><table><tr><th>target</th><th>state</th><th>prior</th>"
               f"<th>posterior</th><th></th></tr>"]
        for row in frame.itertuples(index=False):
            bar = (f'<div style="background:#3572b0;height:0.8em;width:{100 * row.posterior:.1f}px">'
                   f"</div>")
            out.append(f"<tr><td>{html.escape(row.target)}</td><td>{html.escape(row.state)}</td>"
                       f"<td>{row.prior:.3f}</td><td>{row.posterior:.3f}</td><td>{bar}</td></tr>")
        out.append("</table>")
        if len(self.ranking):
            top = self.ranking.head(10).drop(columns=["outcome_probs"])
            out.append("<p><b>Next tests</b> (value of information)</p>")
            out.append(top.to_html(float_format=lambda v: f"{v:.4f}", na_rep=""))
        out.append("</div>")
        return "".join(out)
