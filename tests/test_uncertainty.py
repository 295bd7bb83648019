"""Parameter distributions, changed networks and bayesdx.uncertainty, against independent oracles:
the file's own compiler on networks rebuilt with the drawn numbers, closed-form Bayes rule, and
scipy's Beta quantiles."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import bayesdx
from bayesdx._batcheval import SettingsEvaluator
from bayesdx.exceptions import InvalidParameterError
from bayesdx.priors import CPT_KINDS, _blocks, parameter_priors
from bayesdx.spec import parse_spec

from pathlib import Path

DATA = Path(__file__).parent / "data"

SMALL = ["two_disease_orders", "odds_dependence"]


@pytest.fixture(scope="module")
def small():
    return {n: bayesdx.load_network(DATA / f"{n}.yaml") for n in SMALL}


@pytest.fixture(scope="module")
def bundled():
    return bayesdx.load_network("fasciculation")


def _rebuilt(net, values):
    params = net.spec.params
    return net.with_parameters({i: float(values[i]) for i, p in enumerate(params)
                                if p.cpt_type in CPT_KINDS})


def _evidence(net):
    test = net.tests[0]
    return {test: net.states(test)[-1]}


# -- the batched path against networks rebuilt by the file's compiler -------------------------


@pytest.mark.parametrize("name", SMALL, ids=SMALL)
def test_each_draw_equals_a_rebuilt_network(small, name):
    net = small[name]
    ev = SettingsEvaluator(net, _evidence(net))
    values, tables = ev.draw(6, np.random.default_rng(3), _blocks(net))
    out = ev.answer(tables, 6)
    for i in range(6):
        other = _rebuilt(net, values[i])
        for node in net.nodes:
            np.testing.assert_allclose(tables[node][i], other.arrays.cpts[node], rtol=0, atol=1e-12)
        dx = bayesdx.diagnose(other, evidence=_evidence(net))
        np.testing.assert_allclose(out["target_probs"][i], dx._order_tables.target_probs, atol=1e-9)
        np.testing.assert_allclose(out["value"][i], dx._order_values.value, atol=1e-9)
        assert out["top"][i] == dx._order_values.rank[0]
        if net.decisions is not None:
            np.testing.assert_array_equal(out["acts"][i], dx._order_values.decisions.acts_now)


def test_draws_on_the_bundled_network_equal_rebuilt_networks(bundled):
    evidence = {"ck": "gt_1000", "fasciculations_exam": "present"}
    ev = SettingsEvaluator(bundled, evidence)
    values, tables = ev.draw(2, np.random.default_rng(11), _blocks(bundled))
    out = ev.answer(tables, 2)
    for i in range(2):
        dx = bayesdx.diagnose(_rebuilt(bundled, values[i]), evidence=evidence)
        np.testing.assert_allclose(out["target_probs"][i], dx._order_tables.target_probs, atol=1e-9)
        np.testing.assert_allclose(out["value"][i], dx._order_values.value, atol=1e-9)
        assert out["top"][i] == dx._order_values.rank[0]


def test_drawn_numbers_pass_the_file_checks(small):
    """Rejection keeps only numbers the file's compiler accepts (every rebuild above succeeds);
    here: the noisy-OR causes of a draw are never below their leak."""
    net = small["two_disease_orders"]
    ev = SettingsEvaluator(net, None)
    values, _ = ev.draw(300, np.random.default_rng(0), _blocks(net))
    params = net.spec.params
    for node in net.nodes:
        if net.spec.nodes[node].cpt["type"] == "noisy_or":
            rows = [i for i, p in enumerate(params) if p.node == node]
            leak = [i for i in rows if params[i].where == "cpt.leak"][0]
            for i in rows:
                assert np.all(values[:, i] >= values[:, leak] - 1e-12)


# -- zero-width ranges --------------------------------------------------------------------------


def _pointed(text: str) -> str:
    """The file with every range collapsed onto its value."""
    data = yaml.safe_load(text)

    def walk(x):
        if isinstance(x, dict):
            if "range" in x:
                if "probs" in x:
                    x["range"] = {s: [p, p] for s, p in x["probs"].items() if s in x["range"]}
                else:
                    v = x.get("p", x.get("value"))
                    x["range"] = [v, v]
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(data)
    return yaml.safe_dump(data, sort_keys=False)


def test_zero_width_ranges_collapse_to_the_point_answer():
    text = (DATA / "two_disease_orders.yaml").read_text()
    spec = parse_spec(_pointed(text))
    from bayesdx._compile import spec_arrays

    net = bayesdx.Network(spec_arrays(spec), name=spec.name,
                          targets=[n for n in spec.nodes if spec.nodes[n].role == "target"], spec=spec)
    with pytest.warns(UserWarning, match="no range|has a range"):
        u = bayesdx.uncertainty(net, evidence={"fever": "present"}, draws=20, seed=0)
    post = u.posteriors
    for col in ("mean", "median", "ci90_low", "ci90_high"):
        np.testing.assert_allclose(post[col], post["point"], atol=1e-12)
    orders = u.orders
    np.testing.assert_allclose(orders["ci90_low"], orders["point"], atol=1e-12)
    np.testing.assert_allclose(orders["ci90_high"], orders["point"], atol=1e-12)
    assert orders.loc[orders.point_rank == 1, "prob_top"].item() == 1.0
    assert u.prob_top == 1.0


# -- coverage against a known distribution ----------------------------------------------------

_COVERAGE_NET = """
format: bayesdx/2
name: coverage
title: "Coverage check"
population: "invented"
references: {{EX: "invented numbers for a test"}}
nodes:
  d:
    role: target
    label: "Disease"
    states: [absent, present]
    cpt:
      type: table
      rows:
        - probs: {{absent: {p0}, present: {p1}}}
          ref: EX
          locator: "invented"
          grade: {grade}
          range: {{present: [{lo}, {hi}]}}
  t:
    role: finding
    label: "Test"
    kind: lab
    cost_usd: 1
    invasive: false
    states: [neg, pos]
    parents: [d]
    cpt:
      type: table
      rows:
        - when: {{d: absent}}
          probs: {{neg: 0.9, pos: 0.1}}
          ref: EX
          locator: "invented"
          grade: measured
          range: {{pos: [0.1, 0.1]}}
        - when: {{d: present}}
          probs: {{neg: 0.2, pos: 0.8}}
          ref: EX
          locator: "invented"
          grade: measured
          range: {{pos: [0.8, 0.8]}}
