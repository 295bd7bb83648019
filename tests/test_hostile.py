"""Hostile input: every case raises the exact bayesdx error class with the culprit named, fast, and
never a raw pgmpy/Python traceback or a silently different answer (issue 10)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import bayesdx
from bayesdx.exceptions import NetworkSpecError

DATA = Path(__file__).parent / "data"
ASIA = (DATA / "asia.bif").read_text()
TWO = (DATA / "two_disease.yaml").read_text()


def _sub(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# -- foreign files ----------------------------------------------------------------------------
# (name, file text or bytes, the node named or None, a fragment of the message)
BIF_CASES = [
    ("empty", "", None, "empty"),
    ("whitespace", "  \n\t\n", None, "empty"),
    ("no_nodes", "network unknown {\n}\n", None, "no nodes"),
    ("not_bif", "hello world", None, "hello world"),
    ("truncated_mid_block", ASIA[: len(ASIA) // 2], None, "truncated"),
    ("truncated_mid_header", ASIA[:300], None, "truncated"),
    ("stray_brace", ASIA + "\n}\n", None, "closes no block"),
    ("latin1", _sub(ASIA, "variable asia", "variable asi\xe9").encode("latin-1"), None, "not UTF-8"),
    ("utf16", ASIA.encode("utf-16"), None, "not UTF-8"),
    ("negative_entry", _sub(ASIA, "table 0.01, 0.99", "table -0.01, 1.01"), "asia", "negative"),
    ("nan_entry", _sub(ASIA, "table 0.01, 0.99", "table nan, 0.99"), "asia", "not finite"),
    ("inf_entry", _sub(ASIA, "table 0.5, 0.5", "table inf, 0.5"), "smoke", "not finite"),
    ("text_entry", _sub(ASIA, "(yes) 0.05, 0.95", "(yes) 0.05, abc"), "tub", "not a number"),
    ("row_too_long", _sub(ASIA, "(yes) 0.1, 0.9", "(yes) 0.1, 0.8, 0.1"), "lung", "3 entries, expected 2"),
    ("row_too_short", _sub(ASIA, "(yes) 0.1, 0.9", "(yes) 1.0"), "lung", "1 entries, expected 2"),
    ("table_too_long", _sub(ASIA, "table 0.01, 0.99", "table 0.01, 0.98, 0.01"), "asia", "expected 2"),
    ("missing_row", _sub(ASIA, "(no) 0.01, 0.99;\n}\nprobability ( smoke )",
                         "}\nprobability ( smoke )"), "tub", "parent rows are missing"),
    ("duplicate_row", _sub(ASIA, "(no) 0.01, 0.99;\n}\nprobability ( smoke )",
                           "(no) 0.01, 0.99;\n  (no) 0.5, 0.5;\n}\nprobability ( smoke )"), "tub",
     "given twice"),
    ("unknown_parent_state", _sub(ASIA, "(yes) 0.05, 0.95", "(maybe) 0.05, 0.95"), "tub",
     "unknown state 'maybe'"),
    ("parent_state_count", _sub(ASIA, "(yes) 0.05, 0.95", "(yes, no) 0.05, 0.95"), "tub",
     "2 parent state(s), expected 1"),
    ("duplicate_states", _sub(ASIA, "variable asia {\n  type discrete [ 2 ] { yes, no }",
                              "variable asia {\n  type discrete [ 2 ] { yes, yes }"), "asia",
     "duplicate state"),
    ("state_count_mismatch", _sub(ASIA, "variable asia {\n  type discrete [ 2 ] { yes, no }",
                                  "variable asia {\n  type discrete [ 3 ] { yes, no }"), "asia",
     "declares 3 states but lists 2"),
    ("empty_state", _sub(ASIA, "variable asia {\n  type discrete [ 2 ] { yes, no }",
                         "variable asia {\n  type discrete [ 2 ] { yes, }"), "asia", "empty state"),
    ("no_type", _sub(ASIA, "variable asia {\n  type discrete [ 2 ] { yes, no };",
                     "variable asia {\n  property x;"), "asia", "no 'type discrete"),
    ("duplicate_variable", _sub(ASIA, "variable asia {", "variable asia {\n  type discrete [ 2 ] "
                                "{ no, yes };\n}\nvariable asia {"), "asia", "second 'variable' block"),
    ("duplicate_probability", ASIA + "probability ( asia ) {\n  table 0.5, 0.5;\n}\n", "asia",
     "second 'probability' block"),
    ("undeclared_node", ASIA + "probability ( ghost ) {\n  table 0.5, 0.5;\n}\n", "ghost",
     "undeclared variable"),
    ("undeclared_parent", _sub(ASIA, "probability ( tub | asia )", "probability ( tub | asya )"),
     "tub", "undeclared parent"),
    ("no_table", _sub(ASIA, "probability ( asia ) {\n  table 0.01, 0.99;\n}\n", ""), "asia",
     "no probability table"),
    ("unknown_block", ASIA + "potential ( x ) {\n}\n", None, "unknown block"),
    ("row_sum", _sub(ASIA, "table 0.5, 0.5", "table 0.5, 0.6"), "smoke", "sums to"),
    ("long_garbage", "x" * 100_000, None, "xxx...xxx"),
]


@pytest.mark.parametrize("text, node, fragment", [c[1:] for c in BIF_CASES],
                         ids=[c[0] for c in BIF_CASES])
def test_bad_bif_names_file_and_node(tmp_path, text, node, fragment):
    path = tmp_path / "net.bif"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    with pytest.raises(NetworkSpecError) as info:
        bayesdx.load_network(path, targets=["lung"])
    message = str(info.value)
    assert str(path) in message and fragment in message, message
    if node is not None:
        assert any(n == node for _, n, _ in info.value.problems), info.value.problems
        assert f"node '{node}'" in message
    assert len(message) < 3000, "messages are bounded"


def test_duplicate_variable_with_reordered_states_is_not_silent(tmp_path):
    """pgmpy keeps the later block; the state order would silently change."""
    text = _sub(ASIA, "variable lung {", "variable lung {\n  type discrete [ 2 ] { no, yes };\n}\n"
                "variable lung {")
    path = tmp_path / "dup.bif"
    path.write_text(text)
    with pytest.raises(NetworkSpecError, match="node 'lung'.*second 'variable' block"):
        bayesdx.load_network(path, targets=["lung"])


OTHER_FORMAT_CASES = [
    ("xmlbif_empty", "net.xmlbif", "", None, "empty"),
    ("xmlbif_no_nodes", "net.xmlbif", "<BIF VERSION='0.3'><NETWORK><NAME>x</NAME></NETWORK></BIF>",
     None, "no nodes"),
    ("xmlbif_truncated", "net.xmlbif", "<BIF VERSION='0.3'><NETWORK><NAME>x</NAME>", None,
     "could not read"),
    ("xmlbif_deep", "net.xmlbif", "<a>" * 100_000 + "</a>" * 100_000, None, "net.xmlbif"),
    ("uai_empty", "net.uai", "\n", None, "empty"),
    ("uai_garbage", "net.uai", "BAYES\nnot numbers\n", None, "net.uai"),
    ("net_latin1", "net.net", "net { label = \"caf\xe9\"; }".encode("latin-1"), None, "not UTF-8"),
    ("unknown_suffix", "net.txt", "hello", None, "unknown file type"),
]


@pytest.mark.parametrize("name, text, node, fragment", [c[1:] for c in OTHER_FORMAT_CASES],
                         ids=[c[0] for c in OTHER_FORMAT_CASES])
def test_bad_foreign_files_of_other_formats(tmp_path, name, text, node, fragment):
    path = tmp_path / name
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    with pytest.raises(NetworkSpecError) as info:
        bayesdx.load_network(path, targets=["x"])
    message = str(info.value)
    assert name in message and fragment in message, message
    assert len(message) < 3000


def test_real_bif_files_pass_the_scan():
    from bayesdx._bifscan import scan_bif

    for name in ("asia", "alarm", "hepar2"):
        assert scan_bif((DATA / f"{name}.bif").read_text(), name) == []


# -- hostile YAML -----------------------------------------------------------------------------
def _bomb(levels: int) -> str:
    out = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    names = "abcdefghijk"
    for x, y in zip(names[1:levels + 1], names[:levels]):
        out += f"{x}: &{x} [" + ",".join([f"*{y}"] * 9) + "]\n"
    return "format: bayesdx/1\nx-bomb:\n" + "".join("  " + line + "\n" for line in out.splitlines())


def _with_bomb(levels: int, old: str, new: str) -> str:
    return _sub(_sub(TWO, old, new), "format: bayesdx/1\n", _bomb(levels))


YAML_CASES = [
    ("bomb_9_levels", _with_bomb(8, 'title: "Two-disease teaching example"', "title: *i"), None,
     "expands (through its aliases)"),
    ("bomb_title", _with_bomb(5, 'title: "Two-disease teaching example"', "title: *f"), None,
     "title: expected non-empty text"),
    ("bomb_states", _with_bomb(5, 'states: ["no", "yes"]', "states: *f"), "smoker",
     "must be a string identifier"),
    ("bomb_label", _with_bomb(5, 'label: "Smoker"', "label: *f"), "smoker", "label: expected"),
    ("bomb_ref", _with_bomb(5, "ref: EX\n", "ref: *f\n"), "smoker", "ref must be"),
    ("bomb_key", _with_bomb(5, "  smoker:\n", "  *f :\n"), None, "unhashable key"),
    ("recursive_alias", "format: bayesdx/1\nx: &x [1, *x]\n", None, "refers to the value"),
    ("deep_lists", "a: " + "[" * 50_000 + "]" * 50_000 + "\n", None, "nested too deeply"),
    ("deep_maps", "a: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n", None, "nested too deeply"),
    ("empty", "", None, "must be a YAML mapping"),
    ("latin1", _sub(TWO, "Influenza", "Influ\xe9nza").encode("latin-1"), None, "not UTF-8"),
    ("long_node_name", _sub(TWO, "  smoker:\n", "  " + "s" * 200_000 + ":\n"), None, "invalid YAML"),
    ("long_bad_name", _sub(TWO, "  smoker:\n", '  "' + "9" * 200_000 + 'x":\n'), None, "invalid YAML"),
    ("long_explicit_key", _sub(TWO, "  smoker:\n", "  ? " + "9" * 200_000 + "x\n  :\n"), None,
     "999...999"),
    ("long_state", _sub(TWO, 'states: ["no", "yes"]', 'states: ["no", "' + "y" * 200_000 + '"]'),
     "smoker", "[...]"),
    ("long_text_key", _sub(TWO, 'label: "Smoker"', 'label: "Smoker"\n    ' + "k" * 200_000 + ": 1"),
     None, "invalid YAML"),
    ("long_title", _sub(TWO, 'title: "Two-disease teaching example"', "title: [" + "1," * 100_000 + "]"),
     None, "title: expected non-empty text"),
]


@pytest.mark.parametrize("text, node, fragment", [c[1:] for c in YAML_CASES],
                         ids=[c[0] for c in YAML_CASES])
def test_hostile_yaml_is_refused_fast_and_bounded(tmp_path, text, node, fragment):
    path = tmp_path / "net.yaml"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    start = time.perf_counter()
    with pytest.raises(NetworkSpecError) as info:
        bayesdx.load_network(path)
    assert time.perf_counter() - start < 20
    message = str(info.value)
    assert str(path) in message and fragment in message, message
    assert len(message) < 8000
    if node is not None:
        assert any(n == node for _, n, _ in info.value.problems), info.value.problems


def test_yaml_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    import bayesdx.spec

    monkeypatch.setattr(bayesdx.spec, "MAX_YAML_BYTES", 1000)
    path = tmp_path / "big.yaml"
    path.write_text(TWO)
    with pytest.raises(NetworkSpecError, match=r"big\.yaml.*over the limit of 1,000"):
        bayesdx.load_network(path)


def test_many_problems_are_listed_up_to_a_cap():
    err = NetworkSpecError([("f.yaml", f"n{i}", "bad") for i in range(500)])
    assert len(err.problems) == 500
    assert "and 460 more" in str(err) and str(err).count("\n") < 50


@pytest.mark.parametrize("value, most", [("x" * 10**6, 100), (list(range(10**6)), 100),
                                         ({i: i for i in range(10**5)}, 200)],
                         ids=["long_string", "long_list", "big_dict"])
def test_describe_is_bounded(value, most):
    from bayesdx._sources import _describe

    assert len(_describe(value)) <= most


# -- immutability -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two():
    return bayesdx.load_network(DATA / "two_disease.yaml")


@pytest.fixture(scope="module")
def asia_net():
    return bayesdx.load_network(DATA / "asia.bif", targets=["lung", "tub"])


def test_cpt_arrays_are_read_only(two, asia_net):
    for net in (two, asia_net):
        for node, table in net.arrays.cpts.items():
            assert not table.flags.writeable, node
            with pytest.raises(ValueError, match="read-only"):
                table[...] = 0.5


ACCESSORS = [
    ("ranking", lambda dx: dx.ranking),
    ("joint", lambda dx: dx.joint()),
    ("marginal_target", lambda dx: dx.marginal("flu")),
    ("marginal_finding", lambda dx: dx.marginal("fever")),
    ("prior", lambda dx: dx.prior("flu")),
    ("to_frame", lambda dx: dx.to_frame()),
    ("probability_not_reference", lambda dx: dx.probability_not_reference()),
    ("what_if", lambda dx: dx.what_if("fever")),
]


@pytest.mark.parametrize("get", [a[1] for a in ACCESSORS], ids=[a[0] for a in ACCESSORS])
def test_results_are_copies(two, get):
    dx = bayesdx.diagnose(two, evidence={"smoker": "yes"})
    first = get(dx)
    expected = first.copy()
    if first.ndim == 1:
        first.iloc[:] = -1.0
    else:
        first.loc[:, first.select_dtypes("number").columns] = -1.0
    assert not get(dx).equals(first)
    assert get(dx).equals(expected)


def test_evidence_is_read_only(two):
    dx = bayesdx.diagnose(two, evidence={"smoker": "yes"})
    with pytest.raises(TypeError):
        dx.evidence["smoker"] = "no"


@pytest.mark.parametrize("fmt", ["bif", "xmlbif"])
def test_export_ignores_edits_of_the_pgmpy_model(tmp_path, asia_net, fmt):
    """After editing ``net.model``, the export must still be the tables diagnose uses."""
    cpd = asia_net.model.get_cpds("asia")
    cpd.values = cpd.values[::-1].copy()
    path = tmp_path / f"out.{fmt}"
    (asia_net.to_bif if fmt == "bif" else asia_net.to_xmlbif)(path)
    again = bayesdx.load_network(path, targets=["lung", "tub"])
    for node in asia_net.nodes:
        np.testing.assert_array_equal(again.arrays.cpts[node], asia_net.arrays.cpts[node], err_msg=node)
    asia_net._cache.pop("model", None)  # leave the module fixture clean


# -- command line -------------------------------------------------------------------------------
BAD_OPTIONS = [
    ("top_zero", ["diagnose", "--top", "0"], "--top"),
    ("top_negative", ["diagnose", "--top", "-3"], "--top"),
    ("top_text", ["diagnose", "--top", "ten"], "--top"),
    ("top_float", ["diagnose", "--top", "2.5"], "--top"),
    ("demo_top_zero", ["demo", "--top", "0"], "--top"),
    ("demo_top_negative", ["demo", "--top", "-1"], "--top"),
    ("alpha_negative", ["diagnose", "--alpha", "-1"], "--alpha"),
    ("alpha_nan", ["diagnose", "--alpha", "nan"], "--alpha"),
    ("alpha_inf", ["diagnose", "--alpha", "inf"], "--alpha"),
    ("same_decision_above_1", ["diagnose", "--same-decision", "1.5"], "--same-decision"),
    ("same_decision_zero", ["diagnose", "--same-decision", "0"], "--same-decision"),
    ("same_decision_nan", ["diagnose", "--same-decision", "nan"], "--same-decision"),
    ("min_gain_negative", ["diagnose", "--min-gain", "-0.1"], "--min-gain"),
    ("min_gain_inf", ["diagnose", "--min-gain", "inf"], "--min-gain"),
    ("plan_horizon_zero", ["plan", "--horizon", "0"], "--horizon"),
    ("plan_max_states_negative", ["plan", "--max-states", "-5"], "--max-states"),
    ("plan_time_limit_zero", ["plan", "--time-limit", "0"], "--time-limit"),
    ("plan_time_limit_nan", ["plan", "--time-limit", "nan"], "--time-limit"),
    ("plan_depth_negative", ["plan", "--depth", "-1"], "--depth"),
]


@pytest.mark.parametrize("argv, option", [c[1:] for c in BAD_OPTIONS], ids=[c[0] for c in BAD_OPTIONS])
def test_cli_rejects_bad_numbers_in_one_line(capsys, argv, option):
    from bayesdx.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"argument {option}" in err and "Traceback" not in err, err


@pytest.mark.parametrize("make", ["file", "file_child"], ids=["plots_is_a_file", "plots_under_a_file"])
def test_cli_unwritable_plots_directory(tmp_path, capsys, make):
    from bayesdx.cli import main

    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    target = blocker if make == "file" else blocker / "figures"
    assert main(["demo", "--top", "1", "--plots", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write" in err and str(blocker) in err, err


def test_cli_closed_pipe_exits_quietly():
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "bayesdx.cli", "networks"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader went away (as `| head -0` does) before anything was written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 2
    assert err.count("\n") == 1 and "broken pipe" in err and "Traceback" not in err, err


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")], ids=["nan", "inf", "-inf"])
def test_json_is_always_valid(value):
    import json

    from bayesdx.cli import dumps_json

    text = dumps_json({"a": value, "b": [1.0, np.float64(value)], "c": {"d": (value,)}})
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data["a"] is None and data["b"] == [1.0, None] and data["c"]["d"] == [None]
    assert data["non_finite"]["values"][0].startswith("$.a")


def test_cli_json_of_a_diagnosis_is_strict_json(capsys):
    import json

    from bayesdx.cli import main

    assert main(["diagnose", "--network", str(DATA / "two_disease.yaml"), "--json"]) == 0
    text = capsys.readouterr().out
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


@pytest.mark.parametrize("top", [0, -3, 2.5, True, "3", None], ids=["zero", "negative", "float", "bool",
                                                                   "string", "none"])
def test_plot_ranking_rejects_bad_top(two, top):
    from bayesdx.plotting import plot_ranking

    dx = bayesdx.diagnose(two)
    with pytest.raises(bayesdx.InvalidParameterError, match=r"'top' parameter of plot_ranking"):
        plot_ranking(dx, top=top)


def test_format_diagnosis_rejects_bad_top(two):
    from bayesdx.cli import format_diagnosis

    with pytest.raises(bayesdx.InvalidParameterError, match=r"'top' parameter of format_diagnosis"):
        format_diagnosis(bayesdx.diagnose(two), top=0)


# -- foreign networks: the healthy (reference) state ----------------------------------------------
MULTI = """network m {
}
variable Fault {
  type discrete [ 3 ] { flu, cold, covid };
}
variable Sex {
  type discrete [ 2 ] { female, male };
}
variable Cough {
  type discrete [ 2 ] { yes, no };
}
probability ( Fault ) {
  table 0.2, 0.7, 0.1;
}
probability ( Sex ) {
  table 0.5, 0.5;
}
probability ( Cough | Fault ) {
  (flu) 0.8, 0.2;
  (cold) 0.6, 0.4;
  (covid) 0.7, 0.3;
}
"""


@pytest.fixture
def multi_path(tmp_path):
    path = tmp_path / "multi.bif"
    path.write_text(MULTI)
    return path


def test_target_without_healthy_state_is_left_out_with_a_warning(multi_path):
    net = bayesdx.load_network(multi_path, targets=["Fault", "Cough"])
    assert not net.has_reference_state("Fault") and net.has_reference_state("Cough")
    with pytest.warns(bayesdx.exceptions.NoReferenceStateWarning, match="'Fault'.*reference_states"):
        summary = bayesdx.diagnose(net).probability_not_reference()
    assert list(summary.index) == ["Cough"] and np.isfinite(summary).all()


def test_reference_states_names_the_healthy_state(multi_path):
    import warnings

    net = bayesdx.load_network(multi_path, targets=["Fault"], reference_states={"Fault": "cold"})
    assert net.reference_state("Fault") == "cold" and net.has_reference_state("Fault")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = bayesdx.diagnose(net).probability_not_reference()
    assert summary["Fault"] == pytest.approx(0.3, abs=1e-12)
    # carried by derived networks
    assert net.with_targets(["Fault", "Sex"]).reference_state("Fault") == "cold"
    assert net.with_engine("enumeration").reference_state("Fault") == "cold"
    again = bayesdx.load_network(net, reference_states={"Sex": "male"})
    assert again.reference_states == {"Fault": "cold", "Sex": "male"}


BAD_REFERENCES = [
    ("unknown_node", {"Falt": "cold"}, bayesdx.UnknownNodeError, r"'Falt'.*Did you mean 'Fault'"),
    ("unknown_state", {"Fault": "colds"}, bayesdx.UnknownStateError, r"'colds' for node 'Fault'.*'cold'"),
    ("state_not_text", {"Fault": 1}, bayesdx.InvalidEvidenceError, r"'Fault'"),
    ("not_a_mapping", ["Fault"], bayesdx.InvalidEvidenceError, r"reference_states must be a mapping"),
    ("long_state", {"Fault": "c" * 10_000}, bayesdx.UnknownStateError, r"\.\.\."),
]


@pytest.mark.parametrize("given, error, pattern", [c[1:] for c in BAD_REFERENCES],
                         ids=[c[0] for c in BAD_REFERENCES])
def test_bad_reference_states(multi_path, given, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        bayesdx.load_network(multi_path, targets=["Fault"], reference_states=given)
    assert len(str(info.value)) < 1000


def test_cli_shows_every_state_of_a_target_without_healthy_state(multi_path, capsys):
    from bayesdx.cli import main

    assert main(["diagnose", "--network", str(multi_path), "--target", "Fault", "--top", "1"]) == 0
    out = capsys.readouterr().out
    import re

    assert all(re.search(rf"^ +{s} +\d+\.\d%", out, re.M) for s in ("flu", "cold", "covid")), out
    assert main(["diagnose", "--network", str(multi_path), "--target", "Fault", "--names"]) == 0
    out = capsys.readouterr().out
    assert all(f"Fault = {s}" in out for s in ("flu", "cold", "covid")), out


# -- bounds -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def alarm():
    return bayesdx.load_network(DATA / "alarm.bif", targets=["HYPOVOLEMIA"])


def _alarm_roots(net):
    return [n for n in net.nodes if not net.parents(n)]


TOO_LARGE = [
    ("all_37_alarm_nodes", lambda net: list(net.nodes)),
    ("all_but_one", lambda net: list(net.nodes)[:-1]),
    ("thirty_nodes", lambda net: list(net.nodes)[:30]),
]


@pytest.mark.parametrize("pick", [c[1] for c in TOO_LARGE], ids=[c[0] for c in TOO_LARGE])
def test_target_sets_over_the_budget_are_refused_before_work(alarm, pick):
    targets = pick(alarm)
    start = time.perf_counter()
    with pytest.raises(bayesdx.StateSpaceTooLargeError, match=r"'alarm' with \d+ targets") as info:
        bayesdx.load_network(alarm, targets=targets)
    assert time.perf_counter() - start < 5
    err = info.value
    assert err.cells > err.budget == bayesdx.inference.MAX_QUERY_CELLS
    assert f"{err.cells:,}" in str(err) and f"{err.budget:,}" in str(err) and targets[0] in str(err)
    assert isinstance(err, ValueError)


def test_budget_is_configurable_and_small_target_sets_pass(alarm, monkeypatch):
    import bayesdx.network

    assert bayesdx.load_network(alarm, targets=_alarm_roots(alarm)[:3]).targets
    monkeypatch.setattr(bayesdx.inference, "MAX_QUERY_CELLS", 10)
    with pytest.raises(bayesdx.StateSpaceTooLargeError, match="over the budget of 10 cells"):
        bayesdx.load_network(alarm, targets=["HYPOVOLEMIA"])


def test_every_public_name_exists():
    for name in bayesdx.__all__:
        assert hasattr(bayesdx, name), name
