"""The outcome blocks of leaf readouts gathered for one pass (bayesdx._leafbatch), written by the
compiled kernel (bayesdx._leafkernel) or the numpy way, against brute-force enumeration, the
engines' group joints, and on float64's edge."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import BruteForce
from random_tables import random_cpt

import bayesdx
from bayesdx import Order, _leafbatch, _leafjoints, _leafkernel
from bayesdx.inference import ModelArrays
from bayesdx.network import Network
from bayesdx.orders import outcome_table


@pytest.fixture(autouse=True)
def always_read_leaves(monkeypatch):
    """Leave leaves to the batch however few the target states (small test networks)."""
    monkeypatch.setattr(_leafjoints, "MIN_TARGET_STATES", 0)


@pytest.fixture
def batches(monkeypatch):
    """Every LeafBatch run: its items as (hidden states, tables), and the number of tables of
    each item made the checked numpy way (``remade``)."""
    seen = []
    run, remake = _leafbatch.LeafBatch.run, _leafbatch.LeafBatch._numpy_block

    def spy_run(self, out, scratch_at=0):
        seen.append({"items": [(t[1], t[3]) for t in self._items], "remade": []})
        return run(self, out, scratch_at)

    def spy_remake(self, out, item):
        seen[-1]["remade"].append(item[3])
        return remake(self, out, item)

    monkeypatch.setattr(_leafbatch.LeafBatch, "run", spy_run)
    monkeypatch.setattr(_leafbatch.LeafBatch, "_numpy_block", spy_remake)
    return seen


def leafy_network(seed: int, engine: str = "compiled", tiny: float | None = None):
    """2 targets, a deterministic summary of one, two hidden causes (one a child of the other),
    an observable context node, 3-5 leaf readouts with random parents among those, and orders
    of 1-3 readouts; random possible evidence."""
    rng = np.random.default_rng(seed)

    def table(*shape):
        return random_cpt(rng, *shape)

    cards = {"t1": int(rng.integers(2, 4)), "t2": int(rng.integers(2, 4)), "s": 2, "c": 2,
             "h1": int(rng.integers(2, 4)), "h2": 2}
    parents = {"t1": (), "t2": (), "c": (), "s": ("t1",), "h1": ("t2", "c"), "h2": ("h1", "t1")}
    summary = np.zeros((cards["t1"], 2))
    summary[np.arange(cards["t1"]), (np.arange(cards["t1"]) > 0).astype(int)] = 1.0
    cpts = {"t1": table(cards["t1"]), "t2": table(cards["t2"]), "c": table(2), "s": summary,
            "h1": table(cards["t2"], 2, cards["h1"]), "h2": table(cards["h1"], cards["t1"], 2)}
    pool = ["t1", "t2", "s", "c", "h1", "h2"]
    readouts = [f"r{i}" for i in range(int(rng.integers(3, 6)))]
    for name in readouts:
        chosen = tuple(str(p) for p in rng.permutation(pool)[:int(rng.integers(1, 4))])
        parents[name], cards[name] = chosen, int(rng.integers(2, 4))
        cpts[name] = table(*(cards[p] for p in chosen), cards[name])
    if tiny is not None:  # products far below float64's normal range
        for name in readouts[:2]:
            cpts[name] = cpts[name].copy()
            cpts[name][..., 0] = tiny
            cpts[name][..., 1:] = (1 - tiny) / (cards[name] - 1)
    nodes = tuple(parents)
    states = {v: tuple(f"s{k}" for k in range(cards[v])) for v in nodes}
    arrays = ModelArrays(nodes=nodes, states=states, parents=parents, cpts=cpts)
    shuffled = list(rng.permutation(readouts))
    size = int(rng.integers(2, 4))  # one panel; the other readouts are orders of their own
    orders = [Order("panel", [str(r) for r in shuffled[:size]], cost_usd=10.0)]
    net = Network(arrays, name="leafy", targets=["t1", "t2"], tests=["c", *readouts], orders=orders,
                  engine=engine)
    sample = {}
    for v in nodes:
        sample[v] = int(rng.choice(cards[v], p=cpts[v][tuple(sample[p] for p in parents[v])]))
    evidence = {v: states[v][sample[v]] for v in ["c", *readouts] if rng.random() < 0.35}
    return net, evidence


def check_blocks(net, evidence, atol=1e-12) -> int:
    """Every block of the diagnosis' outcome tables against enumeration; how many there were."""
    oracle = BruteForce(net.arrays)
    ev = net.encode_evidence(evidence)
    tables = bayesdx.diagnose(net, evidence=evidence)._order_tables
    n_t = tables.stacked.shape[0]
    for k in range(len(tables.orders)):
        free = list(tables.readouts[k])
        want = oracle.joint([*net.targets, *free], ev).reshape(n_t, -1)
        np.testing.assert_allclose(tables.block(k), want, rtol=0, atol=atol, err_msg=str(free))
    return len(tables.orders)


