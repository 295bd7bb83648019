"""The compiled engine (``bayesdx.compiled``) against the numpy junction tree (``bayesdx.jtree``),
its reference, to 1e-12, and against brute-force enumeration.

* Random networks (seeded): joint queries with evidence on targets and non-targets, cohorts with
  fully, partly and identically observed columns, impossible evidence; in every plan variant
  (stored prior clique tables or tables formed from the CPTs, tables kept or formed again,
  one-element and many-element chunks, the coarser query tree or the fine one).
* The coarser tree joint queries run on (tiny cliques merged) is a junction tree, and answers
  as the fine tree does.
* Every network in tests/data, the bundled network, and the numerical-safety cases (P(e) far
  below 1e-308, tiny CPT entries).
* ``import bayesdx`` does not import numba.
"""

from __future__ import annotations

import functools
import os
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bayesdx
from bayesdx import _fpflags
from bayesdx._jtplan import PARENT
from bayesdx.compiled import CompiledEngine
from bayesdx.engines import ENGINES
from bayesdx.inference import EnumerationEngine, ModelArrays, ZeroProbabilityEvidence
from bayesdx.jtree import JTreeJointQuery, JunctionTreeEngine
from test_jtree import bif_arrays, jtree  # the same cached networks and reference engines

DATA = Path(__file__).parent / "data"
TOL = 1e-12
BIF = ["asia", "alarm", "hepar2", "pathfinder", "munin"]
YAML = sorted(p.stem for p in DATA.glob("*.yaml"))
#: engine options under test; every variant but the last keeps joint queries on the junction tree
#: even where the network's joint table is small enough to be read instead
VARIANTS = {
    "phi0-keep": {"table_max_entries": 0},
    "cpt-lean": {"phi0_max_entries": 0, "keep_max_floats": 0, "table_max_entries": 0},
    "phi0-lean": {"keep_max_floats": 0, "table_max_entries": 0},
    "cpt-keep": {"phi0_max_entries": 0, "table_max_entries": 0},
    "fine-tree": {"merge_added": 0, "table_max_entries": 0},  # on the triangulation's own cliques
    "joint-table": {"table_max_entries": 2**16},  # joint queries read the joint table (most networks here)
}


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


def assert_same_joint(engine, reference, evidence, targets, nodes):
    """Both engines answer alike: the same error, or the same numbers to 1e-12."""
    try:
        want = reference.joint_query(evidence, targets, nodes)
    except ZeroProbabilityEvidence:
        with pytest.raises(ZeroProbabilityEvidence):
            engine.joint_query(evidence, targets, nodes)
        return None
    got = engine.joint_query(evidence, targets, nodes)
    assert got.targets == want.targets
    np.testing.assert_allclose(got.target_joint, want.target_joint, atol=TOL, rtol=0)
    assert set(got.node_joints) == set(nodes)
    for n in nodes:
        assert got.node_joints[n].shape == want.node_joints[n].shape
        np.testing.assert_allclose(got.node_joints[n], want.node_joints[n], atol=TOL, rtol=0, err_msg=n)
    assert got.log_prob_evidence == pytest.approx(want.log_prob_evidence, rel=1e-12, abs=1e-12)
    assert got.prob_evidence == pytest.approx(want.prob_evidence, rel=1e-11, abs=0)
    if isinstance(want, JTreeJointQuery):  # the side-by-side joints, read by diagnose
        assert got.columns == want.columns
        assert (got.stacked is None) == (want.stacked is None)
        if want.stacked is not None:
            np.testing.assert_allclose(got.stacked, want.stacked, atol=TOL, rtol=0)
        np.testing.assert_allclose(got.free_target_probs, want.free_target_probs, atol=TOL, rtol=0)
    gains, ref_gains = got.information_gains_bits(), want.information_gains_bits()
    assert set(gains) == set(ref_gains)
    for n, g in gains.items():
        assert g == pytest.approx(ref_gains[n], abs=TOL), n
    return got


