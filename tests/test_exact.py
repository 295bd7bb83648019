"""Every inference result against an independent oracle: brute-force enumeration on small
networks, pgmpy VariableElimination on real ones. Tolerance 1e-9 throughout."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import BruteForce, pgmpy_info_gain, pgmpy_marginal
from pgmpy.inference import VariableElimination

import bayesdx

TOL = 1e-9

SMALL_CASES = [
    ("two_disease", "two_disease.yaml", None, [{}, {"fever": "present"},
                                               {"fever": "absent", "crp": "high", "smoker": "yes"},
                                               {"flu": "present", "chest_xray": "infiltrate"}]),
    ("asia", "asia.bif", ["lung", "tub", "bronc"], [{}, {"xray": "yes"}, {"xray": "yes", "dysp": "no"},
                                                     {"smoke": "yes", "either": "no", "asia": "yes"}]),
]


@pytest.mark.parametrize("fname,targets,cases", [c[1:] for c in SMALL_CASES], ids=[c[0] for c in SMALL_CASES])
def test_diagnose_matches_brute_force(data_dir, fname, targets, cases):
    net = bayesdx.load_network(data_dir / fname, targets=targets)
    oracle = BruteForce(net.arrays)
    for labels in cases:
        ev = net.encode_evidence(labels)
        dx = bayesdx.diagnose(net, evidence=labels, by="node")
        assert dx.prob_evidence == pytest.approx(oracle.prob(ev), abs=TOL)
        for node in net.nodes:
            np.testing.assert_allclose(dx.marginal(node).to_numpy(), oracle.marginal(node, ev), atol=TOL)
        np.testing.assert_allclose(dx._query.target_joint, oracle.joint(list(net.targets), ev), atol=TOL)
        for test, gain in dx.ranking["info_gain_bits"].items():
            assert gain == pytest.approx(oracle.info_gain(list(net.targets), test, ev), abs=TOL)
        for node in net.targets:
            np.testing.assert_allclose(dx.prior(node).to_numpy(), oracle.marginal(node, {}), atol=TOL)


def test_what_if_matches_brute_force(two_disease):
    oracle = BruteForce(two_disease.arrays)
    dx = bayesdx.diagnose(two_disease, evidence={"fever": "present"})
    table = dx.what_if("crp")
    ev = two_disease.encode_evidence({"fever": "present"})
    for row in table.itertuples(index=False):
        x = two_disease.states("crp").index(row.outcome)
        assert row.p_outcome == pytest.approx(oracle.marginal("crp", ev)[x], abs=TOL)
        post = oracle.marginal(row.target, {**ev, "crp": x})
        assert row.posterior == pytest.approx(post[two_disease.states(row.target).index(row.state)], abs=TOL)


def _forward_sample(net, rng, n_observed):
    arrays = net.arrays
    sample = {}
    for node in arrays.nodes:
        index = tuple(sample[p] for p in arrays.parents[node])
        probs = arrays.cpts[node][index]
        sample[node] = int(rng.choice(len(probs), p=probs / probs.sum()))
    observed = rng.choice(len(net.tests), size=min(n_observed, len(net.tests)), replace=False)
    return {net.tests[i]: net.states(net.tests[i])[sample[net.tests[i]]] for i in observed}


PGMPY_CASES = [
    ("fasciculation", None, None, 6),
    ("alarm", "alarm.bif", ["LVFAILURE", "HYPOVOLEMIA"], 8),
    ("hepar2", "hepar2.bif", ["Cirrhosis", "PBC", "THepatitis"], 10),
]


@pytest.mark.parametrize("name,fname,targets,n_obs", PGMPY_CASES, ids=[c[0] for c in PGMPY_CASES])
def test_diagnose_matches_pgmpy_variable_elimination(data_dir, name, fname, targets, n_obs):
    net = bayesdx.load_network(name if fname is None else data_dir / fname, targets=targets)
    ve = VariableElimination(net.model)
    rng = np.random.default_rng(7)
    for _ in range(3):
        labels = _forward_sample(net, rng, n_obs)
        dx = bayesdx.diagnose(net, evidence=labels, by="node")  # per-test gains
        for node in net.targets:
            np.testing.assert_allclose(dx.marginal(node).to_numpy(), pgmpy_marginal(ve, net, node, labels), atol=TOL)
        tests = [t for t in net.tests if t not in labels]
        for test in rng.choice(tests, size=min(6, len(tests)), replace=False):
            np.testing.assert_allclose(dx.marginal(test).to_numpy(), pgmpy_marginal(ve, net, test, labels), atol=TOL)
            expected = pgmpy_info_gain(ve, net, net.targets, test, labels)
            assert dx.ranking.loc[test, "info_gain_bits"] == pytest.approx(expected, abs=TOL)


def test_pathfinder_fault_matches_pgmpy(data_dir):
    net = bayesdx.load_network(data_dir / "pathfinder.bif", targets=["Fault"])
    ve = VariableElimination(net.model)
    labels = _forward_sample(net, np.random.default_rng(3), 12)
    dx = bayesdx.diagnose(net, evidence=labels, by="node")
    np.testing.assert_allclose(dx.marginal("Fault").to_numpy(), pgmpy_marginal(ve, net, "Fault", labels), atol=TOL)
    for test in [t for t in net.tests if t not in labels][:3]:
        expected = pgmpy_info_gain(ve, net, ["Fault"], test, labels)
        assert dx.ranking.loc[test, "info_gain_bits"] == pytest.approx(expected, abs=TOL)


def test_reference_engines_agree_on_asia(asia):
    oracle = BruteForce(asia.arrays)
    labels = {"xray": "yes", "smoke": "no"}
    ev = asia.encode_evidence(labels)
    for engine in bayesdx.engines.ENGINES:
        dx = bayesdx.diagnose(asia.with_engine(engine), evidence=labels)
        for node in asia.nodes:
            np.testing.assert_allclose(dx.marginal(node).to_numpy(), oracle.marginal(node, ev), atol=TOL,
                                       err_msg=f"engine {engine}, node {node}")


def test_jtree_information_gains_match_brute_force(asia):
    """The engine's one-pass gains (used by the benchmarks) equal the textbook computation."""
    oracle = BruteForce(asia.arrays)
    for labels in ({}, {"xray": "yes"}, {"lung": "yes", "dysp": "no"}):
        ev = asia.encode_evidence(labels)
        query = asia.with_engine("jtree").engine.joint_query(ev, asia.targets, list(asia.tests))
        gains = query.information_gains_bits()
        for test in asia.tests:
            expected = 0.0 if test in ev else oracle.info_gain(list(asia.targets), test, ev)
            assert gains[test] == pytest.approx(expected, abs=TOL), (labels, test)
