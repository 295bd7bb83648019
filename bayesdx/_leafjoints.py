"""The joints of unobserved leaf nodes, read from their parents' instead of asked of the engine.

An unobserved node X without children factors out of the network:
P(targets, X | e) = Σ_h P(targets, h | e) P(X | pa(X)), with h its one parent that is neither a
target, observed, nor a deterministic summary of those (such summaries are folded into X's table,
see :func:`bayesdx.ranking._readout_table`). :func:`joint_query` asks the engine for every other
node's joint and builds each leaf's on first access: on networks whose findings are leaves (the
bundled one: 42 of its 58 non-target nodes) reading them is most of the engine's work.

A leaf whose product under- or overflows float64 is asked of the engine after all, which checks
every step (and widens its precision where it must), so the guarantees are the engine's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .inference import JointQuery, LazyJoints

__all__ = ["LeafJointQuery", "joint_query", "MIN_TARGET_STATES"]

#: Below this many joint states of the unobserved targets the engine reads the leaves itself:
#: each leaf read here costs tens of microseconds of Python, which only pays when the engine's
#: read of a leaf is repeated over many target states (the bundled network: 800; its 0.1
#: version, 96, is faster through the engine).
MIN_TARGET_STATES = 256


@dataclass(frozen=True)
class LeafJointQuery(JointQuery):
    """:class:`~bayesdx.inference.JointQuery` whose leaves' joints are built on first access
    (``log_prob_evidence`` as the engine gave it)."""


def joint_query(network, evidence: Mapping[str, int], nodes: Sequence[str]) -> JointQuery:
    """``network.engine.joint_query(evidence, network.targets, nodes)``, with the unobserved
    leaves of ``nodes`` that have at most one hidden parent read from that parent's joint when
    the unobserved targets have at least :data:`MIN_TARGET_STATES` joint states."""
    from .ranking import _children, _deterministic

    arrays, targets = network.arrays, network.targets
    if math.prod(arrays.card(t) for t in targets if t not in evidence) < MIN_TARGET_STATES:
        return network.engine.joint_query(evidence, targets, nodes)
    kids = _children(network)
    known = set(targets) | set(evidence)
    leaves: dict[str, str | None] = {}
    for x in nodes:
        if kids[x] or x in evidence:
            continue
        hidden = [p for p in arrays.parents[x] if p not in known and not (
            _deterministic(network, p) and set(arrays.parents[p]) <= known)]
        if len(hidden) <= 1:
            leaves[x] = hidden[0] if hidden else None
    asked = [x for x in nodes if x not in leaves]
    asked += [h for h in dict.fromkeys(leaves.values()) if h is not None and h not in asked]
    query = network.engine.joint_query(evidence, targets, asked)
    if not leaves:
        return query
    joints = _LeafJoints(network, evidence, query, tuple(nodes), leaves, known)
    return LeafJointQuery(query.prob_evidence, query.targets, query.target_joint, joints,
                          float(query.log_prob_evidence))


class _LeafJoints(LazyJoints):
    """``node_joints``: the engine's, and each leaf's built on first access."""

    def __init__(self, network, evidence, query, nodes, leaves, known):
        super().__init__(nodes)
        self._network, self._evidence, self._query = network, evidence, query
        self._leaves, self._known = leaves, known
        self._asked = set(nodes)

    def _build(self, name):
        if name in self._leaves:
            return self._leaf(name)
        if name not in self._asked:
            raise KeyError(name)
        return self._query.node_joints[name]

    def _leaf(self, x: str) -> np.ndarray:
        from .ranking import _readout_table

        network, query, targets = self._network, self._query, self._query.targets
        hidden = self._leaves[x]
        try:
            with np.errstate(over="raise", under="raise", invalid="raise", divide="raise"):
                axes_names, table = _readout_table(network, x, self._evidence, self._known)
                joint = query.target_joint if hidden is None else query.node_joints[hidden]
                return _contract(joint, hidden is not None, targets, axes_names, table,
                                 network.arrays.card(x))
        except FloatingPointError:  # the engine checks every step and widens where it must
            return network.engine.joint_query(self._evidence, targets, [x]).node_joints[x]

def _contract(joint: np.ndarray, has_hidden: bool, targets: Sequence[str],
              axes_names: Sequence[str], table: np.ndarray, card: int) -> np.ndarray:
    """Σ_h P(targets, h) P(x | its parents) as matrix products batched over the targets x
    depends on: ``joint`` is P(targets[, h]), ``table`` is over ``axes_names`` (targets x
    depends on, then h if any, then x, in any order)."""
    n_t = len(targets)
    tshape = joint.shape[:n_t]
    h_card = joint.shape[n_t] if has_hidden else 1
    joint = joint.reshape((*tshape, h_card))
    dep = [k for k, t in enumerate(targets) if t in axes_names]
    indep = [k for k in range(n_t) if k not in dep]
    perm = dep + indep
    own = [axes_names.index(targets[k]) for k in dep]
    rest = [i for i in range(len(axes_names)) if i not in own]  # (h,) x, in table order
    table = np.transpose(table, own + rest)
    d = int(np.prod([tshape[k] for k in dep], dtype=np.int64))
    r = int(np.prod([tshape[k] for k in indep], dtype=np.int64))
    lhs = np.transpose(joint, perm + [n_t]).reshape(d, r, h_card)
    out = np.matmul(lhs, table.reshape(d, h_card, card))
    out = out.reshape((*(tshape[k] for k in perm), card))
    return np.transpose(out, [*np.argsort(perm), n_t])
