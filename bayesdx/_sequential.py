"""Sequential evaluation: reveal each case's findings in the order a testing policy chooses.

A policy is an objective of :func:`bayesdx.diagnose` (ranking test orders, or single tests with
``by="node"``) or a fixed list of order (or test) names. Every case starts from its findings that
no order reads (the context, e.g. age and sex); at each step the policy picks the best available
order, whose recorded readouts are revealed and whose cost is added. This module owns that loop;
:mod:`bayesdx.evaluate` turns its trace into accuracy and cost figures.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exceptions import InvalidParameterError, UnknownOrderError
from .network import Network
from .objectives import Objective

__all__ = ["Policy", "resolve_policies", "run_policy", "TRACE_COLUMNS"]

#: One row per case and step (step 0: the starting evidence) of a sequential run.
TRACE_COLUMNS = ["policy", "case", "step", "order", "cost_usd", "cum_cost_usd", "top",
                 "top_probability", "answer", "correct", "decided"]


@dataclass(frozen=True)
class Policy:
    """A named testing policy: an objective (``objective``) or a fixed list of names (``fixed``)."""

    name: str
    objective: str | Objective | None = None
    fixed: tuple[str, ...] | None = None


def resolve_policies(sequential, network: Network, by: str) -> list[Policy]:
    """``sequential`` (an objective, a list of names, or a dict ``{name: either}``, or a list of
    objectives) as a list of :class:`Policy`, names checked."""
    if isinstance(sequential, Mapping):
        items = list(sequential.items())
    elif isinstance(sequential, (str, Objective)):
        items = [(None, sequential)]
    elif isinstance(sequential, Sequence) and sequential and all(
            isinstance(s, (str, Objective)) for s in sequential) and all(
            isinstance(s, Objective) or s in _objective_names() for s in sequential):
        items = [(None, s) for s in sequential]
    elif isinstance(sequential, Sequence) and not isinstance(sequential, str):
        items = [("fixed order", list(sequential))]
    else:
        raise InvalidParameterError(f"The 'sequential' parameter of evaluate must be an objective, a "
                                    f"list of order names or a dict of them. Got {sequential!r} "
                                    f"instead.")
    if by == "node":
        valid = list(network.tests)
    else:
        valid = [o.name for o in network.orders]
    policies = []
    for name, spec in items:
        if isinstance(spec, (str, Objective)):
            Objective(spec) if isinstance(spec, str) else spec  # validates the name
            label = name or (spec if isinstance(spec, str) else spec.kind)
            policies.append(Policy(str(label), objective=spec))
        elif isinstance(spec, Sequence):
            for entry in spec:
                if entry not in valid:
                    raise UnknownOrderError(entry, valid, detail=f"(by={by!r})")
            policies.append(Policy(str(name), fixed=tuple(spec)))
        else:
            raise InvalidParameterError(f"Policy {name!r} must be an objective or a list of names; "
                                        f"got {type(spec).__name__}.")
    names = [p.name for p in policies]
    if len(set(names)) != len(names):
        raise InvalidParameterError(f"Two policies are named alike: {names}; pass a dict "
                                    f"{{name: policy}}.")
    return policies


def _objective_names() -> tuple[str, ...]:
    from .objectives import OBJECTIVES

    return tuple(OBJECTIVES)


def _rule_stop(value: np.ndarray, same_decision: np.ndarray, objective: Objective) -> bool:
    """The objective's stopping rule (:func:`bayesdx.ranking.stop_advice`) over the orders still
    available to the case, given best first."""
    if not value.size:
        return True
    best = float(value[0])
    if objective.kind == "decision":
        return best <= 0 or float(same_decision.min()) >= objective.same_decision_level
    if objective.kind == "cost":
        return best <= 0
    return best < objective.min_gain_bits


def _ranked(network: Network, evidence: dict, policy: Policy, by: str, targets: Sequence[str],
            shared: dict):
    """The orders ranked for ``evidence`` (names, values, same-decision probabilities, best
    first), the resolved objective and P(disease) for each target. ``shared`` keeps one
    diagnosis per evidence for every policy: another objective reuses its outcome tables."""
    from .results import diagnose

    key = tuple(sorted(evidence.items()))
    if key not in shared:
        shared[key] = diagnose(network, evidence=evidence, by=by)
    dx = shared[key].with_objective(policy.objective)
    tables, values = dx._order_tables, dx._order_values
    rank = np.asarray(values.rank, dtype=np.int64)
    names = [tables.orders[k].name for k in rank]
    p = np.array([1.0 - float(dx._marginal_array(dx._query, t)[
        network.states(t).index(network.reference_state(t))]) for t in targets])
    return names, np.asarray(values.value)[rank], np.asarray(values.same_decision_prob)[rank], \
        dx.objective, p


def answers(p: np.ndarray, none_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Index of the most probable disease per row, and whether the answer is "none" (no
    disease reaches ``none_threshold``)."""
    top = np.argmax(p, axis=1)
    return top, p[np.arange(p.shape[0]), top] < none_threshold


