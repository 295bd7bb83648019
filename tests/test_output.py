"""What people read: 80-column command output, labels rather than names, money, invasive marks,
the HTML display and the figures' text."""

from __future__ import annotations

import re

import numpy as np
import pytest

import bayesdx
from bayesdx import plotting
from bayesdx._text import Column, Names, elide, fit, money, percent, table, wrap
from bayesdx.cli import DEMO_CASE, main


@pytest.fixture(autouse=True)
def _agg_backend():
    import matplotlib

    matplotlib.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def bundled():
    return bayesdx.load_network("fasciculation")


def _many_states_bif(n_states: int = 8) -> str:
    """A small foreign network whose target's states are all diseases (no healthy state)."""
    states = [f"disease_{i}" for i in range(n_states)]
    prior = np.arange(1, n_states + 1, dtype=float)
    prior /= prior.sum()
    rows = "\n".join(f"  ({s}) {0.1 + 0.8 * i / n_states:.6f}, {0.9 - 0.8 * i / n_states:.6f};"
                     for i, s in enumerate(states))
    return (f"network many {{ }}\n"
            f"variable Fault {{ type discrete [ {n_states} ] {{ {', '.join(states)} }}; }}\n"
            f"variable Sign {{ type discrete [ 2 ] {{ yes, no }}; }}\n"
            f"probability ( Fault ) {{ table {', '.join(f'{p:.10f}' for p in prior[:-1])}, "
            f"{1 - sum(round(p, 10) for p in prior[:-1]):.10f}; }}\n"
            f"probability ( Sign | Fault ) {{\n{rows}\n}}\n")


@pytest.fixture(scope="module")
def many_states(tmp_path_factory):
    path = tmp_path_factory.mktemp("bif") / "many.bif"
    path.write_text(_many_states_bif())
    return bayesdx.load_network(path, targets=["Fault"])


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


# -- every command fits 80 columns -----------------------------------------------------------
HEPAR = ["--network", "tests/data/hepar2.bif", "--target", "Cirrhosis", "PBC", "THepatitis",
         "ChHepatitis"]
COMMANDS = [
    ("demo", ["demo"]),
    ("demo_names", ["demo", "--names", "--top", "20"]),
    ("diagnose", ["diagnose", "-e", "ck=gt_1000", "--top", "30"]),
    ("diagnose_explain", ["diagnose", "-e", "ck=gt_1000", "--explain", "muscle_biopsy"]),
    ("diagnose_information", ["diagnose", "-e", "ck=mild", "--objective", "information"]),
    ("diagnose_cost_by_node", ["diagnose", "--objective", "cost", "--alpha", "0.001", "--by",
                               "node", "--names"]),
    ("diagnose_uncertainty", ["diagnose", "-e", "ck=gt_1000", "--uncertainty", "50", "--seed", "1"]),
    ("plan", ["plan", "--orders", "emg_ncs", "abi", "ck"]),
    ("networks", ["networks"]),
    ("hepar2", ["diagnose", *HEPAR, "-e", "ama=present", "bilirubin=a88_20", "--top", "70"]),
    ("hepar2_explain", ["diagnose", *HEPAR, "--test", "ama", "ESR", "ggtp", "bilirubin",
                        "--explain", "ggtp"]),
]


@pytest.mark.parametrize("argv", [c[1] for c in COMMANDS], ids=[c[0] for c in COMMANDS])
def test_every_command_fits_80_columns(capsys, argv):
    out = run(capsys, *argv)
    assert out.strip() and widest(out) <= 80, max(out.splitlines(), key=len)


def test_foreign_network_with_63_disease_states_fits_80_columns(capsys, data_dir):
    out = run(capsys, "diagnose", "--network", str(data_dir / "pathfinder.bif"), "--target",
              "Fault", "--top", "5")
    assert widest(out) <= 80
    assert "more states below 0.1%" in out or out.count("%") >= 63


@pytest.mark.parametrize("flag, limit", [(["--width", "100"], 100), (["--width", "60"], 60),
                                         (["--wide"], 160)], ids=["100", "60", "wide"])
def test_width_flag(capsys, flag, limit):
    narrow = run(capsys, "demo")
    out = run(capsys, "demo", *flag)
    assert widest(out) <= limit
    if limit > 80:  # the room is used: fewer lines, and columns dropped at 80 come back
        assert len(out.splitlines()) < len(narrow.splitlines())
        assert widest(out) > 80
        assert out.count("dec. value") > narrow.count("dec. value")


