"""Plans of the factored engine (:mod:`bayesdx.lazy`): in which order a list of factors is
combined to eliminate the variables a message or a read-out does not keep
(:func:`elimination_plan`) and how one combination is computed (:func:`contraction`).

A plan depends only on the factors' variables and the kept variables, so the engine builds it
once per such pattern and keeps it. Variables are ints and sets of them int bitmasks.
"""

from __future__ import annotations

from collections.abc import Sequence


__all__ = ["elimination_plan", "contraction"]

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _members(mask: int) -> tuple[int, ...]:
    out, v = [], 0
    while mask:
        if mask & 1:
            out.append(v)
        mask >>= 1
        v += 1
    return tuple(out)


def elimination_plan(operands: Sequence[tuple], keep: int, cards: Sequence[int], absorb_max: int = 4096):
    """Greedy variable elimination over factors with the variables ``operands``.

    Each step eliminates the variable whose factors together span the smallest table
    (min-weight, ties to the lower index): the factors holding it are contracted into one, with
    every eliminated variable held only by them summed out. Then a factor whose variables are a
    subset of another's is multiplied into it when that other one has at most ``absorb_max``
    entries (a larger one would be copied whole at every message it passes through).

    Parameters
    ----------
    operands : sequence of tuple of int
        The variables of each factor.
    keep : int
        Bitmask of the variables not to eliminate.
    cards : sequence of int
        Cardinality of every variable.
    absorb_max : int, optional
        Largest factor another is multiplied into after the eliminations.

    Returns
    -------
    steps : tuple of (tuple of int, tuple of int)
        (indices of the factors contracted, variables of the result); the result of step k gets
        index ``len(operands) + k`` (a scalar result, no variables, is never an operand again).
    remaining : tuple of int
        Indices of the factors left (each over kept variables only), in increasing order.

    Examples
    --------
    >>> steps, left = elimination_plan([(0, 1), (1, 2), (2,)], keep=0b001, cards=[2, 2, 2])
    >>> steps
    (((1, 2), (1,)), ((0, 3), (0,)))
    >>> left
    (4,)
    """
    masks = [0] * len(operands)
    holders: dict[int, set] = {}
    for i, vs in enumerate(operands):
        for v in vs:
            masks[i] |= 1 << v
            holders.setdefault(v, set()).add(i)
    alive = set(range(len(operands)))
    elim = sorted(v for v in holders if not keep >> v & 1)
    steps = []

    def size(mask):
        n = 1
        for v in _members(mask):
            n *= cards[v]
        return n

    def merge(group, out_mask):
        group = tuple(sorted(group))
        new = len(masks)
        masks.append(out_mask)
        gset = set(group)
        alive.difference_update(gset)
        for v in _members(out_mask):
            holders[v].difference_update(gset)
            holders[v].add(new)
        if out_mask:
            alive.add(new)
        steps.append((group, _members(out_mask)))

    while elim:
        best = None
        for v in elim:
            u = 0
            for i in holders[v]:
                u |= masks[i]
            key = (size(u), v)
            if best is None or key < best[0]:
                best = (key, u, holders[v])
        _, u, group = best
        gone = [w for w in elim if holders[w] <= group]
        gone_mask = 0
        for w in gone:
            gone_mask |= 1 << w
        for w in gone:
            del holders[w]
        elim = [w for w in elim if not gone_mask >> w & 1]
        merge(group, u & ~gone_mask)
    # absorb: a factor over a subset of another's variables is multiplied into it
    changed = True
    while changed:
        changed = False
        live = sorted(alive, key=lambda i: (bin(masks[i]).count("1"), i))
        for a in live:
            b = next((b for b in live if b != a and masks[a] & ~masks[b] == 0
                      and size(masks[b]) <= absorb_max), None)
            if b is not None:
                merge((a, b), masks[b])
                changed = True
                break
    return tuple(steps), tuple(sorted(alive))


def contraction(operands: Sequence[tuple], out: tuple, cards: Sequence[int], optimize: str = "greedy"):
    """How to contract factors over ``operands`` down to ``out``: an ``numpy.einsum`` subscript
    string for one or two factors (no path to search), else an ``opt_einsum`` expression.

    Examples
    --------
    >>> contraction([(4, 7), (7,)], (4,), cards=[2] * 8)
    'ab,b->a'
    """
    letters: dict = {}
    for vs in (*operands, out):
        for v in vs:
            if v not in letters:
                letters[v] = _LETTERS[len(letters)] if len(letters) < len(_LETTERS) else None
    if len(operands) <= 2 and None not in letters.values():
        spec = ",".join("".join(letters[v] for v in vs) for vs in operands)
        return spec + "->" + "".join(letters[v] for v in out)
    import opt_einsum as oe

    symbols = {v: oe.get_symbol(i) for i, v in enumerate(letters)}
    spec = ",".join("".join(symbols[v] for v in vs) for vs in operands)
    spec += "->" + "".join(symbols[v] for v in out)
    shapes = [tuple(cards[v] for v in vs) for vs in operands]
    return oe.contract_expression(spec, *shapes, optimize=optimize)