def run_policy(network: Network, cases: pd.DataFrame, present: np.ndarray, targets: Sequence[str],
               policy: Policy, *, by: str, stop: str, threshold: float, max_tests: int | None,
               none_threshold: float, probabilities: Callable[[list[dict]], np.ndarray],
               progress: Callable | None = None, shared: dict | None = None) -> pd.DataFrame:
    """Run ``policy`` on every case; return the trace (:data:`TRACE_COLUMNS`).

    ``present`` is (cases, targets) 0/1; ``probabilities(evidences)`` gives P(disease) for a
    batch of evidence dicts, shape (len, targets). ``shared``: diagnoses by evidence, kept
    across the policies of one evaluation.
    """
    shared = {} if shared is None else shared
    if by == "node":
        reads = {t: (t,) for t in network.tests}
        cost = {t: network.cost(t) for t in network.tests}
    else:
        reads = {o.name: tuple(o.readouts) for o in network.orders}
        cost = {o.name: o.cost_usd for o in network.orders}
    cost = {k: (0.0 if v is None or not math.isfinite(v) else float(v)) for k, v in cost.items()}
    readout_set = {r for rs in reads.values() for r in rs}
    columns = list(cases.columns)
    values = cases.astype(object).where(cases.notna(), None).to_numpy()
    n = len(cases)
    evidence = [{c: v for c, v in zip(columns, row) if v is not None and c not in readout_set}
                for row in values]
    recorded = [{c: v for c, v in zip(columns, row) if v is not None and c in readout_set}
                for row in values]
    done: list[set[str]] = [set() for _ in range(n)]
    cum = np.zeros(n)
    steps = np.zeros(n, dtype=np.int64)
    active = np.ones(n, dtype=bool)
    present = np.asarray(present, dtype=bool)
    none_true = ~present.any(axis=1)
    memo: dict = {}
    rows: list[tuple] = []

    def record(idx: np.ndarray, chosen: Sequence[str | None], spent: Sequence[float]):
        if policy.fixed is None:
            p = np.array([lookup(i)[4] for i in idx]).reshape(len(idx), len(targets))
        else:
            p = probabilities([evidence[i] for i in idx])
        top, none = answers(p, none_threshold)
        decided = ((p >= threshold) | (p <= 1 - threshold)).all(axis=1)
        correct = np.where(none, none_true[idx], present[idx, top])
        for j, i in enumerate(idx):
            rows.append((policy.name, cases.index[i], int(steps[i]), chosen[j], spent[j], cum[i],
                         targets[top[j]], float(p[j, top[j]]), "none" if none[j] else targets[top[j]],
                         bool(correct[j]), bool(decided[j])))
        return decided

    def lookup(i: int):
        key = tuple(sorted(evidence[i].items()))
        if key not in memo:
            memo[key] = _ranked(network, evidence[i], policy, by, targets, shared)
        return memo[key]

    def available(i: int) -> list[str]:
        return [k for k, rs in reads.items()
                if k not in done[i] and any(r in recorded[i] and r not in evidence[i] for r in rs)]

    idx = np.arange(n)
    decided = record(idx, [None] * n, [0.0] * n)
    finished = 0
    while active.any():
        if stop == "threshold":
            active[idx[decided]] = False
        if max_tests is not None:
            active &= steps < max_tests
        moved, chosen, spent = [], [], []
        for i in np.flatnonzero(active):
            options = available(i)
            pick = None
            if options and policy.fixed is not None:
                pick = next((k for k in policy.fixed if k in options), None)
            elif options:
                names, value, same, objective, _ = lookup(i)
                keep = np.isin(names, options)
                if keep.any() and not (stop == "rule" and _rule_stop(value[keep], same[keep],
                                                                      objective)):
                    pick = names[int(np.argmax(keep))]
            if pick is None:
                active[i] = False
                continue
            done[i].add(pick)
            evidence[i].update({r: recorded[i][r] for r in reads[pick] if r in recorded[i]})
            cum[i] += cost[pick]
            steps[i] += 1
            moved.append(i)
            chosen.append(pick)
            spent.append(cost[pick])
        if progress is not None:
            now = n - int(active.sum())
            if now != finished:
                finished = now
                progress(policy.name, finished, n)
        if not moved:
            break
        idx = np.asarray(moved)
        decided = record(idx, chosen, spent)
    return pd.DataFrame(rows, columns=TRACE_COLUMNS)