@pytest.mark.parametrize("value", ["59", "0", "-5", "wide"])
def test_width_flag_rejects_too_narrow(capsys, value):
    with pytest.raises(SystemExit) as info:
        main(["demo", "--width", value])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "--width" in err and "Traceback" not in err


# -- labels by default, names on request -------------------------------------------------------
def test_labels_by_default_names_with_flag(capsys, bundled):
    out = " ".join(run(capsys, "diagnose", "-e", "ck=gt_1000", "--top", "40").split())
    ranked = bayesdx.diagnose(bundled, evidence={"ck": "gt_1000"}).ranking
    for target in bundled.targets:
        assert bundled.label(target) in out
    for label in ranked["label"]:
        assert label in out
    assert "inflammatory_myopathy" not in out and "emg_ncs " not in out
    assert "Creatine kinase: gt_1000" in out  # the evidence, by label
    named = run(capsys, "diagnose", "-e", "ck=gt_1000", "--top", "40", "--names")
    for name in ranked.index:
        assert re.search(rf"^  {name}\b", named, re.M), name
    assert "ck=gt_1000" in named


# -- numbers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("usd, text", [(2500.0, "$2,500"), (7, "$7"), (0, "$0"), (0.5, "$0.50"),
                                       (1234567.4, "$1,234,567"), (float("nan"), ""), (None, "")])
def test_money(usd, text):
    assert money(usd) == text


@pytest.mark.parametrize("p", [0.0, 1e-9, 4.9e-4, 5e-4, 0.2234, 0.9994, 0.99951, 1 - 1e-12, 1.0])
def test_percent_never_rounds_a_possibility_away(p):
    text = percent(p)
    if 0 < p < 1:
        assert text not in ("0.0%", "100.0%"), (p, text)
    else:
        assert text == f"{p:.1%}"
    if text[0].isdigit():
        assert abs(float(text[:-1]) / 100 - p) <= 5e-4 + 1e-15


def test_costs_print_as_money(capsys, bundled):
    out = run(capsys, "diagnose", "--top", "40", "--wide")
    costs = {o.label: o.cost_usd for o in bundled.orders}
    seen = 0
    for line in out.splitlines():
        for label, usd in costs.items():
            if line.startswith(f"  {label}  "):
                assert money(usd) in line.split()[-2:] or line.rstrip().endswith(money(usd)), line
                seen += 1
    assert seen == len(bundled.orders)
    assert not re.search(r"\b\d+\.0000\b", out.split("order")[-1].split("value")[0])
    assert "2250.0000" not in out and "$2,250" in out


# -- invasive orders are marked ----------------------------------------------------------------
def test_invasive_orders_marked_in_table(capsys, bundled):
    invasive = {o.label for o in bundled.orders if o.invasive}
    assert invasive, "the bundled network marks some orders invasive"
    out = run(capsys, "diagnose", "--top", "40", "--wide")
    rows = {}
    for line in out.splitlines():
        for o in bundled.orders:
            if line.startswith(f"  {o.label}"):
                rows[o.label] = line
    assert set(rows) == {o.label for o in bundled.orders}
    for label, line in rows.items():
        assert line.rstrip().endswith("yes") == (label in invasive), line


def test_invasive_orders_marked_in_figure(bundled):
    dx = bayesdx.diagnose(bundled, evidence={"ck": "gt_1000"})
    ax = plotting.plot_ranking(dx, top=40)
    ticks = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
    labels = list(dx.ranking["label"])
    assert ticks == labels  # wrapped, never cut
    invasive = list(dx.ranking["invasive"] == True)  # noqa: E712 - the column holds True/False/None
    notes = [t.get_text() for t in ax.texts]
    assert sum("invasive" in n for n in notes) == sum(invasive) > 0
    bars = ax.containers[0]
    assert [bool(b.get_hatch()) for b in bars] == invasive


