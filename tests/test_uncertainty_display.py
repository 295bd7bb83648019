"""How "how sure are we?" is shown: the figures (intervals, tornado, stability, sweep), the notebook
HTML, the text and the command line (--uncertainty, --sensitivity)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import bayesdx
from bayesdx import sensitivity
from bayesdx._display_uncertainty import (
    ci_columns,
    disease_intervals,
    parameter_text,
    uncertainty_html,
    uncertainty_lines,
)
from bayesdx.cli import DISCLAIMER, main
from bayesdx.exceptions import InvalidParameterError
from bayesdx.plotting import plot_stability, plot_sweep, plot_tornado, plot_uncertainty

EVIDENCE = {"fever": "present"}


@pytest.fixture(scope="module")
def small(data_dir):
    return bayesdx.load_network(data_dir / "two_disease_orders.yaml")


@pytest.fixture(scope="module")
def u_small(small):
    return bayesdx.uncertainty(small, evidence=EVIDENCE, draws=400, seed=7)


@pytest.fixture(scope="module")
def u_fasc(fasciculation):
    return bayesdx.uncertainty(fasciculation, evidence={"fasciculations_exam": "present"},
                               draws=60, seed=3, level=0.8)


@pytest.fixture(scope="module")
def tornado_small(small):
    return sensitivity.tornado(small, evidence=EVIDENCE, quantity="top_margin", top=6)


def _texts(ax):
    fig = ax.figure
    return [t for t in fig.findobj(lambda o: hasattr(o, "get_text") and hasattr(o, "get_fontsize"))
            if t.get_text().strip()]


def _min_fontsize(ax):
    return min(t.get_fontsize() for t in _texts(ax))


# -- figures ------------------------------------------------------------------------------------
def test_interval_bars_equal_the_frame(u_fasc, fasciculation):
    from matplotlib.collections import LineCollection

    ax = plot_uncertainty(u_fasc)
    rows = disease_intervals(u_fasc)
    low, high = ci_columns(rows)
    assert (low, high) == ("ci80_low", "ci80_high")
    ticks = [" ".join(t.get_text().split()) for t in ax.get_yticklabels()]
    assert ticks == [fasciculation.label(t) for t in fasciculation.targets]
    lines = [c for c in ax.collections if isinstance(c, LineCollection)
             and c.get_label() == "80% credible interval"]
    assert len(lines) == 1
    segs = lines[0].get_segments()
    got = np.array([[s[0][0], s[1][0]] for s in segs])
    np.testing.assert_allclose(got, rows[[low, high]].to_numpy(), rtol=0, atol=1e-12)
    # independently: the binary targets' rows are the posterior frame's non-reference state, and
    # every row is the quantile of 1 - P(healthy) over the raw draws
    post = u_fasc.posteriors
    draws = u_fasc.posterior_draws()
    for k, t in enumerate(fasciculation.targets):
        ref = fasciculation.reference_state(t)
        q = np.quantile(1 - draws[(t, ref)].to_numpy(), [0.1, 0.9])
        np.testing.assert_allclose(got[k], q, atol=1e-12)
        if len(fasciculation.states(t)) == 2:
            other = [s for s in fasciculation.states(t) if s != ref][0]
            row = post[(post.target == t) & (post.state == other)].iloc[0]
            np.testing.assert_allclose(got[k], [row.ci80_low, row.ci80_high], atol=1e-12)
    bars = [c for c in ax.containers if c.get_label() == "with the stated numbers"][0]
    np.testing.assert_allclose([b.get_width() for b in bars], rows["point"], atol=1e-12)
    assert _min_fontsize(ax) >= 9


def test_stability_bars_are_prob_top(u_small, small):
    ax = plot_stability(u_small)
    orders = u_small.orders
    bars = ax.containers[0]
    widths = [b.get_width() for b in bars]
    ticks = [" ".join(t.get_text().split()) for t in ax.get_yticklabels()]
    expected = orders.sort_values(["prob_top", "point_rank"], ascending=[False, True],
                                  kind="stable")
    assert ticks == list(expected["label"])
    np.testing.assert_allclose(widths, expected["prob_top"], atol=1e-12)
    # every draw has exactly one top order: counted from the raw draws of the order values
    values = u_small.order_value_draws().to_numpy()
    counts = np.bincount(values.argmax(axis=1), minlength=values.shape[1]) / len(values)
    names = list(u_small.order_value_draws().columns)
    for name, share in zip(names, counts):
        assert orders.set_index("order").loc[name, "prob_top"] == pytest.approx(share, abs=1e-12)
    assert math.isclose(sum(widths), 1.0, abs_tol=1e-12)
    assert _min_fontsize(ax) >= 9


def test_stability_lumps_the_rest(u_fasc):
    ax = plot_stability(u_fasc, top=3)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert len(ticks) == 4 and ticks[-1].endswith("other orders")
    assert sum(b.get_width() for b in ax.containers[0]) == pytest.approx(1.0, abs=1e-12)


def test_tornado_bars_span_point_to_each_end(tornado_small, small):
    ax = plot_tornado(tornado_small, network=small)
    lo_bars, hi_bars = ax.containers[:2]
    assert lo_bars.get_label() == "at the range's low end"
    point = tornado_small["point"].iloc[0]
    for bars, col in ((lo_bars, "at_low"), (hi_bars, "at_high")):
        assert all(b.get_x() == pytest.approx(point) for b in bars)
        np.testing.assert_allclose([b.get_x() + b.get_width() for b in bars], tornado_small[col],
                                   atol=1e-12)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert len(ticks) == len(tornado_small)
    for tick, (_, row) in zip(ticks, tornado_small.iterrows()):
        assert small.label(row["node"])[:20] in tick  # labels, not names
    assert ax.get_xlabel() == tornado_small["quantity"].iloc[0]
    assert _min_fontsize(ax) >= 9


def test_sweep_lines_and_stated_value(small):
    values = np.geomspace(0.02, 0.5, 9)
    s = sensitivity.sweep(small, "flu", values, evidence=EVIDENCE)
    ax = plot_sweep(s, point=0.1)
    labels = {o.name: o.label for o in small.orders}
    drawn = {" ".join(ln.get_label().split()): ln for ln in ax.get_lines()}
    for name in s.order_values.columns:
        if labels[name] in drawn:
            np.testing.assert_allclose(drawn[labels[name]].get_ydata(), s.order_values[name])
            np.testing.assert_allclose(drawn[labels[name]].get_xdata(), values)
    for top in set(s.top):
        assert labels[top] in drawn  # every order that is ever on top has a line
    stated = [ln for ln in ax.get_lines() if ln.get_label().startswith("stated value")]
    assert len(stated) == 1 and stated[0].get_xdata()[0] == pytest.approx(0.1)
    assert ax.get_xscale() == "log"
    assert "Influenza" in ax.get_xlabel()
    ax = plot_sweep(s, show="posteriors")
    drawn = {" ".join(ln.get_label().split()): ln for ln in ax.get_lines()}
    np.testing.assert_allclose(drawn["Influenza"].get_ydata(), s.posteriors[("flu", "present")])
    assert _min_fontsize(ax) >= 9


def test_plots_draw_on_a_given_ax(u_small, tornado_small):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3)
    assert plot_uncertainty(u_small, axes[0]) is axes[0]
    assert plot_stability(u_small, ax=axes[1]) is axes[1]
    assert plot_tornado(tornado_small, ax=axes[2]) is axes[2]
    assert len(plt.get_fignums()) == 1


def test_plot_errors(u_small, small):
    dx = bayesdx.diagnose(small)
    with pytest.raises(TypeError, match="Uncertainty"):
        plot_uncertainty(dx)
    with pytest.raises(TypeError, match="tornado"):
        plot_tornado(dx)
    with pytest.raises(InvalidParameterError, match="top"):
        plot_stability(u_small, top=0)
    s = sensitivity.sweep(small, "flu", [0.05, 0.1])
    with pytest.raises(InvalidParameterError, match="'show'"):
        plot_sweep(s, show="everything")


# -- words ----------------------------------------------------------------------------------------
def test_parameter_text_by_label(small):
    p = small.parameters()
    texts = {parameter_text(r, small) for _, r in p.iterrows()}
    assert "Prior of Influenza" in texts
    assert "Fever given Influenza alone" in texts
    assert "Fever, leak (no cause present)" in texts
    assert any(t.startswith("Bronchitis: present, odds ratio for Smoker: yes") for t in texts)


def test_html_diseases_first_with_intervals(u_fasc, fasciculation):
    page = uncertainty_html(u_fasc)
    assert page == u_fasc._repr_html_()
    first_order = u_fasc.orders.iloc[0]["label"]
    for t in fasciculation.targets:
        assert fasciculation.label(t) in page
        assert page.index(fasciculation.label(t)) < page.index(first_order)
    assert "80% interval" in page and "P(top)" in page
    from bayesdx._text import percent

    rows = disease_intervals(u_fasc)
    assert f"{percent(rows.ci80_low[0])} to {percent(rows.ci80_high[0])}" in page


@pytest.mark.parametrize("width", [80, 40, 160], ids=["80", "40", "160"])
def test_text_fits_the_width(u_fasc, width):
    lines = uncertainty_lines(u_fasc, width=width)
    assert max(len(x) for x in lines) <= width
    assert "stays on top" in " ".join(" ".join(lines).split())


# -- command line ---------------------------------------------------------------------------------
def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _strict(text):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_cli_uncertainty_text(capsys, fasciculation):
    code, out, err = run(capsys, "diagnose", "-e", "fasciculations_exam=present",
                         "--uncertainty", "40", "--seed", "5")
    assert code == 0, err
    assert " ".join(DISCLAIMER.split()) in " ".join(out.split())
    assert max(len(x) for x in out.splitlines()) <= 80
    assert fasciculation.label("als") in out and "P(top)" in out and "seed 5" in out
    assert "als" not in out.replace(fasciculation.label("als"), "").split()  # labels, not names


def test_cli_json_is_strict_and_matches_the_api(capsys, data_dir, small):
    argv = ["diagnose", "--network", str(data_dir / "two_disease_orders.yaml"), "-e",
            "fever=present", "--uncertainty", "50", "--seed", "11", "--level", "0.8",
            "--sensitivity", "--json"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    data = _strict(out)
    u = bayesdx.uncertainty(small, evidence=EVIDENCE, draws=50, seed=11, level=0.8)
    assert data["uncertainty"]["draws"] == 50 and data["uncertainty"]["seed"] == 11
    got = {r["order"]: r["prob_top"] for r in data["uncertainty"]["orders"]}
    assert got == pytest.approx(dict(zip(u.orders["order"], u.orders["prob_top"])))
    post = {(r["target"], r["state"]): (r["ci80_low"], r["ci80_high"])
            for r in data["uncertainty"]["posteriors"]}
    for r in u.posteriors.itertuples():
        assert post[(r.target, r.state)] == pytest.approx((r.ci80_low, r.ci80_high))
    tor = sensitivity.tornado(small, evidence=EVIDENCE, quantity="top_margin", top=8)
    assert [r["param"] for r in data["sensitivity"]["tornado"]] == list(tor.index)
    assert data["sensitivity"]["admissible"]
    assert data["disclaimer"] == DISCLAIMER
    code, again, _ = run(capsys, *argv)
    assert again == out  # seeded: the same draws


def test_cli_sensitivity_text_fits(capsys, data_dir):
    code, out, err = run(capsys, "diagnose", "--network", str(data_dir / "two_disease_orders.yaml"),
                         "-e", "fever=present", "--sensitivity", "--width", "60")
    assert code == 0, err
    assert max(len(x) for x in out.splitlines()) <= 60
    assert "stays on top" in out and "Prior of Influenza" in " ".join(out.split())


@pytest.mark.parametrize("argv, match", [
    (["--uncertainty", "0"], "from 1 to 100,000"),
    (["--uncertainty", "-5"], "from 1 to 100,000"),
    (["--uncertainty", "1e12"], "whole number of draws"),
    (["--uncertainty", "1000000000000"], "from 1 to 100,000"),
    (["--uncertainty", "ten"], "whole number of draws"),
    (["--uncertainty", "5", "--level", "1"], "strictly between 0 and 1"),
    (["--uncertainty", "5", "--level", "nan"], "strictly between 0 and 1"),
    (["--uncertainty", "5", "--seed", "-1"], "whole number >= 0"),
], ids=["zero", "negative", "float", "huge", "word", "level-1", "level-nan", "seed"])
def test_cli_rejects_bad_values(capsys, argv, match):
    with pytest.raises(SystemExit) as exc:
        main(["diagnose", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert match in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, match", [
    (["--seed", "3"], "--seed goes with --uncertainty"),
    (["--uncertainty", "5", "--by", "node"], "drop --by node"),
], ids=["seed-alone", "by-node"])
def test_cli_refuses_options_that_do_not_go_together(capsys, data_dir, argv, match):
    code, _, err = run(capsys, "diagnose", "--network", str(data_dir / "two_disease_orders.yaml"),
                       *argv)
    assert code == 2 and match in err


def test_diagnosis_frame_with_intervals(u_small, small):
    dx = bayesdx.diagnose(small, evidence=EVIDENCE)
    frame = dx.to_frame(uncertainty=u_small)
    assert list(frame.columns) == ["target", "state", "prior", "posterior", "median", "ci90_low",
                                   "ci90_high"]
    draws = u_small.posterior_draws()
    for r in frame.itertuples():
        samples = draws[(r.target, r.state)].to_numpy()
        np.testing.assert_allclose([r.median, r.ci90_low, r.ci90_high],
                                   np.quantile(samples, [0.5, 0.05, 0.95]), atol=1e-12)
    point = u_small.posteriors.set_index(["target", "state"])["point"]
    np.testing.assert_allclose(frame.set_index(["target", "state"])["posterior"],
                               point.loc[list(zip(frame.target, frame.state))], atol=1e-12)
    assert dx.to_frame().equals(frame[["target", "state", "prior", "posterior"]])
    with pytest.raises(InvalidParameterError, match="same evidence"):
        bayesdx.diagnose(small).to_frame(uncertainty=u_small)
    with pytest.raises(InvalidParameterError, match="Uncertainty"):
        dx.to_frame(uncertainty=dx)
