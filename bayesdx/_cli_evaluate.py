"""``bayesdx evaluate``: the command line of :func:`bayesdx.evaluate` (the text and JSON forms
it prints are :mod:`bayesdx._display_evaluate`'s)."""

from __future__ import annotations

from ._cli_common import dumps_json, text_options
from ._display_evaluate import evaluation_to_json, format_evaluation

__all__ = ["add_evaluate_parser"]


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
