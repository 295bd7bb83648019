"""The junction tree engine (``bayesdx.jtree``) against the reference engines.

* asia and random small networks (Hypothesis): :class:`EnumerationEngine`, to 1e-9.
* alarm, hepar2, pathfinder: pgmpy ``VariableElimination`` on evidence drawn by forward sampling.
* MUNIN (1041 nodes): compiles, 200 findings give finite posteriors, a few against pgmpy.
* Numerical safety: P(evidence) far below 1e-308 still gives exact posteriors and log P(e).
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayesdx import _triangulate as tri
from bayesdx.engines import ENGINES, PgmpyEngine
from bayesdx.inference import (
    EnumerationEngine,
    JointQuery,
    ModelArrays,
    ZeroProbabilityEvidence,
)
from bayesdx.jtree import JTreeJointQuery, JunctionTreeEngine

DATA = Path(__file__).parent / "data"
TOL = 1e-9

HEPAR2_DISORDERS = ["Cirrhosis", "PBC", "THepatitis", "ChHepatitis", "fibrosis", "Steatosis",
                    "Hyperbilirubinemia", "RHepatitis", "carcinoma"]


# ----------------------------------------------------------------------------- helpers
@functools.cache
def bif_arrays(name: str) -> ModelArrays:
    """A reference network as ModelArrays, CPT rows renormalised (the BIF files round them to
    ~1e-7, and pgmpy's pruning of barren nodes is exact only for normalised rows)."""
    from pgmpy.readwrite import BIFReader

    from bayesdx.network import arrays_from_pgmpy

    arrays = arrays_from_pgmpy(BIFReader(str(DATA / f"{name}.bif")).get_model())
    cpts = {n: t / t.sum(axis=-1, keepdims=True) for n, t in arrays.cpts.items()}
    return replace(arrays, cpts=cpts)


@functools.cache
def jtree(name: str) -> JunctionTreeEngine:
    return JunctionTreeEngine(bif_arrays(name))


@functools.cache
def pgmpy_engine(name: str) -> PgmpyEngine:
    return PgmpyEngine(bif_arrays(name))


def forward_sample(arrays: ModelArrays, rng: np.random.Generator) -> dict[str, int]:
    state: dict[str, int] = {}
    for node in arrays.nodes:
        p = arrays.cpts[node][tuple(state[q] for q in arrays.parents[node])]
        state[node] = int(rng.choice(len(p), p=p / p.sum()))
    return state


def assert_same_query(got: JointQuery, want: JointQuery, nodes):
    assert isinstance(got, JointQuery)
    assert got.targets == want.targets
    assert got.prob_evidence == pytest.approx(want.prob_evidence, rel=1e-9, abs=1e-300)
    assert got.target_joint.shape == want.target_joint.shape
    np.testing.assert_allclose(got.target_joint, want.target_joint, atol=TOL, rtol=0)
    assert set(got.node_joints) == set(nodes)
    for n in nodes:
        assert got.node_joints[n].shape == want.node_joints[n].shape, n
        np.testing.assert_allclose(got.node_joints[n], want.node_joints[n], atol=TOL, rtol=0, err_msg=n)


def random_network(seed: int, n_nodes: int, max_card: int = 4, zero_rate: float = 0.15) -> ModelArrays:
    rng = np.random.default_rng(seed)
    nodes = tuple(f"x{i}" for i in range(n_nodes))
    cards = {v: int(rng.integers(2, max_card + 1)) for v in nodes}
    parents, cpts = {}, {}
    for i, v in enumerate(nodes):
        k = int(rng.integers(0, min(3, i) + 1))
        parents[v] = tuple(str(p) for p in rng.choice(nodes[:i], size=k, replace=False)) if k else ()
        shape = tuple(cards[p] for p in parents[v]) + (cards[v],)
        table = rng.gamma(0.7, size=shape)
        table[rng.random(shape) < zero_rate] = 0.0
        table[..., 0] += table.sum(axis=-1) == 0
        cpts[v] = table / table.sum(axis=-1, keepdims=True)
    states = {v: tuple(f"s{k}" for k in range(cards[v])) for v in nodes}
    return ModelArrays(nodes=nodes, states=states, parents=parents, cpts=cpts)


def oracle_query(oracle: EnumerationEngine, evidence, targets, nodes):
    try:
        return oracle.joint_query(evidence, targets, nodes)
    except ZeroProbabilityEvidence:
        return None


def check_against_oracle(engine, oracle, evidence, targets, nodes):
    want = oracle_query(oracle, evidence, targets, nodes)
    if want is None:
        with pytest.raises(ZeroProbabilityEvidence):
            engine.joint_query(evidence, targets, nodes)
        return
    got = engine.joint_query(evidence, targets, nodes)
    assert_same_query(got, want, nodes)
    assert got.log_prob_evidence == pytest.approx(math.log(want.prob_evidence), abs=1e-9)


def check_marginals(engine, oracle, evidence_nodes, rows, nodes):
    got, ok = engine.marginals_batch(evidence_nodes, rows, nodes)
    want, want_ok = oracle.marginals_batch(evidence_nodes, rows, nodes)
    np.testing.assert_array_equal(ok, want_ok)
    for n in nodes:
        assert got[n].shape == want[n].shape
        np.testing.assert_allclose(got[n], want[n], atol=TOL, rtol=0, err_msg=n)
        assert np.isnan(got[n][~ok]).all()


# ----------------------------------------------------------------------------- asia
ASIA_TARGET_SETS = [(), ("lung",), ("lung", "tub", "bronc"), ("either", "smoke"), ("xray", "asia", "dysp")]


@pytest.mark.parametrize("targets", ASIA_TARGET_SETS, ids=lambda t: "+".join(t) or "none")
def test_asia_joint_query_matches_enumeration(targets):
    arrays = bif_arrays("asia")
    engine, oracle = jtree("asia"), EnumerationEngine(arrays)
    rng = np.random.default_rng(2024)
    others = [n for n in arrays.nodes if n not in targets]
    for _ in range(40):
        evidence = {n: int(rng.integers(arrays.card(n))) for n in arrays.nodes if rng.random() < 0.35}
        check_against_oracle(engine, oracle, evidence, list(targets), others)
    check_against_oracle(engine, oracle, {}, list(targets), others)
    # targets that are themselves observed, and an impossible combination (states are yes, no;
    # either = tub OR lung, so either=no with lung=yes is impossible)
    check_against_oracle(engine, oracle, {"lung": 1, "tub": 0}, list(targets), others)
    with pytest.raises(ZeroProbabilityEvidence):
        engine.joint_query({"either": 1, "lung": 0}, list(targets), others)


def test_asia_marginals_batch_matches_enumeration():
    arrays = bif_arrays("asia")
    engine, oracle = jtree("asia"), EnumerationEngine(arrays)
    rng = np.random.default_rng(7)
    evidence_nodes = ["asia", "smoke", "xray", "dysp", "either", "lung"]
    rows = np.column_stack([rng.integers(-1, arrays.card(n), size=300) for n in evidence_nodes])
    rows[:5] = [-1, -1, -1, -1, 1, 0]  # either=no & lung=yes: impossible
    rows[5:100, 1] = 1  # a fully observed column on a sub-range
    check_marginals(engine, oracle, evidence_nodes, rows, list(arrays.nodes))
    assert not engine.marginals_batch(evidence_nodes, rows[:5], ["lung"])[1].any()
    # fully observed columns (gathered per case) and one shared value across all cases
    rows = np.column_stack([rng.integers(0, 2, size=80), np.ones(80, int), rng.integers(-1, 2, size=80)])
    check_marginals(engine, oracle, ["asia", "smoke", "xray"], rows, list(arrays.nodes))
    check_marginals(engine, oracle, [], np.zeros((3, 0), int), ["lung", "dysp"])


def test_asia_log_prob_evidence():
    arrays = bif_arrays("asia")
    oracle = EnumerationEngine(arrays)
    for ev in [{}, {"xray": 1}, {"xray": 1, "dysp": 0, "asia": 1}]:
        want = oracle.joint_query(ev, [], []).prob_evidence
        assert jtree("asia").log_prob_evidence(ev) == pytest.approx(math.log(want), abs=1e-12)
    assert jtree("asia").log_prob_evidence({"either": 1, "lung": 0}) == -math.inf


def test_engine_contract_details():
    arrays = bif_arrays("asia")
    engine = jtree("asia")
    assert ENGINES["jtree"] is JunctionTreeEngine
    assert engine.name == "jtree"
    q = engine.joint_query({"xray": 0}, ["lung", "tub"], ["xray", "smoke"])
    assert isinstance(q, JTreeJointQuery)
    assert q.target_joint.shape == (2, 2)
    assert q.node_joints["smoke"].shape == (2, 2, 2)
    assert q.target_joint.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(q.node_joints["xray"][..., 1], 0.0)  # observed: point mass
    np.testing.assert_allclose(q.node_joints["xray"][..., 0], q.target_joint, atol=0)
    with pytest.raises(ValueError):
        engine.joint_query({}, ["lung"], ["lung"])
    with pytest.raises(ValueError):
        engine.joint_query({"lung": 5}, ["tub"], [])
    with pytest.raises(ValueError):
        engine.marginals_batch(["lung"], np.array([[2]]), ["tub"])
    assert len(arrays.nodes) == 8


def test_target_chunking_is_exact():
    """A tiny batch budget forces many chunks over the target configurations."""
    arrays = random_network(11, 8, max_card=4)
    small = JunctionTreeEngine(arrays)
    small.max_batch_floats = 50.0
    oracle = EnumerationEngine(arrays)
    targets = list(arrays.nodes[:4])
    others = list(arrays.nodes[4:])
    rng = np.random.default_rng(3)
    for _ in range(10):
        ev = {n: int(rng.integers(arrays.card(n))) for n in others if rng.random() < 0.4}
        check_against_oracle(small, oracle, ev, targets, others)
    small.cohort_batch_floats = 30.0
    rows = np.column_stack([rng.integers(-1, arrays.card(n), size=120) for n in others])
    check_marginals(small, oracle, others, rows, list(arrays.nodes))


# ----------------------------------------------------------------------------- Hypothesis
HYPOTHESIS = settings(max_examples=150, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow])


