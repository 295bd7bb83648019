"""How diagnoses and sessions read: their short text (``__repr__``) and notebook HTML.

The diseases come first, one row each, by label, with the probability that each is present (not
in its healthy state) drawn as a bar; the states of every target, the ranking and the action
thresholds follow as secondary detail.
"""

from __future__ import annotations

import html
import math

import pandas as pd

from ._text import DEFAULT_WIDTH, Names, elide, fit, money, percent, wrap

__all__ = ["target_summary", "diagnosis_text", "diagnosis_html", "session_text", "session_html",
           "ranking_display"]

#: States of a target with no healthy state shown in the disease rows (the rest in the detail).
TOP_STATES = 5
_BAR = ('<div style="display:inline-block;vertical-align:middle;background:#e6ecf3;width:{w}px;'
        'height:0.9em"><div style="background:{c};width:{p:.1f}%;height:100%"></div></div>')


def target_summary(network, target: str, post: pd.Series, prior: pd.Series | None = None) -> list[dict]:
    """The disease rows of ``target``: one row with P(not in the healthy state) when that state
    is known, else its :data:`TOP_STATES` most probable states (each a row)."""
    nm = Names(network)
    if network.has_reference_state(target):
        ref = network.reference_state(target)
        return [{"target": target, "label": nm.node(target), "state": None,
                 "prior": None if prior is None else 1.0 - float(prior[ref]),
                 "posterior": 1.0 - float(post[ref])}]
    top = post.sort_values(ascending=False, kind="stable").head(TOP_STATES)
    return [{"target": target, "label": f"{nm.node(target)}: {state}", "state": state,
             "prior": None if prior is None else float(prior[state]), "posterior": float(p)}
            for state, p in top.items()]


def _summary_line(network, target: str, post: pd.Series) -> str:
    nm = Names(network)
    if network.has_reference_state(target):
        ref = network.reference_state(target)
        others = [s for s in network.states(target) if s != ref]
        text = f"{nm.node(target)}: {percent(1 - post[ref])}"
        if len(others) > 1:
            text += " (" + ", ".join(f"{s} {percent(post[s])}" for s in others) + ")"
        return text
    top = post.sort_values(ascending=False, kind="stable")
    shown = ", ".join(f"{s} {percent(p)}" for s, p in top.head(3).items())
    more = f", ... {len(top) - 3} more" if len(top) > 3 else ""
    return f"{nm.node(target)}: {shown}{more}"


def diagnosis_text(dx, width: int = DEFAULT_WIDTH) -> str:
    """The short text of a :class:`~bayesdx.Diagnosis`: the evidence, each disease's probability,
    the best five orders and the stopping advice, by label, in ``width`` columns."""
    net = dx.network
    nm = Names(net)
    lines = wrap(f"Diagnosis on {net.name!r} given {nm.evidence(dx.evidence)}", width, "", "  ")
    for target in net.targets:
        lines += wrap(_summary_line(net, target, dx.marginal(target)), width, "  ", "      ")
    if dx.next_test is not None:
        top = dx._ranking.head(5)
        lines += wrap(f"{'Orders' if dx.by == 'order' else 'Tests'} by {dx.objective.describe()}:",
                      width)
        label_w = min(max(len(str(lab)) for lab in top["label"]), width - 14)
        for label, value in zip(top["label"], top["value"]):
            lines.append(f"  {elide(label, label_w):<{label_w}}  {value:.4g}")
    lines += wrap(("Stop: " if dx.should_stop else "Continue: ") + dx.stop_reason, width, "", "  ")
    return "\n".join(fit(lines, width))


def _bar(p: float, colour: str = "#3572b0", width: int = 160) -> str:
    p = 0.0 if p is None or math.isnan(p) else min(max(p, 0.0), 1.0)
    return _BAR.format(w=width, c=colour, p=100 * p)


def _disease_table(network, rows_now: list[dict], rows_start: list[dict] | None,
                   start_heading: str, now_heading: str) -> str:
    out = ['<table><tr><th style="text-align:left">disease</th>'
           f"<th>{start_heading}</th><th>{now_heading}</th><th></th></tr>"]
    for i, row in enumerate(rows_now):
        before = rows_start[i]["posterior"] if rows_start is not None else row["prior"]
        out.append(f'<tr><td style="text-align:left">{html.escape(row["label"])}</td>'
                   f"<td>{percent(before)}</td><td><b>{percent(row['posterior'])}</b></td>"
                   f"<td>{_bar(row['posterior'])}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _states_detail(frame: pd.DataFrame, before: str, after: str, start_heading: str,
                   now_heading: str, network) -> str:
    """Every state of every target, in a collapsed ``<details>`` block."""
    nm = Names(network)
    out = ["<details><summary>Every state of each target</summary><table><tr>"
           f"<th>target</th><th>state</th><th>{start_heading}</th><th>{now_heading}</th></tr>"]
    for row in frame.itertuples(index=False):
        out.append(f"<tr><td>{html.escape(nm.node(row.target))}</td><td>{html.escape(row.state)}"
                   f"</td><td>{getattr(row, before):.3f}</td><td>{getattr(row, after):.3f}</td></tr>")
    out.append("</table></details>")
    return "".join(out)


