#!/usr/bin/env python
"""The factored engine (``engine="lazy"``) against the compiled engine and pyAgrum, per case.

    python benchmarks/lazy.py [--quick] [--heldout DIR] [--networks A,B]

Per case, the ranking query: the posterior of the targets and the information gain of every
unobserved test (one ``joint_query`` + ``information_gains_bits`` for bayesdx; pyAgrum's better
of its per-state and joint-target strategies, as in ``benchmarks/engines.py``, whose helpers
this script imports). The engines are interleaved case by case; timings are CPU time of this
process, single-threaded, and medians are reported. Every answer is cross-checked.

Per network it also reports what the lazy engine pays for a new pattern of evidence (its
elimination plans and contraction paths are searched once per local pattern): ``build_s``
(engine construction), ``first_ms`` (the first query of a fresh engine) and ``repeat_ms``
(the median of each case asked again, its plans cached), beside the quantities a rule for
choosing the engine can use: the largest clique table, the largest CPT and the total of the
clique tables.

Writes ``benchmarks/lazy.json``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import math
import statistics
import sys
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from engines import GumJointRanker, bayesdx_ranker, cpu, med_ms, networks, same  # noqa: E402
from run import GumRanker, draw_cases, gum_from_arrays, machine  # noqa: E402


def bench_network(label, arrays, targets, tests, n, n_gum, group):
    import pyagrum as gum

    from bayesdx.compiled import CompiledEngine
    from bayesdx.lazy import LazyEngine

    gum.setNumberOfThreads(1)
    tests = tests or [x for x in arrays.nodes if x not in targets]
    cases = draw_cases(arrays, tests, n, seed=zlib.crc32(label.encode()))
    build_s, lazy = cpu(LazyEngine, arrays)
    compile_s, compiled = cpu(CompiledEngine, arrays)
    rank_lazy, rank_compiled = bayesdx_ranker(lazy), bayesdx_ranker(compiled)
    first_s, _ = cpu(rank_lazy, targets, tests, cases[0])
    rank_compiled(targets, tests, cases[0])  # warm-up
    bn = gum_from_arrays(arrays)
    gum_rankers = {"pyagrum per state": GumRanker(arrays, bn)}
    if len(tests) <= 200:
        gum_rankers["pyagrum joint targets"] = GumJointRanker(arrays, bn)
    times = {k: [] for k in ("lazy", "lazy repeat", "compiled", *gum_rankers)}
    for i, ev in enumerate(cases):
        dt, got = cpu(rank_lazy, targets, tests, ev)
        times["lazy"].append(dt)
        times["lazy repeat"].append(cpu(rank_lazy, targets, tests, ev)[0])
        dt, want = cpu(rank_compiled, targets, tests, ev)
        times["compiled"].append(dt)
        same(got, want, f"{label}: lazy")
        if i < n_gum:
            for name, fn in gum_rankers.items():
                dt, ans = cpu(fn, targets, tests, ev)
                times[name].append(dt)
                same(got, ans, f"{label}: {name}")
    med = {k: med_ms(v) for k, v in times.items()}
    best = min(gum_rankers, key=lambda k: med[k])
    lazy_gum = statistics.median(times["lazy"][:n_gum])
    return {
        "scenario": label, "group": group, "nodes": len(arrays.nodes),
        "target_states": math.prod(arrays.card(t) for t in targets), "tests": len(tests),
        "clique_total": lazy.total_clique_size, "largest_clique": lazy.largest_clique,
        "largest_factor": lazy.largest_factor, "cliques": len(lazy.cliques),
        "build_s": build_s, "compile_s": compile_s, "first_ms": 1e3 * first_s,
        "cases": {k: len(v) for k, v in times.items()}, "median_ms": med, "pyagrum_best": best,
        "lazy_vs_compiled": statistics.median(times["compiled"]) / statistics.median(times["lazy"]),
        "lazy_vs_pyagrum_best": statistics.median(times[best]) / lazy_gum,
        "fell_back_to_numpy": lazy._reference is not None,
    }


def table(rows) -> str:
    head = (f"{'network':<26}{'nodes':>6}{'max clique':>12}{'max CPT':>9}{'lazy ms':>9}{'repeat':>8}"
            f"{'compiled':>10}{'pyAgrum':>9}{'lazy/comp':>10}{'vs pyAgrum':>11}{'first ms':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        m = r["median_ms"]
        lines.append(
            f"{r['scenario'][:25]:<26}{r['nodes']:>6}{r['largest_clique']:>12.3g}{r['largest_factor']:>9.3g}"
            f"{m['lazy']:>9.2f}{m['lazy repeat']:>8.2f}{m['compiled']:>10.2f}{m[r['pyagrum_best']]:>9.2f}"
            f"{r['lazy_vs_compiled']:>9.2f}x{r['lazy_vs_pyagrum_best']:>10.2f}x{r['first_ms']:>9.1f}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases (a smoke run, not stored)")
    parser.add_argument("--heldout", default="/tmp/heldout", help="directory of held-out *.bif networks")
    parser.add_argument("--networks", default=None, help="comma-separated names: a partial run, not stored")
    args = parser.parse_args()
    only = set(args.networks.split(",")) if args.networks else None
    heldout = args.heldout if Path(args.heldout).is_dir() else None
    rows = []
    started = time.time()
    for label, arrays, targets, n, n_gum, group, tests in networks(heldout):
        if only and label.split()[0] not in only:
            continue
        if args.quick:
            n, n_gum = max(3, n // 10), max(1, n_gum // 4)
        row = bench_network(label, arrays, targets, tests, n, n_gum, group)
        print(json.dumps({k: row[k] for k in ("scenario", "median_ms", "lazy_vs_compiled",
                                              "lazy_vs_pyagrum_best", "first_ms")}), flush=True)
        rows.append(row)
    print(table(rows))
    if args.quick or only:
        return
    out = {"machine": machine(), "wall_s": time.time() - started, "timing": "CPU time, medians",
           "rows": rows}
    (HERE / "lazy.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {HERE / 'lazy.json'}")


if __name__ == "__main__":
    main()
