"""bayesdx.plan: the exact optimal testing policy against exhaustive search of every policy.

The oracle here shares no code with bayesdx's planner: outcomes of an order (reflex readouts
included) are enumerated from the readouts' joint configurations, every probability and utility
comes from the brute-force joint of ``tests/oracle.py``, and *every* deterministic policy tree is
enumerated (each order at each step, every result followed by every sub-policy) and evaluated.
At a stop the best action set is found by enumerating all action subsets; the leaves of a tree
add up, so taking that maximum per leaf is the same as enumerating every action choice too (the
small problems of ``test_exhaustive_with_action_choices`` enumerate them inside the trees).
"""

from __future__ import annotations

import itertools
import json
import math
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import BruteForce

import bayesdx
from bayesdx import Action, DecisionModel, Order
from bayesdx.inference import ModelArrays
from bayesdx.network import Network

TOL = 1e-10
PLAN_MODULE = sys.modules["bayesdx.plan"]  # the module (``bayesdx.plan`` is the function)


# -- the oracle --------------------------------------------------------------------------------


class Exhaustive:
    """Every deterministic testing policy of a small problem, evaluated by brute force."""

    def __init__(self, network, orders, model):
        self.arrays = network.arrays
        self.targets = list(network.targets)
        self.bf = BruteForce(network.arrays)
        self.orders = list(orders)
        self.model = model
        self._leaf = {}

    def cost(self, order):
        money = 0.0 if math.isnan(order.cost_usd) else order.cost_usd
        return money / self.model.usd_per_util + order.risk_utils

    def outcomes(self, order, evidence):
        """The distinct reports of ``order``: tuples of (readout, state index)."""
        states = self.arrays.states
        free = [r for r in order.readouts if r not in evidence]
        reports = set()
        for combo in itertools.product(*(range(self.arrays.card(r)) for r in free)):
            value = {**evidence, **dict(zip(free, combo))}
            shown = []
            for r in free:
                trigger = order.reflex.get(r, {})
                if all(states[n][value[n]] in allowed for n, allowed in trigger.items()):
                    shown.append((r, value[r]))
            reports.add(tuple(shown))
        return sorted(reports)

    def utility(self, config, actions):
        total = 0.0
        for action in actions:
            state = self.arrays.states[action.target][config[self.targets.index(action.target)]]
            total += action.benefit if state in action.states else -action.harm
        return total

    def leaf_values(self, evidence):
        """P(evidence) * expected utility of every action subset."""
        key = tuple(sorted(evidence.items()))
        if key not in self._leaf:
            joint = self.bf.joint(self.targets, evidence) * self.bf.prob(evidence)
            values = []
            for k in range(len(self.model.actions) + 1):
                for subset in itertools.combinations(self.model.actions, k):
                    values.append(sum(p * self.utility(config, subset)
                                      for config, p in np.ndenumerate(joint)))
            self._leaf[key] = values
        return self._leaf[key]

    def policy_values(self, evidence, remaining, *, every_action_set=False):
        """P(evidence) * (expected utility) of every policy tree from here, one entry per tree."""
        leaves = self.leaf_values(evidence)
        out = list(leaves) if every_action_set else [max(leaves)]
        p_e = self.bf.prob(evidence)
        for order in remaining:
            rest = [o for o in remaining if o is not order]
            branches = []
            for report in self.outcomes(order, evidence):
                child = {**evidence, **dict(report)}
                if self.bf.prob(child) > 0:
                    branches.append(self.policy_values(child, rest, every_action_set=every_action_set))
            if not branches:
                continue
            for combo in itertools.product(*branches):
                out.append(sum(combo) - self.cost(order) * p_e)
        return out

    def count(self, evidence, remaining, leaves):
        """How many trees :meth:`policy_values` would enumerate (with ``leaves`` choices a leaf)."""
        total = leaves
        for order in remaining:
            rest = [o for o in remaining if o is not order]
            total += math.prod(self.count({**evidence, **dict(r)}, rest, leaves)
                               for r in self.outcomes(order, evidence))
        return total

    def optimum(self, evidence, **kw):
        values = self.policy_values(evidence, self.orders, **kw)
        return max(values) / self.bf.prob(evidence), len(values)

    def stop_value(self, evidence):
        return max(self.leaf_values(evidence)) / self.bf.prob(evidence)

    def tree_value(self, node, evidence):
        """Expected utility of a returned policy tree (a PolicyNode), by brute force."""
        ev = dict(evidence)
        for readout, state in node.evidence.items():
            ev[readout] = self.arrays.states[readout].index(state)
        p = self.bf.prob(ev)
        if node.order is None:
            acts = [a for a in self.model.actions if a.name in node.actions]
            joint = self.bf.joint(self.targets, ev) * p
            return sum(q * self.utility(config, acts) for config, q in np.ndenumerate(joint))
        return sum(self.tree_value(child, evidence) for child in node.children) - self.cost(node.order) * p

    def myopic_first(self, evidence):
        """The one-step choice: the order with the largest positive net gain, or None."""
        now = self.stop_value(evidence)
        best, choice = 0.0, None
        for order in self.orders:
            after = sum(max(self.leaf_values({**evidence, **dict(r)}))
                        for r in self.outcomes(order, evidence)) / self.bf.prob(evidence)
            net = after - now - self.cost(order)
            if net > best + 1e-12:
                best, choice = net, order.name
        return choice


