"""``bayesdx evaluate``: the command line of :func:`bayesdx.evaluate`, and the text form of an
:class:`~bayesdx.evaluate.Evaluation` (also its ``__repr__``)."""

from __future__ import annotations

import math

from ._text import DEFAULT_WIDTH, Column, Names, money, table, wrap

__all__ = ["format_evaluation", "add_evaluate_parser"]


def _num(value, digits: int = 3) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.{digits}f}"


def format_evaluation(ev, *, width: int = DEFAULT_WIDTH, names: bool = False) -> str:
    """The evaluation as text of at most ``width`` columns, targets by label (or name)."""
    say = Names(ev.network, names)
    s = ev.summary()
    top = ev.top_k()["any_in_top_k"]
    lines = wrap(f"Evaluation of {ev.network.name} on {ev.n_cases} cases "
                 f"({int(s['cases_with_disease'])} with a disease, {int(s['cases_without'])} "
                 f"without)", width, hang="  ")
    ks = [k for k in (1, 3, 5) if k <= len(top)]
    lines += wrap("accuracy " + _num(s["accuracy"]) + "   "
                  + "   ".join(f"top-{k} {_num(top.loc[k])}" for k in ks)
                  + f"   'none' right {_num(s['none_correct'])}", width, indent="  ")
    lines += wrap(f"(answer: the most probable disease, or 'none' when no disease reaches "
                  f"{ev.none_threshold:g}; top-k: over the cases with a disease)", width, indent="  ")
    lines.append("")
    columns = [Column("disease", "<", flex=True), Column("present", ">", priority=1),
               Column("prev", ">", priority=2), Column("Brier", ">", priority=5),
               Column("logloss", ">", priority=3), Column("AUROC", ">", priority=5),
               Column("ECE", ">", priority=4), Column("calib p", ">", priority=2)]
    rows = [[say.node(t), str(int(r["present"])), _num(r["prevalence"]), _num(r["brier"]),
             _num(r["log_loss"]), _num(r["auroc"]), _num(r["ece"]), _num(r["calibration_p"])]
            for t, r in ev.per_disease().iterrows()]
    lines += table(columns, rows, width)
    seq = ev.sequential()
    if len(seq):
        lines.append("")
        columns = [Column("policy", "<", flex=True), Column("tests", ">", priority=5),
                   Column("cost", ">", priority=5), Column("accuracy", ">", priority=5),
                   Column("decided", ">", priority=3), Column("tests to", ">", priority=2),
                   Column("cost to", ">", priority=2)]
        rows = [[str(p), _num(r["mean_tests"], 1), money(r["mean_cost_usd"]),
                 _num(r["accuracy_at_stop"]), _num(r["reached_threshold"]),
                 _num(r["mean_tests_to_threshold"], 1), money(r["mean_cost_to_threshold_usd"])]
                for p, r in seq.iterrows()]
        lines += table(columns, rows, width)
        lines += wrap(f"(means per case at stop; decided: every disease at >= {ev.threshold:g} "
                      f"or <= {1 - ev.threshold:g}; 'to': tests and cost to get there, over the "
                      f"cases that did)", width, indent="  ")
    return "\n".join(lines)


def evaluation_to_json(ev) -> dict:
    def records(frame):
        return frame.reset_index().to_dict(orient="records")

    return {"network": ev.network.name, "cases": ev.n_cases,
            "summary": ev.summary().to_dict(), "top_k": records(ev.top_k()),
            "diseases": records(ev.per_disease()), "sequential": records(ev.sequential()),
            "cost_curve": ev.cost_curve().to_dict(orient="records")}


def _read_csv(path: str, id_column: str | None, what: str):
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=True)
    if id_column is not None:
        if id_column not in frame.columns:
            raise ValueError(f"--id {id_column!r} is not a column of {what} {path} "
                             f"(columns: {', '.join(map(str, frame.columns[:10]))}).")
        frame = frame.set_index(id_column)
    return frame


def _cmd_evaluate(args) -> int:
    from .cli import dumps_json, text_options
    from .evaluate import evaluate
    from .io import load_network

    network = load_network(args.network, targets=args.target) if args.target \
        else load_network(args.network)
    cases = _read_csv(args.cases, args.id, "the cases")
    truth = _read_csv(args.truth, args.id, "the truth")
    ev = evaluate(network, cases, truth, none_threshold=args.none_threshold, n_bins=args.bins,
                  sequential=args.sequential or None, by=args.by, stop=args.stop,
                  threshold=args.threshold, max_tests=args.max_tests)
    if args.json:
        print(dumps_json(evaluation_to_json(ev)))
        return 0
    width, names = text_options(args)
    print(format_evaluation(ev, width=width, names=names))
    return 0


def add_evaluate_parser(sub, *, add_text_options, int_at_least, float_in) -> None:
    """Register ``bayesdx evaluate`` on the subparsers ``sub``."""
    p = sub.add_parser("evaluate", help="measure a network on cases with known diagnoses: top-k "
                                        "accuracy, calibration, and tests and cost to an answer")
    p.add_argument("cases", help="CSV of findings: one row per case, one column per node, state "
                                 "labels as values, empty = not observed")
    p.add_argument("--truth", required=True,
                   help="CSV of the true state of each target, one row per case (same order, or "
                        "matched by --id), one column per target")
    p.add_argument("--id", default=None, metavar="COLUMN",
                   help="a column of both files that identifies the case")
    p.add_argument("--network", default="fasciculation",
                   help="a bundled network name or a path; default: fasciculation")
    p.add_argument("--target", action="extend", nargs="+", metavar="T",
                   help="target node(s); required for BIF/XMLBIF files")
    p.add_argument("--sequential", action="extend", nargs="+", metavar="OBJECTIVE",
                   choices=("information", "decision"),
                   help="also replay each case test by test under these objectives")
    p.add_argument("--by", choices=("order", "node"), default="order",
                   help="sequential: choose test orders (default) or single tests")
    p.add_argument("--stop", choices=("rule", "threshold"), default="rule",
                   help="sequential: stop by the objective's rule (default) or at --threshold")
    p.add_argument("--threshold", type=float_in(0.0, 1.0, low_open=True), default=0.9,
                   metavar="P", help="a disease is decided at probability >= P or <= 1-P "
                                     "(default 0.9)")
    p.add_argument("--max-tests", type=int_at_least(0), default=None, metavar="N",
                   help="sequential: at most N tests per case")
    p.add_argument("--none-threshold", type=float_in(0.0, 1.0, low_open=True), default=0.5,
                   metavar="P", help="answer 'none' when no disease reaches P (default 0.5)")
    p.add_argument("--bins", type=int_at_least(1), default=10,
                   help="calibration bins (default 10)")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    add_text_options(p)
    p.set_defaults(func=_cmd_evaluate)