def assert_same_marginals(engine, reference, evidence_nodes, rows, nodes):
    got, ok = engine.marginals_batch(evidence_nodes, rows, nodes)
    want, want_ok = reference.marginals_batch(evidence_nodes, rows, nodes)
    np.testing.assert_array_equal(ok, want_ok)
    for n in nodes:
        assert got[n].shape == want[n].shape
        np.testing.assert_allclose(got[n], want[n], atol=TOL, rtol=0, err_msg=n)  # NaN rows alike


def random_rows(rng, arrays, evidence_nodes, n_cases):
    rows = np.column_stack([rng.integers(-1, arrays.card(v), size=n_cases) for v in evidence_nodes]) \
        if evidence_nodes else np.zeros((n_cases, 0), int)
    if evidence_nodes:
        rows[:, 0] = np.maximum(rows[:, 0], 0)  # observed in every case: clamped
        rows[:, -1] = 0 if len(evidence_nodes) > 1 else rows[:, -1]  # the same in every case: sliced
    return rows


# ----------------------------------------------------------------------------- random networks
@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_random_networks_match_numpy_engine(variant):
    worst = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        arrays = random_network(seed, int(rng.integers(2, 10)), zero_rate=(0.0, 0.2, 0.4)[seed % 3])
        engine = CompiledEngine(arrays, **VARIANTS[variant])
        if seed % 2:
            engine.chunk_floats = 1  # one batch element per chunk
        reference = JunctionTreeEngine(arrays)
        nodes = list(arrays.nodes)
        for _ in range(4):
            evidence = {v: int(rng.integers(arrays.card(v))) for v in nodes if rng.random() < 0.4}
            targets = [v for v in nodes if rng.random() < 0.35][:3]
            others = [v for v in nodes if v not in targets]
            got = assert_same_joint(engine, reference, evidence, targets, others)
            worst += got is None
        evidence_nodes = [v for v in nodes if rng.random() < 0.6]
        for n_cases in (1, 7, 90):
            rows = random_rows(rng, arrays, evidence_nodes, n_cases)
            assert_same_marginals(engine, reference, evidence_nodes, rows, nodes)
    assert worst > 0  # impossible evidence was among the cases


def test_random_networks_match_enumeration():
    for seed in range(100, 130):
        rng = np.random.default_rng(seed)
        arrays = random_network(seed, 7, zero_rate=0.2)
        engine, oracle = CompiledEngine(arrays), EnumerationEngine(arrays)
        nodes = list(arrays.nodes)
        evidence = {v: int(rng.integers(arrays.card(v))) for v in nodes if rng.random() < 0.3}
        targets = nodes[:2]
        try:
            want = oracle.joint_query(evidence, targets, nodes[2:])
        except ZeroProbabilityEvidence:
            with pytest.raises(ZeroProbabilityEvidence):
                engine.joint_query(evidence, targets, nodes[2:])
            continue
        got = engine.joint_query(evidence, targets, nodes[2:])
        np.testing.assert_allclose(got.target_joint, want.target_joint, atol=1e-12)
        for n in nodes[2:]:
            np.testing.assert_allclose(got.node_joints[n], want.node_joints[n], atol=1e-12)
        assert got.prob_evidence == pytest.approx(want.prob_evidence, rel=1e-12)
        assert engine.log_prob_evidence(evidence) == pytest.approx(math.log(want.prob_evidence), rel=1e-12)