# -- problems ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def net(data_dir):
    return bayesdx.load_network(data_dir / "two_disease_orders.yaml")


def random_problem(seed: int, *, deterministic: bool = False):
    """A random small network (context -> 2 targets, maybe a hidden node -> 3-4 findings, maybe
    an edge from one order's readout to another's), random orders (one with two readouts and a
    reflex) and random actions, with costs of the same order as the values at stake. With
    ``deterministic``, the hidden node is a deterministic function of the targets (as an "any
    myositis" node is of the myositis subtypes) read by two orders."""
    rng = np.random.default_rng(seed)
    card = {"ctx": 2, "t1": int(rng.integers(2, 4)), "t2": 2, "h": 2}
    parents = {"ctx": (), "t1": ("ctx",), "t2": ("ctx",)}
    hidden = deterministic or bool(rng.random() < 0.5)
    if hidden:
        parents["h"] = ("t1", "t2") if deterministic else ("t1",)
    findings = [f"f{k}" for k in range(int(rng.integers(3, 5)))]
    pool = ["t1", "t2"] + (["h"] if hidden else [])
    for k, f in enumerate(findings):
        card[f] = int(rng.integers(2, 4))
        chosen = [q for q in pool if rng.random() < 0.6] or [pool[k % len(pool)]]
        if deterministic and k in (0, 2) and "h" not in chosen:
            chosen.append("h")  # two orders read the deterministic node
        if k == 2 and rng.random() < 0.3:
            chosen.append("f0")  # a finding that depends on another order's readout
        parents[f] = tuple(chosen)
    if hidden and not any("h" in parents[f] for f in findings):
        parents[findings[0]] = (*parents[findings[0]], "h")
    nodes = ("ctx", "t1", "t2", *(("h",) if hidden else ()), *findings)
    states = {n: tuple(f"s{i}" for i in range(card[n])) for n in nodes}
    cpts = {}
    for n in nodes:
        shape = (*(card[q] for q in parents[n]), card[n])
        cpts[n] = rng.dirichlet(np.full(card[n], 0.7), size=shape[:-1]).reshape(shape)
    if deterministic:  # h = 1 exactly when t1 is not in its first state or t2 is
        rule = np.zeros((card["t1"], card["t2"], 2))
        for i, j in itertools.product(range(card["t1"]), range(card["t2"])):
            rule[i, j, int(i > 0 or j > 0)] = 1.0
        cpts["h"] = rule
    arrays = ModelArrays(nodes=nodes, states=states, parents={n: parents[n] for n in nodes},
                         cpts=cpts)
    network = Network(arrays, name=f"random{seed}", targets=["t1", "t2"], tests=findings)
    orders = [Order("panel", (findings[0], findings[1]), label="Panel", cost_usd=float(rng.uniform(0, 0.02)),
                    reflex={findings[1]: {findings[0]: ["s0"]}})]
    orders += [Order(f, (f,), label=f"Test {f}", cost_usd=float(rng.uniform(0, 0.02)),
                     risk_utils=float(rng.uniform(0, 0.003))) for f in findings[2:]]
    actions = []
    for k in range(int(rng.integers(1, 4))):
        target = ["t1", "t2"][int(rng.integers(0, 2))]
        size = int(rng.integers(1, card[target]))
        helped = [f"s{i}" for i in sorted(rng.choice(card[target], size=size, replace=False))]
        actions.append(Action(f"act{k}", target, helped, benefit=float(rng.uniform(0.1, 1.0)),
                              harm=float(rng.uniform(0.05, 1.0))))
    evidence = {"ctx": "s1"} if rng.random() < 0.5 else {}
    return network, orders, DecisionModel(actions, usd_per_util=1.0), evidence