@st.composite
def networks_and_queries(draw):
    n = draw(st.integers(2, 8))
    arrays = random_network(draw(st.integers(0, 2**31 - 1)), n, zero_rate=draw(st.sampled_from([0.0, 0.2, 0.4])))
    nodes = list(arrays.nodes)
    observed = draw(st.lists(st.sampled_from(nodes), unique=True, max_size=n))
    evidence = {v: draw(st.integers(0, arrays.card(v) - 1)) for v in observed}
    targets = draw(st.lists(st.sampled_from(nodes), unique=True, max_size=min(3, n)))
    others = [v for v in nodes if v not in targets]
    return arrays, evidence, targets, others


@HYPOTHESIS
@given(networks_and_queries())
def test_random_networks_joint_query(case):
    arrays, evidence, targets, others = case
    check_against_oracle(JunctionTreeEngine(arrays), EnumerationEngine(arrays), evidence, targets, others)


@HYPOTHESIS
@given(networks_and_queries(), st.integers(0, 2**31 - 1), st.sampled_from([5, 70]))
def test_random_networks_marginals_batch(case, seed, n_cases):
    arrays = case[0]
    rng = np.random.default_rng(seed)
    nodes = list(arrays.nodes)
    evidence_nodes = [v for v in nodes if rng.random() < 0.6]
    rows = np.zeros((n_cases, len(evidence_nodes)), dtype=int)
    for j, v in enumerate(evidence_nodes):
        rows[:, j] = rng.integers(-1, arrays.card(v), size=n_cases)
    if evidence_nodes and rng.random() < 0.5:
        rows[:, 0] = np.maximum(rows[:, 0], 0)  # a fully observed column
    check_marginals(JunctionTreeEngine(arrays), EnumerationEngine(arrays), evidence_nodes, rows, nodes)


