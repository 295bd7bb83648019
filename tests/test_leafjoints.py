"""Leaves' joints read from their parents' (bayesdx._leafjoints) against brute-force enumeration
and against the engines' own joints."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import BruteForce
from random_tables import random_cpt

import bayesdx
from bayesdx import _leafjoints
from bayesdx._leafjoints import _LeafJoints, joint_query
from bayesdx.inference import ModelArrays
from bayesdx.network import Network

ENGINES = ["jtree", "compiled"]


@pytest.fixture
def always_read_leaves(monkeypatch):
    """Read leaves from their parents however few the target states (small test networks)."""
    monkeypatch.setattr(_leafjoints, "MIN_TARGET_STATES", 0)


def random_network(seed: int, engine: str, tiny: float | None = None):
    """7-9 nodes: 2 targets, a deterministic summary of a target, hidden causes, leaf findings
    with the targets, the summary and at most one hidden cause as parents; random evidence."""
    rng = np.random.default_rng(seed)

    def table(*shape):
        return random_cpt(rng, *shape)

    cards = {"t1": 3, "t2": 2, "s": 2, "h": int(rng.integers(2, 4)), "g": 2}
    parents = {"t1": (), "t2": (), "s": ("t1",), "h": ("t2",), "g": ("h", "t1")}
    cpts = {"t1": table(3), "t2": table(2), "s": np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]),
            "h": table(2, cards["h"]), "g": table(cards["h"], 3, 2)}
    pool = ["t1", "t2", "s", "h", "g"]
    for i in range(int(rng.integers(2, 5))):
        name = f"x{i}"
        k = int(rng.integers(1, 4))
        chosen = tuple(str(p) for p in rng.permutation(pool)[:k])
        parents[name], cards[name] = chosen, int(rng.integers(2, 4))
        cpts[name] = table(*(cards[p] for p in chosen), cards[name])
    if tiny is not None:  # a product far below float64's normal range
        cpts["x0"] = cpts["x0"].copy()
        cpts["x0"][..., 0] = tiny
        cpts["x0"][..., 1:] = (1 - tiny) / (cards["x0"] - 1)
    nodes = tuple(parents)
    states = {v: tuple(f"s{k}" for k in range(cards[v])) for v in nodes}
    arrays = ModelArrays(nodes=nodes, states=states, parents=parents, cpts=cpts)
    net = Network(arrays, name="leaves", targets=["t1", "t2"], engine=engine)
    evidence = {}
    for v in ("g", "x1", "h"):
        if v in nodes and rng.random() < 0.4:
            evidence[v] = int(rng.integers(0, cards[v]))
    return net, evidence


def leaf_names(query):
    joints = query.node_joints
    return list(joints._leaves) if isinstance(joints, _LeafJoints) else []


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.usefixtures("always_read_leaves")
def test_leaf_joints_equal_enumeration_and_the_engine(engine):
    used = 0
    for seed in range(25):
        net, ev = random_network(seed, engine)
        oracle = BruteForce(net.arrays)
        if oracle.prob(ev) == 0:
            continue
        others = [n for n in net.nodes if n not in net.targets]
        query = joint_query(net, ev, others)
        direct = net.engine.joint_query(ev, net.targets, others)
        assert list(query.node_joints) == others
        np.testing.assert_allclose(query.target_joint, direct.target_joint, atol=1e-14)
        for x in others:
            np.testing.assert_allclose(query.node_joints[x], direct.node_joints[x], atol=1e-14)
            np.testing.assert_allclose(query.node_joints[x], oracle.joint([*net.targets, x], ev),
                                       atol=1e-12)
        used += len(leaf_names(query))
    assert used >= 25  # the shortcut was taken, not only the engine


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.usefixtures("always_read_leaves")
def test_an_underflowing_leaf_is_asked_of_the_engine(engine, monkeypatch):
    net, ev = random_network(3, engine, tiny=1e-310)
    ev.pop("x1", None)
    others = [n for n in net.nodes if n not in net.targets]
    query = joint_query(net, ev, others)
    assert "x0" in leaf_names(query)
    asked, ask = [], net.engine.joint_query
    monkeypatch.setattr(net.engine, "joint_query", lambda *a: asked.append(a[2]) or ask(*a))
    got = query.node_joints["x0"]
    assert asked == [["x0"]]  # the product underflowed: the engine answered
    engine = net.engine.joint_query(ev, net.targets, ["x0"]).node_joints["x0"]
    np.testing.assert_allclose(got, engine, rtol=1e-12, atol=0)
    oracle = BruteForce(net.arrays).joint([*net.targets, "x0"], ev)
    np.testing.assert_allclose(got, oracle, atol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_bundled_diagnosis_reads_its_findings_from_their_parents(engine):
    net = bayesdx.load_network("fasciculation").with_engine(engine)
    evidence = {"ck": "gt_1000", "age_band": "age_40_69", "statin_use": "yes"}
    evidence = {k: v for k, v in evidence.items() if k in net.nodes and v in net.states(k)}
    encoded = net.encode_evidence(evidence)
    others = [n for n in net.nodes if n not in net.targets]
    query = joint_query(net, encoded, others)
    direct = net.engine.joint_query(encoded, net.targets, others)
    assert len(leaf_names(query)) >= 20
    for x in others:
        np.testing.assert_allclose(query.node_joints[x], direct.node_joints[x], atol=1e-14)
    assert query.log_prob_evidence == pytest.approx(direct.log_prob_evidence, rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.usefixtures("always_read_leaves")
def test_leaves_asked_without_their_hidden_parent(engine):
    """A leaf's hidden parent is asked of the engine even when the caller did not ask for it, and
    is not among the answer's nodes."""
    for seed in range(25):
        net, ev = random_network(seed, engine)
        oracle = BruteForce(net.arrays)
        if oracle.prob(ev) == 0:
            continue
        query = joint_query(net, ev, ["x0"])
        assert list(query.node_joints) == ["x0"]
        np.testing.assert_allclose(query.node_joints["x0"], oracle.joint([*net.targets, "x0"], ev),
                                   atol=1e-12)
        for other in ("h", "g"):
            with pytest.raises(KeyError):
                query.node_joints[other]


def test_few_target_states_leave_the_leaves_to_the_engine():
    net, ev = random_network(0, "jtree")
    others = [n for n in net.nodes if n not in net.targets]
    assert not leaf_names(joint_query(net, ev, others))  # 6 target states < MIN_TARGET_STATES