def check(network, orders, model, evidence, **kw):
    policy = bayesdx.plan(network, evidence=evidence, orders=orders, decision_model=model)
    oracle = Exhaustive(network, orders, model)
    encoded = network.encode_evidence(evidence)
    best, n_policies = oracle.optimum(encoded, **kw)
    assert policy.expected_utility == pytest.approx(best, abs=TOL)
    assert oracle.tree_value(policy.root, encoded) / oracle.bf.prob(encoded) == pytest.approx(best, abs=TOL)
    assert policy.stop_utility == pytest.approx(oracle.stop_value(encoded), abs=TOL)
    myopic = oracle.tree_value(policy.myopic.root, encoded) / oracle.bf.prob(encoded)
    assert policy.myopic_expected_utility == pytest.approx(myopic, abs=TOL)
    first = policy.myopic.first_order
    assert (first.name if first is not None else None) == oracle.myopic_first(encoded)
    assert policy.myopic_regret >= 0
    assert policy.myopic_regret == pytest.approx(best - myopic, abs=TOL)
    assert policy.expected_utility >= policy.stop_utility - TOL
    return policy, n_policies


@pytest.fixture(params=["factored", "factored-numpy", "engine"])
def method(request, monkeypatch):
    """Run each exactness test on every search: the factored tables by the compiled kernel and
    by the numpy reference, and engine queries at every state (forced by declaring the orders'
    results dependent)."""
    if request.param == "engine":
        monkeypatch.setattr(PLAN_MODULE, "conditioning_set", lambda *a, **k: None)
    if request.param == "factored-numpy":
        monkeypatch.setattr(PLAN_MODULE.FactoredSearch, "kernel", "numpy")
    return request.param.split("-")[0]


# -- exactness ---------------------------------------------------------------------------------


SUBSETS = [s for k in (2, 3) for s in itertools.combinations(
    ["blood_panel", "chest_xray", "fever", "sputum_culture"], k)]


@pytest.mark.parametrize("names", SUBSETS, ids=["+".join(s) for s in SUBSETS])
@pytest.mark.parametrize("evidence", [{}, {"smoker": "yes"}], ids=["no-evidence", "smoker"])
def test_dp_equals_exhaustive_search_two_disease(net, names, evidence, method):
    orders = [o for o in net.orders if o.name in names]
    policy, n_policies = check(net, orders, net.decisions, evidence)
    assert policy.method == method
    assert n_policies > 1


@pytest.mark.parametrize("usd_per_util", [200.0, 2000.0, 20000.0], ids=["dear", "file", "cheap"])
def test_dp_equals_exhaustive_search_across_prices(net, usd_per_util, method):
    """Cheap tests make deep policies; dear ones make the policy stop at once."""
    model = DecisionModel(net.decisions.actions, usd_per_util=usd_per_util)
    orders = [o for o in net.orders if o.name in ("blood_panel", "chest_xray", "sputum_culture")]
    check(net, orders, model, {"fever": "present"})


