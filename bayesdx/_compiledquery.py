"""The Python side of one compiled joint query: what it derives once per pattern of evidence
(:class:`_Pattern`: the kind of every variable, the read-out layout, the answer's index maps)
and the answer it returns (:class:`CompiledJointQuery`, views of the kernel's output made on
first access). :mod:`bayesdx.compiled` runs the query.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .inference import StackedJoints, request_indices
from .jtree import JTreeJointQuery

__all__ = ["CompiledJointQuery"]

#: the kinds of variable in a kernel query: unobserved and summed out or read, observed (the
#: tables sliced at its state), clamped (one batch element per state), a cohort's per-case
#: evidence (an indicator per case)
FREE, SLICED, CLAMPED, INDICATOR = 0, 1, 2, 3


class _kept:  # noqa: N801 (a decorator, named as one)
    """:func:`functools.cached_property` without the lock Python 3.11 takes on every first
    access (two threads may both compute the value; they compute the same)."""

    def __init__(self, fn):
        self.fn, self.name, self.__doc__ = fn, fn.__name__, fn.__doc__

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.fn(obj)
        return value


class CompiledJointQuery(JTreeJointQuery):
    """:class:`~bayesdx.jtree.JTreeJointQuery` whose information gains were computed by the
    kernel in the same call; :meth:`information_gains_bits` returns them.

    The engine makes it from the kernel's buffers alone (:meth:`_from_kernel`): ``node_joints``,
    ``stacked``, ``columns``, ``free_target_probs``, ``prob_evidence`` and (when a target is
    observed) ``target_joint`` are views of them made on first access and kept (a ranking reads
    two of the six; on a small network making all six cost about as much as the kernel)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "_parts", None)  # made without the kernel: gains computed on demand

    @classmethod
    def _from_kernel(cls, targets: tuple, log_pe: float, parts: tuple) -> CompiledJointQuery:
        """The answer of one kernel query. ``parts`` is ``(pattern, evs, nodes, cards, joints,
        p_free, gains)``: the query's :class:`_Pattern`, its per-variable states, the requested
        nodes, the network's cardinalities and the kernel's output (P(targets, X | e) one read
        node above the other, P(free targets | e), the gains of the read nodes)."""
        query = cls.__new__(cls)
        fields = query.__dict__
        fields["targets"], fields["log_prob_evidence"], fields["_parts"] = targets, log_pe, parts
        pat = parts[0]
        if pat.all_free:  # a reshape: cheaper made now than on first access
            fields["target_joint"] = parts[5].reshape(pat.shape)
        return query

    @_kept
    def prob_evidence(self) -> float:
        return math.exp(self.log_prob_evidence)

    @_kept
    def free_target_probs(self) -> np.ndarray:
        return self._parts[5]

    @_kept
    def stacked(self) -> np.ndarray | None:
        pat, joints = self._parts[0], self._parts[4]
        return joints.T if pat.width else None  # a row per target configuration

    @_kept
    def columns(self) -> dict:
        return dict(self._parts[0].columns)

    @_kept
    def _where(self) -> tuple | None:
        """Where the free targets' rows go in the targets' shape (None when every target is
        free)."""
        pat, evs = self._parts[0], self._parts[1]
        if pat.all_free:
            return None
        return tuple(int(evs[v]) if pat.kind[v] == SLICED else slice(None) for v in pat.t_idx)

    @_kept
    def target_joint(self) -> np.ndarray:
        # reached only when a target is observed (:meth:`_from_kernel` sets it otherwise)
        pat, p_free = self._parts[0], self._parts[5]
        target_joint = np.zeros(pat.shape)
        target_joint[self._where] = p_free.reshape(pat.free_cards)
        return target_joint

    @_kept
    def node_joints(self) -> StackedJoints:
        pat, evs, nodes, cards, joints = self._parts[:5]
        observed = {v: int(evs[v]) for v, _, _ in pat.ev_info}
        return StackedJoints(nodes, pat.node_index, cards, observed, pat.columns, joints.T, self.target_joint,
                             pat.free_cards, self._where)

    def information_gains_bits(self) -> dict[str, float]:
        """I(targets ; X | evidence) in bits for every node X of ``node_joints`` (0 for observed
        nodes), as computed by the kernel from :attr:`stacked` (the same formula as
        :func:`bayesdx.voi.mutual_information_stacked_bits`)."""
        if self._parts is None:
            return super().information_gains_bits()
        pat, values = self._parts[0], self._parts[6].tolist()
        if pat.n_read == len(pat.zero_gains):  # every node read (none observed, none twice)
            return dict(zip(pat.read_names, values))
        out = dict(pat.zero_gains)
        out.update(zip(pat.read_names, values))
        return out


