"""The compiled engine's evidence trees (:mod:`bayesdx._evidencetree`): junction trees
triangulated for one pattern of evidence.

Oracles: brute-force enumeration of the joint (:class:`~bayesdx.inference.EnumerationEngine`)
on random networks, by hand-picked cases and by Hypothesis; the numpy engine and the compiled
engine's own tree on MUNIN (1,041 nodes). Each test checks that the evidence tree really
answered (``evidence_tree_queries``), so a path that silently fell back cannot pass.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_compiled import TOL, assert_same_joint, forward_sample, network_pair, random_network
from test_jtree import bif_arrays

from bayesdx import _evidencetree
from bayesdx.compiled import CompiledEngine
from bayesdx.inference import EnumerationEngine, ZeroProbabilityEvidence
from bayesdx.jtree import JunctionTreeEngine


def mutual_information_bits(joint: np.ndarray) -> float:
    """I(targets ; X) from P(targets, X) (targets flattened first), by its definition."""
    p = joint.reshape(-1, joint.shape[-1])
    outer = p.sum(axis=1, keepdims=True) * p.sum(axis=0, keepdims=True)
    mask = p > 0
    return float((p[mask] * np.log2(p[mask] / outer[mask])).sum())


def check_against_enumeration(arrays, evidence, targets):
    """An evidence-tree answer equals enumeration (or both refuse the evidence), its gains their
    definition; returns whether the evidence tree answered."""
    engine, oracle = CompiledEngine(arrays, evidence_trees="always", table_max_entries=0), EnumerationEngine(arrays)
    nodes = [v for v in arrays.nodes if v not in targets and v not in evidence]
    if not oracle._restricted(evidence).sum() > 0:  # P(evidence) = 0, by enumeration
        with pytest.raises(ZeroProbabilityEvidence):
            engine.joint_query(evidence, targets, nodes)
        return False
    want, got = oracle.joint_query(evidence, targets, nodes), engine.joint_query(evidence, targets, nodes)
    assert got.prob_evidence == pytest.approx(want.prob_evidence, rel=1e-11)
    gains = got.information_gains_bits()
    for n, joint in [(None, want.target_joint), *want.node_joints.items()]:
        np.testing.assert_allclose(got.node_joints[n] if n else got.target_joint, joint, atol=TOL, rtol=0, err_msg=n)
        if n:
            assert gains[n] == pytest.approx(mutual_information_bits(joint), abs=1e-10), n
    return engine.evidence_tree_queries == 1


def test_random_networks_match_enumeration():
    answered = refused = 0
    for seed in range(300, 360):
        rng = np.random.default_rng(seed)
        arrays = random_network(seed, int(rng.integers(2, 9)), zero_rate=(0.0, 0.2, 0.4)[seed % 3])
        nodes = list(arrays.nodes)
        evidence = {v: int(rng.integers(arrays.card(v))) for v in nodes if rng.random() < 0.4}
        free = [v for v in nodes if v not in evidence]
        targets = [v for v in free if rng.random() < 0.4][:3]  # none, one or several targets
        if check_against_enumeration(arrays, evidence, targets):
            answered += 1
        else:
            refused += 1
    assert answered >= 40 and refused > 0  # both paths were taken


def test_random_networks_match_the_numpy_engine_and_the_network_tree():
    for seed in range(400, 430):
        rng = np.random.default_rng(seed)
        arrays = random_network(seed, int(rng.integers(3, 12)), zero_rate=0.1)
        engine = CompiledEngine(arrays, evidence_trees="always", table_max_entries=0)
        reference = JunctionTreeEngine(arrays)
        own = CompiledEngine(arrays, evidence_trees="never", table_max_entries=0)
        nodes = list(arrays.nodes)
        for _ in range(3):
            evidence = {v: int(rng.integers(arrays.card(v))) for v in nodes if rng.random() < 0.3}
            targets = [v for v in nodes if v not in evidence][:2]
            read = [v for v in nodes if v not in evidence and v not in targets]
            got = assert_same_joint(engine, reference, evidence, targets, read)
            if got is not None:
                assert_same_joint(own, engine, evidence, targets, read)
    assert engine.evidence_tree_queries > 0 and own.evidence_tree_queries == 0


@st.composite
def cases(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(1, 8))
    arrays = random_network(seed, n, max_card=3, zero_rate=draw(st.sampled_from([0.0, 0.3])))
    observed = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    states = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    evidence = {v: s % arrays.card(v) for v, o, s in zip(arrays.nodes, observed, states) if o}
    free = [v for v in arrays.nodes if v not in evidence]
    k = draw(st.integers(0, min(3, len(free))))
    return arrays, evidence, free[:k]


@given(cases())
@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
def test_property_every_evidence_tree_answer_is_enumeration(case):
    arrays, evidence, targets = case
    check_against_enumeration(arrays, evidence, targets)


def test_a_query_with_an_observed_target_or_node_keeps_the_network_tree():
    arrays = random_network(7, 8, zero_rate=0.0)
    engine = CompiledEngine(arrays, evidence_trees="always", table_max_entries=0)
    reference = EnumerationEngine(arrays)
    nodes = list(arrays.nodes)
    for evidence, targets, read in [({nodes[0]: 1}, [nodes[0], nodes[1]], nodes[2:5]),  # target observed
                                    ({nodes[2]: 0}, [nodes[0]], nodes[1:5])]:  # read node observed
        got, want = engine.joint_query(evidence, targets, read), reference.joint_query(evidence, targets, read)
        np.testing.assert_allclose(got.target_joint, want.target_joint, atol=TOL)
        for n in read:
            np.testing.assert_allclose(got.node_joints[n], want.node_joints[n], atol=TOL)
    assert engine.evidence_tree_queries == 0
    engine.joint_query({nodes[2]: 0}, [nodes[0]], [nodes[1], nodes[3]])
    assert engine.evidence_tree_queries == 1


def test_the_triangulation_leaves_out_observed_nodes_and_targets():
    """A star: the hub's children are joined through it; observing the hub leaves them apart."""
    from test_compiled import star

    arrays = star(6, np.array([[0.9, 0.1], [0.2, 0.8]]))
    index = {n: i for i, n in enumerate(arrays.nodes)}
    cards = [arrays.card(n) for n in arrays.nodes]
    families = [[*(index[p] for p in arrays.parents[n]), index[n]] for n in arrays.nodes]
    hub = next(n for n in arrays.nodes if not arrays.parents[n])
    leaves = [n for n in arrays.nodes if n != hub]
    tree = _evidencetree.EvidenceTree(arrays.nodes, cards, families, [arrays.cpts[n] for n in arrays.nodes],
                                      [index[hub]], [leaves[0]], leaves[1:]).build()
    # each remaining leaf is alone with the target (clamped, so it adds no entries), where the
    # network's tree sliced by the hub would join them all in one clique through it
    assert tree.entries == 2 * (len(leaves) - 1)
    target = tree.pattern.free[0]
    real = [{v for v in c if tree.cards[v] > 1} for c in tree.plan.cliques]  # not the private ones
    assert len(real) == len(leaves) - 1
    assert all(len(c) == 2 and target in c for c in real)
    assert {v for c in real for v in c} == {target, *(tree.pattern.node_index[n] for n in leaves[1:])}


