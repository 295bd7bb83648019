"""The stepwise diagnostic Session."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesdx
from bayesdx.session import AlreadyObservedError, Session


def _posteriors(dx):
    return dx.to_frame()["posterior"].to_numpy()


def test_add_returns_the_diagnosis_of_all_evidence(two_disease):
    s = Session(two_disease, evidence={"smoker": "yes"})
    dx = s.add("fever", "present")
    assert dx is s.current
    expected = bayesdx.diagnose(two_disease, evidence={"smoker": "yes", "fever": "present"})
    np.testing.assert_allclose(_posteriors(dx), _posteriors(expected), atol=1e-12)
    assert dict(s.evidence) == {"smoker": "yes", "fever": "present"}
    assert dict(s.start_evidence) == {"smoker": "yes"}
    assert s.history == [("fever", "present")]
    assert len(s) == 1 and len(s.diagnoses) == 2
    assert s.diagnoses[0].evidence == {"smoker": "yes"}


def test_ranking_and_next_test_follow_the_current_diagnosis(two_disease):
    s = Session(two_disease)
    assert s.next_test == bayesdx.diagnose(two_disease).next_test
    s.add(s.next_test, two_disease.states(s.next_test)[-1])
    assert s.history[0][0] not in s.ranking.index
    pd.testing.assert_frame_equal(s.ranking, s.current.ranking)


def test_history_and_diagnoses_are_copies(two_disease):
    s = Session(two_disease)
    s.add("fever", "present")
    s.history.append(("crp", "high"))
    s.diagnoses.clear()
    assert s.history == [("fever", "present")] and len(s.diagnoses) == 2


def test_undo_and_reset(two_disease):
    s = Session(two_disease, evidence={"smoker": "no"})
    start = s.current
    s.add("fever", "present")
    middle = s.current
    s.add("crp", "high")
    assert s.undo() is middle
    assert s.history == [("fever", "present")]
    s.add("chest_xray", "clear")
    assert s.reset() is start
    assert s.history == [] and len(s.diagnoses) == 1 and dict(s.evidence) == {"smoker": "no"}
    with pytest.raises(IndexError, match="Nothing to undo"):
        s.undo()


def test_impossible_finding_raises_and_leaves_session_unchanged(asia):
    s = Session(asia, evidence={"lung": "yes"})
    s.add("xray", "yes")
    before = (s.history, len(s.diagnoses), dict(s.evidence), s.current)
    with pytest.raises(bayesdx.ImpossibleEvidenceError, match="probability zero"):
        s.add("either", "no")  # either = lung OR tub
    assert (s.history, len(s.diagnoses), dict(s.evidence), s.current) == before
    s.add("either", "yes")  # the session still works
    assert len(s) == 2


def test_impossible_starting_evidence_raises(asia):
    with pytest.raises(bayesdx.ImpossibleEvidenceError):
        Session(asia, evidence={"tub": "yes", "either": "no"})


@pytest.mark.parametrize("node", ["fever", "smoker"], ids=["added-finding", "starting-evidence"])
def test_re_adding_an_observed_node_raises(two_disease, node):
    s = Session(two_disease, evidence={"smoker": "yes"})
    s.add("fever", "present")
    with pytest.raises(AlreadyObservedError, match=f"'{node}' is already observed.*undo"):
        s.add(node, two_disease.states(node)[0])
    assert len(s) == 1
    assert issubclass(AlreadyObservedError, bayesdx.BayesdxError)
    assert issubclass(AlreadyObservedError, ValueError)


@pytest.mark.parametrize("node, state, error", [
    ("fevr", "present", bayesdx.UnknownNodeError),
    ("fever", "yes", bayesdx.UnknownStateError),
    ("fever", 1, bayesdx.InvalidEvidenceError),
], ids=["unknown-node", "unknown-state", "non-string-state"])
def test_invalid_finding_raises_and_leaves_session_unchanged(two_disease, node, state, error):
    s = Session(two_disease)
    with pytest.raises(error):
        s.add(node, state)
    assert s.history == [] and len(s.diagnoses) == 1


def test_order_of_findings_does_not_matter(two_disease):
    a, b = Session(two_disease), Session(two_disease)
    for node, state in [("fever", "present"), ("crp", "raised"), ("chest_xray", "clear")]:
        a.add(node, state)
    for node, state in [("chest_xray", "clear"), ("fever", "present"), ("crp", "raised")]:
        b.add(node, state)
    np.testing.assert_allclose(_posteriors(a.current), _posteriors(b.current), atol=1e-12)


def test_to_frame_is_tidy(two_disease):
    s = Session(two_disease)
    s.add("fever", "present")
    s.add("crp", "high")
    frame = s.to_frame()
    assert list(frame.columns) == ["step", "finding", "target", "state", "posterior"]
    assert len(frame) == 3 * 4  # 3 steps x (2 + 2 target states)
    assert list(frame.drop_duplicates("step")["finding"]) == ["start", "fever=present", "crp=high"]
    sums = frame.groupby(["step", "target"])["posterior"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-12)
    last = frame[frame["step"] == 2]["posterior"].to_numpy()
    np.testing.assert_allclose(last, _posteriors(s.current), atol=1e-15)


def test_reprs(two_disease):
    s = Session(two_disease, evidence={"smoker": "yes"})
    s.add("fever", "present")
    text = repr(s)
    assert text.isascii()
    net = two_disease
    assert "two_disease" in text and f"1. {net.label('fever')}: present" in text
    assert f"{net.label('smoker')}: yes" in text
    assert f"next test: {s.ranking['label'].iloc[0]}" in text
    page = s._repr_html_()
    assert page.startswith("<div>") and page.endswith("</div>")
    assert f"{net.label('fever')}: present" in page and net.label("bronchitis") in page
    assert s.next_test in page
    assert f"{s.current.marginal('flu')['present']:.3f}" in page


def test_session_accepts_a_bundled_name():
    try:
        s = Session("fasciculation", evidence={"age_band": "age_ge_70"})
    except bayesdx.NetworkNotFoundError:
        pytest.skip("the bundled fasciculation network is not available yet")
    s.add("fasciculations_exam", "present")
    assert s.network.name == "fasciculation"
    assert s.next_test in {order.name for order in s.network.orders}
