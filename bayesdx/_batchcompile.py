"""The CPTs of many parameter settings at once: the compiler of :mod:`bayesdx._compile` and
:mod:`bayesdx._odds` with a leading draw axis.

:class:`BatchCompiler` reads each node's structure once (which number fills which cell: rows and
their ``when``, noisy causes, multipliers, fixed rows), reusing the file checker's helpers, and then
builds every table for a matrix of parameter values (draws x rows of
:meth:`bayesdx.Network.parameters`) with array operations: a table is a gather, a noisy-OR a
product of inhibitors, a noisy-MAX a product of link CDFs, an odds node a batched Newton
calibration over its parents' joint (itself a batched contraction, :func:`bayesdx._batchinfer.contract`).
It also says which settings the file's checks would reject (a noisy-OR cause below its leak, a
noisy-MAX cause that is not one, a calibration with no room left), so draws can be redrawn.
Tests check it against the file's compiler on networks rebuilt with the same numbers.
"""

from __future__ import annotations

import numpy as np

from ._compile import _matches, _parent_configs, _shape, _topological, _when
from ._sources import _Checker

__all__ = ["BatchCompiler"]


class BatchCompiler:
    """Builds every CPT of a bayesdx YAML network for D parameter settings at once."""

    def __init__(self, network):
        spec = network.spec
        self.network = network
        self.spec = spec
        self.order = _topological(spec)
        by_block: dict[int, dict] = {}
        for i, p in enumerate(spec.params):
            by_block.setdefault(id(p.block), {})[p.state] = i
        self._by_block = by_block
        self.plans = {n: self._plan(spec.nodes[n]) for n in self.order}
        self._parents = {n: spec.nodes[n].parents for n in self.order}

    # -- structure ---------------------------------------------------------------------------
    def _cols(self, block, states):
        """Parameter rows of a distribution block, in state order."""
        found = self._by_block[id(block)]
        return np.array([found[s] for s in states])

    def _scalar(self, block):
        return self._by_block[id(block)][None]

    def _configs(self, node, rows):
        """(index of the first row matching each parent configuration, or -1) over the parent
        configurations in C order."""
        spec = self.spec
        configs = _parent_configs(spec, node)
        first = np.full(len(configs), -1)
        for r, row in enumerate(rows):
            when = _when(_Checker(spec.path), spec, node, "", row.get("when", {}) or {})
            for c, config in enumerate(configs):
                if first[c] < 0 and _matches(node, config, when):
                    first[c] = r
        return first

    def _plan(self, node):
        spec, cpt = self.spec, node.cpt
        states = node.states
        kind = cpt["type"]
        fixed_rows = cpt.get("fixed") or []
        fixed = (self._configs(node, fixed_rows), [self._cols(r, states) for r in fixed_rows])
        if kind == "table":
            rows = cpt["rows"]
            return ("table", self._configs(node, rows), [self._cols(r, states) for r in rows])
        causes = []
        for parent, block in (cpt.get("causes") or {}).items():
            pstates = spec.nodes[parent].states
            subs = [(pstates[1], block)] if len(pstates) == 2 else list(block.items())
            for state, sub in subs:
                causes.append((node.parents.index(parent), pstates.index(state), sub))
        if kind == "noisy_or":
            return ("noisy_or", self._scalar(cpt["leak"]),
                    [(a, s, self._scalar(b)) for a, s, b in causes], fixed)
        if kind == "noisy_max":
            return ("noisy_max", self._cols(cpt["leak"], states),
                    [(a, s, self._cols(b, states)) for a, s, b in causes], fixed)
        mults = []
        for parent, per_state in (cpt.get("multipliers") or {}).items():
            pstates = spec.nodes[parent].states
            for pstate, per_child in per_state.items():
                for cstate, block in per_child.items():
                    mults.append((node.parents.index(parent), pstates.index(pstate),
                                  states.index(cstate), self._scalar(block)))
        return ("odds", self._cols(cpt["marginal"], states), mults, fixed)

    # -- tables ------------------------------------------------------------------------------
    def tables(self, values: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """({node: table of shape (D, *parents, node)}, {node: bool (D,) settings the file's
        checks accept}) for a matrix ``values`` of shape (D, len(network.parameters()))."""
        values = np.asarray(values, dtype=float)
        tables: dict[str, np.ndarray] = {}
        valid: dict[str, np.ndarray] = {}
        for name in self.order:
            tables[name], valid[name] = self.node_table(name, values, tables)
        return tables, valid

    def node_table(self, name, values, tables):
        """One node's tables (D, *shape) and the settings its checks accept, given its ancestors'."""
        node = self.spec.nodes[name]
        plan = self.plans[name]
        shape = _shape(self.spec, node)
        d = values.shape[0]
        ok = np.ones(d, dtype=bool)
        if plan[0] == "table":
            _, first, cols = plan
            rows = np.stack([values[:, c] for c in cols], axis=1)  # (D, rows, states)
            return rows[:, first].reshape((d, *shape)), ok
        fixed_first, fixed_cols = plan[-1]
        if plan[0] == "noisy_or":
            _, leak_col, causes, _ = plan
            leak = values[:, leak_col]
            q = np.broadcast_to((1.0 - leak).reshape((d,) + (1,) * (len(shape) - 1)),
                                (d, *shape[:-1])).copy()
            for axis, state, col in causes:
                p = values[:, col]
                ok &= p >= leak - 1e-12
                with np.errstate(divide="ignore", invalid="ignore"):
                    inhibit = np.where(leak < 1, (1.0 - p) / (1.0 - leak), 1.0)
                index = [slice(None)] * len(shape)
                index[axis + 1] = state
                q[tuple(index)] *= inhibit.reshape((d,) + (1,) * (len(shape) - 2))
            ok &= leak < 1.0
            table = np.stack([q, 1.0 - q], axis=-1)
        elif plan[0] == "noisy_max":
            _, leak_cols, causes, _ = plan
            leak_cdf = np.cumsum(values[:, leak_cols], axis=1)  # (D, K)
            cdf = np.broadcast_to(leak_cdf.reshape((d,) + (1,) * (len(shape) - 1) + (-1,)),
                                  (d, *shape)).copy()
            for axis, state, cols in causes:
                c = np.cumsum(values[:, cols], axis=1)
                with np.errstate(divide="ignore", invalid="ignore"):
                    link = np.where(leak_cdf > 0, c / np.where(leak_cdf > 0, leak_cdf, 1.0), 1.0)
                link[:, -1] = 1.0
                ok &= ~np.any((leak_cdf <= 0) & (c > 1e-12), axis=1)
                ok &= ~np.any(link[:, :-1] > 1 + 1e-12, axis=1)
                ok &= ~np.any(np.diff(link, axis=1) < -1e-12, axis=1)
                link = np.minimum(link, 1.0)
                index = [slice(None)] * (len(shape) + 1)
                index[axis + 1] = state
                cdf[tuple(index)] *= link.reshape((d,) + (1,) * (len(shape) - 2) + (-1,))
            cdf[..., -1] = 1.0
            probs = np.clip(np.diff(cdf, axis=-1, prepend=0.0), 0.0, None)
            table = probs / probs.sum(axis=-1, keepdims=True)
        else:
            table, ok = self._odds(node, plan, values, tables, shape)
        if fixed_cols:
            rows = np.stack([values[:, c] for c in fixed_cols], axis=1)
            mask = (fixed_first >= 0).reshape(shape[:-1])
            fixed = rows[:, np.maximum(fixed_first, 0)].reshape((d, *shape))
            table = np.where(mask[None, ..., None], fixed, table)
        return table, ok

    def _odds(self, node, plan, values, tables, shape):
        from ._batchinfer import contract

        _, marg_cols, mults, (fixed_first, fixed_cols) = plan
        d, card = values.shape[0], shape[-1]
        marginal = values[:, marg_cols]
        log_mult = np.zeros((d, *shape))
        for axis, pstate, cstate, col in mults:
            index = [slice(None)] * (len(shape) + 1)
            index[axis + 1], index[-1] = pstate, cstate
            log_mult[tuple(index)] += np.log(values[:, col]).reshape((d,) + (1,) * (len(shape) - 2))
        if node.parents:
            weights = contract(self.spec_parents(), tables, {}, list(node.parents), d)
        else:
            weights = np.ones((d,))
        n_conf = int(np.prod(shape[:-1], dtype=np.int64))
        w_all = weights.reshape(d, n_conf)
        mask = (fixed_first >= 0) if fixed_cols else np.zeros(n_conf, dtype=bool)
        fixed = None
        if fixed_cols:
            rows = np.stack([values[:, c] for c in fixed_cols], axis=1)
            fixed = rows[:, np.maximum(fixed_first, 0)]  # (D, C, K)
            fixed_mass = np.einsum("dc,dck->dk", np.where(mask, w_all, 0.0), fixed)
        else:
            fixed_mass = np.zeros((d, card))
        w = np.where(mask, 0.0, w_all)
        residual = marginal - fixed_mass
        ok = np.all(residual > 1e-15, axis=1) & (w.sum(axis=1) > 1e-15) & np.all(marginal > 0, axis=1)
        safe = np.where(ok[:, None], residual, 1.0 / card)
        target = safe[:, 1:]
        m = np.exp(log_mult).reshape(d, n_conf, card)[:, :, 1:]
        theta = np.log(target / safe[:, :1])

        def averaged(th):
            odds = m * np.exp(th)[:, None, :]
            p = odds / (1.0 + odds.sum(axis=2, keepdims=True))
            return p, np.einsum("dc,dck->dk", w, p) - target

        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            p, gap = averaged(theta)
            eye = np.eye(card - 1)
            for _ in range(200):
                err = np.max(np.abs(gap), axis=1)
                active = ok & ~(err < 1e-13)  # NaN gaps are dropped below
                ok &= np.isfinite(err)
                active &= ok
                if not active.any():
                    break
                a = np.flatnonzero(active)
                wa, pa, ga = w[a], p[a], gap[a]
                jac = np.einsum("dk,kl->dkl", np.einsum("dc,dck->dk", wa, pa), eye) \
                    - np.einsum("dc,dck,dcl->dkl", wa, pa, pa)
                singular = np.abs(np.linalg.det(jac)) < 1e-300
                ok[a[singular]] = False
                jac[singular] = eye
                step = np.linalg.solve(jac, -ga[..., None])[..., 0]
                size = np.ones(len(a))

                def at(th):
                    odds = m[a] * np.exp(th)[:, None, :]
                    pp = odds / (1.0 + odds.sum(axis=2, keepdims=True))
                    return pp, np.einsum("dc,dck->dk", wa, pp) - target[a]

                new_theta = theta[a] + step
                new_p, new_gap = at(new_theta)
                for _ in range(25):  # halve each draw's step until its gap shrinks
                    worse = ~(np.max(np.abs(new_gap), axis=1) < err[a])
                    if not worse.any():
                        break
                    size = np.where(worse, size / 2, size)
                    new_theta = theta[a] + size[:, None] * step
                    new_p, new_gap = at(new_theta)
                theta[a], p[a], gap[a] = new_theta, new_p, new_gap
        ok &= np.max(np.abs(gap), axis=1) < 1e-12
        with np.errstate(over="ignore", invalid="ignore"):
            odds = m * np.exp(np.where(ok[:, None], theta, 0.0))[:, None, :]
            denom = 1.0 + odds.sum(axis=2, keepdims=True)
            table = np.concatenate([1.0 / denom, odds / denom], axis=2)
        ok &= np.all(np.isfinite(table), axis=(1, 2))
        table = np.where(ok[:, None, None], table, 1.0 / card)
        if fixed is not None:
            table = np.where(mask[None, :, None], fixed, table)
        return table.reshape((d, *shape)), ok

    def spec_parents(self):
        """{node: parents} of the network, for contractions."""
        return self._parents

