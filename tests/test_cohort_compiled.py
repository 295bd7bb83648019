"""Cohorts on the compiled engine (bayesdx._cohortkernel, bayesdx._cohortplan) against the numpy
engine (to 1e-12) and brute-force enumeration.

* Random networks (Hypothesis): columns sliced (one state in every case), clamped (observed in
  every case), indicators (partly observed) and unobserved, impossible cases among them; every
  node read (observed ones included), or one to three.
* The plan's shortcuts are exercised: evidence leaves (with several per-case variables),
  messages absorbed by a sibling, messages entering after the sum, indicators entering a
  child's message.
* A case's answer is the same to the last bit whatever the chunk size, the order of the cases
  and the other cases of the call (given the same column kinds), a lone case included.
* Hepar II and the bundled network in the benchmark's scenarios (context known, findings half
  observed), with a finding's state made impossible and observed in three cases.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesdx
from bayesdx import _cohortplan
from bayesdx.compiled import CompiledEngine
from bayesdx.inference import EnumerationEngine
from bayesdx.jtree import JunctionTreeEngine
from test_compiled import random_network
from test_jtree import bif_arrays

TOL = 1e-12
HYPOTHESIS = settings(max_examples=40, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow])
HEPAR2_DISORDERS = ["Cirrhosis", "PBC", "THepatitis", "ChHepatitis", "fibrosis", "Steatosis",
                    "Hyperbilirubinemia", "RHepatitis", "carcinoma"]


def assert_same(got, want, nodes, tol=TOL):
    (g, g_ok), (w, w_ok) = got, want
    np.testing.assert_array_equal(g_ok, w_ok)
    for n in nodes:
        assert g[n].shape == w[n].shape
        np.testing.assert_allclose(g[n], w[n], atol=tol, rtol=0, err_msg=n)  # NaN rows alike


def mixed_rows(rng, arrays, evidence_nodes, n_cases):
    """Cases whose columns are sliced, clamped, indicators or never observed (at random)."""
    rows = np.empty((n_cases, len(evidence_nodes)), dtype=np.int64)
    for j, v in enumerate(evidence_nodes):
        card = arrays.card(v)
        kind = rng.choice(4, p=[0.15, 0.25, 0.5, 0.1])
        if kind == 0:
            rows[:, j] = rng.integers(card)
        elif kind == 1:
            rows[:, j] = rng.integers(0, card, size=n_cases)
        elif kind == 2:
            rows[:, j] = rng.integers(-1, card, size=n_cases)
            rows[0, j], rows[1, j] = -1, 0
        else:
            rows[:, j] = -1
    return rows


@st.composite
def cohorts(draw):
    n = draw(st.integers(2, 9))
    arrays = random_network(draw(st.integers(0, 2**31 - 1)), n, zero_rate=draw(st.sampled_from([0.0, 0.2, 0.4])))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    nodes = list(arrays.nodes)
    evidence_nodes = [v for v in nodes if rng.random() < 0.7]
    rows = mixed_rows(rng, arrays, evidence_nodes, draw(st.sampled_from([2, 9, 40])))
    read = draw(st.one_of(st.just(nodes), st.lists(st.sampled_from(nodes), min_size=1, max_size=3, unique=True)))
    return arrays, evidence_nodes, rows, read


@HYPOTHESIS
@given(cohorts())
def test_random_cohorts_match_numpy_engine_and_enumeration(case):
    arrays, evidence_nodes, rows, nodes = case
    engine = CompiledEngine(arrays)
    assert engine._plan.phi0_mode  # the cohort kernel's path
    numpy_engine, oracle = JunctionTreeEngine(arrays), EnumerationEngine(arrays)
    got = engine.marginals_batch(evidence_nodes, rows, nodes)
    assert_same(got, numpy_engine.marginals_batch(evidence_nodes, rows, nodes), nodes)
    assert_same(got, oracle.marginals_batch(evidence_nodes, rows, nodes), nodes)


def plan_of(engine):
    """The cohort plan of the engine's last cohort."""
    return list(engine._cohort_plans.values())[-1]


def test_every_shortcut_is_exercised_and_exact():
    seen = {"leaf with several per-case variables": 0, "absorbed": 0, "after the sum": 0,
            "indicator in a child's message": 0, "impossible case": 0}
    for seed in range(40):
        rng = np.random.default_rng(seed)
        arrays = random_network(seed, 10, zero_rate=0.3)
        nodes = list(arrays.nodes)
        evidence_nodes = [v for v in nodes if rng.random() < 0.8]
        rows = mixed_rows(rng, arrays, evidence_nodes, 30)
        nodes = nodes if seed % 2 else nodes[:2]  # every node, or two: few read-out cliques
        engine = CompiledEngine(arrays)
        got = engine.marginals_batch(evidence_nodes, rows, nodes)
        assert_same(got, JunctionTreeEngine(arrays).marginals_batch(evidence_nodes, rows, nodes), nodes)
        plan = plan_of(engine)
        seen["leaf with several per-case variables"] += int((np.diff(plan.gptr) >= 2).any())
        seen["absorbed"] += int((plan.host >= 0).any())
        seen["after the sum"] += int((plan.host == _cohortplan.LATE).any())
        seen["indicator in a child's message"] += int((plan.ind_kid >= 0).any())
        seen["impossible case"] += int((~got[1]).any())
    assert all(seen.values()), seen


