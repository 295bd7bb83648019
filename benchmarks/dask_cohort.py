"""Cohort throughput in memory against a two-worker local Dask cluster, and memory per worker.

For each network: N simulated cases (findings observed with probability 0.5) are scored
(1) by ``bayesdx.posteriors`` in this process and (2) as a Dask DataFrame persisted on a
``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` (the data already on the
workers, as when a registry is read there). Reported: wall time and CPU time (this process;
for the cluster, the CPU of both worker processes, since they run in parallel), cases per
second of wall time, and each worker's peak RSS (``ru_maxrss``) and RSS after the run. The two
results are checked equal to the last bit.

    pip install ".[dask]"
    python benchmarks/dask_cohort.py              # fasciculation 6,000 and hepar2 60,000 cases
    python benchmarks/dask_cohort.py --scale 0.2  # a quick run
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import cpu_name, fmt  # noqa: E402

HEPAR2_TARGETS = ["Cirrhosis", "PBC", "Steatosis"]


def worker_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def worker_memory_mib() -> tuple[float, float]:
    import psutil

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return peak, psutil.Process().memory_info().rss / 2**20


def one(label, net, n, client, n_parts):
    import dask.dataframe as dd

    import bayesdx

    cases, _ = bayesdx.simulate(net, n, seed=1, missing=0.5, observe="tests")
    bayesdx.posteriors(net, cases.iloc[:200])  # engine built, as on the workers below
    c0, w0 = time.process_time(), time.perf_counter()
    memory = bayesdx.posteriors(net, cases)
    mem_cpu, mem_wall = time.process_time() - c0, time.perf_counter() - w0

    ddf = client.persist(dd.from_pandas(cases, npartitions=n_parts, sort=False))
    client.wait_for_workers(2)
    from distributed import wait

    wait(ddf)
    client.compute(bayesdx.posteriors(net, ddf.partitions[:2])).result()  # build on both workers
    before = client.run(worker_cpu_s)
    w0 = time.perf_counter()
    dist = client.compute(bayesdx.posteriors(net, ddf)).result()
    dist_wall = time.perf_counter() - w0
    after = client.run(worker_cpu_s)
    dist_cpu = sum(after[w] - before[w] for w in after)
    mem = client.run(worker_memory_mib)
    assert np.array_equal(dist.loc[memory.index].to_numpy(), memory.to_numpy()), label
    return {"scenario": label, "cases": n, "partitions": n_parts,
            "memory_wall": mem_wall, "memory_cpu": mem_cpu,
            "dask_wall": dist_wall, "dask_cpu": dist_cpu,
            "peak_rss": [p for p, _ in mem.values()], "rss": [r for _, r in mem.values()]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the case counts")
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    import bayesdx

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    client = Client(cluster)
    rows = []
    try:
        fasc = bayesdx.load_network("fasciculation")
        hepar = bayesdx.load_network(HERE.parent / "tests" / "data" / "hepar2.bif",
                                     targets=HEPAR2_TARGETS)
        rows.append(one("fasciculation (bundled; findings 50%)", fasc, int(6000 * args.scale),
                        client, 8))
        rows.append(one("hepar2 (Cirrhosis, PBC, Steatosis; findings 50%)", hepar,
                        int(60000 * args.scale), client, 8))
    finally:
        client.close()
        cluster.close()
    print(f"\nMachine: {cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"bayesdx {bayesdx.__version__}\n")
    print("| scenario | cases | in memory: wall (s) | CPU (s) | cases/s | 2 workers: wall (s) | "
          "CPU, both workers (s) | cases/s | × wall | worker peak RSS (MiB) | RSS after (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['scenario']} | {r['cases']:,} | {fmt(r['memory_wall'])} | {fmt(r['memory_cpu'])} | "
              f"{fmt(r['cases'] / r['memory_wall'])} | {fmt(r['dask_wall'])} | {fmt(r['dask_cpu'])} | "
              f"{fmt(r['cases'] / r['dask_wall'])} | {fmt(r['memory_wall'] / r['dask_wall'])} | "
              f"{' / '.join(fmt(x) for x in r['peak_rss'])} | {' / '.join(fmt(x) for x in r['rss'])} |")


if __name__ == "__main__":
    main()
