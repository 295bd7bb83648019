"""The inference seam: every exact engine answers the same two questions.

The rest of bayesdx never calls an inference library directly. It builds a :class:`ModelArrays`
(plain numpy conditional probability tables keyed by node names) and asks an :class:`Engine` for

* :meth:`Engine.joint_query`: for one evidence set, the joint posterior of the targets and, for every
  other requested node X, the joint P(targets, X | evidence). Posteriors, the value of information of
  every test and the "what if" tables all come from this one answer.
* :meth:`Engine.marginals_batch`: for many evidence sets at once (a cohort), the posterior marginal
  of the requested nodes.

:meth:`Engine.group_joint` (P(targets, several nodes together | evidence), what an order of several
readouts is valued on) is built on ``joint_query`` for every engine.

Engines are listed by name in :data:`bayesdx.engines.ENGINES`; :func:`bayesdx.engines.get_engine`
builds (and the :class:`~bayesdx.network.Network` caches) one per network.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .exceptions import BayesdxError

#: The most cells a diagnosis query may hold: the joint of the targets times (1 + the states of
#: every other node), since a diagnosis keeps P(targets, X) for each other node X. 2**27 float64
#: cells are 1 GiB. A network whose targets exceed it is refused when it is built, and an order
#: whose readouts' joint with the targets exceeds it is refused before any work
#: (:class:`~bayesdx.exceptions.StateSpaceTooLargeError`).
MAX_QUERY_CELLS = 2**27

__all__ = ["ModelArrays", "JointQuery", "Engine", "EnumerationEngine", "MAX_QUERY_CELLS"]


@dataclass(frozen=True)
class ModelArrays:
    """A discrete Bayesian network as plain arrays.

    Attributes
    ----------
    nodes : tuple of str
        Node names in a topological order.
    states : dict of str to tuple of str
        State labels of each node, in table order.
    parents : dict of str to tuple of str
        Parents of each node, in table order.
    cpts : dict of str to numpy.ndarray
        ``cpts[n]`` has shape ``(*(card(p) for p in parents[n]), card(n))``: parents first, the
        node itself on the last axis. Every slice over the last axis sums to 1.
    """

    nodes: tuple[str, ...]
    states: dict[str, tuple[str, ...]]
    parents: dict[str, tuple[str, ...]]
    cpts: dict[str, np.ndarray] = field(repr=False)

    def card(self, node: str) -> int:
        """Number of states of ``node``."""
        return len(self.states[node])


@dataclass(frozen=True)
class JointQuery:
    """The answer of :meth:`Engine.joint_query`.

    Attributes
    ----------
    prob_evidence : float
        P(evidence). Always > 0: engines raise instead of returning an impossible answer.
    targets : tuple of str
        The target nodes, in the order of the axes below.
    target_joint : numpy.ndarray
        P(targets | evidence), shape ``(card(t) for t in targets)``, sums to 1.
    node_joints : dict of str to numpy.ndarray
        For each requested non-target node X, P(targets, X | evidence) with shape
        ``(*target_joint.shape, card(X))``, summing to 1. An observed X is a point mass on its
        observed state.
    log_prob_evidence : float
        ln P(evidence), finite even when ``prob_evidence`` underflows to 0.0; NaN from an engine
        that does not compute it.
    """

    prob_evidence: float
    targets: tuple[str, ...]
    target_joint: np.ndarray
    node_joints: dict[str, np.ndarray]
    log_prob_evidence: float = float("nan")


class LazyJoints(Mapping):
    """``node_joints`` built one node at a time on first access and kept: a subclass gives
    :meth:`_build` (raising ``KeyError`` for a node it was not asked for)."""

    def __init__(self, nodes: Sequence[str]):
        self._nodes = tuple(nodes)
        self._made: dict = {}

    def _build(self, name: str) -> np.ndarray:
        raise NotImplementedError

    def __getitem__(self, name):
        got = self._made.get(name)
        if got is None:
            got = self._made[name] = self._build(name)
        return got

    def __iter__(self):
        return iter(self._nodes)

    def __len__(self):
        return len(self._nodes)

    def __repr__(self):
        return f"<node joints of {len(self._nodes)} nodes>"


class StackedJoints(LazyJoints):
    """``node_joints`` read from joints an engine kept side by side: P(free targets, X | e) of
    each unobserved node X in the columns ``columns[X] = (first, card)`` of ``stacked`` (a row
    per joint configuration of the unobserved targets), and the targets' joint times a point
    mass for an observed node (``observed``: variable index -> observed state). ``where`` places
    the free targets' rows in the full targets' shape when some targets are observed (None when
    every target is free)."""

    def __init__(self, nodes, index, cards, observed, columns, stacked, target_joint, free_cards, where):
        super().__init__(nodes)
        self._index, self._cards, self._observed, self._columns = index, cards, observed, columns
        self._stacked, self._tj, self._free_cards, self._where = stacked, target_joint, free_cards, where

    def _build(self, name):
        v = self._index[name]  # KeyError for a node not requested
        card, shape = self._cards[v], self._tj.shape
        state = self._observed.get(v)
        if state is not None:
            got = np.zeros((*shape, card))
            got[..., state] = self._tj
            return got
        o = self._columns[name][0]
        part = self._stacked[:, o:o + card]
        if self._where is None:
            return part.reshape((*shape, card))
        got = np.zeros((*shape, card))
        got[self._where] = part.reshape((*self._free_cards, card))
        return got


def request_indices(index: Mapping[str, int], targets: Sequence[str], nodes: Sequence[str]):
    """The variable indices of a joint query's targets and nodes, refusing a target listed twice
    or also asked for as a node (``ValueError``)."""
    t_idx = [index[t] for t in targets]
    n_idx = [index[n] for n in nodes]
    if len(set(t_idx)) != len(t_idx):
        raise ValueError("A target is listed twice.")
    if not set(t_idx).isdisjoint(n_idx):
        raise ValueError("nodes must not contain a target.")
    return t_idx, n_idx


class ZeroProbabilityEvidence(BayesdxError, ValueError):
    """Raised by engines when P(evidence) = 0; the public API turns it into
    :class:`~bayesdx.exceptions.ImpossibleEvidenceError` with state labels."""


class Engine(abc.ABC):
    """Exact inference over one compiled network.

    Subclasses are built once per network (``Engine(arrays)``) and then answer any number of
    queries. Evidence is given as state *indices* here; the public API translates labels.
    """

    name: str = "abstract"

    def __init__(self, arrays: ModelArrays):
        self.arrays = arrays

    @abc.abstractmethod
    def joint_query(
        self,
        evidence: Mapping[str, int],
        targets: Sequence[str],
        nodes: Sequence[str],
    ) -> JointQuery:
        """P(targets | evidence) and P(targets, X | evidence) for every X in ``nodes``.

        ``nodes`` must not contain a target. Raises :class:`ZeroProbabilityEvidence` when
        P(evidence) = 0.
        """

    def group_joint(
        self,
        evidence: Mapping[str, int],
        targets: Sequence[str],
        group: Sequence[str],
    ) -> np.ndarray:
        """P(targets, group | evidence) for several unobserved non-target nodes taken together.

        One :meth:`joint_query` in which all but the largest node of ``group`` join the targets
        (so every engine batches over them as it batches over the targets' joint state), reading
        the largest node's joint with them.

        Returns
        -------
        numpy.ndarray
            Shape ``(*(card(t) for t in targets), *(card(g) for g in group))``, summing to 1.
            With an empty group, P(targets | evidence).

        Raises
        ------
        ValueError
            A node of ``group`` is listed twice, is a target or is observed.
        ZeroProbabilityEvidence
            P(evidence) = 0.
        """
        targets, group = tuple(targets), tuple(group)
        if len(set(group)) != len(group):
            raise ValueError(f"A node is listed twice in the group {group}.")
        clash = [g for g in group if g in targets or g in evidence]
        if clash:
            raise ValueError(f"group nodes must be unobserved non-targets; got {', '.join(clash)}.")
        if not group:
            return self.joint_query(evidence, targets, []).target_joint
        _check_group_size(self.arrays, targets, group)
        last = max(range(len(group)), key=lambda i: (self.arrays.card(group[i]), i))
        head = tuple(g for i, g in enumerate(group) if i != last)
        joint = self.joint_query(evidence, (*targets, *head), [group[last]]).node_joints[group[last]]
        # axes are (targets, head, last); move last back to its place in the group
        nt = len(targets)
        return np.moveaxis(joint, nt + len(head), nt + last)

    @abc.abstractmethod
    def marginals_batch(
        self,
        evidence_nodes: Sequence[str],
        evidence: np.ndarray,
        nodes: Sequence[str],
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Posterior marginals for many evidence sets at once.

        Parameters
        ----------
        evidence_nodes : sequence of str
            The observed columns.
        evidence : numpy.ndarray of int, shape (n_cases, len(evidence_nodes))
            State index per case and column; -1 means not observed.
        nodes : sequence of str
            Nodes whose posterior marginals are wanted.

        Returns
        -------
        marginals : dict of str to numpy.ndarray of shape (n_cases, card(node))
            Rows of impossible cases are NaN.
        possible : numpy.ndarray of bool, shape (n_cases,)
            False where P(evidence of that case) = 0.
        """


def _check_group_size(arrays: ModelArrays, targets: tuple, group: tuple) -> None:
    """Refuse a group whose joint with the targets exceeds the query budget, before any work."""
    import math

    from .exceptions import StateSpaceTooLargeError

    cells = math.prod(arrays.card(n) for n in (*targets, *group))
    if cells > MAX_QUERY_CELLS:
        shown = ", ".join(group[:6]) + (", ..." if len(group) > 6 else "")
        raise StateSpaceTooLargeError(
            f"The joint of {len(targets)} target(s) and {len(group)} readouts taken together "
            f"({shown})", cells, MAX_QUERY_CELLS,
            "Split the order into orders of fewer readouts, or choose fewer targets.")


def marginals_case_by_case(engine: Engine, evidence_nodes, evidence, nodes, case_marginals):
    """``marginals_batch`` for engines that answer one case at a time.

    ``case_marginals(ev)`` gets one case's evidence ``{node: state index}`` and returns
    ``{node: marginal}`` for ``nodes``, or None when that evidence is impossible.
    """
    evidence = np.asarray(evidence)
    out = {n: np.full((len(evidence), engine.arrays.card(n)), np.nan) for n in nodes}
    possible = np.zeros(len(evidence), dtype=bool)
    for i, row in enumerate(evidence):
        answer = case_marginals({n: int(s) for n, s in zip(evidence_nodes, row) if s >= 0})
        if answer is not None:
            possible[i] = True
            for n in nodes:
                out[n][i] = answer[n]
    return out, possible


class EnumerationEngine(Engine):
    """Brute-force enumeration of the full joint distribution.

    The independent oracle for small networks (up to about a million joint states): no
    elimination order, no message passing, just the product of all tables.
    """

    name = "enumeration"
    max_joint_size = 2**22

    def __init__(self, arrays: ModelArrays):
        super().__init__(arrays)
        size = int(np.prod([arrays.card(n) for n in arrays.nodes], dtype=float))
        if size > self.max_joint_size:
            raise BayesdxError(
                f"The enumeration engine holds the full joint distribution; this network has "
                f"{size:.3g} joint states (limit {self.max_joint_size}). Use engine='jtree'."
            )
        self._axes = {n: i for i, n in enumerate(arrays.nodes)}
        joint = np.ones([arrays.card(n) for n in arrays.nodes])
        for node in arrays.nodes:
            scope = (*arrays.parents[node], node)
            shape = [1] * len(arrays.nodes)
            for name in scope:
                shape[self._axes[name]] = arrays.card(name)
            order = np.argsort([self._axes[name] for name in scope])
            table = np.transpose(arrays.cpts[node], order).reshape(shape)
            joint = joint * table
        self.joint = joint

    def _restricted(self, evidence: Mapping[str, int]) -> np.ndarray:
        table = self.joint
        for node, state in evidence.items():
            shape = [1] * table.ndim
            shape[self._axes[node]] = self.arrays.card(node)
            indicator = np.zeros(self.arrays.card(node))
            indicator[int(state)] = 1.0
            table = table * indicator.reshape(shape)
        return table

    def _sum_to(self, table: np.ndarray, keep: Sequence[str]) -> np.ndarray:
        axes = [self._axes[n] for n in keep]
        other = tuple(i for i in range(table.ndim) if i not in axes)
        reduced = table.sum(axis=other)
        remaining = sorted(axes)
        return np.transpose(reduced, [remaining.index(a) for a in axes])

    def joint_query(self, evidence, targets, nodes):
        sub = self._restricted(evidence)
        total = float(sub.sum())
        if not total > 0:
            raise ZeroProbabilityEvidence("P(evidence) = 0")
        target_joint = self._sum_to(sub, targets) / total
        node_joints = {n: self._sum_to(sub, [*targets, n]) / total for n in nodes}
        return JointQuery(total, tuple(targets), target_joint, node_joints)

    def marginals_batch(self, evidence_nodes, evidence, nodes):
        def case(ev):
            sub = self._restricted(ev)
            total = sub.sum()
            return {n: self._sum_to(sub, [n]) / total for n in nodes} if total > 0 else None

        return marginals_case_by_case(self, evidence_nodes, evidence, nodes, case)