def test_query_tree_is_a_coarser_junction_tree():
    for seed in range(40):
        rng = np.random.default_rng(seed)
        arrays = random_network(seed, int(rng.integers(3, 10)), zero_rate=0.1)
        engine = CompiledEngine(arrays, table_max_entries=0)
        fine, coarse = engine.cliques, engine.query_cliques
        assert len(coarse) <= len(fine)
        assert all(any(set(c) <= set(q) for q in coarse) for c in fine)  # each fine clique kept inside one
        plan = engine._qplan
        parent = plan.S[plan.S[2 * PARENT]:plan.S[2 * PARENT + 1]]
        for v in range(len(arrays.nodes)):  # running intersection
            holders = {c for c, vars_ in enumerate(plan.cliques) if v in vars_}
            assert len([c for c in holders if parent[c] not in holders]) == 1
        sizes = {c: math.prod(arrays.card(v) for v in c) for c in (*fine, *coarse)}
        # each coarse clique adds at most merge_added entries per merge over the fine ones it holds
        for q in coarse:
            held = [c for c in fine if set(c) <= set(q)]
            assert sizes[q] <= sum(sizes[c] for c in held) + 64 * max(len(held) - 1, 0)
        fine_engine = CompiledEngine(arrays, merge_added=0, table_max_entries=0)
        assert fine_engine.query_cliques == fine_engine.cliques == fine
        nodes = list(arrays.nodes)
        for _ in range(3):
            evidence = {v: int(rng.integers(arrays.card(v))) for v in nodes if rng.random() < 0.3}
            targets = nodes[:2]
            assert_same_joint(engine, fine_engine, evidence, targets, nodes[2:])


def test_networks_with_a_small_joint_read_it_and_others_propagate():
    assert CompiledEngine(bif_arrays("asia")).joint_table_size == 2**8
    assert CompiledEngine(bif_arrays("asia"), table_max_entries=2**7).joint_table_size == 0
    assert CompiledEngine(bif_arrays("alarm")).joint_table_size == 0
    # a joint whose entries underflow float64 is not made into a table: the tree answers
    arrays = ModelArrays(nodes=("a", "b"), states={"a": ("x", "y"), "b": ("u", "v")},
                         parents={"a": (), "b": ("a",)},
                         cpts={"a": np.array([1 - 1e-200, 1e-200]), "b": np.array([[0.5, 0.5], [1 - 1e-200, 1e-200]])})
    engine = CompiledEngine(arrays)
    assert engine.joint_table_size == 0
    q = engine.joint_query({"b": 1}, ["a"], [])
    assert q.target_joint[1] == pytest.approx(1e-200 * 1e-200 / (0.5 + 1e-400), rel=1e-12)


def mutual_information(joint: np.ndarray) -> float:
    """I(A ; B) in bits of a 2-D joint distribution, by its definition."""
    pa, pb = joint.sum(axis=1, keepdims=True), joint.sum(axis=0, keepdims=True)
    mask = joint > 0
    return float((joint[mask] * np.log2(joint[mask] / (pa @ pb)[mask])).sum())


def test_joint_table_queries_match_enumeration_everywhere():
    """The one-table kernel on random networks, every split of targets, read nodes, hidden nodes
    and evidence (observed targets and read nodes among them), against brute-force enumeration."""
    checked = 0
    for seed in range(200, 260):
        rng = np.random.default_rng(seed)
        arrays = random_network(seed, int(rng.integers(1, 8)), zero_rate=(0.0, 0.3)[seed % 2])
        engine, oracle = CompiledEngine(arrays, table_max_entries=2**16), EnumerationEngine(arrays)
        assert engine.joint_table_size == math.prod(arrays.card(v) for v in arrays.nodes)
        nodes = list(arrays.nodes)
        for _ in range(3):
            roles = rng.integers(0, 4, size=len(nodes))  # 0 target, 1 read, 2 hidden, 3 observed read
            targets = [v for v, r in zip(nodes, roles) if r == 0]
            read = [v for v, r in zip(nodes, roles) if r in (1, 3)]
            evidence = {v: int(rng.integers(arrays.card(v))) for v, r in zip(nodes, roles) if r == 3
                        or (r == 0 and rng.random() < 0.3)}
            try:
                want = oracle.joint_query(evidence, targets, read)
            except ZeroProbabilityEvidence:
                with pytest.raises(ZeroProbabilityEvidence):
                    engine.joint_query(evidence, targets, read)
                continue
            got = engine.joint_query(evidence, targets, read)
            np.testing.assert_allclose(got.target_joint, want.target_joint, atol=1e-12, rtol=0)
            for n in read:
                np.testing.assert_allclose(got.node_joints[n], want.node_joints[n], atol=1e-12, rtol=0)
            assert got.log_prob_evidence == pytest.approx(math.log(want.prob_evidence), rel=1e-12, abs=1e-12)
            gains = got.information_gains_bits()
            for n in read:
                joint = want.node_joints[n].reshape(-1, arrays.card(n))
                assert gains[n] == pytest.approx(mutual_information(joint), abs=1e-12), n
            checked += 1
    assert checked > 100


