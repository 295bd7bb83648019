"""The machinery of :func:`bayesdx.fit`: a network's sourced numbers as parameter blocks,
expected counts from the exact engine, and the MAP update of each CPT family.

A *block* is one sourced distribution of a node as the file writes it: a ``table`` row, the leak
of a noisy-OR / noisy-MAX node, one cause of it, or a ``fixed`` row. A *family* owns the blocks
of one node and knows how to build its table from them and how to update them from expected
counts (the M-step). ``odds`` nodes have their own family, in :mod:`bayesdx._emodds`.

The E-step (:func:`expected_counts`) computes, for every fitted node X with parents U, the
expected counts sum_i P(X, U | case i) from posterior marginals only (``Engine.marginals_batch``,
one batched call per configuration of the family's unobserved members, shared between families):
P(b_1, ..., b_m | e) = prod_j P(b_j | e, b_1..b_{j-1}), members observed in every case entering
as evidence. :func:`log_likelihood` sums ln P(case) by the same chain rule over the observed
columns.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from ._compile import _shape, _when, _when_label
from ._sources import _Checker

__all__ = ["Block", "build_families", "expected_counts", "log_likelihood", "prior_concentrations"]

_TINY = 1e-300
_CLIP = 1e-12
#: The largest equivalent sample size given to one number (a range of zero width).
MAX_ESS = 1e6


def prior_concentrations(network) -> dict[tuple[str, str], float]:
    """Equivalent sample size of every sourced distribution, keyed by (node, where).

    The concentration (alpha summed over the row, or a + b) of the Dirichlet / Beta distribution
    :func:`bayesdx.priors.parameter_priors` fits to the number's value, range and grade; a number
    held as a point mass (a zero-width range, or no range) gets :data:`MAX_ESS`, so no data move it.
    """
    from .priors import parameter_priors

    frame = parameter_priors(network)
    out = {}
    for node, where, family, conc in zip(frame["node"], frame["where"], frame["family"],
                                         frame["concentration"]):
        if family in ("dirichlet", "beta") and np.isfinite(conc):
            out[(node, where)] = float(min(conc, MAX_ESS))
        elif family == "point":
            out[(node, where)] = MAX_ESS
    return out


def prior_ratio_sds(network) -> dict[tuple[str, str], float]:
    """Standard deviation of the log of every odds ratio with a log-normal prior, by (node, where)
    (:func:`bayesdx.priors.parameter_priors`); an odds ratio held as a point mass is left out."""
    from .priors import parameter_priors

    frame = parameter_priors(network)
    keep = (frame["family"] == "lognormal") & (frame["sigma"] > 0)
    return {(n, w): float(sd) for n, w, sd in zip(frame["node"][keep], frame["where"][keep],
                                                   frame["sigma"][keep])}


@dataclass
class Block:
    """One sourced distribution of a node and its current value."""

    where: str
    kind: str  # "row", "fixed", "leak", "cause"
    prior: np.ndarray  # the file's distribution over the node's states
    ess: float  # equivalent sample size of the prior
    scalar: bool  # the file gives one number p (noisy-OR): the Param's state is None
    mask: np.ndarray | None = None  # rows: the parent configurations it covers
    active: np.ndarray | None = None  # causes: the parent configurations where it acts
    value: np.ndarray = field(default=None)

    def __post_init__(self):
        if self.value is None:
            self.value = self.prior.copy()

    def log_prior(self) -> float:
        return float(self.ess * _xlogy(self.prior, self.value).sum())


def _xlogy(a, b):
    a = np.asarray(a, dtype=float)
    return np.where(a > 0, a * np.log(np.maximum(b, _TINY)), 0.0)


def _row_update(block: Block, n: np.ndarray) -> None:
    """Dirichlet MAP of a row: (n + s p0) / (N + s); no data leaves the value untouched."""
    total = float(n.sum())
    if total > 0 and block.ess < MAX_ESS:
        block.value = (n + block.ess * block.prior) / (total + block.ess)


class _Family:

    def __init__(self, node, shape, blocks, prior_table):
        self.node, self.shape, self.blocks = node, shape, blocks
        self.prior_table = prior_table

    def unchanged(self) -> bool:
        return all(np.array_equal(b.value, b.prior) for b in self.blocks)

    def table(self) -> np.ndarray:
        return self.prior_table if self.unchanged() else self._build()

    def log_prior(self) -> float:
        return sum(b.log_prior() for b in self.blocks)

    def snapshot(self):
        return [b.value.copy() for b in self.blocks]

    def restore(self, values) -> None:
        for b, v in zip(self.blocks, values):
            b.value = v.copy()


class _TableFamily(_Family):
    def _build(self):
        table = np.empty(self.shape)
        for b in self.blocks:
            table[b.mask] = b.value
        return table

    def m_step(self, counts):
        for b in self.blocks:
            _row_update(b, counts[b.mask].sum(axis=0))


class _NoisyFamily(_Family):
    """noisy-OR (two states) and noisy-MAX: cdf(u) = F_leak x prod of the active causes' link
    cdfs F_cause / F_leak; fixed rows overwrite their configurations."""

    def __init__(self, node, shape, blocks, prior_table):
        super().__init__(node, shape, blocks, prior_table)
        self.leak = next(b for b in blocks if b.kind == "leak")
        self.causes = [b for b in blocks if b.kind == "cause"]
        self.fixed = [b for b in blocks if b.kind == "fixed"]
        self.free = np.ones(shape[:-1], dtype=bool)
        for b in self.fixed:
            self.free &= ~b.mask

    def _noisy(self, leak, causes):
        f_leak = np.cumsum(leak)
        cdf = np.broadcast_to(f_leak, self.shape).copy()
        for b, dist in zip(self.causes, causes):
            with np.errstate(divide="ignore", invalid="ignore"):
                link = np.where(f_leak > 0, np.cumsum(dist) / f_leak, 1.0)
            cdf *= np.where(b.active[..., None], np.minimum(link, 1.0), 1.0)
        cdf[..., -1] = 1.0
        probs = np.clip(np.diff(cdf, axis=-1, prepend=0.0), 0.0, None)
        return probs / probs.sum(axis=-1, keepdims=True)

    def _build(self):
        table = self._noisy(self.leak.value, [b.value for b in self.causes])
        for b in self.fixed:
            table[b.mask] = b.value
        return table

    def _objective(self, leak, causes, data):
        """Expected log-likelihood of the noisy configurations plus the log prior; ``data`` is
        (activity matrix of the causes, counts) over the configurations seen."""
        act, cnt = data
        f_leak = np.cumsum(leak)
        with np.errstate(divide="ignore", invalid="ignore"):
            links = np.array([np.where(f_leak > 0, np.cumsum(d) / f_leak, 1.0) for d in causes])
        log_link = np.log(np.clip(links, _TINY, 1.0)).reshape(len(causes), len(leak))
        cdf = f_leak * np.exp(act @ log_link)
        cdf[:, -1] = 1.0
        table = np.clip(np.diff(cdf, axis=-1, prepend=0.0), 0.0, None)
        table /= table.sum(axis=-1, keepdims=True)
        ll = float(_xlogy(cnt, table).sum())
        ll += self.leak.ess * float(_xlogy(self.leak.prior, leak).sum())
        for b, dist in zip(self.causes, causes):
            ll += b.ess * float(_xlogy(b.prior, dist).sum())
        return ll

    def _unpack(self, x):
        k = self.shape[-1]
        z = np.concatenate([[0.0], x[: k - 1]])
        leak = np.exp(z - z.max())
        leak /= leak.sum()
        f_leak = np.cumsum(leak)
        causes = []
        for j in range(len(self.causes)):
            z = np.concatenate([[0.0], x[(j + 1) * (k - 1): (j + 2) * (k - 1)]])
            pi = np.exp(z - z.max())
            link = np.cumsum(pi / pi.sum())
            link[-1] = 1.0
            causes.append(np.clip(np.diff(f_leak * link, prepend=0.0), 0.0, None))
        return leak, causes

    def _pack(self):
        def logits(p):
            p = np.clip(p, _CLIP, None)
            p = p / p.sum()
            return np.log(p[1:]) - np.log(p[0])

        f_leak = np.cumsum(self.leak.value)
        parts = [logits(self.leak.value)]
        for b in self.causes:
            with np.errstate(divide="ignore", invalid="ignore"):
                link = np.where(f_leak > 0, np.cumsum(b.value) / f_leak, 1.0)
            link = np.minimum(link, 1.0)
            link[-1] = 1.0
            parts.append(logits(np.diff(link, prepend=0.0)))
        return np.concatenate(parts)

    def _loss_grad(self, x, data, scale):
        """-(expected log-likelihood + log prior) / scale and its gradient in the logits ``x``
        (leak logits, then each cause's link logits; the first logit of each is pinned at 0)."""
        act, cnt = data
        k, c = self.shape[-1], len(self.causes)
        z = np.concatenate([np.zeros((c + 1, 1)), x.reshape(c + 1, k - 1)], axis=1)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        soft = e / e.sum(axis=1, keepdims=True)  # leak, then each cause's link distribution
        leak, pis = soft[0], soft[1:]
        f = np.cumsum(leak)
        f[-1] = 1.0
        r = np.cumsum(pis, axis=1)
        r[:, -1] = 1.0
        log_r = np.log(np.maximum(r, _TINY))
        big_r = np.exp(act @ log_r)  # (m, k): product of the active links
        cdf = f * big_r
        table = np.maximum(np.diff(cdf, axis=1, prepend=0.0), _TINY)
        dist = np.maximum(np.diff(f * r, axis=1, prepend=0.0), _TINY)  # each cause's P(level)
        priors = np.array([b.prior for b in self.causes]).reshape(c, k)
        ess = np.array([b.ess for b in self.causes])
        value = (_xlogy(cnt, table).sum() + self.leak.ess * _xlogy(self.leak.prior, leak).sum()
                 + (ess[:, None] * _xlogy(priors, dist)).sum())

        def back_diff(g):  # gradient through y -> v(y) - v(y - 1)
            return g - np.concatenate([g[..., 1:], np.zeros(g.shape[:-1] + (1,))], axis=-1)

        h = back_diff(np.where(cnt > 0, cnt / table, 0.0))
        h[:, -1] = 0.0
        q = back_diff(np.where(priors > 0, ess[:, None] * priors / dist, 0.0))
        q[:, -1] = 0.0
        d_f = (h * big_r).sum(axis=0) + (q * r).sum(axis=0)
        d_r = (act.T @ (h * cdf)) / np.maximum(r, _TINY) + q * f
        d_leak = np.cumsum(d_f[::-1])[::-1] + np.where(self.leak.prior > 0, self.leak.ess * self.leak.prior
                                                       / np.maximum(leak, _TINY), 0.0)
        d_pi = np.cumsum(d_r[:, ::-1], axis=1)[:, ::-1]
        d_soft = np.vstack([d_leak, d_pi])
        d_z = soft * (d_soft - (soft * d_soft).sum(axis=1, keepdims=True))
        return -float(value) / scale, -d_z[:, 1:].reshape(-1) / scale

    def m_step(self, counts):
        from scipy.optimize import minimize

        for b in self.fixed:
            _row_update(b, counts[b.mask].sum(axis=0))
        rows = self.free & (counts.sum(axis=-1) > 0)
        if not rows.any():
            return
        data = (np.array([b.active[rows] for b in self.causes], dtype=float).T.reshape(-1, len(self.causes)),
                counts[rows])
        before = self._objective(self.leak.value, [b.value for b in self.causes], data)
        scale = max(1.0, float(data[1].sum()))
        res = minimize(self._loss_grad, self._pack(), args=(data, scale), jac=True, method="BFGS",
                       options={"maxiter": 500, "gtol": 1e-7})
        leak, causes = self._unpack(res.x)
        if self._objective(leak, causes, data) > before:  # a generalised EM step: never worse
            self.leak.value = leak
            for b, dist in zip(self.causes, causes):
                b.value = dist


# -- families from a network's spec ------------------------------------------------------


def build_families(network, strength: float = 1.0) -> dict:
    """One family per node of a bayesdx YAML network, its blocks holding the file's numbers and
    their equivalent sample sizes (:func:`prior_concentrations` times ``strength``)."""
    spec = network.spec
    ess = prior_concentrations(network)
    ratio_sd = prior_ratio_sds(network)
    params: dict[tuple, list] = {}
    for p in spec.params:
        params.setdefault((p.node, p.where), []).append(p)
    chk = _Checker(spec.path)
    families = {}
    for name in network.nodes:
        node = spec.nodes[name]
        cpt, ctype = node.cpt, node.cpt["type"]
        shape = _shape(spec, node)
        prior_table = network.arrays.cpts[name]

        def block(where, kind, scalar, **kw):
            ps = params[(name, where)]
            if scalar:
                dist = np.array([1.0 - ps[0].value, ps[0].value])
            else:
                by_state = {p.state: p.value for p in ps}
                dist = np.array([by_state[s] for s in node.states])
            size = ess.get((name, where), MAX_ESS)
            return Block(where, kind, dist, size if size >= MAX_ESS else strength * size, scalar, **kw)

        def matches(when):
            """The parent configurations a row's ``when`` matches (broadcast over the parents)."""
            parsed = _when(chk, spec, node, "", when)
            mask = np.ones(shape[:-1], dtype=bool)
            for parent, allowed in parsed.items():
                axis = node.parents.index(parent)
                pstates = spec.nodes[parent].states
                hit = np.array([s in allowed for s in pstates])
                view = [1] * len(node.parents)
                view[axis] = len(pstates)
                mask = mask & hit.reshape(view)
            return mask

        def rows(raw, prefix, kind):
            out, taken = [], np.zeros(shape[:-1], dtype=bool)
            for i, row in enumerate(raw, start=1):
                when = row.get("when", {}) or {}
                mask = matches(when) & ~taken
                taken |= mask
                out.append(block(f"{prefix}[{i}] {_when_label(when)}", kind, False, mask=mask))
            return out

        if ctype == "table":
            families[name] = _TableFamily(name, shape, rows(cpt["rows"], "cpt.rows", "row"), prior_table)
        elif ctype in ("noisy_or", "noisy_max"):
            scalar = ctype == "noisy_or"
            blocks = [block("cpt.leak", "leak", scalar)]
            for parent, raw in cpt["causes"].items():
                pstates = spec.nodes[parent].states
                axis = node.parents.index(parent)
                targets = [pstates[1]] if len(pstates) == 2 else list(raw)
                for state in targets:
                    active = np.zeros(shape[:-1], dtype=bool)
                    index = [slice(None)] * (len(shape) - 1)
                    index[axis] = pstates.index(state)
                    active[tuple(index)] = True
                    where = f"cpt.causes.{parent}" + (f".{state}" if len(pstates) > 2 else "")
                    blocks.append(block(where, "cause", scalar, active=active))
            blocks += rows(cpt.get("fixed") or [], "cpt.fixed", "fixed")
            families[name] = _NoisyFamily(name, shape, blocks, prior_table)
        else:
            from ._emodds import odds_family

            families[name] = odds_family(network, name, shape, prior_table, ess, ratio_sd, rows)
    return families


# -- E-step --------------------------------------------------------------------------------


def _with_prefix(columns, codes, prefix):
    """Evidence columns and codes with the prefix's nodes set to its states in every case."""
    cols, codes = list(columns), codes.copy() if prefix else codes
    extra = []
    for node, state in prefix:
        if node in cols:
            codes[:, cols.index(node)] = state
        else:
            cols.append(node)
            extra.append(state)
    if extra:
        codes = np.hstack([codes, np.tile(np.array(extra, dtype=codes.dtype), (len(codes), 1))])
    return cols, codes


def expected_counts(engine, columns, codes, families, cards, order) -> dict[str, np.ndarray]:
    """sum over cases of P(X, parents(X) | case) for every family given, shaped like X's table.

    ``columns``/``codes``: the observed nodes and their state indices (-1: not observed);
    ``order``: a rank per node, so that families sharing unobserved members share the
    engine calls of their common prefixes.
    """
    n = len(codes)
    observed_all = {c for j, c in enumerate(columns) if n and (codes[:, j] >= 0).all()}
    plans = {}
    for name, fam in families.items():
        members = (*engine.arrays.parents[name], name)
        hidden = sorted((m for m in members if m not in observed_all), key=lambda m: (cards[m], order[m]))
        plans[name] = (members, hidden)
    counts = {name: np.zeros(fam.shape) for name, fam in families.items()}

    def add(name, assignment, weight):
        """Add weight (cases,) at the family cells given by the assignment and observed codes."""
        members, _ = plans[name]
        flat = np.zeros(n, dtype=np.int64)
        for m in members:
            s = assignment[m] if m in assignment else codes[:, columns.index(m)]
            flat = flat * cards[m] + s
        size = counts[name].size
        counts[name] += np.bincount(flat, weights=weight, minlength=size).reshape(counts[name].shape)

    for name, (members, hidden) in plans.items():
        if not hidden:
            add(name, {}, np.ones(n))
    weights = {(): np.ones(n)}
    depth = 0
    while True:
        requests: dict[tuple, set] = {}
        for name, (members, hidden) in plans.items():
            if len(hidden) > depth:
                for prefix in weights:
                    if len(prefix) == depth and tuple(p for p, _ in prefix) == tuple(hidden[:depth]):
                        requests.setdefault(prefix, set()).add(hidden[depth])
        if not requests:
            break
        new_weights = {}
        for prefix, nodes in requests.items():
            w = weights[prefix]
            live = np.flatnonzero(w > 0)  # only the cases this prefix is possible for
            cols, ev = _with_prefix(columns, codes[live], prefix)
            marg, _ = engine.marginals_batch(cols, ev, sorted(nodes))
            for node in nodes:
                m = np.zeros((n, cards[node]))
                m[live] = w[live, None] * np.nan_to_num(marg[node])
                for name, (members, hidden) in plans.items():
                    if len(hidden) == depth + 1 and hidden[depth] == node and \
                            tuple(p for p, _ in prefix) == tuple(hidden[:depth]):
                        base = dict(prefix)
                        for s in range(cards[node]):
                            if m[:, s].any():
                                add(name, {**base, node: s}, m[:, s])
                if any(len(h) > depth + 1 and h[depth] == node and tuple(p for p, _ in prefix) == tuple(h[:depth])
                       for _, h in plans.values()):
                    for s in range(cards[node]):
                        if m[:, s].any():
                            new_weights[(*prefix, (node, s))] = m[:, s]
        weights = {**{p: w for p, w in weights.items() if len(p) > depth}, **new_weights}
        depth += 1
    return counts


def log_likelihood(engine, columns, codes) -> np.ndarray:
    """ln P(case) for every case (-inf where impossible).

    ln P(e) = ln P(x) - ln P(h | e) for one complete assignment x = (e, h) of each case: P(x) is
    a product of table entries, and P(h | e) a chain of posterior marginals, one batched engine
    call per node unobserved in some case, each hidden node set to its most probable state
    given what is fixed so far (so no factor is below 1 / its number of states).
    """
    arrays = engine.arrays
    n = len(codes)
    cols = list(columns)
    full = np.full((n, len(arrays.nodes)), -1, dtype=np.int64)
    index = {node: i for i, node in enumerate(arrays.nodes)}
    for j, c in enumerate(cols):
        full[:, index[c]] = codes[:, j]
    out = np.zeros(n)
    possible = np.ones(n, dtype=bool)
    for node in arrays.nodes:
        i = index[node]
        missing = full[:, i] < 0
        if not missing.any():
            continue
        ev_nodes = [m for m in arrays.nodes if (full[:, index[m]] >= 0).any()]
        ev = full[:, [index[m] for m in ev_nodes]]
        marg, ok = engine.marginals_batch(ev_nodes, ev, [node])
        possible &= ok
        m = np.nan_to_num(marg[node])
        best = m.argmax(axis=1)
        out -= np.where(missing, np.log(np.maximum(m[np.arange(n), best], _TINY)), 0.0)
        full[:, i] = np.where(missing, best, full[:, i])
    for node in arrays.nodes:
        flat = np.zeros(n, dtype=np.int64)
        for m in (*arrays.parents[node], node):
            flat = flat * arrays.card(m) + full[:, index[m]]
        with np.errstate(divide="ignore"):
            out += np.log(np.asarray(arrays.cpts[node]).reshape(-1)[flat])
    return np.where(possible, out, -np.inf)


def log_prior(families) -> float:
    return float(sum(f.log_prior() for f in families.values()))


def fitted_arrays(network, families):
    """The network's tables with every family's current CPT (the fit's, or a refit's)."""
    return dataclasses.replace(network.arrays, cpts={n: f.table() for n, f in families.items()})


def total_size(families) -> int:
    return int(sum(math.prod(f.shape) for f in families.values()))
