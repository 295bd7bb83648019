"""The calibrated ``odds`` CPT: a prior over a node's states, moved by odds ratios of its parents.

For each non-reference state k of the child, odds(k : reference | parents) = base_k x the product
of the multipliers of the parents' states. The base odds are *calibrated* so that the child's
marginal, averaged over the joint distribution of its parents, equals the stated ``marginal``.

``bayesdx/2`` adds two things (``networks/README.md`` documents both):

* parents may be any non-finding ancestors (context, target or latent nodes), not only context
  nodes; the parents' joint distribution is computed exactly by enumerating their ancestors;
* ``fixed`` rows: in the parent configurations a row's ``when`` matches, the child's distribution
  is exactly the row's ``probs`` (e.g. P(CFS | ALS present) = 0.005); the base odds are then
  calibrated over the remaining configurations so that the marginal still holds exactly.

Calibration solves, in the log base odds theta, sum_c w(c) p_k(c; theta) = r_k for every
non-reference state k (w: the parents' joint over the free configurations; r: the marginal minus
the fixed rows' share) by damped Newton steps. The map is the gradient of a strictly convex
function, so a solution exists exactly when every r_k, reference state included, is positive.
"""

from __future__ import annotations

import math

import numpy as np

from ._compile import _dist_block, _fixed_rows, _shape, _topological
from ._sources import _describe, _scalar
from .inference import EnumerationEngine, ModelArrays

__all__ = ["odds_cpt", "MAX_ANCESTOR_STATES"]

#: Largest joint state space of an odds node's ancestors that calibration enumerates.
MAX_ANCESTOR_STATES = 2_000_000
_CALIBRATION_TOL = 1e-13


def odds_cpt(chk, spec, node, tables):
    """Check and compile one ``odds`` CPT block; None (with problems reported) if unsound."""
    marginal = _dist_block(chk, spec, node, "cpt.marginal", node.cpt.get("marginal"))
    ok = marginal is not None and _check_parents(chk, spec, node)
    if not ok:
        return None
    log_mult, named = _multipliers(chk, spec, node)
    fixed, fixed_named = _fixed_rows(chk, spec, node, calibrated=True)
    if log_mult is None or fixed is None:
        return None
    for parent in node.parents:
        if parent not in named and parent not in fixed_named:
            chk.err(f"parents: {parent!r} has no multipliers and no fixed row (drop the parent or give its odds ratios)")
            ok = False
    if np.any(marginal <= 0):
        chk.err("cpt.marginal: an odds node needs every state's marginal strictly between 0 and 1")
        ok = False
    if not ok:
        return None
    weights = _parent_joint(chk, spec, node, tables)
    if weights is None:  # an ancestor's table was rejected (reported already), or too many states
        return None
    return _calibrate(chk, node, marginal, np.exp(log_mult), weights, fixed)


def _check_parents(chk, spec, node) -> bool:
    ok = True
    for parent in node.parents:
        role = spec.nodes[parent].role
        if spec.format == "bayesdx/1" and role != "context":
            chk.err(f"parents: {parent!r} is a {role} node; in format bayesdx/1 an odds node's parents "
                    f"must be context nodes (bayesdx/2 allows target and latent parents)")
            ok = False
        elif role == "finding":
            chk.err(f"parents: {parent!r} is a finding; an odds node's parents must be context, target "
                    f"or latent nodes")
            ok = False
    return ok


def _multipliers(chk, spec, node):
    """log multiplier per (parent configuration, child state), and the parents named."""
    raw = node.cpt.get("multipliers", {}) or {}
    if not isinstance(raw, dict):
        chk.err(f"cpt.multipliers: expected a mapping parent: state: child state: block, got {_describe(raw)}")
        return None, set()
    shape = _shape(spec, node)
    log_mult = np.zeros(shape)
    ok = True
    for parent, per_state in raw.items():
        if parent not in node.parents:
            chk.err(f"cpt.multipliers: {_describe(parent)} is not a parent of this node")
            ok = False
            continue
        if not isinstance(per_state, dict):
            chk.err(f"cpt.multipliers.{parent}: expected a mapping state: child state: block")
            ok = False
            continue
        pstates = spec.nodes[parent].states
        axis = node.parents.index(parent)
        for pstate, per_child in per_state.items():
            where = f"cpt.multipliers.{parent}.{pstate}"
            if pstate not in pstates[1:]:
                chk.err(f"{where}: {_describe(pstate)} is not a non-reference state of {parent!r} ({', '.join(pstates[1:])})")
                ok = False
                continue
            if not isinstance(per_child, dict):
                chk.err(f"{where}: expected a mapping child state: multiplier block")
                ok = False
                continue
            for cstate, block in per_child.items():
                if cstate not in node.states[1:]:
                    chk.err(f"{where}: {_describe(cstate)} is not a non-reference state of this node ({', '.join(node.states[1:])})")
                    ok = False
                    continue
                value = _scalar(chk, spec, node, f"{where}.{cstate}", block, value_key="value", is_prob=False)
                if value is None:
                    ok = False
                    continue
                index = [slice(None)] * len(shape)
                index[axis] = pstates.index(pstate)
                index[-1] = node.states.index(cstate)
                log_mult[tuple(index)] += np.log(value)
    return (log_mult if ok else None), set(raw) if isinstance(raw, dict) else set()


