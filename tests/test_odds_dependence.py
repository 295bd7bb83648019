"""The bayesdx/2 CPT constructs: odds nodes whose parents are other targets, ``fixed`` rows that
pin a conditional distribution while the marginal stays calibrated, and ``when`` lists of states.
Loader errors name the node; the compiled network is checked against brute-force enumeration and
pgmpy VariableElimination (tolerance 1e-9), and the calibration to 1e-12."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from oracle import BruteForce, pgmpy_marginal
from pgmpy.inference import VariableElimination

import bayesdx
from bayesdx import _odds
from bayesdx.spec import parse_spec

TOL = 1e-9


@pytest.fixture(scope="module")
def text(data_dir):
    return (data_dir / "odds_dependence.yaml").read_text()


@pytest.fixture(scope="module")
def net(data_dir):
    return bayesdx.load_network(data_dir / "odds_dependence.yaml")


def _load(data, tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return bayesdx.load_network(path)


def test_marginal_is_calibrated_exactly_with_fixed_rows_and_target_parents(net):
    oracle = BruteForce(net.arrays)
    np.testing.assert_allclose(oracle.marginal("benign_syndrome", {}), [0.6, 0.4], atol=1e-12)
    np.testing.assert_allclose(oracle.marginal("gland", {}), [0.85, 0.1, 0.05], atol=1e-12)
    dx = bayesdx.diagnose(net)
    assert dx.marginal("benign_syndrome")["present"] == pytest.approx(0.4, abs=1e-12)


def test_fixed_rows_give_their_conditional_exactly(net):
    oracle = BruteForce(net.arrays)
    ev = net.encode_evidence
    got = oracle.marginal("benign_syndrome", ev({"severe_disease": "present"}))
    np.testing.assert_allclose(got, [0.995, 0.005], atol=1e-12)
    for gland in ("low", "high"):  # the row with a list of states
        got = oracle.marginal("benign_syndrome", ev({"severe_disease": "absent", "age": "old", "gland": gland}))
        np.testing.assert_allclose(got, [0.8, 0.2], atol=1e-12)
    # the odds ratio still holds between the calibrated configurations
    young = {"severe_disease": "absent", "age": "young"}
    p_abs = oracle.marginal("benign_syndrome", ev({**young, "gland": "absent"}))[1]
    p_high = oracle.marginal("benign_syndrome", ev({**young, "gland": "high"}))[1]
    assert (p_high / (1 - p_high)) / (p_abs / (1 - p_abs)) == pytest.approx(0.3, abs=1e-12)


def test_fixed_rows_override_noisy_causes_exactly(net):
    oracle = BruteForce(net.arrays)
    ev = net.encode_evidence
    for severe in ("absent", "present"):
        got = oracle.marginal("weakness", ev({"benign_syndrome": "present", "severe_disease": severe}))
        np.testing.assert_allclose(got, [0.99, 0.01], atol=1e-12)
    got = oracle.marginal("emg_extent", ev({"benign_syndrome": "present", "severe_disease": "present", "other_cause": "nerve"}))
    np.testing.assert_allclose(got, [0.98, 0.02, 0.0], atol=1e-12)
    # configurations no fixed row matches follow the noisy-MAX rule: the most severe level wins
    table = net.arrays.cpts["emg_extent"]
    i = (net.states("severe_disease").index("present"), net.states("benign_syndrome").index("present"),
         net.states("other_cause").index("nerves_all"))
    assert table[i][2] == pytest.approx(1 - (0.08 + 0.17) * (0.55 + 0.43) / 1.0, abs=1e-12)


def test_fixed_rows_are_in_the_provenance_table(net):
    params = net.parameters()
    rows = params[(params["node"] == "benign_syndrome") & params["where"].str.startswith("cpt.fixed")]
    assert set(rows["where"]) == {"cpt.fixed[1] {severe_disease: present}", "cpt.fixed[2] {age: old, gland: [low, high]}"}
    assert rows["range_low"].notna().sum() == 2


CASES = [
    {},
    {"weakness": "present"},
    {"twitching": "present", "weakness": "absent", "age": "young"},
    {"emg_extent": "two_plus_regions", "twitching": "present"},
    {"emg_extent": "one_region", "gland_test": "high"},
    {"benign_syndrome": "present", "weakness": "present"},
]


@pytest.mark.parametrize("engine", ["jtree", "enumeration", "pgmpy"])
def test_posteriors_match_brute_force_and_pgmpy(net, engine):
    oracle = BruteForce(net.arrays)
    ve = VariableElimination(net.model)
    network = net.with_engine(engine)
    for labels in CASES:
        ev = net.encode_evidence(labels)
        dx = bayesdx.diagnose(network, evidence=labels)
        assert dx.prob_evidence == pytest.approx(oracle.prob(ev), abs=TOL)
        for node in net.nodes:
            expected = oracle.marginal(node, ev)
            np.testing.assert_allclose(dx.marginal(node).to_numpy(), expected, atol=TOL, err_msg=f"{engine} {node} {labels}")
            if node not in labels:
                np.testing.assert_allclose(pgmpy_marginal(ve, net, node, labels), expected, atol=TOL)
        np.testing.assert_allclose(dx._query.target_joint, oracle.joint(list(net.targets), ev), atol=TOL)


def _fixed(data):
    return data["nodes"]["benign_syndrome"]["cpt"]["fixed"]


BAD_FIXED = [
    ("needs_bayesdx2", lambda d: d.update(format="bayesdx/1"), "needs format: bayesdx/2"),
    ("empty_when", lambda d: _fixed(d)[0].update(when={}), "needs a non-empty 'when'"),
    ("unknown_parent", lambda d: _fixed(d)[0].update(when={"sevear": "present"}), "'sevear' is not a parent"),
    ("unknown_state", lambda d: _fixed(d)[1].update(when={"gland": ["low", "hi"]}), "'hi' is not a state of 'gland'"),
    ("not_a_list", lambda d: d["nodes"]["benign_syndrome"]["cpt"].update(fixed={"when": {}}), "expected a non-empty list"),
    ("probs_do_not_sum", lambda d: _fixed(d)[0]["probs"].update(present=0.05), "sum to"),
    ("missing_range", lambda d: _fixed(d)[0].pop("range"), "missing source: 'range'"),
    ("never_applies", lambda d: _fixed(d).append(dict(_fixed(d)[0])), r"cpt.fixed\[3\].*never applies"),
    ("covers_everything", lambda d: _fixed(d).append({**_fixed(d)[0], "when": {"severe_disease": "absent"}}),
     "no configuration is left to calibrate"),
    ("exceeds_marginal", lambda d: _fixed(d)[1].update(probs={"absent": 0.0, "present": 1.0}, range={"present": [0.9, 1.0]},
                                                       when={"age": "young"}),
     r"calibration is impossible: the fixed rows alone give P\(present\)"),
    ("parent_unexplained", lambda d: (d["nodes"]["benign_syndrome"]["cpt"]["multipliers"].pop("age"), _fixed(d).pop(1)),
     "'age' has no multipliers and no fixed row"),
    ("finding_parent", lambda d: d["nodes"]["benign_syndrome"].update(parents=["age", "severe_disease", "gland", "gland_test"]),
     "'gland_test' is a finding"),
]


@pytest.mark.parametrize("edit,pattern", [c[1:] for c in BAD_FIXED], ids=[c[0] for c in BAD_FIXED])
def test_bad_fixed_rows_are_reported_with_the_node(tmp_path, text, edit, pattern):
    data = yaml.safe_load(text)
    edit(data)
    with pytest.raises(bayesdx.NetworkSpecError, match=pattern) as info:
        _load(data, tmp_path)
    assert any(node == "benign_syndrome" for _, node, _ in info.value.problems), info.value.problems
    assert "node 'benign_syndrome'" in str(info.value)


def test_lists_of_states_need_bayesdx2(tmp_path, text):
    data = yaml.safe_load(text)
    data["format"] = "bayesdx/1"
    del data["nodes"]["benign_syndrome"]["cpt"]["fixed"]
    with pytest.raises(bayesdx.NetworkSpecError, match="list of states for 'gland' needs format: bayesdx/2") as info:
        _load(data, tmp_path)
    assert any(n == "other_cause" and "list of states" in m for _, n, m in info.value.problems)


def test_bayesdx1_odds_parents_stay_context_only(tmp_path, text):
    data = yaml.safe_load(text)
    data["format"] = "bayesdx/1"
    del data["nodes"]["benign_syndrome"]["cpt"]["fixed"]
    with pytest.raises(bayesdx.NetworkSpecError, match="in format bayesdx/1 an odds node's parents must be context"):
        _load(data, tmp_path)


def test_ancestor_enumeration_is_bounded(text, monkeypatch):
    monkeypatch.setattr(_odds, "MAX_ANCESTOR_STATES", 10)
    with pytest.raises(bayesdx.NetworkSpecError, match=r"enumerates the joint of its .* more than the limit of 10"):
        parse_spec(text)
