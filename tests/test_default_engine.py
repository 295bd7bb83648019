"""The engine a network gets when none is named (bayesdx.engines.default_engine): the numpy
junction tree, or the compiled engine once the clique tables would take gigabytes."""

from __future__ import annotations

import numpy as np
import pytest

import bayesdx
from bayesdx import _triangulate as tri
from bayesdx import engines
from bayesdx.network import Network

from test_compiled import random_network


def total_clique_size(arrays) -> int:
    index = {n: i for i, n in enumerate(arrays.nodes)}
    cards = [arrays.card(n) for n in arrays.nodes]
    adj = tri.moral_graph([[index[p] for p in arrays.parents[n]] for n in arrays.nodes])
    return min(tri.best_triangulation(adj, cards)[2].values())


def test_bundled_network_uses_the_numpy_engine():
    net = bayesdx.load_network("fasciculation")
    assert net.engine_name == "jtree"
    assert type(net.engine).__name__ == "JunctionTreeEngine"
    assert "engine='jtree'" in repr(net)


@pytest.mark.parametrize("seed", [3, 11])
def test_large_clique_tables_choose_the_compiled_engine(monkeypatch, seed):
    arrays = random_network(seed, 9, max_card=3)
    size = total_clique_size(arrays)
    targets = [arrays.nodes[0]]
    monkeypatch.setattr(engines, "LEAN_ABOVE_ENTRIES", size - 1)
    lean = Network(arrays, name="big", targets=targets)
    assert lean.engine_name == "compiled"
    monkeypatch.setattr(engines, "LEAN_ABOVE_ENTRIES", size)
    assert Network(arrays, name="small", targets=targets).engine_name == "jtree"
    # a named engine is kept whatever the size, and the answers agree with the numpy engine
    monkeypatch.setattr(engines, "LEAN_ABOVE_ENTRIES", 0)
    named = Network(arrays, name="named", targets=targets, engine="jtree")
    assert named.engine_name == "jtree"
    evidence = {arrays.nodes[-1]: 0}
    tests = [n for n in arrays.nodes if n not in targets and n not in evidence]
    a = lean.engine.joint_query(evidence, targets, tests)
    b = named.engine.joint_query(evidence, targets, tests)
    np.testing.assert_allclose(a.target_joint, b.target_joint, atol=1e-12)
    for n in tests:
        np.testing.assert_allclose(a.node_joints[n], b.node_joints[n], atol=1e-12)


def test_unknown_engine_is_named():
    arrays = random_network(1, 4)
    with pytest.raises(ValueError, match="Unknown engine 'jtre'.*jtree"):
        Network(arrays, name="x", targets=[arrays.nodes[0]], engine="jtre")
