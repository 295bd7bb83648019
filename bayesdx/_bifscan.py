"""A light structural scan of foreign network files, before pgmpy reads them.

pgmpy's readers keep the last of two ``variable`` or ``probability`` blocks for a node, accept
truncated files as networks with fewer tables, and report bad entries without the node. This
module finds those problems first, each with its node, so :func:`bayesdx.load_network` raises one
:class:`~bayesdx.exceptions.NetworkSpecError` naming the file and the node. It checks structure
(blocks, declarations, row lengths, entries, state labels); the numbers are checked again after
the parse (rows summing to 1).

The same pass reads a BIF file's tables (:func:`read_bif`): a BIF network is loaded without
pgmpy, as pgmpy's ``BIFReader`` reads it (a ``table`` lists the node's states slowest, as
pgmpy's ``BIFWriter`` writes it; rows are keyed by parent state labels; a ``default`` row fills
the rows not listed), which a test checks on every BIF file of the test data.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from .exceptions import _cut, _elide

__all__ = ["read_bytes", "decode_text", "scan_bif", "read_bif", "scan_xmlbif", "MAX_FILE_BYTES"]

#: The largest network file read, in bytes (Pathfinder is 1.6 MB, MUNIN 1.2 MB).
MAX_FILE_BYTES = 256 * 2**20

_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_TYPE = re.compile(r"type\s+discrete\s*\[\s*(\d+)\s*\]\s*\{([^{}]*)\}", re.S)
_PROB_HEAD = re.compile(r"^probability\s*\(\s*([^|()]+?)\s*(?:\|\s*([^()]*?))?\s*\)$", re.S)
_VAR_HEAD = re.compile(r"^variable\s+(\S+)$")
_ROW = re.compile(r"^\(([^()]*)\)\s*(.*)$", re.S)


def read_bytes(path: Path, problems: list) -> bytes | None:
    """The bytes of ``path``, or None after appending the problem (unreadable, empty, too large)."""
    where = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append((where, None, f"the file has {size:,} bytes, over the limit of "
                                          f"{MAX_FILE_BYTES:,} (bayesdx._bifscan.MAX_FILE_BYTES)"))
            return None
        data = path.read_bytes()
    except OSError as exc:
        problems.append((where, None, f"cannot read the file: {exc.strerror or exc}"))
        return None
    if not data.strip():
        problems.append((where, None, "the file is empty: no network in it"))
        return None
    return data


def decode_text(data: bytes, where: str, problems: list, *, strict_utf8: bool = True) -> str | None:
    """``data`` as UTF-8 text, or None (after appending the problem when ``strict_utf8``)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if not strict_utf8:
            return None
        line = data[:exc.start].count(b"\n") + 1
        problems.append((where, None, f"not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line} "
                                      f"(offset {exc.start}) cannot be decoded; save the file as UTF-8"))
        return None


def _blocks(text: str, where: str, problems: list) -> list[tuple[str, str, int]]:
    """Top-level ``header { body }`` blocks as (header, body, line); unbalanced braces and text
    outside any block (a truncated file) are problems."""
    blocks = []
    depth, start, body_start, header = 0, 0, 0, ""
    for m in re.finditer(r"[{}]", text):
        if m.group() == "{":
            if depth == 0:
                header, body_start = text[start:m.start()].strip(), m.end()
            depth += 1
        else:
            depth -= 1
            if depth < 0:
                line = text.count("\n", 0, m.start()) + 1
                problems.append((where, None, f"line {line}: a '}}' closes no block"))
                return blocks
            if depth == 0:
                blocks.append((header, text[body_start:m.start()], text.count("\n", 0, m.start()) + 1))
                start = m.end()
    if depth > 0:
        line = text.count("\n", 0, body_start) + 1
        problems.append((where, None, f"the file ends inside the block {_elide(header)} opened at "
                                      f"line {line}: truncated?"))
    elif text[start:].strip():
        problems.append((where, None, f"text after the last block: {_elide(text[start:].strip())} "
                                      f"(truncated, or not a BIF file?)"))
    return blocks


