"""Fitting an ``odds`` node in :func:`bayesdx.fit`: its base odds, odds ratios and fixed rows.

The node's table is a multinomial logistic model: for a parent configuration u outside the fixed
rows, log(P(k | u) / P(reference | u)) = theta_k + the sum of the log odds ratios that apply. The
M-step maximises the expected log-likelihood plus the log prior: the log-normal prior of each odds
ratio (:func:`bayesdx.priors.parameter_priors`) and the Dirichlet prior of the stated marginal,
read as the population average over the parents' distribution of the *prior* network (a fixed
weighting, so the objective involves this node's numbers only and EM stays monotone). Fixed rows
are Dirichlet rows. The fitted network restates the marginal as the one the fitted network implies,
which calibrates back to the same base odds.
"""

from __future__ import annotations

import numpy as np

from ._em import MAX_ESS, Block, _Family, _row_update, _xlogy

__all__ = ["OddsFamily"]


class OddsFamily(_Family):
    """The blocks of an odds node: one per odds ratio (``value[1]`` is the ratio) and one per
    fixed row; ``theta`` (base log odds) is held beside them."""

    def __init__(self, node, shape, blocks, prior_table, *, weights, marginal, marginal_ess,
                 effects, sigmas):
        super().__init__(node, shape, blocks, prior_table)
        self.weights = np.broadcast_to(weights, shape[:-1])
        self.marginal, self.marginal_ess = marginal, marginal_ess
        self.ratios = [b for b in blocks if b.kind == "ratio"]
        self.fixed = [b for b in blocks if b.kind == "fixed"]
        self.effects = effects  # per ratio block: indicator (parents..., k) where it applies
        self.sigmas = sigmas  # per ratio block: sd of its log (inf: held fixed)
        self.free = np.ones(shape[:-1], dtype=bool)
        for b in self.fixed:
            self.free &= ~b.mask
        index = tuple(np.argwhere(self.free)[0])
        log_odds = np.log(prior_table[index][1:] / prior_table[index][0])
        shift = sum(np.log(b.prior[1]) * e[index][1:] for b, e in zip(self.ratios, effects))
        self.theta0 = log_odds - shift
        self.theta = self.theta0.copy()

    # -- the model ---------------------------------------------------------------------------
    def _free_table(self, theta, log_ratios):
        logits = np.zeros(self.shape)
        logits[..., 1:] = theta
        for lr, e in zip(log_ratios, self.effects):
            logits = logits + lr * e
        logits -= logits.max(axis=-1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=-1, keepdims=True)

    def _table_from(self, theta, log_ratios, fixed_values):
        table = self._free_table(theta, log_ratios)
        for b, v in zip(self.fixed, fixed_values):
            table[b.mask] = v
        return table

    def _log_prior(self, table, log_ratios, fixed_values):
        mu = (self.weights[..., None] * table).reshape(-1, self.shape[-1]).sum(axis=0)
        value = self.marginal_ess * float(_xlogy(self.marginal, mu).sum())
        for lr, b, s in zip(log_ratios, self.ratios, self.sigmas):
            if np.isfinite(s):
                value -= (lr - np.log(b.prior[1])) ** 2 / (2 * s * s)
        for b, v in zip(self.fixed, fixed_values):
            value += b.ess * float(_xlogy(b.prior, v).sum())
        return value

    def _objective(self, theta, log_ratios, fixed_values, counts):
        table = self._table_from(theta, log_ratios, fixed_values)
        return float(_xlogy(counts, table).sum()) + self._log_prior(table, log_ratios, fixed_values)

    def _current(self):
        return self.theta, [float(np.log(b.value[1])) for b in self.ratios], [b.value for b in self.fixed]

    # -- the family interface ---------------------------------------------------------------
    def unchanged(self) -> bool:
        return super().unchanged() and np.array_equal(self.theta, self.theta0)

    def _build(self):
        return self._table_from(*self._current())

    def log_prior(self) -> float:
        theta, lr, fv = self._current()
        return self._log_prior(self._table_from(theta, lr, fv), lr, fv)

    def snapshot(self):
        return [self.theta.copy(), *super().snapshot()]

    def restore(self, values) -> None:
        self.theta = values[0].copy()
        super().restore(values[1:])

    def m_step(self, counts):
        from scipy.optimize import minimize

        if not counts.sum() > 0:
            return
        theta, lr, fv = self._current()
        before = self._objective(theta, lr, fv, counts)
        old = [b.value.copy() for b in self.fixed]
        for b in self.fixed:
            _row_update(b, counts[b.mask].sum(axis=0))
        fv = [b.value for b in self.fixed]
        if self._objective(theta, lr, fv, counts) < before:  # the marginal's prior disagreed
            for b, v in zip(self.fixed, old):
                b.value = v
            fv = old
        else:
            before = self._objective(theta, lr, fv, counts)
        free = [i for i, s in enumerate(self.sigmas) if np.isfinite(s)]
        k = len(theta)
        scale = max(1.0, float(counts.sum()))

        def unpack(x):
            ratios = list(lr)
            for j, i in enumerate(free):
                ratios[i] = x[k + j]
            return x[:k], ratios

        def loss(x):
            t, r = unpack(x)
            return -self._objective(t, r, fv, counts) / scale

        x0 = np.concatenate([theta, [lr[i] for i in free]])
        res = minimize(loss, x0, method="BFGS", options={"maxiter": 500, "gtol": 1e-8})
        t, r = unpack(res.x)
        if self._objective(t, r, fv, counts) > before:  # a generalised EM step: never worse
            self.theta = np.asarray(t, dtype=float).copy()
            for b, value in zip(self.ratios, r):
                b.value = np.array([0.0, float(np.exp(value))])


def odds_family(network, name, shape, prior_table, ess, ratio_sd, row_blocks):
    """Build the :class:`OddsFamily` of odds node ``name`` of a bayesdx YAML network.

    ``ess``: (node, where) -> equivalent sample size; ``ratio_sd``: (node, where) -> sd of the log
    of an odds ratio; ``row_blocks(raw_rows, prefix, kind)``: the Dirichlet row blocks."""
    from ._odds import _parent_joint
    from ._sources import _Checker

    spec = network.spec
    node = spec.nodes[name]
    cpt = node.cpt
    params = {(p.where, p.state): p for p in spec.params if p.node == name}
    marginal = np.array([params[("cpt.marginal", s)].value for s in node.states])
    blocks, effects, sigmas = [], [], []
    for parent, per_state in (cpt.get("multipliers") or {}).items():
        axis = node.parents.index(parent)
        pstates = spec.nodes[parent].states
        for pstate, per_child in per_state.items():
            for cstate in per_child:
                where = f"cpt.multipliers.{parent}.{pstate}.{cstate}"
                effect = np.zeros(shape)
                index = [slice(None)] * len(shape)
                index[axis] = pstates.index(pstate)
                index[-1] = node.states.index(cstate)
                effect[tuple(index)] = 1.0
                value = params[(where, None)].value
                blocks.append(Block(where, "ratio", np.array([0.0, value]), 0.0, True))
                effects.append(effect)
                sigmas.append(ratio_sd.get((name, where), np.inf))
    blocks += row_blocks(cpt.get("fixed") or [], "cpt.fixed", "fixed")
    weights = _parent_joint(_Checker(spec.path), spec, node, dict(network.arrays.cpts))
    marginal_ess = ess.get((name, "cpt.marginal"), MAX_ESS)
    return OddsFamily(name, shape, blocks, prior_table, weights=weights, marginal=marginal,
                      marginal_ess=marginal_ess, effects=effects, sigmas=sigmas)
