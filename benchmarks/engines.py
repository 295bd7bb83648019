#!/usr/bin/env python
"""The compiled engine against the numpy engine and pyAgrum, side by side in one run.

    python benchmarks/engines.py [--quick] [--heldout DIR] [--only SECTION] [--networks A,B] [--fixed-order]

Every timing is CPU time (``time.process_time``) of the calling process, single-threaded
(BLAS and pyAgrum limited to one thread), and the engines are interleaved case by case, so a
busy machine slows them alike (in the ranking section their order rotates from case to case, so
that none always runs right after another library has filled the caches); medians and ratios of medians over the same cases are reported.
Sections:

1. ``ranking``: per case, the posterior of the targets and the information gain of every
   unobserved test. bayesdx: one ``joint_query`` + ``information_gains_bits`` (compiled and numpy
   engines). pyAgrum ``LazyPropagation``, two strategies, the better one is the reference:
   *per state* (one propagation per joint target state, entered as evidence with the findings)
   and *joint targets* (one propagation with T + X declared as a joint target for every test X;
   the inference object is rebuilt when the set of unobserved tests changes, as it must be).
   Networks: every network in tests/data, the bundled network and, with ``--heldout DIR``, every
   ``*.bif`` there (networks the team has not tuned on). Answers are cross-checked. pyAgrum runs
   the first cases of each network (more for a strategy fast enough, see ``GUM_BUDGET_S``); the
   ratio is its better strategy's median over the compiled engine's median on the same cases.
2. ``diagnose``: ``bayesdx.diagnose`` + its ranking on the bundled network, engine by engine,
   with the engine's share and its multiply-add count (one pass over the clique tables after
   slicing the evidence and clamping the targets, times the joint target states) against the
   machine's element rate (a compiled multiply-add loop over in-cache float64 arrays).
3. ``cohort``: posterior marginals of the targets for many cases, throughput per engine.
4. ``memory``: all posterior marginals given 50 leaf findings on MUNIN (and MUNIN1 from
   ``--heldout``), each engine in its own process: compile time, query time, peak RSS (polled
   every 2 ms) over compiling and querying.

Writes ``benchmarks/engines.json`` and the section between the ``engines`` markers of
``benchmarks/results.md`` and of the README.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import math
import pickle
import statistics
import subprocess
import sys
import time
import warnings
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
warnings.filterwarnings("ignore")

from run import (  # noqa: E402  (the house helpers: loading, sampling, pyAgrum networks, RSS)
    CACHE,
    DATA,
    HEPAR2_DISORDERS,
    GumRanker,
    _RssPeak,
    draw_cases,
    fmt,
    forward_sample,
    gum_from_arrays,
    info_gains,
    machine,
)

MARK_START, MARK_END = "<!-- engines:start -->", "<!-- engines:end -->"


def cpu(fn, *args):
    t0 = time.process_time()
    out = fn(*args)
    return time.process_time() - t0, out


def med_ms(xs):
    return 1e3 * statistics.median(xs) if xs else None


def load_arrays(path: Path):
    """ModelArrays of a BIF file (rows renormalised), cached across runs."""
    CACHE.mkdir(exist_ok=True)
    cached = CACHE / f"{path.stem}-{zlib.crc32(str(path).encode())}.pkl"
    if cached.exists():
        return pickle.loads(cached.read_bytes())
    from pgmpy.readwrite import BIFReader

    from bayesdx.network import arrays_from_pgmpy

    arrays = arrays_from_pgmpy(BIFReader(str(path)).get_model())
    arrays = replace(arrays, cpts={n: t / t.sum(axis=-1, keepdims=True) for n, t in arrays.cpts.items()})
    cached.write_bytes(pickle.dumps(arrays))
    return arrays


def element_rate() -> float:
    """Multiply-adds per second of a compiled loop over in-cache float64 arrays (the machine's
    element rate the engine is compared with)."""
    from numba import njit

    @njit(cache=False)
    def fma(a, b, c, reps):
        for _ in range(reps):
            for i in range(a.size):
                c[i] += a[i] * b[i]

    a, b, c = np.full(4096, 0.5), np.full(4096, 0.5), np.zeros(4096)
    fma(a, b, c, 1)
    rates = []
    for _ in range(5):
        dt, _ = cpu(fma, a, b, c, 2000)
        rates.append(4096 * 2000 / dt)
    return max(rates)


# ----------------------------------------------------------------------------- rankers
class GumJointRanker:
    """pyAgrum's joint-target strategy: one propagation with T + X a joint target for every
    unobserved test X (rebuilt when that set changes)."""

    def __init__(self, arrays, bn):
        self.arrays, self.bn, self.key, self.ie = arrays, bn, None, None

    def __call__(self, targets, tests, ev):
        import pyagrum as gum

        unobserved = [x for x in tests if x not in ev]
        if tuple(unobserved) != self.key:
            self.ie = gum.LazyPropagation(self.bn)
            self.ie.eraseAllTargets()
            self.ie.addJointTarget(set(targets))
            for x in unobserved:
                self.ie.addJointTarget({*targets, x})
            self.key = tuple(unobserved)
        ie = self.ie
        ie.eraseAllEvidence()
        ie.setEvidence(ev)
        ie.makeInference()
        p_t = self._table(ie.jointPosterior(set(targets)), list(targets))
        joints = {x: self._table(ie.jointPosterior({*targets, x}), [*targets, x]).reshape(p_t.size, -1)
                  for x in unobserved}
        return p_t, info_gains(p_t.ravel(), joints)

    @staticmethod
    def _table(pot, order):
        names = list(pot.names)[::-1]  # C order of toarray() is reversed names
        return np.transpose(pot.toarray(), [names.index(v) for v in order])


def bayesdx_ranker(engine):
    def rank(targets, tests, ev):
        q = engine.joint_query(ev, targets, [x for x in tests if x not in ev])
        return q.target_joint, q.information_gains_bits()
    return rank


def same(a, b, label):
    (tj, g), (tj2, g2) = a, b
    assert np.allclose(np.ravel(tj), np.ravel(tj2), atol=1e-8), f"{label}: target posteriors differ"
    for x, v in g.items():
        assert abs(v - g2[x]) < 1e-7, f"{label}: information gain of {x} differs"


# ----------------------------------------------------------------------------- 1. ranking
def networks(heldout):
    """(label, arrays, targets, tests, cases, pyAgrum cases, group) for every network."""
    import bayesdx

    out = []
    bif_targets = {"asia": ["lung", "tub", "bronc"], "alarm": ["LVFAILURE", "HYPOVOLEMIA"],
                   "pathfinder": ["Fault"], "munin": ["DIFFN_TYPE"]}
    for path in sorted(DATA.glob("*.bif")):
        arrays = load_arrays(path)
        if path.stem == "hepar2":
            out.append(("hepar2 (9 disorders)", arrays, HEPAR2_DISORDERS, 40, 2, "tests/data"))
            out.append(("hepar2 (Cirrhosis)", arrays, ["Cirrhosis"], 150, 20, "tests/data"))
            continue
        big = path.stem == "munin"
        out.append((path.stem, arrays, bif_targets[path.stem], 4 if big else 150, 1 if big else 20,
                    "tests/data"))
    for path in sorted(DATA.glob("*.yaml")):
        net = bayesdx.load_network(path)
        out.append((path.stem, net.arrays, list(net.targets), 150, 20, "tests/data", list(net.tests)))
    net = bayesdx.load_network("fasciculation")
    out.append(("fasciculation (bundled)", net.arrays, list(net.targets), 100, 4, "bundled", list(net.tests)))
    if heldout:
        for path in sorted(Path(heldout).glob("*.bif")):
            if path.stem in {p.stem for p in DATA.glob("*.bif")}:
                continue
            arrays = load_arrays(path)
            if len(arrays.nodes) > 450:
                continue  # the large held-out networks are in the memory section
            roots = [n for n in arrays.nodes if not arrays.parents[n]]
            kids = {n: sum(n in arrays.parents[m] for m in arrays.nodes) for n in roots}
            target = max(roots, key=lambda n: (kids[n], -arrays.card(n)))
            heavy = sum(math.prod(arrays.card(x) for x in (n, *arrays.parents[n])) for n in arrays.nodes) > 2e5
            out.append((f"{path.stem} (held out)", arrays, [target], 10 if heavy else 60, 2 if heavy else 8,
                        "held out"))
    return [o if len(o) == 7 else (*o, None) for o in out]


#: pyAgrum strategies run beyond a network's first n_gum cases while they have taken less than
#: this much CPU, up to this many cases
GUM_BUDGET_S, GUM_MAX_CASES = 2.0, 20
#: run the engines in one fixed order in every case (``--fixed-order``) instead of rotating it
FIXED_ORDER = False


def ranking_section(quick, heldout, only_networks=None):
    import pyagrum as gum

    from bayesdx.compiled import CompiledEngine
    from bayesdx.jtree import JunctionTreeEngine

    gum.setNumberOfThreads(1)
    rows = []
    for label, arrays, targets, n, n_gum, group, tests in networks(heldout):
        if only_networks and label.split()[0] not in only_networks:
            continue
        tests = tests or [x for x in arrays.nodes if x not in targets]
        if quick:
            n, n_gum = max(3, n // 10), max(1, n_gum // 4)
        cases = draw_cases(arrays, tests, n, seed=zlib.crc32(label.encode()))
        t0 = time.process_time()
        compiled = CompiledEngine(arrays)
        compile_s = time.process_time() - t0
        engines = {"compiled": bayesdx_ranker(compiled), "jtree": bayesdx_ranker(JunctionTreeEngine(arrays))}
        bn = gum_from_arrays(arrays)
        gum_rankers = {"pyagrum per state": GumRanker(arrays, bn)}
        if len(tests) <= 200:
            gum_rankers["pyagrum joint targets"] = GumJointRanker(arrays, bn)
        times = {k: [] for k in [*engines, *gum_rankers]}
        for fn in engines.values():  # warm-up
            fn(targets, tests, cases[0])
        runners = [*engines.items(), *gum_rankers.items()]
        for i, ev in enumerate(cases):
            answers = {}
            # the order of the engines rotates from case to case: each follows each of the others
            # as often (an engine run right after another library's pays for its cache
            # footprint; with a fixed order one engine would always pay it)
            k = 0 if FIXED_ORDER else i % len(runners)
            for name, fn in runners[k:] + runners[:k]:
                # every pyAgrum strategy runs the first n_gum cases, and more while it has taken
                # under GUM_BUDGET_S (a fast strategy gets up to GUM_MAX_CASES: its median is
                # steadier)
                if name in gum_rankers and not (
                        i < n_gum or (i < GUM_MAX_CASES and sum(times[name]) < GUM_BUDGET_S)):
                    continue
                dt, answers[name] = cpu(fn, targets, tests, ev)
                times[name].append(dt)
            for name, ans in answers.items():
                if name != "compiled":
                    same(answers["compiled"], ans, f"{label}: {name}")
        med = {k: med_ms(v) for k, v in times.items()}
        best = min(gum_rankers, key=lambda k: med[k])
        # the compiled engine's median over the same cases as the reference strategy's
        first = statistics.median(times["compiled"][:len(times[best])])
        row = {"scenario": label, "group": group, "nodes": len(arrays.nodes),
               "target_states": math.prod(arrays.card(t) for t in targets), "tests": len(tests),
               "clique_total": compiled.total_clique_size, "compile_s": compile_s,
               "cases": {k: len(v) for k, v in times.items()}, "median_ms": med,
               "pyagrum_best": best,
               "x_vs_jtree": statistics.median(times["jtree"]) / statistics.median(times["compiled"]),
               "x_vs_pyagrum_best": statistics.median(times[best]) / first}
        print(json.dumps({k: row[k] for k in ("scenario", "median_ms", "x_vs_jtree", "x_vs_pyagrum_best")}),
              flush=True)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- 2. diagnose
def diagnose_section(quick, rate):
    import bayesdx

    base = bayesdx.load_network("fasciculation")
    nets = {e: base.with_engine(e) for e in ("compiled", "jtree")}
    n = 40 if quick else 300
    context = [v for v in base.nodes if base.role(v) == "context"]
    cases = draw_cases(base.arrays, [*context, *base.tests], n, seed=77, always=context)
    labels = [{k: base.states(k)[s] for k, s in ev.items()} for ev in cases]
    others = [x for x in base.nodes if x not in base.targets]
    plan = nets["compiled"].engine._qplan  # the tree joint queries run on
    index = {x: i for i, x in enumerate(base.nodes)}
    targets = [index[t] for t in base.targets]

    def full(net, lab):
        dx = bayesdx.diagnose(net, evidence=lab)
        return dx.ranking, dx.next_test

    for lab in labels[:5]:
        for net in nets.values():
            full(net, lab)
    t = {f"{k} {e}": [] for k in ("diagnose", "engine") for e in nets}
    counts, ratios = [], []
    for ev, lab in zip(cases, labels):
        for e, net in nets.items():
            t[f"diagnose {e}"].append(cpu(full, net, lab)[0])
            dt, _ = cpu(net.engine.joint_query, ev, net.targets, [x for x in others if x not in ev])
            t[f"engine {e}"].append(dt)
            if e == "compiled":
                fixed = frozenset([index[x] for x in ev] + targets)
                n_conf = math.prod(base.arrays.card(x) for x in base.targets if x not in ev)
                count = n_conf * plan.sliced_size(fixed)
                counts.append(count)
                ratios.append(dt / (count / rate))
    out = {"cases": n, "median_ms": {k: med_ms(v) for k, v in t.items()},
           "multiply_adds": statistics.median(counts), "element_rate": rate,
           "engine_over_arithmetic": statistics.median(ratios),
           "note": "context nodes observed, each finding observed with probability U(0, 0.5); "
                   "diagnose = bayesdx.diagnose(...) then its ranking and next_test"}
    print(json.dumps(out), flush=True)
    return out


# ----------------------------------------------------------------------------- 3. cohort
def cohort_section(quick):
    import bayesdx
    from bayesdx.compiled import CompiledEngine
    from bayesdx.jtree import JunctionTreeEngine

    out = []
    hepar = load_arrays(DATA / "hepar2.bif")
    net = bayesdx.load_network("fasciculation")
    context = [v for v in net.nodes if net.role(v) == "context"]
    for label, arrays, targets, cols, always, n in [
        ("hepar2 (9 disorders)", hepar, HEPAR2_DISORDERS, [x for x in hepar.nodes if x not in HEPAR2_DISORDERS],
         (), 10_000),
        ("fasciculation (context known, findings 50%)", net.arrays, list(net.targets),
         [*context, *net.tests], context, 50_000),
    ]:
        n = n // 10 if quick else n
        rng = np.random.default_rng(4242)
        sample = forward_sample(arrays, rng, n)
        rows = np.stack([sample[c] for c in cols], axis=1)
        observed = (rng.random(rows.shape) < 0.5) | np.isin(cols, list(always))[None, :]
        rows = np.where(observed, rows, -1)
        engines = {"compiled": CompiledEngine(arrays), "jtree": JunctionTreeEngine(arrays)}
        for e in engines.values():
            e.marginals_batch(cols, rows[:100], targets)
        times = {k: [] for k in engines}
        results = {}
        for _ in range(3):
            for name, e in engines.items():
                dt, results[name] = cpu(e.marginals_batch, cols, rows, targets)
                times[name].append(dt)
        for t in targets:
            assert np.allclose(results["compiled"][0][t], results["jtree"][0][t], atol=1e-12, rtol=0, equal_nan=True)
        rates = {k: n / statistics.median(v) for k, v in times.items()}
        row = {"scenario": label, "cases": n, "cases_per_s": rates, "x_vs_jtree": rates["compiled"] / rates["jtree"]}
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


# ----------------------------------------------------------------------------- 4. memory
def memory_section(quick, heldout):
    out = {}
    paths = [DATA / "munin.bif"]
    if heldout and (Path(heldout) / "munin1.bif").exists():
        paths.append(Path(heldout) / "munin1.bif")
    for path in paths:
        arrays = load_arrays(path)  # fills the cache the workers read
        rng = np.random.default_rng(50)
        leaves = [x for x in arrays.nodes if not any(x in arrays.parents[m] for m in arrays.nodes)]
        sample = forward_sample(arrays, rng, 1)
        chosen = rng.choice(leaves, size=min(50, len(leaves)), replace=False)
        spec = CACHE / f"{path.stem}_evidence.json"
        spec.write_text(json.dumps({"path": str(path), "evidence": {str(x): int(sample[x][0]) for x in chosen}}))
        res = {}
        engines = (("compiled", "pyagrum") if path.stem == "munin1" and quick
                   else ("compiled", "jtree", "default", "pyagrum"))
        for engine in engines:
            proc = subprocess.run([sys.executable, __file__, "--memory-worker", engine, str(spec)],
                                  capture_output=True, text=True, timeout=7200)
            if proc.returncode != 0:
                res[engine] = {"error": proc.stderr.strip().splitlines()[-1][:200]}
            else:
                res[engine] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(json.dumps({path.stem: {engine: {k: v for k, v in res[engine].items() if k != "check"}}}),
                  flush=True)
        checks = [r.pop("check") for r in res.values() if "check" in r]
        for c in checks[1:]:
            assert np.allclose(c, checks[0], atol=1e-8), f"{path.stem}: marginals differ between engines"
        out[path.stem] = res
    return out


def memory_worker(engine: str, spec: str):
    import gc

    spec = json.loads(Path(spec).read_text())
    arrays = load_arrays(Path(spec["path"]))
    ev = spec["evidence"]
    free = [x for x in arrays.nodes if x not in ev]
    probe = free[::97]
    gc.collect()
    rss = _RssPeak()
    base = rss.now()
    if engine == "pyagrum":
        import pyagrum as gum

        gum.setNumberOfThreads(1)
        bn = gum_from_arrays(arrays)
        base = rss.now()
        t0 = time.process_time()
        ie = gum.LazyPropagation(bn)
        compile_s = time.process_time() - t0
        t0 = time.process_time()
        ie.setEvidence(ev)
        ie.makeInference()
        post = {x: ie.posterior(x).toarray() for x in free}
        query_s = time.process_time() - t0
        check = [float(v) for x in probe for v in post[x]]
    else:
        from bayesdx.compiled import CompiledEngine
        from bayesdx.engines import default_engine, get_engine

        name = default_engine(arrays) if engine == "default" else engine  # what load_network picks
        if name == "compiled":
            CompiledEngine(load_arrays(DATA / "asia.bif"))  # kernels loaded before the baseline
        base = rss.now()
        t0 = time.process_time()
        eng = get_engine(name, arrays)
        compile_s = time.process_time() - t0
        t0 = time.process_time()
        marg, ok = eng.marginals_batch(list(ev), np.array([list(ev.values())]), free)
        query_s = time.process_time() - t0
        check = [float(v) for x in probe for v in marg[x][0]]
    peak = rss.stop()
    print(json.dumps({"engine": engine if engine == "pyagrum" else name, "compile_s": compile_s,
                      "query_s": query_s, "peak_rss_mb": peak,
                      "baseline_rss_mb": base, "peak_over_baseline_mb": peak - base, "check": check}))


# ----------------------------------------------------------------------------- report
def _loads(res):
    load = res["load"]
    if not isinstance(load, dict):
        return load
    return "; ".join(f"{k} {v}" for k, v in load.items() if res.get(k))


def markdown(res):
    m = res["machine"]
    lines = [MARK_START, "", "### The compiled engine (`engine=\"compiled\"`) side by side", "",
             f"Command: `python benchmarks/engines.py{' --quick' if res['quick'] else ''}"
             f"{' --heldout DIR' if res.get('heldout') else ''}`. Machine: {m['cpu']}, {m['cores']} "
             f"cores shared with other jobs (load average, 1/5/15 min, as each section began: {_loads(res)}), Python {m['python']}, numpy "
             f"{m['numpy']}, numba {res['numba']}, pyAgrum {m['pyagrum']}; every engine single-threaded. "
             "CPU time (`process_time`), engines interleaved case by case (in the ranking, in an order "
             f"that {'stays fixed' if res.get('fixed_order') else 'rotates from case to case'}); medians, "
             "and ratios of medians over the same cases.", ""]
    if res.get("ranking"):
        lines += ["#### Ranking: target posterior + information gain of every unobserved test, per case", "",
                  "| network | nodes | target states | tests | compiled (ms) | numpy jtree (ms) | pyAgrum per state (ms) "
                  "| pyAgrum joint targets (ms) | × vs jtree | × vs pyAgrum's best "
                  "| cases (compiled / pyAgrum per state / joint targets) |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in res["ranking"]:
            md, c = r["median_ms"], r["cases"]
            lines.append(f"| {r['scenario']} | {r['nodes']} | {r['target_states']} | {r['tests']} | "
                         f"{fmt(md['compiled'])} | {fmt(md['jtree'])} | {fmt(md.get('pyagrum per state'))} | "
                         f"{fmt(md.get('pyagrum joint targets'))} | {fmt(r['x_vs_jtree'])} | "
                         f"{fmt(r['x_vs_pyagrum_best'])} | {c['compiled']} / {c['pyagrum per state']} / "
                         f"{c.get('pyagrum joint targets', 'n/a')} |")
    d = res.get("diagnose")
    if d:
        md = d["median_ms"]
        lines += ["", f"#### `bayesdx.diagnose` on the bundled network ({d['cases']} cases; {d['note']})", "",
                  "| engine | diagnose + ranking (ms) | engine `joint_query` (ms) |", "|---|---:|---:|",
                  f"| compiled | {fmt(md['diagnose compiled'])} | {fmt(md['engine compiled'])} |",
                  f"| numpy jtree | {fmt(md['diagnose jtree'])} | {fmt(md['engine jtree'])} |", "",
                  f"One pass over the sliced, clamped clique tables is {fmt(d['multiply_adds'])} multiply-adds "
                  f"(median); the machine's element rate is {fmt(d['element_rate'] / 1e9)}e9 /s, so the compiled "
                  f"engine takes **{fmt(d['engine_over_arithmetic'])}×** that arithmetic time."]
    if res.get("cohort"):
        lines += ["", "#### Cohort: posterior marginals of the targets", "",
                  "| scenario | cases | compiled (cases/s) | numpy jtree (cases/s) | × |", "|---|---:|---:|---:|---:|"]
        for r in res["cohort"]:
            lines.append(f"| {r['scenario']} | {r['cases']:,} | {fmt(r['cases_per_s']['compiled'])} | "
                         f"{fmt(r['cases_per_s']['jtree'])} | {fmt(r['x_vs_jtree'])} |")
    if res.get("memory"):
        lines += ["", "#### Memory: all posterior marginals given 50 leaf findings, each engine in its own process", "",
                  "| network | engine | compile (s) | query (s) | peak RSS (MiB) | peak − baseline (MiB) |",
                  "|---|---|---:|---:|---:|---:|"]
        for net, by in res["memory"].items():
            for e, r in by.items():
                if "error" in r:
                    lines.append(f"| {net} | {e} | failed: {r['error']} | | | |")
                    continue
                e = f"default ({r.get('engine', '?')})" if e == "default" else e
                lines.append(f"| {net} | {e} | {fmt(r['compile_s'])} | {fmt(r['query_s'])} | "
                             f"{fmt(r['peak_rss_mb'])} | {fmt(r['peak_over_baseline_mb'])} |")
        lines += ["", "Baseline: RSS after loading Python, numpy, the network (and the compiled kernels) "
                  "and before compiling the engine; pyAgrum builds its junction tree inside its first query."]
    lines += ["", "#### Goals (issue 12)", "", "| goal | measured | met |", "|---|---|:---:|"]
    for goal, measured, ok in goals(res):
        lines.append(f"| {goal} | {measured} | {'yes' if ok else '**no**'} |")
    lines += ["", MARK_END]
    return "\n".join(lines)


def goals(res):
    """(goal, measured, met) rows computed from the results."""
    out = []
    d = res.get("diagnose")
    if d:
        md = d["median_ms"]
        out.append(("engine within 20× of its multiply-add count at the machine's element rate",
                     f"{fmt(d['engine_over_arithmetic'])}×", d["engine_over_arithmetic"] <= 20))
        x = md["diagnose jtree"] / md["diagnose compiled"]
        out.append(("whole `diagnose` (with its ranking) ≥ 4× faster than with the numpy engine",
                    f"{fmt(x)}× ({fmt(md['diagnose compiled'])} vs {fmt(md['diagnose jtree'])} ms; engine alone "
                    f"{fmt(md['engine jtree'] / md['engine compiled'])}×)", x >= 4))
    for group in ("tests/data", "bundled", "held out"):
        rows = [r for r in res.get("ranking", []) if r["group"] == group]
        if not rows:
            continue
        low = [f"{r['scenario']} {fmt(r['x_vs_pyagrum_best'])}×" for r in rows if r["x_vs_pyagrum_best"] < 10]
        worst = min(r["x_vs_pyagrum_best"] for r in rows)
        out.append((f"ranking ≥ 10× pyAgrum's best strategy, every network ({group})",
                    f"lowest {fmt(worst)}×" + (f"; below 10×: {', '.join(low)}" if low else ""), not low))
    for r in res.get("cohort", []):
        out.append((f"cohort ≥ 5× the numpy engine's throughput: {r['scenario']}", f"{fmt(r['x_vs_jtree'])}×",
                    r["x_vs_jtree"] >= 5))
    for net, by in res.get("memory", {}).items():
        g = by.get("pyagrum", {})
        for engine in ("compiled", "default"):
            c = by.get(engine, {})
            if "peak_over_baseline_mb" in c and "peak_over_baseline_mb" in g:
                who = "compiled engine" if engine == "compiled" else f"default engine ({c.get('engine', '?')})"
                out.append((f"peak memory ≤ pyAgrum's for the same propagation: {net}, {who}",
                            f"{fmt(c['peak_over_baseline_mb'])} vs {fmt(g['peak_over_baseline_mb'])} MiB over "
                            "baseline", c["peak_over_baseline_mb"] <= g["peak_over_baseline_mb"]))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases (a smoke run)")
    parser.add_argument("--heldout", help="a directory of further .bif networks")
    parser.add_argument("--only", choices=["ranking", "diagnose", "cohort", "memory"])
    parser.add_argument("--networks", help="ranking: only these networks (comma-separated names, e.g. "
                        "barley,water); printed, not written to engines.json or the reports")
    parser.add_argument("--fixed-order", action="store_true",
                        help="ranking: the engines in one fixed order in every case (compiled, numpy, "
                        "pyAgrum), as before the order rotated")
    parser.add_argument("--memory-worker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the results.md section from engines.json without running anything")
    args = parser.parse_args()
    if args.memory_worker:
        memory_worker(*args.memory_worker)
        return
    if args.report_only:
        write_report(json.loads((HERE / "engines.json").read_text()))
        return
    import numba

    global FIXED_ORDER
    FIXED_ORDER = args.fixed_order
    res = {}
    if args.only and (HERE / "engines.json").exists():  # one section re-run: keep the others
        res = json.loads((HERE / "engines.json").read_text())
    res.update({"machine": machine(), "numba": numba.__version__, "quick": args.quick, "fixed_order": FIXED_ORDER,
                "heldout": bool(args.heldout) or res.get("heldout", False)})
    res.setdefault("load", {})
    if not isinstance(res["load"], dict):
        res["load"] = {"ranking": res["load"], "diagnose": res["load"], "cohort": res["load"],
                       "memory": res["load"]}
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    want = lambda s: args.only in (None, s)  # noqa: E731
    only_networks = set(args.networks.split(",")) if args.networks else None
    sections = {"ranking": lambda: ranking_section(args.quick, args.heldout, only_networks),
                "diagnose": lambda: diagnose_section(args.quick, element_rate()),
                "cohort": lambda: cohort_section(args.quick),
                "memory": lambda: memory_section(args.quick, args.heldout)}
    for name, run_section in sections.items():
        if want(name):
            res["load"][name] = load  # the load average (1, 5, 15 min) when the section began
            res[name] = run_section()
    if only_networks:  # a partial ranking: printed above, the stored results are left alone
        return
    (HERE / "engines.json").write_text(json.dumps(res, indent=1, default=float))
    write_report(res)


def write_report(res):
    """Replace the section between the engines markers of results.md (appended if absent) and of
    the README (only where the markers are)."""
    text = markdown(res)
    for path, append in ((HERE / "results.md", True), (ROOT / "README.md", False)):
        old = path.read_text() if path.exists() else ""
        if MARK_START in old:
            old = old[:old.index(MARK_START)] + text + old[old.index(MARK_END) + len(MARK_END):]
        elif append:
            old = old.rstrip() + "\n\n" + text + "\n"
        else:
            continue
        path.write_text(old)
    print(text)


if __name__ == "__main__":
    main()
