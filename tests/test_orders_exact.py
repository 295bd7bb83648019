"""Ranking by order, against an independent brute-force oracle (tests/order_oracle.py).

Information, decision values, same-decision probabilities, reflex outcomes and the posteriors of
``explain`` are checked on the two-disease fixture with orders and on random small networks with
random CPTs, random orders (some with reflex readouts) and random decision models.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from oracle import BruteForce
from order_oracle import decision_value, order_info_gain, order_outcomes, target_posterior

import bayesdx
from bayesdx import Action, DecisionModel, Objective, Order
from bayesdx.inference import ModelArrays
from bayesdx.network import Network

TOL = 1e-10


@pytest.fixture(scope="module")
def net(data_dir):
    return bayesdx.load_network(data_dir / "two_disease_orders.yaml")


@pytest.fixture(scope="module")
def brute(net):
    return BruteForce(net.arrays)


def _label(order, report, net):
    """The ranking's text for an oracle report (see bayesdx.ranking.outcome_label)."""
    if len(order.readouts) == 1 and len(report) == 1:
        return report[0][1]
    return ", ".join(f"{r}={s}" for r, s in report) or "(nothing reported)"


def check_against_oracle(net, bf, evidence, *, objective=None, decisions=None, orders=None):
    dx = bayesdx.diagnose(net, evidence=evidence, objective=objective, decisions=decisions,
                          orders=orders)
    ev = net.encode_evidence(evidence)
    targets = list(net.targets)
    model = dx.decisions
    ranking = dx.ranking
    by_name = {o.name: o for o in (orders or net.orders)}
    for name, row in ranking.iterrows():
        order = by_name[name]
        assert row["info_gain_bits"] == pytest.approx(order_info_gain(bf, targets, order, ev), abs=TOL)
        outcomes = order_outcomes(bf, targets, order, ev)
        expected_probs = {_label(order, k, net): p for k, (p, _) in outcomes.items()}
        got = {k: v for k, v in row["outcome_probs"].items() if v > 0}
        assert got.keys() == expected_probs.keys()
        for key, p in expected_probs.items():
            assert got[key] == pytest.approx(p, abs=TOL)
        if model is not None:
            gains, same, _ = decision_value(bf, targets, model.actions, order, ev)
            assert row["decision_value_utils"] == pytest.approx(sum(gains), abs=TOL)
            assert row["same_decision_prob"] == pytest.approx(same, abs=TOL)
            cost = (0.0 if np.isnan(order.cost_usd) else order.cost_usd / model.usd_per_util) \
                + order.risk_utils
            assert row["cost_utils"] == pytest.approx(cost, abs=1e-15)
            assert row["net_value_utils"] == pytest.approx(sum(gains) - cost, abs=TOL)
    # ranking order: value descending
    values = ranking["value"].to_numpy()
    assert np.all(values[:-1] >= values[1:] - 1e-15)
    return dx


EVIDENCE = [
    {},
    {"fever": "present"},
    {"smoker": "yes", "fever": "absent"},
    {"crp": "raised"},  # blood panel partly observed: valued on the reflex readout alone
    {"crp": "normal"},  # ... which is then never reported
    {"wbc": "high", "chest_xray": "clear"},
    {"fever": "present", "crp": "high", "wbc": "high", "chest_xray": "infiltrate",
     "sputum_culture": "positive"},
]


@pytest.mark.parametrize("evidence", EVIDENCE, ids=lambda e: ",".join(e) or "none")
def test_fixture_orders_match_brute_force(net, brute, evidence):
    dx = check_against_oracle(net, brute, evidence)
    assert dx.objective.kind == "decision"  # the fixture declares a decision model
    observed = {o.name for o in net.orders if all(r in evidence for r in o.readouts)}
    assert not observed & set(dx.ranking.index)


def test_partly_observed_order_is_valued_on_its_other_readouts(net):
    dx = bayesdx.diagnose(net, evidence={"crp": "raised"})
    assert dx.ranking.loc["blood_panel", "readouts"] == ("wbc",)
    normal = bayesdx.diagnose(net, evidence={"crp": "normal"})
    # the reflex white cell count is not reported after a normal CRP: the order is worth nothing
    row = normal.ranking.loc["blood_panel"]
    assert row["outcome_probs"] == {"(nothing reported)": pytest.approx(1.0)}
    assert row["info_gain_bits"] == 0 and row["decision_value_utils"] == 0


