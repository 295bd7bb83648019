#!/usr/bin/env python
"""What ``bayesdx.uncertainty`` costs on the bundled network, against one ``diagnose``, a loop of
rebuilt networks and pyAgrum's bootstrap mixture.

    python benchmarks/uncertainty.py [--quick] [--draws N] [--repeats R]

Every timing is CPU time (``time.process_time``) of this process, single-threaded (BLAS limited
to one thread), on the worked case of ``bayesdx demo``. Repeats are interleaved (one diagnose
batch, one uncertainty run, one of each comparison, then again) so a busy machine slows them
alike; medians are reported.

1. ``diagnose``: one ``bayesdx.diagnose(net, evidence=case).ranking`` (posteriors and every
   order's value, the default decision objective), the median of 20 per repeat.
2. ``uncertainty``: ``bayesdx.uncertainty(net, evidence=case, draws=N, seed=...)``: N draws of
   every ranged number, posteriors with intervals, every order's value per draw and the
   probability that each is the top recommendation.
3. ``loop``: what a user could do without it: per draw, ``net.with_parameters(drawn numbers)``
   (recompiling the file, calibration included) and ``diagnose(...).ranking``. Timed on a sample
   of 50 draws and **scaled** to N.
4. ``pyagrum``: ``pyagrum.bnmixture.BootstrapMixture`` holding N BayesNets with the same drawn
   tables, ``BootstrapMixtureInference`` with the evidence and ``quantiles`` of the six targets'
   posteriors. Comparable for the posterior intervals only: pyAgrum has no order values (the
   ranking would need one query per order and draw). Building the N BayesNets is timed apart.

Writes ``benchmarks/uncertainty.json``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
warnings.filterwarnings("ignore")

from run import cpu_name, fmt, gum_from_arrays, machine  # noqa: E402  (the house helpers)


def cpu(fn, *args, **kw):
    t0 = time.process_time()
    out = fn(*args, **kw)
    return time.process_time() - t0, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 draws, one repeat")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    draws = 200 if args.quick else args.draws
    repeats = 1 if args.quick else args.repeats

    import pyagrum as gum
    import pyagrum.bnmixture as bnm

    import bayesdx
    from bayesdx._batcheval import SettingsEvaluator
    from bayesdx.cli import DEMO_CASE
    from bayesdx.inference import ModelArrays
    from bayesdx.priors import CPT_KINDS, _blocks

    gum.setNumberOfThreads(1)
    net = bayesdx.load_network("fasciculation")
    case = dict(DEMO_CASE)
    bayesdx.diagnose(net, evidence=case).ranking  # warm the engine and caches
    bayesdx.uncertainty(net, evidence=case, draws=5, seed=0)  # and the parameter fit

    # draws for the loop and for pyAgrum: the same distributions, drawn once (not timed)
    ev = SettingsEvaluator(net, case)
    values, tables = ev.draw(draws, np.random.default_rng(7), [b for b in _blocks(net) if b.family != "point"])
    cpt_rows = [i for i, p in enumerate(net.spec.params) if p.cpt_type in CPT_KINDS]

    times = {"diagnose": [], "uncertainty": [], "loop_per_draw": [], "pyagrum_build": [],
             "pyagrum_inference": []}
    check = {}
    for r in range(repeats):
        for _ in range(20):
            t, _ = cpu(lambda: bayesdx.diagnose(net, evidence=case).ranking)
            times["diagnose"].append(t)
        t, u = cpu(bayesdx.uncertainty, net, evidence=case, draws=draws, seed=100 + r)
        times["uncertainty"].append(t)
        for i in range(r * 50 // repeats, (r + 1) * 50 // repeats):
            t, _ = cpu(lambda: bayesdx.diagnose(
                net.with_parameters({j: float(values[i, j]) for j in cpt_rows}), evidence=case).ranking)
            times["loop_per_draw"].append(t)

        def build():
            mix = bnm.BootstrapMixture("point", gum_from_arrays(net.arrays))
            for i in range(draws):
                arrays = ModelArrays(nodes=net.arrays.nodes, states=net.arrays.states,
                                     parents=net.arrays.parents,
                                     cpts={n: tables[n][i] for n in net.arrays.nodes})
                mix.add(f"draw{i}", gum_from_arrays(arrays))
            return mix

        t, mix = cpu(build)
        times["pyagrum_build"].append(t)

        def infer():
            ie = bnm.BootstrapMixtureInference(mix)
            ie.setEvidence(case)
            ie.makeInference()
            return {tgt: ie.quantiles(tgt) for tgt in net.targets}

        t, q = cpu(infer)
        times["pyagrum_inference"].append(t)
        if r == 0:  # the same draws give the same posteriors: pyAgrum's first draw against ours
            ours = ev.answer({n: tables[n][:1] for n in tables}, 1)["target_probs"][0]
            ie = gum.LazyPropagation(mix.BN("draw0"))
            ie.setEvidence(case)
            ie.makeInference()
            cards = [net.arrays.card(tg) for tg in net.targets]
            post = ours.reshape(cards).sum(axis=tuple(range(1, len(cards))))
            theirs = np.array(ie.posterior(net.targets[0]).tolist())
            check["first_draw_als_posterior_max_diff"] = float(np.max(np.abs(post - theirs)))
        print(f"repeat {r + 1}/{repeats} done", file=sys.stderr)

    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "machine": {**machine(), "cpu": cpu_name()},
        "case": case, "draws": draws, "repeats": repeats,
        "cpu_s_median": med,
        "loop_scaled_s": med["loop_per_draw"] * draws,
        "loop_sample": len(times["loop_per_draw"]),
        "ratio_uncertainty_to_diagnose": med["uncertainty"] / med["diagnose"],
        "goal_ratio": 50,
        "speedup_over_loop": med["loop_per_draw"] * draws / med["uncertainty"],
        "pyagrum_inference_to_uncertainty": med["pyagrum_inference"] / med["uncertainty"],
        "check": check,
        "prob_top_of_recommendation": u.prob_top,
    }
    (HERE / "uncertainty.json").write_text(json.dumps(result, indent=2, default=str))
    print(f"Machine: {cpu_name()}, single-threaded. Case: bayesdx demo's worked case. {draws} draws, "
          f"{repeats} interleaved repeat(s), CPU-time medians.\n")
    print("| what | CPU time |")
    print("|---|---|")
    print(f"| one diagnose (posteriors + every order's value) | {fmt(1e3 * med['diagnose'])} ms |")
    print(f"| bayesdx.uncertainty, {draws} draws (posteriors + order values + top probability) | "
          f"{fmt(med['uncertainty'])} s |")
    print(f"| loop of rebuilt networks (with_parameters + diagnose), scaled from "
          f"{len(times['loop_per_draw'])} draws | {fmt(med['loop_per_draw'] * draws)} s |")
    print(f"| pyAgrum BootstrapMixture: building {draws} BayesNets | {fmt(med['pyagrum_build'])} s |")
    print(f"| pyAgrum BootstrapMixtureInference: posterior quantiles of 6 targets only | "
          f"{fmt(med['pyagrum_inference'])} s |")
    print(f"\nuncertainty / diagnose = {fmt(result['ratio_uncertainty_to_diagnose'])}x "
          f"(goal < 50x: {'met' if result['ratio_uncertainty_to_diagnose'] < 50 else 'missed'}); "
          f"loop / uncertainty = {fmt(result['speedup_over_loop'])}x; "
          f"pyAgrum inference / uncertainty = {fmt(result['pyagrum_inference_to_uncertainty'])}x")
    print(f"check: {check}")


if __name__ == "__main__":
    main()
