"""Exact inference by a compiled junction tree, vectorised over a batch axis.

Compilation (once per network, :class:`JunctionTreeEngine`)
    The moral graph is triangulated greedily: min-fill (min-weight tie-break), min-weight and
    weighted min-fill are all tried and the one with the smallest total clique table size is kept
    (:mod:`bayesdx._triangulate`). The maximal cliques are joined by a maximum spanning tree on
    separator size; each CPT goes to the smallest clique containing its family; the root is the
    centre of the tree (edges weighted by clique log-size). Every table lays its variables out in
    one global order with the batch axis **last**, so a separator is a subsequence of both of its
    cliques' axes: a message enters a clique by indexing with ``None`` (a view) and leaves it by a
    ``sum`` over precomputed axes. A prior propagation (no evidence) runs at compile time and is
    kept: for every clique ``phi0`` (its CPTs times the prior messages from its children), and for
    every separator the prior upward message ``U0``, its reciprocal (0 where ``U0`` is 0) and the
    prior downward message ``D0``. For small networks (cliques totalling at most 1e6 entries) a
    second, *coarse* tree (adjacent cliques merged while the merged table has at most 1024
    entries) is compiled too; each query uses the tree a cost model (numpy calls x call overhead +
    batch x table entries) predicts to be faster.

Evidence
    Evidence shared by the whole batch is entered by *slicing*: every table holding an observed
    variable is indexed at its state (a view keeping a length-1 axis). Per-batch clamps (the target
    configurations of :meth:`JunctionTreeEngine.joint_query`, and cohort columns observed in every
    case) are entered by *gathering*: the table is indexed along the variable's axis with one state
    per batch element; the gathered constant tables are cached per target set, so a diagnosis
    session only slices its evidence. Partially observed cohort columns enter as 0/1 indicator
    vectors (all ones where unobserved). Slicing and gathering shrink every table holding the
    variable, so a 63-state target (pathfinder's ``Fault``) costs no more per batch element than a
    finding.

Propagation (no graph work at query time)
    The *evidence cliques* are, for every observed or clamped variable, the clique holding it that
    is closest to the root. Only messages whose sending side holds evidence are computed: a subtree
    without evidence sends its (sliced or gathered) prior message ``U0``, and everything above the
    lowest common ancestor ``top`` of the evidence and read-out cliques is summarised by the prior
    downward message ``D0[top]``. A requested node is read from the smallest clique holding it,
    or from the evidence cliques' common ancestor when that clique holds it and nothing else needs
    distributing. Collect runs over the evidence cliques' ancestors below ``top``; distribute runs
    Hugin-style (parent belief marginalised to the separator, divided by the unscaled upward
    message) along the paths from ``top`` to the read-out cliques only. Axes that are sliced or
    clamped (length 1) are never summed; messages over the same variables are multiplied together
    before entering their clique (smallest products first); a leaf whose only free variable is a
    partly observed one sends ``tensordot(table, indicators)``. The schedule of a pattern of
    evidence and read-out is built once and cached.

Numerical safety
    Every computed upward message is divided, per batch element, by its sum, and the log of the
    sum is accumulated; the downward division uses the unscaled message, so every belief sums to
    the (moderate) total of the top belief, which is renormalised if it falls below 1e-200.
    Tables therefore stay near 1 whatever the number of findings and log P(evidence) is exact
    (``JTreeJointQuery.log_prob_evidence``); ``prob_evidence`` = exp of it underflows to 0.0 only
    when P(evidence) < 1e-308, and the posteriors stay exact. Evidence is impossible only when a
    message or the top belief is exactly zero.

    Inside one clique the scaling cannot help: a product of CPT entries and messages can fall
    below the smallest float64 (a CPT entry of 5e-324 times 0.5 is 0). Every propagation (and
    the prior one at compile time) therefore runs with numpy's underflow, overflow and invalid
    checks raising: a query that trips one is answered again over a copy of the tree in
    extended precision (``numpy.longdouble``, exponents down to about 1e-4932 on x86-64), and
    only when that trips too (or the platform has no wider float) is
    :class:`~bayesdx.exceptions.NumericalRangeError` raised. Every answer is finally checked to
    be finite and normalised. The common path pays one ``errstate`` per propagation.

Large target spaces and cohorts
    :meth:`JunctionTreeEngine.joint_query` puts the joint configurations of the unobserved targets
    on the batch axis. They are processed in chunks of at most ``max_batch_floats / S``
    configurations, S = sum of clique sizes after slicing the evidence and clamping the targets
    (default budget 5e7 floats, ~400 MB of tables per chunk); each chunk keeps its absolute
    log-scale, so chunks combine exactly. :meth:`JunctionTreeEngine.marginals_batch` chunks cohorts
    the same way with a smaller, cache-friendly budget (``cohort_batch_floats``, 1e6).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import _jttree as jtt
from . import _triangulate as tri
from ._jtcohort import CohortMixin
from ._precision import WideningMixin, check_answer, strict
from .inference import Engine, JointQuery, ModelArrays, ZeroProbabilityEvidence, request_indices

__all__ = ["JTreeJointQuery", "JunctionTreeEngine"]

_ALL = slice(None)
@dataclass(frozen=True)
class JTreeJointQuery(JointQuery):
    """:class:`~bayesdx.inference.JointQuery` with its ``log_prob_evidence`` always given, plus
    the stacked joints and a vectorised :meth:`information_gains_bits`."""

    #: P(free targets, X | e) of every unobserved requested node side by side: shape
    #: (joint states of the unobserved targets, sum of the nodes' cardinalities).
    stacked: np.ndarray | None = field(default=None, repr=False)
    #: node -> (first column in ``stacked``, cardinality).
    columns: dict = field(default_factory=dict, repr=False)
    #: P(free targets | e), flat, matching the rows of ``stacked``.
    free_target_probs: np.ndarray | None = field(default=None, repr=False)

    def information_gains_bits(self) -> dict[str, float]:
        """I(targets ; X | evidence) in bits for every node X of ``node_joints`` (0 for observed
        nodes), in one pass over :attr:`stacked` by
        :func:`bayesdx.voi.mutual_information_stacked_bits`, the same function ``diagnose`` uses.
        """
        from .voi import mutual_information_stacked_bits

        out = {n: 0.0 for n in self.node_joints}
        if not self.columns:
            return out
        names = list(self.columns)
        gains = mutual_information_stacked_bits(
            self.free_target_probs, self.stacked,
            [self.columns[n][0] for n in names], [self.columns[n][1] for n in names])
        out.update(zip(names, gains.tolist()))
        return out


class JunctionTreeEngine(CohortMixin, WideningMixin, Engine):
    """Exact inference by a junction tree compiled once per network.

    Parameters
    ----------
    arrays : ModelArrays
        The network.
    heuristics : sequence of str, optional
        Triangulation heuristics to try (see :mod:`bayesdx._triangulate`); the one giving the
        smallest total clique table size is kept.
    coarse_limit : int, optional
        Largest table of the coarse tree (0 disables it). Default 1024. The coarse tree is only
        built for networks whose cliques total at most ``coarse_max_total`` entries (1e6): it saves
        call overhead on small tables and would only double the memory of large ones.

    Attributes
    ----------
    heuristic : str
        The triangulation heuristic kept.
    triangulation_sizes : dict of str to int
        Total clique table size reached by each heuristic tried.
    total_clique_size : int
        Sum of the clique table sizes of the (fine) junction tree.
    cliques : list of tuple of str
        The cliques of the fine junction tree, as node names.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesdx.inference import ModelArrays
    >>> arrays = ModelArrays(
    ...     nodes=("d", "t"), states={"d": ("no", "yes"), "t": ("neg", "pos")},
    ...     parents={"d": (), "t": ("d",)},
    ...     cpts={"d": np.array([0.99, 0.01]), "t": np.array([[0.95, 0.05], [0.1, 0.9]])})
    >>> engine = JunctionTreeEngine(arrays)
    >>> q = engine.joint_query({"t": 1}, ["d"], [])
    >>> round(float(q.target_joint[1]), 4)
    0.1538
    """

    name = "jtree"
    #: Upper bound on batch size x (sum of sliced clique sizes) per propagation in joint_query.
    max_batch_floats = 5e7
    #: The same bound for cohorts (smaller chunks stay in cache and run faster).
    cohort_batch_floats = 1e6
    #: Cost model used to pick the fine or the coarse tree: seconds per numpy call and per
    #: batch x table entry.
    _call_cost, _entry_cost = 1.5e-6, 6e-9
    _clamp_cache_floats, _clamp_cache_entries = 4e6, 8

    def __init__(self, arrays: ModelArrays, heuristics: Sequence[str] = tri.HEURISTICS,
                 coarse_limit: int = 1024, coarse_max_total: float = 1e6):
        super().__init__(arrays)
        nodes = arrays.nodes
        self._index = {n: i for i, n in enumerate(nodes)}
        self._cards = cards = [arrays.card(n) for n in nodes]
        families = [[*(self._index[p] for p in arrays.parents[n]), self._index[n]] for n in nodes]
        cpts = [np.asarray(arrays.cpts[n], dtype=float) for n in nodes]
        adj = tri.moral_graph([f[:-1] for f in families])
        cliques, self.heuristic, self.triangulation_sizes = tri.best_triangulation(adj, cards, heuristics)
        edges = tri.junction_tree_edges(cliques, cards)
        self._parts = (cliques, edges, cards, families, cpts)
        self._wide_trees: list | None = None
        try:
            with strict():
                self._fine = jtt.CompiledTree(cliques, edges, cards, families, cpts)
            #: False when the prior propagation itself leaves float64: every query is then wide.
            self._narrow = True
        except FloatingPointError:  # kept for its structure; queries use the wide copy
            with np.errstate(all="ignore"):
                self._fine = jtt.CompiledTree(cliques, edges, cards, families, cpts)
            self._narrow = False
        self._trees = [self._fine]
        if self._narrow and coarse_limit and len(cliques) > 1 and self._fine.total_size <= coarse_max_total:
            merged, medges = tri.merge_small_cliques(cliques, edges, cards, coarse_limit)
            if len(merged) < len(cliques):
                try:
                    with strict():
                        self._trees.append(jtt.CompiledTree(merged, medges, cards, families, cpts))
                except FloatingPointError:
                    pass
        self.total_clique_size = self._fine.total_size
        self.cliques = [tuple(nodes[v] for v in c) for c in self._fine.cliques]
        self._clamp_caches: dict = {}

    # ------------------------------------------------------------------ propagation
    def _pick(self, ev, clamp, indicators, read_vars, batch, trees=None):
        """The tree with the smallest predicted cost for this query, and its schedule.

        Cost = (numpy calls of a full propagation) x call overhead + batch x (table entries
        after slicing and clamping) x cost per entry; only the chosen tree's schedule is built.
        """
        trees = self._trees if trees is None else trees
        tree = trees[0]
        if len(trees) > 1:
            fixed = frozenset(clamp)  # the clamps shrink tables the most; evidence varies per query
            best = None
            for t in trees:
                size = t.sliced_size(fixed) if fixed else t.total_size
                cost = 8 * len(t.cliques) * self._call_cost + batch * size * self._entry_cost
                if best is None or cost < best:
                    best, tree = cost, t
        top = tree.top
        ev_cliques = frozenset([top[v] for v in ev] + [top[v] for v in clamp] + [top[v] for v in indicators])
        return tree, tree.schedule(ev_cliques, tuple(read_vars))

    def _propagate(self, tree, sched, ev, clamp, indicators, batch, cache=None):
        """:meth:`_propagate_tables` with float errors raising (``FloatingPointError``)."""
        with strict():
            return self._propagate_tables(tree, sched, ev, clamp, indicators, batch, cache)

    def _propagate_tables(self, tree, sched, ev, clamp, indicators, batch, cache=None):
        """One collect/distribute pass over ``tree``.

        Returns ``log_z`` (batch,) = ln P(evidence, clamps, indicators) per batch element, ``z``
        (batch or 1,) the total of every belief, the beliefs of the readout cliques (leading axis
        of length 1 or ``batch``; a belief divided by ``z`` is its clique's posterior) and the
        bitmask of the sliced or clamped variables (length-1 axes in every table).
        """
        top, collect, distribute = sched[:3]
        cliques, seps, phi0, inv_u0 = tree.cliques, tree.sep, tree.phi0, tree.inv_u0
        masks, sep_masks = tree.mask, tree.sep_mask
        ev_mask = tri.bits(ev)
        clamp_mask = tri.bits(clamp)
        fixed = ev_mask | clamp_mask
        if cache is not None and clamp_mask:
            # constant tables gathered at the clamps once per (tree, clamp pattern), then sliced
            def restrict(arr, variables, mask, ev, ev_mask, clamp, clamp_mask):
                if not mask & clamp_mask:
                    return jtt.restrict(arr, variables, mask, ev, ev_mask, None, 0)
                key = id(arr)
                got = cache.get(key)
                if got is None:
                    got = jtt.restrict(arr, variables, mask, None, 0, clamp, clamp_mask)
                    got = cache[key] = np.ascontiguousarray(got)
                return jtt.restrict(got, variables, mask, ev, ev_mask, None, 0)
        else:
            restrict = jtt.restrict
        ind_at: dict[int, list] = {}
        for v, ind in indicators.items():
            ind_at.setdefault(tree.top[v], []).append((v, ind))
        scales = []
        mu, raw, phi = {}, {}, {}
        beta_top = None
        unit = tree.unit
        big = batch >= 32
        for c, kids, keep in collect:
            f = restrict(phi0[c], cliques[c], masks[c], ev, ev_mask, clamp, clamp_mask)
            inds = ind_at.get(c, ())
            if big and not kids and not keep and c != top and len(inds) == 1 and f.shape[-1] == 1:
                v, ind = inds[0]
                if tree.up_mask[c] & ~fixed == 1 << v:
                    # a leaf holding one partly observed variable: one matrix product, with
                    # the indicators pre-divided by the message's total (u @ ind, u = the
                    # table summed to v), so the message comes out normalised
                    f0 = f[..., 0]
                    axis = tree.pos[c][v]
                    u = f0.sum(axis=tuple(a for a in range(f0.ndim) if a != axis))
                    s = u @ ind
                    scales.append(s)
                    if not s.all():
                        s = np.where(s > 0, s, 1.0)
                    m = np.tensordot(f0, ind / s, axes=([axis], [0]))
                    mu[c] = m[tree.leaf_index(c, v)]
                    continue
            fresh = False
            for v, ind in inds:
                shape = [1] * f.ndim
                shape[-1] = ind.shape[1]
                shape[tree.pos[c][v]] = ind.shape[0]
                f = f * ind.reshape(shape)
                fresh = True
            if kids:
                # messages with the same free variables are multiplied together first
                groups: dict = {}
                for n in kids:
                    m = mu[n]
                    if not unit[n]:
                        m = m * restrict(inv_u0[n], seps[n], sep_masks[n], ev, ev_mask, clamp, clamp_mask)
                    m = m[tree.ins_up[n]]
                    g = sep_masks[n] & ~fixed
                    prev = groups.get(g)
                    groups[g] = m if prev is None else prev * m
                if len(groups) > 1:
                    for g, h in self._product_plan(tree, tuple(groups), big):
                        prod = groups.pop(g) * groups.pop(h)
                        if g | h in groups:
                            prod *= groups.pop(g | h)
                        groups[g | h] = prod
                for m in groups.values():
                    if fresh and f.shape == np.broadcast_shapes(f.shape, m.shape):
                        f *= m
                    else:
                        f = f * m
                        fresh = True
            if c == top:
                if c != tree.root:
                    d = restrict(tree.d0[c], seps[c], sep_masks[c], ev, ev_mask, clamp, clamp_mask)
                    f = f * d[tree.ins_down[c]]
                beta_top = f
                break
            free = tree.up_mask[c] & ~fixed
            if free:
                m = f.sum(axis=tree.axes(c, free), keepdims=True)[tree.sq_up[c]]
            else:
                m = f[tree.sq_up[c]]
            s = m.reshape(-1, m.shape[-1]).sum(axis=0)
            scales.append(s)
            if keep:
                raw[c] = m
                phi[c] = f
            if not s.all():
                s = np.where(s > 0, s, 1.0)
            mu[c] = m / s
        z = beta_top.reshape(-1, beta_top.shape[-1]).sum(axis=0)
        with np.errstate(divide="ignore"):
            log_z = np.log(z)
            if scales:
                same = [s for s in scales if s.shape[0] == batch]
                other = [s for s in scales if s.shape[0] != batch]
                if same:
                    log_z = log_z + np.log(np.array(same)).sum(axis=0)
                if other:
                    log_z = log_z + np.log(np.array(other)).sum(axis=0)
        if log_z.shape[0] != batch:
            log_z = np.broadcast_to(log_z, (batch,))
        # every table is <= 1, so z <= the top's size: only a tiny (nonzero) z needs rescaling
        if z.min() < 1e-200 and ((z > 0) & (z < 1e-200)).any():
            inv = np.divide(1.0, z, out=np.zeros_like(z), where=z > 0)
            beta_top = beta_top * inv
            z = (z > 0).astype(float)
        beliefs = {top: beta_top}
        marg: dict = {}
        for c, p, is_active, drop in distribute:
            free = tree.down_mask[c] & ~fixed
            if free:
                key = (p, free)
                m = marg.get(key)
                if m is None:
                    m = marg[key] = beliefs[p].sum(axis=tree.axes(p, free), keepdims=True)
                m = m[tree.sq_down[c]]
            else:
                m = beliefs[p][tree.sq_down[c]]
            if is_active:
                up = raw.pop(c)
                if up.all():
                    m = m / up
                else:
                    m = m * np.divide(1.0, up, out=np.zeros_like(up), where=up > 0)
                f = phi.pop(c)
            else:
                if not unit[c]:
                    m = m * restrict(inv_u0[c], seps[c], sep_masks[c], ev, ev_mask, clamp, clamp_mask)
                f = restrict(phi0[c], cliques[c], masks[c], ev, ev_mask, clamp, clamp_mask)
            beliefs[c] = f * m[tree.ins_down[c]]
            if drop is not None:
                del beliefs[drop]
        return log_z, z, beliefs, fixed

    def _product_plan(self, tree, masks: tuple, thorough: bool):
        """Order in which to multiply messages over the variable sets ``masks`` (cached).

        Always merges a set into a superset first (no growth). With ``thorough`` (large
        batches), then greedily multiplies the pair whose union has the smallest table, so that
        few products have the size of the union of all of them.
        """
        key = (masks, thorough)
        plan = tree.plans.get(key)
        if plan is not None:
            return plan
        cards = tree.cards

        def size(mask):
            out, v = 1, 0
            while mask:
                if mask & 1:
                    out *= cards[v]
                mask >>= 1
                v += 1
            return out

        live = list(dict.fromkeys(masks))
        plan = []
        changed = True
        while changed:
            changed = False
            for g in sorted(live, key=int.bit_count):
                h = next((h for h in live if h != g and g & h == g), None)
                if h is not None:
                    plan.append((g, h))
                    live.remove(g)
                    live.remove(h)
                    live.append(g | h)  # = h
                    changed = True
                    break
        while thorough and len(live) > 2:
            pairs = [(size(g | h), i, j) for i, g in enumerate(live) for j, h in enumerate(live) if i < j]
            _, i, j = min(pairs)
            g, h = live[i], live[j]
            plan.append((g, h))
            live = [x for k, x in enumerate(live) if k not in (i, j) and x != g | h] + [g | h]
        plan = tuple(plan)
        if len(tree.plans) > 4096:
            tree.plans.clear()
        tree.plans[key] = plan
        return plan

    @staticmethod
    def _read(tree, beliefs, read, fixed):
        """Unnormalised marginal of one variable (``read`` from the schedule): (card, batch or 1)."""
        r, mask, idx = read
        b = beliefs[r]
        free = mask & ~fixed
        if free:
            return b.sum(axis=tree.axes(r, free), keepdims=True)[idx]
        return b[idx]

    # ------------------------------------------------------------------ queries
    def _encode(self, evidence: Mapping[str, int]) -> dict[int, int]:
        out = {}
        for node, state in evidence.items():
            v = self._index[node]
            s = int(state)
            if not 0 <= s < self._cards[v]:
                raise ValueError(f"State index {s} out of range for node '{node}'.")
            out[v] = s
        return out

    def log_prob_evidence(self, evidence: Mapping[str, int]) -> float:
        """ln P(evidence); -inf when the evidence is impossible."""
        ev = self._encode(evidence)
        tree, sched = self._pick(ev, {}, {}, (), 1)
        return self._exact(self._log_prob_evidence, ev)

    def _log_prob_evidence(self, ev, trees):
        tree, sched = self._pick(ev, {}, {}, (), 1, trees)
        log_z = self._propagate(tree, sched, ev, {}, {}, 1)[0]
        return float(log_z[0])

    def joint_query(self, evidence, targets, nodes):
        ev = self._encode(evidence)
        return self._exact(self._joint_query, ev, targets, nodes)

    def _joint_query(self, ev, targets, nodes, trees):
        targets = tuple(targets)
        index, cards = self._index, self._cards
        t_idx, n_idx = request_indices(index, targets, nodes)
        free = [v for v in t_idx if v not in ev]
        free_cards = [cards[v] for v in free]
        n_conf = math.prod(free_cards)
        read_vars = [v for v in n_idx if v not in ev]
        # every read-out marginal lands in one (n_conf, sum of cards) buffer
        offsets, width = {}, 0
        for v in read_vars:
            offsets[v] = width
            width += cards[v]
        if n_conf * self._fine.total_size <= self.max_batch_floats:
            chunk = n_conf
        else:
            fixed = frozenset(ev).union(free)
            chunk = max(1, int(self.max_batch_floats // max(self._fine.sliced_size(fixed), 1.0)))
        log_zs, zs, bufs = [], [], []
        for start in range(0, n_conf, chunk):
            stop = min(n_conf, start + chunk)
            batch = stop - start
            if free:
                clamp = dict(zip(free, np.unravel_index(np.arange(start, stop), free_cards)))
            else:
                clamp = {}
            tree, sched = self._pick(ev, clamp, {}, read_vars, batch, trees)
            cache = self._clamp_cache(tree, tuple(free), start, stop, batch) if free else None
            log_z, z, beliefs, fixed_mask = self._propagate(tree, sched, ev, clamp, {}, batch, cache)
            log_zs.append(log_z)
            zs.append(z)
            if read_vars:
                parts = [self._read(tree, beliefs, r, fixed_mask) for r in sched[4]]
                if any(p.shape[-1] != batch for p in parts):
                    parts = [np.broadcast_to(p, (p.shape[0], batch)) for p in parts]
                bufs.append(np.concatenate(parts) if len(parts) > 1 else parts[0])
        log_z = log_zs[0] if len(log_zs) == 1 else np.concatenate(log_zs)
        if log_z.dtype != float:
            log_z = log_z.astype(float)
        peak = log_z.max()
        if not np.isfinite(peak):
            raise ZeroProbabilityEvidence("P(evidence) = 0")
        w = np.exp(log_z - peak)
        total = w.sum()
        log_pe = float(peak + math.log(total))
        p_free = w / total  # P(free targets | e), flat over their joint states
        shape = tuple(cards[v] for v in t_idx)
        all_free = len(free) == len(t_idx)
        if all_free:
            target_joint = p_free.reshape(shape)
        else:
            where = tuple(ev[v] if v in ev else _ALL for v in t_idx)
            target_joint = np.zeros(shape)
            target_joint[where] = p_free.reshape(free_cards)
        if read_vars:
            # P(T=t, X | e) = belief marginal / z * P(T=t | e), per batch element
            z = zs[0] if len(zs) == 1 else np.concatenate([np.broadcast_to(z, lz.shape) for z, lz in zip(zs, log_zs)])
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                weight = np.where(z > 0, p_free / z, 0.0)
            buf = bufs[0] if len(bufs) == 1 else np.concatenate(bufs, axis=1)
            joint = np.empty((n_conf, width))
            np.multiply(buf.T, weight[:, None], out=joint)
        node_joints = {}
        for name, v in zip(nodes, n_idx):
            card = cards[v]
            if v in ev:
                out = np.zeros((*shape, card))
                out[..., ev[v]] = target_joint
            else:
                o = offsets[v]
                part = joint[:, o : o + card]
                if all_free:
                    out = part.reshape((*shape, card))
                else:
                    out = np.zeros((*shape, card))
                    out[where] = part.reshape((*free_cards, card))
            node_joints[name] = out
        check_answer(target_joint, joint if read_vars else None, len(read_vars))
        return JTreeJointQuery(
            prob_evidence=math.exp(log_pe),
            targets=targets,
            target_joint=target_joint,
            node_joints=node_joints,
            log_prob_evidence=log_pe,
            stacked=joint if read_vars else None,
            columns={nodes[i]: (offsets[v], cards[v]) for i, v in enumerate(n_idx) if v in offsets},
            free_target_probs=p_free,
        )

    def _clamp_cache(self, tree, free, start, stop, batch):
        """Per (tree, targets, chunk) store of the constant tables gathered at the target
        configurations: repeated queries about the same targets (a diagnosis session) then only
        slice their evidence. Kept for small tables only, at most ``_clamp_cache_entries``."""
        if batch * tree.sliced_size(frozenset(free)) > self._clamp_cache_floats:
            return None
        key = (id(tree), free, start, stop)
        store = self._clamp_caches
        cache = store.get(key)
        if cache is None:
            if len(store) >= self._clamp_cache_entries:
                store.pop(next(iter(store)))
            cache = store[key] = {}
        return cache
