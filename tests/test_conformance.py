"""A battery every network file must pass, the bundled ones in networks/ and the YAML fixtures in
tests/data/ (bayesdx/1 and bayesdx/2 alike): it loads, every number is sourced with a grade and a
range, the no-evidence posterior of each root equals its table, odds targets have their stated
marginal, and a BIF/XMLBIF round trip is exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pgmpy.readwrite import BIFReader, XMLBIFReader

import bayesdx
from bayesdx.network import arrays_from_pgmpy

BUNDLED_FILES = sorted((Path(__file__).parent.parent / "networks").glob("*.yaml"))
NETWORK_FILES = BUNDLED_FILES + sorted((Path(__file__).parent / "data").glob("*.yaml"))


def test_the_battery_has_networks_to_check():
    assert BUNDLED_FILES, "networks/ holds no .yaml network"
    assert {p.stem for p in BUNDLED_FILES} <= set(bayesdx.bundled_networks())
    formats = {bayesdx.load_network(p).spec.format for p in NETWORK_FILES}
    assert formats == {"bayesdx/1", "bayesdx/2"}, "the battery must cover both file formats"


@pytest.fixture(scope="module", params=NETWORK_FILES,
                ids=[f"{p.parent.name}/{p.stem}" for p in NETWORK_FILES])
def network(request):
    return bayesdx.load_network(request.param)


def test_loads_into_a_valid_pgmpy_model(network):
    assert network.model.check_model()
    for node in network.nodes:
        table = network.arrays.cpts[node]
        np.testing.assert_allclose(table.sum(axis=-1), 1.0, atol=1e-12)


def test_every_number_is_sourced(network):
    params = network.parameters()
    spec = network.spec
    assert spec.population and spec.references
    for column in ("ref", "locator", "grade"):
        assert params[column].map(lambda v: isinstance(v, str) and v.strip() != "").all(), column
    assert set(params["grade"]) <= {"measured", "derived", "secondary", "expert"}
    cpt_params = params[params["node"].isin(network.nodes)]
    assert set(cpt_params["node"]) == set(network.nodes), "a node without sourced parameters"
    for ref in {r.strip() for refs in params["ref"] for r in refs.split(",")}:
        assert ref in spec.references
    ranged = params.dropna(subset=["range_low"])
    assert ((ranged["range_low"] <= ranged["value"] + 1e-12) & (ranged["value"] <= ranged["range_high"] + 1e-12)).all()
    # every single number has a range, every distribution on all of its states but at most one
    for (node, where), group in params.groupby(["node", "where"]):
        if len(group) == 1:
            assert group["range_low"].notna().all() and group["range_high"].notna().all(), (node, where)
        assert group["range_low"].isna().sum() <= 1, (node, where)
        assert (group["range_low"].isna() == group["range_high"].isna()).all(), (node, where)


def test_findings_have_kind_cost_and_invasiveness(network):
    for node in network.nodes:
        spec = network.spec.nodes[node]
        if spec.role == "finding":
            assert spec.kind and spec.cost_usd is not None and spec.invasive is not None, node


def test_no_evidence_posterior_of_roots_equals_prior(network):
    dx = bayesdx.diagnose(network)
    for node in network.nodes:
        if not network.parents(node):
            np.testing.assert_allclose(dx.marginal(node).to_numpy(), network.arrays.cpts[node], atol=1e-12)


def test_odds_targets_have_their_stated_marginal(network):
    dx = bayesdx.diagnose(network)
    params = network.parameters()
    for node in network.targets:
        if network.spec.nodes[node].cpt["type"] != "odds":
            continue
        stated = params[(params["node"] == node) & (params["where"] == "cpt.marginal")].set_index("state")["value"]
        np.testing.assert_allclose(dx.marginal(node).to_numpy(), stated.loc[list(network.states(node))].to_numpy(), atol=1e-10)


@pytest.mark.parametrize("fmt,reader", [("bif", BIFReader), ("xmlbif", XMLBIFReader)], ids=["bif", "xmlbif"])
def test_round_trip_is_exact(network, tmp_path, fmt, reader):
    path = tmp_path / f"{network.name}.{fmt}"
    getattr(network, f"to_{fmt}")(path)
    back = arrays_from_pgmpy(reader(str(path)).get_model())
    assert set(back.nodes) == set(network.nodes)
    for node in network.nodes:
        assert back.states[node] == network.arrays.states[node]
        assert back.parents[node] == network.arrays.parents[node]
        np.testing.assert_array_equal(back.cpts[node], network.arrays.cpts[node])
    reloaded = bayesdx.load_network(path, targets=network.targets)
    a = bayesdx.diagnose(network, evidence={})
    b = bayesdx.diagnose(reloaded, evidence={})
    for node in network.targets:
        np.testing.assert_allclose(a.marginal(node).to_numpy(), b.marginal(node).to_numpy(), atol=1e-12)