# -- HTML: the diseases first ------------------------------------------------------------------
def test_html_shows_disease_rows_first(bundled):
    dx = bayesdx.diagnose(bundled, evidence=DEMO_CASE)
    page = dx._repr_html_()
    first_table = page[page.index("<table>"):page.index("</table>")]
    rows = re.findall(r"<tr><td[^>]*>(.*?)</td><td>(.*?)</td><td><b>(.*?)</b>", first_table)
    assert [r[0] for r in rows] == [bundled.label(t) for t in bundled.targets]
    for (label, before, after), target in zip(rows, bundled.targets):
        ref = bundled.reference_state(target)
        assert after == percent(1 - dx.marginal(target)[ref])
        assert before == percent(1 - dx.prior(target)[ref])
    assert page.index("</table>") < page.index("Next orders") < page.index("<details>")
    assert "emg_ncs" in page and "$360" in page and "invasive" in page
    for state in bundled.states("thyroid_disease")[1:]:  # states only in the detail
        assert state not in first_table and state in page[page.index("<details>"):]


def test_html_target_without_healthy_state_shows_its_states(many_states):
    dx = bayesdx.diagnose(many_states, evidence={"Sign": "yes"})
    page = dx._repr_html_()
    first_table = page[page.index("<table>"):page.index("</table>")]
    top = dx.marginal("Fault").sort_values(ascending=False).head(5)
    for state, p in top.items():
        assert f"Fault: {state}" in first_table and percent(p) in first_table
    assert first_table.count("<tr>") == 1 + 5


def test_session_html_and_repr_by_label(bundled):
    s = bayesdx.Session(bundled, evidence={"age_band": "age_40_69"})
    s.add("ck", "gt_1000")
    text = repr(s)
    assert widest(text) <= 80 and "1. Creatine kinase: gt_1000" in text
    page = s._repr_html_()
    rows = re.findall(r"<tr><td[^>]*>(.*?)</td><td>(.*?)</td><td><b>(.*?)</b>", page)
    for (label, start, now), target in zip(rows, bundled.targets):
        ref = bundled.reference_state(target)
        assert label == bundled.label(target)
        assert start == percent(1 - s.diagnoses[0].marginal(target)[ref])
        assert now == percent(1 - s.current.marginal(target)[ref])


def test_diagnosis_repr_fits_and_uses_labels(bundled):
    dx = bayesdx.diagnose(bundled, evidence=DEMO_CASE)
    text = repr(dx)
    assert widest(text) <= 80
    for target in bundled.targets:
        assert " ".join(bundled.label(target).split()) in " ".join(text.split())
    assert "emg_ncs" not in text.split("Orders by")[1].split("Continue")[0]


# -- figures: labels, 9 pt, nothing cut ---------------------------------------------------------
def _texts(ax):
    fig = ax.figure
    out = [t for a in fig.axes for t in (*a.texts, *a.get_xticklabels(), *a.get_yticklabels())]
    out += [a.title for a in fig.axes] + [a.xaxis.label for a in fig.axes]
    for a in fig.axes:
        if a.get_legend() is not None:
            out += list(a.get_legend().get_texts())
    return [t for t in out if t.get_text()]