def test_a_flag_raised_in_the_table_kernel_hands_the_query_to_the_numpy_engine():
    arrays = bif_arrays("asia")
    engine = CompiledEngine(arrays)
    if not engine.joint_table_size:
        pytest.skip("the float flags cannot be read inside the kernel on this platform")
    run = engine._table[0]

    def flagged(*args):
        return run(*args)[0], 1

    engine._table = (flagged, *engine._table[1:])
    assert_same_joint(engine, JunctionTreeEngine(arrays), {"asia": 1}, ["lung", "tub"], ["xray", "dysp", "smoke"])
    assert engine._reference is not None


def test_small_networks_get_fewer_query_cliques_and_large_ones_do_not():
    asia = CompiledEngine(bif_arrays("asia"))
    assert len(asia.query_cliques) < len(asia.cliques)
    big = CompiledEngine(bif_arrays("asia"), merge_max_total=10)
    assert big.query_cliques == big.cliques


# ----------------------------------------------------------------------------- every network
@functools.cache
def network_pair(name: str):
    if name in BIF:
        arrays = bif_arrays(name)
        targets = {"asia": ["lung", "tub", "bronc"], "alarm": ["LVFAILURE", "HYPOVOLEMIA"],
                   "hepar2": ["Cirrhosis", "PBC", "THepatitis", "ChHepatitis"],
                   "pathfinder": ["Fault"], "munin": []}[name]
    else:
        net = bayesdx.load_network(DATA / f"{name}.yaml") if name != "bundled" \
            else bayesdx.load_network("fasciculation")
        arrays, targets = net.arrays, list(net.targets)
        return arrays, targets, CompiledEngine(arrays), JunctionTreeEngine(arrays)
    return arrays, targets, CompiledEngine(arrays), jtree(name)


def forward_sample(arrays, rng):
    state = {}
    for node in arrays.nodes:
        p = arrays.cpts[node][tuple(state[q] for q in arrays.parents[node])]
        state[node] = int(rng.choice(len(p), p=p / p.sum()))
    return state


@pytest.mark.parametrize("name", [*BIF, *YAML, "bundled"])
def test_every_network_matches_numpy_engine(name):
    arrays, targets, engine, reference = network_pair(name)
    rng = np.random.default_rng(len(name))
    others = [n for n in arrays.nodes if n not in targets]
    n_sets = 1 if name == "munin" else 4
    for i in range(n_sets):
        sample = forward_sample(arrays, rng)
        evidence = {n: sample[n] for n in arrays.nodes if rng.random() < 0.25}
        if name == "munin":  # all marginals given the evidence
            free = [n for n in arrays.nodes if n not in evidence]
            rows = np.array([list(evidence.values())])
            assert_same_marginals(engine, reference, list(evidence), rows, free)
            continue
        read = [n for n in others if n not in evidence] if i % 2 else others
        assert_same_joint(engine, reference, evidence, targets, read)
    cohort = [n for n in others if rng.random() < 0.5][:40]
    rows = np.array([[s if rng.random() < 0.5 else -1 for s in (forward_sample(arrays, rng)[n] for n in cohort)]
                     for _ in range(3 if name == "munin" else 50)])
    assert_same_marginals(engine, reference, cohort, rows, targets or list(arrays.nodes[:5]))


