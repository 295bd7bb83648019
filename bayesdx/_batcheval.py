"""One diagnosis answered for many parameter settings at once: the shared core of
:func:`bayesdx.uncertainty` and :mod:`bayesdx.sensitivity`.

A setting is a row of values for every row of :meth:`bayesdx.Network.parameters`. For a batch of
settings, :class:`SettingsEvaluator` compiles the tables (:class:`~bayesdx._batchcompile.BatchCompiler`),
computes P(targets | evidence) and every order's P(targets, outcome | evidence) by batched
contractions (:func:`~bayesdx._batchinfer.contract`), and values the orders of every setting at
once with the same function :func:`bayesdx.diagnose` uses (:func:`bayesdx.ranking.value_orders`,
with the settings as a leading batch axis of the outcome tables).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .exceptions import ImpossibleEvidenceError, InvalidParameterError

__all__ = ["SettingsEvaluator", "CHUNK"]

#: Settings per batch: bounds memory (tables and outcome tables of one chunk) and fixes the
#: order in which draws are taken, so a seed gives the same draws on every machine.
CHUNK = 100

#: Settings whose orders are valued in one vectorised pass: enough to spread Python's cost, few
#: enough that the outcome tables of the pass stay in the processor's cache.
VALUE_SLICE = 8


def compiler(network):
    """The network's :class:`BatchCompiler`, built once and cached."""
    from ._batchcompile import BatchCompiler

    if "batch_compiler" not in network._cache:
        network._cache["batch_compiler"] = BatchCompiler(network)
    return network._cache["batch_compiler"]


