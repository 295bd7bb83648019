"""Exact inference for many parameter settings at once: the draw is a leading batch axis.

:func:`contract` answers P(keep, evidence) for every setting of a batch of CPTs (shape
(D, *parents, node) each) by one tensor contraction over the ancestors of the evidence and of the
kept nodes (the other nodes sum to 1 and are left out), with the evidence entered by slicing each
table at its observed state. The contraction order is planned once per query pattern by
opt_einsum (a random greedy elimination order, the same idea as a junction tree's, with the draw
axis counted in every size) and reused for every chunk of draws; each pairwise step is one
batched matrix product (the draw axis, and the variables both tables keep, as its batch axes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

__all__ = ["contract", "contract_factors", "ancestors"]


def ancestors(parents: Mapping[str, Sequence[str]], nodes) -> set[str]:
    """``nodes`` and all their ancestors."""
    out: set[str] = set()
    stack = list(nodes)
    while stack:
        n = stack.pop()
        if n not in out:
            out.add(n)
            stack.extend(parents[n])
    return out


#: Draws assumed when a contraction order is planned: the plan depends on the pattern of tables
#: (which nodes, observed where), not on the number of draws, so one plan serves every chunk.
PLAN_DRAWS = 100
#: Random greedy trials per plan (opt_einsum's RandomGreedy, trial r seeded with r, so a plan is
#: the same on every run). Against the plain greedy order this divides the bundled network's
#: multiply-adds by about 5 for a few tenths of a second of planning, once per pattern.
PLAN_TRIALS = 32
#: Tables up to which every order is tried (opt_einsum's "optimal"; a few milliseconds).
PLAN_OPTIMAL_UPTO = 6


def _order(equation, shapes):
    """opt_einsum's contraction path: the optimal one for a few tables, random greedy
    (deterministic trials) for more. Python's global ``random`` state, which the trials reseed,
    is restored."""
    import random

    import opt_einsum as oe

    if len(shapes) <= PLAN_OPTIMAL_UPTO:
        return oe.contract_path(equation, *shapes, optimize="optimal", shapes=True)[0]
    state = random.getstate()
    try:
        return oe.contract_path(equation, *shapes, shapes=True,
                                optimize=oe.RandomGreedy(max_repeats=PLAN_TRIALS))[0]
    finally:
        random.setstate(state)


@lru_cache(maxsize=256)
def _plan(structure, shapes, keep):
    """The pairwise contraction steps for the tables' index lists ``structure`` (the draw axis
    first, implicit; ``shapes`` without it) and output ``keep``, executed by :func:`_pair`."""
    import opt_einsum as oe

    symbols: dict = {}

    def sym(x):
        if x not in symbols:
            symbols[x] = oe.get_symbol(len(symbols))
        return symbols[x]

    batch = sym(("#draw",))
    subs = [batch + "".join(sym(v) for v in idx) for idx in structure]
    out = batch + "".join(sym(v) for v in keep)
    path = _order(f"{','.join(subs)}->{out}", [(PLAN_DRAWS, *shape) for shape in shapes])
    steps = []
    current = list(subs)
    for pos in path:
        pos = sorted(pos, reverse=True)
        picked = [current.pop(i) for i in pos]
        rest = set("".join(current)) | set(out)
        if len(picked) == 1:
            result = "".join(c for c in dict.fromkeys(picked[0]) if c in rest)
        else:  # the layout the batched product leaves: kept shared axes, then each side's
            sa, sb = picked
            result = "".join([c for c in sa if c in sb and c in rest]
                             + [c for c in sa if c not in sb and c in rest]
                             + [c for c in sb if c not in sa and c in rest])
        steps.append((tuple(pos), tuple(picked), result))
        current.append(result)
    return tuple(steps), current[0], out


def _pair(a, sa, b, sb, out):
    """einsum(f"{sa},{sb}->{out}", a, b) as one batched matrix product: the indices of both
    operands that stay are batch axes, those of both that go are summed by the product."""
    shared = [c for c in sa if c in sb]
    batch = [c for c in shared if c in out]
    summed = [c for c in shared if c not in out]
    left = [c for c in sa if c not in sb]
    right = [c for c in sb if c not in sa]
    # indices only in one operand and not in the output are summed first
    drop_a = [c for c in left if c not in out]
    drop_b = [c for c in right if c not in out]
    if drop_a:
        a = a.sum(axis=tuple(sa.index(c) for c in drop_a))
        sa = "".join(c for c in sa if c not in drop_a)
        left = [c for c in left if c not in drop_a]
    if drop_b:
        b = b.sum(axis=tuple(sb.index(c) for c in drop_b))
        sb = "".join(c for c in sb if c not in drop_b)
        right = [c for c in right if c not in drop_b]
    dims = {**dict(zip(sa, a.shape)), **dict(zip(sb, b.shape))}
    size = lambda cs: int(np.prod([dims[c] for c in cs], dtype=np.int64))  # noqa: E731
    a2 = np.transpose(a, [sa.index(c) for c in (*batch, *left, *summed)]).reshape(
        size(batch), size(left), size(summed))
    b2 = np.transpose(b, [sb.index(c) for c in (*batch, *summed, *right)]).reshape(
        size(batch), size(summed), size(right))
    result = np.matmul(a2, b2).reshape([dims[c] for c in (*batch, *left, *right)])
    order = (*batch, *left, *right)
    return np.transpose(result, [order.index(c) for c in out])


def _run(steps, final, out, operands):
    operands = list(operands)
    for pos, subs, result in steps:
        picked = [operands.pop(i) for i in pos]
        if len(picked) == 1:
            operands.append(np.einsum(f"{subs[0]}->{result}", picked[0]))
        else:
            operands.append(_pair(picked[0], subs[0], picked[1], subs[1], result))
    if final != out:
        return np.einsum(f"{final}->{out}", operands[0])
    return operands[0]


def contract(parents: Mapping[str, Sequence[str]], tables: Mapping[str, np.ndarray],
             evidence: Mapping[str, int], keep: Sequence[str], draws: int) -> np.ndarray:
    """P(keep, evidence) per draw: shape (draws, *(card of each kept node)).

    ``tables[n]`` has shape (draws, *parents[n] cards, card n); ``evidence`` gives state indices;
    ``keep`` must not hold an observed node.
    """
    needed = ancestors(parents, [*keep, *evidence])
    factors = [family_factor(parents, tables, evidence, n) for n in tables if n in needed]
    return contract_factors(factors, keep, draws)


def family_factor(parents, tables, evidence, node):
    """(``node``'s batched table sliced at the evidence, the nodes of its remaining axes)."""
    family = (*parents[node], node)
    index = (slice(None),) + tuple(evidence[v] if v in evidence else slice(None) for v in family)
    return tables[node][index], tuple(v for v in family if v not in evidence)


def contract_factors(factors, keep: Sequence[str], draws: int) -> np.ndarray:
    """Sum over every axis but the draw and ``keep`` of the product of ``factors``, a list of
    (array of shape (draws, ...), the node of each further axis)."""
    if not factors:
        return np.ones((draws,))
    operands = [f[0] for f in factors]
    steps, final, out = _plan(tuple(f[1] for f in factors), tuple(op.shape[1:] for op in operands),
                              tuple(keep))
    return _run(steps, final, out, operands)