@pytest.mark.parametrize("engine", ["compiled", "jtree"])
def test_leaf_blocks_equal_enumeration(engine, batches):
    checked = 0
    for seed in range(30):
        net, evidence = leafy_network(seed, engine)
        checked += check_blocks(net, evidence)
    assert checked >= 60
    items = [item for run in batches for item in run["items"]]
    # nothing here is near float64's edge: the kernel, or without it numpy products over the
    # same laid-out tables, write every block
    assert not any(run["remade"] for run in batches)
    assert sum(n_tab == 1 for _, n_tab in items) >= 20  # single readouts
    assert sum(n_tab >= 2 for _, n_tab in items) >= 12  # groups of several
    assert sum(n_h > 3 for n_h, _ in items) >= 3  # several hidden parents, asked of the engine


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31 - 1), engine=st.sampled_from(["compiled", "jtree"]))
def test_leaf_blocks_property(seed, engine):
    net, evidence = leafy_network(seed, engine)
    check_blocks(net, evidence)


@pytest.mark.parametrize("engine", ["compiled", "jtree"])
@pytest.mark.parametrize("target_seen", [False, True])
def test_leaf_blocks_equal_the_bundled_engine(engine, target_seen, batches, monkeypatch):
    """On the bundled network (800 target states: its findings are read here, not by the
    engine) every block equals the engine's own group joint, and the reports of its reflex
    orders those merged from the engine's."""
    made = []
    add = _leafbatch.LeafBatch.add

    def spy(self, free, row, scratch=False):
        got = add(self, free, row, scratch)
        if scratch:  # a reflex order's readouts, whose reports are merged from their joint
            made.append(got is not None)
        return got

    monkeypatch.setattr(_leafbatch.LeafBatch, "add", spy)
    net = bayesdx.load_network("fasciculation").with_engine(engine)
    evidence = {"age_band": "age_40_69", "fasciculations_exam": "present", "ck": "gt_1000",
                "emg_denervation": "none"}
    evidence = {k: v for k, v in evidence.items() if k in net.nodes and v in net.states(k)}
    if target_seen:  # the joints keep every target's axis, zero off the observed state
        evidence["thyroid_disease"] = net.states("thyroid_disease")[1]
    ev = net.encode_evidence(evidence)
    tables = bayesdx.diagnose(net, evidence=evidence)._order_tables
    assert len(batches[-1]["items"]) >= 15
    n_t = tables.stacked.shape[0]
    reflex = 0
    for k, order in enumerate(tables.orders):
        free = tables.readouts[k]
        if any(r in order.reflex for r in free):  # reports merged from the engine's group joint
            reflex += 1
            want = outcome_table(net, order, ev)
            assert tables.outcomes[k] == want.outcomes
            np.testing.assert_allclose(tables.block(k), want.joint, rtol=0, atol=1e-13, err_msg=order.name)
            continue
        want = net.engine.group_joint(ev, net.targets, free).reshape(n_t, -1)
        np.testing.assert_allclose(tables.block(k), want, rtol=0, atol=1e-13, err_msg=order.name)
    assert reflex >= 1 and made == [True] * reflex  # read in the batch, not asked of the engine
    assert not any(run["remade"] for run in batches) or engine != "compiled"


@pytest.mark.parametrize("engine", ["compiled", "jtree"])
@pytest.mark.parametrize("tiny", [1e-310, 1e-200])
def test_underflowing_blocks_are_made_again(engine, tiny, batches):
    """A block whose products could leave float64's normal range is made the checked way
    (numpy with every step checked, or the engine): flagged by the kernel, or, without it,
    found by the smallest factors' product. Still exact."""
    remade = 0
    for seed in range(12):
        net, evidence = leafy_network(seed, engine, tiny=tiny)
        check_blocks(net, evidence, atol=1e-12)
        remade += sum(len(run["remade"]) for run in batches)
        batches.clear()
    assert remade >= 3