FIGURES = {
    "posteriors": lambda dx: plotting.plot_posteriors(dx),
    "ranking": lambda dx: plotting.plot_ranking(dx),
    "what_if": lambda dx: plotting.plot_what_if(dx, "emg_denervation"),
    "explanation": lambda dx: plotting.plot_explanation(dx, dx.next_test),
    "network": lambda dx: plotting.plot_network(dx.network, dx),
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_figures_speak_in_labels(bundled, name):
    dx = bayesdx.diagnose(bundled, evidence={"age_band": "age_40_69", "ck": "gt_1000"})
    texts = " ".join(t.get_text() for t in _texts(FIGURES[name](dx)))
    snake = [n for n in bundled.nodes if "_" in n and bundled.label(n) != n]
    assert not [n for n in snake if re.search(rf"\b{n}\b", texts)], name
    assert "Creatine kinase: gt_1000" in " ".join(texts.split()) or name == "network"


def test_network_figure_readable(bundled):
    dx = bayesdx.diagnose(bundled, evidence=DEMO_CASE)
    ax = plotting.plot_network(bundled, dx)
    texts = [t for t in ax.texts]
    assert min(t.get_fontsize() for t in texts) >= 9
    assert not any("\u2026" in t.get_text() for t in texts)
    shown = {"".join(t.get_text().split()) for t in texts}
    for node in bundled.nodes:  # each label whole (its wrapped lines joined)
        assert "".join(bundled.label(node).split()) in shown, node
    boxes = {p.get_gid().split(":", 1)[1]: p for p in ax.patches
             if (p.get_gid() or "").startswith(("node:", "observed:"))}
    x = {n: b.get_x() for n, b in boxes.items()}
    role_x = {r: {x[n] for n in bundled.nodes if bundled.role(n) == r}
              for r in ("context", "target", "latent", "finding")}
    order = ["context", "target", "latent", "finding"]
    for left, right in zip(order, order[1:]):  # columns follow the roles left to right
        assert max(role_x[left]) < min(role_x[right])
    # no two boxes overlap
    rects = [(b.get_x(), b.get_y(), b.get_x() + b.get_width(), b.get_y() + b.get_height())
             for b in boxes.values()]
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_network_figure_large_foreign_is_disease_centred(hepar2):
    dx = bayesdx.diagnose(hepar2, evidence={"fat": "present"})
    ax = plotting.plot_network(hepar2, dx, max_nodes=20)
    boxes = {p.get_gid().split(":", 1)[1] for p in ax.patches
             if (p.get_gid() or "").startswith(("node:", "observed:"))}
    assert len(boxes) == 20
    assert set(hepar2.targets) | {"fat"} <= boxes  # the diseases and what was observed
    note = next(t.get_text() for t in ax.texts if t.get_gid() == "left-out-note")
    assert f"{len(hepar2.nodes) - 20} of {len(hepar2.nodes)} nodes left out" in note
    assert min(t.get_fontsize() for t in ax.texts) >= 9


@pytest.mark.parametrize("kw", [{"max_nodes": 0}, {"max_nodes": 2.5}, {"per_column": 0}],
                         ids=["max_nodes_0", "max_nodes_float", "per_column_0"])
def test_network_figure_rejects_bad_sizes(bundled, kw):
    with pytest.raises(bayesdx.InvalidParameterError, match=f"'{next(iter(kw))}' parameter"):
        plotting.plot_network(bundled, **kw)


# -- the text helpers --------------------------------------------------------------------------
LONG = ("Antiplatelet, statin and supervised exercise (± vascular referral) and a label that "
        "goes on and on without end")


@pytest.mark.parametrize("width", [60, 67, 80, 120])
def test_table_fits_and_keeps_priorities(width):
    cols = [Column("what", "<", priority=9, flex=True), Column("value", priority=8),
            Column("extra", priority=1), Column("cost", priority=5)]
    rows = [[LONG, "0.0151", "x" * 12, "$2,250"], ["Short", "0", "y", "$0"]]
    for wrap_flex in (False, True):
        lines = table(cols, rows, width, wrap_flex=wrap_flex)
        assert max(map(len, lines)) <= width
        assert "value" in lines[0] and "cost" in lines[0]
        if wrap_flex:  # nothing lost: the label's words are all there
            assert " ".join(" ".join(lines).split()).count("goes on and on without end") == 1


def test_table_drops_an_empty_column_before_others():
    """A blank column (an explanation's shares when the order is worth nothing) is left out;
    the columns after it keep their own widths (it raised IndexError)."""
    cols = [Column("target", "<", flex=True), Column("share"), Column("bits"), Column("utils")]
    rows = [["ALS / lower motor neurone disease", "", "0.0000", "0"],
            ["Idiopathic inflammatory myopathy", "", "0.0005", "12.5"]]
    lines = table(cols, rows, 60)
    assert "share" not in lines[0] and lines[0].split() == ["target", "bits", "utils"]
    assert lines[2].split()[-2:] == ["0.0005", "12.5"] and max(map(len, lines)) <= 60
    narrow = table(cols, rows, 40, wrap_flex=True)  # the last column dropped, the label wrapped
    assert max(map(len, narrow)) <= 40 and narrow[-1].endswith("0.0005")


def test_explanation_of_an_order_worth_nothing_prints(bundled):
    dx = bayesdx.diagnose(bundled, evidence={"age_band": "age_ge_70", "dermatomyositis_rash": "absent"})
    worthless = dx.ranking.index[dx.ranking["value"] <= 0]
    for name in worthless[:3]:
        text = repr(dx.explain(name))
        assert "Share of the value by target" in text and max(map(len, text.splitlines())) <= 80


def test_fit_and_wrap_never_exceed_the_width():
    rng = np.random.default_rng(7)
    words = LONG.split()
    for _ in range(50):
        width = int(rng.integers(40, 120))
        line = "|   |-- " + " ".join(rng.choice(words, int(rng.integers(1, 40))))
        assert all(len(x) <= width for x in fit([line], width))
        assert all(len(x) <= width for x in wrap(line, width, "  ", "    "))


def test_elide_and_names(bundled):
    assert elide("abcdef", 6) == "abcdef" and elide("abcdefg", 6) == "abc..." and len(elide(LONG, 9)) == 9
    nm = Names(bundled)
    assert nm.target("als", "present") == bundled.label("als")
    assert nm.target("thyroid_disease", "overt_hypo") == "Thyroid disease: overt_hypo"
    assert Names(bundled, names=True).finding("ck", "mild") == "ck=mild"
    outcome = {"emg_denervation": "none", "ncs": "normal", "emg_fasciculation_potentials": "present"}
    assert nm.outcome(outcome) == "EMG: fasciculation potentials: present (rest normal)"
    assert nm.outcome({k: bundled.reference_state(k) for k in outcome}) == "all normal"
    assert nm.order("emg_ncs") == "EMG/NCS study" and Names(bundled, True).order("emg_ncs") == "emg_ncs"
    assert nm.order("pedal_pulses") == bundled.label("pedal_pulses")  # a test that is its own order


def test_explanation_text_and_html_by_label(bundled):
    dx = bayesdx.diagnose(bundled, evidence={"ck": "gt_1000"})
    why = dx.explain("emg_ncs")
    text = why.text()
    assert widest(text) <= 80 and text.startswith("Why EMG/NCS study")
    assert "$360, invasive" in text
    named = why.text(names=True, width=120)
    assert widest(named) <= 120 and named.startswith("Why emg_ncs")
    page = why._repr_html_()
    for target in bundled.targets:
        assert f"<th>{bundled.label(target)}</th>" in page
    assert "emg_fasciculation_potentials=present" not in page
    likely = why.outcome_evidence[int(np.argmax(why.p_outcome))]
    assert Names(bundled).outcome(likely) in page


def test_policy_text_by_label_within_width(bundled):
    policy = bayesdx.plan(bundled, evidence={"ck": "gt_1000"}, orders=["emg_ncs", "abi"])
    text = policy.to_text()
    assert widest(text) <= 80 and "Creatine kinase: gt_1000" in text
    assert "ck=gt_1000" not in text
    assert widest(policy.to_text(width=120)) <= 120


def _boxes(ax):
    return {p.get_gid().split(":", 1)[1]: p for p in ax.patches
            if (p.get_gid() or "").startswith(("node:", "observed:"))}


def test_network_edges_pass_under_no_box(bundled, hepar2):
    from matplotlib.path import Path

    for net, dx in ((bundled, bayesdx.diagnose(bundled, evidence=DEMO_CASE)), (hepar2, None)):
        ax = plotting.plot_network(net, dx)
        ax.figure.canvas.draw()
        boxes = _boxes(ax)
        rect = {n: (b.get_x(), b.get_y(), b.get_x() + b.get_width(), b.get_y() + b.get_height())
                for n, b in boxes.items()}
        edges = [p for p in ax.patches if (p.get_gid() or "").startswith("edge:")]
        expected = {(p, n) for n in boxes for p in net.parents(n) if p in boxes}
        assert {tuple(e.get_gid()[5:].split(">")) for e in edges} == expected
        crossing = []
        for edge in edges:
            parent, child = edge.get_gid()[5:].split(">")
            if (rect[parent][0], rect[parent][2]) == (rect[child][0], rect[child][2]):
                continue  # inside one column: an arc round its left side
            path = edge.get_path()
            points = []
            for (x0, y0), (x1, y1), code in zip(path.vertices, path.vertices[1:], path.codes[1:]):
                if code == Path.LINETO:
                    t = np.linspace(0, 1, 60)[:, None]
                    points.append(np.array([x0, y0]) + t * (np.array([x1, y1]) - [x0, y0]))
            pts = np.concatenate(points)
            for m, (a, b, c, d) in rect.items():
                if m in (parent, child):
                    continue
                inside = (pts[:, 0] > a + 0.01) & (pts[:, 0] < c - 0.01) & \
                         (pts[:, 1] > b + 0.01) & (pts[:, 1] < d - 0.01)
                if inside.any():
                    crossing.append((parent, child, m))
        assert not crossing, crossing[:5]
