"""The ranking-by-order API: objectives, their errors, stopping, explanations, immutability, and
orders and decision models for foreign networks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import bayesdx
from bayesdx import Action, DecisionModel, Objective, Order
from bayesdx.exceptions import InvalidObjectiveError, UnknownOrderError
from bayesdx.ranking import RANKING_COLUMNS


@pytest.fixture(scope="module")
def net(data_dir):
    return bayesdx.load_network(data_dir / "two_disease_orders.yaml")


# -- objectives --------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,pattern", [
    ({"kind": "informaton"}, "Unknown objective 'informaton'.*Did you mean 'information'"),
    ({"kind": "cost"}, "needs alpha"),
    ({"kind": "cost", "alpha": -1.0}, "alpha must be a finite number"),
    ({"kind": "focus"}, "either targets .* or weights"),
    ({"kind": "focus", "targets": ["a"], "weights": {"a": 1}}, "either targets"),
    ({"kind": "focus", "weights": {"a": 0}}, "At least one focus weight"),
    ({"kind": "focus", "weights": {"a": -1}}, "weight of 'a' must be"),
    ({"kind": "information", "alpha": 0.1}, "alpha belongs to the 'cost' objective"),
    ({"kind": "decision", "targets": ["a"]}, "belong to the 'focus' objective"),
    ({"kind": "decision", "same_decision_level": 1.5}, "same_decision_level"),
    ({"kind": "information", "min_gain_bits": -0.1}, "min_gain_bits"),
], ids=["typo", "cost-alpha", "negative-alpha", "focus-empty", "focus-both", "zero-weights",
        "negative-weight", "alpha-elsewhere", "targets-elsewhere", "level", "bits"])
def test_objective_errors_name_the_culprit(kwargs, pattern):
    with pytest.raises(InvalidObjectiveError, match=pattern):
        Objective(**kwargs)
    assert issubclass(InvalidObjectiveError, ValueError)


def test_objective_checked_against_the_network(net, asia):
    with pytest.raises(bayesdx.UnknownNodeError, match="Did you mean 'flu'"):
        bayesdx.diagnose(net, objective=Objective("focus", targets=["flue"]))
    with pytest.raises(InvalidObjectiveError, match="not a target"):
        bayesdx.diagnose(net, objective=Objective("focus", targets=["fever"]))
    with pytest.raises(InvalidObjectiveError, match="declares none"):
        bayesdx.diagnose(asia, objective="decision")
    with pytest.raises(InvalidObjectiveError, match="Objective\\('cost', alpha"):
        bayesdx.diagnose(net, objective="cost")
    with pytest.raises(InvalidObjectiveError, match="must be None"):
        bayesdx.diagnose(net, objective=3)
    with pytest.raises(ValueError, match="by must be 'order' or 'node'"):
        bayesdx.diagnose(net, by="orders")
    with pytest.raises(ValueError, match="no meaning with by='node'"):
        bayesdx.diagnose(net, by="node", orders=[])


def test_default_objective(net, asia):
    assert bayesdx.diagnose(net).objective.kind == "decision"
    assert bayesdx.diagnose(asia).objective.kind == "information"
    assert bayesdx.diagnose(net, objective="information").objective == Objective("information")


@pytest.mark.parametrize("objective", ["information", "decision", Objective("cost", alpha=0.01),
                                       Objective("focus", targets=["flu"])],
                         ids=["information", "decision", "cost", "focus"])
def test_one_frame_whatever_the_objective(net, objective):
    ranking = bayesdx.diagnose(net, objective=objective).ranking
    assert list(ranking.columns) == RANKING_COLUMNS
    assert ranking.index.name == "order"
    kind = objective if isinstance(objective, str) else objective.kind
    assert set(ranking["objective"]) == {kind}
    if kind == "decision":
        np.testing.assert_allclose(ranking["value"], ranking["net_value_utils"])
    if kind == "information":
        np.testing.assert_allclose(ranking["value"], ranking["info_gain_bits"])
    assert ranking.loc["blood_panel", "label"] == "Blood panel (CRP, reflex white cell count)"
    assert ranking.loc["blood_panel", "readouts"] == ("crp", "wbc")


def test_information_ranking_without_a_decision_model_has_empty_decision_columns(asia):
    ranking = bayesdx.diagnose(asia).ranking
    for column in ("decision_value_utils", "cost_utils", "net_value_utils", "same_decision_prob"):
        assert ranking[column].isna().all()
    assert ranking["cost_usd"].isna().all() and ranking["info_per_usd"].isna().all()


def test_info_per_usd(net):
    ranking = bayesdx.diagnose(net).ranking
    row = ranking.loc["chest_xray"]
    assert row["info_per_usd"] == pytest.approx(row["info_gain_bits"] / 60.0)


# -- immutability ------------------------------------------------------------------------------
def test_results_cannot_be_changed_through_their_views(net):
    dx = bayesdx.diagnose(net, evidence={"fever": "present"})
    ranking = dx.ranking
    ranking.loc[:, "value"] = 99.0
    assert (dx.ranking["value"] != 99.0).all()
    why = dx.explain(dx.next_test)
    with pytest.raises(ValueError):
        why.p_outcome[0] = 0.5
    shares = why.shares()
    shares.loc[:, "info_gain_bits"] = -1.0
    assert (why.shares()["info_gain_bits"] >= 0).all()
    with pytest.raises(ValueError):
        dx._order_tables.stacked[0, 0] = 1.0


# -- orders ------------------------------------------------------------------------------------
def test_by_node_ranks_every_readout(net):
    dx = bayesdx.diagnose(net, by="node", objective="information")
    assert set(dx.ranking.index) == set(net.tests)
    assert dx.ranking.index.name == "test"


def test_user_orders_replace_the_file_orders(net):
    orders = [Order("everything", ["crp", "wbc", "chest_xray", "sputum_culture"], cost_usd=100.0,
                    label="Everything at once")]
    dx = bayesdx.diagnose(net, orders=orders, objective="information")
    assert set(dx.ranking.index) == {"everything", "fever"}
    assert dx.ranking.loc["everything", "label"] == "Everything at once"
    loaded = bayesdx.load_network(net, orders=orders)
    assert {o.name for o in loaded.orders} == {"everything", "fever"}
    with pytest.raises(bayesdx.UnknownNodeError, match="Did you mean 'crp'"):
        bayesdx.diagnose(net, orders=[Order("x", ["crpp"])])


def test_foreign_network_with_orders_and_decisions(data_dir):
    model = DecisionModel([Action("treat_tb", "tub", ["yes"], benefit=1.0, harm=0.05),
                           Action("treat_lung", "lung", ["yes"], benefit=0.8, harm=0.2)],
                          usd_per_util=50_000)
    orders = [Order("chest_workup", ["xray", "dysp"], cost_usd=80.0, label="Chest work-up")]
    net = bayesdx.load_network(data_dir / "asia.bif", targets=["lung", "tub", "bronc"],
                               orders=orders, decisions=model)
    dx = bayesdx.diagnose(net, evidence={"asia": "yes", "smoke": "yes"})
    assert dx.objective.kind == "decision"
    assert "chest_workup" in dx.ranking.index and "xray" not in dx.ranking.index
    assert list(dx.thresholds().index) == ["treat_tb", "treat_lung"]
    with pytest.raises(ValueError, match="not a target"):
        bayesdx.load_network(data_dir / "asia.bif", targets=["lung"],
                             decisions=DecisionModel([Action("a", "tub", ["yes"], 1.0, 1.0)], 1.0))
    # per-call decision model on a network without one
    plain = bayesdx.load_network(data_dir / "asia.bif", targets=["lung", "tub", "bronc"])
    assert bayesdx.diagnose(plain, decisions=model).objective.kind == "decision"


def test_file_decisions_follow_the_targets(net):
    only_flu = net.with_targets(["flu"])
    assert [a.target for a in only_flu.decisions.actions] == ["flu"]
    assert net.with_targets(["smoker"]).decisions is None


# -- stopping ----------------------------------------------------------------------------------
def test_stop_when_nothing_is_worth_its_cost(net):
    dx = bayesdx.diagnose(net, evidence={"fever": "present"})
    assert dx.should_stop and dx.stopping.rule == "no_net_value"
    assert (dx.ranking["net_value_utils"] <= 0).all()
    assert "exceeds its cost" in dx.stop_reason


def test_stop_rules(net):
    everything = {n: net.states(n)[0] for n in net.tests}
    done = bayesdx.diagnose(net, evidence=everything)
    assert done.should_stop and done.stopping.rule == "exhausted" and done.next_test is None
    cheap = DecisionModel(net.decisions.actions, usd_per_util=1e9)  # money is nearly free
    dx = bayesdx.diagnose(net, decisions=cheap)
    best = dx.ranking.iloc[0]
    assert best["net_value_utils"] > 0
    if best["same_decision_prob"] < 0.95:
        assert not dx.should_stop and dx.stopping.rule == "continue"
    strict = dx.with_objective(Objective("decision", same_decision_level=0.01))
    assert strict.should_stop and strict.stopping.rule == "same_decision"
    info = dx.with_objective(Objective("information", min_gain_bits=10.0))
    assert info.should_stop and info.stopping.rule == "little_information"
    assert not dx.with_objective(Objective("information", min_gain_bits=0.0)).should_stop \
        or dx.ranking["info_gain_bits"].max() == 0
    costly = bayesdx.diagnose(net, evidence={"fever": "present"}, objective=Objective("cost", alpha=10.0))
    assert costly.should_stop and costly.stopping.rule == "no_net_value"


# -- explanations ------------------------------------------------------------------------------
def test_explain_unknown_and_observed_orders(net):
    dx = bayesdx.diagnose(net, evidence={"chest_xray": "clear"})
    with pytest.raises(UnknownOrderError, match="Did you mean 'blood_panel'"):
        dx.explain("blood_panle")
    with pytest.raises(UnknownOrderError, match="readouts are all observed"):
        dx.explain("chest_xray")
    assert issubclass(UnknownOrderError, KeyError)


def test_explanation_views(net):
    dx = bayesdx.diagnose(net, evidence={"smoker": "yes"})
    why = dx.explain("blood_panel")
    shares = why.shares()
    assert list(shares.index) == list(net.targets)
    if why.decision_value_utils > 0:
        assert shares["share"].sum() == pytest.approx(1.0)
    outcomes = why.outcomes()
    assert outcomes["p_outcome"].sum() == pytest.approx(1.0)
    assert set(outcomes.columns) == {"p_outcome", "flu", "bronchitis", "changes"}
    text = repr(why)
    assert "Blood panel" in text and "Outcomes" in text and "Share of the value" in text
    page = why._repr_html_()
    assert "<table" in page and "Share of the value" in page
    assert why.value == pytest.approx(dx.ranking.loc["blood_panel", "value"])


def test_explain_information_shares(asia):
    dx = bayesdx.diagnose(asia, evidence={"smoke": "yes"})
    why = dx.explain(dx.next_test)
    assert why.shares()["decision_value_utils"].isna().all()
    assert why.shares()["share"].sum() == pytest.approx(1.0)
    assert why.actions().empty and why.action_values().empty


def test_thresholds_need_a_model(asia, net):
    with pytest.raises(InvalidObjectiveError, match="no decision model"):
        bayesdx.diagnose(asia).thresholds()
    table = bayesdx.diagnose(net).thresholds()
    assert {"threshold", "probability", "taken_now"} <= set(table.columns)


def test_evidence_impact_columns(net):
    impact = bayesdx.diagnose(net, evidence={"fever": "present"}).evidence_impact()
    assert list(impact.columns) == ["finding", "observed", "target", "state", "posterior",
                                    "posterior_without", "likelihood_ratio", "log10_lr"]
    assert (impact["likelihood_ratio"] > 1).all()  # fever raises both diseases
    assert bayesdx.diagnose(net).evidence_impact().empty


# -- display -----------------------------------------------------------------------------------
def test_diagnosis_display_shows_the_stop_advice(net):
    dx = bayesdx.diagnose(net, evidence={"fever": "present"})
    assert "Stop: " in repr(dx)
    page = dx._repr_html_()
    assert "Stop testing" in page and "Action thresholds" in page
    session = bayesdx.Session(net, objective="information")
    assert session.objective.kind == "information"
    assert ("stop:" in repr(session)) == session.should_stop
    assert "testing</b>" in session._repr_html_()
    session.add("fever", "present")
    assert session.current.objective.kind == "information"
    assert isinstance(session.stop_reason, str) and not math.isnan(session.ranking["value"].iloc[0])
    assert isinstance(dx.ranking, pd.DataFrame)


def test_ranking_frame_is_the_public_constructors_and_survives_a_changed_pandas(monkeypatch):
    """The frame built from the column arrays (pandas 3: DataFrame._from_arrays, checked on its
    first use) equals the dict constructor's; a pandas whose private constructor fails or
    differs gets the public one, silently and for good."""
    from bayesdx import ranking

    net = bayesdx.load_network("fasciculation")
    evidence = {"age_band": "age_ge_70", "dermatomyositis_rash": "absent"}
    monkeypatch.setattr(ranking, "_FAST_FRAME", [False])
    public = bayesdx.diagnose(net, evidence=evidence).ranking
    monkeypatch.setattr(ranking, "_FAST_FRAME", [None])
    fast = bayesdx.diagnose(net, evidence=evidence).ranking
    pd.testing.assert_frame_equal(fast, public)
    assert ranking._FAST_FRAME[0] in (True, False)  # checked once
    monkeypatch.setattr(ranking, "_FAST_FRAME", [None])
    monkeypatch.setattr(pd.DataFrame, "_from_arrays", classmethod(lambda cls, *a, **k: 1 / 0), raising=False)
    pd.testing.assert_frame_equal(bayesdx.diagnose(net, evidence=evidence).ranking, public)
    assert ranking._FAST_FRAME == [False]