def test_the_kernel_checks_only_where_a_product_could_underflow():
    """The smallest factors' product decides whether the kernel checks: with factors far from
    float64's edge it never flags, and each flag it raises names an underflow that happened."""
    rng = np.random.default_rng(0)
    n_t, n_h = 6, 2
    src = rng.random((n_h, n_t))
    items = np.array([[0, n_h, 0, 2, 0]], dtype=np.int64)
    # two tables over (hidden, readout, target row), the second depending on no target
    t1, t2 = rng.random((n_h, 3, n_t)), rng.random((n_h, 2, 1))
    data = np.concatenate([t1.ravel(), t2.ravel()])
    rows = np.zeros((1, n_t), dtype=np.int64)
    hidx = np.arange(n_h, dtype=np.int64)
    tabs = np.array([[0, -1, 0, 3, n_t], [t1.size, 0, 0, 2, 1]], dtype=np.int64)
    tmins = np.array([t1.min(), t2.min()])
    out, flags = np.empty((6, n_t)), np.zeros(1, dtype=np.bool_)
    _leafkernel.leaf_products(src, items, tabs, tmins, data, rows, hidx, out, flags)
    want = np.einsum("ht,hat,hb->abt", src, t1, t2[:, :, 0]).reshape(6, n_t)
    np.testing.assert_allclose(out, want, rtol=1e-14)
    assert not flags[0]
    tiny = data.copy()
    tiny[t1.size:] *= 1e-305  # the second factor drives every product below the normal range
    _leafkernel.leaf_products(src, items, tabs, tmins * np.array([1, 1e-305]), tiny, rows, hidx,
                              out, flags)
    assert flags[0]


@pytest.mark.parametrize("engine", ["compiled", "jtree"])
def test_reflex_reports_of_probability_zero_are_dropped(engine, batches):
    """A reflex order's report that cannot happen is dropped, as outcome_table drops it, and
    the blocks after it move up: every block still equals its reference."""
    rng = np.random.default_rng(5)

    def table(*shape):
        t = rng.gamma(1.0, size=shape)
        return t / t.sum(axis=-1, keepdims=True)

    a = table(3, 3)
    a[:, 2] = 0.0  # a = s2 never happens
    a /= a.sum(axis=-1, keepdims=True)
    parents = {"t1": (), "t2": (), "a": ("t1",), "b": ("t2",), "c": ("t1", "t2")}
    cpts = {"t1": table(3), "t2": table(2), "a": a, "b": table(2, 2), "c": table(3, 2, 2)}
    cards = {"t1": 3, "t2": 2, "a": 3, "b": 2, "c": 2}
    states = {v: tuple(f"s{k}" for k in range(cards[v])) for v in parents}
    arrays = ModelArrays(nodes=tuple(parents), states=states, parents=parents, cpts=cpts)
    orders = [Order("reflex", ["a", "b"], reflex={"b": {"a": ["s2"]}}, cost_usd=5.0),
              Order("again", ["c", "b"], reflex={"b": {"c": ["s1"]}}, cost_usd=5.0)]
    net = Network(arrays, name="reflex", targets=["t1", "t2"], tests=["a", "b", "c"], orders=orders,
                  engine=engine)
    tables = bayesdx.diagnose(net, evidence={})._order_tables
    oracle = BruteForce(arrays)
    for k, order in enumerate(tables.orders):
        want = outcome_table(net, order, {})
        assert tables.outcomes[k] == want.outcomes
        np.testing.assert_allclose(tables.block(k), want.joint, rtol=0, atol=1e-14)
        p_reports = tables.block(k).sum(axis=0)
        assert (p_reports > 0).all()
    assert len(tables.outcomes[0]) == 2  # a=s0 and a=s1; a=s2 (with b reported) dropped
    # the kept reports add up to each readout's joint with the targets (enumeration)
    np.testing.assert_allclose(tables.block(0), oracle.joint(["t1", "t2", "a"], {})[..., :2].reshape(6, 2),
                               atol=1e-14)
    assert sum(n_tab for run in batches for _, n_tab in run["items"]) >= 4  # both read in the batch


def test_the_numpy_engine_needs_no_compiler():
    """A ranking with the numpy engine (the bundled network's default) imports no numba."""
    code = ("import sys, bayesdx; net = bayesdx.load_network('fasciculation'); "
            "assert net.engine_name == 'jtree'; "
            "dx = bayesdx.diagnose(net, evidence={'fasciculations_exam': 'present'}); dx.ranking; "
            "print('numba' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_blocks_too_large_for_numpy_products_are_made_the_checked_way(batches, monkeypatch):
    """Without the kernel, a block whose products would exceed NUMPY_ENTRIES is made by
    _leaf_group_joint, which never forms them all: every block then goes that way, still exact."""
    monkeypatch.setattr(_leafbatch, "NUMPY_ENTRIES", 0)
    for seed in range(10):
        net, evidence = leafy_network(seed, "jtree")
        check_blocks(net, evidence)
    items = [item for run in batches for item in run["items"]]
    remade = [n_tab for run in batches for n_tab in run["remade"]]
    assert len(items) >= 10 and remade == [n_tab for _, n_tab in items]
