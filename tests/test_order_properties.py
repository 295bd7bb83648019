"""Property-based tests (Hypothesis) of ranking by order, on random networks with random orders
and decision models.

Properties: the decision value before cost is >= 0 and the same-decision probability lies in
[0, 1]; an order that cannot change any action is worth nothing; an order is worth at least as much
information as any of its (always reported) readouts; entering an order's readouts one by one
gives the same posterior as the order's outcome at once; outcome tables are shared across
objectives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_orders_exact import random_case

import bayesdx
from bayesdx import Order
from bayesdx.inference import ModelArrays
from bayesdx.network import Network
from bayesdx.session import Session

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
cases = st.integers(0, 2**32 - 1).map(random_case)


@SETTINGS
@given(cases)
def test_decision_value_is_non_negative_and_same_decision_is_a_probability(case):
    net, evidence = case
    ranking = bayesdx.diagnose(net, evidence=evidence).ranking
    assert (ranking["decision_value_utils"] >= 0).all()
    assert ((ranking["same_decision_prob"] >= 0) & (ranking["same_decision_prob"] <= 1 + 1e-12)).all()
    assert (ranking["info_gain_bits"] >= 0).all()
    # an order whose result never changes an action has no decision value
    fixed = ranking[ranking["same_decision_prob"] >= 1 - 1e-13]
    np.testing.assert_allclose(fixed["decision_value_utils"], 0.0, atol=1e-12)


@SETTINGS
@given(cases)
def test_an_order_that_cannot_change_any_action_is_worth_nothing(case):
    net, evidence = case
    arrays = net.arrays
    # add a coin that nothing depends on, and order it alone and with a real test
    coin = ModelArrays(nodes=(*arrays.nodes, "coin"), states={**arrays.states, "coin": ("h", "t")},
                       parents={**arrays.parents, "coin": ()},
                       cpts={**arrays.cpts, "coin": np.array([0.3, 0.7])})
    orders = [Order("toss", ["coin"], cost_usd=1.0)]
    net2 = Network(coin, name="coin", targets=net.targets, orders=orders, decisions=net.decisions)
    row = bayesdx.diagnose(net2, evidence=evidence).ranking.loc["toss"]
    assert row["decision_value_utils"] == 0.0
    assert row["info_gain_bits"] == 0.0
    assert row["same_decision_prob"] == pytest.approx(1.0, abs=1e-12)
    assert row["net_value_utils"] == pytest.approx(-1.0 / net.decisions.usd_per_util)


@SETTINGS
@given(cases)
def test_an_order_is_worth_at_least_any_of_its_readouts(case):
    net, evidence = case
    dx = bayesdx.diagnose(net, evidence=evidence, objective="information")
    by_order = dx.ranking
    by_node = bayesdx.diagnose(net, evidence=evidence, objective="information", by="node").ranking
    for order in dx.orders:
        for readout in dx.ranking.loc[order.name, "readouts"]:
            if readout in order.reflex:
                continue  # a reflex readout is not always reported
            assert by_order.loc[order.name, "info_gain_bits"] >= \
                by_node.loc[readout, "info_gain_bits"] - 1e-12
            assert by_order.loc[order.name, "decision_value_utils"] >= \
                by_node.loc[readout, "decision_value_utils"] - 1e-12


@SETTINGS
@given(cases)
def test_readouts_one_by_one_give_the_posterior_of_the_order_at_once(case):
    net, evidence = case
    dx = bayesdx.diagnose(net, evidence=evidence)
    for order in dx.orders:
        why = dx.explain(order.name)
        table = why.to_frame()
        for label, outcome in zip(why.outcome_labels, why.outcome_evidence):
            at_once = bayesdx.diagnose(net, evidence={**evidence, **outcome})
            session = Session(net, evidence=evidence)
            for node, state in reversed(list(outcome.items())):  # any order will do
                session.add(node, state)
            rows = table[table["outcome"] == label]
            for target in net.targets:
                expected = rows[rows["target"] == target]["posterior"].to_numpy()
                np.testing.assert_allclose(at_once.marginal(target).to_numpy(), expected, atol=1e-10)
                np.testing.assert_allclose(session.current.marginal(target).to_numpy(), expected,
                                           atol=1e-10)


@SETTINGS
@given(cases)
def test_objectives_share_one_set_of_outcome_tables(case):
    net, evidence = case
    dx = bayesdx.diagnose(net, evidence=evidence)
    other = dx.with_objective(bayesdx.Objective("cost", alpha=0.01))
    assert other._order_tables is dx._order_tables
    a, b = dx.ranking, other.ranking.loc[dx.ranking.index]
    np.testing.assert_array_equal(a["info_gain_bits"], b["info_gain_bits"])
    np.testing.assert_array_equal(a["decision_value_utils"], b["decision_value_utils"])
    cost = a["cost_usd"].fillna(0.0)
    np.testing.assert_allclose(b["value"], a["info_gain_bits"] - 0.01 * cost, atol=1e-12)
