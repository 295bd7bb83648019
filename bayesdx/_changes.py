"""Networks derived from another: with changed numbers (:meth:`bayesdx.Network.with_parameters`,
:meth:`~bayesdx.Network.with_prior`), and with other targets, healthy states, engine or orders
(:func:`derived`); and the provenance table of the numbers a change names
(:meth:`~bayesdx.Network.parameters`).

A change edits a copy of the file's own mappings (each :class:`~bayesdx._sources.Param` keeps the
mapping that holds it) and recompiles the copy with the file's compiler, so a changed network is
exactly the network of an edited file. Within a distribution (a row, a marginal, a noisy-MAX
block) the states not changed are scaled together so the row still sums to 1 (each keeps its share
of the rest). A changed number's ``range`` is widened to hold it, so the file stays valid.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import replace

from .exceptions import InvalidParameterError, _elide, _suggest

__all__ = ["resolve_parameter", "changed_network", "prior_changes", "derived", "parameter_frame"]

CPT_KINDS = ("table", "noisy_or", "noisy_max", "odds")


def derived(network, **fields):
    """The same network with some constructor arguments replaced (``targets``, ``tests``,
    ``engine``, ``orders``, ``decisions``, ``reference_states``); its tables and engine cache are
    shared, since they do not depend on those."""
    kept = {"targets": network.targets, "tests": network.tests, "spec": network.spec,
            "source": network.source, "engine": network.engine_name,
            "orders": network._given_orders, "decisions": network._given_decisions,
            "reference_states": network.reference_states}
    # the network's own class (this module is imported by bayesdx.network, not the other way)
    return type(network)(network.arrays, name=network.name, **{**kept, **fields}, _cache=network._cache)


def parameter_frame(network):
    """:meth:`Network.parameters`: one row per number of the file with its provenance."""
    import pandas as pd

    columns = ["node", "cpt_type", "where", "state", "value", "ref", "locator", "grade",
               "range_low", "range_high"]
    if network.spec is None:
        return pd.DataFrame(columns=columns)
    records = [{**p.__dict__, "ref": ", ".join(p.ref)} for p in network.spec.params]
    return pd.DataFrame.from_records(records, columns=columns)


def _label(p) -> str:
    return f"{p.node} {p.where}" + (f" [{p.state}]" if p.state is not None else "")


def resolve_parameter(network, key) -> int:
    """The row of :meth:`Network.parameters` that ``key`` names: the row index itself, or
    ``(node, where, state)`` (``state`` None, or left out, for a single number)."""
    spec = network.spec
    if spec is None:
        raise InvalidParameterError(
            f"Network '{network.name}' was not read from a bayesdx YAML file, so its numbers carry no "
            f"provenance and cannot be named; change its tables and build a new network instead.")
    params = spec.params
    if isinstance(key, bool):
        raise InvalidParameterError(f"A parameter is named by its row in network.parameters() or by "
                                    f"(node, where, state); got {key!r}.")
    if isinstance(key, int) or (hasattr(key, "__index__") and not isinstance(key, (str, tuple))):
        i = int(key)
        if not 0 <= i < len(params):
            raise InvalidParameterError(f"Parameter row {i} does not exist: network '{network.name}' "
                                        f"has rows 0 to {len(params) - 1} in network.parameters().")
        return i
    if isinstance(key, tuple) and len(key) in (2, 3) and all(isinstance(k, str) or k is None for k in key):
        node, where = key[0], key[1]
        state = key[2] if len(key) == 3 else None
        for i, p in enumerate(params):
            if p.node == node and p.where == where and p.state == state:
                return i
        same = [p for p in params if p.node == node]
        if not same:
            raise InvalidParameterError(f"No parameter of node {_elide(node)}.{_suggest(str(node), {p.node for p in params})}")
        wheres = sorted({p.where for p in same})
        if where in wheres:
            states = [p.state for p in same if p.where == where]
            raise InvalidParameterError(f"{node} {where} has no number for state {_elide(state)}; its "
                                        f"states: {', '.join(map(str, states))}.")
        raise InvalidParameterError(f"Node {node!r} has no parameter at {_elide(where)}.{_suggest(str(where), wheres)} "
                                    f"Its parameters: {'; '.join(wheres[:12])}{' ...' if len(wheres) > 12 else ''}.")
    raise InvalidParameterError(f"A parameter is named by its row in network.parameters() or by "
                                f"(node, where, state); got {_elide(key)}.")


def _number(p, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise InvalidParameterError(f"The new value of {_label(p)} must be a finite number; got {_elide(value)}.")
    value = float(value)
    if p.value_key == "value":
        if value <= 0:
            raise InvalidParameterError(f"{_label(p)} is an odds ratio: it must be > 0; got {value!r}.")
    elif not 0.0 <= value <= 1.0:
        raise InvalidParameterError(f"{_label(p)} is a probability: it must lie in [0, 1]; got {value!r}.")
    return value


def _widen(block, state, value):
    """Widen the block's range (of ``state``) to hold ``value``."""
    raw = block.get("range")
    if state is None:
        if isinstance(raw, list) and len(raw) == 2:
            block["range"] = [min(float(raw[0]), value), max(float(raw[1]), value)]
    elif isinstance(raw, dict) and state in raw:
        low, high = raw[state]
        raw[state] = [min(float(low), value), max(float(high), value)]


