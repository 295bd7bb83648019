"""The strict YAML loader: every kind of problem is reported with file and node, all at once;
the compiled tables follow the documented formulas."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import yaml

import bayesdx
from bayesdx.spec import parse_spec

BASE = textwrap.dedent(
    """
    format: bayesdx/1
    name: mini
    title: "Mini"
    population: "test fixture"
    references:
      R: "a reference"
    nodes:
      d:
        role: target
        label: "Disease"
        states: [absent, present]
        cpt:
          type: table
          rows:
            - probs: {absent: 0.9, present: 0.1}
              ref: R
              locator: "p. 1"
              grade: measured
              range: {present: [0.05, 0.2]}
      f:
        role: finding
        label: "Finding"
        states: [absent, present]
        kind: lab
        cost_usd: 10
        invasive: false
        parents: [d]
        cpt:
          type: noisy_or
          leak: {p: 0.1, ref: R, locator: "p. 2", grade: expert, range: [0.05, 0.2]}
          causes:
            d: {p: 0.8, ref: R, locator: "p. 3", grade: measured, range: [0.7, 0.9]}
    """
)


def load_text(text, tmp_path, name="net.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return bayesdx.load_network(path)


def mutate(edit):
    data = yaml.safe_load(BASE)
    edit(data)
    return yaml.safe_dump(data, sort_keys=False)


def test_base_loads_and_compiles(tmp_path):
    net = load_text(BASE, tmp_path)
    assert net.targets == ("d",)
    assert net.tests == ("f",)
    np.testing.assert_allclose(net.arrays.cpts["f"], [[0.9, 0.1], [0.2, 0.8]], atol=1e-15)
    params = net.parameters()
    assert len(params) == 2 + 1 + 1  # two states of d's row, leak, cause
    assert set(params["grade"]) == {"measured", "expert"}


BAD_CASES = [
    ("unknown_key", lambda d: d["nodes"]["d"].update(colour="red"), "d", "unknown key 'colour'"),
    ("bool_state", lambda d: d["nodes"]["d"].update(states=[False, True]), "d", "boolean"),
    ("number_state", lambda d: d["nodes"]["d"].update(states=[0, 1]), "d", "a number"),
    ("prob_out_of_range", lambda d: d["nodes"]["f"]["cpt"]["leak"].update(p=1.5), "f", r"outside \[0.0, 1.0\]"),
    ("prob_not_number", lambda d: d["nodes"]["f"]["cpt"]["leak"].update(p="1e-3"), "f", "not a number"),
    ("sum_not_one", lambda d: d["nodes"]["d"]["cpt"]["rows"][0]["probs"].update(present=0.1000001), "d", "sum to"),
    ("unknown_parent", lambda d: d["nodes"]["f"].update(parents=["dd"]), "f", "unknown parent 'dd'.*Did you mean 'd'"),
    ("missing_ref", lambda d: d["nodes"]["f"]["cpt"]["leak"].pop("ref"), "f", "missing source: 'ref'"),
    ("unknown_ref", lambda d: d["nodes"]["f"]["cpt"]["leak"].update(ref="Q"), "f", "ref 'Q' is not in references"),
    ("missing_range", lambda d: d["nodes"]["f"]["cpt"]["leak"].pop("range"), "f", "missing source: 'range'"),
    ("bad_grade", lambda d: d["nodes"]["f"]["cpt"]["leak"].update(grade="guess"), "f", "grade 'guess'"),
    ("value_outside_range", lambda d: d["nodes"]["f"]["cpt"]["leak"].update(range=[0.2, 0.3]), "f", "outside its range"),
    ("below_leak", lambda d: d["nodes"]["f"]["cpt"]["causes"]["d"].update(p=0.05, range=[0.01, 0.1]), "f", "below the leak"),
    ("missing_kind", lambda d: d["nodes"]["f"].pop("kind"), "f", "missing required key 'kind'"),
    ("cost_on_target", lambda d: d["nodes"]["d"].update(cost_usd=3), "d", "only findings"),
    ("bad_role", lambda d: d["nodes"]["d"].update(role="disease"), "d", "role: 'disease'"),
    ("wrong_format", lambda d: d.update(format="bayesdx/9"), None, "format: expected"),
    ("cause_not_parent", lambda d: d["nodes"]["f"]["cpt"]["causes"].update(x={"p": 0.5}), "f", "'x' is not a parent"),
    ("bad_identifier", lambda d: d["nodes"]["d"].update(states=["absent", "40-69"]), "d", "not an identifier"),
]


@pytest.mark.parametrize("edit,node,pattern", [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_each_problem_is_reported_with_file_and_node(tmp_path, edit, node, pattern):
    with pytest.raises(bayesdx.NetworkSpecError, match=pattern) as info:
        load_text(mutate(edit), tmp_path)
    assert isinstance(info.value, ValueError)
    assert any(str(tmp_path / "net.yaml") == p for p, _, _ in info.value.problems)
    assert any(n == node for _, n, m in info.value.problems)
    if node is not None:
        assert f"node '{node}'" in str(info.value)


def test_all_problems_reported_at_once(tmp_path):
    def edit(d):
        d["nodes"]["d"]["colour"] = "red"
        d["nodes"]["f"]["cpt"]["leak"]["p"] = 2.0
        d["nodes"]["f"]["cpt"]["causes"]["d"].pop("grade")

    with pytest.raises(bayesdx.NetworkSpecError) as info:
        load_text(mutate(edit), tmp_path)
    messages = " | ".join(m for _, _, m in info.value.problems)
    assert "colour" in messages and "2.0" in messages and "grade missing" in messages
    assert len(info.value.problems) >= 3


def test_unquoted_yes_no_states_are_rejected(tmp_path):
    text = BASE.replace("states: [absent, present]", "states: [no, yes]", 1)
    with pytest.raises(bayesdx.NetworkSpecError, match="boolean.*quote it"):
        load_text(text, tmp_path)


def test_duplicate_keys_are_rejected(tmp_path):
    text = BASE.replace('    label: "Disease"\n', '    label: "Disease"\n    label: "Again"\n')
    with pytest.raises(bayesdx.NetworkSpecError, match="duplicate key 'label'"):
        load_text(text, tmp_path)


def test_invalid_yaml_names_line(tmp_path):
    with pytest.raises(bayesdx.NetworkSpecError, match="line .*invalid YAML"):
        load_text(BASE + "  : : [\n", tmp_path)


def test_cycle_is_reported(tmp_path):
    def edit(d):
        d["nodes"]["d"]["parents"] = ["f"]

    with pytest.raises(bayesdx.NetworkSpecError, match="cycle through: d, f"):
        load_text(mutate(edit), tmp_path)


def test_table_rows_coverage_and_shadowing(tmp_path):
    def uncovered(d):
        d["nodes"]["f"]["cpt"] = {"type": "table", "rows": [
            {"when": {"d": "present"}, "probs": {"absent": 0.2, "present": 0.8}, "ref": "R",
             "locator": "x", "grade": "expert", "range": {"present": [0.5, 0.9]}}]}

    with pytest.raises(bayesdx.NetworkSpecError, match="not covered, e.g. d=absent"):
        load_text(mutate(uncovered), tmp_path)

    def shadowed(d):
        row = {"probs": {"absent": 0.2, "present": 0.8}, "ref": "R", "locator": "x",
               "grade": "expert", "range": {"present": [0.5, 0.9]}}
        d["nodes"]["f"]["cpt"] = {"type": "table", "rows": [dict(row, when={}), dict(row, when={"d": "present"})]}

    with pytest.raises(bayesdx.NetworkSpecError, match="never applies"):
        load_text(mutate(shadowed), tmp_path)


def test_missing_file_and_unknown_bundled_name(tmp_path):
    with pytest.raises(bayesdx.NetworkNotFoundError, match="No network file"):
        bayesdx.load_network(tmp_path / "nope.yaml")
    with pytest.raises(bayesdx.NetworkNotFoundError, match="Did you mean 'fasciculation'"):
        bayesdx.load_network("fasciculaton")


def test_noisy_max_formula(two_disease):
    leak = np.cumsum([0.85, 0.1, 0.05])
    flu = np.cumsum([0.3, 0.5, 0.2]) / leak
    bron = np.cumsum([0.5, 0.4, 0.1]) / leak
    both = leak * flu * bron
    expected = np.diff(np.concatenate([[0], both]))
    np.testing.assert_allclose(two_disease.arrays.cpts["crp"][1, 1], expected, atol=1e-14)
    np.testing.assert_allclose(two_disease.arrays.cpts["crp"][1, 0], [0.3, 0.5, 0.2], atol=1e-14)
    np.testing.assert_allclose(two_disease.arrays.cpts["crp"][0, 0], [0.85, 0.1, 0.05], atol=1e-14)


def test_noisy_or_formula(two_disease):
    table = two_disease.arrays.cpts["fever"]
    lam_flu = 1 - (1 - 0.8) / (1 - 0.05)
    lam_bron = 1 - (1 - 0.3) / (1 - 0.05)
    expected = 1 - (1 - 0.05) * (1 - lam_flu) * (1 - lam_bron)
    assert table[1, 1, 1] == pytest.approx(expected, abs=1e-14)
    assert table[1, 0, 1] == pytest.approx(0.8, abs=1e-14)
    assert table[0, 0, 1] == pytest.approx(0.05, abs=1e-14)


def test_odds_calibration_hits_marginal_and_odds_ratio(two_disease):
    cpt = two_disease.arrays.cpts["bronchitis"]  # parents: smoker
    p_smoker = two_disease.arrays.cpts["smoker"]
    marginal = p_smoker @ cpt
    assert marginal[1] == pytest.approx(0.2, abs=1e-12)
    odds = cpt[:, 1] / cpt[:, 0]
    assert odds[1] / odds[0] == pytest.approx(3.0, rel=1e-12)


def test_noisy_max_cause_that_lowers_levels_is_rejected():
    text = (open(__file__.replace("test_spec.py", "data/two_disease.yaml")).read()
            .replace("flu: {probs: {normal: 0.3, raised: 0.5, high: 0.2}",
                     "flu: {probs: {normal: 0.9, raised: 0.05, high: 0.05}")
            .replace("range: {raised: [0.3, 0.7], high: [0.1, 0.3]}",
                     "range: {raised: [0.01, 0.7], high: [0.01, 0.3]}"))
    with pytest.raises(bayesdx.NetworkSpecError, match="MORE likely than the leak"):
        parse_spec(text, "two_disease.yaml")


def test_rejected_context_table_does_not_crash_its_odds_children(data_dir):
    text = (data_dir / "two_disease.yaml").read_text().replace(
        '- probs: {"no": 0.7, "yes": 0.3}', '- probs: {"no": 0.7, "yes": 0.4}')
    with pytest.raises(bayesdx.NetworkSpecError, match="node 'smoker'.*sum to") as info:
        parse_spec(text, "two_disease.yaml")
    assert [n for _, n, _ in info.value.problems] == ["smoker"]
