#!/usr/bin/env python
"""Benchmarks of the bayesdx junction tree engine against pyAgrum and pgmpy, in one run.

    python benchmarks/run.py [--quick]

writes ``benchmarks/results.json`` (every number) and ``benchmarks/results.md`` (tables to paste
into the README, with the machine). Sections:

1. Ranking per case: the posterior of the targets and the information gain of every unobserved
   test, I(T ; X | e) for the joint T of the targets. bayesdx: one ``JunctionTreeEngine.joint_query``
   plus a vectorised mutual information. pgmpy: ``VariableElimination`` built once per network,
   one joint query of targets + test per test (the naive way). pyAgrum: ``LazyPropagation``, one
   propagation per joint target state (the state entered as evidence with the case's findings,
   ``chgEvidence`` between states), reading every test's posterior, i.e. P(X, T=t, e) for all t.
   The bundled network is also timed through ``bayesdx.diagnose``.
2. Cohort throughput: marginals of the targets for many cases (bayesdx batched; pyAgrum and pgmpy
   per case on a subset, extrapolated and labelled as such).
3. Scale: MUNIN, all marginals given 50 findings: time and peak memory, each engine in its own
   subprocess.

Cases are drawn by forward sampling with fixed seeds; each case observes a random subset of the
test nodes. Every engine runs single-threaded (BLAS and pyAgrum limited to one thread). Medians
are reported; the machine is shared, so ratios are more meaningful than absolute times.
All engines use the same numbers: the BIF tables are read once (pgmpy), rows renormalised, and
both the pgmpy and the pyAgrum networks are built from those arrays; answers are cross-checked.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

DATA = ROOT / "tests" / "data"
CACHE = Path(tempfile.gettempdir()) / "bayesdx-bench-cache"

HEPAR2_DISORDERS = ["Cirrhosis", "PBC", "THepatitis", "ChHepatitis", "fibrosis", "Steatosis",
                    "Hyperbilirubinemia", "RHepatitis", "carcinoma"]


# ----------------------------------------------------------------------------- loading
def load_bif(name: str):
    """ModelArrays of a reference network (rows renormalised), cached across runs."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{name}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    from pgmpy.readwrite import BIFReader

    from bayesdx.network import arrays_from_pgmpy

    arrays = arrays_from_pgmpy(BIFReader(str(DATA / f"{name}.bif")).get_model())
    arrays = replace(arrays, cpts={n: t / t.sum(axis=-1, keepdims=True) for n, t in arrays.cpts.items()})
    path.write_bytes(pickle.dumps(arrays))
    return arrays


def gum_from_arrays(arrays):
    """A pyAgrum BayesNet with exactly the tables of ``arrays``."""
    import pyagrum as gum

    bn = gum.BayesNet()
    for n in arrays.nodes:
        bn.add(gum.LabelizedVariable(n, n, list(arrays.states[n])))
    for n in arrays.nodes:
        for p in arrays.parents[n]:
            bn.addArc(p, n)
    for n in arrays.nodes:
        pot = bn.cpt(n)
        ours = [*arrays.parents[n], n]
        names = list(pot.names)[::-1]  # C order of pyAgrum's flat storage
        table = np.transpose(arrays.cpts[n], [ours.index(v) for v in names])
        pot.fillWith(table.ravel().tolist())
    return bn


def forward_sample(arrays, rng, n):
    """n joint samples, as {node: int array}."""
    s = {}
    for node in arrays.nodes:
        cpt = arrays.cpts[node]
        idx = tuple(s[q] for q in arrays.parents[node])
        p = cpt[idx] if idx else np.broadcast_to(cpt, (n, cpt.shape[-1]))
        u = rng.random(n)[:, None]
        s[node] = np.minimum((u > np.cumsum(p, axis=-1)).sum(-1), cpt.shape[-1] - 1)
    return s


def draw_cases(arrays, tests, n, seed, p_max=0.5, always=()):
    """Evidence sets {node: state}: each case observes each test with its own probability."""
    rng = np.random.default_rng(seed)
    sample = forward_sample(arrays, rng, n)
    cases = []
    for i in range(n):
        p = rng.uniform(0, p_max)
        cases.append({t: int(sample[t][i]) for t in tests if t in always or rng.random() < p})
    return cases