def changed_network(network, changes: Mapping):
    """The network of the same file with ``changes`` ({parameter: new value}) made."""
    from ._compile import check_cpts, spec_arrays
    from ._sources import _Checker

    if not hasattr(changes, "items"):
        raise InvalidParameterError(f"changes must be a mapping {{parameter: new value}}; got "
                                    f"{type(changes).__name__}.")
    spec = network.spec
    params = spec.params if spec is not None else []
    resolved: dict[int, float] = {}
    for key, value in changes.items():
        i = resolve_parameter(network, key)
        p = params[i]
        if p.cpt_type not in CPT_KINDS:
            raise InvalidParameterError(f"{_label(p)} is a number of an {p.cpt_type}, not of a table; "
                                        f"only table numbers can be changed.")
        resolved[i] = _number(p, value)
    memo: dict = {}
    nodes = copy.deepcopy(spec.nodes, memo)
    groups: dict[int, dict[int, float]] = {}
    for i, v in resolved.items():
        groups.setdefault(id(params[i].block), {})[i] = v
    for changed in groups.values():
        p0 = params[next(iter(changed))]
        block = memo[id(p0.block)]
        if p0.state is None:
            (i, v), = changed.items()
            block[p0.value_key] = v
            _widen(block, None, v)
            continue
        probs = block[p0.value_key]
        states = {params[i].state: v for i, v in changed.items()}
        rest_old = sum(float(probs[s]) for s in probs if s not in states)
        rest_new = 1.0 - sum(states.values())
        names = ", ".join(_label(params[i]) for i in changed)
        if rest_new < -1e-12:
            raise InvalidParameterError(f"The new values of {names} sum to {1 - rest_new!r}, more than 1.")
        if rest_old <= 0 and rest_new > 1e-12:
            raise InvalidParameterError(f"The new values of {names} sum to {1 - rest_new!r}, but the row's other "
                                        f"states have probability 0, so nothing can take up the rest; "
                                        f"give every state of the row.")
        scale = max(rest_new, 0.0) / rest_old if rest_old > 0 else 0.0
        for s in probs:
            new = states[s] if s in states else float(probs[s]) * scale
            probs[s] = new
            _widen(block, s, new)
    new_spec = replace(spec, nodes=nodes, params=[], tables={})
    chk = _Checker(spec.path)
    check_cpts(chk, new_spec)
    if chk.problems:
        shown = "; ".join(f"{node}: {message}" for _, node, message in chk.problems[:5])
        raise InvalidParameterError(f"The changed numbers make an invalid network: {shown}")
    new_spec.params.extend(p for p in params if p.cpt_type not in CPT_KINDS)
    return type(network)(spec_arrays(new_spec), name=network.name, targets=network.targets,
                         tests=network.tests, spec=new_spec, source=network.source,
                         engine=network.engine_name, orders=network._given_orders,
                         decisions=network._given_decisions, reference_states=network.reference_states)


def prior_changes(network, node: str, value) -> dict[int, float]:
    """The changes that set the prior of a root node (a one-row table or an odds marginal):
    ``value`` is the probability of the non-reference state of a two-state node, or a mapping
    {state: probability} (states left out share the rest in proportion)."""
    network.check_node(node)
    spec = network.spec
    if spec is None:
        resolve_parameter(network, 0)  # raises the foreign-network error
    rows = [i for i, p in enumerate(spec.params) if p.node == node and p.state is not None
            and (p.where == "cpt.marginal" or (p.cpt_type == "table" and not network.parents(node)))]
    if not rows:
        raise InvalidParameterError(
            f"Node {node!r} has no prior to set: a prior is the table of a node without parents or "
            f"the marginal of an odds node. Use with_parameters for its other numbers.")
    by_state = {spec.params[i].state: i for i in rows}
    states = network.states(node)
    if hasattr(value, "items"):
        out = {}
        for s, v in value.items():
            network.check_state(node, s)
            out[by_state[s]] = v
        return out
    if len(states) != 2:
        raise InvalidParameterError(f"Node {node!r} has {len(states)} states; give its prior as a "
                                    f"mapping {{state: probability}}.")
    reference = network.reference_state(node)
    other = states[1] if reference == states[0] else states[0]
    return {by_state[other]: value}


def apply_changes(base, params, changes: Mapping[int, float]):
    """``base`` (values of every parameter row) with ``changes`` ({row: value}) made, each row of a
    distribution rescaled as :func:`changed_network` does; None when a row cannot be rescaled
    (its other states have probability 0, or the changed ones sum past 1)."""
    import numpy as np

    out = np.array(base, dtype=float)
    groups: dict[int, dict[int, float]] = {}
    for i, v in changes.items():
        groups.setdefault(id(params[i].block), {})[i] = float(v)
    members: dict[int, list[int]] = {}
    for changed in groups.values():
        p0 = params[next(iter(changed))]
        if p0.state is None:
            for i, v in changed.items():
                out[i] = v
            continue
        key = id(p0.block)
        if key not in members:
            members[key] = [j for j, p in enumerate(params) if id(p.block) == key]
        rest = [j for j in members[key] if j not in changed]
        rest_old = float(out[rest].sum()) if rest else 0.0
        rest_new = 1.0 - sum(changed.values())
        if rest_new < -1e-12 or (rest_old <= 0 and rest_new > 1e-12):
            return None
        scale = max(rest_new, 0.0) / rest_old if rest_old > 0 else 0.0
        out[rest] = out[rest] * scale
        for i, v in changed.items():
            out[i] = v
    return out
