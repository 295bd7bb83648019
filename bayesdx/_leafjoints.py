"""The joints of unobserved leaf nodes, read from their parents' instead of asked of the engine.

An unobserved node X without children factors out of the network:
P(targets, X | e) = Σ_h P(targets, h | e) P(X | pa(X)), with h its one parent that is neither a
target, observed, nor a deterministic summary of those (such summaries are folded into X's table,
see :func:`_readout_table`). :func:`joint_query` asks the engine for every other
node's joint and builds each leaf's on first access: on networks whose findings are leaves (the
bundled one: 42 of its 58 non-target nodes) reading them is most of the engine's work. The joint
of several unobserved leaves read by one order (:func:`_leaf_group_joint`) is read from their
parents' the same way. A ranking gathers all its orders' leaf blocks for one pass
(:mod:`bayesdx._leafbatch`, compiled with the compiled engine) and comes here for the blocks made
the numpy way.

A leaf whose product under- or overflows float64 is asked of the engine after all, which checks
every step (and widens its precision where it must), so the guarantees are the engine's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .inference import JointQuery, LazyJoints

__all__ = ["LeafJointQuery", "joint_query", "MIN_TARGET_STATES", "MAX_GROUP_ENTRIES"]

#: A group of leaves whose joint with the targets and their hidden parents has more entries than
#: this is asked of the engine, which batches it, instead of being read from its parents'.
MAX_GROUP_ENTRIES = 5e7

#: Below this many joint states of the unobserved targets the engine reads the leaves itself:
#: each leaf read here costs tens of microseconds of Python, which only pays when the engine's
#: read of a leaf is repeated over many target states (the bundled network: 800; its 0.1
#: version, 96, is faster through the engine).
MIN_TARGET_STATES = 256


@dataclass(frozen=True)
class LeafJointQuery(JointQuery):
    """:class:`~bayesdx.inference.JointQuery` whose leaves' joints are built on first access
    (``log_prob_evidence`` as the engine gave it).

    ``leaves`` names the nodes the engine did not read; ``stacked`` and ``columns`` are the
    engine's joints side by side, when it kept them so (see
    :class:`~bayesdx.jtree.JTreeJointQuery`), for the nodes it read."""

    engine_query: JointQuery | None = None
    leaves: frozenset = frozenset()

    @property
    def stacked(self) -> np.ndarray | None:
        return getattr(self.engine_query, "stacked", None)

    @property
    def columns(self) -> dict:
        return getattr(self.engine_query, "columns", None) or {}


def joint_query(network, evidence: Mapping[str, int], nodes: Sequence[str]) -> JointQuery:
    """``network.engine.joint_query(evidence, network.targets, nodes)``, with the unobserved
    leaves of ``nodes`` that have at most one hidden parent read from that parent's joint when
    the unobserved targets have at least :data:`MIN_TARGET_STATES` joint states."""
    arrays, targets = network.arrays, network.targets
    if math.prod(arrays.card(t) for t in targets if t not in evidence) < MIN_TARGET_STATES:
        return network.engine.joint_query(evidence, targets, nodes)
    known = set(targets) | set(evidence)
    leaves: dict[str, str | None] = {}
    for x, parents in _childless(network, nodes):
        if x in evidence:
            continue
        hidden = [p for p, summary_of in parents if p not in known and not (
            summary_of is not None and summary_of <= known)]
        if len(hidden) <= 1:
            leaves[x] = hidden[0] if hidden else None
    asked = [x for x in nodes if x not in leaves]
    asked += [h for h in dict.fromkeys(leaves.values()) if h is not None and h not in asked]
    query = network.engine.joint_query(evidence, targets, asked)
    if not leaves:
        return query
    joints = _LeafJoints(network, evidence, query, tuple(nodes), leaves, known)
    return LeafJointQuery(query.prob_evidence, query.targets, query.target_joint, joints,
                          float(query.log_prob_evidence), query, frozenset(leaves))


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
        network, query, targets = self._network, self._query, self._query.targets
        hidden = self._leaves[x]
        try:
            with np.errstate(over="raise", under="raise", invalid="raise", divide="raise"):
                axes_names, table = _readout_table(network, x, self._evidence, self._known)
                joint = query.target_joint if hidden is None else query.node_joints[hidden]
                return _contract(joint, hidden is not None, targets, axes_names, table,
                                 network.arrays.card(x), _plans(network))
        except FloatingPointError:  # the engine checks every step and widens where it must
            return network.engine.joint_query(self._evidence, targets, [x]).node_joints[x]


def _childless(network, nodes: Sequence[str]) -> tuple:
    """The nodes of ``nodes`` without children, each with its parents as ``(parent,
    summary_of)``: ``summary_of`` the set of the parent's own parents when it is deterministic
    (a summary that is known once they are), else None. Kept on the network per ``nodes``."""
    key = ("childless", tuple(nodes))
    cache = network._cache
    got = cache.get(key)
    if got is None:
        kids, parents = _children(network), network.arrays.parents
        got = cache[key] = tuple(
            (x, tuple((p, frozenset(parents[p]) if _deterministic(network, p) else None)
                      for p in parents[x]))
            for x in nodes if not kids[x])
    return got


def _plans(network) -> dict:
    """The network's store of :func:`_contract` plans, by readout table."""
    got = network._cache.get("leaf plans")
    if got is None:
        got = network._cache["leaf plans"] = {}
    return got