def test_triangulation_is_a_valid_junction_tree():
    for seed in range(30):
        arrays = random_network(seed, 9, zero_rate=0.0)
        engine = JunctionTreeEngine(arrays)
        for tree in engine._trees:
            # running intersection: the cliques holding a variable form a connected subtree
            for v in range(len(arrays.nodes)):
                holders = {c for c, vars_ in enumerate(tree.cliques) if v in vars_}
                tops = [c for c in holders if tree.parent[c] not in holders]
                assert len(tops) == 1
            # every family is inside some clique
            index = {n: i for i, n in enumerate(arrays.nodes)}
            for n in arrays.nodes:
                family = {index[n], *(index[p] for p in arrays.parents[n])}
                assert any(family <= set(c) for c in tree.cliques)


# ----------------------------------------------------------------------------- numerical safety
def test_evidence_far_below_double_range():
    """200 findings: P(e) ~ 1e-340 underflows a double, the posterior must not."""
    n = 200
    nodes = ("d", *(f"f{i}" for i in range(n)))
    cpts = {"d": np.array([0.3, 0.7])}
    like = np.array([[0.99, 0.01], [0.98, 0.02]])  # P(f | d)
    for f in nodes[1:]:
        cpts[f] = like
    arrays = ModelArrays(nodes=nodes, states={v: ("a", "b") for v in nodes},
                         parents={"d": (), **{f: ("d",) for f in nodes[1:]}}, cpts=cpts)
    engine = JunctionTreeEngine(arrays)
    evidence = {f: 1 for f in nodes[1:]}
    log_joint = np.log([0.3, 0.7]) + n * np.log(like[:, 1])
    log_pe = np.logaddexp(*log_joint)
    q = engine.joint_query(evidence, ["d"], ["f0", "f1"])
    assert q.log_prob_evidence == pytest.approx(log_pe, rel=1e-12)
    assert log_pe < -710 and q.prob_evidence == 0.0  # exp underflows; not an error
    np.testing.assert_allclose(q.target_joint, np.exp(log_joint - log_pe), rtol=1e-9, atol=1e-300)
    # half the findings observed per case, batched
    rows = np.ones((4, n), int)
    rows[1::2, ::2] = -1
    marg, ok = engine.marginals_batch(list(nodes[1:]), rows, ["d"])
    assert ok.all() and np.isfinite(marg["d"]).all()
    np.testing.assert_allclose(marg["d"][0], np.exp(log_joint - log_pe), rtol=1e-9)
    # a genuinely impossible case among them: a finding that cannot occur
    cpts2 = dict(cpts, f0=np.array([[1.0, 0.0], [1.0, 0.0]]))
    engine2 = JunctionTreeEngine(replace(arrays, cpts=cpts2))
    with pytest.raises(ZeroProbabilityEvidence):
        engine2.joint_query(evidence, ["d"], [])
    marg, ok = engine2.marginals_batch(["f0", "f1"], np.array([[1, 1], [0, 1], [-1, 1]]), ["d"])
    np.testing.assert_array_equal(ok, [False, True, True])
    assert np.isnan(marg["d"][0]).all() and np.isfinite(marg["d"][1:]).all()


