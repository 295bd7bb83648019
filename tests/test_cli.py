"""The bayesdx command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bayesdx.cli import DISCLAIMER, main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def flat(text: str) -> str:
    """Text with its wrapping undone (every run of white space one blank)."""
    return " ".join(text.split())


def test_diagnose_table(capsys, data_dir):
    code, out, err = run(capsys, "diagnose", "--network", str(data_dir / "two_disease.yaml"),
                         "--evidence", "fever=present", "-e", "smoker=yes")
    assert code == 0, err
    assert DISCLAIMER in flat(out)
    import bayesdx

    net = bayesdx.load_network(data_dir / "two_disease.yaml")
    expected = bayesdx.diagnose(net, evidence={"fever": "present", "smoker": "yes"})
    assert net.label("flu") in out and net.label("bronchitis") in out
    label = expected.ranking["label"].iloc[0]
    assert f"Next order by {expected.objective.describe()}: {label}" in flat(out)
    assert f"{expected.ranking['info_gain_bits'].iloc[0]:.4f}" in out
    assert "Advice: " in out


def test_diagnose_json(capsys, data_dir):
    code, out, _ = run(capsys, "diagnose", "--network", str(data_dir / "asia.bif"), "--target", "lung", "tub",
                       "--evidence", "xray=yes", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data["posteriors"]) == {"lung", "tub"}
    assert abs(sum(data["posteriors"]["lung"].values()) - 1) < 1e-12
    assert data["next_test"] == data["ranking"][0]["order"]
    assert all(r["order"] != "xray" for r in data["ranking"])
    assert data["ranking"][0]["cost_usd"] is None
    assert data["objective"]["kind"] == "information" and data["by"] == "order"
    assert set(data["stop"]) == {"should_stop", "rule", "reason"}
    assert "thresholds" not in data  # asia has no decision model


@pytest.mark.parametrize("argv,pattern", [
    (["diagnose", "--evidence", "ck=gt1000"], "Unknown state 'gt1000'.*Did you mean 'gt_1000'"),
    (["diagnose", "--evidence", "ckk=gt_1000"], "Unknown node 'ckk'.*Did you mean 'ck'"),
    (["diagnose", "--evidence", "ck"], "node=state"),
    (["diagnose", "--network", "tests/data/asia.bif"], "Pass targets"),
    (["diagnose", "--network", "nosuch"], "No bundled network named 'nosuch'"),
], ids=["state", "node", "syntax", "no-targets", "no-network"])
def test_errors_exit_2_with_a_message(capsys, argv, pattern):
    import re

    code, out, err = run(capsys, *argv)
    assert code == 2
    assert re.search(pattern, err), err
    assert "Traceback" not in err


def test_diagnose_objectives_and_explain(capsys, data_dir):
    path = str(data_dir / "two_disease_orders.yaml")
    code, out, err = run(capsys, "diagnose", "--network", path, "-e", "smoker=yes",
                         "--explain", "blood_panel")
    assert code == 0, err
    assert DISCLAIMER in flat(out) and "Actions, taken when" in out and "Why Blood panel" in out
    assert "decision value" in out and "Advice: " in out
    code, out, err = run(capsys, "diagnose", "--network", path, "--objective", "cost",
                         "--alpha", "0.01", "--by", "node", "--json", "--explain", "crp")
    assert code == 0, err
    data = json.loads(out)
    assert data["objective"]["kind"] == "cost" and data["by"] == "node"
    assert data["ranking"][0]["test"] == data["next_test"]
    assert data["explain"]["order"] == "crp" and data["thresholds"][0]["action"] == "antiviral"
    assert abs(sum(o["p_outcome"] for o in data["explain"]["outcomes"]) - 1) < 1e-12
    assert data["disclaimer"] == DISCLAIMER
    code, out, err = run(capsys, "diagnose", "--network", path, "--focus", "flu", "--json",
                         "--min-gain", "5")
    data = json.loads(out)
    assert data["objective"]["kind"] == "focus" and data["stop"]["should_stop"]


@pytest.mark.parametrize("argv,pattern", [
    (["--objective", "cost"], "needs --alpha"),
    (["--objective", "focus"], "needs --focus"),
    (["--alpha", "0.1", "--objective", "decision"], "--alpha goes with --objective cost"),
    (["--focus", "flu", "--objective", "information"], "--focus goes with --objective focus"),
    (["--focus", "flu=x"], "weight must be a number"),
    (["--focus", "flue"], "Did you mean 'flu'"),
    (["--explain", "blood_panle"], "Unknown order 'blood_panle'.*Did you mean 'blood_panel'"),
], ids=["cost", "focus", "alpha", "focus-other", "weight", "focus-typo", "explain"])
def test_objective_errors_exit_2(capsys, data_dir, argv, pattern):
    import re

    code, _, err = run(capsys, "diagnose", "--network", str(data_dir / "two_disease_orders.yaml"),
                       *argv)
    assert code == 2 and re.search(pattern, err), err


def test_networks_lists_bundled(capsys):
    code, out, _ = run(capsys, "networks")
    assert code == 0 and "fasciculation" in out and "population" in out


def test_demo_shows_six_posteriors_and_a_next_test(capsys):
    code, out, _ = run(capsys, "demo")
    assert code == 0
    import bayesdx

    net = bayesdx.load_network("fasciculation")
    for target in net.targets:
        assert net.label(target) in flat(out)
    assert "Next order by " in out and "Advice: " in out
    assert DISCLAIMER in flat(out)


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "bayesdx.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("bayesdx ")