def _contract(joint: np.ndarray, has_hidden: bool, targets: Sequence[str],
              axes_names: Sequence[str], table: np.ndarray, card: int,
              plans: dict | None = None) -> np.ndarray:
    """Σ_h P(targets, h) P(x | its parents) as matrix products batched over the targets x
    depends on: ``joint`` is P(targets[, h]), ``table`` is over ``axes_names`` (targets x
    depends on, then h if any, then x, in any order).

    The axes' bookkeeping and ``table`` laid out for the product are kept in ``plans`` (by the
    table, which the network keeps) when it is given."""
    n_t = len(targets)
    h_card = joint.shape[n_t] if has_hidden else 1
    key = (id(table), joint.shape[:n_t], h_card)
    got = plans.get(key) if plans is not None else None
    if got is None or got[0] is not table:
        got = (table, *_contract_plan(joint.shape[:n_t], h_card, targets, axes_names, table, card))
        if plans is not None:
            plans[key] = got
    _, joint_shape, perm, d, r, rhs, out_shape, back = got
    lhs = np.transpose(joint.reshape(joint_shape), perm).reshape(d, r, h_card)
    out = np.matmul(lhs, rhs)
    return np.transpose(out.reshape(out_shape), back)


def _contract_plan(tshape: tuple, h_card: int, targets: Sequence[str],
                   axes_names: Sequence[str], table: np.ndarray, card: int) -> tuple:
    """What :func:`_contract` derives from the shapes and the table alone: the joint's shape and
    axis order for the product, its batch and row counts, the table as (d, h, card), and the
    product's shape and axis order back."""
    n_t = len(targets)
    dep = [k for k, t in enumerate(targets) if t in axes_names]
    indep = [k for k in range(n_t) if k not in dep]
    perm = dep + indep
    own = [axes_names.index(targets[k]) for k in dep]
    rest = [i for i in range(len(axes_names)) if i not in own]  # (h,) x, in table order
    table = np.transpose(table, own + rest)
    d = math.prod(tshape[k] for k in dep)
    r = math.prod(tshape[k] for k in indep)
    rhs = table.reshape(d, h_card, card)
    back = [perm.index(k) for k in range(n_t)] + [n_t]  # the inverse permutation
    return ((*tshape, h_card), perm + [n_t], d, r, rhs, (*(tshape[k] for k in perm), card), back)


# -- the joints of groups of readouts (orders of several readouts) ---------------------------


def _children(network) -> dict[str, tuple[str, ...]]:
    key = ("children",)
    cache = network._cache
    if key not in cache:
        arrays = network.arrays
        kids: dict[str, list[str]] = {n: [] for n in arrays.nodes}
        for node in arrays.nodes:
            for parent in arrays.parents[node]:
                kids[parent].append(node)
        cache[key] = {n: tuple(k) for n, k in kids.items()}
    return cache[key]


