"""Sweeps, tornado and admissible deviations against networks rebuilt by the file's compiler
(edited file text, or Network.with_parameters)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesdx
from bayesdx import sensitivity
from bayesdx._compile import spec_arrays
from bayesdx.exceptions import InvalidParameterError
from bayesdx.spec import parse_spec

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def small():
    return bayesdx.load_network(DATA / "two_disease_orders.yaml")


def _check_against(s, oracle_dx, value):
    for (t, state), p in s.posteriors.loc[value].items():
        assert p == pytest.approx(float(oracle_dx.marginal(t)[state]), abs=1e-9)
    values = oracle_dx._order_values.value
    names = [o.name for o in oracle_dx.orders]
    for name, v in zip(names, values):
        assert s.order_values.loc[value, name] == pytest.approx(float(v), abs=1e-9)
    assert s.top.loc[value] == oracle_dx.next_test


def test_prior_sweep_equals_networks_whose_file_was_edited():
    net = bayesdx.load_network("fasciculation")
    text = bayesdx.bundled_networks()["fasciculation"].read_text()
    evidence = {"fasciculations_exam": "present"}
    values = [0.005, 0.10]
    s = sensitivity.sweep(net, "als", values, evidence=evidence)
    for v in values:
        edited = text.replace("probs: {absent: 0.97, present: 0.03}",
                              f"probs: {{absent: {1 - v!r}, present: {v!r}}}", 1)
        assert edited != text
        spec = parse_spec(edited)
        oracle = bayesdx.Network(spec_arrays(spec), name=spec.name, targets=net.targets, spec=spec)
        _check_against(s, bayesdx.diagnose(oracle, evidence=evidence), v)
    assert s.posteriors[("als", "present")].is_monotonic_increasing


@pytest.mark.parametrize("key,values", [
    (("fever", "cpt.causes.flu", None), [0.5, 0.7, 0.95]),
    (("flu", "cpt.multipliers.smoker.yes.present", None), [0.2, 1.0, 6.0]),
    (("smoker", "cpt.rows[1] {}", "yes"), [0.05, 0.6]),
], ids=["noisy-or cause", "odds ratio", "table row"])
def test_sweep_equals_rebuilt_networks(small, key, values):
    evidence = {"fever": "present"}
    s = sensitivity.sweep(small, key, values, evidence=evidence)
    for v in values:
        _check_against(s, bayesdx.diagnose(small.with_parameters({key: v}), evidence=evidence), v)
    frame = s.to_frame()
    assert set(frame["quantity"]) == {"posterior", "order_value"}
    assert frame[frame.quantity == "order_value"].groupby("value")["is_top"].sum().eq(1).all()
    assert "Sweep of" in repr(s) and "<table" in s._repr_html_()


def test_tornado_ends_equal_rebuilt_networks(small):
    quantity = ("posterior", "flu", "present")
    evidence = {"fever": "present"}
    t = sensitivity.tornado(small, evidence=evidence, quantity=quantity, top=4)
    assert len(t) == 4 and t["swing"].is_monotonic_decreasing
    only = sensitivity.tornado(small, evidence=evidence, quantity=quantity, nodes=["fever"])
    assert set(only["node"]) == {"fever"}
    assert len(only) == sum(1 for p in small.spec.params if p.node == "fever" and p.range_low is not None
                            and p.range_high > p.range_low)
    for param, row in t.head(3).iterrows():
        for end, col in (("range_low", "at_low"), ("range_high", "at_high")):
            dx = bayesdx.diagnose(small.with_parameters({param: row[end]}), evidence=evidence)
            assert row[col] == pytest.approx(float(dx.marginal("flu")["present"]), abs=1e-9)
    base = float(bayesdx.diagnose(small, evidence=evidence).marginal("flu")["present"])
    assert t["point"].iloc[0] == pytest.approx(base, abs=1e-12)


def test_tornado_of_the_top_margin(small):
    t = sensitivity.tornado(small, quantity="top_margin", top=50)
    dx = bayesdx.diagnose(small)
    values = np.sort(dx._order_values.value)
    assert t["point"].iloc[0] == pytest.approx(values[-1] - values[-2], abs=1e-12)
    param, row = next(iter(t.iterrows()))
    other = bayesdx.diagnose(small.with_parameters({param: row["range_high"]}))
    v = other._order_values.value
    k0 = int(dx._order_values.rank[0])
    assert row["at_high"] == pytest.approx(v[k0] - np.max(np.delete(v, k0)), abs=1e-9)


def test_admissible_deviation_brackets_the_change_of_top_order(small):
    a = sensitivity.admissible_deviations(small, top=6, tolerance=1e-7, objective="information")
    top = bayesdx.diagnose(small, objective="information").next_test
    checked = 0
    for param, row in a.iterrows():
        assert row["admissible_low"] <= row["value"] <= row["admissible_high"]
        for end, changes, sign in (("admissible_low", "changes_low", -1), ("admissible_high", "changes_high", 1)):
            if pd.isna(row[changes]) or row[changes] == "(an invalid network)":
                continue
            x = row[end]
            is_odds = small.spec.params[param].value_key == "value"
            step = x * 1e-4 if is_odds else 1e-4 * x * (1 - x)
            inside = bayesdx.diagnose(small.with_parameters({param: x - sign * step}), objective="information")
            outside = bayesdx.diagnose(small.with_parameters({param: x + sign * step}), objective="information")
            assert inside.next_test == top
            assert outside.next_test != top
            checked += 1
            assert outside.next_test == {o.label: o.name for o in small.orders}[row[changes]]
    assert checked >= 3


@pytest.mark.parametrize("call,match", [
    (lambda n: sensitivity.sweep(n, ("flu", "cpt.marginal", "present"), [1.2]), "must lie in"),
    (lambda n: sensitivity.sweep(n, ("fever", "cpt.causes.flu", None), [0.01]), "invalid network"),
    (lambda n: sensitivity.sweep(n, "nope", [0.1]), "nope"),
    (lambda n: sensitivity.sweep(n, "flu", []), "non-empty"),
    (lambda n: sensitivity.tornado(n, quantity="margin"), "'quantity' parameter"),
    (lambda n: sensitivity.tornado(n, quantity=("posterior", "fever", "present")), "not a target"),
    (lambda n: sensitivity.tornado(n, top=0), "'top' parameter"),
    (lambda n: sensitivity.tornado(n, nodes=["fevr"]), "fevr"),
], ids=["p>1", "below leak", "unknown node", "no values", "quantity", "not a target", "top", "nodes"])
def test_sensitivity_errors_name_the_culprit(small, call, match):
    with pytest.raises((InvalidParameterError, bayesdx.UnknownNodeError), match=match):
        call(small)


def test_range_ending_where_the_network_turns_invalid_is_robust(small):
    # the noisy-OR cause's range starts at its leak: below it the file's checks reject the table
    a = sensitivity.admissible_deviations(small, parameters=[26])
    row = a.loc[26]
    assert row["changes_low"] == "(an invalid network)"
    assert row["admissible_low"] == pytest.approx(row["range_low"], rel=1e-3)
    # the oracle: networks rebuilt at both ends of the stated range keep the recommendation
    top = bayesdx.diagnose(small).next_test
    for end in (row["range_low"], row["range_high"]):
        assert bayesdx.diagnose(small.with_parameters({26: end})).next_test == top
    assert row["robust_in_range"]
    with pytest.raises(InvalidParameterError, match="invalid network"):
        sensitivity.sweep(small, 26, [row["range_low"] * 0.99])


def test_admissible_deviations_missing_changes_are_nan(small):
    a = sensitivity.admissible_deviations(small, top=6, objective="information")
    for col in ("changes_low", "changes_high"):
        assert all(isinstance(x, str) or (isinstance(x, float) and np.isnan(x)) for x in a[col])
    assert a[["changes_low", "changes_high"]].isna().to_numpy().any()
    # robust exactly when both ends of the range lie within the admissible interval (to tolerance)
    for _, row in a.iterrows():
        inside = row["admissible_low"] <= row["range_low"] * (1 + 1e-3) \
            and row["range_high"] <= row["admissible_high"] * (1 + 1e-3)
        assert row["robust_in_range"] == inside


def test_sweep_records_the_stated_value(small):
    from bayesdx._changes import resolve_parameter

    key = ("fever", "cpt.causes.flu", None)
    s = sensitivity.sweep(small, key, [0.6, 0.9])
    assert s.point == float(small.parameters().loc[resolve_parameter(small, key), "value"])
    changed = small.with_parameters({key: 0.75})
    assert sensitivity.sweep(changed, key, [0.6]).point == 0.75
    prior = sensitivity.sweep("fasciculation", "als", [0.01])
    stated = float(bayesdx.diagnose("fasciculation").marginal("als")["present"])
    assert prior.point == pytest.approx(stated, abs=1e-9)


def test_a_network_file_path_is_loaded_like_its_name():
    path = bayesdx.io.bundled_networks()["fasciculation"]
    by_path = sensitivity.tornado(path, top=5, nodes=["als", "ck"])
    assert len(by_path) > 0
    pd.testing.assert_frame_equal(by_path, sensitivity.tornado("fasciculation", top=5, nodes=["als", "ck"]))
