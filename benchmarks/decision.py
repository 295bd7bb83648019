#!/usr/bin/env python
"""Decision-grade recommendations on the bundled network: what they cost in time.

    python benchmarks/decision.py [--quick] [--only ranking|plan] [--limit SECONDS]

Every timing is CPU time (``time.process_time``) of this process, single-threaded (BLAS limited
to one thread). Sections:

1. ``ranking``: per forward-sampled case (context nodes observed, each finding observed with
   probability U(0, 0.5), fixed seed), ``bayesdx.diagnose(...).ranking`` built three ways,
   interleaved case by case so a busy machine slows them alike: today's ranking of every test
   node by joint information gain (``objective="information", by="node"``), the ranking of the
   network's orders by information, and the ranking of its orders by decision value
   (``objective="decision", by="order"``: the expected-utility gain of every order, stop advice
   and action thresholds). Medians and ratios of medians over the same cases.
2. ``plan``: ``bayesdx.plan`` on three presentations, the exact optimal policy over the first
   k of ten of the network's orders (k = 3 ... 10), each run stopped by a time limit; then the
   k-step look-ahead policies over all ten. CPU time, posterior evaluations, engine queries,
   evidence states searched, the pre-search bound, and what the policy achieves.

Writes ``benchmarks/decision.json`` and the section between the ``decision`` markers of
``benchmarks/results.md``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
warnings.filterwarnings("ignore")

from run import cpu_name, fmt  # noqa: E402  (the house helpers of benchmarks/run.py)

MARK_START, MARK_END = "<!-- decision:start -->", "<!-- decision:end -->"

#: Ten of the bundled network's orders, from the EMG/NCS study to a muscle biopsy.
TEN = ["emg_ncs", "thyroid_panel", "b12_reflex_mma", "ck", "hba1c", "ana_esr_crp",
       "myositis_antibody_panel", "abi", "muscle_mri", "muscle_biopsy"]

#: Three presentations (as in the clinical anchors): the worked case of ``bayesdx demo``, a
#: young patient with fasciculations and a normal examination, an older smoker with calf pain.
def presentations():
    from bayesdx.cli import DEMO_CASE

    return {
        "demo case (50s, fasciculations, cramps, distal weakness)": dict(DEMO_CASE),
        "under 40, fasciculations, normal examination": {
            "age_band": "age_lt_40", "fasciculations_exam": "present", "distal_weakness": "absent",
            "proximal_weakness": "absent", "atrophy": "absent", "reflexes": "normal",
            "umn_signs": "absent", "bulbar_signs": "absent"},
        "over 70, smoker, exertional calf pain, diminished pulses": {
            "age_band": "age_ge_70", "smoking": "current", "exertional_leg_pain": "present",
            "pedal_pulses": "diminished"},
    }


def cpu(fn, *args, **kw):
    t0 = time.process_time()
    out = fn(*args, **kw)
    return time.process_time() - t0, out


# ----------------------------------------------------------------------------- section 1
def ranking_section(quick: bool):
    import bayesdx
    from run import draw_cases

    net = bayesdx.load_network("fasciculation")
    n = 40 if quick else 300
    cases = draw_cases(net.arrays, list(net.tests), n, seed=2024,
                       always=[v for v in net.nodes if net.role(v) == "context"])
    labels = [{k: net.states(k)[s] for k, s in ev.items()} for ev in cases]
    variants = {
        "information, by node (today)": dict(objective="information", by="node"),
        "information, by order": dict(objective="information", by="order"),
        "decision, by order": dict(objective="decision", by="order"),
    }

    def run(lab, kw):
        dx = bayesdx.diagnose(net, evidence=lab, **kw)
        return dx.ranking

    for lab in labels[:5]:  # warm-up: engine build, caches
        for kw in variants.values():
            run(lab, kw)
    times = {name: [] for name in variants}
    for lab in labels:
        for name, kw in variants.items():
            times[name].append(cpu(run, lab, kw)[0])
    med = {name: 1e3 * statistics.median(t) for name, t in times.items()}
    base = med["information, by node (today)"]
    out = {"cases": n, "engine": net.engine_name, "orders": len(net.orders),
           "tests": len(net.tests), "median_ms": med,
           "ratio_to_today": {name: m / base for name, m in med.items()},
           "note": "context nodes observed, each finding observed with probability U(0, 0.5)"}
    print(json.dumps(out), flush=True)
    return out


# ----------------------------------------------------------------------------- section 2
def plan_section(quick: bool, limit: float):
    import bayesdx

    net = bayesdx.load_network("fasciculation")
    sizes = [3, 4, 5] if quick else [3, 4, 5, 6, 7, 8, 10]
    rows = []
    for case, evidence in presentations().items():
        for k in sizes:
            rows.append(plan_one(net, case, evidence, TEN[:k], None, limit))
            if rows[-1]["stopped"]:
                break  # more orders only take longer
        for horizon in ([1] if quick else [1, 2]):
            rows.append(plan_one(net, case, evidence, TEN, horizon, limit))
    return {"orders": TEN, "time_limit_s": limit, "rows": rows}


def plan_one(net, case, evidence, orders, horizon, limit):
    import bayesdx

    row = {"case": case, "orders": len(orders), "horizon": horizon}
    t0 = time.process_time()
    try:
        policy = bayesdx.plan(net, evidence=evidence, orders=orders, horizon=horizon,
                              max_states=10**12, max_evaluations=10**8, time_limit_s=limit)
    except bayesdx.PlanTooLargeError as exc:
        row.update(stopped=True, cpu_s=time.process_time() - t0, message=str(exc))
    else:
        row.update(
            stopped=False, cpu_s=time.process_time() - t0, wall_s=policy.seconds,
            method=policy.method, evaluations=policy.n_evaluations, queries=policy.n_queries,
            states=policy.n_states, bound=policy.estimated_states,
            expected_utility=policy.expected_utility, stop_utility=policy.stop_utility,
            myopic_regret=None if horizon is not None else policy.myopic_regret,
            expected_orders=policy.expected_tests, expected_cost_usd=policy.expected_cost_usd,
            first_order=policy.first_order.name if policy.first_order is not None else "stop",
            tree_steps=sum(1 for _ in policy.root.walk()))
    print(json.dumps(row), flush=True)
    return row


# ----------------------------------------------------------------------------- report
def machine():
    import numpy

    import bayesdx

    return {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": numpy.__version__, "bayesdx": bayesdx.__version__}


def markdown(res):
    m = res["machine"]
    lines = [MARK_START, "", "### Decision-grade recommendations: ranking by order and the look-ahead "
             "policy", "",
             f"Machine: {m['cpu']}, {m['cores']} cores (shared), Python {m['python']}, numpy "
             f"{m['numpy']}, bayesdx {m['bayesdx']}; single-threaded; CPU time "
             f"(`time.process_time`). Command: `python benchmarks/decision.py`"
             + (" (`--quick`)." if res["quick"] else "."), ""]
    r = res.get("ranking")
    if r:
        lines += [f"Ranking on the bundled network ({r['tests']} tests, {r['orders']} orders, engine "
                  f"`{r['engine']}`), `diagnose(...).ranking`, {r['cases']} forward-sampled cases "
                  f"({r['note']}), the three variants interleaved case by case:", "",
                  "| ranking | median (ms) | × today's |", "|---|---:|---:|"]
        for name, ms in r["median_ms"].items():
            lines.append(f"| {name} | {fmt(ms)} | {fmt(r['ratio_to_today'][name])} |")
        lines.append("")
    p = res.get("plan")
    if p:
        lines += [f"`bayesdx.plan` over the first k of these orders: {', '.join(p['orders'])}; "
                  f"each run stopped after {p['time_limit_s']:g} s (wall clock). *Evaluations*: "
                  "evidence states at which every candidate order's outcome table was computed "
                  "(by the factored tables, after the *engine queries* at the start); *bound*: the "
                  "evidence states the size check allows for (prod(1 + results of each order)).", "",
                  "| presentation | orders | policy | CPU (s) | evaluations | engine queries | "
                  "states searched | bound | expected utility (act now) | myopic regret | "
                  "expected orders | first order |",
                  "|---|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---|"]
        for row in p["rows"]:
            kind = "exact" if row["horizon"] is None else f"{row['horizon']}-step"
            if row["stopped"]:
                lines.append(f"| {row['case']} | {row['orders']} | {kind} | >{fmt(row['cpu_s'])} | "
                             f"stopped at the time limit | | | | | | | |")
                continue
            regret = "" if row["myopic_regret"] is None else f"{row['myopic_regret']:.2g}"
            lines.append(
                f"| {row['case']} | {row['orders']} | {kind} | {fmt(row['cpu_s'])} | "
                f"{row['evaluations']:,} | {row['queries']} | {row['states']:,} | {row['bound']:,} | "
                f"{row['expected_utility']:.4g} ({row['stop_utility']:.4g}) | {regret} | "
                f"{row['expected_orders']:.2f} | {row['first_order']} |")
    lines += ["", MARK_END]
    return "\n".join(lines)


def write_report(res):
    text = markdown(res)
    md = HERE / "results.md"
    old = md.read_text() if md.exists() else ""
    if MARK_START in old:
        old = old[:old.index(MARK_START)] + text + old[old.index(MARK_END) + len(MARK_END):]
    else:
        old = old.rstrip() + "\n\n" + text + "\n"
    md.write_text(old)
    print(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases and orders (a smoke run)")
    parser.add_argument("--only", choices=["ranking", "plan"], help="run one section")
    parser.add_argument("--limit", type=float, default=120.0,
                        help="time limit of each plan run, in seconds (default 120)")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the results.md section from decision.json")
    args = parser.parse_args()
    path = HERE / "decision.json"
    if args.report_only:
        write_report(json.loads(path.read_text()))
        return
    res = json.loads(path.read_text()) if args.only and path.exists() else {}
    res.update(machine=machine(), quick=args.quick)
    if args.only in (None, "ranking"):
        res["ranking"] = ranking_section(args.quick)
    if args.only in (None, "plan"):
        res["plan"] = plan_section(args.quick, args.limit)
    path.write_text(json.dumps(res, indent=1, default=float))
    write_report(res)


if __name__ == "__main__":
    main()
