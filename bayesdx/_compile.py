"""Checking and compiling the CPT blocks of a bayesdx YAML network into full tables.

Called by :func:`bayesdx.spec.parse_spec` once the node list and graph are sound. Every number is
recorded as a :class:`~bayesdx._sources.Param` (the provenance table) and every problem goes to the
checker with its node.
"""

from __future__ import annotations

import itertools

import numpy as np

from ._sources import TOLERANCE, _describe, _record, _scalar
from .exceptions import _suggest
from .inference import ModelArrays

__all__ = ["check_cpts", "spec_arrays"]

_CALIBRATION_TOL = 1e-12


def _topological(spec) -> list[str]:
    order: list[str] = []
    placed: set[str] = set()
    pending = list(spec.nodes)
    while pending:
        rest = []
        for n in pending:
            if all(p in placed for p in spec.nodes[n].parents):
                order.append(n)
                placed.add(n)
            else:
                rest.append(n)
        pending = rest
    return order


def check_cpts(chk, spec) -> None:
    """Check every CPT block, record its parameters and store the compiled tables."""
    tables: dict[str, np.ndarray] = {}
    for name in _topological(spec):
        node = spec.nodes[name]
        chk.node = name
        if not node.cpt or len(node.states) < 2:
            if not node.cpt:
                chk.err("cpt: missing")
            continue
        ctype = node.cpt.get("type")
        builder = {"table": _table, "noisy_or": _noisy_or, "noisy_max": _noisy_max, "odds": _odds_cpt}.get(ctype)
        if builder is None:
            continue
        parents_ok = all(len(spec.nodes[p].states) >= 2 for p in node.parents)
        if not parents_ok:
            continue
        table = builder(chk, spec, node, tables)
        if table is not None:
            tables[name] = table
    spec.tables = tables


def spec_arrays(spec) -> ModelArrays:
    """The compiled :class:`ModelArrays` of a checked spec."""
    order = tuple(_topological(spec))
    return ModelArrays(
        nodes=order,
        states={n: spec.nodes[n].states for n in order},
        parents={n: spec.nodes[n].parents for n in order},
        cpts={n: spec.tables[n] for n in order},
    )


def _distribution(chk, where, raw, states) -> dict[str, float] | None:
    if not isinstance(raw, dict):
        chk.err(f"{where}: probs must map each state to a probability, got {_describe(raw)}")
        return None
    ok = True
    out: dict[str, float] = {}
    for state, p in raw.items():
        if state not in states:
            chk.err(f"{where}: unknown state {_describe(state)}.{_suggest(str(state), states)} States: {', '.join(states)}")
            ok = False
            continue
        value = chk.probability(f"{where}: probability of {state!r}", p)
        if value is None:
            ok = False
        else:
            out[state] = value
    missing = [s for s in states if s not in raw]
    if missing:
        chk.err(f"{where}: probs must give every state; missing {', '.join(missing)}")
        ok = False
    if ok:
        total = sum(out.values())
        if abs(total - 1.0) > TOLERANCE:
            chk.err(f"{where}: probabilities sum to {total!r}, not 1 (tolerance {TOLERANCE})")
            ok = False
    return {s: out[s] for s in states} if ok else None


def _dist_block(chk, spec, node, where, block, raw=None):
    if not isinstance(block, dict) or "probs" not in block:
        chk.err(f"{where}: expected a mapping with 'probs' and its source, got {_describe(block)}")
        return None
    dist = _distribution(chk, where, block["probs"], node.states)
    if dist is None:
        return None
    if not _record(chk, spec, node, where, dict(dist), block, value_key="probs", raw=raw):
        return None
    return np.array([dist[s] for s in node.states])


def _parent_configs(spec, node):
    return list(itertools.product(*(spec.nodes[p].states for p in node.parents)))


def _shape(spec, node):
    return tuple(len(spec.nodes[p].states) for p in node.parents) + (len(node.states),)


