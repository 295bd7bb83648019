"""bayesdx.fit: MAP/EM updates of a network's numbers from cases, checked against brute-force
enumeration of the joint, the file compiler, hand-computed pseudo-counts and simulated truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesdx
from bayesdx import _em
from bayesdx.exceptions import (ImpossibleEvidenceError, InvalidParameterError, UnknownNodeError,
                                UnknownStateError)
from bayesdx.inference import EnumerationEngine
from bayesdx.priors import parameter_priors


def _codes(network, frame):
    columns = list(frame.columns)
    codes = np.full((len(frame), len(columns)), -1, dtype=np.int64)
    for j, c in enumerate(columns):
        states = network.states(c)
        codes[:, j] = [states.index(v) if isinstance(v, str) else -1 for v in frame[c].astype(object)]
    return columns, codes


def _brute(network, columns, codes):
    """ln P(case) and P(family | case) for every node, by enumerating the full joint."""
    arrays = network.arrays
    engine = EnumerationEngine(arrays)
    ll, fam = [], {n: np.zeros(arrays.cpts[n].shape) for n in arrays.nodes}
    for row in codes:
        sub = engine._restricted({c: int(s) for c, s in zip(columns, row) if s >= 0})
        total = sub.sum()
        ll.append(np.log(total))
        for n in arrays.nodes:
            fam[n] += engine._sum_to(sub, [*arrays.parents[n], n]) / total
    return np.array(ll), fam


def _with_missing(frame, rate, seed):
    rng = np.random.default_rng(seed)
    out = frame.astype(object).copy()
    out = out.mask(rng.random(out.shape) < rate)
    return out


# -- the building blocks against independent oracles ------------------------------------------


@pytest.mark.parametrize("name", ["two_disease.yaml", "odds_dependence.yaml", "fasciculation"],
                         ids=["two_disease", "odds_dependence", "fasciculation"])
def test_families_rebuild_the_compiled_tables(name, data_dir):
    net = bayesdx.load_network(name if name == "fasciculation" else data_dir / name)
    for node, fam in _em.build_families(net).items():
        np.testing.assert_allclose(fam._build(), net.arrays.cpts[node], rtol=0, atol=1e-12,
                                   err_msg=node)


@pytest.mark.parametrize("name", ["two_disease.yaml", "odds_dependence.yaml"])
def test_log_likelihood_and_expected_counts_match_enumeration(name, data_dir):
    net = bayesdx.load_network(data_dir / name)
    cases, truth = bayesdx.simulate(net, 60, seed=3)
    data = _with_missing(pd.concat([cases, truth.iloc[:, :1]], axis=1), 0.4, seed=4)
    columns, codes = _codes(net, data)
    codes = codes[(codes >= 0).any(axis=1)]
    ll_ref, fam_ref = _brute(net, columns, codes)
    np.testing.assert_allclose(_em.log_likelihood(net.engine, columns, codes), ll_ref, rtol=1e-10)
    families = _em.build_families(net)
    cards = {n: net.arrays.card(n) for n in net.nodes}
    order = {n: i for i, n in enumerate(net.nodes)}
    counts = _em.expected_counts(net.engine, columns, codes, families, cards, order)
    for node in net.nodes:
        np.testing.assert_allclose(counts[node], fam_ref[node], rtol=1e-9, atol=1e-9, err_msg=node)


def test_noisy_gradient_matches_finite_differences(fasciculation):
    from scipy.optimize import approx_fprime

    rng = np.random.default_rng(0)
    for node in ("cramps", "emg_denervation", "ncs"):
        fam = _em.build_families(fasciculation)[node]
        for b in fam.blocks:
            b.ess = min(b.ess, 50.0)
        counts = rng.poisson(2, size=fam.shape).astype(float)
        rows = fam.free & (counts.sum(-1) > 0)
        data = (np.array([b.active[rows] for b in fam.causes], dtype=float).T, counts[rows])
        x = rng.normal(0, 1, size=fam._pack().shape)
        value, grad = fam._loss_grad(x, data, 1.0)
        assert value == pytest.approx(-fam._objective(*fam._unpack(x), data), rel=1e-12)
        numeric = approx_fprime(x, lambda y: fam._loss_grad(y, data, 1.0)[0], 1e-6)
        np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-3 * np.abs(numeric).max())


# -- fit: the prior, exact pseudo-counts, recovery --------------------------------------------


def test_no_information_returns_the_prior_exactly(two_disease):
    before = two_disease.parameters()
    empty = pd.DataFrame({"fever": [None, None], "crp": [np.nan, None]})
    result = bayesdx.fit(two_disease, empty)
    assert result.n_cases == 0 and result.to_frame().empty and result.network is not two_disease
    for node in two_disease.nodes:
        assert result.network.arrays.cpts[node].tobytes() == two_disease.arrays.cpts[node].tobytes()
    pd.testing.assert_frame_equal(result.network.parameters(), before)


@pytest.mark.parametrize("method", ["em", "map"])
def test_zero_cases_return_the_prior_exactly(two_disease, method):
    no_rows = pd.DataFrame({"fever": pd.Series([], dtype=object), "crp": pd.Series([], dtype=object)})
    result = bayesdx.fit(two_disease, no_rows, method=method)
    assert result.n_cases == 0 and result.converged and result.to_frame().empty
    for node in two_disease.nodes:
        assert result.network.arrays.cpts[node].tobytes() == two_disease.arrays.cpts[node].tobytes()
    pd.testing.assert_frame_equal(result.network.parameters(), two_disease.parameters())
    with pytest.raises(UnknownNodeError, match="fevr"):
        bayesdx.fit(two_disease, pd.DataFrame({"fevr": pd.Series([], dtype=object)}))


def test_map_is_counts_plus_pseudo_counts(two_disease):
    cases, truth = bayesdx.simulate(two_disease, 400, seed=5)
    result = bayesdx.fit(two_disease, cases, truth=truth, method="map")
    priors = parameter_priors(two_disease)
    alpha = priors[priors.node == "chest_xray"].set_index(["where", "state"])["alpha"]
    infiltrate = cases["chest_xray"] == "infiltrate"
    for where, rows in (("cpt.rows[1] {bronchitis: present}", truth["bronchitis"] == "present"),
                        ("cpt.rows[2] {}", truth["bronchitis"] == "absent")):
        n, k = int(rows.sum()), int((rows & infiltrate).sum())
        a_inf, a_clear = alpha[(where, "infiltrate")], alpha[(where, "clear")]
        expected = (k + a_inf) / (n + a_inf + a_clear)
        fitted = result.to_frame().set_index(["node", "where", "state"])["fitted"]
        assert fitted[("chest_xray", where, "infiltrate")] == pytest.approx(expected, rel=1e-12)
    assert result.converged and result.iterations == 1


def _truth_network(two_disease):
    return two_disease.with_parameters({
        ("fever", "cpt.leak", None): 0.09, ("fever", "cpt.causes.flu", None): 0.65,
        ("fever", "cpt.causes.bronchitis", None): 0.45,
        ("chest_xray", "cpt.rows[1] {bronchitis: present}", "infiltrate"): 0.55,
        ("crp", "cpt.causes.flu", "high"): 0.3, ("smoker", "cpt.rows[1] {}", "yes"): 0.35,
    })


def _error(result, truth_net, ratios=False):
    """Largest error of the fitted probabilities (absolute) or odds ratios (relative)."""
    fitted = result.network.parameters().set_index(["node", "where", "state"])["value"]
    true = truth_net.parameters().set_index(["node", "where", "state"])["value"]
    keys = [k for k in fitted.index if ("multipliers" in k[1]) == ratios]
    gap = np.abs(fitted[keys].to_numpy() - true[keys].to_numpy())
    return float(np.max(gap / true[keys].to_numpy() if ratios else gap))


def test_recovers_simulated_numbers_with_error_shrinking(two_disease):
    truth_net = _truth_network(two_disease)
    errors, ratios = {}, {}
    for n in (500, 20_000):
        cases, truth = bayesdx.simulate(truth_net, n, seed=11)
        result = bayesdx.fit(two_disease, cases, truth=truth)
        errors[n], ratios[n] = _error(result, truth_net), _error(result, truth_net, ratios=True)
    assert errors[20_000] < errors[500] / 2
    assert errors[20_000] < 0.03
    assert ratios[20_000] < 0.1
    assert _error(bayesdx.fit(two_disease, pd.DataFrame({"fever": ["absent"]})), truth_net) > 0.1


def test_em_without_truth_and_with_missing_cells(two_disease):
    """Diseases latent and 20% of the cells missing: EM climbs, explains the data at least as
    well as the network that generated them, and moves the numbers towards it on average."""
    truth_net = _truth_network(two_disease)
    cases, _ = bayesdx.simulate(truth_net, 5_000, seed=12, missing=0.2)
    result = bayesdx.fit(two_disease, cases, max_iter=100)
    assert result.converged and np.all(np.diff(result.log_posterior) >= -1e-9)
    columns, codes = _codes(two_disease, cases)
    codes = codes[(codes >= 0).any(axis=1)]
    ll = {name: _em.log_likelihood(net.engine, columns, codes).sum()
          for name, net in (("prior", two_disease), ("fit", result.network), ("truth", truth_net))}
    assert ll["fit"] == pytest.approx(result.log_likelihood, rel=1e-12)
    assert ll["fit"] > ll["prior"] + 10 and ll["fit"] > ll["truth"] - 1.0
    true = truth_net.parameters()["value"].to_numpy()
    assert (np.abs(result.network.parameters()["value"].to_numpy() - true).mean()
            < np.abs(two_disease.parameters()["value"].to_numpy() - true).mean())


def test_em_with_dependent_diseases(data_dir):
    """odds nodes with target parents and fixed rows, all diseases hidden: EM climbs, and the
    tuned file (its marginals restated) compiles back to the tables EM fitted."""
    net = bayesdx.load_network(data_dir / "odds_dependence.yaml")
    cases, _ = bayesdx.simulate(net.with_parameters({("age", "cpt.rows[1] {}", "old"): 0.3}), 300,
                                seed=6, missing=0.3)
    result = bayesdx.fit(net, cases, max_iter=10)
    assert np.all(np.diff(result.log_posterior) >= -1e-9 * np.abs(result.log_posterior[:-1]))
    columns, codes = _codes(net, cases)
    codes = codes[(codes >= 0).any(axis=1)]
    ll = _em.log_likelihood(result.network.engine, columns, codes).sum()
    assert ll == pytest.approx(result.log_likelihood, rel=1e-10)
    moved = result.to_frame()
    assert {"severe_disease", "gland", "benign_syndrome"} <= set(moved["node"])
    assert moved["where"].str.startswith("cpt.multipliers").any()


# -- what the fitted network says ----------------------------------------------------------------


def test_noisy_nodes_stay_noisy_and_match_the_file_compiler(two_disease):
    cases, truth = bayesdx.simulate(_truth_network(two_disease), 2_000, seed=2)
    result = bayesdx.fit(two_disease, cases, truth=truth)
    fitted, prior = result.network.parameters(), two_disease.parameters()
    key = ["node", "cpt_type", "where", "state", "ref", "grade", "range_low", "range_high"]
    pd.testing.assert_frame_equal(fitted[key], prior[key])
    values = fitted.set_index(["node", "where", "state"])["value"]
    # noisy-OR by its formula: P(absent | u) = (1 - leak) prod over present causes (1 - p) / (1 - leak)
    leak = values[("fever", "cpt.leak", None)]
    q = {c: (1 - values[("fever", f"cpt.causes.{c}", None)]) / (1 - leak) for c in ("flu", "bronchitis")}
    table = result.network.arrays.cpts["fever"]
    for flu in (0, 1):
        for bronchitis in (0, 1):
            absent = (1 - leak) * (q["flu"] if flu else 1) * (q["bronchitis"] if bronchitis else 1)
            assert table[flu, bronchitis, 0] == pytest.approx(absent, rel=1e-12)
    # every fitted table is what the file compiler makes of the fitted numbers
    changes = {(r.node, r.where, None if pd.isna(r.state) else r.state): r.fitted
               for r in result.to_frame().itertuples()}
    recompiled = two_disease.with_parameters(changes)
    for node in two_disease.nodes:
        if node not in result.not_fitted:
            np.testing.assert_allclose(result.network.arrays.cpts[node], recompiled.arrays.cpts[node],
                                       rtol=0, atol=1e-9, err_msg=node)


def test_provenance_and_the_input_untouched(two_disease, tmp_path):
    before = two_disease.parameters()
    cases, truth = bayesdx.simulate(two_disease, 300, seed=8)
    result = bayesdx.fit(two_disease, cases, truth=truth)
    pd.testing.assert_frame_equal(two_disease.parameters(), before)
    params = result.network.parameters()
    changed = result.to_frame()
    assert len(changed) > 0 and not result.not_fitted
    def keyed(frame):
        return {(r.node, r.where, r.state if isinstance(r.state, str) else None): r
                for r in frame.itertuples()}

    new, old = keyed(params), keyed(before)
    for r in changed.itertuples():
        key = (r.node, r.where, r.state if isinstance(r.state, str) else None)
        row, was = new[key], old[key]
        assert row.value == r.fitted and was.value == r.prior
        assert row.ref == was.ref and row.grade == was.grade
        assert row.locator.startswith(was.locator) and "updated from 300 cases" in row.locator
    kept = ~params.node.isin(changed.node)
    pd.testing.assert_frame_equal(params[kept], before[kept])
    # odds nodes: odds ratios fitted, and the marginal restated as the fitted network implies it
    flu = params[params.node == "flu"].set_index(["where", "state"])
    assert flu.loc[("cpt.multipliers.smoker.yes.present", None), "value"] != 1.5
    assert "updated from 300 cases" in flu.loc[("cpt.marginal", "present"), "locator"]
    engine_marginal = bayesdx.diagnose(result.network).marginal("flu")["present"]
    assert flu.loc[("cpt.marginal", "present"), "value"] == pytest.approx(float(engine_marginal), rel=1e-9)
    # the tuned file is a file like any other: its numbers can be changed and drawn from
    again = result.network.with_parameters({("fever", "cpt.leak", None): 0.06})
    assert again.parameters().set_index(["node", "where"]).loc[("fever", "cpt.leak"), "value"] == 0.06
    assert len(parameter_priors(result.network)) == len(parameter_priors(two_disease))
    path = tmp_path / "fitted.bif"
    result.network.to_bif(path)
    again = bayesdx.load_network(path, targets=list(two_disease.targets))
    for node in two_disease.nodes:
        np.testing.assert_allclose(again.arrays.cpts[node], result.network.arrays.cpts[node],
                                   rtol=0, atol=1e-12)


def test_result_display(two_disease):
    cases, truth = bayesdx.simulate(two_disease, 100, seed=9)
    result = bayesdx.fit(two_disease, cases, truth=truth)
    assert "100 cases" in repr(result) and "<table" in result._repr_html_()
    assert "Fever" in result._repr_html_()  # nodes by label
    assert list(result.to_frame().columns) == ["node", "label", "where", "state", "prior", "fitted",
                                               "change", "range_low", "range_high", "outside_range"]


def test_bootstrap_intervals(two_disease):
    from bayesdx._fitboot import BOOTSTRAP_COLUMNS

    cases, truth = bayesdx.simulate(two_disease, 300, seed=10)
    a = bayesdx.fit(two_disease, cases, truth=truth, bootstrap=6, seed=0)
    b = bayesdx.fit(two_disease, cases, truth=truth, bootstrap=6, seed=0)
    frame = a.bootstrap
    assert list(frame.columns) == BOOTSTRAP_COLUMNS
    pd.testing.assert_frame_equal(frame, b.bootstrap)
    assert (frame.ci95_low <= frame.boot_mean + 1e-12).all() and (frame.boot_mean <= frame.ci95_high + 1e-12).all()
    assert (frame.ci95_high - frame.ci95_low > 0).any()
    fitted = a.network.parameters().set_index(["node", "where", "state"])["value"]
    for r in frame.itertuples():
        assert r.value == pytest.approx(fitted[(r.node, r.where, r.state)], rel=1e-12)
    # the fit itself is unchanged by the bootstrap
    c = bayesdx.fit(two_disease, cases, truth=truth)
    pd.testing.assert_frame_equal(c.to_frame(), a.to_frame())


def test_bootstrap_intervals_become_the_fitted_numbers_ranges(two_disease):
    cases, truth = bayesdx.simulate(two_disease, 5000, seed=10)
    result = bayesdx.fit(two_disease, cases, truth=truth, bootstrap=8, seed=1)
    boot = result.bootstrap.set_index(["node", "where", "state"])
    params = result.network.parameters().set_index(["node", "where", "state"])
    changed = result.to_frame().set_index(["node", "where", "state"]).index.intersection(boot.index)
    assert len(changed) > 0  # numbers restated from fitted parents (odds marginals) have no bootstrap
    for key in changed:
        row, p = boot.loc[key], params.loc[key]
        assert p.grade == "measured" and "bootstrap 95% interval over 8 resamples of 5000 cases" in p.locator
        assert p.range_low == min(row.ci95_low, p.value) and p.range_high == max(row.ci95_high, p.value)
    untouched = params.index.difference(boot.index)
    before = two_disease.parameters().set_index(["node", "where", "state"])
    pd.testing.assert_frame_equal(params.loc[untouched, ["grade", "range_low", "range_high"]],
                                  before.loc[untouched, ["grade", "range_low", "range_high"]])
    # the ranges live in the file too: a further change keeps them, and uncertainty reads them
    again = result.network.with_parameters({}).parameters().set_index(["node", "where", "state"])
    pd.testing.assert_frame_equal(again.loc[changed, ["grade", "range_low", "range_high"]],
                                  params.loc[changed, ["grade", "range_low", "range_high"]])
    priors = bayesdx.priors.parameter_priors(result.network).set_index(["node", "where", "state"])
    assert (priors.loc[changed, "level"] == 0.95).all()
    # 5000 cases leave less uncertainty than the file's expert ranges
    width = {}
    for name, net in [("prior", two_disease), ("fitted", result.network)]:
        post = bayesdx.uncertainty(net, draws=200, seed=0).posteriors
        width[name] = (post["ci90_high"] - post["ci90_low"]).to_numpy()
    assert np.isfinite(width["fitted"]).all() and (width["fitted"] < width["prior"]).all()


def test_bundled_network_smoke(fasciculation):
    cases, truth = bayesdx.simulate(fasciculation, 200, seed=4, missing=0.1)
    result = bayesdx.fit(fasciculation, cases, truth=truth, max_iter=1)
    assert result.iterations == 1 and result.log_posterior[1] > result.log_posterior[0]
    assert not result.not_fitted
    assert set(fasciculation.targets) <= set(result.to_frame()["node"])
    assert len(result.network.parameters()) == len(fasciculation.parameters())
    assert len(result.to_frame()) > 100
    dx = bayesdx.diagnose(result.network, evidence={"ck": "gt_1000"})
    assert np.isfinite(dx.to_frame().select_dtypes("number").to_numpy()).all()


# -- EM never lowers the log posterior (random small networks) -----------------------------------


def _random_network(seed: int, tmp_path):
    rng = np.random.default_rng(seed)

    def dist(k, low=0.05):
        p = rng.dirichlet(np.ones(k)) * (1 - k * low) + low
        return [float(x) for x in p[:-1]] + [1.0 - float(sum(p[:-1]))]

    def src(states, probs):
        rng_ = {s: [round(max(p / 2, 0.0), 6), round(min(1.0, (1 + p) / 2), 6)]
                for s, p in zip(states[1:], probs[1:])}
        return f"ref: EX, locator: invented, grade: expert, range: {rng_}"

    def probs(states, p):
        return "{" + ", ".join(f"{s}: {v!r}" for s, v in zip(states, p)) + "}"

    ab, lmh, nms = ["absent", "present"], ["a", "b", "c"], ["n", "m", "s"]
    d1, d2, h_yes, h_no, x_yes, x_no = dist(2), dist(2), dist(3), dist(3), dist(2), dist(2)
    leak = 0.02 + 0.2 * rng.random()
    p1, p2 = leak + (1 - leak) * rng.uniform(0.1, 0.9, 2)
    mleak = dist(3)
    f_leak = np.cumsum(mleak)

    def cause():
        link = np.cumsum(rng.dirichlet(np.ones(3)) * 0.9 + 0.1 / 3)
        link[-1] = 1.0
        c = np.diff(f_leak * link, prepend=0.0)
        return [float(c[0]), float(c[1]), 1.0 - float(c[0]) - float(c[1])]

    c1, cb, cc = cause(), cause(), cause()
    text = f"""
