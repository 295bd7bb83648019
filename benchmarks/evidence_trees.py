#!/usr/bin/env python
"""The compiled engine's evidence trees, per case: ``evidence_trees="never"``, ``"auto"`` (the
default) and ``"always"`` side by side.

    python benchmarks/evidence_trees.py [--heldout DIR] [--networks A,B] [--cases N]

Per case, the ranking query of ``benchmarks/engines.py`` (the targets' posterior and the
information gain of every unobserved test: one ``joint_query`` and ``information_gains_bits``),
on the held-out networks whose tree is large enough to weigh evidence trees, with the
benchmark's targets and cases (the same seeds). Each case is a new pattern of evidence, so
every query pays for its pattern: the three engines run it in turn (their order rotating from
case to case), each with its cache of patterns (and their evidence trees) emptied first. Every answer
is checked against the ``"never"`` engine's (target posterior and gains to 1e-9). Timings are
CPU time of this single-threaded process; medians are printed, with what ``"auto"``'s weigher
counted (candidates triangulated, patterns passed over) and how many queries it answered on an
evidence tree. Nothing is written.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import platform
import statistics
import sys
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

MODES = ("never", "auto", "always")


def bench_network(path: Path, n_cases: int):
    import numpy as np

    from bayesdx import _evidencetree
    from bayesdx.compiled import CompiledEngine
    from engines import load_arrays
    from run import draw_cases

    arrays = load_arrays(path)
    roots = [n for n in arrays.nodes if not arrays.parents[n]]
    kids = {n: sum(n in arrays.parents[m] for m in arrays.nodes) for n in roots}
    target = max(roots, key=lambda n: (kids[n], -arrays.card(n)))  # engines.py's choice
    tests = [x for x in arrays.nodes if x != target]
    cases = draw_cases(arrays, tests, n_cases, seed=zlib.crc32(f"{path.stem} (held out)".encode()))
    engines = {m: CompiledEngine(arrays, evidence_trees=m) for m in MODES}
    if engines["auto"]._qplan.total_size < _evidencetree.MIN_ENTRIES:
        return None
    times = {m: [] for m in MODES}
    for i, ev in enumerate(cases):
        read = [x for x in tests if x not in ev]
        answers = {}
        for m in MODES[i % 3:] + MODES[:i % 3]:
            engine = engines[m]
            engine._patterns.clear()  # with them, their evidence trees
            t0 = time.process_time()
            q = engine.joint_query(ev, [target], read)
            gains = q.information_gains_bits()
            times[m].append(time.process_time() - t0)
            answers[m] = (q.target_joint, gains)
        want_joint, want_gains = answers["never"]
        for m in ("auto", "always"):
            joint, gains = answers[m]
            assert np.allclose(joint, want_joint, atol=1e-9, rtol=0), f"{path.stem}: {m} posterior differs"
            assert all(abs(gains[x] - want_gains[x]) < 1e-9 for x in read), f"{path.stem}: {m} gains differ"
    w = engines["auto"]._weigher
    return {"network": path.stem, "nodes": len(arrays.nodes), "cases": len(cases),
            "median_ms": {m: 1e3 * statistics.median(t) for m, t in times.items()},
            "weighed": w.weighed, "passed": w._passed,
            "answered": {m: engines[m].evidence_tree_queries for m in ("auto", "always")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", default="/tmp/heldout", help="directory of held-out *.bif networks")
    parser.add_argument("--networks", default=None, help="comma-separated names (default: all in --heldout)")
    parser.add_argument("--cases", type=int, default=40, help="cases per network (default 40)")
    args = parser.parse_args()
    paths = sorted(Path(args.heldout).glob("*.bif"))
    if args.networks:
        wanted = set(args.networks.split(","))
        paths = [p for p in paths if p.stem in wanted]
    if not paths:
        parser.error(f"no *.bif networks to run in {args.heldout}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load}; "
          f"CPU-time medians over {args.cases} cases, each a new pattern of evidence")
    print(f"{'network':12s} {'nodes':>5s} " + " ".join(f"{m + ' ms':>10s}" for m in MODES)
          + f" {'never/auto':>10s}  weighed / passed / answered (auto, always)")
    for path in paths:
        row = bench_network(path, args.cases)
        if row is None:
            continue
        med = row["median_ms"]
        print(f"{row['network']:12s} {row['nodes']:5d} " + " ".join(f"{med[m]:10.2f}" for m in MODES)
              + f" {med['never'] / med['auto']:10.2f}  {row['weighed']} / {row['passed']} / "
              f"{row['answered']['auto']}, {row['answered']['always']}", flush=True)


if __name__ == "__main__":
    main()