def _deterministic(network, node: str) -> bool:
    """Whether every row of ``node``'s table is a point mass (a function of its parents)."""
    key = ("deterministic", node)
    cache = network._cache
    if key not in cache:
        table = network.arrays.cpts[node]
        cache[key] = bool(np.all((table == 0.0) | (table == 1.0)))
    return cache[key]


def _relevant(network, r: str) -> tuple[str, ...]:
    """The nodes whose evidence :func:`_readout_table` of ``r`` depends on: its parents and
    those of its deterministic parents (kept on the network)."""
    cache = network._cache
    got = cache.get(("relevant", r))
    if got is None:
        parents = network.arrays.parents[r]
        got = cache[("relevant", r)] = (*parents, *(
            q for p in parents if _deterministic(network, p) for q in network.arrays.parents[p]))
    return got


def _readout_table(network, r: str, evidence: Mapping[str, int], known: set) -> tuple:
    """(axes, P(r | its unobserved parents, e)) with its deterministic summary parents folded in.

    A parent that is a deterministic function of known nodes (targets and observed) is summed
    out, one at a time: P(r | ..., targets) = Σ_a P(a | its parents) P(r | a, ...). Observed
    parents are sliced at their states. The table depends on the evidence only through r's
    parents and those of its deterministic parents, so it is computed once per network for each
    such pattern.
    """
    arrays = network.arrays
    parents = arrays.parents[r]
    cache = network._cache
    key = ("readout table", r, network.targets, tuple([evidence.get(p, -1) for p in _relevant(network, r)]))
    got = cache.get(key)
    if got is not None:
        return got
    folded = [a for a in parents if a not in known and _deterministic(network, a)
              and set(arrays.parents[a]) <= known]
    names = list(dict.fromkeys(p for p in parents if p not in evidence))
    for a in folded:
        names += [p for p in arrays.parents[a] if p not in evidence and p not in names]
    names = [n for n in names if n not in folded] + [r] + folded
    position = {n: k for k, n in enumerate(names)}

    def factor(node):
        index = tuple(evidence[p] if p in evidence else slice(None) for p in arrays.parents[node])
        axes = [position[p] for p in arrays.parents[node] if p not in evidence] + [position[node]]
        shape = [1] * len(names)
        for k in axes:
            shape[k] = arrays.card(names[k])
        return np.transpose(arrays.cpts[node][index], np.argsort(axes)).reshape(shape)

    table = factor(r)
    for a in folded:
        table = (table * factor(a)).sum(axis=position[a], keepdims=True)
    table = table.reshape(table.shape[:len(names) - len(folded)])
    table.flags.writeable = False
    cache[key] = (tuple(names[:len(names) - len(folded)]), table)
    return cache[key]


def _group_parents(network, free: Sequence[str], known: set) -> tuple[tuple, tuple] | None:
    """(hidden, folded) parents of the readouts ``free``, each in order of first appearance:
    *folded*, the deterministic summaries of ``known`` nodes (targets and observed), which are
    folded into the readouts' tables (:func:`_readout_table`); *hidden*, the others that are not
    known. None when a readout has children (it does not factor out of the joint)."""
    kids = _children(network)
    if any(kids[r] for r in free):
        return None
    parents = network.arrays.parents
    hidden: list[str] = []
    folded: list[str] = []
    for r in free:
        for p in parents[r]:
            if p in known or p in hidden or p in folded:
                continue
            if _deterministic(network, p) and set(parents[p]) <= known:
                folded.append(p)
            else:
                hidden.append(p)
    return tuple(hidden), tuple(folded)


