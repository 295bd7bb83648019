"""The :class:`Network`: a discrete Bayesian network with diagnostic roles.

A network wraps a pgmpy ``DiscreteBayesianNetwork`` (exposed as :attr:`Network.model`) together
with what a diagnosis needs: which nodes are targets, which are tests, and, for networks written in
the bayesdx YAML format, each node's kind, cost and the provenance of every number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from .exceptions import (
    InvalidEvidenceError,
    StateSpaceTooLargeError,
    TargetsRequiredError,
    UnknownNodeError,
    UnknownStateError,
    _suggest,
)
from ._changes import changed_network, derived, parameter_frame, prior_changes
from ._pgmpy import arrays_from_pgmpy, pgmpy_model_from_arrays, write_arrays
from . import inference as _inference
from .inference import ModelArrays

__all__ = ["arrays_from_pgmpy", "pgmpy_model_from_arrays"]  # the pgmpy seam, kept importable here


class _ReadOnlyDict(dict):
    """A dict that refuses edits: a network's tables, states and parents, shared by its engine and
    its exports (``net.arrays.cpts[node] = other`` would make them disagree)."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("a network's tables are read-only; build a new network instead (e.g. "
                        "bayesdx.load_network on an edited file, or dataclasses.replace on "
                        "net.arrays with new tables)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __reduce__(self):
        return (type(self), (dict(self),))


ROLE_ORDER = ("context", "target", "latent", "finding")
#: State names read as a node's healthy / off state (see :meth:`Network.reference_state`).
OFF_STATES = ("absent", "normal", "no", "none", "negative", "false", "off", "healthy")