# ----------------------------------------------------------------------------- information
def info_gains(p_t, joints):
    """I(T ; X | e) in bits for every test X, from P(T) (flat) and P(T, X | e) (flat T, card X),
    by :func:`bayesdx.voi.mutual_information_many_bits`, the function ``diagnose`` uses, so every
    engine's ranking is scored by the same code."""
    from bayesdx.voi import mutual_information_many_bits

    names = list(joints)
    gains = mutual_information_many_bits(np.ravel(p_t), [joints[x] for x in names])
    return dict(zip(names, gains.tolist()))


def bayesdx_rank(engine, targets, tests, ev):
    """One joint query, then every information gain in one vectorised pass."""
    unobserved = [x for x in tests if x not in ev]
    q = engine.joint_query(ev, targets, unobserved)
    return q.target_joint, q.information_gains_bits()


class PgmpyRanker:
    """The naive way: one VariableElimination query of targets + test per test."""

    def __init__(self, arrays):
        from bayesdx.engines import PgmpyEngine

        self.engine = PgmpyEngine(arrays)  # VariableElimination built once

    def __call__(self, targets, tests, ev):
        labels = self.engine._labels(ev)
        p_t = self.engine._joint(targets, labels)
        joints = {}
        for x in tests:
            if x not in ev:
                j = self.engine._joint([*targets, x], labels)
                joints[x] = j.reshape(-1, j.shape[-1])
        return p_t, info_gains(p_t.ravel(), joints)


class GumRanker:
    """pyAgrum's best strategy: one LazyPropagation per joint target state (entered as evidence
    with the findings; ``chgEvidence`` between states), reading every test's posterior."""

    def __init__(self, arrays, bn):
        import pyagrum as gum

        self.arrays = arrays
        self.ie = gum.LazyPropagation(bn)

    def __call__(self, targets, tests, ev):
        import itertools

        ie, arrays = self.ie, self.arrays
        cards = [arrays.card(t) for t in targets]
        unobserved = [x for x in tests if x not in ev]
        ie.eraseAllEvidence()
        ie.setEvidence({**ev, **{t: 0 for t in targets}})
        n_conf = int(np.prod(cards))
        p_te = np.zeros(n_conf)
        joints = {x: np.zeros((n_conf, arrays.card(x))) for x in unobserved}
        current = [0] * len(targets)
        for i, conf in enumerate(itertools.product(*(range(c) for c in cards))):
            for k, (t, s) in enumerate(zip(targets, conf)):
                if current[k] != s:
                    ie.chgEvidence(t, s)
                    current[k] = s
            try:
                ie.makeInference()
                pe = ie.evidenceProbability()
            except Exception:  # pyAgrum raises on impossible evidence
                continue
            p_te[i] = pe
            for x in unobserved:
                joints[x][i] = pe * ie.posterior(x).toarray()
        total = p_te.sum()
        p_t = p_te / total
        joints = {x: j / total for x, j in joints.items()}
        return p_t.reshape(cards), info_gains(p_t, joints)


def median_ms(times):
    return 1e3 * statistics.median(times) if times else None


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


# ----------------------------------------------------------------------------- section 1
def ranking_section(quick: bool):
    from bayesdx.jtree import JunctionTreeEngine

    scenarios = [
        # name, network, targets, (#cases bayesdx, pyAgrum, pgmpy)
        ("asia", "asia", ["lung", "tub", "bronc"], (200, 50, 50)),
        ("alarm", "alarm", ["LVFAILURE", "HYPOVOLEMIA"], (200, 30, 20)),
        ("hepar2 (9 disorders jointly)", "hepar2", HEPAR2_DISORDERS, (50, 3, 10)),
        ("hepar2 (Cirrhosis)", "hepar2", ["Cirrhosis"], (200, 30, 20)),
        ("pathfinder (Fault)", "pathfinder", ["Fault"], (100, 10, 10)),
    ]
    rows = []
    for label, name, targets, counts in scenarios:
        arrays = load_bif(name)
        tests = [n for n in arrays.nodes if n not in targets]
        rows.append(rank_one(label, name, arrays, targets, tests, counts, quick, JunctionTreeEngine))
    try:
        import bayesdx

        net = bayesdx.load_network("fasciculation")
    except Exception as exc:  # the bundled network is optional for this benchmark
        print(f"fasciculation skipped: {exc}")
        return rows, None
    row = rank_one("fasciculation (bundled)", "fasciculation", net.arrays, list(net.targets),
                   list(net.tests), (300, 50, 30), quick, JunctionTreeEngine)
    rows.append(row)
    return rows, time_diagnose(net, quick)


