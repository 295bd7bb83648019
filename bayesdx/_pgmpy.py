"""The pgmpy seam: importing pgmpy quietly (some pgmpy releases emit FutureWarnings about their
own modules at import time, which bayesdx users can do nothing about), converting between a
pgmpy ``DiscreteBayesianNetwork`` and :class:`~bayesdx.inference.ModelArrays`, writing tables
as BIF or XMLBIF through pgmpy's writers, and :class:`PgmpyEngine` (``engine="pgmpy"``,
pgmpy's variable elimination as a reference oracle; registered in :mod:`bayesdx.engines`)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .inference import Engine, JointQuery, ModelArrays, ZeroProbabilityEvidence, marginals_case_by_case

__all__ = ["load_pgmpy", "arrays_from_pgmpy", "pgmpy_model_from_arrays", "write_arrays", "PgmpyEngine"]


def load_pgmpy() -> None:
    """Import the pgmpy modules bayesdx uses, silencing pgmpy's import-time FutureWarnings."""
    with warnings.catch_warnings():
        # FutureWarning/DeprecationWarning about pgmpy's own modules, and tqdm's "IProgress not
        # found" in notebooks without ipywidgets (bayesdx never shows pgmpy progress bars).
        warnings.simplefilter("ignore")
        import pgmpy.factors.discrete  # noqa: F401
        import pgmpy.inference  # noqa: F401
        import pgmpy.models  # noqa: F401
        import pgmpy.readwrite  # noqa: F401


def arrays_from_pgmpy(model) -> ModelArrays:
    """Convert a pgmpy ``DiscreteBayesianNetwork`` into :class:`ModelArrays`.

    State order follows each CPD's ``state_names``; parent order follows the CPD's evidence
    order. Nodes are listed in a topological order (ties broken by name, so the order is stable).
    """
    import networkx as nx  # only a pgmpy model needs it: import bayesdx stays light

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
                if sorted(child_view) != sorted(own):
                    err = ValueError(f"the table of '{node}' gives parent '{var}' the states "
                                     f"{list(child_view)[:8]}, but '{var}' has {list(own)[:8]}")
                    err.node = node  # type: ignore[attr-defined]
                    raise err
                order = [child_view.index(s) for s in own]
                axis = parents[node].index(var)
                cpts[node] = np.ascontiguousarray(np.take(cpts[node], order, axis=axis))
            states[var] = own
    return ModelArrays(nodes=nodes, states=states, parents=parents, cpts=cpts)


def pgmpy_model_from_arrays(arrays: ModelArrays):
    """Build a pgmpy ``DiscreteBayesianNetwork`` from :class:`ModelArrays`."""
    load_pgmpy()
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


def write_arrays(arrays: ModelArrays, path, *, format: str | None = None) -> None:
    """Write ``arrays`` as BIF or XMLBIF (``format``, else the file's suffix) through pgmpy's
    writers, with exact float repr (:func:`bayesdx.io.write_network` for a network)."""
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt == "bif":
        legacy = "write_bif"
    elif fmt in ("xmlbif", "xml"):
        legacy = "write_xmlbif"
    else:
        raise ValueError(f"Unknown export format {fmt!r}; write 'bif' or 'xmlbif'.")
    load_pgmpy()
    from pgmpy.readwrite import BIFWriter, XMLBIFWriter

    model = pgmpy_model_from_arrays(arrays)
    writer = BIFWriter(model) if fmt == "bif" else XMLBIFWriter(model)
    # pgmpy >= 1.1 names the method ``write``; 1.0 only has the legacy name.
    (writer.write if hasattr(type(writer), "write") else getattr(writer, legacy))(str(path))


class PgmpyEngine(Engine):
    """pgmpy's ``VariableElimination``, one elimination per query (the reference oracle).

    Slow by design: ``joint_query`` runs one elimination for the targets and one per node.
    """

    name = "pgmpy"

    def __init__(self, arrays: ModelArrays, model=None):
        super().__init__(arrays)
        load_pgmpy()
        from pgmpy.inference import VariableElimination

        self.model = model if model is not None else pgmpy_model_from_arrays(arrays)
        self._ve = VariableElimination(self.model)

    def _labels(self, evidence):
        return {n: self.arrays.states[n][s] for n, s in evidence.items()}

    def _joint(self, variables, evidence) -> np.ndarray:
        factor = self._ve.query(
            list(variables), evidence=evidence, joint=True, show_progress=False
        )
        # reorder axes and states to ModelArrays order
        values = np.transpose(factor.values, [factor.variables.index(v) for v in variables])
        for axis, var in enumerate(variables):
            order = [factor.state_names[var].index(s) for s in self.arrays.states[var]]
            values = np.take(values, order, axis=axis)
        return values

    def prob_evidence(self, evidence: Mapping[str, int]) -> float:
        """P(evidence) by the chain rule, one elimination per observed node."""
        prob, seen = 1.0, {}
        for node, state in evidence.items():
            marginal = self._joint([node], self._labels(seen))
            prob *= float(marginal[state])
            if not prob > 0:
                return 0.0
            seen[node] = state
        return prob

    def joint_query(self, evidence, targets, nodes):
        p_e = self.prob_evidence(evidence)
        if not p_e > 0:
            raise ZeroProbabilityEvidence("P(evidence) = 0")
        labels = self._labels(evidence)
        free = [t for t in targets if t not in evidence]
        shape = tuple(self.arrays.card(t) for t in targets)
        index = tuple(evidence[t] if t in evidence else slice(None) for t in targets)

        def place(sub, extra=()):
            """Embed a joint over the free targets (+ extra axes) at the observed targets' states."""
            out = np.zeros((*shape, *extra))
            out[index] = sub
            return out

        target_joint = place(self._joint(free, labels) if free else np.array(1.0))
        node_joints = {}
        for n in nodes:
            card = self.arrays.card(n)
            if n in evidence:
                joint = np.zeros((*shape, card))
                joint[..., evidence[n]] = target_joint
            else:
                joint = place(self._joint([*free, n], labels), (card,))
            node_joints[n] = joint
        return JointQuery(p_e, tuple(targets), target_joint, node_joints)

    def marginals_batch(self, evidence_nodes, evidence, nodes):
        def case(ev):
            if not self.prob_evidence(ev) > 0:
                return None
            labels = self._labels(ev)
            return {n: np.eye(self.arrays.card(n))[ev[n]] if n in ev else self._joint([n], labels)
                    for n in nodes}

        return marginals_case_by_case(self, evidence_nodes, evidence, nodes, case)