format: bayesdx/2
name: random_net
title: random
population: invented
references: {{EX: "invented numbers"}}
nodes:
  d1: {{role: target, label: D1, states: [absent, present], cpt: {{type: table, rows: [{{probs: {probs(ab, d1)}, {src(ab, d1)}}}]}}}}
  d2: {{role: target, label: D2, states: [absent, present], cpt: {{type: table, rows: [{{probs: {probs(ab, d2)}, {src(ab, d2)}}}]}}}}
  h:
    role: latent
    label: H
    states: [a, b, c]
    parents: [d1]
    cpt: {{type: table, rows: [{{when: {{d1: present}}, probs: {probs(lmh, h_yes)}, {src(lmh, h_yes)}}}, {{probs: {probs(lmh, h_no)}, {src(lmh, h_no)}}}]}}
  f1:
    role: finding
    label: F1
    kind: exam
    cost_usd: 0
    invasive: false
    states: [absent, present]
    parents: [d1, d2]
    cpt:
      type: noisy_or
      leak: {{p: {leak!r}, ref: EX, locator: invented, grade: expert, range: [{leak / 2!r}, {min(1, 2 * leak)!r}]}}
      causes:
        d1: {{p: {float(p1)!r}, ref: EX, locator: invented, grade: expert, range: [{float(leak)!r}, 1.0]}}
        d2: {{p: {float(p2)!r}, ref: EX, locator: invented, grade: expert, range: [{float(leak)!r}, 1.0]}}
  f2:
    role: finding
    label: F2
    kind: lab
    cost_usd: 1
    invasive: false
    states: [n, m, s]
    parents: [d1, h]
    cpt:
      type: noisy_max
      leak: {{probs: {probs(nms, mleak)}, {src(nms, mleak)}}}
      causes:
        d1: {{probs: {probs(nms, c1)}, {src(nms, c1)}}}
        h:
          b: {{probs: {probs(nms, cb)}, {src(nms, cb)}}}
          c: {{probs: {probs(nms, cc)}, {src(nms, cc)}}}
  f3:
    role: finding
    label: F3
    kind: lab
    cost_usd: 1
    invasive: false
    states: [absent, present]
    parents: [d2]
    cpt: {{type: table, rows: [{{when: {{d2: present}}, probs: {probs(ab, x_yes)}, {src(ab, x_yes)}}}, {{probs: {probs(ab, x_no)}, {src(ab, x_no)}}}]}}
