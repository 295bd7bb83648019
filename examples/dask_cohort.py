"""Score a registry-sized cohort with Dask: 10 million simulated cases by default.

The cases are simulated on the workers (``bayesdx.simulate``, one seed per partition), scored
there by ``bayesdx.posteriors`` (each worker builds the network's engine once), and written to
Parquet or summarised; nothing of size N comes back to this process.

    pip install "bayesdx[dask]"
    python examples/dask_cohort.py                         # 10M cases, local cluster, 2 workers
    python examples/dask_cohort.py --cases 20000 --partition 2000       # a quick run
    python examples/dask_cohort.py --scheduler tcp://scheduler:8786     # a real cluster
    python examples/dask_cohort.py --network hepar2.bif --targets Cirrhosis,PBC --out post.parquet

On a real cluster every worker needs ``pip install bayesdx`` (the same version); the network
travels with the graph as its YAML text or its tables, so a file need not be on the workers.
At about 340 cases per CPU-second on the bundled network (findings only, half hidden; 12,000
on Hepar II with three targets; ``benchmarks/dask_cohort.py``), 10 million bundled-network cases
are about nine CPU-hours: scale the cluster, not the code.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd


def simulated_partition(i: int, *, shipped, size: int, missing: float, seed: int) -> pd.DataFrame:
    """Partition ``i``: ``size`` cases drawn from the network, indexed by their global number."""
    import bayesdx

    net = shipped.network()  # built once per worker process
    findings, _ = bayesdx.simulate(net, size, seed=seed * 1_000_003 + i, missing=missing,
                                   observe="tests")
    findings.index = pd.RangeIndex(i * size, (i + 1) * size, name="case")
    return findings


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000_000)
    parser.add_argument("--partition", type=int, default=50_000, help="cases per partition")
    parser.add_argument("--network", default="fasciculation", help="bundled name or file")
    parser.add_argument("--targets", help="comma-separated targets (needed for BIF files)")
    parser.add_argument("--missing", type=float, default=0.5, help="share of findings hidden")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", help="address of a running scheduler (default: local)")
    parser.add_argument("--out", help="write the posteriors to this Parquet directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import bayesdx
    from bayesdx.distributed import ShippedNetwork

    targets = args.targets.split(",") if args.targets else None
    net = bayesdx.load_network(args.network, targets=targets)
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        client = Client(LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                     processes=True, dashboard_address=":0"))
    print(client)
    shipped = ShippedNetwork.from_network(net)
    n_parts = -(-args.cases // args.partition)
    sizes = [min(args.partition, args.cases - i * args.partition) for i in range(n_parts)]
    meta = bayesdx.simulate(net, 0, observe="tests")[0]
    meta.index = pd.RangeIndex(0, 0, name="case")
    cases = dd.from_map(lambda i: simulated_partition(i, shipped=shipped, size=sizes[i],
                                                      missing=args.missing, seed=args.seed),
                        range(n_parts), meta=meta, enforce_metadata=False)
    post = bayesdx.posteriors(net, cases)  # lazy: one task per partition
    start = time.perf_counter()
    if args.out:
        flat = post.map_partitions(lambda p: p.set_axis([f"{t}:{s}" for t, s in p.columns], axis=1))
        flat.to_parquet(args.out)
        what = f"written to {args.out}"
    else:
        healthy = [(t, net.reference_state(t)) for t in net.targets]
        present = post.map_partitions(lambda p: 1.0 - p[healthy].set_axis(list(net.targets), axis=1),
                                      meta=pd.DataFrame(columns=list(net.targets), dtype=float))
        means = present.mean().compute()
        what = "mean P(disease present): " + ", ".join(
            f"{net.label(t)} {m:.4f}" for t, m in zip(net.targets, means))
    wall = time.perf_counter() - start
    print(f"{args.cases:,} cases in {n_parts} partitions: {wall:.1f} s wall, "
          f"{args.cases / wall:,.0f} cases/s; {what}")
    client.close()


if __name__ == "__main__":
    main()