def test_reflex_outcomes_match_brute_force(net, brute):
    order = next(o for o in net.orders if o.name == "blood_panel")
    dx = bayesdx.diagnose(net, evidence={"fever": "present"})
    why = dx.explain("blood_panel")
    ev = net.encode_evidence({"fever": "present"})
    outcomes = order_outcomes(brute, list(net.targets), order, ev)
    assert len(why.outcome_labels) == len(outcomes) == 5  # crp normal; raised/high x wbc
    assert all("wbc" not in o for o in why.outcome_evidence if o["crp"] == "normal")
    frame = why.to_frame()
    for report, (p, post) in outcomes.items():
        label = _label(order, report, net)
        rows = frame[frame["outcome"] == label]
        assert rows["p_outcome"].iloc[0] == pytest.approx(p, abs=TOL)
        for i, target in enumerate(net.targets):
            for s, state in enumerate(net.states(target)):
                expected = sum(q for t, q in post.items() if t[i] == s)
                got = rows[(rows["target"] == target) & (rows["state"] == state)]["posterior"]
                assert float(got.iloc[0]) == pytest.approx(expected, abs=TOL)


def test_explain_actions_match_brute_force(net, brute):
    evidence = {"smoker": "yes"}
    dx = bayesdx.diagnose(net, evidence=evidence)
    order = next(o for o in net.orders if o.name == "blood_panel")
    gains, same, taken = decision_value(brute, list(net.targets), dx.decisions.actions, order,
                                        net.encode_evidence(evidence))
    why = dx.explain("blood_panel")
    np.testing.assert_allclose(why.action_values()["decision_value_utils"], gains, atol=TOL)
    np.testing.assert_allclose(why.shares()["decision_value_utils"].sum(), sum(gains), atol=TOL)
    actions = why.actions()
    for report, flags in taken.items():
        rows = actions[actions["outcome"] == _label(order, report, net)]
        assert list(rows["taken"]) == flags
    assert why.same_decision_prob == pytest.approx(same, abs=TOL)


@pytest.mark.parametrize("objective", [
    Objective("focus", targets=["flu"]),
    Objective("focus", weights={"flu": 2.0, "bronchitis": 0.5}),
    Objective("cost", alpha=0.004),
], ids=["focus-subset", "focus-weights", "cost"])
def test_other_objectives_match_brute_force(net, brute, objective):
    evidence = {"fever": "present"}
    dx = bayesdx.diagnose(net, evidence=evidence, objective=objective)
    ev = net.encode_evidence(evidence)
    for name, row in dx.ranking.iterrows():
        order = next(o for o in net.orders if o.name == name)
        if objective.kind == "cost":
            expected = order_info_gain(brute, list(net.targets), order, ev) - 0.004 * order.cost_usd
        elif objective.targets is not None:
            expected = order_info_gain(brute, ["flu"], order, ev)
        else:
            expected = (2.0 * order_info_gain(brute, ["flu"], order, ev)
                        + 0.5 * order_info_gain(brute, ["bronchitis"], order, ev))
        assert row["value"] == pytest.approx(expected, abs=TOL)
        assert row["objective"] == objective.kind


def test_thresholds_match_the_posterior(net, brute):
    dx = bayesdx.diagnose(net, evidence={"fever": "present"})
    table = dx.thresholds()
    post = target_posterior(brute, list(net.targets), net.encode_evidence({"fever": "present"}))
    for action in dx.decisions.actions:
        axis = net.targets.index(action.target)
        state = net.states(action.target).index(action.states[0])
        p = sum(q for t, q in post.items() if t[axis] == state)
        row = table.loc[action.name]
        assert row["probability"] == pytest.approx(p, abs=TOL)
        assert row["threshold"] == pytest.approx(action.harm / (action.harm + action.benefit))
        assert bool(row["taken_now"]) == (p * action.benefit > (1 - p) * action.harm)