"""
    path = tmp_path / f"random_{seed}.yaml"
    path.write_text(text)
    return bayesdx.load_network(path)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), missing=st.floats(0.0, 0.7), truth_kept=st.floats(0.0, 1.0))
def test_em_log_posterior_never_decreases(seed, missing, truth_kept, tmp_path):
    net = _random_network(seed, tmp_path)
    other = _random_network(seed + 1, tmp_path)  # the data come from other numbers
    cases, truth = bayesdx.simulate(other, 50, seed=seed, missing=missing)
    truth = _with_missing(truth, 1 - truth_kept, seed)
    result = bayesdx.fit(net, cases, truth=truth, max_iter=8, tol=1e-9)
    trace = np.array(result.log_posterior)
    assert len(trace) >= 2
    assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[:-1])), trace


# -- errors ------------------------------------------------------------------------------------


def test_clear_errors(two_disease):
    ok = pd.DataFrame({"fever": ["present", "absent"]})
    with pytest.raises(UnknownNodeError, match="fevr"):
        bayesdx.fit(two_disease, pd.DataFrame({"fevr": ["present"]}))
    with pytest.raises(UnknownStateError, match=r"maybe.*fever.*1 row\(s\) of data, e.g. index \[0\]"):
        bayesdx.fit(two_disease, pd.DataFrame({"fever": ["maybe"]}))
    with pytest.raises(bayesdx.InvalidEvidenceError, match=r"truth column 'flu', row index 1.*a list"):
        bayesdx.fit(two_disease, ok, truth=pd.DataFrame({"flu": ["present", ["absent"]]}))
    with pytest.raises(InvalidParameterError, match=r"\['smoker'\].*not targets"):
        bayesdx.fit(two_disease, ok, truth=pd.DataFrame({"smoker": ["yes", "no"]}))
    with pytest.raises(InvalidParameterError, match="same index"):
        bayesdx.fit(two_disease, ok, truth=pd.DataFrame({"flu": ["present"]}))
    with pytest.raises(InvalidParameterError, match="both"):
        bayesdx.fit(two_disease, ok.assign(flu="present"), truth=pd.DataFrame({"flu": ["present"] * 2}))
    with pytest.raises(InvalidParameterError, match="'method'"):
        bayesdx.fit(two_disease, ok, method="mle")
    with pytest.raises(InvalidParameterError, match="'prior_strength'"):
        bayesdx.fit(two_disease, ok, prior_strength=0)
    with pytest.raises(InvalidParameterError, match="'max_iter'"):
        bayesdx.fit(two_disease, ok, max_iter=0)
    with pytest.raises(InvalidParameterError, match="complete data.*not observed in every case"):
        bayesdx.fit(two_disease, ok, method="map")
    with pytest.raises(InvalidParameterError, match="YAML network"):
        bayesdx.fit(bayesdx.Network(two_disease.arrays, name="bare", targets=["flu"]), ok)
    with pytest.raises(bayesdx.InvalidEvidenceError, match="DataFrame"):
        bayesdx.fit(two_disease, {"fever": ["present"]})


def test_impossible_case_is_named(two_disease):
    no_leak = two_disease.with_parameters({("fever", "cpt.leak", None): 0.0})
    data = pd.DataFrame({"fever": ["absent", "present"]})
    truth = pd.DataFrame({"flu": ["absent"] * 2, "bronchitis": ["absent"] * 2})
    with pytest.raises(ImpossibleEvidenceError, match="fever=present.*1 case.*index 1"):
        bayesdx.fit(no_leak, data, truth=truth)