# ----------------------------------------------------------------------------- real networks
PGMPY_CASES = [
    # network, targets, number of forward-sampled evidence sets, nodes compared per set
    ("alarm", ["LVFAILURE", "HYPOVOLEMIA"], 3, 6),
    ("hepar2", ["Cirrhosis", "PBC", "THepatitis"], 3, 5),
    ("pathfinder", ["Fault"], 1, 2),
]


@pytest.mark.parametrize("name,targets,n_sets,n_nodes", PGMPY_CASES, ids=[c[0] for c in PGMPY_CASES])
def test_real_networks_match_pgmpy(name, targets, n_sets, n_nodes):
    arrays = bif_arrays(name)
    engine, pg = jtree(name), pgmpy_engine(name)
    rng = np.random.default_rng(20240601)
    others = [n for n in arrays.nodes if n not in targets]
    for _ in range(n_sets):
        sample = forward_sample(arrays, rng)
        evidence = {n: sample[n] for n in others if rng.random() < 0.3}
        labels = pg._labels(evidence)
        q = engine.joint_query(evidence, targets, others)
        np.testing.assert_allclose(q.target_joint, pg._joint(targets, labels), atol=TOL, rtol=0)
        free = [n for n in others if n not in evidence]
        for node in rng.choice(free, size=n_nodes, replace=False):
            want = pg._joint([*targets, str(node)], labels)
            np.testing.assert_allclose(q.node_joints[node], want, atol=TOL, rtol=0, err_msg=node)
        for node in [n for n in others if n in evidence][:2]:
            np.testing.assert_allclose(q.node_joints[node].sum(axis=-1), q.target_joint, atol=1e-12)
            assert q.node_joints[node][..., evidence[node]].sum() == pytest.approx(1.0, abs=1e-12)
        # a cohort of the same evidence sets agrees with the joint query
        cols = list(evidence)
        marg, ok = engine.marginals_batch(cols, np.array([[evidence[c] for c in cols]] * 3), targets[:1])
        assert ok.all()
        other_axes = tuple(range(1, len(targets)))
        np.testing.assert_allclose(marg[targets[0]][0], q.target_joint.sum(axis=other_axes), atol=1e-12)
    if name == "alarm":  # P(evidence) by pgmpy's chain rule, one elimination per finding
        assert q.prob_evidence == pytest.approx(pg.prob_evidence(evidence), rel=1e-9)