def test_evidence_impact_is_the_leave_one_out_likelihood_ratio(net, brute):
    evidence = {"fever": "present", "crp": "high", "smoker": "yes"}
    dx = bayesdx.diagnose(net, evidence=evidence)
    impact = dx.evidence_impact()
    assert len(impact) == 3 * 2  # three findings x two binary targets
    ev = net.encode_evidence(evidence)
    for row in impact.itertuples():
        axis = net.targets.index(row.target)
        rest = {n: s for n, s in ev.items() if n != row.finding}
        s = net.states(row.target).index(row.state)
        p1 = sum(q for t, q in target_posterior(brute, list(net.targets), ev).items() if t[axis] == s)
        p0 = sum(q for t, q in target_posterior(brute, list(net.targets), rest).items() if t[axis] == s)
        # odds ratio = P(f | t, rest) / P(f | not t, rest) for a binary target
        lr = brute.prob({**rest, row.target: s, row.finding: ev[row.finding]}) / brute.prob(
            {**rest, row.target: s})
        lr /= (brute.prob({**rest, row.finding: ev[row.finding]})
               - brute.prob({**rest, row.target: s, row.finding: ev[row.finding]})) / (
            brute.prob(rest) - brute.prob({**rest, row.target: s}))
        assert row.posterior == pytest.approx(p1, abs=TOL)
        assert row.posterior_without == pytest.approx(p0, abs=TOL)
        assert row.likelihood_ratio == pytest.approx(lr, rel=1e-9)
        assert row.log10_lr == pytest.approx(np.log10(lr), abs=1e-9)


# -- random networks ---------------------------------------------------------------------------


def random_case(seed: int):
    """A random network of 6-8 nodes (2-3 targets), a few random orders (some with a reflex),
    a random decision model and random possible evidence."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 9))
    nodes = tuple(f"n{i}" for i in range(n))
    cards = {v: int(rng.integers(2, 4)) for v in nodes}
    parents = {}
    for i, v in enumerate(nodes):
        k = int(rng.integers(0, min(3, i) + 1))
        parents[v] = tuple(rng.permutation(nodes[:i])[:k]) if k else ()
    cpts = {}
    for v in nodes:
        shape = tuple(cards[p] for p in parents[v]) + (cards[v],)
        table = rng.gamma(0.7, size=shape)
        table[rng.random(shape) < 0.08] = 0.0
        table[..., 0] += table.sum(axis=-1) == 0
        cpts[v] = table / table.sum(axis=-1, keepdims=True)
    states = {v: tuple(f"s{k}" for k in range(cards[v])) for v in nodes}
    arrays = ModelArrays(nodes=nodes, states=states, parents=parents, cpts=cpts)
    targets = list(rng.permutation(nodes)[: int(rng.integers(2, 4))])
    tests = [v for v in nodes if v not in targets]
    shuffled = list(rng.permutation(tests))
    orders = []
    while len(shuffled) >= 2 and len(orders) < 2:
        size = int(rng.integers(2, min(3, len(shuffled)) + 1))
        readouts, shuffled = shuffled[:size], shuffled[size:]
        reflex = {}
        if rng.random() < 0.6:
            allowed = [states[readouts[0]][k] for k in range(cards[readouts[0]]) if rng.random() < 0.5]
            reflex = {readouts[1]: {readouts[0]: allowed or [states[readouts[0]][-1]]}}
        orders.append(Order(f"order{len(orders)}", readouts, cost_usd=float(rng.integers(0, 200)),
                            risk_utils=float(rng.random() * 0.01), reflex=reflex))
    actions = []
    for i, t in enumerate(targets):
        chosen = [states[t][k] for k in range(cards[t]) if rng.random() < 0.5] or [states[t][-1]]
        actions.append(Action(f"act{i}", t, chosen, benefit=float(rng.uniform(0.05, 1.0)),
                              harm=float(rng.uniform(0.01, 0.5))))
    model = DecisionModel(actions, usd_per_util=float(rng.uniform(500, 50000)))
    net = Network(arrays, name="random", targets=targets, orders=orders, decisions=model)
    sample = {}
    for v in nodes:
        sample[v] = int(rng.choice(cards[v], p=cpts[v][tuple(sample[p] for p in parents[v])]))
    observed = [v for v in tests if rng.random() < 0.3]
    evidence = {v: states[v][sample[v]] for v in observed}
    return net, evidence


@pytest.mark.parametrize("seed", range(25))
def test_random_networks_match_brute_force(seed):
    net, evidence = random_case(seed)
    bf = BruteForce(net.arrays)
    check_against_oracle(net, bf, evidence)
    check_against_oracle(net, bf, evidence, objective="information")


@pytest.mark.parametrize("seed", range(8))
def test_random_networks_every_engine_agrees(seed):
    net, evidence = random_case(seed)
    frames = [bayesdx.diagnose(net.with_engine(e), evidence=evidence).ranking
              for e in ("jtree", "enumeration", "pgmpy")]
    for other in frames[1:]:
        for column in ("value", "info_gain_bits", "decision_value_utils", "same_decision_prob"):
            np.testing.assert_allclose(other.loc[frames[0].index, column], frames[0][column],
                                       atol=1e-10)


def test_brute_force_reports_cover_every_configuration():
    """The oracle itself: report probabilities sum to 1 and reflex censoring is applied."""
    net, _ = random_case(3)
    bf = BruteForce(net.arrays)
    for order in net.orders:
        outcomes = order_outcomes(bf, list(net.targets), order, {})
        assert sum(p for p, _ in outcomes.values()) == pytest.approx(1.0)
        full = list(itertools.product(*(net.states(r) for r in order.readouts)))
        assert len(outcomes) <= len(full)


def test_leaf_readouts_shortcut_equals_the_engine_group_joint():
    """Orders of unobserved leaf readouts are valued from P(targets, their hidden parents | e)
    times their tables; the general path asks the engine for the readouts' joint."""
    from bayesdx._leafjoints import _leaf_group_joint

    used = 0
    for seed in range(40):
        net, evidence = random_case(seed)
        ev = net.encode_evidence(evidence)
        query = net.engine.joint_query(ev, net.targets, [n for n in net.nodes if n not in net.targets])
        arrays = net.arrays
        leaves = [t for t in net.tests if t not in ev
                  and not any(t in arrays.parents[n] for n in arrays.nodes)]
        groups = [list(o.readouts) for o in net.orders] + [leaves[:3]]
        for group in groups:
            free = [r for r in group if r not in ev]
            if len(free) < 2:
                continue
            fast = _leaf_group_joint(net, ev, query, free)
            if fast is not None:
                used += 1
                np.testing.assert_allclose(fast, net.engine.group_joint(ev, net.targets, free),
                                           atol=1e-14)
    assert used >= 10