@pytest.mark.parametrize("seed", range(12), ids=lambda s: f"seed{s}")
def test_dp_equals_exhaustive_search_random_networks(seed, method):
    network, orders, model, evidence = random_problem(seed)
    check(network, orders, model, evidence)


@pytest.mark.parametrize("seed", range(6), ids=lambda s: f"seed{s}")
def test_deterministic_nodes_count_as_known(seed):
    """A node that deterministic tables make a function of the targets separates the orders
    without joining the conditioning set; the factored search stays exact."""
    network, orders, model, evidence = random_problem(seed, deterministic=True)
    encoded = network.encode_evidence(evidence)
    cond = PLAN_MODULE.conditioning_set(network, orders, encoded)
    assert cond == ("t1", "t2")
    policy, _ = check(network, orders, model, evidence)
    assert policy.method == "factored"


@pytest.mark.parametrize("seed", range(8), ids=lambda s: f"seed{s}")
def test_the_factored_bound_is_above_clairvoyance(seed):
    """The bound that prunes the search is at least the expected utility of knowing every
    result of the orders left (before their costs), at the start and after each first result."""
    from bayesdx._planner_factored import FactoredSearch

    network, orders, model, evidence = random_problem(seed)
    encoded = network.encode_evidence(evidence)
    cond = PLAN_MODULE.conditioning_set(network, orders, encoded)
    if cond is None:
        pytest.skip("the orders' results are not independent given a small set")
    search = FactoredSearch(network, orders, model, cond, max_evaluations=10**6,
                            time_limit_s=None, progress=None, estimated_states=1)
    root = search.root(encoded)
    oracle = Exhaustive(network, orders, model)

    def clairvoyance(ev, subset):
        reports = [oracle.outcomes(o, ev) for o in subset]
        total = 0.0
        for combo in itertools.product(*reports):
            child = {**ev, **{r: s for report in combo for r, s in report}}
            if oracle.bf.prob(child) > 0:
                total += max(oracle.leaf_values(child))
        return total / oracle.bf.prob(ev)

    for mask in range(1, 1 << len(orders)):
        subset = [o for i, o in enumerate(orders) if mask >> i & 1]
        meu, bound = search.bounds(root, mask)
        assert bound >= clairvoyance(encoded, subset) - TOL
        assert meu == pytest.approx(oracle.stop_value(encoded), abs=TOL)
        for i in range(len(orders)):
            if not mask >> i & 1:
                continue
            table = search.tables(root, [i], mask)[i]
            rest = [o for j, o in enumerate(orders) if mask >> j & 1 and j != i]
            for x in range(len(table.p)):
                ev = {**encoded, **{r: network.arrays.states[r].index(s)
                                    for r, s in table.outcomes[x].items()}}
                assert table.eupi[x] >= clairvoyance(ev, rest) - TOL


def test_exhaustive_with_action_choices():
    """Two orders: every tree and every action set at every leaf, enumerated together (on the
    first four random problems small enough to enumerate that way)."""
    done = 0
    for seed in range(100, 200):
        network, orders, model, evidence = random_problem(seed)
        oracle = Exhaustive(network, orders[-2:], model)
        leaves = 2 ** len(model.actions)
        if oracle.count(network.encode_evidence(evidence), orders[-2:], leaves) > 50_000:
            continue
        check(network, orders[-2:], model, evidence, every_action_set=True)
        done += 1
        if done == 4:
            break
    assert done == 4


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6))
def test_dp_equals_exhaustive_search_property(seed):
    network, orders, model, evidence = random_problem(seed)
    check(network, orders, model, evidence)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), horizon=st.integers(1, 3))