def test_auto_weighs_evidence_trees_only_where_they_can_pay():
    arrays = bif_arrays("asia")  # small: never weighed
    engine = CompiledEngine(arrays, table_max_entries=0)
    engine.joint_query({"xray": 0}, ["lung"], ["tub", "bronc"])
    assert engine._evtree_mode is None and engine.evidence_tree_queries == 0
    with pytest.raises(ValueError, match="evidence_trees must be"):
        CompiledEngine(arrays, evidence_trees="sometimes")
    with pytest.raises(ValueError, match="evidence_tree_heuristics"):
        CompiledEngine(arrays, evidence_tree_heuristics=("min_degree",))


def test_munin_evidence_trees_match_the_numpy_engine():
    """MUNIN (1,041 nodes, cliques of up to 10^6 entries): the evidence tree answers as the numpy
    engine does."""
    arrays, _, _, reference = network_pair("munin")
    engine = CompiledEngine(arrays, evidence_trees="always")
    rng = np.random.default_rng(11)
    roots = [n for n in arrays.nodes if not arrays.parents[n]]
    target = max(roots, key=lambda n: sum(n in arrays.parents[m] for m in arrays.nodes))
    for share in (0.1, 0.3):
        sample = forward_sample(arrays, rng)
        evidence = {n: sample[n] for n in arrays.nodes if n != target and rng.random() < share}
        read = [n for n in arrays.nodes if n != target and n not in evidence][::5]
        got = assert_same_joint(engine, reference, evidence, [target], read)
        assert got is not None and math.isfinite(got.log_prob_evidence)
    assert engine.evidence_tree_queries == 2


def auto_cases(arrays, rng, n_cases, shares):
    for i in range(n_cases):
        sample = forward_sample(arrays, rng)
        evidence = {n: sample[n] for n in arrays.nodes if rng.random() < shares[i % len(shares)]}
        free = [n for n in arrays.nodes if n not in evidence]
        yield evidence, free[:1], free[1:]


