"""The factored engine (``bayesdx.lazy``) against brute-force enumeration on small random networks
and against the numpy junction tree (``bayesdx.jtree``) to 1e-12 on the networks of tests/data
and the bundled network.

* Random networks (seeded), with structural zeros: several targets lying in different cliques,
  observed targets, evidence on non-targets, impossible evidence, ``group_joint``,
  ``log_prob_evidence``; information gains against I(T; X) computed from the enumerated joint.
* tests/data (alarm, hepar2, pathfinder) and the bundled network: forward-sampled evidence.
* ``diagnose`` over the lazy engine ranks as the default engine does.
* Numerical safety: P(e) far below 1e-308, and CPT entries whose products leave float64 inside a
  clique (answered by the numpy engine, which widens its floats).
* Elimination plans (Hypothesis): run step by step, a plan equals one einsum of all its factors.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bayesdx
from bayesdx.engines import ENGINES, get_engine
from bayesdx.inference import EnumerationEngine, ModelArrays, ZeroProbabilityEvidence
from bayesdx.jtree import JunctionTreeEngine
from bayesdx._lazyplan import contraction, elimination_plan
from bayesdx.lazy import LazyEngine

from test_compiled import random_network as compiled_random_network

TOL = 1e-12
DATA = Path(__file__).parent / "data"


@functools.cache
def data_arrays(name: str, target: str) -> ModelArrays:
    """A network of tests/data as bayesdx loads it (CPT rows normalised)."""
    return bayesdx.load_network(DATA / f"{name}.bif", targets=[target]).arrays


@functools.cache
def reference(name: str, target: str) -> JunctionTreeEngine:
    return JunctionTreeEngine(data_arrays(name, target))


def random_network(seed: int, n_nodes: int = 9, max_card: int = 3, zero_rate: float = 0.2) -> ModelArrays:
    """A random DAG (up to 3 parents a node) whose CPTs hold structural zeros (the compiled
    engine's test generator, with this file's defaults)."""
    return compiled_random_network(seed, n_nodes, max_card, zero_rate)


def mutual_information_bits(joint: np.ndarray) -> float:
    """I(T; X) in bits of a joint P(t..., x), from its definition."""
    p = joint.reshape(-1, joint.shape[-1])
    pt, px = p.sum(axis=1, keepdims=True), p.sum(axis=0, keepdims=True)
    nz = p > 0
    return float((p[nz] * np.log2(p[nz] / (pt @ px)[nz])).sum())


def distant_targets(engine: LazyEngine, rng, k: int) -> list[str]:
    """``k`` targets, preferring nodes read in different cliques."""
    nodes = list(engine.arrays.nodes)
    rng.shuffle(nodes)
    out, seen = [], set()
    for n in nodes:
        c = engine._host[engine._index[n]]
        if c not in seen:
            out.append(n)
            seen.add(c)
    out += [n for n in nodes if n not in out]
    return out[:k]


def assert_same(got, want, nodes, tol=TOL):
    assert got.targets == want.targets
    np.testing.assert_allclose(got.target_joint, want.target_joint, atol=tol, rtol=0)
    assert set(got.node_joints) == set(nodes)
    for n in nodes:
        assert got.node_joints[n].shape == want.node_joints[n].shape
        np.testing.assert_allclose(got.node_joints[n], want.node_joints[n], atol=tol, rtol=0, err_msg=n)


@pytest.mark.parametrize("seed", range(30), ids=lambda s: f"seed{s}")
def test_random_networks_match_enumeration(seed):
    arrays = random_network(seed)
    lazy, enum = LazyEngine(arrays), EnumerationEngine(arrays)
    rng = np.random.default_rng(1000 + seed)
    checked = 0
    for _ in range(6):
        targets = distant_targets(lazy, rng, int(rng.integers(1, 4)))
        observed = rng.choice(arrays.nodes, size=int(rng.integers(0, 5)), replace=False)
        evidence = {str(n): int(rng.integers(arrays.card(str(n)))) for n in observed}  # may hit a target
        nodes = [n for n in arrays.nodes if n not in targets]
        try:
            want = enum.joint_query(evidence, targets, nodes)
        except ZeroProbabilityEvidence:
            with pytest.raises(ZeroProbabilityEvidence):
                lazy.joint_query(evidence, targets, nodes)
            assert lazy.log_prob_evidence(evidence) == -math.inf
            continue
        got = lazy.joint_query(evidence, targets, nodes)
        assert_same(got, want, nodes)
        assert got.log_prob_evidence == pytest.approx(math.log(want.prob_evidence), rel=1e-12, abs=1e-12)
        assert lazy.log_prob_evidence(evidence) == pytest.approx(got.log_prob_evidence, rel=1e-12, abs=1e-12)
        gains = got.information_gains_bits()
        for n in nodes:
            expected = 0.0 if n in evidence else mutual_information_bits(want.node_joints[n])
            assert gains[n] == pytest.approx(expected, abs=1e-10), n
        free = [n for n in nodes if n not in evidence]
        if len(free) >= 2:
            group = list(rng.choice(free, size=2, replace=False))
            np.testing.assert_allclose(lazy.group_joint(evidence, targets, group),
                                       enum.group_joint(evidence, targets, group), atol=TOL, rtol=0)
        checked += 1
    assert checked  # every seed answers at least one possible query


def test_impossible_evidence_is_refused():
    # x1 is a copy of x0: x0 = 0 with x1 = 1 has probability 0
    arrays = ModelArrays(
        nodes=("x0", "x1", "x2"), states={v: ("a", "b") for v in ("x0", "x1", "x2")},
        parents={"x0": (), "x1": ("x0",), "x2": ("x1",)},
        cpts={"x0": np.array([0.3, 0.7]), "x1": np.eye(2), "x2": np.array([[0.9, 0.1], [0.2, 0.8]])})
    lazy = LazyEngine(arrays)
    with pytest.raises(ZeroProbabilityEvidence):
        lazy.joint_query({"x0": 0, "x1": 1}, ["x2"], [])
    with pytest.raises(ZeroProbabilityEvidence):
        lazy.joint_query({"x0": 0, "x2": 1, "x1": 1}, ["x2"], [])  # an observed target
    q = lazy.joint_query({"x1": 1}, ["x2"], ["x0"])  # a structural zero: x0 must be 1
    assert q.node_joints["x0"][..., 0].sum() == 0.0
    assert q.node_joints["x0"][..., 1].sum() == pytest.approx(1.0, abs=TOL)
    assert lazy.log_prob_evidence({"x0": 0, "x1": 1}) == -math.inf


def test_bad_queries_name_the_culprit():
    lazy = LazyEngine(random_network(3))
    with pytest.raises(ValueError, match="listed twice"):
        lazy.joint_query({}, ["x1", "x1"], [])
    with pytest.raises(ValueError, match="must not contain a target"):
        lazy.joint_query({}, ["x1"], ["x1"])
    with pytest.raises(ValueError, match="out of range for node 'x2'"):
        lazy.joint_query({"x2": 7}, ["x1"], [])


def forward_sample(arrays: ModelArrays, rng) -> dict[str, int]:
    state: dict[str, int] = {}
    for node in arrays.nodes:
        p = arrays.cpts[node][tuple(state[q] for q in arrays.parents[node])]
        state[node] = int(rng.choice(len(p), p=p))
    return state


@functools.cache
def bundled() -> ModelArrays:
    return bayesdx.load_network("fasciculation").arrays


CASES = [("alarm", ("LVFAILURE", "HYPOVOLEMIA"), 4), ("hepar2", ("Cirrhosis", "THepatitis", "PBC"), 3),
         ("pathfinder", ("Fault",), 3), ("fasciculation", None, 4)]


@pytest.mark.parametrize("name,targets,n_cases", CASES, ids=[c[0] for c in CASES])
def test_reference_networks_match_numpy_engine(name, targets, n_cases):
    if name == "fasciculation":
        net = bayesdx.load_network("fasciculation")
        arrays, targets, numpy_engine = net.arrays, tuple(net.targets), JunctionTreeEngine(net.arrays)
    else:
        arrays, numpy_engine = data_arrays(name, targets[0]), reference(name, targets[0])
    lazy = LazyEngine(arrays)
    rng = np.random.default_rng(len(name))
    nodes = [n for n in arrays.nodes if n not in targets]
    for k in range(n_cases):
        sample = forward_sample(arrays, rng)
        observed = rng.choice(arrays.nodes, size=min(len(arrays.nodes) - 1, 3 + 4 * k), replace=False)
        evidence = {str(n): sample[str(n)] for n in observed}
        want, got = numpy_engine.joint_query(evidence, targets, nodes), lazy.joint_query(evidence, targets, nodes)
        assert_same(got, want, nodes)
        assert got.log_prob_evidence == pytest.approx(want.log_prob_evidence, rel=1e-12, abs=1e-12)
        gains, ref = got.information_gains_bits(), want.information_gains_bits()
        assert max(abs(gains[n] - ref[n]) for n in nodes) <= TOL
    assert lazy._reference is None  # answered by the factored propagation, not the fallback


def test_diagnose_ranks_as_the_default_engine():
    net = bayesdx.load_network("fasciculation")
    evidence = {"ck": "gt_1000"} if "ck" in net.arrays.nodes else {}
    first = next(iter(net.tests))
    evidence = evidence or {first: net.arrays.states[first][0]}
    want = bayesdx.diagnose(net, evidence=evidence)
    got = bayesdx.diagnose(net.with_engine("lazy"), evidence=evidence)
    assert list(got.ranking.index) == list(want.ranking.index)
    numeric = want.ranking.select_dtypes("number").columns
    np.testing.assert_allclose(got.ranking[numeric].to_numpy(float), want.ranking[numeric].to_numpy(float),
                               atol=1e-10, rtol=1e-10)
    np.testing.assert_allclose(got.joint().to_numpy(float), want.joint().to_numpy(float), atol=TOL)


def test_tiny_probability_of_evidence_stays_exact():
    # 400 findings on a chain: P(e) far below 1e-308, log P(e) still exact
    n = 401
    nodes = tuple(f"x{i}" for i in range(n))
    step = np.array([[0.9, 0.1], [0.2, 0.8]])
    arrays = ModelArrays(nodes=nodes, states={v: ("a", "b") for v in nodes},
                         parents={v: (() if i == 0 else (nodes[i - 1],)) for i, v in enumerate(nodes)},
                         cpts={v: (np.array([0.5, 0.5]) if i == 0 else step) for i, v in enumerate(nodes)})
    evidence = {v: i % 2 for i, v in enumerate(nodes[1:], 1)}
    got = LazyEngine(arrays).joint_query(evidence, ["x0"], [])
    want = JunctionTreeEngine(arrays).joint_query(evidence, ["x0"], [])
    assert got.log_prob_evidence < -700 and got.prob_evidence == 0.0
    assert got.log_prob_evidence == pytest.approx(want.log_prob_evidence, rel=1e-12)
    np.testing.assert_allclose(got.target_joint, want.target_joint, atol=TOL)


def test_underflow_inside_a_clique_is_answered_exactly():
    # CPT entries near the bottom of float64: their product inside one contraction underflows,
    # so the numpy engine (which widens its floats) answers
    tiny = 1e-200
    arrays = ModelArrays(
        nodes=("a", "b", "c"), states={v: ("s0", "s1") for v in "abc"},
        parents={"a": (), "b": ("a",), "c": ("a", "b")},
        cpts={"a": np.array([1 - tiny, tiny]), "b": np.array([[0.5, 0.5], [1 - tiny, tiny]]),
              "c": np.array([[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [1 - tiny, tiny]]])})
    lazy = LazyEngine(arrays)
    got = lazy.joint_query({"b": 1, "c": 1}, ["a"], [])
    assert lazy._reference is not None  # the propagation left float64: the numpy engine answered
    want = EnumerationEngine(arrays).joint_query({"b": 1, "c": 1}, ["a"], [])
    np.testing.assert_allclose(got.target_joint, want.target_joint, atol=TOL)
    got = lazy.joint_query({"b": 1}, ["a"], ["c"])
    want = JunctionTreeEngine(arrays).joint_query({"b": 1}, ["a"], ["c"])
    assert_same(got, want, ["c"])
    assert got.log_prob_evidence == pytest.approx(math.log(0.5), rel=1e-9)


def test_repeated_pattern_searches_no_path(monkeypatch):
    import opt_einsum

    arrays = data_arrays("alarm", "LVFAILURE")
    lazy = LazyEngine(arrays)
    nodes = [n for n in arrays.nodes if n != "LVFAILURE"]
    first = lazy.joint_query({"CVP": 0, "HR": 2}, ["LVFAILURE"], nodes)
    calls = []
    real = opt_einsum.contract_expression
    monkeypatch.setattr(opt_einsum, "contract_expression", lambda *a, **k: calls.append(a) or real(*a, **k))
    again = lazy.joint_query({"CVP": 1, "HR": 0}, ["LVFAILURE"], nodes)  # same pattern, other states
    assert calls == []
    want = reference("alarm", "LVFAILURE").joint_query({"CVP": 1, "HR": 0}, ["LVFAILURE"], nodes)
    assert_same(again, want, nodes)
    assert not np.allclose(first.target_joint, again.target_joint)


def test_registered_and_cohorts():
    assert ENGINES["lazy"] is LazyEngine
    arrays = random_network(5)
    lazy = get_engine("lazy", arrays)
    evidence = np.array([[0, -1, 1], [-1, 1, 0], [1, 0, -1]])
    got, ok = lazy.marginals_batch(["x3", "x5", "x8"], evidence, ["x0", "x4"])
    want, ok_ref = JunctionTreeEngine(arrays).marginals_batch(["x3", "x5", "x8"], evidence, ["x0", "x4"])
    np.testing.assert_array_equal(ok, ok_ref)
    for n in ("x0", "x4"):
        np.testing.assert_allclose(got[n][ok], want[n][ok], atol=TOL)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_vars=st.integers(1, 7), n_factors=st.integers(1, 7),
       keep_bits=st.integers(0, 127))
def test_elimination_plan_equals_one_contraction(seed, n_vars, n_factors, keep_bits):
    """Running a plan step by step gives the product of all factors summed to the kept variables
    (one numpy einsum, the oracle), and leaves only factors over kept variables."""
    rng = np.random.default_rng(seed)
    cards = [int(c) for c in rng.integers(1, 4, size=n_vars)]
    operands = [tuple(sorted(rng.choice(n_vars, size=int(rng.integers(1, n_vars + 1)), replace=False).tolist()))
                for _ in range(n_factors)]
    tables = [rng.random([cards[v] for v in vs]) for vs in operands]
    present = sorted(set().union(*operands))
    keep = tuple(v for v in present if keep_bits >> v & 1)
    steps, remaining = elimination_plan(operands, sum(1 << v for v in keep), cards)
    work = list(zip(operands, tables))
    scalar = 1.0
    for group, out in steps:
        got = [work[i] for i in group]
        spec = contraction([g[0] for g in got], out, cards)
        args = [g[1] for g in got]
        table = np.einsum(spec, *args) if isinstance(spec, str) else spec(*args)
        if not out:
            scalar *= float(table)
        work.append((out, table))
    left = [work[i] for i in remaining]
    assert all(set(vs) <= set(keep) for vs, _ in left)
    letters = {v: chr(97 + v) for v in range(n_vars)}
    def spec_of(ops, out):
        return ",".join("".join(letters[v] for v in vs) for vs in ops) + "->" + "".join(letters[v] for v in out)
    want = np.einsum(spec_of(operands, keep), *tables)
    ops = [vs for vs, _ in left] + [(v,) for v in keep]
    if ops:
        got = np.einsum(spec_of(ops, keep), *[t for _, t in left], *[np.ones(cards[v]) for v in keep]) * scalar
    else:  # everything eliminated into scalars
        got = scalar
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