def test_look_ahead_policies_are_bounded_by_the_optimum(seed, horizon):
    network, orders, model, evidence = random_problem(seed)
    optimal = bayesdx.plan(network, evidence=evidence, orders=orders, decision_model=model)
    ahead = bayesdx.plan(network, evidence=evidence, orders=orders, decision_model=model,
                         horizon=horizon)
    oracle = Exhaustive(network, orders, model)
    encoded = network.encode_evidence(evidence)
    assert ahead.expected_utility == pytest.approx(
        oracle.tree_value(ahead.root, encoded) / oracle.bf.prob(encoded), abs=TOL)
    assert ahead.expected_utility <= optimal.expected_utility + TOL
    assert ahead.expected_utility >= ahead.stop_utility - TOL
    assert math.isnan(ahead.myopic_regret)
    if horizon == 1:
        assert ahead.myopic is None
        assert ahead.expected_utility == pytest.approx(optimal.myopic_expected_utility, abs=TOL)
    if horizon >= len(orders):
        assert ahead.expected_utility == pytest.approx(optimal.expected_utility, abs=TOL)


def test_horizon_one_is_the_myopic_choice(net):
    oracle = Exhaustive(net, net.orders, net.decisions)
    for evidence in ({}, {"smoker": "yes"}, {"fever": "present"}, {"fever": "absent", "smoker": "no"}):
        policy = bayesdx.plan(net, evidence=evidence, horizon=1)
        first = policy.first_order.name if policy.first_order is not None else None
        assert first == oracle.myopic_first(net.encode_evidence(evidence))


def test_policy_tree_adds_up(net):
    """The tree's probabilities and values are consistent with its summary."""
    model = DecisionModel(net.decisions.actions, usd_per_util=20000.0)
    policy = bayesdx.plan(net, decision_model=model)
    frame = policy.to_frame()
    stops = frame[frame["step"] == "stop"]
    assert stops["p_reach"].sum() == pytest.approx(1.0, abs=1e-12)
    orders = frame[frame["step"] == "order"]
    assert (orders["p_reach"].sum()) == pytest.approx(policy.expected_tests, abs=1e-12)
    assert policy.expected_tests >= 1
    for node in policy.root.walk():
        if node.children:
            assert sum(c.branch_probability for c in node.children) == pytest.approx(1.0, abs=1e-12)
    cost = sum(row.p_reach * row.order_cost_usd for row in orders.itertuples())
    assert policy.expected_cost_usd == pytest.approx(cost, abs=1e-9)


# -- limits and errors -------------------------------------------------------------------------


def test_oversized_problems_are_refused_before_any_work(net, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the search started")

    monkeypatch.setattr(PLAN_MODULE, "FactoredSearch", fail)
    monkeypatch.setattr(PLAN_MODULE, "EngineSearch", fail)
    with pytest.raises(bayesdx.PlanTooLargeError, match=r"up to 162 evidence states.*max_states=100"
                                                        r".*fewer orders.*horizon"):
        bayesdx.plan(net, max_states=100)
    with pytest.raises(ValueError, match="max_states"):
        bayesdx.plan(net, max_states=100)


def test_budgets_stop_the_search_with_a_clear_message(net):
    model = DecisionModel(net.decisions.actions, usd_per_util=1e9)  # free tests: a deep search
    with pytest.raises(bayesdx.PlanTooLargeError, match=r"after 3 posterior evaluations.*max_evaluations"):
        bayesdx.plan(net, decision_model=model, max_evaluations=3)
    with pytest.raises(bayesdx.PlanTooLargeError, match=r"time_limit_s=0"):
        bayesdx.plan(net, decision_model=model, time_limit_s=0, progress=lambda p: None)


def test_progress_is_reported(net):
    seen = []
    policy = bayesdx.plan(net, progress=seen.append)
    assert seen and isinstance(seen[-1], bayesdx.PlanProgress)
    assert seen[-1].evaluations == policy.n_evaluations
    assert seen[-1].estimated_states == policy.estimated_states == 162


def test_a_network_without_a_decision_model_is_told_how_to_give_one(two_disease):
    with pytest.raises(bayesdx.InvalidObjectiveError, match=r"no decision model.*decision_model="):
        bayesdx.plan(two_disease)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"orders": ["blood_panle"]}, bayesdx.UnknownOrderError, "Did you mean 'blood_panel'"),
    ({"orders": [3]}, TypeError, "order names or Order objects"),
    ({"orders": ["fever", "fever"]}, ValueError, "lists fever twice"),
    ({"horizon": 0}, ValueError, "'horizon' parameter of plan"),
    ({"horizon": True}, ValueError, "'horizon' parameter of plan"),
    ({"decision_model": "antiviral"}, TypeError, "DecisionModel"),
    ({"evidence": {"fever": "high"}}, bayesdx.UnknownStateError, "fever"),
], ids=["unknown-order", "order-type", "order-twice", "horizon-0", "horizon-bool", "model-type",
        "unknown-state"])