def test_hepar2_nine_disorders_jointly():
    """All 1152 joint configurations of the nine disorders on the batch axis."""
    arrays = bif_arrays("hepar2")
    engine, pg = jtree("hepar2"), pgmpy_engine("hepar2")
    rng = np.random.default_rng(99)
    sample = forward_sample(arrays, rng)
    others = [n for n in arrays.nodes if n not in HEPAR2_DISORDERS]
    evidence = {n: sample[n] for n in others if rng.random() < 0.4}
    free = [n for n in others if n not in evidence]
    q = engine.joint_query(evidence, HEPAR2_DISORDERS, free)
    assert q.target_joint.shape == tuple(arrays.card(t) for t in HEPAR2_DISORDERS)
    labels = pg._labels(evidence)
    for i, t in enumerate(HEPAR2_DISORDERS[:3]):
        other = tuple(k for k in range(len(HEPAR2_DISORDERS)) if k != i)
        np.testing.assert_allclose(q.target_joint.sum(axis=other), pg._joint([t], labels), atol=TOL)
    axes = tuple(range(3, len(HEPAR2_DISORDERS)))
    for node in free[:2]:
        np.testing.assert_allclose(q.node_joints[node].sum(axis=axes),
                                   pg._joint([*HEPAR2_DISORDERS[:3], node], labels), atol=TOL)


@pytest.mark.parametrize("name,limit", [("asia", 40), ("alarm", 1.1e3), ("hepar2", 2.7e3),
                                        ("pathfinder", 1.9e5)], ids=["asia", "alarm", "hepar2", "pathfinder"])
