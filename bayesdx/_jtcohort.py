"""Cohorts through the junction tree: the posterior marginals of many evidence sets at once.

:class:`CohortMixin` gives :class:`~bayesdx.jtree.JunctionTreeEngine` (and the compiled engine
built on it) its :meth:`~bayesdx.inference.Engine.marginals_batch`: a cohort is cut into chunks
that fit the engine's float budget; a column observed in every case of the cohort is clamped
(its tables gathered at each case's state), the others enter as indicator vectors, and every
chunk propagates once with the case as a batch axis. Each posterior is checked finite and
normalised, so a cohort never returns a wrong number.
"""

from __future__ import annotations

import numpy as np

from ._precision import NumericalRangeError

__all__ = ["CohortMixin", "check_batch"]


def check_batch(index, cards, evidence_nodes, evidence, nodes):
    """A cohort's evidence as an int64 (n_cases, n_evidence) array of state indices (-1: not
    observed), with the engine indices of the evidence columns and of the nodes asked for;
    ValueError naming the column for a wrong shape, a repeated node or an index out of range."""
    evidence_nodes = list(evidence_nodes)
    evidence = np.asarray(evidence, dtype=np.int64)
    if evidence.ndim != 2 or evidence.shape[1] != len(evidence_nodes):
        raise ValueError(
            f"evidence must have shape (n_cases, {len(evidence_nodes)}); got {evidence.shape}."
        )
    e_idx = [index[n] for n in evidence_nodes]
    n_idx = [index[n] for n in nodes]
    if len(set(e_idx)) != len(e_idx):
        raise ValueError("An evidence node is listed twice.")
    if evidence.size:
        bad = (evidence.max(axis=0) >= np.asarray([cards[v] for v in e_idx])) | (evidence.min(axis=0) < -1)
        if bad.any():
            raise ValueError(f"State index out of range for node '{evidence_nodes[int(np.argmax(bad))]}'.")
    return evidence, e_idx, n_idx


class CohortMixin:
    """Batched cohort marginals for a junction tree engine (needs its ``_index``, ``_cards``,
    ``_fine``, ``_pick``, ``_propagate``, ``_read`` and ``_exact``)."""

    def marginals_batch(self, evidence_nodes, evidence, nodes):
        evidence, e_idx, n_idx = check_batch(self._index, self._cards, evidence_nodes, evidence,
                                             nodes)
        n_cases = evidence.shape[0]
        out = {n: np.full((n_cases, self._cards[v]), np.nan) for n, v in zip(nodes, n_idx)}
        possible = np.zeros(n_cases, dtype=bool)
        # columns observed in every case are gathered (clamped), the others enter as indicators
        kinds = []
        for j, v in enumerate(e_idx):
            col = evidence[:, j]
            observed = col >= 0
            if not observed.any():
                continue
            if observed.all():
                kinds.append((j, v, "clamp"))
            else:
                lookup = np.hstack([np.eye(self._cards[v]), np.ones((self._cards[v], 1))])
                kinds.append((j, v, lookup))  # column -1 (unobserved) is all ones
        budget = min(self.cohort_batch_floats, self.max_batch_floats)
        fixed = frozenset(v for _, v, kind in kinds if isinstance(kind, str))
        chunk = max(1, int(budget // max(self._fine.sliced_size(fixed), 1.0)))
        for start in range(0, n_cases, chunk):
            stop = min(n_cases, start + chunk)
            self._exact(self._marginals_chunk, kinds, evidence[start:stop], nodes, n_idx, out,
                        possible, start)
        return out, possible

    def _marginals_chunk(self, kinds, rows, nodes, n_idx, out, possible, offset, trees):
        batch = rows.shape[0]
        shared, clamp, indicators = {}, {}, {}
        for j, v, kind in kinds:
            col = rows[:, j]
            if isinstance(kind, str):
                if batch < 64 and (col == col[0]).all():
                    shared[v] = int(col[0])
                else:
                    clamp[v] = col
            else:
                indicators[v] = kind[:, col]  # (card, batch)
        read_vars = [v for v in n_idx if v not in shared and v not in clamp]
        tree, sched = self._pick(shared, clamp, indicators, read_vars, batch, trees)
        log_z, z, beliefs, fixed = self._propagate(tree, sched, shared, clamp, indicators, batch)
        reads = dict(zip(read_vars, sched[4]))
        ok = np.isfinite(log_z)
        possible[offset : offset + batch] = ok
        span = slice(offset, offset + batch)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_z = np.where(ok, 1.0 / z, np.nan)
            for name, v in zip(nodes, n_idx):
                if v in shared or v in clamp:
                    m = np.zeros((batch, self._cards[v]))
                    m[np.arange(batch), clamp[v] if v in clamp else shared[v]] = 1.0
                    m[~ok] = np.nan
                else:
                    m = (self._read(tree, beliefs, reads[v], fixed) * inv_z).T
                    rows_ok = m[ok]
                    if rows_ok.size and not (np.isfinite(rows_ok).all() and
                                             np.abs(rows_ok.sum(axis=1) - 1.0).max() <= 1e-9):
                        raise NumericalRangeError(
                            f"the posterior of '{name}' in a cohort case is not finite or does not "
                            f"sum to 1; no answer is returned rather than a wrong one")
                out[name][span] = m