@pytest.mark.parametrize("seed", range(6))
def test_a_case_is_computed_alike_in_any_cohort(seed):
    rng = np.random.default_rng(seed)
    arrays = random_network(seed + 500, 9, zero_rate=0.2)
    nodes = list(arrays.nodes)
    evidence_nodes = nodes[1:]
    rows = rng.integers(-1, 2, size=(60, len(evidence_nodes)))
    # two fixed rows, none and all observed, keep every column an indicator in every call
    fixed = np.array([[-1] * len(evidence_nodes), [0] * len(evidence_nodes)])
    engine = CompiledEngine(arrays)
    whole, ok = engine.marginals_batch(evidence_nodes, np.vstack([rows, fixed]), nodes)
    for chunk_floats in (1.0, 50.0, 2.0**40):  # two cases per chunk, a few, one chunk
        engine.cohort_chunk_floats = chunk_floats
        order = rng.permutation(len(rows))
        got, got_ok = engine.marginals_batch(evidence_nodes, np.vstack([rows[order], fixed]), nodes)
        np.testing.assert_array_equal(got_ok[:-2], ok[order])
        for n in nodes:
            np.testing.assert_array_equal(got[n][:-2], whole[n][order])
    for i in range(0, len(rows), 7):  # a case with only the fixed rows beside it
        got, _ = engine.marginals_batch(evidence_nodes, np.vstack([rows[i:i + 1], fixed]), nodes)
        for n in nodes:
            np.testing.assert_array_equal(got[n][0], whole[n][i])
    # a lone case is computed as in a cohort of the same column kinds
    lone = np.array([[-1] * len(evidence_nodes)])
    got, _ = engine.marginals_batch(evidence_nodes, lone, nodes)
    want, _ = engine.marginals_batch(evidence_nodes, np.vstack([lone, lone]), nodes)
    for n in nodes:
        np.testing.assert_array_equal(got[n][0], want[n][0])


def without_state_zero(arrays, node):
    """The network with P(node = state 0 | parents) = 0 (rows renormalised): a case observing it
    is impossible."""
    cpt = np.array(arrays.cpts[node], dtype=float)
    cpt[..., 0] = 0.0
    cpt[..., 1] += cpt.sum(axis=-1) == 0
    return replace(arrays, cpts={**arrays.cpts, node: cpt / cpt.sum(axis=-1, keepdims=True)})


def scenario(arrays, columns, always, n, seed):
    """Forward-sampled cases, each column observed with probability 1/2 (``always``: in every
    case)."""
    rng = np.random.default_rng(seed)
    drawn, pending = {}, list(arrays.nodes)
    while pending:  # parents first
        v = next(v for v in pending if all(p in drawn for p in arrays.parents[v]))
        pending.remove(v)
        cpt = np.asarray(arrays.cpts[v])
        rows = cpt[tuple(drawn[p] for p in arrays.parents[v])] if arrays.parents[v] else \
            np.broadcast_to(cpt, (n, cpt.size))
        drawn[v] = np.minimum((rows.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1), cpt.shape[-1] - 1)
    states = np.stack([drawn[c] for c in columns], axis=1)
    observed = (rng.random(states.shape) < 0.5) | np.isin(columns, list(always))[None, :]
    return np.where(observed, states, -1)


@pytest.mark.parametrize("name", ["hepar2", "fasciculation"])
def test_benchmark_scenarios_match_numpy_engine(name):
    if name == "hepar2":
        arrays = bif_arrays("hepar2")
        targets, always, n = HEPAR2_DISORDERS, (), 300
        columns = [v for v in arrays.nodes if v not in targets]
    else:
        net = bayesdx.load_network("fasciculation")
        arrays, targets, n = net.arrays, list(net.targets), 120
        always = [v for v in net.nodes if net.role(v) == "context"]
        columns = [*always, *net.tests]
    rows = scenario(arrays, columns, always, n, seed=7)
    # a finding made impossible in state 0, observed so in the first three cases only
    finding = next(j for j, v in enumerate(columns) if v not in always and not any(
        v in arrays.parents[u] for u in arrays.nodes))
    arrays = without_state_zero(arrays, columns[finding])
    rows[:, finding] = np.where(rows[:, finding] == 0, 1, rows[:, finding])
    rows[:3, finding] = 0
    engine = CompiledEngine(arrays)
    got = engine.marginals_batch(columns, rows, targets)
    want = JunctionTreeEngine(arrays).marginals_batch(columns, rows, targets)
    assert_same(got, want, targets)
    assert not got[1][:3].any() and got[1][3:].all()
    plan = plan_of(engine)
    assert (plan.leaf_off >= 0).sum() >= 10  # the findings' cliques are evidence leaves
