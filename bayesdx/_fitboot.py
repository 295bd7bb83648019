"""Bootstrap intervals for the numbers :func:`bayesdx.fit` updates: refit on resampled cases.

The frame it returns (``FitResult.bootstrap``) has one row per fitted number, keyed like
``Network.parameters()`` (node, where, state), so interval code can join it to the provenance
table: ``value`` (the fit), ``prior`` (the file's number), ``boot_mean``, ``boot_sd``,
``ci95_low`` and ``ci95_high`` (2.5% and 97.5% percentiles of the refits) and ``n_boot``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._em import fitted_arrays
from .exceptions import _check_seed

__all__ = ["bootstrap_intervals", "BOOTSTRAP_COLUMNS"]

BOOTSTRAP_COLUMNS = ["node", "label", "where", "state", "value", "prior", "boot_mean", "boot_sd",
                     "ci95_low", "ci95_high", "n_boot"]


def _numbers(network, families, fit_nodes):
    """[(node, where, state, value)] of every number of the fitted families, as the file writes it."""
    out = []
    for name in fit_nodes:
        states = network.states(name)
        for b in families[name].blocks:
            if b.scalar:
                out.append((name, b.where, None, float(b.value[1]), float(b.prior[1])))
            else:
                out.extend((name, b.where, s, float(b.value[k]), float(b.prior[k]))
                           for k, s in enumerate(states))
    return out


def bootstrap_intervals(network, columns, codes, families, fit_nodes, method, max_iter, tol,
                        n_boot, seed, run) -> pd.DataFrame:
    """Refit ``n_boot`` times on cases drawn with replacement, EM started from the fit.

    ``families`` hold the fit; each refit moves their values and they are restored after it."""
    rng = _check_seed(seed, "fit")
    point = {n: f.snapshot() for n, f in families.items()}
    base = _numbers(network, families, fit_nodes)
    draws = np.empty((n_boot, len(base)))
    fitted = type(network)(fitted_arrays(network, families), name=network.name, targets=network.targets,
                           tests=network.tests, engine=network.engine_name)
    try:
        for i in range(n_boot):
            rows = rng.integers(0, len(codes), len(codes))
            run(fitted, columns, codes[rows], families, fit_nodes, method, max_iter, tol)
            draws[i] = [v for *_, v, _p in _numbers(network, families, fit_nodes)]
            for n, f in families.items():
                f.restore(point[n])
    finally:
        for n, f in families.items():
            f.restore(point[n])
    lo, hi = np.percentile(draws, [2.5, 97.5], axis=0)
    return pd.DataFrame({
        "node": [b[0] for b in base],
        "label": [network.label(b[0]) for b in base],
        "where": [b[1] for b in base],
        "state": [b[2] for b in base],
        "value": [b[3] for b in base],
        "prior": [b[4] for b in base],
        "boot_mean": draws.mean(axis=0),
        "boot_sd": draws.std(axis=0, ddof=1) if n_boot > 1 else np.full(len(base), np.nan),
        "ci95_low": lo,
        "ci95_high": hi,
        "n_boot": n_boot,
    }, columns=BOOTSTRAP_COLUMNS)


def bootstrap_ranges(network, boot: pd.DataFrame, n_cases: int):
    """``network`` (the fit, built fresh by :func:`bayesdx.fit`) with each fitted number's range
    set to its bootstrap 95% interval (widened to hold the fitted value) and its grade to
    ``measured``, which :mod:`bayesdx.priors` reads as a 95% central interval: so
    :func:`bayesdx.uncertainty` on a fitted network draws from what the local cases leave
    uncertain, not from the file's prior range. The raw file blocks change with the provenance
    table, so a further ``with_parameters`` keeps them. Numbers without a bootstrap row keep
    their range and grade."""
    import dataclasses
    import math

    rows = {(r.node, r.where, None if r.state is None or (isinstance(r.state, float)
                                                          and math.isnan(r.state)) else r.state):
            (float(r.ci95_low), float(r.ci95_high)) for r in boot.itertuples(index=False)}
    params = network.spec.params
    note = f"range: bootstrap 95% interval over {int(boot['n_boot'].iloc[0])} resamples of {n_cases} cases"
    for i, p in enumerate(params):
        interval = rows.get((p.node, p.where, p.state))
        if interval is None or not all(math.isfinite(x) for x in interval):
            continue
        low, high = min(interval[0], p.value), max(interval[1], p.value)
        locator = p.locator if note in p.locator else f"{p.locator}; {note}"
        params[i] = dataclasses.replace(p, range_low=low, range_high=high, grade="measured",
                                        locator=locator)
        block = p.block
        if block is None:
            continue
        block["grade"], block["locator"] = "measured", locator
        if p.state is None:
            block["range"] = [low, high]
        else:
            ranges = block.get("range")
            block["range"] = ranges = dict(ranges) if isinstance(ranges, dict) else {}
            ranges[p.state] = [low, high]
    return network