def _when(chk, spec, node, where, when) -> dict[str, frozenset] | None:
    """Check a row's ``when`` (parent: state, or parent: [states...]); None if unsound.

    Returns, per named parent, the set of its states the row matches. A list of states needs
    ``format: bayesdx/2``.
    """
    if not isinstance(when, dict):
        chk.err(f"{where}.when: expected a mapping parent: state, got {_describe(when)}")
        return None
    out: dict[str, frozenset] = {}
    ok = True
    for parent, state in when.items():
        if parent not in node.parents:
            chk.err(f"{where}.when: {_describe(parent)} is not a parent of this node (parents: {', '.join(node.parents) or 'none'})")
            ok = False
            continue
        pstates = spec.nodes[parent].states
        if isinstance(state, list):
            if spec.format == "bayesdx/1":
                chk.err(f"{where}.when: a list of states for {parent!r} needs format: bayesdx/2")
                ok = False
                continue
            if not state:
                chk.err(f"{where}.when: the list of states for {parent!r} is empty")
                ok = False
                continue
            states = state
        else:
            states = [state]
        for st in states:
            if st not in pstates:
                chk.err(f"{where}.when: {_describe(st)} is not a state of {parent!r} ({', '.join(pstates)})")
                ok = False
        out[parent] = frozenset(states)
    return out if ok else None


def _when_label(when) -> str:
    def text(v):
        return "[" + ", ".join(map(str, v)) + "]" if isinstance(v, list) else str(v)

    return "{" + ", ".join(f"{k}: {text(v)}" for k, v in when.items()) + "}" if isinstance(when, dict) else "{?}"


def _matches(node, config, when) -> bool:
    return all(config[node.parents.index(p)] in states for p, states in when.items())


def _odds_cpt(chk, spec, node, tables):
    from ._odds import odds_cpt  # _odds builds on this module's helpers, so it is imported late

    return odds_cpt(chk, spec, node, tables)


# -- fixed rows (bayesdx/2) ---------------------------------------------------------------


def _fixed_rows(chk, spec, node, calibrated=False):
    """(mask of fixed parent configurations, their distributions) and the parents they name.

    ``fixed`` rows (bayesdx/2) give the child's exact distribution in the parent configurations
    their ``when`` matches, first match wins; the CPT type's own rule covers the other
    configurations (calibrated odds, or noisy-OR / noisy-MAX). None if a row is unsound.
    """
    raw = node.cpt.get("fixed")
    shape = _shape(spec, node)
    mask = np.zeros(shape[:-1], dtype=bool)
    probs = np.zeros(shape)
    if raw is None:
        return (mask, probs), set()
    if spec.format == "bayesdx/1":
        chk.err("cpt.fixed: fixed rows need format: bayesdx/2")
        return None, set()
    if not isinstance(raw, list) or not raw:
        chk.err(f"cpt.fixed: expected a non-empty list of rows {{when, probs, ref, locator, grade, range}}, got {_describe(raw)}")
        return None, set()
    named: set[str] = set()
    configs = _parent_configs(spec, node)
    ok = True
    for i, row in enumerate(raw, start=1):
        where = f"cpt.fixed[{i}]"
        if not isinstance(row, dict):
            chk.err(f"{where}: expected a mapping with 'when', 'probs' and a source, got {_describe(row)}")
            ok = False
            continue
        raw_when = row.get("when")
        if not isinstance(raw_when, dict) or not raw_when:
            chk.err(f"{where}.when: a fixed row needs a non-empty 'when' (parent: state); a row matching "
                    f"every configuration would leave nothing to calibrate or combine, got {_describe(raw_when)}")
            ok = False
            continue
        when = _when(chk, spec, node, where, raw_when)
        label = _when_label(raw_when)
        dist = _dist_block(chk, spec, node, f"{where} {label}", {k: v for k, v in row.items() if k != "when"},
                           raw=row)
        if when is None or dist is None:
            ok = False
            continue
        named.update(when)
        matched = 0
        for c in configs:
            index = tuple(spec.nodes[p].states.index(s) for p, s in zip(node.parents, c))
            if not mask[index] and _matches(node, c, when):
                mask[index] = True
                probs[index] = dist
                matched += 1
        if not matched:
            chk.err(f"{where} {label}: never applies (earlier fixed rows already cover every configuration it matches)")
            ok = False
    if ok and mask.all():
        rest = "calibrate to the marginal" if calibrated else "the noisy rule"
        chk.err(f"cpt.fixed: the fixed rows cover every parent configuration, so no configuration is left to "
                f"{rest} (use a table instead)")
        ok = False
    return ((mask, probs) if ok else None), named



