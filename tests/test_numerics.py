"""Exactness under numerical stress: evidence whose probability falls far below the float64 range
(across cliques and inside one clique) and CPT entries below 1e-300, on both engines and for
cohorts, against exact rational enumeration of the joint (``fractions.Fraction`` over the
stored float values), never against an engine."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

import bayesdx
from bayesdx.inference import ModelArrays
from bayesdx.network import Network

ENGINES = ["jtree", "compiled"]
TINY = 5e-324  # the smallest subnormal float64


def frac_log(x: Fraction) -> float:
    """ln of a positive Fraction, exact to float precision however small it is."""
    return math.log(x.numerator) - math.log(x.denominator)


def oracle(arrays: ModelArrays, evidence: dict[str, int]):
    """P(evidence) and the exact posterior marginal of every node, by enumerating the joint with
    Fractions of the stored floats."""
    nodes = arrays.nodes
    cards = [arrays.card(n) for n in nodes]
    pos = {n: i for i, n in enumerate(nodes)}
    tables = {n: {idx: Fraction(float(v)) for idx, v in np.ndenumerate(arrays.cpts[n])} for n in nodes}
    total = Fraction(0)
    marg = {n: [Fraction(0)] * arrays.card(n) for n in nodes}
    ranges = [(evidence[n],) if n in evidence else range(c) for n, c in zip(nodes, cards)]
    for conf in itertools.product(*ranges):
        p = Fraction(1)
        for n in nodes:
            p *= tables[n][tuple(conf[pos[q]] for q in arrays.parents[n]) + (conf[pos[n]],)]
            if p == 0:
                break
        if p:
            total += p
            for n in nodes:
                marg[n][conf[pos[n]]] += p
    return total, {n: [m / total for m in ms] if total else None for n, ms in marg.items()}


def assert_exact(got, exact, rel=2e-12, floor=1e-290):
    got = np.asarray(got, dtype=float)
    want = np.array([float(x) for x in exact])
    assert np.isfinite(got).all()
    assert np.all(np.abs(got - want) <= rel * want + floor), (got, want)


def net_of(arrays, targets, engine):
    return Network(arrays, name="stress", targets=targets, engine=engine)


def arrays_of(spec: dict) -> ModelArrays:
    """{node: (parents, table)}, nodes in topological order, binary unless the table says more."""
    nodes = tuple(spec)
    cpts = {n: np.array(t, dtype=float) for n, (_, t) in spec.items()}
    states = {n: tuple(f"s{i}" for i in range(cpts[n].shape[-1])) for n in nodes}
    return ModelArrays(nodes=nodes, states=states, parents={n: tuple(p) for n, (p, _) in spec.items()},
                       cpts=cpts)


# -- the example: one subnormal CPT entry ----------------------------------------------

SUBNORMAL = arrays_of({"d": ((), [0.5, 0.5]), "t": (("d",), [[1.0, 6 * TINY], [1.0, TINY]])})


@pytest.mark.parametrize("engine", ENGINES)
def test_subnormal_cpt_entry_gives_the_exact_posterior(engine):
    net = net_of(SUBNORMAL, ["d"], engine)
    dx = bayesdx.diagnose(net, evidence={"t": "s1"}, by="node")
    p_e, post = oracle(SUBNORMAL, {"t": 1})
    assert_exact(dx.marginal("d").to_numpy(), post["d"])  # 6/7, 1/7 (not 1, 0)
    assert dx.log_prob_evidence == pytest.approx(frac_log(p_e), abs=1e-9)
    assert math.isfinite(dx.log_prob_evidence) and dx.prob_evidence >= 0


# -- many findings: P(e) down to 1e-1000 spread across cliques -----------------------------------

def naive_bayes(n_findings: int, like: float) -> ModelArrays:
    spec = {"d": ((), [0.3, 0.5, 0.2])}
    for i in range(n_findings):
        # a rare finding under every state, rarer under s0: each one multiplies P(e) by ~like
        spec[f"f{i}"] = (("d",), [[1 - like / 4, like / 4], [1 - like, like], [1 - like / 2, like / 2]])
    return arrays_of(spec)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n, like", [(10, 1e-30), (20, 1e-50), (40, 1e-25)], ids=["1e-300", "1e-1000", "1e-1000b"])
def test_evidence_far_below_float_range_across_cliques(engine, n, like):
    arrays = naive_bayes(n, like)
    net = net_of(arrays, ["d"], engine)
    evidence = {f"f{i}": 1 for i in range(n)}
    p_e, post = oracle(arrays, evidence)
    assert frac_log(p_e) < math.log(1e-290)
    dx = bayesdx.diagnose(net, evidence={k: "s1" for k in evidence}, by="node")
    assert_exact(dx.marginal("d").to_numpy(), post["d"])
    assert dx.log_prob_evidence == pytest.approx(frac_log(p_e), abs=1e-9)
    assert np.isfinite(dx.ranking["info_gain_bits"]).all()


# -- inside one clique: products of tiny entries -------------------------------------------------

def one_clique(eps: float, k: int = 3) -> ModelArrays:
    """k rare roots and a child of all of them (one clique of k + 1 nodes): the child is likely
    only when every root is in its rare state, so P(child) is about eps**k inside one clique."""
    spec = {f"r{i}": ((), [1 - eps, eps]) for i in range(k)}
    table = np.empty((2,) * k + (2,))
    for conf in itertools.product((0, 1), repeat=k):
        on = 0.9 if all(conf) else eps / 3
        table[conf] = [1 - on, on]
    spec["x"] = (tuple(f"r{i}" for i in range(k)), table)
    return arrays_of(spec)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("eps, k", [(1e-120, 3), (1e-200, 4), (1e-300, 3)], ids=["1e-360", "1e-800", "1e-900"])
def test_tiny_products_inside_one_clique(engine, eps, k):
    arrays = one_clique(eps, k)
    net = net_of(arrays, ["r0", "r1"], engine)
    p_e, post = oracle(arrays, {"x": 1})
    dx = bayesdx.diagnose(net, evidence={"x": "s1"}, by="node")
    for r in ("r0", "r1"):
        assert_exact(dx.marginal(r).to_numpy(), post[r])
    assert dx.log_prob_evidence == pytest.approx(frac_log(p_e), abs=1e-9)
    joint = dx.joint().to_numpy()
    assert np.isfinite(joint).all() and abs(joint.sum() - 1) < 1e-12


@pytest.mark.parametrize("engine", ENGINES)
def test_cohort_with_tiny_evidence_is_exact(engine):
    arrays = one_clique(1e-200, 3)
    net = net_of(arrays, ["r0", "r1"], engine)
    cases = pd.DataFrame({"x": ["s1", "s0", "s1", None], "r2": ["s1", "s1", None, "s0"]})
    post = bayesdx.posteriors(net, cases)
    for i, row in enumerate(cases.itertuples(index=False)):
        ev = {n: int(s[1]) for n, s in zip(cases.columns, row) if isinstance(s, str)}
        _, exact = oracle(arrays, ev)
        for r in ("r0", "r1"):
            assert_exact(post[r].iloc[i].to_numpy(), exact[r])


@pytest.mark.parametrize("engine", ENGINES)
def test_beyond_extended_precision_is_a_named_error(engine):
    # 12 subnormal roots in one clique and a child on only when all are on: P(e) ~ 1e-3900 is
    # within extended precision, but the prior clique table holds 5e-324**12 ~ 1e-3880 times
    # more factors; with 16 roots P(e) ~ 1e-5200 is below every float: a named error
    k = 16
    table = np.zeros((2,) * k + (2,))
    table[..., 0] = 1.0
    table[(1,) * k] = [0.0, 1.0]
    spec = {f"r{i}": ((), [1.0, TINY]) for i in range(k)}
    spec["x"] = (tuple(spec), table)
    net = net_of(arrays_of(spec), ["r0"], engine)
    with pytest.raises(bayesdx.NumericalRangeError, match="range"):
        bayesdx.diagnose(net, evidence={"x": "s1"}).ranking


# -- random small networks with extreme entries against the oracle ---------------------------------

def random_extreme(seed: int) -> ModelArrays:
    """Six nodes, up to two parents, 2 or 3 states; half the entries log-uniform down to 1e-320
    and 15% subnormal, one entry of every row 1 before normalising."""
    rng = np.random.default_rng(seed)
    spec: dict = {}
    names = [f"v{i}" for i in range(6)]
    for i, n in enumerate(names):
        parents = tuple(sorted(rng.choice(names[:i], size=min(i, int(rng.integers(0, 3))), replace=False)))
        shape = (*(spec[p][1].shape[-1] for p in parents), int(rng.integers(2, 4)))
        logs = rng.uniform(-320, 0, size=shape) * (rng.random(shape) < 0.5)
        table = 10.0 ** logs
        table = np.where(rng.random(shape) < 0.15, TINY * rng.integers(1, 50, shape), table)
        np.put_along_axis(table, rng.integers(shape[-1], size=(*shape[:-1], 1)), 1.0, axis=-1)
        spec[n] = (parents, table / table.sum(axis=-1, keepdims=True))
    return arrays_of(spec)


@pytest.mark.parametrize("seed", range(12))
def test_random_extreme_networks_match_rational_enumeration(seed):
    arrays = random_extreme(seed)
    rng = np.random.default_rng(100 + seed)
    observed = [n for n in arrays.nodes[2:] if rng.random() < 0.7]
    evidence = {n: int(rng.integers(arrays.card(n))) for n in observed}
    p_e, post = oracle(arrays, evidence)
    for engine in ENGINES:
        net = net_of(arrays, ["v0", "v1"], engine)
        labels = {n: net.states(n)[s] for n, s in evidence.items()}
        if p_e == 0:
            with pytest.raises(bayesdx.ImpossibleEvidenceError):
                bayesdx.diagnose(net, evidence=labels)
            continue
        try:
            dx = bayesdx.diagnose(net, evidence=labels, by="node")
        except bayesdx.NumericalRangeError:
            continue  # a named error is allowed; a wrong number is not
        for n in ("v0", "v1"):
            assert_exact(dx.marginal(n).to_numpy(), post[n])
        assert dx.log_prob_evidence == pytest.approx(frac_log(p_e), abs=1e-9)


# -- the CLI: strict JSON with log P(e) when P(e) underflows ---------------------------------------

def test_cli_json_has_finite_log_prob_evidence_when_it_underflows(tmp_path, capsys):
    from bayesdx.cli import main

    arrays = naive_bayes(20, 1e-50)
    net = net_of(arrays, ["d"], "jtree")
    path = tmp_path / "tiny.bif"
    net.to_bif(path)
    argv = ["diagnose", "--network", str(path), "--target", "d", "--json", "--evidence",
            *(f"f{i}=s1" for i in range(20))]
    assert main(argv) == 0
    text = capsys.readouterr().out
    out = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    p_e, post = oracle(arrays, {f"f{i}": 1 for i in range(20)})
    assert out["log_prob_evidence"] == pytest.approx(frac_log(p_e), abs=1e-9)
    assert out["prob_evidence"] == 0.0
    assert_exact(list(out["posteriors"]["d"].values()), post["d"])


def test_log_prob_evidence_of_the_bundled_network_matches_prob_evidence(fasciculation):
    dx = bayesdx.diagnose(fasciculation, evidence={"ck": "gt_1000", "tsh": "high"})
    assert math.isclose(math.log(dx.prob_evidence), dx.log_prob_evidence, rel_tol=1e-12)