#: :attr:`_Pattern.evidence_tree` before the engine has weighed one
UNDECIDED = object()


class _Pattern:
    """What a joint query derives from its pattern alone (targets, requested nodes, observed
    nodes): the kind of every variable (observed: sliced; unobserved targets: clamped, one
    batch element per joint configuration), the read-out layout and the result's index maps.
    Built once per pattern by :meth:`CompiledEngine._pattern`; a query writes its observed
    states into a copy of ``evs`` (``ev_info``: variable, cardinality and name of each observed
    node, in the evidence's order).

    With ``table`` (the query runs on the network's joint table,
    :func:`bayesdx._tablekernel.table_query`), ``evs`` is -1 for every unobserved variable and
    ``tmul`` holds each unobserved target's step in the row of the targets' configuration."""

    __slots__ = ("kind", "evs", "tmul", "ev_info", "t_idx", "free", "free_cards", "n_conf", "all_free", "shape",
                 "read_vars", "read_off", "read_cards", "n_read", "width", "read_names", "columns", "node_index",
                 "zero_gains", "split", "evidence_tree")

    def __init__(self, index: dict, cards: list, targets: tuple, nodes: tuple, observed: tuple, table: bool):
        # plain Python over the nodes: a new pattern is the common case on small networks, where
        # a few numpy calls would cost more than the query (the int arrays are views of one)
        t_idx, n_idx = request_indices(index, targets, nodes)
        ev_idx = [index[node] for node in observed]
        self.ev_info = list(zip(ev_idx, [cards[v] for v in ev_idx], observed))
        n = len(cards)
        kind = [FREE] * n
        evs = [0] * n
        for v in ev_idx:
            kind[v] = SLICED
        self.free = tuple(v for v in t_idx if kind[v] == FREE)
        for i, v in enumerate(self.free):
            kind[v], evs[v] = CLAMPED, i
        tmul = [0] * n
        if table:
            evs = [-1] * n
            step = 1
            for v in reversed(self.free):
                tmul[v], step = step, step * cards[v]
        self.t_idx = t_idx
        self.free_cards = [cards[v] for v in self.free]
        self.n_conf = math.prod(self.free_cards)
        self.all_free = len(self.free) == len(t_idx)
        self.shape = tuple(cards[v] for v in t_idx)
        read = [(name, v) for name, v in zip(nodes, n_idx) if kind[v] == FREE]
        read_vars = [v for _, v in read]
        read_cards = [cards[v] for v in read_vars]
        read_off = [0, *itertools.accumulate(read_cards)][:-1]
        m = len(read)
        ints = np.array([*kind, *evs, *tmul, *read_vars, *read_cards, *read_off], np.int64)
        self.kind, self.evs, self.tmul, ints = ints[:n], ints[n:2 * n], ints[2 * n:3 * n], ints[3 * n:]
        self.read_vars, self.read_cards, self.read_off = ints[:m], ints[m:2 * m], ints[2 * m:]
        self.n_read = m
        self.width = sum(read_cards)
        self.read_names = [name for name, _ in read]
        self.columns = dict(zip(self.read_names, zip(read_off, read_cards)))
        self.node_index = dict(zip(nodes, n_idx))
        self.zero_gains = dict.fromkeys(nodes, 0.0)
        w, c = self.width * self.n_conf, self.n_conf
        #: ends of the answer's parts in one buffer: joints, P(free targets | e), gains, totals
        self.split = (w, w + c, w + c + m, w + c + m + 2)
        #: the pattern's evidence tree (:mod:`bayesdx._evidencetree`), None for the engine's own
        #: tree, :data:`UNDECIDED` until the engine has weighed it
        self.evidence_tree = UNDECIDED