# -- table -----------------------------------------------------------------------------


def _table(chk, spec, node, tables):
    rows = node.cpt.get("rows")
    if not isinstance(rows, list) or not rows:
        chk.err(f"cpt.rows: expected a non-empty list of rows, got {_describe(rows)}")
        return None
    configs = _parent_configs(spec, node)
    assigned: dict[tuple, np.ndarray] = {}
    ok = True
    for i, row in enumerate(rows, start=1):
        where = f"cpt.rows[{i}]"
        if not isinstance(row, dict):
            chk.err(f"{where}: expected a mapping, got {_describe(row)}")
            ok = False
            continue
        raw_when = row.get("when", {}) or {}
        when = _when(chk, spec, node, where, raw_when)
        bad = when is None
        label = _when_label(raw_when)
        body = {k: v for k, v in row.items() if k != "when"}
        dist = _dist_block(chk, spec, node, f"{where} {label}", body, raw=row)
        if bad or dist is None:
            ok = False
            continue
        matched = [c for c in configs if c not in assigned and _matches(node, c, when)]
        if not matched:
            chk.err(f"{where} {label}: never applies (earlier rows already cover every configuration it matches)")
            ok = False
        for c in matched:
            assigned[c] = dist
    if not ok:
        return None
    missing = [c for c in configs if c not in assigned]
    if missing:
        shown = "; ".join(", ".join(f"{p}={s}" for p, s in zip(node.parents, c)) for c in missing[:3])
        chk.err(f"cpt.rows: {len(missing)} parent configuration(s) not covered, e.g. {shown}")
        return None
    table = np.empty(_shape(spec, node))
    for c in configs:
        index = tuple(spec.nodes[p].states.index(s) for p, s in zip(node.parents, c))
        table[index] = assigned[c]
    return table


# -- noisy-OR / noisy-MAX --------------------------------------------------------------


def _causes(chk, spec, node, fixed_named=frozenset()):
    """Yield (parent, parent_state, block) for every listed cause; check coverage (a parent named
    only in ``fixed`` rows needs no cause entry)."""
    causes = node.cpt.get("causes")
    if not isinstance(causes, dict) or not causes:
        chk.err(f"cpt.causes: expected a mapping parent: probability block, got {_describe(causes)}")
        return None
    out = []
    for parent, block in causes.items():
        if parent not in node.parents:
            chk.err(f"cpt.causes: {_describe(parent)} is not a parent of this node (parents: {', '.join(node.parents) or 'none'})")
            continue
        states = spec.nodes[parent].states
        if len(states) == 2:
            out.append((parent, states[1], block))
        elif isinstance(block, dict) and set(block) <= set(states[1:]) and block:
            for state, sub in block.items():
                out.append((parent, state, sub))
        else:
            chk.err(f"cpt.causes.{parent}: {parent!r} has {len(states)} states, so give one block per "
                    f"non-reference state ({', '.join(states[1:])})")
    for parent in node.parents:
        if parent not in causes and parent not in fixed_named:
            chk.err(f"cpt.causes: parent {parent!r} has no entry (every parent of a noisy node is a cause or "
                    f"named in a fixed row)")
    return out


def _apply_fixed(table, fixed):
    mask, probs = fixed
    return np.where(mask[..., None], probs, table)


