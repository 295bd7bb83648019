"""Teaching figures: each plot returns its Axes with the expected content."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

import bayesdx
from bayesdx import plotting
from bayesdx.session import Session

EVIDENCE = {"smoker": "yes", "fever": "present", "crp": "high"}


@pytest.fixture(autouse=True)
def _agg_backend():
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def dx(two_disease):
    return bayesdx.diagnose(two_disease, evidence={"fever": "present"})


@pytest.fixture
def bundled(request):
    try:
        return request.getfixturevalue("fasciculation")
    except bayesdx.NetworkNotFoundError:
        pytest.skip("the bundled fasciculation network is not available yet")


def _ticks(ax, axis="y"):
    labels = ax.get_yticklabels() if axis == "y" else ax.get_xticklabels()
    return [t.get_text().replace(":\n", ": ") for t in labels]


def _container(ax, label):
    return next(c for c in ax.containers if c.get_label() == label)


# -- posteriors ---------------------------------------------------------------------------------
def test_posteriors_one_bar_per_target(dx):
    ax = plotting.plot_posteriors(dx)
    assert _ticks(ax) == ["Influenza", "Bronchitis"]  # labels, not names
    post = _container(ax, "posterior")
    assert len(post) == 2 and len(_container(ax, "prior")) == 2
    widths = [bar.get_width() for bar in post]
    np.testing.assert_allclose(widths, [dx.marginal("flu")["present"],
                                        dx.marginal("bronchitis")["present"]], atol=1e-12)
    assert "Fever: present" in ax.get_title()


def test_posteriors_multistate_target_shows_each_non_reference_state(hepar2):
    dx = bayesdx.diagnose(hepar2, evidence={"jaundice": "present"})
    ax = plotting.plot_posteriors(dx)
    # Hepar II lists "present" first; the reference is its "absent" state
    assert _ticks(ax) == ["Cirrhosis: decompensate", "Cirrhosis: compensate", "PBC", "THepatitis"]
    assert len(_container(ax, "posterior")) == 4
    pbc = _container(ax, "posterior")[2].get_width()
    assert pbc == pytest.approx(dx.marginal("PBC")["present"], abs=1e-12)


def test_posteriors_draw_on_given_axes_without_new_figure(dx):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert plotting.plot_posteriors(dx, ax=ax, bar_kw={"color": "red"}) is ax
    assert plt.get_fignums() == [fig.number]
    assert matplotlib.colors.same_color(_container(ax, "posterior")[0].get_facecolor(), "red")


def test_posteriors_subset_of_targets_and_unknown_target(dx):
    ax = plotting.plot_posteriors(dx, targets=["bronchitis"])
    assert _ticks(ax) == ["Bronchitis"]
    with pytest.raises(ValueError, match="not a target"):
        plotting.plot_posteriors(dx, targets=["fever"])


def test_no_evidence_is_named_in_title(two_disease):
    ax = plotting.plot_posteriors(bayesdx.diagnose(two_disease))
    assert "no evidence" in ax.get_title()


# -- ranking ------------------------------------------------------------------------------------
def test_ranking_bars_are_info_gain_best_on_top(dx):
    ax = plotting.plot_ranking(dx)
    assert _ticks(ax) == list(dx.ranking["label"])  # labels, not snake_case names
    widths = [bar.get_width() for bar in ax.containers[0]]
    np.testing.assert_allclose(widths, dx.ranking["info_gain_bits"], atol=1e-12)
    texts = [t.get_text() for t in ax.texts]
    assert any("$10" in t for t in texts)  # crp costs 10 USD
    assert ax.get_title()


@pytest.fixture(scope="module")
def orders_net(data_dir):
    return bayesdx.load_network(data_dir / "two_disease_orders.yaml")


def test_ranking_by_order_marks_cost_value_before_cost_and_objective(orders_net):
    dx = bayesdx.diagnose(orders_net, evidence={"smoker": "yes"})
    ax = plotting.plot_ranking(dx)
    assert _ticks(ax)[0] == dx.ranking["label"].iloc[0]
    np.testing.assert_allclose([b.get_width() for b in ax.containers[0]], dx.ranking["value"])
    np.testing.assert_allclose([b.get_width() for b in ax.containers[1]],
                               dx.ranking["decision_value_utils"])
    assert "decision" in ax.get_title() and "utils" in ax.get_xlabel()
    assert any("$15" in t.get_text() for t in ax.texts)
    cost = plotting.plot_ranking(dx, objective=bayesdx.Objective("cost", alpha=0.001))
    ranked = dx.with_objective(bayesdx.Objective("cost", alpha=0.001)).ranking
    np.testing.assert_allclose([b.get_width() for b in cost.containers[0]], ranked["value"])
    assert "cost" in cost.get_title()


def test_ranking_hatches_invasive_orders(orders_net):
    from bayesdx import Order

    orders = [Order("biopsy", ["sputum_culture"], cost_usd=900.0, invasive=True, kind="pathology",
                    label="Lung biopsy")]
    dx = bayesdx.diagnose(orders_net, orders=orders, objective="information")
    ax = plotting.plot_ranking(dx)
    bar = ax.containers[0][_ticks(ax).index("Lung biopsy")]
    assert bar.get_hatch() == "///"
    assert "invasive" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_explanation_one_group_per_outcome(orders_net):
    dx = bayesdx.diagnose(orders_net, evidence={"smoker": "yes"})
    ax = plotting.plot_explanation(dx, "blood_panel")
    why = dx.explain("blood_panel")
    assert len(ax.containers) == len(why.outcome_labels) == 5
    best = int(np.argmax(why.p_outcome))
    first = ax.containers[0]
    assert first.get_label().startswith("C-reactive protein: normal (p=")  # labels, not names
    expected = [why.outcomes().iloc[best][t] for t in ("flu", "bronchitis")]
    np.testing.assert_allclose([b.get_width() for b in first], expected, atol=1e-12)
    labels = [t.get_text().replace("\n  ", " ") for t in ax.get_legend().get_texts()]
    assert "action threshold" in labels and any("add: Start an antiviral" in t for t in labels)
    few = plotting.plot_explanation(dx, "blood_panel", max_outcomes=2)
    assert len(few.containers) == 2 and "2 of 5 outcomes" in few.get_title()
    with pytest.raises(bayesdx.UnknownOrderError):
        plotting.plot_explanation(dx, "blood")


@pytest.mark.parametrize("top", [1, 3, 100], ids=["top1", "top3", "more-than-tests"])
def test_ranking_top(asia, top):
    dx = bayesdx.diagnose(asia, evidence={"dysp": "yes"})
    ax = plotting.plot_ranking(dx, top=top)
    assert len(ax.containers[0]) == min(top, len(dx.ranking))


def test_ranking_nan_costs_are_not_printed(asia):
    dx = bayesdx.diagnose(asia)
    ax = plotting.plot_ranking(dx)
    texts = [t.get_text() for t in ax.texts]
    assert texts and all("bits" in t and "$" not in t and "nan" not in t for t in texts)


def test_ranking_with_every_test_observed(two_disease):
    dx = bayesdx.diagnose(two_disease, evidence={"fever": "absent", "crp": "normal",
                                                 "chest_xray": "clear"})
    ax = plotting.plot_ranking(dx)
    assert any("every test is observed" in t.get_text() for t in ax.texts)


# -- what if ------------------------------------------------------------------------------------
def test_what_if_one_group_per_outcome(dx):
    ax = plotting.plot_what_if(dx, "crp")
    table = dx.what_if("crp")
    assert len(ax.containers) == 3
    for container, outcome in zip(ax.containers, ["normal", "raised", "high"]):
        p = table.loc[table["outcome"] == outcome, "p_outcome"].iloc[0]
        assert container.get_label() == f"C-reactive protein: {outcome} (p={p:.2f})"
        assert len(container) == 2
        expected = table[(table["outcome"] == outcome) & (table["state"] == "present")]["posterior"]
        np.testing.assert_allclose([b.get_width() for b in container], expected, atol=1e-12)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("now") for t in legend)
    assert _ticks(ax) == ["Influenza", "Bronchitis"]
    assert "C-reactive protein" in ax.get_title()


def test_what_if_observed_test_raises(dx):
    with pytest.raises(ValueError, match="already observed"):
        plotting.plot_what_if(dx, "fever")


# -- trajectory ---------------------------------------------------------------------------------
def test_trajectory_one_line_per_target(two_disease):
    session = Session(two_disease)
    for node, state in EVIDENCE.items():
        session.add(node, state)
    ax = plotting.plot_trajectory(session)
    assert [line.get_label() for line in ax.lines] == ["Influenza", "Bronchitis"]
    for line in ax.lines:
        assert len(line.get_xdata()) == len(session.history) + 1
    assert _ticks(ax, "x") == ["start", "Smoker: yes", "Fever: present", "C-reactive protein: high"]
    np.testing.assert_allclose(ax.lines[0].get_ydata()[-1],
                               session.current.marginal("flu")["present"], atol=1e-12)


def test_trajectory_accepts_a_list_of_diagnoses(two_disease):
    history = [bayesdx.diagnose(two_disease, evidence={"smoker": "no"}),
               bayesdx.diagnose(two_disease, evidence={"smoker": "no", "crp": "raised"})]
    ax = plotting.plot_trajectory(history, line_kw={"linestyle": "--"})
    assert _ticks(ax, "x") == ["start", "C-reactive protein: raised"]
    assert "Smoker: no" in ax.get_title()
    assert ax.lines[0].get_linestyle() == "--"


@pytest.mark.parametrize("bad", [[], [1, 2], "abc"], ids=["empty", "ints", "string"])
def test_trajectory_rejects_other_input(bad):
    with pytest.raises(TypeError, match="Session or a non-empty sequence"):
        plotting.plot_trajectory(bad)


# -- network ------------------------------------------------------------------------------------
def _node_patches(ax):
    return {p.get_gid().split(":", 1)[1]: p for p in ax.patches
            if (p.get_gid() or "").startswith(("node:", "observed:"))}


def test_network_one_patch_per_node_and_observed_marked(two_disease):
    dx = bayesdx.diagnose(two_disease, evidence={"fever": "present"})
    ax = plotting.plot_network(two_disease, dx)
    patches = _node_patches(ax)
    assert sorted(patches) == sorted(two_disease.nodes)
    assert patches["fever"].get_gid() == "observed:fever"
    assert patches["fever"].get_linewidth() > patches["crp"].get_linewidth()
    texts = {t.get_text() for t in ax.texts}
    assert {two_disease.label(n) for n in two_disease.nodes} <= texts
    assert "100%" in texts  # the observed state's belief bar


def test_network_layers_follow_roles(two_disease):
    ax = plotting.plot_network(two_disease)
    x = {n: p.get_x() for n, p in _node_patches(ax).items()}
    assert x["smoker"] < x["flu"] == x["bronchitis"] < x["fever"]  # left to right


def test_network_foreign_puts_targets_between_causes_and_effects(asia):
    ax = plotting.plot_network(asia, bayesdx.diagnose(asia, evidence={"xray": "yes"}))
    x = {n: p.get_x() for n, p in _node_patches(ax).items()}
    assert len(x) == len(asia.nodes)
    assert x["smoke"] < x["lung"] < x["xray"]


def test_network_large_is_disease_centred_with_a_note(hepar2):
    ax = plotting.plot_network(hepar2)
    shown = _node_patches(ax)
    assert len(hepar2.nodes) > 64 >= len(shown)
    assert set(hepar2.targets) <= set(shown)
    for t in hepar2.targets:  # every neighbour of a target is drawn
        assert set(hepar2.parents(t)) <= set(shown)
        assert {n for n in hepar2.nodes if t in hepar2.parents(n)} <= set(shown)
    note = next(t.get_text() for t in ax.texts if t.get_gid() == "left-out-note")
    assert f"{len(hepar2.nodes) - len(shown)} of {len(hepar2.nodes)} nodes left out" in note
    full = plotting.plot_network(hepar2, max_nodes=len(hepar2.nodes))
    assert len(_node_patches(full)) == len(hepar2.nodes)
    assert not [t for t in full.texts if t.get_gid() == "left-out-note"]


def test_network_rejects_diagnosis_of_another_network(two_disease, asia):
    with pytest.raises(ValueError, match="another network"):
        plotting.plot_network(two_disease, bayesdx.diagnose(asia))


# -- Fagan --------------------------------------------------------------------------------------
def _post_from_line(ax):
    line = next(line for line in ax.lines if line.get_gid() == "fagan-line")
    return 1 / (1 + math.exp(-line.get_ydata()[-1]))


@pytest.mark.parametrize("pre, lr", [(0.2, 6.0), (0.01, 40.0), (0.9, 0.05), (0.5, 1.0),
                                     (1e-5, 3.0)],
                         ids=["typical", "rare-strong", "likely-negative", "neutral", "very-rare"])
def test_fagan_post_test_is_bayes_rule(pre, lr):
    ax = plotting.plot_fagan(pre, lr)
    odds = pre / (1 - pre) * lr
    assert _post_from_line(ax) == pytest.approx(odds / (1 + odds), abs=1e-9)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "Pre-test" in texts and "Likelihood" in texts and "Post-test" in texts
    assert ax.get_title()


@pytest.mark.parametrize("pre, lr", [(0.0, 2.0), (1.0, 2.0), (0.3, 0.0), (0.3, math.inf)],
                         ids=["pre-0", "pre-1", "lr-0", "lr-inf"])
def test_fagan_rejects_invalid_input(pre, lr):
    with pytest.raises(ValueError):
        plotting.plot_fagan(pre, lr)


@pytest.mark.parametrize("test, outcome, target", [("crp", "high", "flu"),
                                                   ("chest_xray", "infiltrate", "bronchitis"),
                                                   ("crp", "normal", "bronchitis")],
                         ids=["crp-high-flu", "xray-bronchitis", "crp-normal-bronchitis"])
def test_fagan_inputs_are_exact(dx, two_disease, test, outcome, target):
    pre, lr, post = plotting.fagan_inputs(dx, test, outcome, target)
    ev = dict(dx.evidence)
    sens = bayesdx.diagnose(two_disease, evidence={**ev, target: "present"}).marginal(test)[outcome]
    fpr = bayesdx.diagnose(two_disease, evidence={**ev, target: "absent"}).marginal(test)[outcome]
    assert pre == pytest.approx(dx.marginal(target)["present"], abs=1e-12)
    assert lr == pytest.approx(sens / fpr, rel=1e-9)
    after = bayesdx.diagnose(two_disease, evidence={**ev, test: outcome})
    assert post == pytest.approx(after.marginal(target)["present"], abs=1e-9)
    assert _post_from_line(plotting.plot_fagan(pre, lr)) == pytest.approx(post, abs=1e-9)


def test_fagan_inputs_for_one_state_of_a_multistate_target(hepar2):
    dx = bayesdx.diagnose(hepar2)
    pre, lr, post = plotting.fagan_inputs(dx, "ascites", "present", "Cirrhosis", "decompensate")
    after = bayesdx.diagnose(hepar2, evidence={"ascites": "present"})
    assert pre == pytest.approx(dx.marginal("Cirrhosis")["decompensate"], abs=1e-12)
    assert post == pytest.approx(after.marginal("Cirrhosis")["decompensate"], abs=1e-9)
    odds = pre / (1 - pre) * lr
    assert post == pytest.approx(odds / (1 + odds), abs=1e-9)


def test_fagan_inputs_reject_observed_test_and_unknown_state(dx):
    with pytest.raises(ValueError, match="already observed"):
        plotting.fagan_inputs(dx, "fever", "present", "flu")
    with pytest.raises(bayesdx.UnknownStateError):
        plotting.fagan_inputs(dx, "crp", "hi", "flu")


# -- writer -------------------------------------------------------------------------------------
def test_write_teaching_figures(two_disease, tmp_path):
    import matplotlib.pyplot as plt

    paths = plotting.write_teaching_figures(two_disease, EVIDENCE, tmp_path / "figs", dpi=60)
    names = [p.name for p in paths]
    assert names[:2] == ["posteriors.png", "ranking.png"]
    assert "trajectory.png" in names and "network.png" in names
    assert any(n.startswith("what_if_") for n in names) and any(n.startswith("fagan_") for n in names)
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == []


def test_write_teaching_figures_without_evidence_skips_trajectory(two_disease, tmp_path):
    paths = plotting.write_teaching_figures(two_disease, None, tmp_path, dpi=40)
    assert "trajectory.png" not in [p.name for p in paths] and len(paths) == 6


# -- the bundled network ------------------------------------------------------------------------
def test_bundled_network_figures(bundled, tmp_path):
    evidence = {"age_band": "age_40_69", "fasciculations_exam": "present", "ck": "mild"}
    dx = bayesdx.diagnose(bundled, evidence=evidence)
    ax = plotting.plot_posteriors(dx)
    n_rows = sum(len(bundled.states(t)) - 1 for t in bundled.targets)
    assert len(_container(ax, "posterior")) == n_rows
    assert "Thyroid disease: overt_hypo" in _ticks(ax)
    ax = plotting.plot_network(bundled, dx)
    patches = _node_patches(ax)
    assert len(patches) == len(bundled.nodes)
    assert {n for n, p in patches.items() if p.get_gid().startswith("observed:")} == set(evidence)
    paths = plotting.write_teaching_figures(bundled, evidence, tmp_path, dpi=50)
    assert len(paths) == 7  # posteriors, ranking, explanation, what-if, trajectory, network, Fagan


def test_trajectory_logit_scale(two_disease):
    session = Session(two_disease)
    session.add("fever", "present")
    ax = plotting.plot_trajectory(session, yscale="logit")
    assert ax.get_yscale() == "logit"
    with pytest.raises(ValueError, match="yscale"):
        plotting.plot_trajectory(session, yscale="log")