def test_triangulation_quality(name, limit):
    engine = jtree(name)
    assert engine.total_clique_size <= limit
    assert engine.total_clique_size == min(engine.triangulation_sizes.values())


def test_munin_200_findings():
    arrays = bif_arrays("munin")
    engine = jtree("munin")
    assert engine.total_clique_size <= 2.9e7
    rng = np.random.default_rng(1041)
    sample = forward_sample(arrays, rng)
    observed = rng.choice(list(arrays.nodes), size=200, replace=False)
    evidence = {str(n): sample[n] for n in observed}
    free = [n for n in arrays.nodes if n not in evidence]
    marg, ok = engine.marginals_batch(list(evidence), np.array([list(evidence.values())]), free)
    assert ok.all()
    for n in free:
        assert np.isfinite(marg[n]).all(), n
        assert marg[n].sum() == pytest.approx(1.0, abs=1e-9), n
    log_pe = engine.log_prob_evidence(evidence)
    assert np.isfinite(log_pe) and log_pe < 0
    # a few marginals against pgmpy VariableElimination (with 50 of the findings, which keeps
    # pgmpy's elimination fast), and the same query through joint_query
    few = dict(list(evidence.items())[:50])
    pg = pgmpy_engine("munin")
    q = engine.joint_query(few, [], [n for n in free[:400:130] if n not in few])
    marg50, _ = engine.marginals_batch(list(few), np.array([list(few.values())]), list(q.node_joints))
    for node, joint in q.node_joints.items():
        want = pg._joint([node], pg._labels(few))
        np.testing.assert_allclose(joint, want, atol=TOL, rtol=0, err_msg=node)
        np.testing.assert_allclose(marg50[node][0], want, atol=TOL, rtol=0, err_msg=node)


def test_heuristics_are_deterministic_and_cover_all_variables():
    arrays = bif_arrays("alarm")
    index = {n: i for i, n in enumerate(arrays.nodes)}
    adj = tri.moral_graph([[index[p] for p in arrays.parents[n]] for n in arrays.nodes])
    cards = [arrays.card(n) for n in arrays.nodes]
    for h in tri.HEURISTICS:
        order, _ = tri.eliminate(adj, cards, h)
        assert sorted(order) == list(range(len(arrays.nodes)))
        assert tri.eliminate(adj, cards, h)[0] == order
    with pytest.raises(ValueError):
        tri.eliminate(adj, cards, "no_such_heuristic")


def test_tiny_top_belief_is_rescaled():
    """Evidence inside the top clique itself with probability 1e-150 * 1e-100 (the top belief
    sums to 1e-250 and is rescaled before distributing)."""
    arrays = ModelArrays(
        nodes=("a", "b"), states={"a": ("x", "y"), "b": ("u", "v")}, parents={"a": (), "b": ("a",)},
        cpts={"a": np.array([1 - 1e-150, 1e-150]), "b": np.array([[0.5, 0.5], [1 - 1e-100, 1e-100]])},
    )
    engine = JunctionTreeEngine(arrays, coarse_limit=0)
    q = engine.joint_query({"a": 1, "b": 1}, [], ["a", "b"])
    assert q.log_prob_evidence == pytest.approx(math.log(1e-150) + math.log(1e-100), rel=1e-12)
    np.testing.assert_array_equal(q.node_joints["b"], [0.0, 1.0])
    q = engine.joint_query({"a": 1}, ["b"], [])
    np.testing.assert_allclose(q.target_joint, [1 - 1e-100, 1e-100], rtol=1e-12)
    marg, ok = engine.marginals_batch(["a", "b"], np.array([[1, -1], [-1, 1], [1, 1]]), ["a", "b"])
    assert ok.all()
    np.testing.assert_allclose(marg["b"][0], [1 - 1e-100, 1e-100], rtol=1e-12)
    np.testing.assert_allclose(marg["a"][2], [0.0, 1.0], rtol=1e-12)
