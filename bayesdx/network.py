"""The :class:`Network`: a discrete Bayesian network with diagnostic roles.

A network wraps a pgmpy ``DiscreteBayesianNetwork`` (exposed as :attr:`Network.model`) together
with what a diagnosis needs: which nodes are targets, which are tests, and, for networks written in
the bayesdx YAML format, each node's kind, cost and the provenance of every number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import networkx as nx
import numpy as np

from .inference import ModelArrays

__all__ = ["arrays_from_pgmpy", "pgmpy_model_from_arrays"]


def arrays_from_pgmpy(model) -> ModelArrays:
    """Convert a pgmpy ``DiscreteBayesianNetwork`` into :class:`ModelArrays`.

    State order follows each CPD's ``state_names``; parent order follows the CPD's evidence
    order. Nodes are listed in a topological order (ties broken by name, so the order is stable).
    """
    graph = nx.DiGraph(model.edges())
    graph.add_nodes_from(model.nodes())
    nodes = tuple(nx.lexicographical_topological_sort(graph))
    states: dict[str, tuple[str, ...]] = {}
    parents: dict[str, tuple[str, ...]] = {}
    cpts: dict[str, np.ndarray] = {}
    for node in nodes:
        cpd = model.get_cpds(node)
        if cpd is None:
            raise ValueError(f"Node '{node}' has no CPD.")
        variables = list(cpd.variables)  # [node, *evidence]
        evidence = tuple(variables[1:])
        values = np.asarray(cpd.get_values(), dtype=float)  # (card, prod(evidence cards))
        cards = [len(cpd.state_names[v]) for v in variables]
        table = values.reshape(cards)  # node first, then evidence in order
        table = np.moveaxis(table, 0, -1)  # evidence..., node
        states[node] = tuple(str(s) for s in cpd.state_names[node])
        for var in evidence:
            states.setdefault(var, tuple(str(s) for s in cpd.state_names[var]))
        parents[node] = evidence
        cpts[node] = np.ascontiguousarray(table)
    # parents' state order as seen from the parent's own CPD must agree with the child's view
    for node in nodes:
        cpd = model.get_cpds(node)
        for var in parents[node]:
            child_view = tuple(str(s) for s in cpd.state_names[var])
            own = tuple(str(s) for s in model.get_cpds(var).state_names[var])
            if child_view != own:
                order = [child_view.index(s) for s in own]
                axis = parents[node].index(var)
                cpts[node] = np.ascontiguousarray(np.take(cpts[node], order, axis=axis))
            states[var] = own
    return ModelArrays(nodes=nodes, states=states, parents=parents, cpts=cpts)


def pgmpy_model_from_arrays(arrays: ModelArrays):
    """Build a pgmpy ``DiscreteBayesianNetwork`` from :class:`ModelArrays`."""
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    model = DiscreteBayesianNetwork()
    model.add_nodes_from(arrays.nodes)
    model.add_edges_from((p, n) for n in arrays.nodes for p in arrays.parents[n])
    for node in arrays.nodes:
        pars = list(arrays.parents[node])
        table = np.moveaxis(arrays.cpts[node], -1, 0)
        values = table.reshape(arrays.card(node), -1)
        model.add_cpds(
            TabularCPD(
                node,
                arrays.card(node),
                values,
                evidence=pars or None,
                evidence_card=[arrays.card(p) for p in pars] or None,
                state_names={v: list(arrays.states[v]) for v in [node, *pars]},
            )
        )
    return model
