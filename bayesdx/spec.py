"""The strict reader of bayesdx YAML network files (``format: bayesdx/2``, and ``bayesdx/1``).

The format is documented in ``networks/README.md``. :func:`read_spec` parses a file, checks
everything it can, and either returns a :class:`Spec` or raises one
:class:`~bayesdx.exceptions.NetworkSpecError` that lists every problem with its file and node.
Compilation (noisy-OR, noisy-MAX and calibrated odds into full tables) lives in
:mod:`bayesdx._compile` (calibrated odds in :mod:`bayesdx._odds`); the ``orders:`` and ``decisions:`` blocks of ``bayesdx/2`` are checked by
:mod:`bayesdx.orders` and :mod:`bayesdx.decision`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ._compile import check_cpts
from ._sources import GRADES, KINDS, Param, _Checker, _describe
from .decision import check_decisions
from .exceptions import NetworkSpecError, _elide, _suggest
from .orders import check_orders

__all__ = ["read_spec", "parse_spec", "Spec", "NodeSpec", "Param", "FORMAT", "ROLES", "KINDS", "GRADES"]

FORMAT = "bayesdx/2"
#: The largest YAML network file read, in bytes (the bundled network is about 0.25 MB).
MAX_YAML_BYTES = 16 * 2**20
#: The most YAML nodes a document may have once its aliases are expanded (a bound on alias
#: bombs: nine nested aliases of nine items each expand to 387 million values).
MAX_YAML_NODES = 2_000_000
#: Every format version the loader reads; ``orders`` and ``decisions`` need ``bayesdx/2``.
FORMATS = ("bayesdx/1", "bayesdx/2")
ROLES = ("target", "context", "finding", "latent")
CPT_TYPES = ("table", "noisy_or", "noisy_max", "odds")

_TOP_KEYS = {
    "format": True, "name": True, "title": True, "population": True, "references": True,
    "nodes": True, "version": False, "description": False, "disclaimer": False, "cost_basis": False,
    "orders": False, "decisions": False,
}
_NODE_KEYS = {"role", "label", "states", "kind", "cost_usd", "invasive", "description", "notes",
              "parents", "cpt"}
_SOURCE_KEYS = {"ref", "locator", "grade", "range"}
_CPT_KEYS = {  # allowed keys of each CPT type ('fixed' rows need bayesdx/2)
    "table": {"type", "rows"},
    "noisy_or": {"type", "leak", "causes", "fixed"},
    "noisy_max": {"type", "leak", "causes", "fixed"},
    "odds": {"type", "marginal", "multipliers", "fixed"},
}
_CPT_REQUIRED = {  # required keys; an odds node may have only fixed rows (bayesdx/2)
    "table": {"type", "rows"},
    "noisy_or": {"type", "leak", "causes"},
    "noisy_max": {"type", "leak", "causes"},
    "odds": {"type", "marginal"},
}


@dataclass
class NodeSpec:
    """A node as written in the file (before compilation)."""

    name: str
    role: str
    label: str
    states: tuple[str, ...]
    parents: tuple[str, ...]
    cpt: dict[str, Any]
    kind: str | None = None
    cost_usd: float | None = None
    invasive: bool | None = None
    description: str = ""
    notes: str = ""


@dataclass
class Spec:
    """A parsed and checked network file."""

    path: str
    name: str
    title: str
    population: str
    references: dict[str, str]
    nodes: dict[str, NodeSpec]
    version: str = ""
    description: str = ""
    disclaimer: str = ""
    cost_basis: str = ""
    format: str = FORMAT
    params: list[Param] = field(default_factory=list)
    orders: dict[str, Any] = field(default_factory=dict)  # name -> bayesdx.orders.Order
    decisions: Any = None  # bayesdx.decision.DecisionModel, or None
    tables: dict[str, Any] = field(default_factory=dict, repr=False)  # compiled CPTs


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {_elide(key)} (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _safe_load(text: str, path: str):
    """``yaml.load`` with the strict loader, refusing a document whose aliases expand past
    :data:`MAX_YAML_NODES` (or refer to themselves) before anything is constructed."""
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _check_expansion(root, path)
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, path: str) -> None:
    """Count the nodes of the document with every alias expanded, without expanding it
    (iterative, memoised by node), and raise past :data:`MAX_YAML_NODES`."""
    size: dict[int, int] = {}
    pending: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]

    def children(node):
        if isinstance(node, yaml.MappingNode):
            return [x for pair in node.value for x in pair]
        return node.value if isinstance(node, yaml.SequenceNode) else []

    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            pending.discard(key)
            size[key] = min(1 + sum(size[id(c)] for c in children(node)), MAX_YAML_NODES + 1)
            if size[key] > MAX_YAML_NODES:
                line = node.start_mark.line + 1
                raise NetworkSpecError([(path, None, f"line {line}: the YAML expands (through its "
                                                     f"aliases) to over {MAX_YAML_NODES:,} values "
                                                     f"(bayesdx.spec.MAX_YAML_NODES): refused")])
            continue
        if key in size:
            continue
        pending.add(key)
        stack.append((node, True))
        for child in children(node):
            if id(child) in pending:
                raise NetworkSpecError([(path, None, f"line {child.start_mark.line + 1}: an alias "
                                                     f"refers to the value that contains it")])
            if id(child) not in size:
                stack.append((child, False))


def read_spec(path: str | Path) -> Spec:
    """Read and check a bayesdx YAML network file.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.yaml`` file.

    Returns
    -------
    Spec

    Raises
    ------
    NetworkSpecError
        Listing every problem found, each with the file and the node.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise NetworkSpecError([(str(path), None, f"the file has {size:,} bytes, over the limit "
                                                      f"of {MAX_YAML_BYTES:,} (bayesdx.spec.MAX_YAML_BYTES)")])
        data = path.read_bytes()
    except OSError as exc:
        raise NetworkSpecError([(str(path), None, f"cannot read the file: {exc.strerror or exc}")]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise NetworkSpecError([(str(path), None, f"not UTF-8 text: byte 0x{data[exc.start]:02x} at "
                                                  f"line {line} cannot be decoded; save the file as UTF-8")]) from None
    return parse_spec(text, str(path))


def parse_spec(text: str, path: str = "<string>") -> Spec:
    """Parse and check the text of a network file; see :func:`read_spec`."""
    if len(text) > MAX_YAML_BYTES:
        raise NetworkSpecError([(path, None, f"the text has {len(text):,} characters, over the limit "
                                             f"of {MAX_YAML_BYTES:,} (bayesdx.spec.MAX_YAML_BYTES)")])
    try:
        data = _safe_load(text, path)
    except RecursionError:
        raise NetworkSpecError([(path, None, "the YAML is nested too deeply to read")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise NetworkSpecError([(path, None, f"{where}invalid YAML: {problem}")]) from None
    chk = _Checker(path)
    if not isinstance(data, dict):
        raise NetworkSpecError([(path, None, "the file must be a YAML mapping with 'format', 'nodes', ...")])
    chk.keys("top level", data, set(_TOP_KEYS), {k for k, req in _TOP_KEYS.items() if req})
    fmt = data.get("format")
    if "format" in data and fmt not in FORMATS:
        chk.err(f"format: expected one of {', '.join(map(repr, FORMATS))}, got {_describe(fmt)}")
    for key in ("orders", "decisions"):
        if key in data and fmt == "bayesdx/1":
            chk.err(f"{key}: a '{key}' block needs format: bayesdx/2 (this file says bayesdx/1)")
    name = data.get("name")
    if name is not None:
        chk.ident("name", name)
    references = {}
    refs = chk.mapping("references", data.get("references", {})) or {}
    for key, citation in refs.items():
        if chk.ident("references", key):
            references[key] = chk.text(f"references.{key}", citation)
    spec = Spec(
        path=path,
        name=str(name or Path(path).stem),
        title=chk.text("title", data.get("title")) if "title" in data else "",
        population=chk.text("population", data.get("population")) if "population" in data else "",
        references=references,
        nodes={},
        version=str(data.get("version", "")),
        description=chk.text("description", data.get("description"), required=False),
        disclaimer=chk.text("disclaimer", data.get("disclaimer"), required=False),
        cost_basis=chk.text("cost_basis", data.get("cost_basis"), required=False),
        format=fmt if fmt in FORMATS else FORMAT,
    )
    nodes = chk.mapping("nodes", data.get("nodes", {})) or {}
    if "nodes" in data and not nodes:
        chk.err("nodes: the network has no nodes")
    for node_name, raw in nodes.items():
        chk.node = None
        if not chk.ident("nodes", node_name):
            continue
        chk.node = node_name
        node = _check_node(chk, node_name, raw)
        if node is not None:
            spec.nodes[node_name] = node
    chk.node = None
    before = len(chk.problems)
    _check_graph(chk, spec)
    if len(chk.problems) == before:  # tables need a sound graph; node-level problems don't block
        check_cpts(chk, spec)
        if "orders" in data:
            check_orders(chk, spec, data["orders"])
        if "decisions" in data:
            check_decisions(chk, spec, data["decisions"])
    chk.node = None
    if chk.problems:
        raise NetworkSpecError(chk.problems)
    return spec


def _check_node(chk: _Checker, name: str, raw: Any) -> NodeSpec | None:
    raw = chk.mapping("node", raw)
    if raw is None:
        return None
    required = {"role", "label", "states", "cpt"}
    role = raw.get("role")
    if role == "finding":
        required |= {"kind", "cost_usd", "invasive"}
    chk.keys("node", raw, _NODE_KEYS, required)
    if role is not None and role not in ROLES:
        chk.err(f"role: {_describe(role)} is not one of {', '.join(ROLES)}")
    if role != "finding":
        for key in ("kind", "cost_usd", "invasive"):
            if key in raw:
                chk.err(f"{key}: only findings (role: finding) have a {key}")
    kind = raw.get("kind")
    if kind is not None and kind not in KINDS:
        chk.err(f"kind: {_describe(kind)} is not one of {', '.join(KINDS)}")
    cost = None
    if "cost_usd" in raw:
        cost = chk.number("cost_usd", raw["cost_usd"], 0.0)
    invasive = raw.get("invasive")
    if "invasive" in raw and not isinstance(invasive, bool):
        chk.err(f"invasive: expected true or false, got {_describe(invasive)}")
    states = chk.names("states", raw.get("states"), "state", minimum=2) if "states" in raw else []
    parents = chk.names("parents", raw.get("parents", []), "parent", minimum=0)
    cpt = raw.get("cpt")
    if "cpt" in raw and chk.mapping("cpt", cpt) is not None:
        ctype = cpt.get("type")
        if ctype not in CPT_TYPES:
            chk.err(f"cpt.type: {_describe(ctype)} is not one of {', '.join(CPT_TYPES)}")
        else:
            chk.keys(f"cpt ({ctype})", cpt, _CPT_KEYS[ctype], _CPT_REQUIRED[ctype])
    else:
        cpt = None
    return NodeSpec(
        name=name,
        role=role if role in ROLES else "latent",
        label=chk.text("label", raw.get("label")) if "label" in raw else name,
        states=tuple(states),
        parents=tuple(parents),
        cpt=cpt or {},
        kind=kind if kind in KINDS else None,
        cost_usd=cost,
        invasive=invasive if isinstance(invasive, bool) else None,
        description=chk.text("description", raw.get("description"), required=False),
        notes=chk.text("notes", raw.get("notes"), required=False),
    )


def _check_graph(chk: _Checker, spec: Spec) -> None:
    for node in spec.nodes.values():
        chk.node = node.name
        for parent in node.parents:
            if parent == node.name:
                chk.err("parents: a node cannot be its own parent")
            elif parent not in spec.nodes:
                chk.err(f"parents: unknown parent {parent!r}.{_suggest(parent, spec.nodes)}")
    chk.node = None
    # cycle detection (Kahn); report the nodes on cycles
    indeg = {n: sum(p in spec.nodes for p in s.parents) for n, s in spec.nodes.items()}
    children: dict[str, list[str]] = {n: [] for n in spec.nodes}
    for n, s in spec.nodes.items():
        for p in s.parents:
            if p in children:
                children[p].append(n)
    ready = [n for n, d in indeg.items() if d == 0]
    done = 0
    while ready:
        n = ready.pop()
        done += 1
        for c in children[n]:
            indeg[c] -= 1
            if indeg[c] == 0:
                ready.append(c)
    if done < len(spec.nodes):
        on_cycle = sorted(n for n, d in indeg.items() if d > 0)
        chk.err(f"the parent links form a cycle through: {', '.join(on_cycle)}")
