"""The ``bayesdx`` command line.

``bayesdx diagnose``, ``bayesdx plan``, ``bayesdx networks`` and ``bayesdx demo``; run
``bayesdx --help``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence

from . import __version__
from ._cli_common import dumps_json, text_options
from ._text import (DEFAULT_WIDTH, MIN_WIDTH, WIDE, Column, Names, _missing, money, number, percent,
                    table, wrap)
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


def _int_at_least(low: int):
    """An argparse type: an integer >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    parse.__name__ = f"int >= {low}"
    return parse


def _float_in(low: float, high: float = math.inf, *, low_open: bool = False):
    """An argparse type: a finite float in [low, high] (``(low, high]`` with ``low_open``)."""
    bounds = f"{'(' if low_open else '['}{low:g}, {high:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number in {bounds}, got {text!r}") from None
        if not math.isfinite(value) or value < low or value > high or (low_open and value == low):
            raise argparse.ArgumentTypeError(f"must be a finite number in {bounds}, got {text}")
        return value
    parse.__name__ = f"number in {bounds}"
    return parse


def _posterior_rows(dx, names: Names) -> list[list[str]]:
    """Rows (what, prior, posterior) of the targets: a disease with one non-healthy state on one
    row; otherwise the target, P(not healthy) when its healthy state is known, then its states
    (those with a probability of at least 0.1% before or after; the rest counted)."""
    net = dx.network
    rows = []
    for target in net.targets:
        prior, post = dx.prior(target), dx.marginal(target)
        known = net.has_reference_state(target)
        reference = net.reference_state(target) if known else None
        others = [s for s in net.states(target) if s != reference]
        if known and len(others) == 1:
            rows.append([names.target(target, others[0]), percent(prior[others[0]]),
                         percent(post[others[0]]), post[others[0]]])
            continue
        if names.names:
            label = lambda s: names.target(target, s)  # noqa: E731
        else:
            rows.append([names.node(target),
                         percent(1 - prior[reference]) if known else "",
                         percent(1 - post[reference]) if known else "",
                         (1 - post[reference]) if known else None])
            label = lambda s: "    " + s  # noqa: E731
        shown = [s for s in others if max(prior[s], post[s]) >= 1e-3]
        for s in shown:
            rows.append([label(s), percent(prior[s]), percent(post[s]), post[s]])
        if len(shown) < len(others):
            rest = [s for s in others if s not in shown]
            rows.append([("    " if not names.names else "  ") + f"... {len(rest)} more states "
                         f"below 0.1%", "", "", None])
    return rows


