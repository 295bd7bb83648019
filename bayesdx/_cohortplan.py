"""The plan of a cohort on the compiled engine: what :func:`bayesdx._cohortkernel.run_cohort` reads
besides the tree, derived once per pattern of evidence (which variables are sliced, clamped,
indicators or free, and which are read) and cached by :class:`bayesdx.compiled.CompiledEngine`.

* The schedule of :mod:`bayesdx._jtkernel` (collect toward ``top``, distribute toward the
  read-out cliques).
* Evidence leaves: active cliques with no active child, no read-out below them and not ``top``.
  Each gets its prior clique table summed onto its separator and its evidence variables and
  divided by the prior upward message, laid out as rows: the per-case (gathered) variables
  index the row (an indicator variable has an extra state, unobserved: the sum over its
  states), the separator's free variables run along it. Each row is scaled to sum to 1 and
  the log of its sum kept (``LS``), so a case's message is one row and one log.
* For every clique, its active children smallest separator first, and the sibling (``host``)
  whose separator contains each child's, whose message absorbs it (``host`` = -2: a child whose
  separator lies in its parent's goes into the parent's upward message, after the sum); an indicator entered at the
  clique goes into the smallest remaining child message holding its variable (``ind_kid``).
* The number of cases per chunk, from the working floats a case needs (at least two: the
  kernel computes every case of a chunk of two or more the same way, whatever the chunk's size).

Imported with the kernels (numba loads then).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._jtkernel import _schedule, _widths
from ._cohortkernel import _LATE as LATE
from ._jtops import CLAMPED, FREE, INDICATOR, SLICED
from ._jtplan import INVU0_OFF, PHI0_OFF

__all__ = ["CohortPlan", "cohort_plan"]

#: An evidence leaf's table (an extra state per indicator: unobserved) may reach this many times
#: its clique's size (plus 4096 entries); above, the clique is formed per case instead.
_GROWTH = 4
#: Cases per chunk: enough for long inner loops over the batch axis (a chunk may then take up
#: to 4x ``chunk_floats``), few enough for a clique's working table to stay in a core's cache.
_FEWEST_CASES, _MOST_CASES = 32, 512


class CohortPlan(NamedTuple):
    """The arguments of :func:`bayesdx._cohortkernel.run_cohort` that depend on the pattern."""

    top: int
    active: np.ndarray
    down: np.ndarray
    read_from: np.ndarray
    chunk: int
    keep: int
    L: np.ndarray
    LS: np.ndarray
    leaf_off: np.ndarray
    leaf_size: np.ndarray
    ls_off: np.ndarray
    gptr: np.ndarray
    gvars: np.ndarray
    gstr: np.ndarray
    korder: np.ndarray
    kptr: np.ndarray
    host: np.ndarray
    ind_kid: np.ndarray


def cohort_plan(plan, kind: np.ndarray, read_vars: np.ndarray, chunk_floats: float,
                keep_floats: float) -> CohortPlan:
    """The :class:`CohortPlan` of a phi0 :class:`~bayesdx._jtplan.TreePlan` for variables of
    ``kind`` (FREE, SLICED, CLAMPED, INDICATOR) when ``read_vars`` are read."""
    if not plan.phi0_mode:
        raise ValueError("a cohort plan needs the prior clique tables (phi0 mode)")
    S, cards = plan.S, plan.cards
    n_cl = len(plan.cliques)
    active = np.zeros(n_cl, np.int64)
    down = np.zeros(n_cl, np.int64)
    read_from = np.zeros(read_vars.size, np.int64)
    top = int(_schedule(S, kind, read_vars, active, down, read_from))
    wf = np.ones(n_cl, np.int64)
    wb = np.ones(n_cl, np.int64)
    _widths(S, kind, active, down, top, 2, wf, wb)
    wide = (wf > 1).tolist()

    def extent(v):
        return cards[v] if kind[v] in (FREE, INDICATOR) else 1

    sep_size = [math.prod(extent(v) for v in s) for s in plan.seps]
    # evidence leaves and their tables
    has_active_kid = [any(active[k] for k in kids) for kids in plan.children]
    phi0_off = plan.segment(PHI0_OFF)
    leaf_off = np.full(n_cl, -1, np.int64)
    leaf_size = np.zeros(n_cl, np.int64)
    gptr = np.zeros(n_cl + 1, np.int64)
    gvars: list[int] = []
    gstr: list[int] = []
    blocks: list[np.ndarray] = []
    log_sums: list[np.ndarray] = []
    ls_off = np.full(n_cl, -1, np.int64)
    offset = n_rows = 0
    invu0_off = plan.segment(INVU0_OFF)
    for c in range(n_cl):
        if active[c] and c != top and not down[c] and not has_active_kid[c]:
            tv, sep = plan.cliques[c], set(plan.seps[c])
            table = plan.F[phi0_off[c]:phi0_off[c] + plan.sizes[c]].reshape([cards[v] for v in tv])
            kept = [v for v in tv if v in sep or kind[v] != FREE]
            table = table.sum(axis=tuple(i for i, v in enumerate(tv) if v not in kept))
            gathered = [v for v in kept if v not in sep or kind[v] in (SLICED, CLAMPED)]
            free = [v for v in kept if v not in gathered]
            grown = [cards[v] + (kind[v] == INDICATOR) for v in gathered]
            if math.prod(grown) * sep_size[c] > _GROWTH * plan.sizes[c] + 4096:
                gptr[c + 1] = len(gvars)
                continue  # too many indicators: formed as a table
            order = gathered + free
            table = table.transpose([kept.index(v) for v in order])
            for a, v in enumerate(gathered):  # an indicator's extra state: unobserved, the sum
                if kind[v] == INDICATOR:
                    table = np.concatenate([table, table.sum(axis=a, keepdims=True)], axis=a)
            # divided by the prior message (as every upward message is), then each row scaled
            # to sum to 1, its log kept: a case's message is then one row and one log
            sv = plan.seps[c]
            inv_u0 = plan.F[invu0_off[c]:invu0_off[c] + math.prod(cards[v] for v in sv)]
            inv_u0 = inv_u0.reshape([cards[v] for v in sv]).transpose(
                [sv.index(v) for v in order if v in sep])
            table = table * inv_u0.reshape([cards[v] if v in sep else 1 for v in order])
            rows = np.ascontiguousarray(table).reshape(-1, sep_size[c])
            sums = rows.sum(axis=1)
            with np.errstate(divide="ignore"):
                log_sums.append(np.log(sums))
            rows = rows / np.where(sums > 0, sums, 1.0)[:, None]
            strides = np.cumprod([1] + grown[::-1])[::-1][1:]
            leaf_off[c], leaf_size[c], ls_off[c] = offset, sep_size[c], n_rows
            gvars.extend(gathered)
            gstr.extend(int(x) for x in strides)
            blocks.append(rows.ravel())
            offset += rows.size
            n_rows += len(rows)
        gptr[c + 1] = len(gvars)
    # children in order of separator size; each absorbed by the smallest sibling containing it
    host = np.full(n_cl, -1, np.int64)
    ind_kid = np.full(len(cards), -1, np.int64)
    korder: list[int] = []
    kptr = np.zeros(n_cl + 1, np.int64)
    for c in range(n_cl):
        kids = sorted((k for k in plan.children[c] if active[k]), key=lambda k: (sep_size[k], k))
        for i, k in enumerate(kids):
            sk = set(plan.seps[k])
            for h in kids[i + 1:]:
                if sk <= set(plan.seps[h]) and (wide[h] or not wide[k]):
                    host[k] = h
                    break
        if active[c] and c != top and not down[c] and leaf_off[c] < 0:
            up = set(plan.seps[c])
            for k in kids:  # summing out commutes with a factor over the separator
                if host[k] < 0 and set(plan.seps[k]) <= up:
                    host[k] = LATE
        korder.extend(kids)
        kptr[c + 1] = len(korder)
        for v in plan.cliques[c]:  # an indicator goes into the smallest message left holding it
            if kind[v] == INDICATOR and plan.top_of[v] == c:
                holders = [k for k in kids if host[k] < 0 and wide[k] and v in plan.seps[k]]
                if holders:
                    ind_kid[v] = holders[0]
    # cases per chunk: the floats of the tables formed for one case
    per_case = sum(sep_size[c] if leaf_off[c] >= 0 else math.prod(extent(v) for v in plan.cliques[c])
                   for c in range(n_cl) if active[c] or down[c] or c == top)
    per_case = max(per_case, 1)
    chunk = max(2, min(_MOST_CASES, max(int(chunk_floats // per_case),
                                        min(_FEWEST_CASES, int(4 * chunk_floats // per_case)))))
    keep = 1 if per_case * chunk <= keep_floats else 0
    L = np.concatenate(blocks) if blocks else np.zeros(0)
    LS = np.concatenate(log_sums) if log_sums else np.zeros(0)
    as_int = lambda xs: np.asarray(xs, np.int64).reshape(-1)  # noqa: E731
    return CohortPlan(top, active, down, read_from, chunk, keep, L, LS, leaf_off, leaf_size, ls_off, gptr, as_int(gvars),
                      as_int(gstr), as_int(korder), kptr, host, ind_kid)