def _values(raw: str, where: str, node: str, what: str, problems: list) -> list[float] | None:
    out = []
    for token in (t for t in re.split(r"[\s,]+", raw.strip()) if t):
        try:
            value = float(token)
        except ValueError:
            problems.append((where, node, f"{what}: entry {_elide(token)} is not a number"))
            return None
        if not math.isfinite(value):
            problems.append((where, node, f"{what}: entry {_elide(token)} is not finite"))
            return None
        if value < 0:
            problems.append((where, node, f"{what}: entry {token} is negative"))
            return None
        out.append(value)
    return out


def scan_bif(text: str, where: str) -> list[tuple[str, str | None, str]]:
    """Every structural problem of a BIF file's ``text``, as (file, node, message).

    Examples
    --------
    >>> text = "variable a { type discrete [ 2 ] { y, n }; }\\nvariable a { type discrete [ 2 ] { n, y }; }"
    >>> [(node, msg) for _, node, msg in scan_bif(text, "x.bif")][:1]
    [('a', "a second 'variable' block declares it (line 2; the first is at line 1)")]
    """
    return _scan(text, where)[0]


def read_bif(text: str, where: str):
    """The network in a BIF file's ``text`` as :class:`~bayesdx.inference.ModelArrays` (nodes in
    the topological order :func:`bayesdx.network.arrays_from_pgmpy` gives, parents in the order
    of each ``probability`` header), or the problems found.

    Returns
    -------
    (ModelArrays or None, list of (file, node, message))

    Examples
    --------
    >>> text = ("variable d { type discrete [ 2 ] { no, yes }; }\\n"
    ...         "variable t { type discrete [ 2 ] { neg, pos }; }\\n"
    ...         "probability ( d ) { table 0.9, 0.1; }\\n"
    ...         "probability ( t | d ) { (no) 0.8, 0.2; (yes) 0.3, 0.7; }")
    >>> arrays, problems = read_bif(text, "x.bif")
    >>> arrays.nodes, arrays.cpts["t"].tolist(), problems
    (('d', 't'), [[0.8, 0.2], [0.3, 0.7]], [])
    """
    import networkx as nx

    from .inference import ModelArrays

    problems, states, tables, parents = _scan(text, where)
    if problems:
        return None, problems
    graph = nx.DiGraph((p, n) for n, ps in parents.items() for p in ps)
    graph.add_nodes_from(states)
    try:
        nodes = tuple(nx.lexicographical_topological_sort(graph))
    except nx.NetworkXUnfeasible:
        cycle = [u for u, _ in nx.find_cycle(graph)]
        return None, [(where, cycle[0], f"the parents form a cycle: {_elide(cycle)}")]
    return ModelArrays(nodes=nodes, states={n: tuple(states[n]) for n in nodes},
                       parents={n: parents[n] for n in nodes}, cpts={n: tables[n] for n in nodes}), []


