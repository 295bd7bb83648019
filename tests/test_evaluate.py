"""bayesdx.evaluate: metrics against hand-computed values and scikit-learn, the sequential mode
against a hand-traced case (brute-force oracle), the self-check, errors, figures and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from oracle import BruteForce
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

import bayesdx
from bayesdx import _metrics
from bayesdx.evaluate import Evaluation
from bayesdx.exceptions import (
    InvalidEvidenceError,
    InvalidObjectiveError,
    InvalidParameterError,
    UnknownNodeError,
    UnknownOrderError,
    UnknownStateError,
)

# -- the metrics, by hand ------------------------------------------------------------------------


def test_metrics_by_hand():
    y = np.array([1, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.4, 0.4])
    assert _metrics.brier(y, p) == pytest.approx((0.01 + 0.04 + 0.36 + 0.16) / 4)
    assert _metrics.log_loss(y, p) == pytest.approx(
        -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.6)) / 4)
    # positives 0.9, 0.4; negatives 0.2, 0.4: pairs (0.9>0.2, 0.9>0.4, 0.4>0.2, 0.4=0.4 -> 1/2)
    assert _metrics.auroc(y, p) == pytest.approx(3.5 / 4)
    # two bins: [0, .5) holds 0.2, 0.4, 0.4 (mean .333, observed 1/3); [.5, 1] holds 0.9 (obs 1)
    assert _metrics.expected_calibration_error(y, p, n_bins=2) == pytest.approx(
        3 / 4 * abs(1 / 3 - 1 / 3) + 1 / 4 * abs(0.9 - 1.0))
    assert math.isnan(_metrics.auroc(np.array([1, 1]), np.array([0.2, 0.3])))


def test_top_k_by_hand():
    p = np.array([[0.9, 0.5, 0.1], [0.2, 0.3, 0.6], [0.4, 0.4, 0.1]])
    y = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    any_, all_ = _metrics.top_k_hits(p, y)
    # case 0: ranks 0,1,2 -> disease 1 at rank 2; case 1: ranks 2,1,0 -> 2 at 1, 0 at 3;
    # case 2: tie of 0 and 1 keeps column order -> disease 1 at rank 2
    assert any_.astype(int).tolist() == [[0, 1, 1], [1, 1, 1], [0, 1, 1]]
    assert all_.astype(int).tolist() == [[0, 1, 1], [0, 0, 1], [0, 1, 1]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    p = np.round(rng.random(400), 2)  # rounding makes ties, which AUROC must split in halves
    y = (rng.random(400) < p).astype(int)
    assert _metrics.brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    q = np.clip(p, 0.01, 0.99)
    assert _metrics.log_loss(y, q) == pytest.approx(log_loss(y, q, labels=[0, 1]), rel=1e-12)
    assert _metrics.auroc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)


# -- evaluate on a tiny cohort, against the brute-force oracle ----------------------------------

TINY_CASES = pd.DataFrame({"smoker": ["yes", "no", None, "no"],
                           "fever": ["present", "absent", "present", None],
                           "crp": ["high", "normal", None, "raised"]}, index=["a", "b", "c", "d"])
TINY_TRUTH = pd.DataFrame({"flu": ["present", "absent", "absent", "absent"],
                           "bronchitis": ["present", "absent", "present", "absent"]},
                          index=["d", "c", "b", "a"])  # any row order: aligned on the index


def _oracle_probs(network, cases):
    oracle = BruteForce(network.arrays)
    out = []
    for _, row in cases.iterrows():
        evidence = {k: network.states(k).index(v) for k, v in row.items() if isinstance(v, str)}
        out.append([oracle.marginal(t, evidence)[1] for t in ("flu", "bronchitis")])
    return np.array(out)


def test_tiny_cohort_against_oracle_and_sklearn(two_disease):
    ev = bayesdx.evaluate(two_disease, TINY_CASES, TINY_TRUTH)
    p = _oracle_probs(two_disease, TINY_CASES)
    truth = TINY_TRUTH.loc[TINY_CASES.index]
    y = (truth == "present").to_numpy().astype(int)
    np.testing.assert_allclose(ev.probabilities().to_numpy(), p, atol=1e-12)
    table = ev.per_disease()
    for j, t in enumerate(["flu", "bronchitis"]):
        assert table.loc[t, "brier"] == pytest.approx(brier_score_loss(y[:, j], p[:, j]))
        assert table.loc[t, "log_loss"] == pytest.approx(log_loss(y[:, j], p[:, j], labels=[0, 1]))
        assert table.loc[t, "auroc"] == pytest.approx(roc_auc_score(y[:, j], p[:, j]))
        assert table.loc[t, "present"] == y[:, j].sum()
    # answers by hand: the most probable disease, or none below 0.5
    top = p.argmax(axis=1)
    none = p.max(axis=1) < 0.5
    correct = [(not y[i].any()) if none[i] else bool(y[i, top[i]]) for i in range(4)]
    s = ev.summary()
    assert s["accuracy"] == pytest.approx(np.mean(correct))
    assert s["cases_without"] == 2 and s["cases_with_disease"] == 2
    assert s["none_correct"] == pytest.approx(float(none[~y.any(axis=1)].mean()))
    # top-1 over the two cases with a disease
    hits = [bool(y[i, top[i]]) for i in range(4) if y[i].any()]
    assert ev.top_k().loc[1, "any_in_top_k"] == pytest.approx(np.mean(hits))
    assert ev.top_k().loc[2, "any_in_top_k"] == 1.0


def test_multi_state_target_is_one_vs_reference(fasciculation):
    cases, truth = bayesdx.simulate(fasciculation, 300, seed=5, missing=0.5)
    ev = bayesdx.evaluate(fasciculation, cases, truth[["thyroid_disease"]])
    post = bayesdx.posteriors(fasciculation, cases)
    expected = 1 - post[("thyroid_disease", "absent")].to_numpy()
    np.testing.assert_allclose(ev.probabilities()["thyroid_disease"], expected, atol=1e-12)
    y = (truth["thyroid_disease"] != "absent").astype(int).to_numpy()
    assert ev.per_disease().loc["thyroid_disease", "brier"] == pytest.approx(
        brier_score_loss(y, expected))
    assert ev.per_disease().loc["thyroid_disease", "auroc"] == pytest.approx(
        roc_auc_score(y, expected))


# -- the self-check --------------------------------------------------------------------------------


def test_self_check_is_calibrated_and_the_check_has_power(two_disease):
    ev = bayesdx.evaluate_self(two_disease, n=4000, seed=11, missing=0.3)
    table = ev.per_disease()
    assert (table["calibration_p"] > 1e-4).all(), table
    assert (table["ece"] < 3 * table["ece_expected"]).all(), table
    # a cohort drawn differently (half the flu-free cases dropped) is miscalibrated for flu
    cases, truth = bayesdx.simulate(two_disease, 4000, seed=12, missing=0.3)
    rng = np.random.default_rng(0)
    keep = (truth["flu"] == "present").to_numpy() | (rng.random(len(truth)) < 0.5)
    shifted = bayesdx.evaluate(two_disease, cases[keep], truth[keep])
    assert shifted.per_disease().loc["flu", "calibration_p"] < 1e-6


@pytest.mark.parametrize("name", ["asia", "hepar2", "fasciculation"])
def test_self_check_on_every_kind_of_network(name, request):
    network = request.getfixturevalue(name)
    table = bayesdx.evaluate_self(network, n=3000, seed=21, missing=0.3).per_disease()
    assert (table["calibration_p"] > 1e-4).all(), table
    assert (table["ece"] < 3 * table["ece_expected"] + 1e-3).all(), table


def test_calibration_test_flags_a_certain_wrong_prediction():
    y = np.array([1, 0, 0, 1])
    assert _metrics.calibration_test(y, np.array([0.0, 0.2, 0.3, 0.6]))[2] == 0.0
    assert _metrics.calibration_test(y, np.array([0.5, 0.5, 0.5, 0.5]))[2] > 0.5


# -- sequential mode -------------------------------------------------------------------------------


def _hand_trace(network, case: dict, min_gain: float = 0.01):
    """The information policy by node, traced with the brute-force oracle."""
    oracle = BruteForce(network.arrays)
    evidence = {k: network.states(k).index(v) for k, v in case.items() if k not in network.tests}
    steps = []
    left = [t for t in network.tests if t in case]
    while left:
        gains = {t: oracle.info_gain(list(network.targets), t, evidence) for t in left}
        best = max(left, key=lambda t: (round(gains[t], 12), -network.cost(t), [-ord(c) for c in t]))
        if gains[best] < min_gain:
            break
        evidence[best] = network.states(best).index(case[best])
        left.remove(best)
        steps.append((best, [oracle.marginal(t, evidence)[1] for t in network.targets]))
    return steps


@pytest.mark.parametrize("case", [
    {"smoker": "yes", "fever": "present", "crp": "raised"},
    {"smoker": "no", "fever": "absent", "crp": "normal", "chest_xray": "infiltrate"},
], ids=["no-xray-recorded", "all-recorded"])
def test_sequential_information_matches_hand_trace(two_disease, case):
    cases = pd.DataFrame([case])
    truth = pd.DataFrame([{"flu": "present", "bronchitis": "absent"}])
    ev = bayesdx.evaluate(two_disease, cases, truth, sequential="information", by="node")
    trace = ev.trace
    expected = _hand_trace(two_disease, case)
    assert trace["order"].iloc[1:].tolist() == [t for t, _ in expected]
    assert "chest_xray" in trace["order"].tolist() or "chest_xray" not in case
    costs = np.cumsum([two_disease.cost(t) for t, _ in expected])
    np.testing.assert_allclose(trace["cum_cost_usd"].iloc[1:], costs)
    for (_, probs), (_, row) in zip(expected, trace.iloc[1:].iterrows()):
        assert row["top_probability"] == pytest.approx(max(probs), abs=1e-12)


def test_sequential_fixed_list_threshold_and_max_tests(two_disease):
    cases, truth = bayesdx.simulate(two_disease, 60, seed=4, missing=0.2)
    ev = bayesdx.evaluate(two_disease, cases, truth, sequential={"xray first": ["chest_xray", "crp",
                                                                               "fever"]},
                          stop="threshold", threshold=0.8)
    trace = ev.trace
    for case, rows in trace.groupby("case"):
        done = rows["order"].iloc[1:].tolist()
        recorded = [t for t in ["chest_xray", "crp", "fever"] if pd.notna(cases.loc[case, t])]
        assert done == recorded[:len(done)]  # the list's order, unrecorded tests skipped
        # stops at the first decided step, else runs to the end of what is recorded
        decided = rows["decided"].tolist()
        if True in decided:
            assert decided.index(True) == len(rows) - 1
        else:
            assert done == recorded
    capped = bayesdx.evaluate(two_disease, cases, truth, sequential=["chest_xray", "crp", "fever"],
                              max_tests=1)
    assert capped.trace["step"].max() == 1


def test_stop_rule_matches_diagnose_should_stop(two_disease):
    # with every test recorded, the per-case rule is Diagnosis.should_stop on the evidence so far
    cases, truth = bayesdx.simulate(two_disease, 30, seed=6)
    ev = bayesdx.evaluate(two_disease, cases, truth, sequential="information")
    for case, rows in ev.trace.groupby("case"):
        evidence = {"smoker": cases.loc[case, "smoker"]}
        for order in rows["order"].iloc[1:]:
            assert not bayesdx.diagnose(two_disease, evidence=evidence).should_stop
            evidence[order] = cases.loc[case, order]
        final = bayesdx.diagnose(two_disease, evidence=evidence)
        assert final.should_stop


def test_cost_curve_by_hand(two_disease):
    scores = pd.DataFrame({"probability:flu": [0.2, 0.2], "present:flu": [1, 0]})
    rows = [  # case 0: wrong, right at $10, wrong at $70; case 1: right from the start, $30 test
        ("p", 0, 0, None, 0.0, 0.0, "flu", 0.2, "none", False, False),
        ("p", 0, 1, "crp", 10.0, 10.0, "flu", 0.6, "flu", True, False),
        ("p", 0, 2, "chest_xray", 60.0, 70.0, "flu", 0.4, "none", False, False),
        ("p", 1, 0, None, 0.0, 0.0, "flu", 0.2, "none", True, False),
        ("p", 1, 1, "x", 30.0, 30.0, "flu", 0.05, "none", True, True),
    ]
    from bayesdx._sequential import TRACE_COLUMNS

    ev = Evaluation(two_disease, ["flu"], scores, none_threshold=0.5, n_bins=10, threshold=0.9,
                    trace=pd.DataFrame(rows, columns=TRACE_COLUMNS))
    curve = ev.cost_curve()
    assert curve["cost_usd"].tolist() == [0.0, 10.0, 30.0, 70.0]
    assert curve["accuracy"].tolist() == [0.5, 1.0, 1.0, 0.5]
    seq = ev.sequential().loc["p"]
    assert seq["mean_tests"] == 1.5 and seq["mean_cost_usd"] == 50.0
    assert seq["accuracy_at_stop"] == 0.5 and seq["reached_threshold"] == 0.5
    assert seq["mean_cost_to_threshold_usd"] == 30.0


def test_sequential_on_the_bundled_network_with_orders(fasciculation):
    cases, truth = bayesdx.simulate(fasciculation, 12, seed=2, missing=0.2)
    seen = []
    ev = bayesdx.evaluate(fasciculation, cases, truth, sequential=["decision", "information"],
                          max_tests=3, progress=lambda *a: seen.append(a))
    names = {o.name for o in fasciculation.orders}
    assert set(ev.trace["order"].dropna()) <= names
    assert seen and seen[-1][1:] == (12, 12)
    table = ev.sequential()
    assert list(table.index) == ["decision", "information"]
    assert (table["mean_tests"] <= 3).all()
    curve = ev.cost_curve()
    for _, part in curve.groupby("policy"):
        assert part["cost_usd"].is_monotonic_increasing


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cases, truth, error, match", [
    (TINY_CASES.rename(columns={"fever": "fevr"}), TINY_TRUTH, UnknownNodeError, "fevr"),
    (TINY_CASES.assign(crp=["high", "normal", None, "huge"]), TINY_TRUTH, UnknownStateError, "huge"),
    (TINY_CASES, TINY_TRUTH.assign(flu=["present", "absent", "maybe", "absent"]),
     UnknownStateError, r"maybe.*1 row\(s\) of truth, e.g. index \['b'\]"),
    (TINY_CASES, TINY_TRUTH.rename(columns={"flu": "fl"}), UnknownNodeError, "'fl'"),
    (TINY_CASES, TINY_TRUTH.rename(index={"a": "z"}), InvalidEvidenceError, "not aligned.*'z'"),
    (TINY_CASES, TINY_TRUTH.iloc[:3], InvalidEvidenceError, "3 truth row"),
    (TINY_CASES.iloc[:0], TINY_TRUTH.iloc[:0], InvalidEvidenceError, "empty"),
    (TINY_CASES.assign(flu="present"), TINY_TRUTH, InvalidEvidenceError, "target 'flu'"),
    (TINY_CASES, TINY_TRUTH.assign(flu=[None, "absent", "absent", "absent"]),
     InvalidEvidenceError, "'flu' is missing for 1 case"),
    (TINY_CASES, TINY_TRUTH[[]], InvalidEvidenceError, "no target column"),
    (TINY_CASES, TINY_TRUTH.assign(crp="high"), InvalidEvidenceError, "'crp', a node that is not"),
], ids=["unknown-column", "bad-state", "bad-truth-state", "unknown-target", "misaligned",
        "short-truth", "empty", "target-in-cases", "truth-missing", "no-target", "finding-in-truth"])
def test_bad_input_names_the_culprit(two_disease, cases, truth, error, match):
    with pytest.raises(error, match=match):
        bayesdx.evaluate(two_disease, cases, truth)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"none_threshold": 0}, InvalidParameterError, "none_threshold"),
    ({"threshold": 1.5}, InvalidParameterError, "'threshold'"),
    ({"n_bins": 0}, InvalidParameterError, "n_bins"),
    ({"by": "test"}, InvalidParameterError, "'by'"),
    ({"stop": "never"}, InvalidParameterError, "'stop'"),
    ({"sequential": ["fever", "ecg"], "by": "node"}, UnknownOrderError, "ecg"),
    ({"sequential": "decision"}, InvalidObjectiveError, "decision"),
    ({"sequential": 3}, InvalidParameterError, "'sequential'"),
], ids=["none-threshold", "threshold", "bins", "by", "stop", "unknown-test", "no-decisions",
        "bad-policy"])
def test_bad_options(two_disease, kwargs, error, match):
    with pytest.raises(error, match=match):
        bayesdx.evaluate(two_disease, TINY_CASES, TINY_TRUTH, **kwargs)


# -- display, figures and the command line ---------------------------------------------------------


def test_display_and_figures(fasciculation):
    import matplotlib.pyplot as plt

    cases, truth = bayesdx.simulate(fasciculation, 40, seed=8, missing=0.3)
    ev = bayesdx.evaluate(fasciculation, cases, truth, sequential="information", max_tests=2)
    text = repr(ev)
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "ALS / lower motor" in text and "als " not in text  # labels, not names
    assert "<table" in ev._repr_html_()
    frame = ev.to_frame()
    assert set(frame["section"]) == {"summary", "top_k", "disease", "sequential"}
    assert frame.loc[(frame["item"] == "als") & (frame["metric"] == "brier"), "value"].iloc[0] \
        == pytest.approx(ev.per_disease().loc["als", "brier"])
    _, ax = plt.subplots()
    assert ev.plot_reliability(["als"], ax=ax) is ax
    assert len(ax.lines) == 2
    assert ev.plot_top_k().figure is not None
    ax = ev.plot_cost_curve()
    assert ax.get_xlabel().startswith("cumulative cost")
    with pytest.raises(UnknownNodeError, match="alz"):
        ev.plot_reliability(["alz"])
    static = bayesdx.evaluate(fasciculation, cases, truth)
    assert static.sequential().empty and static.cost_curve().empty
    with pytest.raises(InvalidParameterError, match="sequential="):
        static.plot_cost_curve()


def test_cli_evaluate(tmp_path, capsys, fasciculation):
    from bayesdx.cli import main

    cases, truth = bayesdx.simulate(fasciculation, 25, seed=9, missing=0.3)
    cases.to_csv(tmp_path / "cases.csv", index_label="id")
    truth.to_csv(tmp_path / "truth.csv", index_label="id")
    args = [str(tmp_path / "cases.csv"), "--truth", str(tmp_path / "truth.csv"), "--id", "id"]
    assert main(["evaluate", *args]) == 0
    out = capsys.readouterr().out
    assert "Evaluation of fasciculation on 25 cases" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert main(["evaluate", *args, "--json", "--sequential", "information", "--max-tests", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cases"] == 25 and data["sequential"][0]["policy"] == "information"
    ev = bayesdx.evaluate(fasciculation, cases, truth)
    assert data["summary"]["accuracy"] == pytest.approx(ev.summary()["accuracy"])
    # a truth file with an unknown state: one line naming it, status 2
    truth.assign(als="maybe").to_csv(tmp_path / "bad.csv", index_label="id")
    assert main(["evaluate", args[0], "--truth", str(tmp_path / "bad.csv"), "--id", "id"]) == 2
    assert "maybe" in capsys.readouterr().err


def test_partitions_scored_apart_give_the_same_evaluation(two_disease):
    from bayesdx.evaluate import score_cases

    cases, truth = bayesdx.simulate(two_disease, 90, seed=13, missing=0.3)
    bounds = [0, 0, 25, 60, 90]  # one empty partition
    parts = [score_cases(two_disease, cases[a:b], truth[a:b]) for a, b in zip(bounds, bounds[1:])]
    together = Evaluation.from_scores(two_disease, pd.concat(parts))
    whole = bayesdx.evaluate(two_disease, cases, truth)
    # a batch's posteriors may differ from the whole cohort's in the last bit (the engine's chunks)
    pd.testing.assert_frame_equal(together.per_disease(), whole.per_disease(), rtol=1e-12)
    pd.testing.assert_frame_equal(together.top_k(), whole.top_k(), rtol=1e-12)
    pd.testing.assert_series_equal(together.summary(), whole.summary(), rtol=1e-12)