def test_diagnose_with_the_compiled_engine_matches_jtree():
    net = bayesdx.load_network(DATA / "asia.bif", targets=["lung", "tub", "bronc"])
    labels = {"xray": "yes", "smoke": "no"}
    a = bayesdx.diagnose(net.with_engine("compiled"), evidence=labels)
    b = bayesdx.diagnose(net.with_engine("jtree"), evidence=labels)
    for node in net.nodes:
        np.testing.assert_allclose(a.marginal(node).to_numpy(), b.marginal(node).to_numpy(), atol=TOL)
    np.testing.assert_allclose(a.ranking["info_gain_bits"].to_numpy(), b.ranking["info_gain_bits"].to_numpy(),
                               atol=TOL)
    assert list(a.ranking.index) == list(b.ranking.index)


# ----------------------------------------------------------------------------- numerical safety
def star(n: int, like: np.ndarray, prior=(0.3, 0.7)) -> ModelArrays:
    nodes = ("d", *(f"f{i}" for i in range(n)))
    cpts = {"d": np.array(prior), **{f: like for f in nodes[1:]}}
    return ModelArrays(nodes=nodes, states={v: ("a", "b") for v in nodes},
                       parents={"d": (), **{f: ("d",) for f in nodes[1:]}}, cpts=cpts)


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_evidence_far_below_double_range(variant):
    """400 findings: P(e) ~ 1e-700; posteriors and ln P(e) stay exact, per batch element too."""
    like = np.array([[0.99, 0.01], [0.98, 0.02]])
    arrays = star(400, like)
    engine = CompiledEngine(arrays, **VARIANTS[variant])
    evidence = {f: 1 for f in arrays.nodes[1:]}
    log_joint = np.log([0.3, 0.7]) + 400 * np.log(like[:, 1])
    log_pe = np.logaddexp(*log_joint)
    q = engine.joint_query(evidence, ["d"], ["f0"])
    assert q.log_prob_evidence == pytest.approx(log_pe, rel=1e-12)
    assert q.prob_evidence == 0.0
    np.testing.assert_allclose(q.target_joint, np.exp(log_joint - log_pe), rtol=1e-9)
    # the finding d's children see, batched over d's states (clamped) and over cases
    q = engine.joint_query({f: 1 for f in arrays.nodes[2:]}, ["d"], ["f0"])
    assert np.isfinite(q.node_joints["f0"]).all()
    rows = np.ones((4, 400), int)
    rows[1::2, ::2] = -1
    marg, ok = engine.marginals_batch(list(arrays.nodes[1:]), rows, ["d"])
    assert ok.all()
    np.testing.assert_allclose(marg["d"][0], np.exp(log_joint - log_pe), rtol=1e-9)


def test_tiny_probabilities():
    """CPT entries of 1e-150 and 1e-100: the top belief sums to 1e-250 and is rescaled."""
    arrays = ModelArrays(
        nodes=("a", "b", "c"), states={"a": ("x", "y"), "b": ("u", "v"), "c": ("p", "q")},
        parents={"a": (), "b": ("a",), "c": ("b",)},
        cpts={"a": np.array([1 - 1e-150, 1e-150]), "b": np.array([[0.5, 0.5], [1 - 1e-100, 1e-100]]),
              "c": np.array([[1 - 1e-120, 1e-120], [0.5, 0.5]])},
    )
    reference = JunctionTreeEngine(arrays, coarse_limit=0)
    for variant in VARIANTS.values():
        engine = CompiledEngine(arrays, **variant)
        q = engine.joint_query({"a": 1, "b": 1}, [], ["a", "b", "c"])
        assert q.log_prob_evidence == pytest.approx(math.log(1e-150) + math.log(1e-100), rel=1e-12)
        np.testing.assert_array_equal(q.node_joints["b"], [0.0, 1.0])
        for ev, targets in [({"a": 1}, ["b"]), ({"c": 1}, ["a"]), ({"a": 1, "c": 1}, ["b"]), ({}, ["a", "c"])]:
            got = engine.joint_query(ev, targets, [n for n in "abc" if n not in targets])
            want = reference.joint_query(ev, targets, [n for n in "abc" if n not in targets])
            np.testing.assert_allclose(got.target_joint, want.target_joint, rtol=1e-12, atol=0)
            assert got.log_prob_evidence == pytest.approx(want.log_prob_evidence, rel=1e-12)
        marg, ok = engine.marginals_batch(["a", "c"], np.array([[1, -1], [-1, 1], [1, 1]]), ["a", "b"])
        assert ok.all()
        np.testing.assert_allclose(marg["b"][0], [1 - 1e-100, 1e-100], rtol=1e-12)


