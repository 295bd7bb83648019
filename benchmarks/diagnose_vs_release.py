#!/usr/bin/env python
"""Whole ``bayesdx.diagnose`` of this tree against a released bayesdx, in one run.

    python benchmarks/diagnose_vs_release.py [--before 5a57fde] [--cases N] [--network PATH]
                                             [--network-at REV]

The earlier release's ``bayesdx`` package and networks are unpacked from git (``git archive``) and
imported by a worker process of their own; this tree's package runs in two more workers, one per
engine (``jtree``, the default, and ``compiled``). Every worker loads the same network file (by
default ``tests/data/fasciculation_v1.yaml``, the bundled network of 0.1, which every version
reads; ``--network-at REV`` reads ``--network`` as it was at git revision REV, e.g. the bundled
network 0.2 of an earlier commit, which that commit's code reads) and the same evidence sets. The coordinator sends case after case to each worker in turn,
so a busy machine slows them alike; each worker reports the CPU time (``time.process_time``) of
``diagnose(net, evidence=...)`` followed by its ``ranking`` and ``next_test``, and the posterior
of every target, which are checked to agree across versions to 1e-9. Medians and ratios of
medians over the same cases are printed, with the machine's load.

The current ``diagnose`` does more than 0.1's did (orders with costs and decision values, the
stopping rule), so the ratio understates the engine's gain.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def worker(root: str, network: str, engine: str, cases_file: str) -> None:
    """Answer ``i`` on stdin with one diagnosis of case ``i`` (a JSON line on stdout)."""
    sys.path.insert(0, root)
    import bayesdx

    net = bayesdx.load_network(network)
    if engine != "default":
        net = net.with_engine(engine)
    cases = json.loads(Path(cases_file).read_text())
    print(json.dumps({"ready": bayesdx.__file__, "engine": type(net.engine).__name__}), flush=True)
    for line in sys.stdin:
        i = int(line)
        t0 = time.process_time()
        dx = bayesdx.diagnose(net, evidence=cases[i])
        dx.ranking, dx.next_test
        dt = time.process_time() - t0
        post = {t: dx.marginal(t).tolist() for t in net.targets}
        print(json.dumps({"cpu": dt, "post": post}), flush=True)


def draw(network: str, n: int, seed: int) -> list[dict]:
    """Evidence sets: context known, each test observed with a per-case probability U(0, 0.5)."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    import bayesdx
    from run import draw_cases

    net = bayesdx.load_network(network)
    context = [v for v in net.nodes if net.role(v) == "context"]
    cases = draw_cases(net.arrays, [*context, *net.tests], n, seed=seed, always=context)
    return [{k: net.states(k)[s] for k, s in ev.items()} for ev in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="5a57fde", help="the release to compare with (0.1: 5a57fde)")
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--network", default=str(ROOT / "tests" / "data" / "fasciculation_v1.yaml"))
    parser.add_argument("--network-at", metavar="REV",
                        help="read --network (a path in this repository) as it was at git revision REV")
    parser.add_argument("--worker", nargs=4, metavar=("ROOT", "NETWORK", "ENGINE", "CASES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bayesdx-release-"))
    archive = subprocess.run(["git", "archive", args.before, "bayesdx", "networks"], cwd=ROOT,
                             check=True, capture_output=True).stdout
    old = tmp / "release"
    old.mkdir()
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        tar.extractall(old, filter="data")
    if args.network_at:
        path = Path(args.network).resolve().relative_to(ROOT).as_posix()
        text = subprocess.run(["git", "show", f"{args.network_at}:{path}"], cwd=ROOT, check=True,
                              capture_output=True).stdout
        args.network = str(tmp / f"{args.network_at}-{Path(path).name}")
        Path(args.network).write_bytes(text)
    cases_file = tmp / "cases.json"
    cases = draw(args.network, args.cases, seed=2026)
    cases_file.write_text(json.dumps(cases))
    variants = {f"{args.before} (default engine)": (str(old), "default"),
                "now, jtree (default)": (str(ROOT), "jtree"),
                "now, compiled": (str(ROOT), "compiled")}
    procs = {}
    for name, (root, engine) in variants.items():
        p = subprocess.Popen([sys.executable, __file__, "--worker", root, args.network, engine, str(cases_file)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tmp)
        ready = json.loads(p.stdout.readline())
        assert Path(ready["ready"]).is_relative_to(root), ready
        procs[name] = p
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "n/a"
    times = {k: [] for k in procs}
    warm = min(10, len(cases))
    for i in [*range(warm), *range(len(cases))]:
        answers = {}
        for name, p in procs.items():
            p.stdin.write(f"{i}\n")
            p.stdin.flush()
            answers[name] = json.loads(p.stdout.readline())
        ref = next(iter(answers.values()))["post"]
        for name, a in answers.items():
            for t, probs in a["post"].items():
                assert max(abs(x - y) for x, y in zip(probs, ref[t])) < 1e-9, (name, i, t)
        if warm:
            warm -= 1
            continue
        for name, a in answers.items():
            times[name].append(a["cpu"])
    for p in procs.values():
        p.stdin.close()
        p.wait()
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                   if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    base = statistics.median(times[next(iter(times))])
    print(f"{len(cases)} cases of {Path(args.network).name}; {cpu}, {os.cpu_count()} cores, load {load}; "
          "CPU-time medians, workers interleaved case by case; posteriors agree to 1e-9")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:<32} {med * 1e3:8.3f} ms   x {base / med:5.2f} vs {args.before}")


if __name__ == "__main__":
    main()
