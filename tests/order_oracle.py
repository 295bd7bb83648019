"""An independent oracle for the value of test orders.

Everything here is written from the definitions, with plain Python loops over the joint
configurations of :class:`oracle.BruteForce`, and shares no code with ``bayesdx.orders``,
``bayesdx.decision`` or ``bayesdx.ranking``:

* an order's report is, for each readout, its state, except a reflex readout whose trigger is not
  in one of its trigger states, which is not reported;
* P(report | e) and P(targets | e, report) are sums over the configurations consistent with e that
  produce that report;
* each action is decided by comparing, explicitly, the expected utility of taking it,
  P(states)·B − (1 − P(states))·C, with 0 (not taking it); the decision value of an order is
  Σ_report P(report | e) · Σ_actions best(report) − Σ_actions best(now).
"""

from __future__ import annotations

import math


def _entropy(dist) -> float:
    return -sum(p * math.log2(p) for p in dist.values() if p > 0)


def report_of(order, config, arrays, evidence) -> tuple:
    """The report ``order`` gives in the joint configuration ``config`` (state indices), as a
    tuple of (readout, state label) for the readouts not in the evidence and reported."""
    out = []
    for readout in order.readouts:
        if readout in evidence:
            continue
        triggers = order.reflex.get(readout, {})
        shown = all(arrays.states[node][config[node]] in allowed for node, allowed in triggers.items())
        if shown:
            out.append((readout, arrays.states[readout][config[readout]]))
    return tuple(out)


def order_outcomes(bf, targets, order, evidence):
    """{report: (P(report | e), {target configuration: P(t | e, report)})} by enumeration."""
    arrays = bf.arrays
    mass: dict = {}
    joint: dict = {}
    total = 0.0
    for config, p in bf.configs:
        if p == 0 or any(config[n] != s for n, s in evidence.items()):
            continue
        total += p
        key = report_of(order, config, arrays, evidence)
        t = tuple(config[x] for x in targets)
        mass[key] = mass.get(key, 0.0) + p
        joint.setdefault(key, {})
        joint[key][t] = joint[key].get(t, 0.0) + p
    out = {}
    for key, m in mass.items():
        if m > 0:
            out[key] = (m / total, {t: q / m for t, q in joint[key].items()})
    return out


def target_posterior(bf, targets, evidence) -> dict:
    """{target configuration: P(t | e)}."""
    dist: dict = {}
    total = 0.0
    for config, p in bf.configs:
        if any(config[n] != s for n, s in evidence.items()):
            continue
        total += p
        t = tuple(config[x] for x in targets)
        dist[t] = dist.get(t, 0.0) + p
    return {t: q / total for t, q in dist.items()}


def order_info_gain(bf, targets, order, evidence) -> float:
    """H(T | e) − Σ_report P(report | e) H(T | e, report), in bits."""
    before = _entropy(target_posterior(bf, targets, evidence))
    after = sum(p * _entropy(post) for p, post in order_outcomes(bf, targets, order, evidence).values())
    return before - after


def _prob_states(dist, targets, arrays, action) -> float:
    axis = targets.index(action.target)
    wanted = {arrays.states[action.target].index(s) for s in action.states}
    return sum(p for t, p in dist.items() if t[axis] in wanted)


def _decide(dist, targets, arrays, actions):
    """(taken, utility) per action, deciding each by explicit comparison with not acting."""
    out = []
    for action in actions:
        p = _prob_states(dist, targets, arrays, action)
        act = p * action.benefit - (1 - p) * action.harm
        if act > 0:
            out.append((True, act))
        else:
            out.append((False, 0.0))
    return out


def decision_value(bf, targets, actions, order, evidence):
    """(per-action ΔMEU list, same-decision probability, {report: [taken per action]})."""
    arrays = bf.arrays
    now = _decide(target_posterior(bf, targets, evidence), targets, arrays, actions)
    gains = [0.0] * len(actions)
    same = 0.0
    taken = {}
    for key, (p, post) in order_outcomes(bf, targets, order, evidence).items():
        after = _decide(post, targets, arrays, actions)
        taken[key] = [a[0] for a in after]
        for i, (a, n) in enumerate(zip(after, now)):
            gains[i] += p * a[1]
        if all(a[0] == n[0] for a, n in zip(after, now)):
            same += p
    gains = [g - n[1] for g, n in zip(gains, now)]
    return gains, same, taken