@pytest.mark.parametrize("in_kernel", [True, False], ids=["flags-in-kernel", "flags-around-call"])
def test_a_float_flag_raised_by_a_query_hands_it_to_the_numpy_engine(monkeypatch, in_kernel):
    """The prior propagation is clean, but the evidence f = s1 brings a message of 2e-300 into
    the clique of g, whose prior holds 5e-101: the product underflows inside the kernel. The
    flag must be seen, whether the kernel reads it (run_query_flagged) or Python does around the
    call, and the numpy engine answers."""
    import bayesdx.compiled as compiled

    monkeypatch.setattr(compiled, "_IN_KERNEL_FLAGS", [in_kernel])
    arrays = ModelArrays(
        nodes=("d", "f", "g"), states={v: ("s0", "s1") for v in "dfg"},
        parents={"d": (), "f": ("d",), "g": ("d",)},
        cpts={"d": np.array([0.5, 0.5]), "f": np.array([[1 - 1e-300, 1e-300], [0.5, 0.5]]),
              "g": np.array([[1 - 1e-100, 1e-100], [0.5, 0.5]])})
    engine = CompiledEngine(arrays)
    if not _fpflags.available():
        pytest.skip("the float flags cannot be read on this platform")
    assert not engine._extreme
    engine.joint_query({}, ["d"], ["f", "g"])
    assert engine._reference is None  # a plain query stays in the kernel
    assert_same_joint(engine, JunctionTreeEngine(arrays), {"f": 1}, ["d"], ["g"])
    assert engine._reference is not None  # the flag was seen: the numpy engine answered
    assert compiled._IN_KERNEL_FLAGS == [in_kernel]


