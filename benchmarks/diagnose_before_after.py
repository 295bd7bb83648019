#!/usr/bin/env python
"""``bayesdx.diagnose`` (the bundled network by default) with this tree's ranking code against an earlier
commit's, interleaved case by case in one process (CPU-time medians).

    python benchmarks/diagnose_before_after.py [--before COMMIT] [--cases N] [--network NET]

The earlier commit's ``bayesdx/ranking.py`` is loaded from git beside the current one, and its
diagnosis query is the engine's ``joint_query`` over every non-target node (as it was before
unobserved leaves were read from their parents). Everything else (engines, network, orders) is
this tree's, so the difference is the diagnosis' Python and numpy work around the engine.
Rankings are checked to agree (values to 1e-12; the order of values within 1e-14 of each other,
noise-level decision values, may differ).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bayesdx  # noqa: E402
import bayesdx.ranking as current  # noqa: E402
import bayesdx.results as results  # noqa: E402
from run import draw_cases  # noqa: E402


def load_old(commit: str):
    source = subprocess.run(["git", "show", f"{commit}:bayesdx/ranking.py"], cwd=HERE.parent,
                            check=True, capture_output=True, text=True).stdout
    source = source.replace("from .", "from bayesdx.")
    path = Path(tempfile.mkdtemp()) / "ranking_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("ranking_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)

    def query(network, encoded, labels):
        nodes = [n for n in network.nodes if n not in network.targets]
        return network.engine.joint_query(encoded, network.targets, nodes)

    module.query = query
    return module


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="130d5f9")
    parser.add_argument("--cases", type=int, default=150)
    parser.add_argument("--network", default="fasciculation",
                        help="a bundled name or a path (e.g. tests/data/fasciculation_v1.yaml)")
    args = parser.parse_args()
    old = load_old(args.before)
    current.query = results._query
    variants = {"before": old, "after": current}

    def use(m):
        results.build_tables, results.ranking_frame = m.build_tables, m.ranking_frame
        results.value_orders, results._query = m.value_orders, m.query

    print(f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    for engine in ("compiled", "jtree"):
        net = bayesdx.load_network(args.network).with_engine(engine)
        context = [v for v in net.nodes if net.role(v) == "context"]
        cases = draw_cases(net.arrays, [*context, *net.tests], args.cases, seed=77, always=context)
        labels = [{k: net.states(k)[s] for k, s in ev.items()} for ev in cases]

        def full(lab):
            dx = bayesdx.diagnose(net, evidence=lab)
            return dx.ranking, dx.next_test

        for lab in labels[:5]:
            for m in variants.values():
                use(m)
                full(lab)
        times = {k: [] for k in variants}
        reordered = 0
        for lab in labels:
            got = {}
            for k, m in variants.items():
                use(m)
                t0 = time.process_time()
                got[k] = full(lab)
                times[k].append(time.process_time() - t0)
            a, b = got["before"][0], got["after"][0]
            np.testing.assert_allclose(np.sort(a["value"].to_numpy(float)),
                                       np.sort(b["value"].to_numpy(float)), rtol=1e-12, atol=1e-14)
            reordered += list(a.index) != list(b.index)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        print(f"{engine}: before {med['before']:.2f} ms, after {med['after']:.2f} ms, "
              f"x {med['before'] / med['after']:.2f} ({len(labels)} cases; {reordered} rankings "
              "reordered among values within 1e-14)", flush=True)
    use(current)


if __name__ == "__main__":
    main()