def test_deterministic_summaries_of_targets_are_folded_into_the_readouts():
    """A readout whose parent is a deterministic function of the targets (the bundled network's
    overt_thyroid, any_myositis, ...) is valued without asking the engine for that parent, and
    exactly, even when the summary has an observed child."""
    from bayesdx._leafjoints import _leaf_group_joint

    rng = np.random.default_rng(11)

    def table(*shape):
        t = rng.gamma(0.8, size=shape)
        return t / t.sum(axis=-1, keepdims=True)

    nodes = ("t1", "t2", "s", "h", "seen", "r1", "r2", "r3")
    parents = {"t1": (), "t2": (), "s": ("t1",), "h": ("t2", "s"), "seen": ("s",),
               "r1": ("s", "h"), "r2": ("t2", "s"), "r3": ("h",)}
    states = {"t1": ("a", "b", "c"), "t2": ("no", "yes"), "s": ("off", "on"), "h": ("x", "y", "z"),
              "seen": ("neg", "pos"), "r1": ("lo", "hi"), "r2": ("lo", "mid", "hi"),
              "r3": ("lo", "hi")}
    cpts = {"t1": table(3), "t2": table(2), "s": np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]),
            "h": table(2, 2, 3), "seen": table(2, 2), "r1": table(2, 3, 2), "r2": table(2, 2, 3),
            "r3": table(3, 2)}
    arrays = ModelArrays(nodes=nodes, states=states, parents=parents, cpts=cpts)
    orders = [Order("panel", ["r1", "r2", "r3"], cost_usd=10.0)]
    model = DecisionModel([Action("treat", "t1", ["b", "c"], 1.0, 0.4)], usd_per_util=1000.0)
    net = Network(arrays, name="summaries", targets=["t1", "t2"], tests=["seen", "r1", "r2", "r3"],
                  orders=orders, decisions=model)
    for evidence in ({}, {"seen": "pos"}, {"seen": "neg", "r3": "hi"}):
        ev = net.encode_evidence(evidence)
        query = net.engine.joint_query(ev, net.targets, [n for n in nodes if n not in net.targets])
        free = [r for r in ("r1", "r2", "r3") if r not in ev]
        fast = _leaf_group_joint(net, ev, query, free)
        np.testing.assert_allclose(fast, net.engine.group_joint(ev, net.targets, free), atol=1e-14)
        check_against_oracle(net, BruteForce(arrays), evidence)