def rank_one(label, name, arrays, targets, tests, counts, quick, engine_cls):
    import pyagrum as gum

    gum.setNumberOfThreads(1)
    n_bx, n_gum, n_pg = counts
    if quick:
        n_bx, n_gum, n_pg = max(5, n_bx // 5), max(1, n_gum // 5), max(1, n_pg // 4)
    cases = draw_cases(arrays, tests, n_bx, seed=zlib.crc32(label.encode()))
    t0 = time.perf_counter()
    engine = engine_cls(arrays)
    compile_s = time.perf_counter() - t0
    for ev in cases[:3]:  # warm-up (schedules, caches)
        bayesdx_rank(engine, targets, tests, ev)
    bx_times, bx_out = [], []
    for ev in cases:
        dt, out = timed(bayesdx_rank, engine, targets, tests, ev)
        bx_times.append(dt)
        bx_out.append(out)
    gum_r = GumRanker(arrays, gum_from_arrays(arrays))
    gum_r(targets, tests, cases[0])
    gum_times = []
    for i, ev in enumerate(cases[:n_gum]):
        dt, out = timed(gum_r, targets, tests, ev)
        gum_times.append(dt)
        check(label, "pyAgrum", bx_out[i], out)
    pg_r = PgmpyRanker(arrays)
    pg_times = []
    for i, ev in enumerate(cases[:n_pg]):
        dt, out = timed(pg_r, targets, tests, ev)
        pg_times.append(dt)
        check(label, "pgmpy", bx_out[i], out)
    n_conf = int(np.prod([arrays.card(t) for t in targets]))
    row = {
        "scenario": label, "network": name, "nodes": len(arrays.nodes), "targets": targets,
        "target_states": n_conf, "tests": len(tests),
        "clique_total": engine.total_clique_size, "triangulation": engine.heuristic,
        "compile_s": compile_s,
        "cases": {"bayesdx": len(bx_times), "pyagrum": len(gum_times), "pgmpy": len(pg_times)},
        "median_ms": {"bayesdx": median_ms(bx_times), "pyagrum": median_ms(gum_times),
                      "pgmpy": median_ms(pg_times)},
        # ratios on the same cases (the first n of each engine)
        "speedup_vs_pyagrum": statistics.median(gum_times) / statistics.median(bx_times[: len(gum_times)]),
        "speedup_vs_pgmpy": statistics.median(pg_times) / statistics.median(bx_times[: len(pg_times)]),
    }
    print(json.dumps({k: row[k] for k in ("scenario", "median_ms", "speedup_vs_pyagrum", "speedup_vs_pgmpy")}),
          flush=True)
    return row


def check(label, other, ours, theirs, tol=1e-8):
    """The engines must agree: posterior of the targets and every information gain."""
    tj, gains = ours
    tj2, gains2 = theirs
    assert np.allclose(tj, tj2, atol=tol), f"{label}: target posterior differs from {other}"
    for x, g in gains.items():
        assert abs(g - gains2[x]) < 1e-7, f"{label}: information gain of {x} differs from {other}"


def time_diagnose(net, quick):
    import bayesdx
    from bayesdx.engines import ENGINES

    if "jtree" not in ENGINES:
        return None
    net = net.with_engine("jtree")
    n = 50 if quick else 300
    cases = draw_cases(net.arrays, list(net.tests), n, seed=77,
                       always=[v for v in net.nodes if net.role(v) == "context"])
    labels = [{k: net.states(k)[s] for k, s in ev.items()} for ev in cases]
    for lab in labels[:5]:
        bayesdx.diagnose(net, evidence=lab)
    d_times, e_times = [], []
    engine = net.engine
    others = [n for n in net.nodes if n not in net.targets]
    for ev, lab in zip(cases, labels):
        t0 = time.perf_counter()
        bayesdx.diagnose(net, evidence=lab)
        d_times.append(time.perf_counter() - t0)
        e_times.append(timed(engine.joint_query, ev, net.targets, others)[0])
    out = {"cases": n, "diagnose_median_ms": median_ms(d_times), "engine_median_ms": median_ms(e_times),
           "note": "context nodes observed, each finding observed with probability U(0, 0.5)"}
    print(json.dumps(out), flush=True)
    return out


# ----------------------------------------------------------------------------- section 2
def cohort_section(quick: bool):
    import bayesdx
    from bayesdx.jtree import JunctionTreeEngine

    out = []
    arrays = load_bif("hepar2")
    tests = [n for n in arrays.nodes if n not in HEPAR2_DISORDERS]
    out.append(cohort_one("hepar2 (9 disorders)", arrays, HEPAR2_DISORDERS, tests, (), 10_000,
                          quick, JunctionTreeEngine))
    try:
        net = bayesdx.load_network("fasciculation")
    except Exception as exc:
        print(f"fasciculation cohort skipped: {exc}")
        return out
    context = [v for v in net.nodes if net.role(v) == "context"]
    out.append(cohort_one("fasciculation (context known, findings 50%)", net.arrays, list(net.targets),
                          [*context, *net.tests], context, 100_000, quick, JunctionTreeEngine))
    out.append(cohort_one("fasciculation (every non-target 50%)", net.arrays, list(net.targets),
                          [*context, *net.tests], (), 100_000, quick, JunctionTreeEngine))
    return out


def cohort_one(label, arrays, targets, tests, always, n, quick, engine_cls):
    import pyagrum as gum

    gum.setNumberOfThreads(1)
    if quick:
        n //= 10
    rng = np.random.default_rng(4242)
    sample = forward_sample(arrays, rng, n)
    rows = np.stack([sample[t] for t in tests], axis=1)
    observed = rng.random(rows.shape) < 0.5
    for j, t in enumerate(tests):
        if t in always:
            observed[:, j] = True
    rows = np.where(observed, rows, -1)
    engine = engine_cls(arrays)
    engine.marginals_batch(tests, rows[:100], targets)
    times = []
    for _ in range(3):
        dt, (marg, ok) = timed(engine.marginals_batch, tests, rows, targets)
        times.append(dt)
    bx_rate = n / statistics.median(times)
    # pyAgrum, one case at a time, on a subset
    n_gum = min(n, 200 if quick else 2000)
    ie = gum.LazyPropagation(gum_from_arrays(arrays))
    t0 = time.perf_counter()
    for i in range(n_gum):
        ev = {t: int(s) for t, s in zip(tests, rows[i]) if s >= 0}
        ie.eraseAllEvidence()
        ie.setEvidence(ev)
        ie.makeInference()
        post = [ie.posterior(t).toarray() for t in targets]
        if i < 20:
            for t, p in zip(targets, post):
                assert np.allclose(p, marg[t][i], atol=1e-8), f"{label}: pyAgrum differs on {t}"
    gum_rate = n_gum / (time.perf_counter() - t0)
    # pgmpy, one case at a time, on a small subset
    from bayesdx.engines import PgmpyEngine

    pg = PgmpyEngine(arrays)
    n_pg = 5 if quick else 20
    t0 = time.perf_counter()
    for i in range(n_pg):
        ev = {t: int(s) for t, s in zip(tests, rows[i]) if s >= 0}
        labels = pg._labels(ev)
        for t in targets:
            p = pg._joint([t], labels)
            assert np.allclose(p, marg[t][i], atol=1e-8), f"{label}: pgmpy differs on {t}"
    pg_rate = n_pg / (time.perf_counter() - t0)
    row = {"scenario": label, "cases": n, "targets": len(targets), "columns": len(tests),
           "possible": float(ok.mean()),
           "cases_per_s": {"bayesdx": bx_rate, "pyagrum": gum_rate, "pgmpy": pg_rate},
           "measured_cases": {"bayesdx": n, "pyagrum": n_gum, "pgmpy": n_pg},
           "seconds_for_all": {"bayesdx": n / bx_rate, "pyagrum (extrapolated)": n / gum_rate,
                               "pgmpy (extrapolated)": n / pg_rate}}
    print(json.dumps(row), flush=True)
    return row


# ----------------------------------------------------------------------------- section 3
def munin_section(quick: bool):
    arrays = load_bif("munin")  # also fills the cache the workers read
    rng = np.random.default_rng(50)
    leaves = [n for n in arrays.nodes if not any(n in arrays.parents[m] for m in arrays.nodes)]
    sample = forward_sample(arrays, rng, 3)
    sets = []
    for i in range(1 if quick else 3):
        chosen = rng.choice(leaves, size=50, replace=False)
        sets.append({str(n): int(sample[n][i]) for n in chosen})
    spec = CACHE / "munin_evidence.json"
    spec.write_text(json.dumps(sets))
    results = {}
    for engine in ("bayesdx", "pyagrum"):
        proc = subprocess.run([sys.executable, __file__, "--munin-worker", engine, str(spec)],
                              capture_output=True, text=True, timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr)
        results[engine] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps({engine: results[engine]}), flush=True)
    a, b = results["bayesdx"], results["pyagrum"]
    for x, y in zip(a.pop("check"), b.pop("check")):
        assert abs(x - y) < 1e-8, "MUNIN: bayesdx and pyAgrum marginals differ"
    return results