def test_auto_takes_the_tree_with_fewer_entries(monkeypatch):
    """With the weighing's costs set to entry counts (the evidence tree's at 1.2 times the
    network tree's: on hepar2 the evidence trees have 1.1 to 1.5 times fewer entries), ``auto``
    takes an evidence tree exactly when it costs less, and answers as the numpy engine does
    either way."""
    monkeypatch.setattr(_evidencetree, "MIN_ENTRIES", 0)
    monkeypatch.setattr(_evidencetree, "OVERHEAD_ENTRIES", 0)
    monkeypatch.setattr(_evidencetree, "COST_RATIO", 1.2)
    monkeypatch.setattr(_evidencetree, "WEIGH_ENTRIES", 0)  # every win pays for the weighing
    arrays = bif_arrays("hepar2")
    engine, reference = CompiledEngine(arrays, table_max_entries=0), JunctionTreeEngine(arrays)
    assert engine._evtree_mode == "auto"
    rng = np.random.default_rng(5)
    taken = kept = 0
    index = engine._index
    for evidence, targets, read in auto_cases(arrays, rng, 18, (0.05, 0.2, 0.5)):
        before = engine.evidence_tree_queries
        assert_same_joint(engine, reference, evidence, targets, read)
        tree = engine._patterns[(tuple(targets), tuple(read), tuple(evidence))].evidence_tree
        fixed_vars = {index[n] for n in [*evidence, *targets]}
        fixed, floor = _evidencetree._Sums(engine._qplan)(fixed_vars)
        assert fixed == engine._qplan.sliced_size(fixed_vars)
        plan = engine._qplan  # the floor: each clique's largest factor, sliced
        assert floor == sum(max((math.prod(engine._cards[v] for v in plan.factor_vars[f] if v not in fixed_vars)
                                 for f in fs), default=0) for fs in plan.clique_factors)
        candidate = _evidencetree.EvidenceTree(arrays.nodes, engine._cards, engine._families, engine._cpts,
                                               [index[n] for n in evidence], targets, read)
        # weighed only when even the floor (each clique shrunk to its largest sliced CPT) could
        # win; taken when the candidate does
        assert (tree is not None) == (1.2 * floor < fixed and 1.2 * candidate.entries < fixed)
        assert engine.evidence_tree_queries == before + (tree is not None)
        taken += tree is not None
        kept += tree is None
    assert taken > 0 and kept > 0


def test_auto_weighs_less_where_weighing_costs_more_than_it_saves(monkeypatch):
    monkeypatch.setattr(_evidencetree, "MIN_ENTRIES", 0)
    monkeypatch.setattr(_evidencetree, "OVERHEAD_ENTRIES", 0)
    monkeypatch.setattr(_evidencetree, "COST_RATIO", 1.0)
    original = _evidencetree.EvidenceTree
    made = []

    class Counted(_evidencetree.EvidenceTree):
        def __init__(self, *args, **kwargs):
            made.append(1)
            super().__init__(*args, **kwargs)
            self.entries = 10**18  # every candidate loses

    monkeypatch.setattr(_evidencetree, "EvidenceTree", Counted)
    arrays = bif_arrays("hepar2")
    engine = CompiledEngine(arrays, table_max_entries=0)
    rng = np.random.default_rng(6)
    for evidence, targets, read in auto_cases(arrays, rng, 40, (0.2,)):
        engine.joint_query(evidence, targets, read)
    give_up = _evidencetree.GIVE_UP
    # the first GIVE_UP patterns are weighed, then one in GIVE_UP
    assert len(made) == engine._weigher.weighed == give_up + (40 - give_up) // give_up
    assert engine._weigher.cost == len(made) * _evidencetree.WEIGH_ENTRIES * len(arrays.nodes)
    assert engine._weigher.saved == 0
    assert engine.evidence_tree_queries == 0
    # where the evidence trees pay for their weighing, every pattern is weighed
    monkeypatch.setattr(_evidencetree, "EvidenceTree", original)
    monkeypatch.setattr(_evidencetree, "WEIGH_ENTRIES", 0)
    engine = CompiledEngine(arrays, table_max_entries=0)
    for evidence, targets, read in auto_cases(arrays, rng, 12, (0.2,)):
        engine.joint_query(evidence, targets, read)
    assert engine._weigher._passed == 0 and engine._weigher.weighed > _evidencetree.GIVE_UP
    assert engine.evidence_tree_queries > 0 and engine._weigher.saved > engine._weigher.cost == 0


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 24))
    density = draw(st.floats(0.0, 0.5))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    adj = [set() for _ in range(n)]
    for a in range(n):
        for b in range(a + 1, n):
            if rng.random() < density:
                adj[a].add(b)
                adj[b].add(a)
    cards = [int(c) for c in rng.integers(1, 6, n)]
    return adj, cards


@given(graphs(), st.sampled_from(["min_fill", "min_weight", "weighted_min_fill"]))
@settings(max_examples=150, deadline=None, derandomize=True)
def test_property_the_compiled_elimination_is_the_python_one(graph, heuristic):
    """The compiled elimination (:mod:`bayesdx._elimkernel`) chooses the same order and cliques
    as :func:`bayesdx._triangulate.eliminate` (weights here are exact in float64), and its
    cliques make a triangulation: each eliminated vertex's later neighbours form a clique."""
    from bayesdx import _elimkernel
    from bayesdx import _triangulate as tri

    adj, cards = graph
    order, cliques = _elimkernel.eliminate(adj, cards, heuristic)
    assert (order, cliques) == tri.eliminate(adj, cards, heuristic)
    assert sorted(order) == list(range(len(adj)))
    position = {v: i for i, v in enumerate(order)}
    for v, clique in zip(order, cliques):
        assert v in clique and all(position[u] >= position[v] for u in clique)
        assert all(u in clique for u in adj[v] if position[u] > position[v])  # original edges kept