"""


@pytest.mark.parametrize("grade,level", [("expert", 0.8), ("measured", 0.95)], ids=["expert", "measured"])
def test_fit_recovers_a_known_beta(grade, level):
    from scipy.stats import beta

    a, b = 6.0, 24.0
    lo, hi = beta.ppf([(1 - level) / 2, (1 + level) / 2], a, b)
    text = _COVERAGE_NET.format(p0=1 - a / (a + b), p1=a / (a + b), grade=grade, lo=lo, hi=hi)
    net = bayesdx.load_network(_write(text), targets=["d"])
    row = parameter_priors(net).query("node == 'd' and state == 'present'").iloc[0]
    assert row["family"] == "dirichlet" and row["level"] == level
    assert row["alpha"] == pytest.approx(a, rel=1e-3)
    assert row["beta"] == pytest.approx(b, rel=1e-3)


def test_odds_ratios_are_log_normal_with_the_range_as_their_central_interval(small):
    from scipy.stats import lognorm

    net = small["two_disease_orders"]
    priors = parameter_priors(net)
    rows = priors[priors.family == "lognormal"]
    assert len(rows)
    for _, row in rows.iterrows():
        q = (1 - row["level"]) / 2
        lo, hi = lognorm.ppf([q, 1 - q], row["sigma"], scale=np.exp(row["mu"]))
        assert np.exp(row["mu"]) == pytest.approx(row["value"])
        assert hi / lo == pytest.approx(row["range_high"] / row["range_low"])


def test_intervals_cover_the_truth_at_their_nominal_rate():
    """Truths drawn from the known Beta(6, 24) prior of P(d); the posterior P(d | t = pos) is
    Bayes' rule in closed form. The 80% interval must hold 80% of them (4 sigma of Monte Carlo
    error, about 0.03); a wrong grade level (95%) or a wrong fit would miss by 0.1 or more."""
    from scipy.stats import beta

    a, b, level = 6.0, 24.0, 0.8
    lo, hi = beta.ppf([(1 - level) / 2, (1 + level) / 2], a, b)
    text = _COVERAGE_NET.format(p0=1 - a / (a + b), p1=a / (a + b), grade="expert", lo=lo, hi=hi)
    net = bayesdx.load_network(_write(text), targets=["d"])
    u = bayesdx.uncertainty(net, evidence={"t": "pos"}, draws=4000, seed=5, level=level)
    row = u.posteriors.query("state == 'present'").iloc[0]
    truth_p = np.random.default_rng(99).beta(a, b, size=4000)
    truth = truth_p * 0.8 / (truth_p * 0.8 + (1 - truth_p) * 0.1)
    covered = np.mean((truth >= row["ci80_low"]) & (truth <= row["ci80_high"]))
    assert abs(covered - level) < 0.03
    below = np.mean(truth < row["ci80_low"])
    assert abs(below - (1 - level) / 2) < 0.025  # central: equal tails


def _write(text):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "net.yaml"
    path.write_text(text)
    return path


# -- the result ---------------------------------------------------------------------------------


def test_uncertainty_is_seeded_and_its_frames_are_tidy(small):
    net = small["two_disease_orders"]
    u1 = bayesdx.uncertainty(net, evidence={"fever": "present"}, draws=150, seed=4, level=0.5)
    u2 = bayesdx.uncertainty(net, evidence={"fever": "present"}, draws=150, seed=4, level=0.5)
    u3 = bayesdx.uncertainty(net, evidence={"fever": "present"}, draws=150, seed=5, level=0.5)
    assert u1.to_frame().equals(u2.to_frame())
    assert not u1.to_frame().equals(u3.to_frame())
    frame = u1.to_frame()
    assert list(frame.columns) == ["quantity", "item", "label", "state", "point", "mean", "median",
                                   "ci50_low", "ci50_high", "prob_top"]
    assert set(frame["quantity"]) == {"posterior", "order_value", "action_taken"}
    orders = u1.orders
    assert orders["prob_top"].sum() == pytest.approx(1.0)
    assert (orders["ci50_low"] <= orders["median"]).all() and (orders["median"] <= orders["ci50_high"]).all()
    post = u1.posteriors
    for t in net.targets:
        assert post[post.target == t]["point"].sum() == pytest.approx(1.0)
    draws = u1.posterior_draws()
    assert draws.shape == (150, len(post))
    np.testing.assert_allclose(draws.T.groupby(level=0).sum().T.to_numpy(), 1.0, atol=1e-12)
    np.testing.assert_allclose(post["median"], np.median(draws.to_numpy(), axis=0))
    assert "draws" in repr(u1) and "<table" in u1._repr_html_()
    assert (u1.actions["prob_taken"].between(0, 1)).all()


def test_draws_are_answered_in_chunks_that_do_not_change_them(small):
    net = small["two_disease_orders"]
    evidence = {"fever": "present"}
    long = bayesdx.uncertainty(net, evidence=evidence, draws=230, seed=8)
    short = bayesdx.uncertainty(net, evidence=evidence, draws=100, seed=8)
    np.testing.assert_array_equal(long.posterior_draws().to_numpy()[:100],
                                  short.posterior_draws().to_numpy())
    # the kept marginals are those of the targets' joint, drawn and answered apart
    ev = SettingsEvaluator(net, evidence)
    rng = np.random.default_rng(8)
    blocks = [b for b in _blocks(net) if b.family != "point"]
    joint = np.concatenate([ev.answer(ev.draw(n, rng, blocks)[1], n)["target_probs"]
                            for n in (100, 100, 30)])
    cards = [net.arrays.card(t) for t in net.targets]
    joint = joint.reshape(-1, *cards)
    draws = long.posterior_draws()
    for k, t in enumerate(net.targets):
        marg = joint.sum(axis=tuple(1 + j for j in range(len(cards)) if j != k))
        np.testing.assert_allclose(draws[t].to_numpy(), marg, rtol=0, atol=1e-15)


def test_foreign_networks_and_bad_options_raise(small):
    asia = bayesdx.load_network(DATA / "asia.bif", targets=["lung"])
    with pytest.raises(InvalidParameterError, match="no ranges"):
        bayesdx.uncertainty(asia, draws=5)
    net = small["two_disease_orders"]
    for bad in (0, -3, 2.5, "10", True):
        with pytest.raises(InvalidParameterError, match="'draws' parameter"):
            bayesdx.uncertainty(net, draws=bad)
    with pytest.raises(InvalidParameterError, match="'draws' parameter .* from 1 to 100,000"):
        bayesdx.uncertainty(net, draws=importlib.import_module("bayesdx.uncertainty").MAX_DRAWS + 1)
    for bad in (0, 1, 1.5, "0.9"):
        with pytest.raises(InvalidParameterError, match="'level' parameter"):
            bayesdx.uncertainty(net, draws=5, level=bad)
    with pytest.raises(InvalidParameterError, match="'rule' parameter"):
        bayesdx.uncertainty(net, draws=5, rule=0.5)


# -- changed networks ---------------------------------------------------------------------------


def test_with_parameters_rescales_a_row_and_leaves_the_original(small):
    net = small["odds_dependence"]
    frame = net.parameters()
    i = int(frame.index[(frame.state.notna()) & (frame.cpt_type == "table")][0])
    p = net.spec.params[i]
    before = net.arrays.cpts[p.node].copy()
    new = net.with_parameters({i: 0.5 * p.value})
    np.testing.assert_array_equal(net.arrays.cpts[p.node], before)
    row = new.parameters()
    same = row[(row.node == p.node) & (row["where"] == p.where)]
    assert same["value"].sum() == pytest.approx(1.0, abs=1e-12)
    assert row.loc[i, "value"] == pytest.approx(0.5 * p.value)
    others = same.drop(index=i)
    old = frame.loc[others.index, "value"]
    np.testing.assert_allclose(others["value"] / others["value"].sum(), old / old.sum())
    assert new.with_parameters({(p.node, p.where, p.state): p.value}).parameters()["value"].iloc[i] == pytest.approx(p.value)


@pytest.mark.parametrize("key,value,match", [
    ((("flu", "cpt.marginal", "present")), 1.5, "must lie in \\[0, 1\\]"),
    ((("flu", "cpt.multipliers.smoker.yes.present", None)), 0.0, "odds ratio: it must be > 0"),
    ((("flu", "cpt.marginal", "sick")), 0.2, "no number for state"),
    ((("flux", "cpt.marginal", "present")), 0.2, "No parameter of node"),
    ((("flu", "cpt.marginl", "present")), 0.2, "Did you mean"),
    (10_000, 0.2, "does not exist"),
    ((("fever", "cpt.causes.flu", None)), 0.01, "below the leak"),
    ((("fever", "cpt.causes.flu", None)), float("nan"), "finite number"),
], ids=["p>1", "odds<=0", "state", "node", "where", "row", "noisy-or", "nan"])
def test_with_parameters_names_the_culprit(small, key, value, match):
    net = small["two_disease_orders"]
    with pytest.raises(InvalidParameterError, match=match):
        net.with_parameters({key: value})


def test_with_prior_matches_an_edited_file(bundled):
    text = bayesdx.bundled_networks()["fasciculation"].read_text()
    edited = text.replace("probs: {absent: 0.97, present: 0.03}", "probs: {absent: 0.9, present: 0.1}", 1)
    assert edited != text
    from bayesdx._compile import spec_arrays

    spec = parse_spec(edited)
    oracle = bayesdx.Network(spec_arrays(spec), name=spec.name, targets=bundled.targets, spec=spec)
    changed = bundled.with_prior("als", 0.1)
    for node in bundled.nodes:
        np.testing.assert_allclose(changed.arrays.cpts[node], oracle.arrays.cpts[node], atol=1e-12)


@settings(max_examples=8, deadline=None)
@given(p=st.floats(0.01, 0.6))
def test_prior_changes_keep_the_row_and_set_the_posterior_prior(p):
    net = bayesdx.load_network(DATA / "two_disease_orders.yaml")
    new = net.with_prior("flu", p)
    dx = bayesdx.diagnose(new)
    assert float(dx.marginal("flu")["present"]) == pytest.approx(p, abs=1e-9)
    frame = new.parameters()
    assert frame[(frame.node == "flu") & (frame["where"] == "cpt.marginal")]["value"].sum() == pytest.approx(1.0)


def test_contraction_plans_leave_python_random_alone_and_serve_any_chunk(bundled):
    import random

    from bayesdx import _batchinfer

    evidence = {"ck": "gt_1000", "fasciculations_exam": "present"}
    ev = SettingsEvaluator(bundled, evidence)
    values, tables = ev.draw(7, np.random.default_rng(2), _blocks(bundled))
    _batchinfer._plan.cache_clear()
    random.seed(12)
    expected = random.random()
    random.seed(12)
    seven = ev.answer(tables, 7)  # plans with random greedy trials, which reseed random
    assert random.random() == expected
    three = ev.answer({n: t[4:] for n, t in tables.items()}, 3)  # the same plans, fewer draws
    np.testing.assert_array_equal(three["target_probs"], seven["target_probs"][4:])
    np.testing.assert_array_equal(three["value"], seven["value"][4:])
    dx = bayesdx.diagnose(_rebuilt(bundled, values[5]), evidence=evidence)
    np.testing.assert_allclose(seven["target_probs"][5], dx._order_tables.target_probs, atol=1e-9)


def test_folded_readouts_equal_the_contraction_of_all_their_tables(bundled):
    from bayesdx import _batcheval, _batchinfer

    from bayesdx.cli import DEMO_CASE

    ev = SettingsEvaluator(bundled, dict(DEMO_CASE))
    _, tables = ev.draw(4, np.random.default_rng(5), _blocks(bundled))
    parents, e, targets = ev.compiler.spec_parents(), ev.encoded, bundled.targets
    checked = 0
    for free, plan in zip(ev.tables0.readouts, ev.leaf_plans):
        if plan is None or len(free) < 2:
            continue
        hidden, folded = plan
        core = _batchinfer.contract(parents, tables, e, [*targets, *hidden], 4)
        fast = _batchinfer.contract_factors([(core, (*targets, *hidden))] + [
            _batcheval._folded_readout(parents, tables, e, r, folded, 4) for r in free],
            (*targets, *free), 4)
        every = [(core, (*targets, *hidden))] + [_batchinfer.family_factor(parents, tables, e, n)
                                                 for n in (*free, *folded)]
        slow = _batchinfer.contract_factors(every, (*targets, *free), 4)
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-18)
        checked += bool(hidden) + bool(folded)
    assert checked >= 2  # a group with hidden parents and one with folded summaries


# -- orders valued for every draw at once ---------------------------------------------------------


def _objectives(net):
    from bayesdx import Objective

    return {"information": Objective("information"), "cost": Objective("cost", alpha=0.002),
            "focus": Objective("focus", targets=[net.targets[0], net.targets[2]]),
            "weights": Objective("focus", weights={net.targets[0]: 2.0, net.targets[1]: 0.5}),
            "decision": Objective("decision")}


def _random_tables(point, d, rng):
    """Batched outcome tables shaped like ``point``'s: random P(targets) and, per order, random
    P(outcome | targets) (some exact zeros), so each batch is a consistent set of tables."""
    from bayesdx.ranking import OrderTables

    n_t = point.target_probs.size
    pt = rng.dirichlet(np.ones(n_t), size=d)
    pt[:, ::7] = 0.0
    pt /= pt.sum(axis=1, keepdims=True)
    blocks = []
    for c in point.cards:
        cond = rng.dirichlet(np.ones(c), size=(d, n_t))
        cond[:, ::5, 0] = 0.0
        cond /= cond.sum(axis=2, keepdims=True)
        blocks.append(pt[:, :, None] * cond)
    return OrderTables(point.orders, point.readouts, point.outcomes, point.target_cards, pt,
                       np.concatenate(blocks, axis=2), point.starts, point.cards)


def test_value_orders_on_a_batch_equals_it_on_each_table(bundled):
    """ranking.value_orders (voi.mutual_information_stacked_bits, decision.decision_values) with a
    leading batch axis gives what it gives on each table alone, for every objective."""
    from bayesdx.ranking import OrderTables, value_orders

    from bayesdx.cli import DEMO_CASE

    point = bayesdx.diagnose(bundled, evidence=dict(DEMO_CASE))
    batch = _random_tables(point._order_tables, 5, np.random.default_rng(8))
    model, ind = bundled.decisions, point._indicator
    for name, objective in _objectives(bundled).items():
        many = value_orders(batch, objective, bundled, model, ind)
        for i in range(5):
            one = value_orders(OrderTables(batch.orders, batch.readouts, batch.outcomes,
                                           batch.target_cards, batch.target_probs[i],
                                           batch.stacked[i], batch.starts, batch.cards),
                               objective, bundled, model, ind)
            for field in ("value", "info_gain_bits", "info_per_usd", "decision_value_utils",
                          "same_decision_prob"):
                np.testing.assert_allclose(getattr(many, field)[i], getattr(one, field),
                                           rtol=1e-12, atol=1e-12, err_msg=f"{name}: {field}")
            np.testing.assert_array_equal(many.cost_utils, one.cost_utils)
            np.testing.assert_array_equal(many.rank[i], one.rank, err_msg=name)
            np.testing.assert_array_equal(many.decisions.acts_now[i], one.decisions.acts_now)
            np.testing.assert_allclose(many.decisions.gain[i], one.decisions.gain, atol=1e-12)


def test_every_objective_of_every_draw_equals_a_rebuilt_network(bundled):
    """The batched valuation (reflex orders' reports merged per draw included) against diagnose
    on networks rebuilt with the drawn numbers, under each objective."""
    from bayesdx.cli import DEMO_CASE

    evidence = dict(DEMO_CASE)
    first = SettingsEvaluator(bundled, evidence)
    assert any(m is not None for m in first.merges)  # reflex orders are in the case
    values, tables = first.draw(2, np.random.default_rng(21), _blocks(bundled))
    rebuilt = [_rebuilt(bundled, values[i]) for i in range(2)]
    for name, objective in _objectives(bundled).items():
        ev = SettingsEvaluator(bundled, evidence, objective)
        out = ev.answer(tables, 2)
        for i, net in enumerate(rebuilt):
            dx = bayesdx.diagnose(net, evidence=evidence, objective=objective)
            np.testing.assert_allclose(out["value"][i], dx._order_values.value, atol=1e-9,
                                       err_msg=name)
            assert out["top"][i] == dx._order_values.rank[0], name
            np.testing.assert_array_equal(out["acts"][i], dx._order_values.decisions.acts_now)


def test_the_command_line_takes_the_draws_the_function_takes():
    import argparse

    from bayesdx import _cli_uncertainty

    bound = importlib.import_module("bayesdx.uncertainty").MAX_DRAWS
    assert _cli_uncertainty._draws(str(bound)) == bound
    with pytest.raises(argparse.ArgumentTypeError, match=f"{bound:,}"):
        _cli_uncertainty._draws(str(bound + 1))