def _leaf_group_joint(network, evidence: Mapping[str, int], query, free: Sequence[str]):
    """P(targets, free | evidence) when every node of ``free`` is an unobserved leaf, else None.

    Unobserved leaves R factor out of the joint: P(targets, R | e) = Σ_H P(targets, H | e)
    Π_r P(r | pa(r)), with H the parents of R that are neither targets nor observed. A parent
    that is a deterministic function of targets and observed nodes (a summary such as "overt
    thyroid disease") is folded into each readout's table, since P(a | targets, e) is its own
    table; for the others, P(targets, H | e) is read from the diagnosis' query when there is at
    most one (no engine call), else asked of the engine, which is much smaller than the readouts'
    joint.
    """
    arrays, targets = network.arrays, network.targets
    known = set(targets) | set(evidence)
    got = _group_parents(network, free, known)
    if got is None:
        return None
    hidden = got[0]
    names = (*targets, *hidden, *free)
    cards = [arrays.card(n) for n in names]
    n_core = len(names)
    if math.prod(cards) > MAX_GROUP_ENTRIES:  # let the engine batch it instead
        return None
    if not hidden:
        joint = query.target_joint
    elif len(hidden) == 1:
        joint = query.node_joints[hidden[0]]
    else:
        joint = network.engine.group_joint(evidence, targets, hidden)
    read = [_readout_table(network, r, evidence, known) for r in free]
    # each readout's table over (targets, H, free), 1 where it does not depend: kept on the
    # network per readout tables (which it keeps per evidence pattern)
    key = ("group tables", names, tuple(id(table) for _, table in read))
    got = network._cache.get(key)
    if got is None or any(a is not b for a, b in zip(got[0], read)):
        position = {n: k for k, n in enumerate(names)}
        tables = []
        for axes_names, table in read:
            axes = [position[n] for n in axes_names]
            shape = [1] * n_core
            for k in axes:
                shape[k] = cards[k]
            tables.append(np.transpose(table, np.argsort(axes)).reshape(shape))
        got = network._cache[key] = (read, tuple(tables))
    tables = got[1]
    joint = np.reshape(joint, (*joint.shape, *([1] * len(free))))
    if not hidden or len(free) == 1:
        product = joint
        for table in tables:
            product = product * table
        hidden_axes = tuple(range(len(targets), len(targets) + len(hidden)))
        return product.sum(axis=hidden_axes) if hidden_axes else product
    return _contract_hidden(joint, tables, len(targets), [cards[len(targets) + k]
                                                          for k in range(len(hidden))])


def _contract_hidden(joint: np.ndarray, tables: Sequence[np.ndarray], n_t: int,
                     hidden_cards: Sequence[int]) -> np.ndarray:
    """Σ_H joint × Π tables over axes (targets, hidden H, readouts), as one batched matrix
    product: the readouts are split in two halves, each half's tables multiplied together over
    (targets, H, its readouts), and H contracted between them, so the full (targets, H, readouts)
    product is never formed."""
    n_h, n_f = len(hidden_cards), len(tables)
    f_cards = [t.shape[n_t + n_h + k] for k, t in enumerate(tables)]
    total, split, best = float(np.prod(f_cards)), 1, None
    for k in range(1, n_f):  # the split whose two halves are closest in size
        gap = abs(np.log(float(np.prod(f_cards[:k]))) - np.log(total) / 2)
        if best is None or gap < best:
            split, best = k, gap
    left, right = joint, tables[split]
    for table in tables[:split]:
        left = left * table
    for table in tables[split + 1:]:
        right = right * table
    t_axes, h_axes = list(range(n_t)), list(range(n_t, n_t + n_h))
    h_size = int(np.prod(hidden_cards))

    def matrix(half, lo, hi, hidden_last):
        """``half`` with its own readouts' axes (lo:hi) merged and H merged, H last or first."""
        f_axes = list(range(n_t + n_h + lo, n_t + n_h + hi))
        half = half.reshape(half.shape[:n_t + n_h] + tuple(half.shape[a] for a in f_axes))
        shape = list(half.shape)
        for k, a in enumerate(h_axes):
            shape[a] = hidden_cards[k]
        half = np.broadcast_to(half, shape)
        rest = list(range(n_t + n_h, half.ndim))
        order = t_axes + (rest + h_axes if hidden_last else h_axes + rest)
        f_size = int(np.prod([shape[a] for a in rest]))
        mat = (f_size, h_size) if hidden_last else (h_size, f_size)
        return np.transpose(half, order).reshape(tuple(shape[:n_t]) + mat)

    out = np.matmul(matrix(left, 0, split, True), matrix(right, split, n_f, False))
    return out.reshape(out.shape[:n_t] + tuple(f_cards))
