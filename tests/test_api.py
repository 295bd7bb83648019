"""The public API: names, errors a user meets, and the result objects' conventions."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import bayesdx
from bayesdx.ranking import RANKING_COLUMNS


def test_every_name_in_all_exists():
    for name in bayesdx.__all__:
        assert hasattr(bayesdx, name), name


def test_import_is_inert_and_does_not_import_matplotlib_or_pgmpy():
    code = ("import sys, bayesdx; "
            "print('matplotlib.pyplot' in sys.modules, 'pgmpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert out.stderr == ""


def test_error_hierarchy_subclasses_builtins():
    assert issubclass(bayesdx.NetworkSpecError, ValueError)
    assert issubclass(bayesdx.UnknownNodeError, KeyError)
    assert issubclass(bayesdx.UnknownStateError, KeyError)
    assert issubclass(bayesdx.ImpossibleEvidenceError, ValueError)
    assert issubclass(bayesdx.TargetsRequiredError, ValueError)
    assert issubclass(bayesdx.InvalidEvidenceError, TypeError)
    for cls in (bayesdx.NetworkSpecError, bayesdx.UnknownNodeError, bayesdx.ImpossibleEvidenceError):
        assert issubclass(cls, bayesdx.BayesdxError)


def test_unknown_node_suggests_closest(two_disease):
    with pytest.raises(bayesdx.UnknownNodeError, match="Unknown node 'fevr'.*Did you mean 'fever'") as info:
        bayesdx.diagnose(two_disease, evidence={"fevr": "present"})
    assert isinstance(info.value, KeyError)
    assert "fever" in info.value.valid


def test_unknown_state_lists_valid_states(two_disease):
    with pytest.raises(bayesdx.UnknownStateError, match="Unknown state 'hgh'.*Did you mean 'high'.*Valid states: normal, raised, high"):
        bayesdx.diagnose(two_disease, evidence={"crp": "hgh"})


def test_wrong_types_are_clear(two_disease):
    with pytest.raises(bayesdx.InvalidEvidenceError, match="evidence must be a mapping"):
        bayesdx.diagnose(two_disease, evidence=[("crp", "high")])
    with pytest.raises(bayesdx.InvalidEvidenceError, match="must be one of its labels"):
        bayesdx.diagnose(two_disease, evidence={"crp": 2})
    with pytest.raises(bayesdx.InvalidEvidenceError, match="Node names are strings"):
        bayesdx.diagnose(two_disease, evidence={3: "high"})


def test_impossible_evidence_is_a_named_error_not_nan(data_dir):
    # In asia, 'either' is the logical OR of tub and lung: tub=yes with either=no is impossible.
    asia = bayesdx.load_network(data_dir / "asia.bif", targets=["lung"])
    with pytest.raises(bayesdx.ImpossibleEvidenceError, match=r"\{tub=yes, either=no\} has probability zero") as info:
        bayesdx.diagnose(asia, evidence={"tub": "yes", "either": "no"})
    assert info.value.evidence == {"tub": "yes", "either": "no"}
    assert "combination" in str(info.value)


def test_foreign_network_without_targets(data_dir):
    with pytest.raises(bayesdx.TargetsRequiredError, match="Pass targets=.*root nodes are: asia, smoke"):
        bayesdx.load_network(data_dir / "asia.bif")


def test_malformed_bif_names_the_file(tmp_path):
    path = tmp_path / "broken.bif"
    path.write_text("network x {}\nvariable a { type discrete [ 2 ] { t, f }; }\nprobability ( a ) { table 0.2, 0.9; }\n")
    with pytest.raises(bayesdx.NetworkSpecError, match="broken.bif"):
        bayesdx.load_network(path, targets=["a"])


def test_targets_and_tests_overlap_is_rejected(data_dir):
    with pytest.raises(bayesdx.InvalidEvidenceError, match="both targets and tests"):
        bayesdx.load_network(data_dir / "asia.bif", targets=["lung"], tests=["lung", "xray"])


def test_diagnosis_result_conventions(two_disease):
    dx = bayesdx.diagnose(two_disease, evidence={"fever": "present"})
    marginal = dx.marginal("flu")
    assert isinstance(marginal, pd.Series) and list(marginal.index) == ["absent", "present"]
    assert marginal.sum() == pytest.approx(1.0)
    frame = dx.to_frame()
    assert list(frame.columns) == ["target", "state", "prior", "posterior"]
    assert list(dx.ranking.columns) == RANKING_COLUMNS
    assert "info_gain_bits" in RANKING_COLUMNS and "cost_usd" in RANKING_COLUMNS
    assert dx.ranking.index.name == "order"
    assert bayesdx.diagnose(two_disease, by="node").ranking.index.name == "test"
    assert set(dx.ranking["objective"]) == {"information"}  # no decision model in this file
    assert dx.next_test == dx.ranking.index[0]
    html = dx._repr_html_()
    for row in frame.itertuples():
        assert f"{row.posterior:.3f}" in html
    text = repr(dx)
    assert two_disease.label("flu") in text and "C-reactive protein" in text
    assert f"{two_disease.label('flu')}: {dx.probability_not_reference()['flu']:.1%}" in text
    with pytest.raises(TypeError):
        dx.evidence["x"] = "y"  # read-only view


def test_observed_marginal_is_point_mass(two_disease):
    dx = bayesdx.diagnose(two_disease, evidence={"crp": "high"})
    np.testing.assert_array_equal(dx.marginal("crp").to_numpy(), [0.0, 0.0, 1.0])


def test_network_tables(fasciculation):
    table = fasciculation.node_table()
    assert set(table.loc[list(fasciculation.targets), "role"]) == {"target"}
    assert table.loc["ck", "kind"] == "lab"
    assert fasciculation.model.check_model()
    html = fasciculation._repr_html_()
    assert "als" in html


def test_cohort_posteriors_match_diagnose(two_disease):
    cases = pd.DataFrame({"fever": ["present", None, "absent"], "crp": ["high", "normal", np.nan]},
                         index=["a", "b", "c"])
    post = bayesdx.posteriors(two_disease, cases)
    assert list(post.index) == ["a", "b", "c"]
    assert list(post.columns) == [("flu", "absent"), ("flu", "present"), ("bronchitis", "absent"), ("bronchitis", "present")]
    for idx, row in cases.iterrows():
        ev = {k: v for k, v in row.items() if isinstance(v, str)}
        dx = bayesdx.diagnose(two_disease, evidence=ev)
        for target in two_disease.targets:
            np.testing.assert_allclose(post.loc[idx, target].to_numpy(dtype=float), dx.marginal(target).to_numpy(), atol=1e-12)


def test_cohort_reports_invalid_rows(two_disease):
    cases = pd.DataFrame({"fever": ["present", "yes", "absent", "yes"]})
    with pytest.raises(bayesdx.UnknownStateError, match=r"Found in 2 row\(s\), e.g. index \[1, 3\]"):
        bayesdx.posteriors(two_disease, cases)
    with pytest.raises(bayesdx.UnknownNodeError):
        bayesdx.posteriors(two_disease, pd.DataFrame({"fevr": ["present"]}))


def test_cohort_impossible_rows(data_dir):
    asia = bayesdx.load_network(data_dir / "asia.bif", targets=["lung"])
    cases = pd.DataFrame({"tub": ["yes", "no"], "either": ["no", "no"]})
    with pytest.raises(bayesdx.ImpossibleEvidenceError, match=r"1 case\(s\) are impossible, e.g. index \[0\]"):
        bayesdx.posteriors(asia, cases)
    with pytest.warns(UserWarning, match="impossible evidence"):
        post = bayesdx.posteriors(asia, cases, errors="nan")
    assert post.iloc[0].isna().all() and post.iloc[1].notna().all()


def test_reference_state_is_the_healthy_state_by_name(hepar2, fasciculation):
    assert hepar2.states("PBC")[0] == "present"
    assert hepar2.reference_state("PBC") == "absent"
    assert fasciculation.reference_state("thyroid_disease") == "absent"
    dx = bayesdx.diagnose(hepar2, evidence={"jaundice": "present"})
    ranked = dx.probability_not_reference()
    assert ranked["PBC"] == pytest.approx(dx.marginal("PBC")["present"], abs=1e-12)
    assert ranked["Cirrhosis"] == pytest.approx(1 - dx.marginal("Cirrhosis")["absent"], abs=1e-12)