def _scan(text: str, where: str):
    """(problems, states, tables, parents) of a BIF ``text``; the tables have the shape
    ``(*parent cards, card)``."""
    problems: list[tuple[str, str | None, str]] = []
    text = _COMMENT.sub(lambda m: "\n" * m.group().count("\n"), text)
    blocks = _blocks(text, where, problems)
    states: dict[str, list[str]] = {}
    declared_at: dict[str, int] = {}
    probs: list[tuple[str, tuple[str, ...], str, int]] = []
    prob_at: dict[str, int] = {}
    tables: dict = {}
    parent_of: dict = {}
    for header, body, line in blocks:
        head = " ".join(header.split())
        if head.startswith("network") or not head:
            continue
        m = _VAR_HEAD.match(head)
        if m:
            node = m.group(1)
            if node in declared_at:
                problems.append((where, node, f"a second 'variable' block declares it (line {line}; "
                                              f"the first is at line {declared_at[node]})"))
                continue
            declared_at[node] = line
            t = _TYPE.search(body)
            if t is None:
                problems.append((where, node, "its 'variable' block has no 'type discrete [n] { states }'"))
                continue
            labels = [s.strip() for s in t.group(2).split(",")]
            if any(not s for s in labels):
                problems.append((where, node, f"an empty state label in {{{_cut(t.group(2))}}}"))
            dup = sorted({s for s in labels if labels.count(s) > 1})
            if dup:
                problems.append((where, node, f"duplicate state(s) {_elide(dup)}"))
            if int(t.group(1)) != len(labels):
                problems.append((where, node, f"declares {t.group(1)} states but lists {len(labels)}"))
            if len(labels) < 1 or dup or any(not s for s in labels):
                continue
            states[node] = labels
            continue
        m = _PROB_HEAD.match(head)
        if m:
            node = m.group(1).strip()
            parents = tuple(p.strip() for p in (m.group(2) or "").split(",") if p.strip())
            if node in prob_at:
                problems.append((where, node, f"a second 'probability' block gives its table (line "
                                              f"{line}; the first is at line {prob_at[node]})"))
                continue
            prob_at[node] = line
            probs.append((node, parents, body, line))
            continue
        problems.append((where, None, f"line {line}: unknown block {_elide(head)}"))
    for node, parents, body, line in probs:
        if node not in declared_at:
            problems.append((where, node, f"a 'probability' block (line {line}) for an undeclared variable"))
            continue
        unknown = [p for p in parents if p not in declared_at]
        if unknown:
            problems.append((where, node, f"undeclared parent(s) {_elide(unknown)}"))
            continue
        if node not in states or any(p not in states for p in parents):
            continue  # its states are already reported
        table = _check_table(node, parents, body, states, where, problems)
        if table is not None:
            tables[node], parent_of[node] = table, parents
    truncated = any(node is None for _, node, _ in problems)
    for node in declared_at:
        if node not in prob_at and not truncated:
            problems.append((where, node, "has no probability table"))
    if not declared_at and not problems:
        problems.append((where, None, "no 'variable' blocks: the file declares no nodes"))
    return problems, states, tables, parent_of


def _check_table(node, parents, body, states, where, problems):
    """The node's table, shape ``(*parent cards, card)``, or None after appending its problems."""
    card = len(states[node])
    pcards = [len(states[p]) for p in parents]
    n_rows = math.prod(pcards)
    seen: dict[tuple[str, ...], int] = {}
    has_table = has_default = False
    before = len(problems)
    table = default = None
    rows: dict[tuple[int, ...], list[float]] = {}
    for statement in (s.strip() for s in body.split(";")):
        if not statement:
            continue
        if statement.startswith("table"):
            values = _values(statement[5:], where, node, "table", problems)
            if values is not None and len(values) != card * n_rows:
                problems.append((where, node, f"table: {len(values)} entries, expected {card * n_rows} "
                                              f"({card} states x {n_rows} parent rows)"))
            elif values is not None:
                table = values
            if has_table:
                problems.append((where, node, "a second 'table' in its 'probability' block"))
            has_table = True
            continue
        if statement.startswith("default"):
            values = _values(statement[7:], where, node, "default", problems)
            if values is not None and len(values) != card:
                problems.append((where, node, f"default row: {len(values)} entries, expected {card}"))
            elif values is not None:
                default = values
            has_default = True
            continue
        row = _ROW.match(statement)
        if row is None:
            continue  # property lines and the like
        labels = tuple(s.strip() for s in row.group(1).split(","))
        what = f"row ({_cut(', '.join(labels))})"
        if len(labels) != len(parents):
            problems.append((where, node, f"{what}: {len(labels)} parent state(s), expected "
                                          f"{len(parents)} ({', '.join(parents) or 'no parents'})"))
            continue
        bad = [(p, s) for p, s in zip(parents, labels) if s not in states[p]]
        if bad:
            p, s = bad[0]
            problems.append((where, node, f"{what}: unknown state {_elide(s)} of parent '{p}' "
                                          f"(states: {_cut(', '.join(states[p]))})"))
            continue
        if labels in seen:
            problems.append((where, node, f"{what} is given twice"))
            continue
        seen[labels] = 1
        values = _values(row.group(2), where, node, what, problems)
        if values is not None and len(values) != card:
            problems.append((where, node, f"{what}: {len(values)} entries, expected {card} "
                                          f"(one per state of '{node}')"))
        elif values is not None:
            rows[tuple(states[p].index(s) for p, s in zip(parents, labels))] = values
    if parents and not has_table and not has_default and len(seen) < n_rows:
        problems.append((where, node, f"{n_rows - len(seen)} of {n_rows} parent rows are missing"))
    if not parents and not has_table and not has_default and not seen:
        problems.append((where, node, "its 'probability' block has no table"))
    if has_table and (seen or has_default):
        problems.append((where, node, "its 'probability' block mixes a 'table' with rows or a default"))
    if len(problems) > before:
        return None
    if table is not None:  # the node's states slowest, as pgmpy reads and writes it
        return np.ascontiguousarray(np.asarray(table, float).reshape(card, n_rows).T.reshape(*pcards, card))
    out = np.empty((*pcards, card))
    out[...] = np.nan if default is None else default
    for idx, values in rows.items():
        out[idx] = values
    return out