def format_diagnosis(dx, top: int = 10, *, width: int = DEFAULT_WIDTH, names: bool = False) -> str:
    """A readable text report of a diagnosis: posteriors, actions, the ranked orders and the
    stopping advice, in at most ``width`` columns, by node label (``names=True``: by name)."""
    from .exceptions import _check_count

    top = _check_count(top, "top", "format_diagnosis")
    width = max(int(width), MIN_WIDTH)
    net = dx.network
    nm = Names(net, names)
    lines = wrap(f"Network: {net.title} ({net.name})", width, "", "  ")
    lines += wrap(f"Evidence: {nm.evidence(dx.evidence)}", width, "", "  ")
    lines += ["", "Probability of each target, before and after the evidence:"]
    rows = _posterior_rows(dx, nm)
    bar = max(5, min(30, width // 8))
    cells = [[r[0], r[1], "->" if r[1] or r[2] else "", r[2],
              "" if r[3] is None else "#" * int(round(r[3] * bar))]
             for r in rows]
    lines += table([Column("", "<", flex=True), Column("before"), Column(""), Column("after"),
                    Column("", "<")], cells, width, wrap_flex=True, flex_min=30)[1:]
    lines.append("")
    if dx.decisions is not None:
        lines.append("Actions, taken when P(states) exceeds the threshold C/(B+C):")
        t = dx.thresholds()
        cells = [[a if names else row["label"], percent(row["probability"]),
                  percent(row["threshold"]), "TAKE NOW" if row["taken_now"] else "not now"]
                 for a, row in t.iterrows()]
        lines += table([Column("action", "<", flex=True), Column("P"), Column("threshold"),
                        Column("now", "<")], cells, width, flex_min=30)
        lines.append("")
    what = "order" if dx.by == "order" else "test"
    if dx.next_test is None:
        lines.append("Every test is observed: nothing left to rank.")
        return "\n".join(lines)
    lines += wrap(f"Next {what} by {dx.objective.describe()}: {nm.order(dx.next_test)}", width,
                  "", "  ")
    lines += wrap(("Advice: stop testing: " if dx.should_stop else "Advice: continue: ")
                  + dx.stop_reason, width, "", "  ")
    lines.append("")
    ranking = dx.ranking.head(top)
    decision = dx.decisions is not None
    cols = [Column(what, "<", priority=9, flex=True),
            Column(f"value ({dx.objective.value_unit})", priority=8),
            Column("info (bits)", priority=6)]
    if decision:
        cols += [Column("dec. value", priority=2), Column("cost utils", priority=1),
                 Column("same dec.", priority=3)]
    cols += [Column("cost", priority=7), Column("invasive", "<", priority=8)]
    cells = []
    for name, row in ranking.iterrows():
        cell = [name if names else row["label"], number(row["value"]),
                _num(row["info_gain_bits"], ".4f")]
        if decision:
            cell += [number(row["decision_value_utils"]), number(row["cost_utils"]),
                     _num(row["same_decision_prob"], ".3f")]
        cells.append(cell + [money(row["cost_usd"]), "yes" if row["invasive"] is True else ""])
    # names are what the options take: never broken, so their column is as wide as the longest
    flex_min = max((len(c[0]) for c in cells), default=0) if names else 24
    lines += table(cols, cells, width, wrap_flex=True, flex_min=flex_min)
    if len(dx.ranking) > top:
        lines.append(f"  ... {len(dx.ranking) - top} more (use --top)")
    return "\n".join(lines)


def _num(value, spec: str) -> str:
    """``value`` formatted with ``spec`` (e.g. ``".3f"``); blank when NaN or None."""
    return "" if _missing(value) else format(value, spec)


def _clean(v):
    """JSON-ready scalars: NaN and inf become null, tuples lists, numpy scalars Python ones."""
    if isinstance(v, tuple):
        return [_clean(x) for x in v]
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if hasattr(v, "item") and not isinstance(v, (list, str)):
        v = v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def explanation_to_json(why) -> dict:
    """An :class:`~bayesdx.explain.Explanation` as plain JSON-ready data."""
    outcomes = why.outcomes()
    return {
        "order": why.order.name,
        "label": why.order.label,
        "value": _clean(why.value),
        "info_gain_bits": _clean(why.info_gain_bits),
        "decision_value_utils": _clean(why.decision_value_utils),
        "cost_utils": _clean(why.cost_utils),
        "same_decision_prob": _clean(why.same_decision_prob),
        "shares": {t: {k: _clean(v) for k, v in row.items()}
                   for t, row in why.shares().to_dict(orient="index").items()},
        "outcomes": [
            {"outcome": label, "evidence": dict(ev), "p_outcome": float(row["p_outcome"]),
             "p_not_reference": {t: float(row[t]) for t in why._network.targets},
             "changes": row["changes"]}
            for (label, row), ev in zip(outcomes.iterrows(), why.outcome_evidence)
        ],
    }


def diagnosis_to_json(dx, explain: str | None = None) -> dict:
    """The diagnosis as plain JSON-ready data."""
    key = dx.ranking.index.name
    out = {
        "network": dx.network.name,
        "evidence": dict(dx.evidence),
        "prob_evidence": dx.prob_evidence,
        "log_prob_evidence": dx.log_prob_evidence,
        "posteriors": {t: {s: float(p) for s, p in dx.marginal(t).items()} for t in dx.network.targets},
        "priors": {t: {s: float(p) for s, p in dx.prior(t).items()} for t in dx.network.targets},
        "entropy_bits": dx.entropy_bits,
        "objective": {"kind": dx.objective.kind, "description": dx.objective.describe(),
                      "value_unit": dx.objective.value_unit},
        "by": dx.by,
        "next_test": dx.next_test,
        "stop": {"should_stop": dx.should_stop, "rule": dx.stopping.rule, "reason": dx.stop_reason},
        "ranking": [
            {key: name, **{k: _clean(v) for k, v in row.items()}}
            for name, row in dx.ranking.to_dict(orient="index").items()
        ],
    }
    if dx.decisions is not None:
        out["thresholds"] = [{"action": a, **{k: _clean(v) for k, v in row.items()}}
                             for a, row in dx.thresholds().to_dict(orient="index").items()]
    if explain is not None:
        out["explain"] = explanation_to_json(dx.explain(explain))
    out["disclaimer"] = DISCLAIMER
    return out


def add_text_options(parser: argparse.ArgumentParser) -> None:
    """``--names``, ``--width N`` and ``--wide`` on a subcommand that prints text (read them back
    with :func:`text_options`)."""
    group = parser.add_argument_group("text output")
    group.add_argument("--names", action="store_true",
                       help="show node, order and action names (what --evidence and --explain "
                            "take) instead of their labels")
    group.add_argument("--width", type=_int_at_least(MIN_WIDTH), default=None, metavar="N",
                       help=f"fit the text in N columns (default {DEFAULT_WIDTH})")
    group.add_argument("--wide", action="store_true", help=f"the same as --width {WIDE}")


def _print_wrapped(text: str, width: int) -> None:
    print("\n".join(wrap(text, width)))


def _objective(args):
    """The objective the command line asks for (``--objective``, ``--focus``, ``--alpha``, ...)."""
    from .exceptions import InvalidObjectiveError
    from .ranking import Objective

    kind = args.objective
    if kind is None and args.focus:
        kind = "focus"
    if kind is None and args.alpha is not None:
        kind = "cost"
    if args.focus and kind != "focus":
        raise InvalidObjectiveError(f"--focus goes with --objective focus, not {kind}.")
    if args.alpha is not None and kind != "cost":
        raise InvalidObjectiveError(f"--alpha goes with --objective cost, not {kind}.")
    stop = {}
    if args.same_decision is not None:
        stop["same_decision_level"] = args.same_decision
    if args.min_gain is not None:
        stop["min_gain_bits"] = args.min_gain
    if kind is None:
        return None, stop
    if kind == "focus":
        if not args.focus:
            raise InvalidObjectiveError("--objective focus needs --focus TARGET [TARGET ...] "
                                        "(or TARGET=WEIGHT ...).")
        if all("=" in item for item in args.focus):
            weights = {}
            for item in args.focus:
                target, _, weight = item.partition("=")
                try:
                    weights[target] = float(weight)
                except ValueError:
                    raise InvalidObjectiveError(f"--focus {item!r}: the weight must be a number "
                                                f"(e.g. als=2).") from None
            return Objective("focus", weights=weights, **stop), {}
        if any("=" in item for item in args.focus):
            raise InvalidObjectiveError("--focus takes targets (als thyroid_disease) or weights "
                                        "(als=2 thyroid_disease=1), not a mix.")
        return Objective("focus", targets=args.focus, **stop), {}
    if kind == "cost":
        if args.alpha is None:
            raise InvalidObjectiveError("--objective cost needs --alpha, the bits one US dollar is "
                                        "worth (e.g. --alpha 0.002).")
        return Objective("cost", alpha=args.alpha, **stop), {}
    return Objective(kind, **stop), {}


def _cmd_diagnose(args) -> int:
    from .io import load_network
    from .ranking import Objective
    from .results import diagnose

    evidence = _parse_evidence(args.evidence or [])
    net = load_network(args.network, targets=args.target or None, tests=args.test or None,
                       engine=args.engine)
    objective, stop = _objective(args)
    dx = diagnose(net, evidence=evidence, objective=objective, by=args.by)
    if stop:  # stopping levels without an explicit objective: the default objective, re-levelled
        dx = dx.with_objective(Objective(dx.objective.kind, **stop))
    from ._cli_uncertainty import how_sure

    sure = how_sure(args, net, evidence, dx)  # --uncertainty, --sensitivity
    if args.json:
        data = diagnosis_to_json(dx, explain=args.explain)
        print(dumps_json({**data, **(sure.data() if sure else {}), "disclaimer": DISCLAIMER}))
    else:
        width, names = text_options(args)
        _print_wrapped(DISCLAIMER, width)
        print()
        print(format_diagnosis(dx, top=args.top, width=width, names=names))
        if args.explain is not None:
            print()
            print(dx.explain(args.explain).text(width=width, names=names))
        if sure is not None:
            print()
            print("\n".join(sure.lines(width, names)))
    return 0


def _cmd_plan(args) -> int:
    from .io import load_network
    from .plan import plan

    net = load_network(args.network)

    def progress(state):
        print(f"  ... {state.states:,} evidence states, {state.evaluations:,} posterior "
              f"evaluations, {state.seconds:.0f} s", file=sys.stderr, flush=True)

    policy = plan(net, evidence=_parse_evidence(args.evidence or []), orders=args.orders,
                  horizon=args.horizon, max_states=args.max_states, time_limit_s=args.time_limit,
                  progress=None if args.json else progress)
    if args.json:
        print(dumps_json({**policy.to_dict(), "disclaimer": DISCLAIMER}))
    else:
        width, _ = text_options(args)
        _print_wrapped(DISCLAIMER, width)
        print()
        print(policy.to_text(max_depth=args.depth, max_lines=None, width=width))
    return 0


def _cmd_networks(args) -> int:
    from .io import bundled_networks, load_network

    width, _ = text_options(args)
    for name in bundled_networks():
        net = load_network(name)
        _print_wrapped(f"{name}: {net.title} ({len(net.nodes)} nodes, {len(net.targets)} targets, "
                       f"{len(net.tests)} tests)", width)
        if net.spec is not None and net.spec.population:
            print("\n".join(wrap(f"population: {' '.join(net.spec.population.split())}", width,
                                 "  ", "  ")))
    return 0


def _cmd_demo(args) -> int:
    from .io import load_network
    from .results import diagnose

    net = load_network("fasciculation")
    width, names = text_options(args)
    nm = Names(net, names)
    _print_wrapped(DISCLAIMER, width)
    print()
    _print_wrapped("A worked case: a man aged 40-69 with fasciculations seen on examination, cramps "
                   "and mild distal leg weakness; no atrophy, normal reflexes, no upper motor "
                   "neuron or bulbar signs, no sensory symptoms. No test has been done yet.", width)
    print()
    dx = diagnose(net, evidence=DEMO_CASE)
    print(format_diagnosis(dx, top=args.top, width=width, names=names))
    if dx.next_test is not None:
        why = dx.explain(dx.next_test)
        print()
        print(why.text(width=width, names=names))
        k = int(why.p_outcome.argmax())
        likely = why.outcome_evidence[k]
        print()
        _print_wrapped(f"Suppose the {nm.order(why.order)} comes back with "
                       f"{nm.outcome(likely, brief=False)}, its most likely result (probability "
                       f"{why.p_outcome[k]:.2f}):", width)
        print()
        dx2 = diagnose(net, evidence={**DEMO_CASE, **likely})
        print(format_diagnosis(dx2, top=min(args.top, 5), width=width, names=names))
        print()
        _print_wrapped(f"Ranked by {dx.objective.describe()}; try --objective with 'bayesdx "
                       f"diagnose' to compare information, cost and decisions"
                       + ("." if names else ", and --names to see the names it takes."), width)
    if args.plots:
        from .plotting import write_teaching_figures

        paths = write_teaching_figures(net, DEMO_CASE, args.plots)
        print()
        print(f"Wrote {len(paths)} figures to {args.plots}:")
        for path in paths:
            print(f"  {path}")
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), with exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bayesdx",
        description="Bayesian probabilistic diagnosis: posteriors and the next test order by "
                    "information, cost or decision value. " + DISCLAIMER,
    )
    parser.add_argument("--version", action="version", version=f"bayesdx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("diagnose", help="posteriors of the targets, the ranked test orders and "
                                        "whether to stop testing")
    p.add_argument("--network", default="fasciculation",
                   help="a bundled network name or a path (.yaml, .bif, .xmlbif, ...); default: fasciculation")
    p.add_argument("--target", action="extend", nargs="+", metavar="T",
                   help="target node(s); required for BIF/XMLBIF files")
    p.add_argument("--test", action="extend", nargs="+", metavar="X",
                   help="candidate test node(s); default: the network's findings")
    p.add_argument("--evidence", "-e", action="extend", nargs="+", metavar="NODE=STATE", default=[],
                   help="observed findings, e.g. --evidence ck=gt_1000 proximal_weakness=present")
    p.add_argument("--top", type=_int_at_least(1), default=10,
                   help="how many ranked tests to show (default 10)")
    p.add_argument("--engine", default=None, help="inference engine (default: the fastest exact one)")
    p.add_argument("--objective", choices=("information", "focus", "cost", "decision"), default=None,
                   help="what the ranking maximises (default: decision when the network has a "
                        "decision model, else information)")
    p.add_argument("--by", choices=("order", "node"), default="order",
                   help="rank test orders (default) or single test nodes")
    p.add_argument("--focus", action="extend", nargs="+", metavar="T[=W]",
                   help="focus objective: targets whose joint matters (als thyroid_disease), or "
                        "per-target weights (als=2 thyroid_disease=1)")
    p.add_argument("--alpha", type=_float_in(0.0), default=None,
                   help="cost objective: bits one US dollar is worth (value = bits - alpha x USD)")
    p.add_argument("--same-decision", type=_float_in(0.0, 1.0, low_open=True), default=None,
                   metavar="P",
                   help="decision objective: stop when every order leaves every action unchanged "
                        "with probability >= P (default 0.95)")
    p.add_argument("--min-gain", type=_float_in(0.0), default=None, metavar="BITS",
                   help="information/focus objectives: stop below this many bits (default 0.01)")
    p.add_argument("--explain", metavar="ORDER", default=None,
                   help="explain why ORDER is worth what it is worth")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    from ._cli_uncertainty import add_uncertainty_options

    add_uncertainty_options(p)
    add_text_options(p)
    p.set_defaults(func=_cmd_diagnose)

    p = sub.add_parser("plan", help="the testing policy with the highest expected utility: which "
                                    "order next, after each result which then, and when to stop")
    p.add_argument("--network", default="fasciculation",
                   help="a bundled network name or a path with a decision model; default: fasciculation")
    p.add_argument("--evidence", "-e", action="extend", nargs="+", metavar="NODE=STATE", default=[],
                   help="observed findings, e.g. --evidence age_band=age_lt_40 atrophy=absent")
    p.add_argument("--orders", action="extend", nargs="+", metavar="ORDER",
                   help="the orders to plan over (default: all; the exact policy needs few)")
    p.add_argument("--horizon", type=_int_at_least(1), default=None, metavar="K",
                   help="look K orders ahead at each step (default: the exact optimal policy)")
    p.add_argument("--max-states", type=_int_at_least(1), default=10_000_000, metavar="N",
                   help="refuse problems that could visit more evidence states (default 1e7)")
    p.add_argument("--time-limit", type=_float_in(0.0, low_open=True), default=600.0, metavar="S",
                   help="stop after S seconds (default 600)")
    p.add_argument("--depth", type=_int_at_least(1), default=4, help="orders shown along a path (default 4)")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    add_text_options(p)
    p.set_defaults(func=_cmd_plan)

    p = sub.add_parser("networks", help="list the bundled networks")
    add_text_options(p)
    p.set_defaults(func=_cmd_networks)

    p = sub.add_parser("demo", help="a worked case on the bundled fasciculation network")
    p.add_argument("--plots", metavar="DIR", help="also write the teaching figures as PNG files to DIR")
    p.add_argument("--top", type=_int_at_least(1), default=8,
                   help="how many ranked tests to show (default 8)")
    add_text_options(p)
    p.set_defaults(func=_cmd_demo)

    from ._cli_evaluate import add_evaluate_parser

    add_evaluate_parser(sub, add_text_options=add_text_options, int_at_least=_int_at_least,
                        float_in=_float_in)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bayesdx`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        _silence_stdout()
        print("bayesdx: error: the output was closed before it was all written (broken pipe)",
              file=sys.stderr)
        return 2
    except (BayesdxError, ValueError, KeyError, TypeError, FileNotFoundError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"bayesdx: error: {message}", file=sys.stderr)
        return 2
    except OSError as exc:  # an unwritable --plots directory, a full disk, ...
        where = f" {exc.filename}" if exc.filename else ""
        print(f"bayesdx: error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush of a closed pipe is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (e.g. captured output)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
