"""bayesdx.simulate: sampled frequencies against exact distributions (brute-force oracle)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesdx
from bayesdx.exceptions import InvalidParameterError, UnknownNodeError

from oracle import BruteForce

N = 20_000
ALPHA = 1e-6  # false-alarm rate per comparison: a correct sampler essentially never fails


def _chi_square_p(counts: np.ndarray, probs: np.ndarray) -> float:
    """p-value of Pearson's chi-square goodness of fit (cells with zero probability must be empty)."""
    counts = np.ravel(counts).astype(float)
    probs = np.ravel(probs)
    assert np.all(counts[probs == 0] == 0), "a state of probability zero was drawn"
    keep = probs > 0
    expected = probs[keep] * counts.sum()
    statistic = float(((counts[keep] - expected) ** 2 / expected).sum())
    return float(stats.chi2.sf(statistic, df=max(int(keep.sum()) - 1, 1)))


def _codes(frame: pd.DataFrame, node: str) -> np.ndarray:
    return frame[node].cat.codes.to_numpy()


@pytest.mark.parametrize("name", ["two_disease", "asia"])
def test_marginals_and_pairs_match_brute_force(name, request):
    network = request.getfixturevalue(name)
    oracle = BruteForce(network.arrays)
    findings, truth = bayesdx.simulate(network, N, seed=1)
    both = pd.concat([findings, truth], axis=1)
    assert set(both.columns) == set(network.nodes) - {
        n for n in network.nodes if n not in network.targets and network.role(n) == "latent"}
    for node in both.columns:
        counts = np.bincount(_codes(both, node), minlength=network.arrays.card(node))
        assert _chi_square_p(counts, oracle.marginal(node, {})) > ALPHA, node
    # the joint of each target with each finding: the dependence structure, not only marginals
    for target in network.targets:
        for node in findings.columns[:6]:
            cards = (network.arrays.card(target), network.arrays.card(node))
            counts = np.zeros(cards)
            np.add.at(counts, (_codes(both, target), _codes(both, node)), 1)
            assert _chi_square_p(counts, oracle.joint([target, node], {})) > ALPHA, (target, node)


def test_the_check_has_power(two_disease):
    # the same statistic rejects a slightly wrong distribution: the bound above can fail
    oracle = BruteForce(two_disease.arrays)
    findings, _ = bayesdx.simulate(two_disease, N, seed=2)
    counts = np.bincount(_codes(findings, "fever"), minlength=2)
    p = oracle.marginal("fever", {})
    wrong = np.array([p[0] + 0.03, p[1] - 0.03])
    assert _chi_square_p(counts, wrong) < ALPHA


def test_conditional_frequencies_on_the_bundled_network(fasciculation):
    # P(finding | target state) from the draws against the network's own table row
    findings, truth = bayesdx.simulate(fasciculation, N, seed=3)
    arrays = fasciculation.arrays
    node = "tsh"
    (parent,) = arrays.parents[node]
    for k, state in enumerate(fasciculation.states(parent)):
        rows = (truth[parent] if parent in truth else findings[parent]) == state
        if rows.sum() < 200:
            continue
        counts = np.bincount(_codes(findings[rows], node), minlength=arrays.card(node))
        assert _chi_square_p(counts, arrays.cpts[node][k]) > ALPHA, state


def test_seed_reproducible_and_missing_rate(two_disease):
    a = bayesdx.simulate(two_disease, 500, seed=7)
    b = bayesdx.simulate(two_disease, 500, seed=7)
    pd.testing.assert_frame_equal(a.findings, b.findings)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    c = bayesdx.simulate(two_disease, 500, seed=8)
    assert not a.truth.equals(c.truth)
    findings, truth = bayesdx.simulate(two_disease, N, seed=9, missing=0.25)
    rate = findings.isna().to_numpy().mean()
    assert abs(rate - 0.25) < 4 * np.sqrt(0.25 * 0.75 / findings.size)
    assert truth.notna().all().all()  # truth is never hidden


def test_observe_and_categories(two_disease):
    findings, truth = bayesdx.simulate(two_disease, 50, seed=0, observe=["crp", "fever"])
    assert list(findings.columns) == ["crp", "fever"]
    assert list(findings["crp"].cat.categories) == list(two_disease.states("crp"))
    assert list(truth.columns) == list(two_disease.targets)
    findings, _ = bayesdx.simulate(two_disease, 0, seed=0)
    assert len(findings) == 0
    posts = bayesdx.posteriors(two_disease, bayesdx.simulate(two_disease, 20, seed=0).findings)
    assert posts.shape[0] == 20


@pytest.mark.parametrize("kwargs, match", [
    ({"n": -1}, "'n' parameter"),
    ({"n": 2.5}, "'n' parameter"),
    ({"n": 5, "missing": 1.0}, "'missing' parameter"),
    ({"n": 5, "seed": "x"}, "'seed' parameter"),
    ({"n": 5, "observe": "fever"}, "'observe' parameter"),
    ({"n": 5, "observe": ["fever", "fever"]}, "twice"),
], ids=["negative-n", "float-n", "missing-1", "bad-seed", "observe-str", "observe-dup"])
def test_bad_arguments(two_disease, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        bayesdx.simulate(two_disease, **kwargs)


def test_unknown_observed_node(two_disease):
    with pytest.raises(UnknownNodeError, match="fevr"):
        bayesdx.simulate(two_disease, 5, observe=["fevr"])