def ranking_display(ranking: pd.DataFrame) -> pd.DataFrame:
    """The ranking as people read it: labels, the value, information, the chance the decision
    stays the same, cost as money and invasive orders marked (columns that are all empty
    dropped); indexed by name."""
    frame = pd.DataFrame(index=ranking.index)
    frame["label"] = ranking["label"]
    frame["value"] = ranking["value"]
    frame["info (bits)"] = ranking["info_gain_bits"]
    frame["same decision"] = ranking["same_decision_prob"]
    frame["cost"] = [money(v) for v in ranking["cost_usd"]]
    frame["invasive"] = ["invasive" if v is True else "" for v in ranking["invasive"]]
    keep = [c for c in frame.columns
            if not (frame[c].isna().all() or (frame[c].astype(str).str.strip() == "").all())]
    return frame[keep]


def _ranking_html(dx, ranking: pd.DataFrame) -> str:
    if not len(ranking):
        return ""
    head = (f"<p><b>Next {'orders' if dx.by == 'order' else 'tests'}</b> by "
            f"{html.escape(dx.objective.describe())}</p>")
    return head + ranking_display(ranking.head(10)).to_html(
        float_format=lambda v: f"{v:.4g}", na_rep="")


def diagnosis_html(dx) -> str:
    """Notebook HTML of a :class:`~bayesdx.Diagnosis`: diseases first, then the advice, the
    ranking, the action thresholds and (collapsed) every state of every target."""
    net = dx.network
    nm = Names(net)
    rows = [r for t in net.targets for r in target_summary(net, t, dx.marginal(t), dx.prior(t))]
    out = [f"<div><p><b>Diagnosis</b> on <code>{html.escape(net.name)}</code> given "
           f"{html.escape(nm.evidence(dx.evidence))}</p>",
           _disease_table(net, rows, None, "prior", "posterior")]
    verdict = "Stop testing" if dx.should_stop else "Continue testing"
    out.append(f"<p><b>{verdict}</b>: {html.escape(dx.stop_reason)}</p>")
    out.append(_ranking_html(dx, dx._ranking))
    if dx.decisions is not None:
        out.append("<p><b>Action thresholds</b></p>")
        out.append(dx.thresholds().drop(columns=["states"]).to_html(
            float_format=lambda v: f"{v:.4g}", na_rep=""))
    out.append(_states_detail(dx.to_frame(), "prior", "posterior", "prior", "posterior", net))
    out.append("</div>")
    return "".join(out)


def session_text(session, width: int = DEFAULT_WIDTH) -> str:
    """The short text of a :class:`~bayesdx.Session`: the start, each finding added, each
    disease now, the next test and the advice, by label."""
    net = session.network
    nm = Names(net)
    lines = [f"Session on {net.name!r}: {len(session)} step(s)"]
    lines += wrap(f"start: {nm.evidence(session.start_evidence)}", width, "  ", "    ")
    lines += [f"  {i}. {nm.finding(n, s)}" for i, (n, s) in enumerate(session.history, 1)]
    lines.append("  Now:")
    dx = session.current
    for target in net.targets:
        lines += wrap(_summary_line(net, target, dx.marginal(target)), width, "    ", "        ")
    nxt = session.next_test
    lines.append(f"  next test: {nm.order(nxt) if nxt is not None else None}")
    lines += wrap(("stop: " if session.should_stop else "continue: ") + session.stop_reason,
                  width, "  ", "    ")
    return "\n".join(fit(lines, width))


def session_html(session) -> str:
    """Notebook HTML of a :class:`~bayesdx.Session`: the findings in order, each disease at the
    start and now, the advice, the ranking and (collapsed) every state."""
    net = session.network
    nm = Names(net)
    first, dx = session.diagnoses[0], session.current
    start = [r for t in net.targets for r in target_summary(net, t, first.marginal(t))]
    now = [r for t in net.targets for r in target_summary(net, t, dx.marginal(t))]
    if [r["label"] for r in start] != [r["label"] for r in now]:  # no healthy state: align rows
        start = [{**r, "posterior": float(first.marginal(r["target"])[r["state"]])} for r in now]
    out = [f"<div><p><b>Session</b> on <code>{html.escape(net.name)}</code>, {len(session)} "
           f"step(s). Start: {html.escape(nm.evidence(session.start_evidence))}</p>"]
    if len(session):
        out.append("<ol>" + "".join(f"<li>{html.escape(nm.finding(n, s))}</li>"
                                    for n, s in session.history) + "</ol>")
    out.append(_disease_table(net, now, start, "at start", "now"))
    verdict = "Stop testing" if dx.should_stop else "Continue testing"
    out.append(f"<p><b>{verdict}</b>: {html.escape(dx.stop_reason)}</p>")
    out.append(_ranking_html(dx, session.ranking))
    frame = first.to_frame().rename(columns={"posterior": "start"})
    frame["now"] = dx.to_frame()["posterior"].to_numpy()
    out.append(_states_detail(frame, "start", "now", "at start", "now", net))
    out.append("</div>")
    return "".join(out)