def _calibrate(chk, node, marginal, mult, weights, fixed):
    mask, fixed_probs = fixed
    card = len(node.states)
    free_w = np.where(mask, 0.0, weights)
    fixed_mass = (np.where(mask, weights, 0.0)[..., None] * fixed_probs).reshape(-1, card).sum(axis=0)
    residual = marginal - fixed_mass
    if np.any(residual <= 1e-15) or free_w.sum() <= 1e-15:
        worst = int(np.argmin(residual))
        chk.err(f"cpt.fixed: calibration is impossible: the fixed rows alone give P({node.states[worst]}) "
                f"a share {fixed_mass[worst]:.6g} of the population, which leaves {residual[worst]:.3g} for the "
                f"other configurations (the marginal is {marginal[worst]:.6g}; every state needs a positive "
                f"remainder)")
        return None
    w = free_w.reshape(-1)
    m = mult.reshape(-1, card)[:, 1:]
    target = residual[1:]
    theta = np.log(target / residual[0])

    def averaged(th):
        odds = m * np.exp(th)
        p = odds / (1.0 + odds.sum(axis=1, keepdims=True))
        return p, w @ p - target

    p, gap = averaged(theta)
    for _ in range(200):
        if np.max(np.abs(gap)) < _CALIBRATION_TOL:
            break
        jac = np.diag(w @ p) - (p * w[:, None]).T @ p
        step = np.linalg.solve(jac, -gap)
        size = 1.0
        while True:
            p_new, gap_new = averaged(theta + size * step)
            if np.max(np.abs(gap_new)) < np.max(np.abs(gap)) or size < 1e-6:
                break
            size /= 2
        theta, p, gap = theta + size * step, p_new, gap_new
    if not np.max(np.abs(gap)) < 1e-12:
        chk.err(f"cpt: could not calibrate the base odds to the marginal (largest gap {np.max(np.abs(gap)):.3g}; "
                f"multipliers too extreme?)")
        return None
    odds = mult[..., 1:] * np.exp(theta)
    denom = 1.0 + odds.sum(axis=-1, keepdims=True)
    table = np.concatenate([1.0 / denom, odds / denom], axis=-1)
    return np.where(mask[..., None], fixed_probs, table)


def _parent_joint(chk, spec, node, tables) -> np.ndarray | None:
    """P(parents of node), exact, by enumerating the parents' ancestors; None when one of those
    tables was rejected (already reported) or the ancestors' joint state space is too large."""
    if not node.parents:
        return np.array(1.0)
    needed: list[str] = []
    stack = list(node.parents)
    while stack:
        n = stack.pop()
        if n not in needed:
            needed.append(n)
            stack.extend(spec.nodes[n].parents)
    if any(n not in tables for n in needed):
        return None
    size = math.prod(len(spec.nodes[n].states) for n in needed)
    if size > MAX_ANCESTOR_STATES:
        chk.err(f"parents: calibrating this odds node enumerates the joint of its {len(needed)} ancestors "
                f"({', '.join(sorted(needed))}), {size:,} states, more than the limit of "
                f"{MAX_ANCESTOR_STATES:,}; give it fewer or coarser ancestors")
        return None
    order = [n for n in _topological(spec) if n in needed]
    arrays = ModelArrays(
        nodes=tuple(order),
        states={n: spec.nodes[n].states for n in order},
        parents={n: spec.nodes[n].parents for n in order},
        cpts={n: tables[n] for n in order},
    )
    engine = EnumerationEngine(arrays)
    return engine._sum_to(engine.joint, list(node.parents))