def test_first_compile_on_a_machine_is_announced_once(monkeypatch, caplog, tmp_path):
    import bayesdx._jtentry as jtentry
    import bayesdx.compiled as compiled

    CompiledEngine(bif_arrays("asia"))  # the kernels are compiled (or loaded) and cached now
    assert compiled._cached(jtentry.run_query_flagged)
    code = ("import bayesdx.compiled as c, bayesdx._jtentry as j; "
            "print(c._cached(j.run_prior), c._cached(j.run_query_flagged))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)})
    assert out.stdout.split() == ["False", "False"]  # an empty cache: numba will compile
    monkeypatch.setattr(compiled, "_ANNOUNCED", set())
    monkeypatch.setattr(compiled, "_cached", lambda dispatcher: False)
    with caplog.at_level("WARNING", logger="bayesdx"):
        compiled._announce([jtentry.run_prior], "the kernels")
        compiled._announce([jtentry.run_prior], "the kernels")
    said = [r.getMessage() for r in caplog.records if r.name == "bayesdx"]
    assert len(said) == 1 and "compiling the kernels for this machine" in said[0]


def test_answer_fields_are_made_once_and_read_like_the_dataclass():
    """The compiled answer makes its views on first access and keeps them; repr, the dataclass
    fields and the plain constructor still work."""
    import dataclasses

    from bayesdx.compiled import CompiledJointQuery

    arrays = random_network(5, 7, zero_rate=0.0)
    engine = CompiledEngine(arrays)
    targets, nodes = list(arrays.nodes[:2]), list(arrays.nodes[3:])
    q = engine.joint_query({arrays.nodes[2]: 1}, targets, nodes)
    for name in ("target_joint", "node_joints", "stacked", "columns", "free_target_probs", "prob_evidence"):
        assert getattr(q, name) is getattr(q, name), name
    assert q.node_joints[nodes[0]] is q.node_joints[nodes[0]]
    np.testing.assert_allclose(q.node_joints[nodes[0]].sum(axis=-1), q.target_joint, atol=TOL, rtol=0)
    values = {f.name: getattr(q, f.name) for f in dataclasses.fields(q)}
    assert values["targets"] == tuple(targets) and "target_joint" in repr(q)
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.target_joint = None
    plain = CompiledJointQuery(**values)  # made without the kernel: gains computed on demand
    assert plain.target_joint is q.target_joint
    for n, g in plain.information_gains_bits().items():
        assert g == pytest.approx(q.information_gains_bits()[n], abs=TOL), n


def test_impossible_evidence_and_contract():
    arrays = bif_arrays("asia")
    engine = CompiledEngine(arrays)
    assert ENGINES["compiled"] is CompiledEngine and engine.name == "compiled"
    with pytest.raises(ZeroProbabilityEvidence):  # either = tub OR lung
        engine.joint_query({"either": 1, "lung": 0}, ["tub"], ["xray"])
    assert engine.log_prob_evidence({"either": 1, "lung": 0}) == -math.inf
    marg, ok = engine.marginals_batch(["either", "lung"], np.array([[1, 0], [0, 0], [1, -1]]), ["tub"])
    np.testing.assert_array_equal(ok, [False, True, True])
    assert np.isnan(marg["tub"][0]).all()
    with pytest.raises(ValueError, match="out of range"):
        engine.joint_query({"lung": 5}, ["tub"], [])
    with pytest.raises(ValueError, match="listed twice"):
        engine.joint_query({}, ["lung", "lung"], [])
    with pytest.raises(ValueError, match="must not contain a target"):
        engine.joint_query({}, ["lung"], ["lung"])
    with pytest.raises(ValueError, match="out of range"):
        engine.marginals_batch(["lung"], np.array([[2]]), ["tub"])
    assert engine.marginals_batch(["lung"], np.zeros((0, 1), int), ["tub"])[0]["tub"].shape == (0, 2)
    g = engine.group_joint({"xray": 0}, ["lung"], ["tub", "bronc"])
    np.testing.assert_allclose(g, JunctionTreeEngine(arrays).group_joint({"xray": 0}, ["lung"], ["tub", "bronc"]),
                               atol=TOL)


def test_import_is_cheap():
    code = "import sys, bayesdx; assert 'numba' not in sys.modules, 'numba imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_loops_are_compiled_without_reference_counts():
    """The table loops (:mod:`bayesdx._jtops`) allocate nothing and are compiled without
    numba's runtime: with it, each call counts every array argument in and out with atomic
    operations (about 40% of a small network's query). The control compiles the same function
    with the runtime, so the check can fail."""
    import numba

    from bayesdx import _jtops

    assert _jtops._NO_REFCOUNTS == {"_nrt": False}
    i64, f64 = numba.int64, numba.float64[::1]
    sig = (i64, f64, f64, i64, i64[::1], i64[::1], i64, i64, i64, numba.int64[:, ::1])
    ir = {}
    for label, options in (("plain", _jtops._NO_REFCOUNTS), ("control", {})):
        fn = numba.njit(**options)(_jtops._apply.py_func)
        fn.compile(sig)
        ir[label] = fn.inspect_llvm(sig)
    assert "call void @NRT_incref" in ir["control"]
    assert "NRT_incref" not in ir["plain"] and "NRT_decref" not in ir["plain"]