class Network:
    """A discrete Bayesian network prepared for diagnosis.

    Build one with :func:`bayesdx.load_network`. A network is immutable: :meth:`with_targets`
    and :meth:`with_engine` return new networks that share the tables.

    Parameters
    ----------
    arrays : ModelArrays
        The tables; their arrays are made read-only (``setflags(write=False)``).
    name : str
        Short name, e.g. ``"fasciculation"`` or the file stem.
    targets : sequence of str
        The nodes a diagnosis is about.
    tests : sequence of str, optional
        The candidate tests ranked by value of information. Default: the ``finding`` nodes of a
        bayesdx YAML network, every non-target node otherwise.
    spec : bayesdx.spec.Spec, optional
        The parsed YAML file, for node metadata and parameter provenance.
    source : str, optional
        Where the network came from (a path or ``"bundled:NAME"``).
    engine : str, optional
        Name of the inference engine (see :data:`bayesdx.engines.ENGINES`).
    orders : sequence of bayesdx.orders.Order, optional
        The test orders to rank, instead of those the file declares (see :attr:`orders`).
    decisions : bayesdx.decision.DecisionModel, optional
        The actions and utilities, instead of those the file declares (see :attr:`decisions`).
    reference_states : mapping of str to str, optional
        The healthy (reference) state of nodes whose states do not say it by name, e.g.
        ``{"Fault": "Normal"}`` (see :meth:`reference_state`).

    Examples
    --------
    >>> import bayesdx
    >>> net = bayesdx.load_network("fasciculation")
    >>> net.targets[:2]
    ('als', 'peripheral_artery_disease')
    >>> net.states("thyroid_disease")
    ('absent', 'subclinical_hypo', 'overt_hypo', 'subclinical_hyper', 'overt_hyper')
    """

    def __init__(
        self,
        arrays: ModelArrays,
        *,
        name: str,
        targets: Sequence[str],
        tests: Sequence[str] | None = None,
        spec=None,
        source: str | None = None,
        engine: str | None = None,
        orders=None,
        decisions=None,
        reference_states: Mapping[str, str] | None = None,
        _cache: dict | None = None,
    ):
        from .engines import ENGINES

        for table in arrays.cpts.values():  # the tables the engine uses: read-only from here on
            if isinstance(table, np.ndarray) and table.flags.writeable:
                table.setflags(write=False)
        if not isinstance(arrays.cpts, _ReadOnlyDict):  # nor can a table be swapped for another
            arrays = ModelArrays(nodes=tuple(arrays.nodes), states=_ReadOnlyDict(arrays.states),
                                 parents=_ReadOnlyDict(arrays.parents), cpts=_ReadOnlyDict(arrays.cpts))
        self._arrays = arrays
        self._name = str(name)
        self._spec = spec
        self._source = source
        self._cache = _cache if _cache is not None else {}
        if isinstance(targets, str):
            targets = [targets]
        if targets is None or len(targets) == 0:
            raise TargetsRequiredError(
                f"Network '{name}' needs at least one target node (the diagnoses to compute). "
                f"Pass targets=[...]; nodes: {', '.join(arrays.nodes[:15])}"
                + (", ..." if len(arrays.nodes) > 15 else "")
            )
        self._references = self._check_references(reference_states)
        self._targets = self._check_nodes(targets, "targets")
        if tests is None:
            if spec is not None:
                tests = [n for n in arrays.nodes if spec.nodes[n].role == "finding" and n not in self._targets]
            else:
                tests = [n for n in arrays.nodes if n not in self._targets]
        elif isinstance(tests, str):
            tests = [tests]
        self._tests = self._check_nodes(tests, "tests")
        self._check_size(name)
        overlap = set(self._targets) & set(self._tests)
        if overlap:
            raise InvalidEvidenceError(
                f"Nodes cannot be both targets and tests: {', '.join(sorted(overlap))}."
            )
        if engine is not None and engine not in ENGINES:
            raise ValueError(
                f"Unknown engine {engine!r}.{_suggest(engine, ENGINES)} Valid engines: {', '.join(ENGINES)}."
            )
        self._engine_name = engine  # None: chosen on first use (engines.default_engine)
        self._given_orders = None if orders is None else tuple(orders)
        self._given_decisions = decisions
        self._orders = None
        if decisions is not None:
            from .decision import DecisionModel

            if not isinstance(decisions, DecisionModel):
                raise TypeError(f"decisions must be a bayesdx DecisionModel; got "
                                f"{type(decisions).__name__}.")
            decisions.indicator(self)  # every action names a target and its states
        if self._given_orders is not None:
            _ = self.orders  # check them now, at the boundary

    def _check_references(self, given) -> dict[str, str]:
        if given is None:
            return {}
        if not hasattr(given, "items"):
            raise InvalidEvidenceError(f"reference_states must be a mapping {{node: healthy state}}, "
                                       f"e.g. {{'Fault': 'Normal'}}; got {type(given).__name__}.")
        return {self.check_node(n): self.states(n)[self.check_state(n, s)] for n, s in given.items()}

    def _check_size(self, name: str) -> None:
        """Refuse targets whose joint (with one other node at a time) exceeds the budget."""
        joint = math.prod(self._arrays.card(t) for t in self._targets)
        others = sum(self._arrays.card(n) for n in self._arrays.nodes if n not in self._targets)
        cells = joint * (1 + others)
        if cells > _inference.MAX_QUERY_CELLS:
            shown = ", ".join(self._targets[:8]) + (", ..." if len(self._targets) > 8 else "")
            raise StateSpaceTooLargeError(
                f"A diagnosis on network '{name}' with {len(self._targets)} targets ({shown}; "
                f"{joint:,} joint states, times 1 + {others:,} states of the other nodes)", cells,
                _inference.MAX_QUERY_CELLS, "Choose fewer targets (the diagnoses to compute), or "
                "raise bayesdx.inference.MAX_QUERY_CELLS.")

    def _check_nodes(self, nodes: Iterable[str], what: str) -> tuple[str, ...]:
        out: list[str] = []
        for node in nodes:
            self.check_node(node)
            if node in out:
                raise InvalidEvidenceError(f"Node '{node}' is listed twice in {what}.")
            out.append(node)
        return tuple(out)

    # -- identity ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Short name of the network."""
        return self._name

    @property
    def title(self) -> str:
        """Human title (the file's ``title``, else the name)."""
        return self._spec.title if self._spec is not None else self._name

    @property
    def source(self) -> str | None:
        """Where the network was loaded from."""
        return self._source

    @property
    def spec(self):
        """The parsed YAML file (:class:`bayesdx.spec.Spec`), or None for foreign formats."""
        return self._spec

    @property
    def arrays(self) -> ModelArrays:
        """The tables as :class:`~bayesdx.inference.ModelArrays` (read-only arrays: these are the
        tables every engine and every export uses)."""
        return self._arrays

    @property
    def model(self):
        """The pgmpy ``DiscreteBayesianNetwork`` (built on first use and cached).

        A view for pgmpy's tools: editing it changes neither :func:`bayesdx.diagnose` nor the
        exports (:meth:`to_bif` writes :attr:`arrays`). Build a new network from an edited
        model with ``bayesdx.load_network(model, targets=...)``."""
        if "model" not in self._cache:
            self._cache["model"] = pgmpy_model_from_arrays(self._arrays)
        return self._cache["model"]

    @property
    def nodes(self) -> tuple[str, ...]:
        """All node names, in topological order."""
        return self._arrays.nodes

    @property
    def targets(self) -> tuple[str, ...]:
        """The target (diagnosis) nodes."""
        return self._targets

    @property
    def tests(self) -> tuple[str, ...]:
        """The candidate test nodes."""
        return self._tests

    @property
    def orders(self):
        """The test orders this network ranks (tuple of :class:`~bayesdx.orders.Order`).

        The orders given to the constructor, else those the file declares whose readouts are all
        tests of this network; then every test no order reads, as an order of its own (so a
        foreign network ranks each test as its own order).
        """
        if self._orders is None:
            from .orders import network_orders

            if self._given_orders is None and self._spec is not None:
                tests = set(self._tests)
                declared = [o for o in self._spec.orders.values() if set(o.readouts) <= tests]
                self._orders = network_orders(self, declared)
            else:
                self._orders = network_orders(self, self._given_orders or [])
        return self._orders

    @property
    def decisions(self):
        """The decision model (:class:`~bayesdx.decision.DecisionModel`), or None.

        The model given to the constructor, else the file's ``decisions:`` block restricted to the
        actions about this network's targets (None when no action is left).
        """
        if self._given_decisions is not None:
            return self._given_decisions
        model = self._spec.decisions if self._spec is not None else None
        if model is None:
            return None
        kept = tuple(a for a in model.actions if a.target in self._targets)
        if len(kept) == len(model.actions):
            return model
        if not kept:
            return None
        from dataclasses import replace

        return replace(model, actions=kept)

    def with_orders(self, orders=None, decisions=None) -> Network:
        """The same network ranking other orders and/or deciding with another decision model
        (None keeps the current ones)."""
        return derived(self, orders=self._given_orders if orders is None else orders,
                       decisions=self._given_decisions if decisions is None else decisions)

    @property
    def engine_name(self) -> str:
        """Name of the inference engine answering this network's queries (when none was named:
        ``"jtree"``, or ``"compiled"`` for a network whose clique tables would take gigabytes;
        see :func:`bayesdx.engines.default_engine`)."""
        if self._engine_name is None:
            from .engines import default_engine

            self._engine_name = default_engine(self._arrays)
        return self._engine_name

    @property
    def engine(self):
        """The compiled inference engine (built on first use, cached per network tables)."""
        key = ("engine", self.engine_name)
        if key not in self._cache:
            from .engines import get_engine

            self._cache[key] = get_engine(self.engine_name, self._arrays)
        return self._cache[key]

    def states(self, node: str) -> tuple[str, ...]:
        """State labels of ``node``."""
        self.check_node(node)
        return self._arrays.states[node]

    def parents(self, node: str) -> tuple[str, ...]:
        """Parents of ``node``."""
        self.check_node(node)
        return self._arrays.parents[node]

    def role(self, node: str) -> str:
        """``target``, ``context``, ``finding``, ``latent`` (YAML networks) or, for foreign
        networks, ``target``, ``test`` or ``other``."""
        self.check_node(node)
        if node in self._targets:
            return "target"
        if self._spec is not None:
            role = self._spec.nodes[node].role
            return "finding" if role == "target" else role
        return "test" if node in self._tests else "other"

    def reference_state(self, node: str) -> str:
        """The "healthy" or "off" state of ``node``: the one given in ``reference_states``, else
        the first state named like ``absent``, ``normal``, ``no``, ``none``, ``negative``,
        ``false``, ``off`` or ``healthy`` (any case), else the first state.

        Bundled networks list ``absent`` first; foreign files may not (Hepar II lists
        ``present`` before ``absent``), which is why the rule looks by name. When no state is
        named so (Pathfinder's ``Fault`` lists 63 diseases), the first state is only a display
        default: :meth:`has_reference_state` is False and
        :meth:`Diagnosis.probability_not_reference <bayesdx.Diagnosis.probability_not_reference>`
        leaves the node out. Name it with ``load_network(..., reference_states={node: state})``.

        Examples
        --------
        >>> import bayesdx
        >>> bayesdx.load_network("fasciculation").reference_state("thyroid_disease")
        'absent'
        """
        states = self.states(node)
        if node in self._references:
            return self._references[node]
        for state in states:
            if state.lower() in OFF_STATES:
                return state
        return states[0]

    def has_reference_state(self, node: str) -> bool:
        """Whether ``node``'s healthy state is known: given in ``reference_states`` or named like
        one (see :meth:`reference_state`), rather than the first state by default.

        Examples
        --------
        >>> import bayesdx
        >>> bayesdx.load_network("fasciculation").has_reference_state("als")
        True
        """
        states = self.states(node)
        return node in self._references or any(s.lower() in OFF_STATES for s in states)

    @property
    def reference_states(self) -> dict[str, str]:
        """The healthy states given to the constructor (``reference_states``), by node."""
        return dict(self._references)

    def label(self, node: str) -> str:
        """Human label of ``node`` (its name for foreign networks)."""
        self.check_node(node)
        return self._spec.nodes[node].label if self._spec is not None else node

    def cost(self, node: str) -> float:
        """Approximate cost of observing ``node`` in USD (NaN when the file gives none)."""
        self.check_node(node)
        return self._costs()[node]

    def _costs(self) -> dict[str, float]:
        if "costs" not in self._cache:
            nan = float("nan")
            self._cache["costs"] = {
                n: float(self._spec.nodes[n].cost_usd)
                if self._spec is not None and self._spec.nodes[n].cost_usd is not None else nan
                for n in self.nodes
            }
        return self._cache["costs"]

    # -- validation ----------------------------------------------------------------------
    def check_node(self, node: object) -> str:
        """Return ``node`` if the network has it, else raise :class:`UnknownNodeError`."""
        if not isinstance(node, str):
            raise InvalidEvidenceError(
                f"Node names are strings; got {node!r} of type {type(node).__name__}."
            )
        if node not in self._arrays.states:
            raise UnknownNodeError(node, self._arrays.nodes, network=self._name)
        return node

    def check_state(self, node: str, state: object) -> int:
        """Index of ``state`` in ``node``'s states, else raise :class:`UnknownStateError`."""
        states = self.states(node)
        if isinstance(state, np.str_):
            state = str(state)
        if not isinstance(state, str):
            raise InvalidEvidenceError(
                f"The state of '{node}' must be one of its labels ({', '.join(states)}); "
                f"got {state!r} of type {type(state).__name__}."
            )
        try:
            return states.index(state)
        except ValueError:
            raise UnknownStateError(node, state, states) from None

    def encode_evidence(self, evidence: Mapping[str, str] | None) -> dict[str, int]:
        """Check evidence ``{node: state}`` and return it as state indices."""
        if evidence is None:
            return {}
        if not hasattr(evidence, "items"):
            raise InvalidEvidenceError(
                f"evidence must be a mapping {{node: state}}, e.g. {{'ck': 'gt_1000'}}; "
                f"got {type(evidence).__name__}."
            )
        index = self._state_index()
        try:  # the common case, a known node and one of its labels: one look-up each
            return {n: index[n][s] for n, s in evidence.items()}
        except (KeyError, TypeError):  # name the culprit (or take a state given as np.str_)
            return {self.check_node(n): self.check_state(n, s) for n, s in evidence.items()}

    def _state_index(self) -> dict[str, dict[str, int]]:
        """``{node: {state label: index}}`` (kept with the tables)."""
        got = self._cache.get("state index")
        if got is None:
            got = self._cache["state index"] = {
                n: {s: k for k, s in enumerate(states)} for n, states in self._arrays.states.items()}
        return got

    # -- derived networks ----------------------------------------------------------------
    def with_targets(self, targets: Sequence[str], tests: Sequence[str] | None = None) -> Network:
        """The same network with other targets (and tests).

        Orders and a decision model given to the constructor are not carried over (they may read
        other tests or targets); the file's are derived again for the new targets and tests.
        """
        return derived(self, targets=targets, tests=tests, orders=None, decisions=None)

    def with_reference_states(self, reference_states: Mapping[str, str]) -> Network:
        """The same network with these healthy states named (added to those already given)."""
        return derived(self, reference_states={**self._references, **dict(reference_states)})

    def with_engine(self, engine: str) -> Network:
        """The same network answered by another inference engine (e.g. ``"pgmpy"``)."""
        return derived(self, engine=engine)

    def with_parameters(self, changes: Mapping) -> Network:
        """A new network whose file has other numbers; this one is untouched.

        Parameters
        ----------
        changes : mapping
            ``{parameter: new value}``; a parameter is named by its row in :meth:`parameters` or
            by ``(node, where, state)`` (``state`` None for a single number). In a distribution,
            the states not changed are scaled together so the row still sums to 1.

        Raises
        ------
        InvalidParameterError
            An unknown parameter, a probability outside [0, 1], an odds ratio <= 0, a row summing
            past 1, or numbers the file's checks reject (e.g. a noisy-OR cause below its leak).

        Examples
        --------
        >>> import bayesdx
        >>> net = bayesdx.load_network("fasciculation")
        >>> high = net.with_parameters({("als", "cpt.marginal", "present"): 0.10})
        >>> round(float(bayesdx.diagnose(high).marginal("als")["present"]), 3)
        0.1
        """
        return changed_network(self, changes)

    def with_prior(self, node: str, value) -> Network:
        """A new network with another prior for ``node`` (a node without parents, or an ``odds``
        node's marginal): the probability of its non-reference state (two states), or a mapping
        ``{state: probability}``.

        Examples
        --------
        >>> import bayesdx
        >>> net = bayesdx.load_network("fasciculation").with_prior("als", 0.005)
        >>> round(float(bayesdx.diagnose(net).marginal("als")["present"]), 4)
        0.005
        """
        return changed_network(self, prior_changes(self, node, value))

    # -- tables ----------------------------------------------------------------------------
    def node_table(self):
        """One row per node: role, label, kind, states, parents, cost and invasiveness.

        Returns
        -------
        pandas.DataFrame
            Indexed by node name, in role order (context, targets, findings).
        """
        import pandas as pd

        rows = []
        for node in self.nodes:
            s = self._spec.nodes[node] if self._spec is not None else None
            rows.append({
                "node": node,
                "role": self.role(node),
                "label": self.label(node),
                "kind": (s.kind if s is not None else None),
                "states": ", ".join(self._arrays.states[node]),
                "parents": ", ".join(self._arrays.parents[node]),
                "cost_usd": self.cost(node),
                "invasive": (s.invasive if s is not None else None),
                "is_test": node in self._tests,
            })
        frame = pd.DataFrame(rows).set_index("node")
        order = {r: i for i, r in enumerate((*ROLE_ORDER, "test", "other"))}
        return frame.iloc[sorted(range(len(frame)), key=lambda i: (order.get(frame["role"].iloc[i], 9), i))]

    def parameters(self):
        """Provenance of every number in the network file.

        Returns
        -------
        pandas.DataFrame
            One row per probability or odds multiplier: node, cpt_type, where, state, value,
            ref, locator, grade, range_low, range_high. Empty for foreign formats, which carry
            no provenance.
        """
        return parameter_frame(self)

    # -- export --------------------------------------------------------------------------
    def to_bif(self, path) -> None:
        """Write the network as BIF (via pgmpy), with full float precision."""
        write_arrays(self.arrays, path, format="bif")  # the engine's tables, not an edited model

    def to_xmlbif(self, path) -> None:
        """Write the network as XMLBIF (via pgmpy)."""
        write_arrays(self.arrays, path, format="xmlbif")  # the engine's tables, not an edited model

    # -- display ---------------------------------------------------------------------------
    def __repr__(self) -> str:
        return (f"<Network {self._name!r}: {len(self.nodes)} nodes, {len(self._targets)} targets, "
                f"{len(self._tests)} tests, engine={self.engine_name!r}>")

    def _repr_html_(self) -> str:
        import html

        frame = self.node_table()
        head = (f"<p><b>{html.escape(self.title)}</b> ({html.escape(self._name)}): "
                f"{len(self.nodes)} nodes, {len(self._targets)} targets, {len(self._tests)} tests</p>")
        return head + frame.to_html(na_rep="", max_rows=60)