def test_bad_arguments_name_the_culprit(net, kwargs, error, match):
    with pytest.raises(error, match=match):
        bayesdx.plan(net, **kwargs)


def test_observed_orders_are_left_out(net):
    policy = bayesdx.plan(net, evidence={"chest_xray": "clear", "fever": "absent"})
    assert {o.name for o in policy.orders} == {"blood_panel", "sputum_culture"}


# -- display, figure and command line -----------------------------------------------------------


def test_text_html_frame_and_json(net):
    model = DecisionModel(net.decisions.actions, usd_per_util=20000.0)
    policy = bayesdx.plan(net, evidence={"smoker": "yes"}, decision_model=model)
    text = repr(policy)
    assert "exact optimal policy over 4 orders" in text
    assert "regret" in text and "posterior evaluations" in text
    assert "STOP" in text and "Start an antibiotic" in text
    assert "start_antibiotic" not in text and "blood_panel" not in text  # labels, not names
    short = policy.tree_text(max_depth=1, max_branches=1)
    assert "more results" in short or "steps below" in short
    frame = policy.to_frame()
    assert list(frame.columns[:6]) == ["parent", "depth", "path", "outcome", "p_branch", "p_reach"]
    assert len(frame) == sum(1 for _ in policy.root.walk())
    assert frame.loc[0, "depth"] == 0 and frame.loc[0, "parent"] == -1
    assert "<pre>" in policy._repr_html_()
    data = json.loads(json.dumps(policy.to_dict()))
    assert data["optimal"] and data["tree"]["order"] == policy.first_order.name


def test_plot_policy(net):
    from bayesdx.plotting import plot_policy

    model = DecisionModel(net.decisions.actions, usd_per_util=20000.0)
    policy = bayesdx.plan(net, evidence={"smoker": "yes"}, decision_model=model)
    ax = plot_policy(policy, max_depth=1, max_branches=2)
    texts = [t.get_text() for t in ax.texts]
    assert texts[0].startswith("\u2192 " + policy.first_order.label)
    assert any(t.startswith("...") for t in texts)  # deeper steps and other results summarised
    assert all("_" not in t.split("\n")[-1] for t in texts)  # labels, not names
    import matplotlib.pyplot as plt

    fig, own = plt.subplots()
    assert plot_policy(policy, own) is own
    with pytest.raises(ValueError, match="'max_depth' parameter of plot_policy"):
        plot_policy(policy, max_depth=0)


def test_cli_plan(data_dir, capsys):
    from bayesdx.cli import DISCLAIMER, main

    path = str(data_dir / "two_disease_orders.yaml")
    assert main(["plan", "--network", path, "-e", "smoker=yes", "--orders", "blood_panel",
                 "chest_xray"]) == 0
    out = capsys.readouterr().out
    assert DISCLAIMER in " ".join(out.split()) and "exact optimal policy over 2 orders" in out
    assert "regret" in out and "posterior evaluations" in out
    assert main(["plan", "--network", path, "--horizon", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["horizon"] == 1 and data["disclaimer"] == DISCLAIMER and "tree" in data
    assert main(["plan", "--network", path, "--max-states", "10"]) == 2
    assert "evidence states" in capsys.readouterr().err