class _RssPeak:
    """Polls the resident set size (``/proc/self/statm``) every 2 ms in a thread; ``peak`` in MiB."""

    def __init__(self):
        import threading

        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = self.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self.page / 2**20

    def _run(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self.now())

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak, self.now())


def munin_worker(engine: str, spec: str):
    """Runs in a fresh process: compile, then all marginals given each evidence set (the first
    set twice: the first query of pyAgrum includes building its junction tree)."""
    import gc

    sets = json.loads(Path(spec).read_text())
    arrays = pickle.loads((CACHE / "munin.pkl").read_bytes())
    probe = list(arrays.nodes[::97])
    times = []
    if engine == "bayesdx":
        from bayesdx.jtree import JunctionTreeEngine

        gc.collect()
        rss = _RssPeak()
        base = rss.now()
        t0 = time.perf_counter()
        eng = JunctionTreeEngine(arrays)
        compile_s = time.perf_counter() - t0
        for ev in [sets[0], *sets]:
            free = [n for n in arrays.nodes if n not in ev]
            t0 = time.perf_counter()
            marg, _ = eng.marginals_batch(list(ev), np.array([list(ev.values())]), free)
            times.append(time.perf_counter() - t0)
        check = [float(x) for n in probe if n not in sets[-1] for x in marg[n][0]]
        extra = {"clique_total": eng.total_clique_size, "triangulation": eng.heuristic}
    else:
        import pyagrum as gum

        gum.setNumberOfThreads(1)
        bn = gum_from_arrays(arrays)
        gc.collect()
        rss = _RssPeak()
        base = rss.now()
        t0 = time.perf_counter()
        ie = gum.LazyPropagation(bn)
        compile_s = time.perf_counter() - t0
        for ev in [sets[0], *sets]:
            t0 = time.perf_counter()
            ie.eraseAllEvidence()
            ie.setEvidence(ev)
            ie.makeInference()
            post = {n: ie.posterior(n).toarray() for n in arrays.nodes if n not in ev}
            times.append(time.perf_counter() - t0)
        check = [float(x) for n in probe if n not in sets[-1] for x in post[n]]
        extra = {}
    peak = rss.stop()
    print(json.dumps({"compile_s": compile_s, "first_query_s": times[0],
                      "median_query_s": statistics.median(times[1:]), "queries": len(times) - 1,
                      "peak_rss_mb": peak, "baseline_rss_mb": base, "check": check, **extra}))


