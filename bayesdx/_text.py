"""Text for people: node labels (or names), money, probabilities, and lines that fit a width.

Every text form of bayesdx (the command line, the ``__repr__`` of results) is built with these
helpers, so each command gets the same output: labels by default, names on request, and at most
80 columns unless asked for more.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_WIDTH", "MIN_WIDTH", "Names", "Column", "money", "percent", "number", "elide",
           "wrap", "table", "fit"]

#: Columns of text output unless asked for more (``--width``, ``--wide``).
DEFAULT_WIDTH = 80
#: The narrowest width text is laid out for.
MIN_WIDTH = 60
#: ``--wide``: wide enough for every table row of the bundled network on one line.
WIDE = 160
ELLIPSIS = "..."


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def money(usd) -> str:
    """A cost in US dollars as people write it: ``$2,500``, ``$7``, ``$0.50``; blank when unknown.

    Examples
    --------
    >>> money(2500.0), money(7), money(0.5), money(float("nan"))
    ('$2,500', '$7', '$0.50', '')
    """
    if _missing(usd):
        return ""
    usd = float(usd)
    if usd != round(usd) and abs(usd) < 100:
        return f"${usd:,.2f}"
    return f"${usd:,.0f}"


def percent(p, *, digits: int = 1) -> str:
    """A probability as a percentage; values too small (or too close to 1) to show at ``digits``
    decimals read ``<0.1%`` (``>99.9%``) rather than a misleading ``0.0%`` (``100.0%``).

    Examples
    --------
    >>> percent(0.2234), percent(0.0), percent(1e-5), percent(0.99999), percent(1.0)
    ('22.3%', '0.0%', '<0.1%', '>99.9%', '100.0%')
    """
    if _missing(p):
        return ""
    p = float(p)
    step = 10.0 ** -(digits + 2)
    if 0.0 < p < step / 2:
        return f"<{step:.{digits}%}"
    if 1.0 - step / 2 < p < 1.0:
        return f">{1 - step:.{digits}%}"
    return f"{p:.{digits}%}"


def number(value, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures (blank when NaN or None).

    Examples
    --------
    >>> number(0.015092), number(0.0), number(9.116e-05), number(float("nan"))
    ('0.0151', '0', '9.12e-05', '')
    """
    if _missing(value):
        return ""
    return f"{float(value):.{digits}g}"