def _noisy_or(chk, spec, node, tables):
    if len(node.states) != 2:
        chk.err(f"cpt: a noisy_or node has exactly two states (off, on); this one has {len(node.states)}")
        return None
    leak = _scalar(chk, spec, node, "cpt.leak", node.cpt.get("leak"))
    fixed, named = _fixed_rows(chk, spec, node)
    causes = _causes(chk, spec, node, named)
    if causes is None or fixed is None:
        return None
    ok = leak is not None
    if leak is not None and leak >= 1.0:
        chk.err("cpt.leak: a leak of 1 makes every cause meaningless")
        ok = False
    inhibit: dict[tuple[str, str], float] = {}
    for parent, state, block in causes:
        where = f"cpt.causes.{parent}" + (f".{state}" if len(spec.nodes[parent].states) > 2 else "")
        p = _scalar(chk, spec, node, where, block)
        if p is None or not ok:
            ok = False
            continue
        if p < leak - 1e-12:
            chk.err(f"{where}: p = {p} is below the leak ({leak}); a noisy-OR cannot lower a probability. "
                    f"Drop parent {parent!r} or use a table")
            ok = False
            continue
        inhibit[(parent, state)] = (1.0 - p) / (1.0 - leak)  # 1 - link strength
    if not ok:
        return None
    table = np.empty(_shape(spec, node))
    for c in _parent_configs(spec, node):
        q = 1.0 - leak
        for parent, state in zip(node.parents, c):
            q *= inhibit.get((parent, state), 1.0)
        index = tuple(spec.nodes[p].states.index(s) for p, s in zip(node.parents, c))
        table[index] = (q, 1.0 - q)
    return _apply_fixed(table, fixed)


def _noisy_max(chk, spec, node, tables):
    leak = _dist_block(chk, spec, node, "cpt.leak", node.cpt.get("leak"))
    fixed, named = _fixed_rows(chk, spec, node)
    causes = _causes(chk, spec, node, named)
    if causes is None or fixed is None:
        return None
    ok = leak is not None
    leak_cdf = np.cumsum(leak) if ok else None
    links: dict[tuple[str, str], np.ndarray] = {}
    for parent, state, block in causes:
        where = f"cpt.causes.{parent}" + (f".{state}" if len(spec.nodes[parent].states) > 2 else "")
        dist = _dist_block(chk, spec, node, where, block)
        if dist is None or leak_cdf is None:
            ok = False
            continue
        cdf = np.cumsum(dist)
        link = np.ones_like(cdf)
        for y in range(len(cdf) - 1):
            if leak_cdf[y] > 0:
                link[y] = cdf[y] / leak_cdf[y]
            elif cdf[y] > 1e-12:
                chk.err(f"{where}: P(at most {node.states[y]!r}) = {cdf[y]:.6g} but the leak makes that level impossible")
                ok = False
        bad = [node.states[y] for y in range(len(cdf) - 1) if link[y] > 1 + 1e-12]
        if bad:
            chk.err(f"{where}: this cause makes level(s) up to {bad[0]!r} MORE likely than the leak does "
                    f"(P(<= {bad[0]}) {cdf[node.states.index(bad[0])]:.6g} > leak {leak_cdf[node.states.index(bad[0])]:.6g}); "
                    f"a noisy-MAX cause can only shift towards the severe levels. Drop parent {parent!r} or use a table")
            ok = False
            continue
        if np.any(np.diff(link) < -1e-12):
            chk.err(f"{where}: the link distribution F_cause/F_leak is not monotone, so this cause is not a noisy-MAX cause")
            ok = False
            continue
        links[(parent, state)] = np.minimum(link, 1.0)
    if not ok:
        return None
    table = np.empty(_shape(spec, node))
    for c in _parent_configs(spec, node):
        cdf = leak_cdf.copy()
        for parent, state in zip(node.parents, c):
            if (parent, state) in links:
                cdf = cdf * links[(parent, state)]
        cdf[-1] = 1.0
        probs = np.clip(np.diff(np.concatenate([[0.0], cdf])), 0.0, None)
        index = tuple(spec.nodes[p].states.index(s) for p, s in zip(node.parents, c))
        table[index] = probs / probs.sum()
    return _apply_fixed(table, fixed)
