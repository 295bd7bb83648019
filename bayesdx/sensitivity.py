"""Sensitivity of a diagnosis to the network's numbers: one-way sweeps (:func:`sweep`), the
tornado of the numbers that move an answer most across their stated ranges (:func:`tornado`),
and, for the top recommendation, the interval of each number over which it stays on top
(:func:`admissible_deviations`, van der Gaag & Renooij's admissible deviation).

Every setting is answered on the batched path of :func:`bayesdx.uncertainty` (all settings of a
call at once); a changed number of a distribution rescales its row's other states, as
:meth:`bayesdx.Network.with_parameters` does.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .exceptions import InvalidParameterError, _check_count

__all__ = ["Sweep", "sweep", "tornado", "admissible_deviations"]


def _evaluator(network, evidence, objective, orders):
    from ._batcheval import SettingsEvaluator
    from .io import as_network

    return SettingsEvaluator(as_network(network), evidence, objective, orders)


def _rows_of(network, parameter) -> tuple[list[int], bool]:
    """(the parameter rows a sweep sets, whether it is a node's prior given by one number)."""
    from ._changes import prior_changes, resolve_parameter

    if isinstance(parameter, str):
        rows = prior_changes(network, parameter, 0.5) if len(network.states(parameter)) == 2 else None
        if rows is None:
            raise InvalidParameterError(f"Node {parameter!r} has {len(network.states(parameter))} "
                                        f"states: sweep one of its numbers, (node, where, state).")
        return list(rows), True
    return [resolve_parameter(network, parameter)], False


def _settings(ev, rows: Sequence[int], values) -> tuple[np.ndarray, np.ndarray]:
    """One setting per value of the parameter ``rows[0]``; (settings, which could be built)."""
    from ._changes import _number, apply_changes

    params = ev.network.spec.params
    out, ok = [], []
    for v in values:
        v = _number(params[rows[0]], v)
        row = apply_changes(ev.base, params, {rows[0]: v})
        ok.append(row is not None)
        out.append(row if row is not None else ev.base)
    return np.array(out), np.array(ok)


def _marginals(ev, target_probs) -> dict[tuple[str, str], np.ndarray]:
    net = ev.network
    cards = [net.arrays.card(t) for t in net.targets]
    joint = target_probs.reshape((-1, *cards))
    out = {}
    for k, t in enumerate(net.targets):
        marg = joint.sum(axis=tuple(1 + j for j in range(len(cards)) if j != k))
        for s, state in enumerate(net.states(t)):
            out[(t, state)] = marg[:, s]
    return out


class Sweep:
    """A one-way sweep: the diagnosis for each value of one number (see :func:`sweep`).

    Attributes
    ----------
    parameter : str
        What was swept, in words (node, where, state).
    values : numpy.ndarray
    posteriors : pandas.DataFrame
        Index ``value``; columns (target, state): the posterior at each value.
    order_values : pandas.DataFrame
        Index ``value``; one column per ranked order: its value under the objective.
    top : pandas.Series
        Index ``value``: the name of the top order at each value.
    point : float
        The number's value in the network (the stated value, or the value it was changed to),
        e.g. the prior of ALS for a sweep of ``"als"``.
    """

    def __init__(self, parameter, values, posteriors, order_values, top, labels, objective,
                 point=float("nan")):
        self.parameter = parameter
        self.point = float(point)
        self.values = values
        self.posteriors = posteriors
        self.order_values = order_values
        self.top = top
        self.objective = objective
        self._labels = labels

    def to_frame(self) -> pd.DataFrame:
        """Tidy: one row per (value, quantity, item, state).

        Returns
        -------
        pandas.DataFrame
            Columns ``value`` (the swept number), ``quantity`` (``"posterior"`` or
            ``"order_value"``), ``item`` (target or order name), ``label``, ``state`` (posteriors
            only), ``result`` (the posterior, or the order's value in the objective's unit) and
            ``is_top`` (orders: whether it is the top recommendation at that value).
        """
        rows = []
        for v in self.values:
            for (t, s), p in self.posteriors.loc[v].items():
                rows.append({"value": v, "quantity": "posterior", "item": t,
                             "label": self._labels[t], "state": s, "result": float(p),
                             "is_top": None})
            for o, x in self.order_values.loc[v].items():
                rows.append({"value": v, "quantity": "order_value", "item": o,
                             "label": self._labels[o], "state": None, "result": float(x),
                             "is_top": bool(self.top.loc[v] == o)})
        return pd.DataFrame(rows, columns=["value", "quantity", "item", "label", "state", "result",
                                           "is_top"])

    def __repr__(self) -> str:
        lines = [f"Sweep of {self.parameter} over {len(self.values)} values:"]
        for v, t in self.top.items():
            lines.append(f"  {v:.6g}: top order {self._labels.get(t, t)!r}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        frame = pd.DataFrame({"top order": self.top.map(lambda t: self._labels.get(t, t))})
        return (f"<p><b>Sweep of {html.escape(self.parameter)}</b></p>"
                + frame.to_html() + self.posteriors.to_html(float_format=lambda x: f"{x:.4f}"))


def sweep(network, parameter, values, *, evidence=None, objective=None, orders=None) -> Sweep:
    """The diagnosis at each value of one number of the network (a one-way sensitivity sweep).

    Parameters
    ----------
    network : Network or str
    parameter : str, int or tuple
        A two-state node's name (its prior: the probability of its non-reference state, e.g.
        ``"als"``), a row of :meth:`Network.parameters`, or ``(node, where, state)``.
    values : sequence of float
        The values to set it to.
    evidence, objective, orders
        As for :func:`bayesdx.diagnose`.

    Returns
    -------
    Sweep

    Examples
    --------
    >>> import bayesdx
    >>> s = bayesdx.sensitivity.sweep("fasciculation", "als", [0.005, 0.03, 0.10])
    >>> [round(float(p), 3) for p in s.posteriors[("als", "present")]]
    [0.005, 0.03, 0.1]
    >>> s.point  # the prior as the file states it
    0.03
    """
    ev = _evaluator(network, evidence, objective, orders)
    net = ev.network
    rows, _ = _rows_of(net, parameter)
    values = np.asarray(list(values), dtype=float)
    if values.ndim != 1 or not len(values):
        raise InvalidParameterError("The 'values' parameter of sweep must be a non-empty sequence "
                                    "of numbers.")
    settings, built = _settings(ev, rows, values)
    p = net.spec.params[rows[0]]
    name = f"{p.node} {p.where}" + (f" [{p.state}]" if p.state is not None else "")
    res = ev.evaluate(settings)
    bad = ~(built & res["valid"])
    if bad.any():
        raise InvalidParameterError(f"{name} = {', '.join(f'{v:g}' for v in values[bad][:5])} makes "
                                    f"an invalid network (e.g. a noisy-OR cause below its leak).")
    index = pd.Index(values, name="value")
    marg = _marginals(ev, res["target_probs"])
    posteriors = pd.DataFrame({k: v for k, v in marg.items()}, index=index)
    posteriors.columns = pd.MultiIndex.from_tuples(posteriors.columns, names=["target", "state"])
    names = [o.name for o in ev.orders]
    order_values = pd.DataFrame(res["value"], index=index, columns=pd.Index(names, name="order"))
    top = pd.Series([names[k] if k >= 0 else None for k in res["top"]], index=index, name="top")
    labels = {t: net.label(t) for t in net.targets} | {o.name: o.label for o in ev.orders}
    return Sweep(name, values, posteriors, order_values, top, labels, ev.objective,
                 point=float(ev.base[rows[0]]))


def _quantity(ev, quantity):
    """A function of an evaluation's result giving the quantity per setting, and its name."""
    net = ev.network
    if quantity == "top_margin":
        rank0 = ev.values0.rank
        if len(rank0) < 2:
            raise InvalidParameterError("top_margin needs at least two ranked orders.")
        k0 = int(rank0[0])

        def margin(res):
            value = res["value"]
            others = np.delete(value, k0, axis=1)
            return value[:, k0] - np.max(others, axis=1)

        return margin, f"margin of {ev.orders[k0].label!r} over the next order"
    if (isinstance(quantity, tuple) and len(quantity) == 3 and quantity[0] == "posterior"):
        _, target, state = quantity
        if target not in net.targets:
            net.check_node(target)
            raise InvalidParameterError(f"{target!r} is not a target; targets: {', '.join(net.targets)}.")
        net.check_state(target, state)
        return (lambda res: _marginals(ev, res["target_probs"])[(target, state)],
                f"P({net.label(target)} = {state})")
    raise InvalidParameterError(f"The 'quantity' parameter must be 'top_margin' or ('posterior', target, "
                                f"state); got {quantity!r}.")


def tornado(network, *, evidence=None, quantity=("posterior", None, None), top: int = 15,
            objective=None, orders=None, nodes=None) -> pd.DataFrame:
    """The numbers that move a quantity most between the two ends of their stated ranges.

    Parameters
    ----------
    network : Network or str
    evidence, objective, orders
        As for :func:`bayesdx.diagnose`.
    quantity : "top_margin" or ("posterior", target, state)
        What is moved: the value of the top order (with the stated numbers) minus the best other
        order's (the objective's unit; it stays on top while > 0), or a posterior. Default: the
        posterior of the first target's first non-reference state.
    top : int, default 15
        How many numbers to keep.
    nodes : sequence of str, optional
        Only the numbers of these nodes' tables (default: every ranged table number).

    Returns
    -------
    pandas.DataFrame
        The ``top`` numbers by ``swing``, largest first, indexed by ``param`` (the row of
        :meth:`Network.parameters`): ``node``, ``label`` (the node's), ``where``, ``state``,
        ``value``, ``range_low``, ``range_high``, ``quantity`` (in words), ``point`` (the quantity
        with the stated numbers), ``at_low``, ``at_high`` (at each end of the range; NaN where the
        file's checks reject it) and ``swing`` = ``|at_high - at_low|``.

    Examples
    --------
    >>> import bayesdx
    >>> t = bayesdx.sensitivity.tornado("fasciculation", quantity=("posterior", "als", "present"),
    ...                                 nodes=["als", "age_band", "sex"], top=3)
    >>> t.iloc[0]["node"], t.iloc[0]["state"]
    ('als', 'present')
    """
    from ._changes import apply_changes

    top = _check_count(top, "top", "tornado")
    ev = _evaluator(network, evidence, objective, orders)
    net = ev.network
    if quantity == ("posterior", None, None):
        t = net.targets[0]
        ref = net.reference_state(t)
        quantity = ("posterior", t, next(s for s in net.states(t) if s != ref))
    fn, name = _quantity(ev, quantity)
    params = net.spec.params
    from .priors import CPT_KINDS

    if nodes is not None:
        nodes = {net.check_node(n) for n in ([nodes] if isinstance(nodes, str) else nodes)}
    chosen, settings = [], []
    for i, p in enumerate(params):
        if nodes is not None and p.node not in nodes:
            continue
        if (p.cpt_type in CPT_KINDS and p.range_low is not None and p.range_high > p.range_low):
            lo = apply_changes(ev.base, params, {i: p.range_low})
            hi = apply_changes(ev.base, params, {i: p.range_high})
            if lo is None or hi is None:
                continue
            chosen.append(i)
            settings.extend([lo, hi])
    if not settings:
        raise InvalidParameterError("No number with a range of non-zero width to vary"
                                    + (f" among the tables of {', '.join(sorted(nodes))}." if nodes else "."))
    res = ev.evaluate(np.array(settings))
    q = fn(res)
    q[~res["valid"]] = np.nan
    point = float(fn(ev.evaluate(ev.base[None, :]))[0])
    frame = net.parameters().loc[chosen, ["node", "where", "state", "value", "range_low", "range_high"]]
    frame.insert(1, "label", [net.label(n) for n in frame["node"]])
    frame["quantity"] = name
    frame["point"] = point
    frame["at_low"], frame["at_high"] = q[0::2], q[1::2]
    frame["swing"] = (frame["at_high"] - frame["at_low"]).abs()
    frame.index.name = "param"
    return frame.sort_values("swing", ascending=False, kind="stable", na_position="last").head(top)


def admissible_deviations(network, *, evidence=None, parameters=None, top: int = 10,
                          objective=None, orders=None, steps: int = 12,
                          tolerance: float = 1e-4) -> pd.DataFrame:
    """For the top recommendation, the interval of each influential number over which it stays on
    top (all other numbers as stated): its admissible deviation.

    Each side is bracketed on a grid from the stated value to the end of the number's domain
    ((0, 1) for a probability, value / 1000 to value x 1000 for an odds ratio; logit or log
    spaced), then narrowed by bisection to ``tolerance`` (relative, on that scale).

    Parameters
    ----------
    network : Network or str
    evidence, objective, orders
        As for :func:`bayesdx.diagnose`.
    parameters : sequence, optional
        The numbers (rows of :meth:`Network.parameters` or (node, where, state)); default the
        ``top`` numbers of :func:`tornado` with ``quantity="top_margin"``.
    top : int, default 10
    steps : int, default 12
        Grid points per side.
    tolerance : float, default 1e-4

    Returns
    -------
    pandas.DataFrame
        Indexed by ``param``: ``node``, ``label``, ``where``, ``state``, ``value``, ``range_low``,
        ``range_high``, ``top_order`` (its label), ``admissible_low``, ``admissible_high`` (the
        interval; the domain's end when the order stays on top all the way), ``changes_low``,
        ``changes_high`` (the label of the order that takes over beyond each end,
        ``"(an invalid network)"`` where the file's checks reject the numbers beyond, and NaN
        where none does: one missing-value convention, test it with ``pandas.isna``) and
        ``robust_in_range`` (whether the whole stated range is admissible, an end of the range
        within ``tolerance`` of an admissible end counting as inside, since the bisection locates
        that end no closer).

    Examples
    --------
    >>> import bayesdx
    >>> a = bayesdx.sensitivity.admissible_deviations("fasciculation", parameters=[25])
    >>> bool(a.iloc[0]["admissible_low"] <= a.iloc[0]["value"] <= a.iloc[0]["admissible_high"])
    True
    """
    from ._changes import apply_changes, resolve_parameter

    ev = _evaluator(network, evidence, objective, orders)
    net = ev.network
    steps = _check_count(steps, "steps", "admissible_deviations", low=2)
    rank0 = ev.values0.rank
    if not len(rank0):
        raise InvalidParameterError("No order has an unobserved readout: there is no recommendation.")
    k0 = int(rank0[0])
    if parameters is None:
        rows = list(tornado(net, evidence=evidence, quantity="top_margin", top=top,
                            objective=objective, orders=orders).index)
    else:
        rows = [resolve_parameter(net, p) for p in parameters]
    params = net.spec.params
    labels = [o.label for o in ev.orders]

    def scale(i):
        is_odds = params[i].value_key == "value"
        fwd = np.log if is_odds else (lambda x: np.log(x) - np.log1p(-x))
        back = np.exp if is_odds else (lambda y: 1 / (1 + np.exp(-y)))
        v = params[i].value
        lo, hi = (v / 1000, v * 1000) if is_odds else (1e-6, 1 - 1e-6)
        return fwd, back, fwd(min(max(v, lo), hi)), fwd(lo), fwd(hi)

    def run(points):
        """Top order per (row, value) pair, -2 where the setting is rejected."""
        settings = []
        built = []
        for i, x in points:
            s = apply_changes(ev.base, params, {i: x})
            built.append(s is not None)
            settings.append(s if s is not None else ev.base)
        res = ev.evaluate(np.array(settings))
        return np.where(np.array(built) & res["valid"], res["top"], -2)

    width = max(1e-12, tolerance)
    out = []
    for side in (0, 1):
        grids = []
        for i in rows:
            fwd, back, y0, ylo, yhi = scale(i)
            end = ylo if side == 0 else yhi
            grids.append([(i, float(back(y))) for y in np.linspace(y0, end, steps + 1)[1:]])
        flat = [pt for g in grids for pt in g]
        tops = run(flat).reshape(len(rows), steps)
        found = []
        for r, i in enumerate(rows):
            fwd, back, y0, ylo, yhi = scale(i)
            ys = np.linspace(y0, ylo if side == 0 else yhi, steps + 1)
            change = np.flatnonzero(tops[r] != k0)
            if not len(change):
                found.append([ys[-1], ys[-1], None])
                continue
            j = int(change[0])
            found.append([ys[j], ys[j + 1], int(tops[r][j])])  # [still top, changed]
        for _ in range(60):
            active = [r for r, f in enumerate(found) if f[2] is not None and abs(f[1] - f[0]) > width]
            if not active:
                break
            mids = [(rows[r], float(scale(rows[r])[1]((found[r][0] + found[r][1]) / 2))) for r in active]
            tops = run(mids)
            for r, t in zip(active, tops):
                middle = (found[r][0] + found[r][1]) / 2
                if t == k0:
                    found[r][0] = middle
                else:
                    found[r][1], found[r][2] = middle, int(t)
        out.append([(float(scale(rows[r])[1](f[0])), f[2]) for r, f in enumerate(found)])
    frame = net.parameters().loc[rows, ["node", "where", "state", "value", "range_low", "range_high"]]
    frame.insert(1, "label", [net.label(n) for n in frame["node"]])
    frame["top_order"] = labels[k0]
    frame["admissible_low"] = [lo for lo, _ in out[0]]
    frame["admissible_high"] = [hi for hi, _ in out[1]]

    def who(t):
        if t is None or (t < 0 and t != -2):
            return np.nan
        return "(an invalid network)" if t == -2 else labels[t]

    frame["changes_low"] = pd.Series([who(t) for _, t in out[0]], index=frame.index, dtype=object)
    frame["changes_high"] = pd.Series([who(t) for _, t in out[1]], index=frame.index, dtype=object)

    def inside(i, end, admissible, side):
        """Whether a range end lies within the admissible end, to the bisection's tolerance on
        the number's own scale."""
        if math.isnan(end):
            return True
        fwd, back, _, ylo, yhi = scale(i)
        y_end, y_adm = (float(np.clip(fwd(min(max(x, back(ylo)), back(yhi))), ylo, yhi))
                        for x in (end, admissible))
        return y_end >= y_adm - width if side == 0 else y_end <= y_adm + width

    frame["robust_in_range"] = [
        inside(i, lo, a_lo, 0) and inside(i, hi, a_hi, 1)
        for i, lo, hi, a_lo, a_hi in zip(rows, frame["range_low"].astype(float),
                                         frame["range_high"].astype(float),
                                         frame["admissible_low"], frame["admissible_high"])]
    frame.index.name = "param"
    return frame