def elide(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in ``...`` when cut.

    Examples
    --------
    >>> elide("Thyroid panel (TSH, reflex free T4)", 20)
    'Thyroid panel (TS...'
    """
    text = str(text)
    if len(text) <= width:
        return text
    if width <= len(ELLIPSIS):
        return text[:max(width, 0)]
    return text[:width - len(ELLIPSIS)].rstrip() + ELLIPSIS


def wrap(text: str, width: int = DEFAULT_WIDTH, indent: str = "", hang: str | None = None) -> list[str]:
    """``text`` wrapped to ``width`` columns, the first line indented by ``indent`` and the rest
    by ``hang`` (default: ``indent``). Words longer than a line are broken."""
    hang = indent if hang is None else hang
    lines = textwrap.wrap(str(text), width=max(width, len(hang) + 10), initial_indent=indent,
                          subsequent_indent=hang, break_long_words=True, break_on_hyphens=False)
    return lines or [indent.rstrip()]


def fit(lines: Iterable[str], width: int) -> list[str]:
    """Every line at most ``width`` columns: longer lines are wrapped under their own indent
    (a tree's guides, ``|--`` and a backquote, continue down the wrapped lines).

    Examples
    --------
    >>> print("\\n".join(fit(["|-- a long branch of a policy tree", "short"], 24)))
    |-- a long branch of a
    |     policy tree
    short
    """
    out = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
            continue
        indent = re.match(r"[ |`-]*", line).group()
        hang = indent.replace("|-- ", "|   ").replace("`-- ", "    ") + "  "
        if len(hang) > width // 2:
            hang = "  "
        out.extend(wrap(line[len(indent):].strip(), width, indent, hang))
    return out


@dataclass(frozen=True)
class Column:
    """A column of :func:`table`: its heading, alignment, and ``priority`` (columns of low
    priority are dropped first when the table is too wide; the ``flex`` column is elided)."""

    heading: str
    align: str = ">"
    priority: int = 1
    flex: bool = False


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int = DEFAULT_WIDTH,
          *, indent: str = "  ", gap: str = "  ", flex_min: int = 24,
          wrap_flex: bool = False) -> list[str]:
    """Rows of strings laid out under ``columns`` in at most ``width`` columns.

    While the flexible column (the label) would get fewer than ``flex_min`` characters, the
    column of lowest priority is dropped; then the flexible column's cells are elided to fit
    (``wrap_flex=True``: wrapped onto lines of their own, the other cells on the last line).

    Examples
    --------
    >>> cols = [Column("test", "<", flex=True), Column("cost", ">")]
    >>> print("\\n".join(table(cols, [["Creatine kinase", "$7"], ["Muscle biopsy", "$2,250"]])))
      test               cost
      Creatine kinase      $7
      Muscle biopsy    $2,250
    """
    keep = [i for i, c in enumerate(columns)  # a column with nothing in it says nothing
            if c.flex or any(str(r[i]).strip() for r in rows) or not rows]
    natural = {i: max([len(columns[i].heading)] + [len(str(r[i])) for r in rows]) for i in keep}
    flex = next((i for i, c in enumerate(columns) if c.flex), None)

    def total(idx):
        return len(indent) + sum(natural[i] for i in idx) + len(gap) * (len(idx) - 1)

    while total(keep) > width and flex is not None:
        room = width - (total(keep) - natural[flex])
        droppable = [i for i in keep if i != flex and columns[i].priority > 0]
        if room >= min(flex_min, natural[flex]) or not droppable:
            break
        keep.remove(min(droppable, key=lambda i: (columns[i].priority, -i)))
    widths = {i: natural[i] for i in keep}
    if flex is not None and total(keep) > width:
        widths[flex] = max(len(ELLIPSIS) + 1, natural[flex] - (total(keep) - width))

    def line(cells):
        parts = []
        for i in keep:
            cell = elide(str(cells[i]), widths[i])
            parts.append(f"{cell:{columns[i].align}{widths[i]}}")
        return (indent + gap.join(parts)).rstrip()

    def lines(cells):
        if not wrap_flex or flex is None or len(str(cells[flex])) <= widths[flex]:
            return [line(cells)]
        pieces = wrap(str(cells[flex]), widths[flex], "", "  ")
        head = [line(["" if i != flex else p for i in range(len(cells))]) for p in pieces[:-1]]
        return head + [line([pieces[-1] if i == flex else c for i, c in enumerate(cells)])]

    return [line([c.heading for c in columns])] + [x for r in rows for x in lines(r)]


class Names:
    """How a network's nodes, states, orders and findings are written: by label (default) or by
    name (``names=True``, what the command line and the API take as input)."""

    def __init__(self, network, names: bool = False):
        self.network = network
        self.names = bool(names)

    def node(self, node: str) -> str:
        """The node's label, or its name."""
        return node if self.names else self.network.label(node)

    def target(self, target: str, state: str | None = None) -> str:
        """A target, with ``state`` unless it is the only non-reference state of the target
        (``ALS / lower motor neurone disease``, ``Thyroid disease: overt_hypo``)."""
        if state is None:
            return self.node(target)
        net = self.network
        if self.names:
            return f"{target} = {state}"
        if net.has_reference_state(target) and len(net.states(target)) == 2 \
                and state != net.reference_state(target):
            return self.node(target)
        return f"{self.node(target)}: {state}"

    def finding(self, node: str, state: str) -> str:
        """``node=state`` by name, ``Label: state`` by label."""
        return f"{node}={state}" if self.names else f"{self.node(node)}: {state}"

    def evidence(self, evidence: Mapping[str, str]) -> str:
        """Several findings, or ``none``."""
        sep = ", " if self.names else "; "
        return sep.join(self.finding(n, s) for n, s in evidence.items()) or "none"

    def outcome(self, outcome: Mapping[str, str], *, brief: bool = True) -> str:
        """A result ``{readout: state}``; ``brief`` names only the readouts away from their
        healthy state, adding "(rest normal)", or says "all normal"."""
        items = list(outcome.items())
        net = self.network
        if brief and len(items) > 1 and all(net.has_reference_state(r) for r, _ in items):
            odd = [(r, s) for r, s in items if s != net.reference_state(r)]
            if not odd:
                return "all normal"
            text = self.evidence(dict(odd))
            return text + (" (rest normal)" if len(odd) < len(items) else "")
        return self.evidence(dict(items))

    def order(self, order) -> str:
        """An order (an :class:`~bayesdx.orders.Order` or its name)."""
        if isinstance(order, str):
            found = {o.name: o for o in self.network.orders}.get(order)
            if found is None:
                return order if self.names or order not in self.network.nodes else self.node(order)
            order = found
        return order.name if self.names else order.label
