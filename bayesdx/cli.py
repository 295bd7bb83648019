"""The ``bayesdx`` command line.

``bayesdx diagnose``, ``bayesdx networks`` and ``bayesdx demo``; run ``bayesdx --help``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence

from . import __version__
from .exceptions import BayesdxError

__all__ = ["main", "DISCLAIMER", "DEMO_CASE"]

DISCLAIMER = (
    "bayesdx is for teaching and research. It is not a medical device and must not be used "
    "to make clinical decisions."
)

#: The worked case of ``bayesdx demo``: a man in his fifties with visible fasciculations, cramps
#: and mild distal weakness, the rest of the bedside examination normal, before any test.
DEMO_CASE = {
    "age_band": "age_40_69",
    "sex": "male",
    "fasciculations_exam": "present",
    "cramps": "present",
    "distal_weakness": "present",
    "proximal_weakness": "absent",
    "atrophy": "absent",
    "reflexes": "normal",
    "umn_signs": "absent",
    "bulbar_signs": "absent",
    "sensory_symptoms": "absent",
}


def _parse_evidence(items: Sequence[str]) -> dict[str, str]:
    evidence: dict[str, str] = {}
    for item in items:
        node, sep, state = item.partition("=")
        if not sep or not node or not state:
            raise BayesdxError(f"Evidence must be written node=state (e.g. ck=gt_1000); got {item!r}.")
        if node in evidence and evidence[node] != state:
            raise BayesdxError(f"Evidence gives node '{node}' twice ({evidence[node]} and {state}).")
        evidence[node] = state
    return evidence


def _fmt_cost(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.0f}"


def format_diagnosis(dx, top: int = 10) -> str:
    """A readable text report of a diagnosis: posteriors, then ranked tests."""
    net = dx.network
    ev = ", ".join(f"{k}={v}" for k, v in dx.evidence.items()) or "none"
    lines = [f"Network: {net.title} ({net.name})", f"Evidence: {ev}", "",
             "Posterior probability of each target (prior -> posterior):"]
    frame = dx.to_frame()
    width = max(len(f"{t} = {s}") for t, s in zip(frame["target"], frame["state"]))
    for target in net.targets:
        rows = frame[frame["target"] == target]
        states = list(rows.itertuples(index=False))
        reference = net.reference_state(target)  # shown as the rest
        shown = [row for row in states if row.state != reference]
        for row in shown:
            name = f"{row.target} = {row.state}"
            bar = "#" * int(round(row.posterior * 30))
            lines.append(f"  {name:<{width}}  {row.prior:6.1%} -> {row.posterior:6.1%}  {bar}")
    lines.append("")
    if dx.next_test is None:
        lines.append("Every test is observed: nothing left to rank.")
        return "\n".join(lines)
    lines.append(f"Next test by value of information: {dx.next_test}")
    lines.append("")
    ranking = dx.ranking.head(top)
    tw = max(12, max(len(t) for t in ranking.index))
    lines.append(f"  {'test':<{tw}}  {'info gain (bits)':>16}  {'cost USD':>8}  outcome probabilities")
    for test, row in ranking.iterrows():
        outcomes = ", ".join(f"{s} {p:.2f}" for s, p in row["outcome_probs"].items())
        lines.append(f"  {test:<{tw}}  {row['info_gain_bits']:16.4f}  {_fmt_cost(row['cost_usd']):>8}  {outcomes}")
    if len(dx.ranking) > top:
        lines.append(f"  ... {len(dx.ranking) - top} more (use --top)")
    return "\n".join(lines)


def diagnosis_to_json(dx) -> dict:
    """The diagnosis as plain JSON-ready data."""
    def clean(v):
        if isinstance(v, float) and math.isnan(v):
            return None
        return v

    return {
        "network": dx.network.name,
        "evidence": dict(dx.evidence),
        "prob_evidence": dx.prob_evidence,
        "posteriors": {t: {s: float(p) for s, p in dx.marginal(t).items()} for t in dx.network.targets},
        "priors": {t: {s: float(p) for s, p in dx.prior(t).items()} for t in dx.network.targets},
        "entropy_bits": dx.entropy_bits,
        "next_test": dx.next_test,
        "ranking": [
            {"test": test, **{k: clean(v) for k, v in row.items()}}
            for test, row in dx.ranking.to_dict(orient="index").items()
        ],
        "disclaimer": DISCLAIMER,
    }


def _cmd_diagnose(args) -> int:
    from .io import load_network
    from .results import diagnose

    evidence = _parse_evidence(args.evidence or [])
    net = load_network(args.network, targets=args.target or None, tests=args.test or None,
                       engine=args.engine)
    dx = diagnose(net, evidence=evidence)
    if args.json:
        print(json.dumps(diagnosis_to_json(dx), indent=2))
    else:
        print(DISCLAIMER)
        print()
        print(format_diagnosis(dx, top=args.top))
    return 0


def _cmd_networks(args) -> int:
    from .io import bundled_networks, load_network

    for name in bundled_networks():
        net = load_network(name)
        print(f"{name:<16} {net.title}  ({len(net.nodes)} nodes, {len(net.targets)} targets, "
              f"{len(net.tests)} tests)")
        if net.spec is not None and net.spec.population:
            print(f"{'':<16} population: {' '.join(net.spec.population.split())}")
    return 0


def _cmd_demo(args) -> int:
    from .io import load_network
    from .results import diagnose

    net = load_network("fasciculation")
    print(DISCLAIMER)
    print()
    print("A worked case: a man aged 40-69 with fasciculations seen on examination, cramps and")
    print("mild distal leg weakness; no atrophy, normal reflexes, no upper motor neuron or bulbar")
    print("signs, no sensory symptoms. No test has been done yet.")
    print()
    dx = diagnose(net, evidence=DEMO_CASE)
    print(format_diagnosis(dx, top=args.top))
    if dx.next_test is not None:
        test = dx.next_test
        outcomes = dx.ranking.loc[test, "outcome_probs"]
        likely = max(outcomes, key=outcomes.get)
        print()
        print(f"Suppose {test} comes back '{likely}', its most likely result "
              f"(probability {outcomes[likely]:.2f}):")
        print()
        dx2 = diagnose(net, evidence={**DEMO_CASE, test: likely})
        print(format_diagnosis(dx2, top=min(args.top, 5)))
        print()
        print("The ranking is information gain alone; weigh it against cost_usd and invasiveness.")
    if args.plots:
        from .plotting import write_teaching_figures

        paths = write_teaching_figures(net, DEMO_CASE, args.plots)
        print()
        print(f"Wrote {len(paths)} figures to {args.plots}:")
        for path in paths:
            print(f"  {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bayesdx",
        description="Bayesian probabilistic diagnosis: posteriors and the next test by value of "
                    "information. " + DISCLAIMER,
    )
    parser.add_argument("--version", action="version", version=f"bayesdx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("diagnose", help="posteriors of the targets and the ranked tests")
    p.add_argument("--network", default="fasciculation",
                   help="a bundled network name or a path (.yaml, .bif, .xmlbif, ...); default: fasciculation")
    p.add_argument("--target", action="extend", nargs="+", metavar="T",
                   help="target node(s); required for BIF/XMLBIF files")
    p.add_argument("--test", action="extend", nargs="+", metavar="X",
                   help="candidate test node(s); default: the network's findings")
    p.add_argument("--evidence", "-e", action="extend", nargs="+", metavar="NODE=STATE", default=[],
                   help="observed findings, e.g. --evidence ck=gt_1000 proximal_weakness=present")
    p.add_argument("--top", type=int, default=10, help="how many ranked tests to show (default 10)")
    p.add_argument("--engine", default=None, help="inference engine (default: the fastest exact one)")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    p.set_defaults(func=_cmd_diagnose)

    p = sub.add_parser("networks", help="list the bundled networks")
    p.set_defaults(func=_cmd_networks)

    p = sub.add_parser("demo", help="a worked case on the bundled fasciculation network")
    p.add_argument("--plots", metavar="DIR", help="also write the teaching figures as PNG files to DIR")
    p.add_argument("--top", type=int, default=8, help="how many ranked tests to show (default 8)")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bayesdx`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (BayesdxError, ValueError, KeyError, TypeError, FileNotFoundError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"bayesdx: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
