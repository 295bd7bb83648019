"""Property-based tests (Hypothesis) on random discrete networks.

Properties: posteriors sum to 1; information gain is non-negative; an observed test is not
ranked; a test d-separated from the targets given the evidence has zero gain; evidence order does
not matter; and every answer equals brute-force enumeration."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import BruteForce

import bayesdx
from bayesdx.inference import ModelArrays
from bayesdx.network import Network

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def random_networks(draw, max_nodes=7):
    n = draw(st.integers(3, max_nodes))
    nodes = tuple(f"n{i}" for i in range(n))
    cards = {v: draw(st.integers(2, 3)) for v in nodes}
    parents = {}
    for i, v in enumerate(nodes):
        candidates = list(nodes[:i])
        k = draw(st.integers(0, min(3, len(candidates))))
        parents[v] = tuple(draw(st.permutations(candidates))[:k]) if k else ()
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    cpts = {}
    for v in nodes:
        shape = tuple(cards[p] for p in parents[v]) + (cards[v],)
        table = rng.gamma(0.6, size=shape)
        zeros = rng.random(shape) < 0.1  # some structural zeros
        table[zeros] = 0.0
        table[..., 0] += (table.sum(axis=-1) == 0)  # no all-zero rows
        cpts[v] = table / table.sum(axis=-1, keepdims=True)
    states = {v: tuple(f"s{k}" for k in range(cards[v])) for v in nodes}
    arrays = ModelArrays(nodes=nodes, states=states, parents=parents, cpts=cpts)
    n_targets = draw(st.integers(1, min(3, n - 1)))
    targets = list(draw(st.permutations(list(nodes)))[:n_targets])
    net = Network(arrays, name="random", targets=targets)
    # evidence: a random subset of non-targets, with states drawn from a forward sample so it is possible
    sample = {}
    for v in nodes:
        probs = cpts[v][tuple(sample[p] for p in parents[v])]
        sample[v] = int(rng.choice(cards[v], p=probs))
    observable = [v for v in nodes if v not in targets]
    k = draw(st.integers(0, len(observable)))
    chosen = draw(st.permutations(observable))[:k]
    evidence = {v: states[v][sample[v]] for v in chosen}
    return net, evidence


@SETTINGS
@given(random_networks())
def test_posteriors_sum_to_one_and_match_brute_force(case):
    net, evidence = case
    dx = bayesdx.diagnose(net, evidence=evidence)
    oracle = BruteForce(net.arrays)
    ev = net.encode_evidence(evidence)
    for node in net.nodes:
        marginal = dx.marginal(node)
        assert marginal.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(marginal.to_numpy(), oracle.marginal(node, ev), atol=1e-9)
    for test, gain in dx.ranking["info_gain_bits"].items():
        assert gain == pytest.approx(oracle.info_gain(list(net.targets), test, ev), abs=1e-9)


@SETTINGS
@given(random_networks())
def test_information_gain_is_non_negative_and_observed_tests_are_not_ranked(case):
    net, evidence = case
    dx = bayesdx.diagnose(net, evidence=evidence)
    assert (dx.ranking["info_gain_bits"] >= 0).all()
    assert not set(dx.ranking.index) & set(evidence)
    assert set(dx.ranking.index) == set(net.tests) - set(evidence)
    gains = dx.ranking["info_gain_bits"].to_numpy()
    assert np.all(np.diff(gains) <= 0)
    if dx.next_test is not None:
        assert dx.next_test == dx.ranking.index[0]


@SETTINGS
@given(random_networks())
def test_d_separated_tests_have_zero_gain(case):
    net, evidence = case
    graph = nx.DiGraph((p, v) for v in net.nodes for p in net.parents(v))
    graph.add_nodes_from(net.nodes)
    dx = bayesdx.diagnose(net, evidence=evidence)
    for test in dx.ranking.index:
        if nx.is_d_separator(graph, set(net.targets), {test}, set(evidence)):
            assert dx.ranking.loc[test, "info_gain_bits"] == pytest.approx(0.0, abs=1e-12)


def test_isolated_test_has_exactly_zero_gain(two_disease):
    # A node with no path to the targets at all, added to a real network.
    arrays = two_disease.arrays
    iso = ModelArrays(
        nodes=(*arrays.nodes, "coin"),
        states={**arrays.states, "coin": ("heads", "tails")},
        parents={**arrays.parents, "coin": ()},
        cpts={**arrays.cpts, "coin": np.array([0.3, 0.7])},
    )
    net = Network(iso, name="iso", targets=two_disease.targets)
    dx = bayesdx.diagnose(net, evidence={"fever": "present"})
    assert dx.ranking.loc["coin", "info_gain_bits"] == 0.0
    assert dx.ranking.index[-1] == "coin"


@SETTINGS
@given(random_networks(), st.randoms(use_true_random=False))
def test_evidence_order_does_not_matter(case, rnd):
    net, evidence = case
    items = list(evidence.items())
    rnd.shuffle(items)
    a = bayesdx.diagnose(net, evidence=evidence)
    b = bayesdx.diagnose(net, evidence=dict(items))
    for node in net.targets:
        np.testing.assert_allclose(a.marginal(node).to_numpy(), b.marginal(node).to_numpy(), atol=1e-12)
    np.testing.assert_allclose(a.ranking["info_gain_bits"].to_numpy(),
                               b.ranking.loc[a.ranking.index, "info_gain_bits"].to_numpy(), atol=1e-12)