class SettingsEvaluator:
    """The point diagnosis of ``network`` with ``evidence``, and its batched twin.

    Attributes
    ----------
    point : Diagnosis
        The diagnosis with the stated numbers.
    orders : tuple of Order
        The ranked orders (those with an unobserved readout), as in ``point``.
    """

    def __init__(self, network, evidence: Mapping[str, str] | None, objective=None, orders=None):
        from .results import diagnose

        if network.spec is None:
            raise InvalidParameterError(
                f"Network '{network.name}' was not read from a bayesdx YAML file: its numbers carry "
                f"no ranges, so there is nothing to vary.")
        self.network = network
        self.labels = dict(evidence or {})
        self.point = diagnose(network, evidence=self.labels, objective=objective, orders=orders)
        self.encoded = network.encode_evidence(self.labels)
        self.tables0 = self.point._order_tables
        self.values0 = self.point._order_values
        self.orders = self.tables0.orders
        self.objective = self.point.objective
        self.decisions = self.point.decisions
        self.compiler = compiler(network)
        self.base = network.parameters()["value"].to_numpy(dtype=float)
        self.leaf_plans = [self._leaf_plan(free) for free in self.tables0.readouts]
        self._report_columns()

    def _report_columns(self):
        """Each order's reports (zero-probability ones kept: they add nothing to any value) and,
        for an order with a reflex readout, the 0/1 matrix merging its readouts' state
        combinations into reports (:func:`bayesdx.orders.outcome_columns`)."""
        from .orders import outcome_columns

        merges, outcomes = [], []
        for order, free in zip(self.orders, self.tables0.readouts):
            column, outs = outcome_columns(self.network, order, self.encoded)
            if any(r in order.reflex for r in free):
                merge = np.zeros((column.size, len(outs)))
                merge[np.arange(column.size), column] = 1.0
            else:
                merge = None
            merges.append(merge)
            outcomes.append(outs)
        self.merges, self.outcomes = merges, tuple(outcomes)
        cards = np.array([len(o) for o in outcomes], dtype=np.int64)
        self.cards = cards
        self.starts = np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.int64) if len(cards) \
            else cards

    def _leaf_plan(self, free):
        """(hidden, folded) when every readout of ``free`` is a leaf, as in
        :func:`bayesdx._leafjoints._leaf_group_joint`: P(targets, free | e) is then
        sum over hidden of P(targets, hidden | e) x the readouts' tables (deterministic summaries
        of targets and observed nodes folded in). None otherwise."""
        from ._leafjoints import _group_parents

        net = self.network
        return _group_parents(net, free, set(net.targets) | set(self.encoded))

    # -- settings ------------------------------------------------------------------------------
    def draw(self, n: int, rng: np.random.Generator, blocks) -> tuple[np.ndarray, dict]:
        """``n`` settings drawn from the parameter distributions ``blocks``, each node's numbers
        redrawn until the file's checks accept them; (values, tables)."""
        from .priors import draw_parameters

        values = draw_parameters(self.network, n, rng, blocks=blocks)
        from ._batchinfer import ancestors

        node_of = [p.node for p in self.network.spec.params]
        per_node: dict[str, list] = {}
        for b in blocks:
            per_node.setdefault(node_of[b.rows[0]], []).append(b)
        comp = self.compiler
        tables: dict[str, np.ndarray] = {}
        for name in comp.order:
            table, ok = comp.node_table(name, values, tables)
            for _ in range(1000):
                if ok.all():
                    break
                bad = np.flatnonzero(~ok)
                fresh = draw_parameters(self.network, len(bad), rng, blocks=per_node.get(name, []))
                cols = [c for b in per_node.get(name, []) for c in b.rows]
                if not cols:
                    break
                values[np.ix_(bad, cols)] = fresh[:, cols]
                above = ancestors(comp.spec_parents(), comp.spec.nodes[name].parents)
                sub, sub_ok = comp.node_table(name, values[bad], {k: v[bad] for k, v in tables.items()
                                                                  if k in above})
                table[bad], ok[bad] = sub, sub_ok
            if not ok.all():
                raise InvalidParameterError(
                    f"The numbers of node {name!r} drawn from their ranges are almost never a valid "
                    f"table (noisy-OR causes below the leak, or a calibration without room): check "
                    f"its ranges.")
            tables[name] = table
        return values, tables

    def tables(self, values: np.ndarray) -> tuple[dict, np.ndarray]:
        """The tables of given settings and which settings the file's checks accept."""
        tables, valid = self.compiler.tables(values)
        ok = np.ones(values.shape[0], dtype=bool)
        for v in valid.values():
            ok &= v
        return tables, ok

    # -- answers -------------------------------------------------------------------------------
    def answer(self, tables: dict, d: int) -> dict[str, np.ndarray]:
        """Per setting: ``target_probs`` (d, n_t), ``value`` (d, n_orders), ``top`` (d,) the index of
        the best order, ``acts`` (d, n_actions) the actions taken now (decision model only) and
        ``possible`` (d,) whether P(evidence) > 0."""
        from .ranking import OrderTables, value_orders

        net, ev = self.network, self.encoded
        parents = self.compiler.spec_parents()
        targets = net.targets
        cards_t = tuple(net.arrays.card(t) for t in targets)
        n_t = int(np.prod(cards_t))
        # P(targets, hidden, e) for each leaf group's hidden parents; P(targets, e) is the smallest
        # of them summed over its hidden axes (one contraction fewer), else contracted on its own
        cores = {}
        for plan in self.leaf_plans:
            if plan is not None and plan[0] and plan[0] not in cores:
                cores[plan[0]] = (_contract(parents, tables, ev, (*targets, *plan[0]), d),
                                  (*targets, *plan[0]))
        if cores:
            hidden, (core, _) = min(cores.items(), key=lambda item: item[1][0].size)
            joint = core.sum(axis=tuple(range(1 + len(targets), 1 + len(targets) + len(hidden))))
            joint = joint.reshape(d, n_t)
        else:
            joint = _contract(parents, tables, ev, targets, d).reshape(d, n_t)
        pe = joint.sum(axis=1)
        possible = pe > 0
        if not possible.any():
            raise ImpossibleEvidenceError(self.labels, "(under every setting evaluated)")
        scale = np.where(possible, pe, 1.0)
        target_probs = joint / scale[:, None]
        from ._batchinfer import contract_factors, family_factor

        blocks = []
        cores[()] = (joint.reshape((d, *cards_t)), tuple(targets))
        for order, free, plan, merge in zip(self.orders, self.tables0.readouts, self.leaf_plans,
                                            self.merges):
            if plan is None:
                group = _contract(parents, tables, ev, (*targets, *free), d)
            else:
                hidden, folded = plan
                # several readouts: each one's deterministic summaries summed into its own table
                # first (exact for point-mass rows), so the contraction multiplies small tables
                if len(free) > 1 and all(np.all((tables[f] == 0) | (tables[f] == 1)) for f in folded):
                    group = contract_factors([cores[hidden]] + [
                        _folded_readout(parents, tables, ev, r, folded, d) for r in free],
                        (*targets, *free), d)
                else:
                    factors = [cores[hidden]] + [family_factor(parents, tables, ev, n)
                                                 for n in (*free, *folded)]
                    group = contract_factors(factors, (*targets, *free), d)
            flat = group.reshape(d, n_t, -1) / scale[:, None, None]
            # a reflex order's combinations of readout states merged into its reports
            blocks.append(flat if merge is None else flat @ merge)
        n_o = len(self.orders)
        stacked = np.concatenate(blocks, axis=-1) if blocks else np.zeros((d, n_t, 0))
        # the draws' orders valued a slice of draws at a time (the slice's tables stay in the
        # cache), by the function diagnose uses with the draws as a leading batch axis
        value = np.empty((d, n_o))
        top = np.full(d, -1)
        acts = None if self.decisions is None else np.zeros((d, len(self.decisions.actions)), bool)
        for lo in range(0, d, VALUE_SLICE):
            hi = min(d, lo + VALUE_SLICE)
            tables_d = OrderTables(self.orders, self.tables0.readouts, self.outcomes, cards_t,
                                   target_probs[lo:hi], stacked[lo:hi], self.starts, self.cards)
            vals = value_orders(tables_d, self.objective, net, self.decisions,
                                self.point._indicator)
            value[lo:hi] = vals.value
            if n_o:
                top[lo:hi] = vals.rank[:, 0]
            if acts is not None:
                acts[lo:hi] = vals.decisions.acts_now
        value[~possible] = np.nan
        top[~possible] = -1
        if acts is not None:
            acts[~possible] = False
        return {"target_probs": target_probs, "value": value, "top": top, "acts": acts,
                "possible": possible}

    def evaluate(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """:meth:`answer` for given settings (chunked); ``valid`` (D,) is False (and the answers
        NaN) where the file's checks reject a setting."""
        out: dict[str, list] = {}
        for start in range(0, values.shape[0], CHUNK):
            chunk = values[start:start + CHUNK]
            tables, ok = self.tables(chunk)
            res = self.answer(tables, chunk.shape[0])
            res["valid"] = ok & res["possible"]
            for k, v in res.items():
                out.setdefault(k, []).append(v)
        res = {k: (np.concatenate(v) if v[0] is not None else None) for k, v in out.items()}
        bad = ~res["valid"]
        res["target_probs"][bad] = np.nan
        res["value"][bad] = np.nan
        res["top"][bad] = -1
        return res


def _contract(parents, tables, evidence, keep, d):
    from ._batchinfer import contract

    return contract(parents, tables, evidence, list(keep), d)


def _folded_readout(parents, tables, evidence, r, folded, d):
    """(P(r | its parents among the targets and hidden nodes, e) per draw, its axes with ``r``
    last): the readout's table sliced at the evidence, its deterministic parents summed out."""
    from ._batchinfer import contract_factors, family_factor

    own = family_factor(parents, tables, evidence, r)
    sums = [family_factor(parents, tables, evidence, f) for f in folded if f in own[1]]
    if not sums:
        return own
    keep = [v for v in own[1] if v not in folded and v != r]
    keep += [v for _, axes in sums for v in axes if v not in folded and v not in keep]
    keep = (*keep, r)
    return contract_factors([own, *sums], keep, d), keep
