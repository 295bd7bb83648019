#!/usr/bin/env python
"""Where one ``bayesdx.diagnose`` spends its time, part by part, on the bundled network.

    python benchmarks/diagnose_parts.py [--engine compiled] [--cases 200] [--root DIR]

Each case is diagnosed afresh and its parts timed one after the other (CPU time,
``time.process_time``), warm: the same process runs every case, so caches hold this process's
code and data (``benchmarks/diagnose_vs_release.py`` interleaves processes instead, and its times
are higher). The parts: the engine's query (``query``, leaf joints deferred), the ``Diagnosis``
object (``init``), the outcome tables of every order (``tables``), their values under the
objective (``values``) and the ranking frame (``frame``, built as ``dx.ranking`` builds it).
Medians over the cases of the last two of three passes.

``--root DIR`` imports ``bayesdx`` from another checkout (e.g. a ``git worktree`` of an earlier
commit), whose parts then run the same cases.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="compiled")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--network", default="fasciculation")
    parser.add_argument("--root", help="import bayesdx from this checkout")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(Path(args.root).resolve() if args.root else HERE.parent))
    from run import draw_cases

    import bayesdx
    from bayesdx import results

    net = bayesdx.load_network(args.network).with_engine(args.engine)
    context = [v for v in net.nodes if net.role(v) == "context"]
    drawn = draw_cases(net.arrays, [*context, *net.tests], args.cases, seed=2026, always=context)
    cases = [{k: net.states(k)[s] for k, s in ev.items()} for ev in drawn]
    parts = ("query", "init", "tables", "values", "frame")
    times: dict[str, list[float]] = {k: [] for k in (*parts, "total")}
    clock = time.process_time
    for rep in range(3):
        for case in cases:
            t0 = clock()
            encoded = net.encode_evidence(case)
            query = results._query(net, encoded, case)
            t1 = clock()
            dx = results.Diagnosis(net, case, query, results._prior(net), _encoded=encoded)
            t2 = clock()
            _ = dx._order_tables
            t3 = clock()
            _ = dx._order_values
            t4 = clock()
            _ = dx.ranking, dx.next_test
            t5 = clock()
            if rep:
                for name, a, b in zip(parts, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
                    times[name].append(b - a)
                times["total"].append(t5 - t0)
    print(f"{args.network}, engine {args.engine}, {len(cases)} cases, bayesdx from "
          f"{Path(bayesdx.__file__).parent.parent}; CPU-time medians (ms):")
    print("  " + "  ".join(f"{k} {statistics.median(v) * 1e3:.3f}" for k, v in times.items()))


if __name__ == "__main__":
    main()