# ----------------------------------------------------------------------------- report
def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo), or "unknown"."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine():
    cpu = cpu_name()
    import numpy
    import pgmpy
    import pyagrum

    import bayesdx

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": numpy.__version__, "pgmpy": pgmpy.__version__, "pyagrum": pyagrum.__version__,
            "bayesdx": bayesdx.__version__, "platform": platform.platform(),
            "threads": "single-threaded (OPENBLAS_NUM_THREADS=1, pyAgrum setNumberOfThreads(1))"}


def fmt(x, digits=3):
    """A number for a results table: thousands separators from 100 up, else 3 significant digits."""
    if x is None:
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:#.{digits}g}".rstrip(".")


def markdown(res):
    m = res["machine"]
    lines = [
        "## Benchmarks",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores (shared), Python {m['python']}, numpy {m['numpy']}, "
        f"pgmpy {m['pgmpy']}, pyAgrum {m['pyagrum']}, bayesdx {m['bayesdx']}; every engine "
        f"single-threaded. Medians over forward-sampled cases (fixed seeds); each case observes a "
        f"random subset of the tests. Command: `python benchmarks/run.py`"
        + (" (`--quick`: fewer cases)." if res["quick"] else "."),
        "",
        "### Ranking: posterior of the targets + information gain of every unobserved test, per case",
        "",
        "| scenario | nodes | joint target states | tests | bayesdx (ms) | pyAgrum LazyPropagation, "
        "one propagation per target state (ms) | pgmpy VE, one query per test (ms) | "
        "× vs pyAgrum | × vs pgmpy | cases (bayesdx / pyAgrum / pgmpy) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in res["ranking"]:
        md, c = r["median_ms"], r["cases"]
        lines.append(
            f"| {r['scenario']} | {r['nodes']} | {r['target_states']} | {r['tests']} | {fmt(md['bayesdx'])} | "
            f"{fmt(md['pyagrum'])} | {fmt(md['pgmpy'])} | {fmt(r['speedup_vs_pyagrum'])} | "
            f"{fmt(r['speedup_vs_pgmpy'])} | {c['bayesdx']} / {c['pyagrum']} / {c['pgmpy']} |"
        )
    lines += ["", "Targets: " + "; ".join(f"{r['scenario']}: {', '.join(r['targets'])}" for r in res["ranking"])
              + ". Tests: every other node (reference networks), the findings (bundled network). "
              "Each engine's answers (target posterior, every information gain) are checked against "
              "bayesdx's on the same cases."]
    d = res.get("diagnose")
    if d:
        lines += ["", f"`bayesdx.diagnose` on the bundled network (engine `jtree`, {d['cases']} cases, "
                  f"{d['note']}): median **{fmt(d['diagnose_median_ms'])} ms**, of which the engine's "
                  f"`joint_query` is {fmt(d['engine_median_ms'])} ms."]
    lines += ["", "### Cohort: marginals of the targets", "",
              "| scenario | cases | bayesdx (cases/s) | pyAgrum per case (cases/s) | pgmpy per case (cases/s) | "
              "bayesdx time for all | pyAgrum, extrapolated | pgmpy, extrapolated |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in res["cohort"]:
        cps, s, mc = r["cases_per_s"], r["seconds_for_all"], r["measured_cases"]
        lines.append(
            f"| {r['scenario']} | {r['cases']:,} | {fmt(cps['bayesdx'])} | {fmt(cps['pyagrum'])} "
            f"(measured on {mc['pyagrum']}) | {fmt(cps['pgmpy'])} (measured on {mc['pgmpy']}) | "
            f"{fmt(s['bayesdx'])} s | {fmt(s['pyagrum (extrapolated)'])} s | {fmt(s['pgmpy (extrapolated)'])} s |"
        )
    mu = res.get("munin")
    if mu:
        b, g = mu["bayesdx"], mu["pyagrum"]
        lines += ["", "### Scale: MUNIN (1041 nodes), all posterior marginals given 50 findings", "",
                  "| engine | compile (s) | first query (s) | query (s, median) | peak RSS (MiB) | "
                  "RSS before compiling (MiB) | peak - before (MiB) |",
                  "|---|---:|---:|---:|---:|---:|---:|",
                  f"| bayesdx jtree ({b['triangulation']}, cliques {b['clique_total']:.3g} entries) | "
                  f"{fmt(b['compile_s'])} | {fmt(b['first_query_s'])} | {fmt(b['median_query_s'])} | "
                  f"{fmt(b['peak_rss_mb'])} | {fmt(b['baseline_rss_mb'])} | "
                  f"{fmt(b['peak_rss_mb'] - b['baseline_rss_mb'])} |",
                  f"| pyAgrum LazyPropagation | {fmt(g['compile_s'])} | {fmt(g['first_query_s'])} | "
                  f"{fmt(g['median_query_s'])} | {fmt(g['peak_rss_mb'])} | {fmt(g['baseline_rss_mb'])} | "
                  f"{fmt(g['peak_rss_mb'] - g['baseline_rss_mb'])} |",
                  "",
                  f"{b['queries']} evidence sets of 50 leaf findings each, drawn from forward samples; "
                  "RSS sampled every 2 ms in the engine's own process (the baseline includes Python, "
                  "numpy and the network). pyAgrum builds its junction tree inside its first query."]
    lines += ["", "### Goals", "", "| goal | measured | met |", "|---|---|:---:|"]
    for goal, measured, ok in goals(res):
        lines.append(f"| {goal} | {measured} | {'yes' if ok else '**no**'} |")
    return "\n".join(lines) + "\n"


def goals(res):
    """(goal, measured, met) rows, computed from the results."""
    out = []
    for r in res["ranking"]:
        if r["network"] in ("hepar2", "pathfinder"):
            out.append((f"ranking ≥10× faster than pyAgrum: {r['scenario']}",
                        f"{fmt(r['speedup_vs_pyagrum'])}×", r["speedup_vs_pyagrum"] >= 10))
            out.append((f"ranking ≥100× faster than pgmpy: {r['scenario']}",
                        f"{fmt(r['speedup_vs_pgmpy'])}×", r["speedup_vs_pgmpy"] >= 100))
    d = res.get("diagnose")
    if d:
        out.append(("bundled network: `diagnose` median < 1 ms", f"{fmt(d['diagnose_median_ms'])} ms "
                    f"(engine {fmt(d['engine_median_ms'])} ms)", d["diagnose_median_ms"] < 1))
    for r in res["cohort"]:
        if r["scenario"].startswith("fasciculation"):
            rate = r["cases_per_s"]["bayesdx"]
            out.append((f"cohort ≥100,000 cases/s on one core: {r['scenario']}", f"{fmt(rate)} cases/s",
                        rate >= 1e5))
    mu = res.get("munin")
    if mu:
        b, g = mu["bayesdx"], mu["pyagrum"]
        out.append(("MUNIN no slower than pyAgrum", f"{fmt(b['median_query_s'])} s vs "
                    f"{fmt(g['median_query_s'])} s", b["median_query_s"] <= g["median_query_s"]))
        out.append(("MUNIN peak memory < 2 GiB", f"{fmt(b['peak_rss_mb'])} MiB", b["peak_rss_mb"] < 2048))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases (a smoke run)")
    parser.add_argument("--munin-worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["ranking", "cohort", "munin"], help="run one section")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite results.md from results.json without running anything")
    args = parser.parse_args()
    if args.munin_worker:
        munin_worker(*args.munin_worker)
        return
    if args.report_only:
        res = json.loads((HERE / "results.json").read_text())
        (HERE / "results.md").write_text(markdown(res))
        print((HERE / "results.md").read_text())
        return
    res = {"machine": machine(), "quick": args.quick}
    if args.only in (None, "ranking"):
        res["ranking"], res["diagnose"] = ranking_section(args.quick)
    if args.only in (None, "cohort"):
        res["cohort"] = cohort_section(args.quick)
    if args.only in (None, "munin"):
        res["munin"] = munin_section(args.quick)
    res.setdefault("ranking", [])
    res.setdefault("cohort", [])
    res["goals"] = [{"goal": g, "measured": m, "met": bool(ok)} for g, m, ok in goals(res)]
    (HERE / "results.json").write_text(json.dumps(res, indent=1, default=float))
    (HERE / "results.md").write_text(markdown(res))
    print((HERE / "results.md").read_text())


if __name__ == "__main__":
    main()
