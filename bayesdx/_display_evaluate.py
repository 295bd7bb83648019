"""The text and JSON forms of an :class:`~bayesdx.evaluate.Evaluation`: its ``__repr__`` and
what ``bayesdx evaluate`` prints (:mod:`bayesdx._cli_evaluate`)."""

from __future__ import annotations

import math

from ._text import DEFAULT_WIDTH, Column, Names, money, table, wrap

__all__ = ["format_evaluation", "evaluation_to_json"]


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