def _elements(text: str, *tags: str) -> list[tuple[str, str]]:
    """(TAG, inner text) of every ``<TAG ...>...</TAG>`` of ``tags``, paired in one linear pass
    (no regular expression spans an element, so hostile text cannot make it backtrack)."""
    out, opened = [], None
    for m in re.finditer(r"<(/?)(" + "|".join(tags) + r")\b[^<>]*>", text, re.I):
        tag = m.group(2).upper()
        if not m.group(1):
            opened = None if m.group(0).endswith("/>") else (tag, m.end())
        elif opened is not None and opened[0] == tag:
            out.append((tag, text[opened[1]:m.start()]))
            opened = None
    return out


def _xml_tags(body: str, tag: str) -> list[str]:
    return [inner.strip() for _, inner in _elements(body, tag)]


def scan_xmlbif(text: str, where: str) -> list[tuple[str, str | None, str]]:
    """Every duplicate declaration and malformed table of an XMLBIF ``text``, as (file, node,
    message): pgmpy's ``XMLBIFReader`` keeps the later of two declarations and reports a wrong
    table length without the node.

    Examples
    --------
    >>> v = "<VARIABLE><NAME>a</NAME><OUTCOME>y</OUTCOME><OUTCOME>n</OUTCOME></VARIABLE>"
    >>> [m for _, _, m in scan_xmlbif(f"<BIF><NETWORK>{v}{v}</NETWORK></BIF>", "x.xml")][:1]
    ['a second <VARIABLE> declares it (the first is variable 1)']
    """
    problems: list[tuple[str, str | None, str]] = []
    cards: dict[str, int] = {}
    for _, body in _elements(text, "VARIABLE"):
        names = _xml_tags(body, "NAME")
        if not names:
            continue
        node, outcomes = names[0], _xml_tags(body, "OUTCOME")
        if node in cards:
            first = list(cards).index(node) + 1
            problems.append((where, node, f"a second <VARIABLE> declares it (the first is variable {first})"))
            continue
        dup = sorted({s for s in outcomes if outcomes.count(s) > 1})
        if dup:
            problems.append((where, node, f"duplicate state(s) {_elide(dup)}"))
        cards[node] = len(outcomes)
    defined: set[str] = set()
    for kind, body in _elements(text, "DEFINITION", "PROBABILITY"):
        fors = _xml_tags(body, "FOR")
        if not fors:
            continue
        node, given = fors[0], _xml_tags(body, "GIVEN")
        if node in defined:
            problems.append((where, node, f"a second <{kind}> gives its table"))
            continue
        defined.add(node)
        unknown = [v for v in (node, *given) if v not in cards]
        if unknown:
            problems.append((where, node, f"its table names undeclared variable(s) {_elide(unknown)}"))
            continue
        tables = _xml_tags(body, "TABLE")
        values = _values(tables[0] if tables else "", where, node, "table", problems)
        expected = cards[node] * math.prod(cards[g] for g in given)
        if values is not None and len(values) != expected:
            problems.append((where, node, f"table: {len(values)} entries, expected {expected} "
                                          f"({cards[node]} states x {expected // max(cards[node], 1)} "
                                          f"parent rows)"))
    return problems
