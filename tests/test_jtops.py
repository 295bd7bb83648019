"""The compiled engine's loops and chunking against independent references.

* :func:`bayesdx._jtops._apply` (every mode: SET, MUL, ACC, DIV) on random strided layouts, with
  short and long rows, broadcast (stride 0) and strided operands, batch widths 1 and 3, against
  the same combination written with numpy fancy indexing.
* Joint queries whose batch is cut into chunks of every size from one element to the whole batch
  (messages that do not depend on the batch are computed once and shared by the chunks), with
  clique tables kept from collect to distribute or formed again, against brute-force
  enumeration of the joint.
"""

from __future__ import annotations

import numpy as np
import pytest

from bayesdx.compiled import CompiledEngine
from bayesdx.inference import EnumerationEngine, ModelArrays, ZeroProbabilityEvidence

ops = pytest.importorskip("bayesdx._jtops")
MODES = {"set": ops.SET, "mul": ops.MUL, "acc": ops.ACC, "div": ops.DIV}


def random_layout(rng):
    """A working table's extents (length-1 axes included), a batch width, and the strides of an
    operand over a random subset of its axes (C order over that subset, the batch last or
    broadcast), with a base offset."""
    nd = int(rng.integers(1, 6))
    ext = rng.integers(1, 5, size=nd)
    if rng.random() < 0.3:
        ext[rng.integers(nd)] = int(rng.integers(5, 12))  # a long row somewhere
    w = int(rng.choice([1, 3]))
    used = rng.random(nd) < 0.6
    batch = w > 1 and rng.random() < 0.7
    xs = np.zeros(nd, np.int64)
    stride = w if batch else 1
    for d in range(nd - 1, -1, -1):
        if used[d]:
            xs[d] = stride
            stride *= int(ext[d])
    if rng.random() < 0.3 and used.any():  # an operand axis laid out outside the table's order
        d = int(rng.choice(np.flatnonzero(used)))
        xs[d] = stride
        stride *= int(ext[d])
    base = int(rng.integers(0, 4))
    return ext.astype(np.int64), w, xs, (w > 1 and batch), base, base + stride


def offsets(ext, w, xs, xw, base):
    """Operand offset of every element of the working table, in the table's (C) order."""
    grids = np.indices((*ext, w)).reshape(len(ext) + 1, -1)
    return base + (xs[:, None] * grids[:-1]).sum(axis=0) + xw * grids[-1]


@pytest.mark.parametrize("mode", MODES, ids=list(MODES))
def test_apply_matches_numpy_indexing(mode):
    rng = np.random.default_rng(list(MODES).index(mode))
    for _ in range(300):
        ext, w, xs, batch, base, n_x = random_layout(rng)
        xw = 1 if batch else 0
        size = int(np.prod(ext)) * w
        T = rng.random(size)
        X = rng.random(n_x)
        X[rng.random(n_x) < 0.2] = 0.0
        off = offsets(ext, w, xs, xw, base)
        want_t, want_x = T.copy(), X.copy()
        if mode == "set":
            want_t = X[off]
        elif mode == "mul":
            want_t = T * X[off]
        elif mode == "acc":
            np.add.at(want_x, off, T)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                want_t = np.where(X[off] != 0, T / X[off], 0.0)
        iw = np.zeros((6, len(ext) + 2), np.int64)
        ops._apply(MODES[mode], T, X, base, ext, xs, len(ext), w, xw, iw)
        np.testing.assert_allclose(T, want_t, rtol=1e-14, atol=0)
        np.testing.assert_allclose(X, want_x, rtol=1e-14, atol=0)


def chain_network(n: int, card: int, seed: int) -> ModelArrays:
    """A target with ``n`` children, each with a child of its own: a tree of cliques where the
    grandchildren's messages do not depend on the target unless their parent is observed."""
    rng = np.random.default_rng(seed)
    nodes = ("t", *(f"c{i}" for i in range(n)), *(f"g{i}" for i in range(n)))
    parents = {"t": (), **{f"c{i}": ("t",) for i in range(n)}, **{f"g{i}": (f"c{i}",) for i in range(n)}}
    cpts = {}
    for v in nodes:
        shape = (*(card for _ in parents[v]), card)
        table = rng.gamma(0.8, size=shape)
        cpts[v] = table / table.sum(axis=-1, keepdims=True)
    return ModelArrays(nodes=nodes, states={v: tuple(f"s{k}" for k in range(card)) for v in nodes},
                       parents=parents, cpts=cpts)


@pytest.mark.parametrize("chunk_floats", [1.0, 40.0, 150.0, 2.0**20], ids=["1", "40", "150", "all"])
def test_chunks_share_batch_free_messages(chunk_floats):
    arrays = chain_network(4, 3, seed=int(chunk_floats) % 97)
    oracle = EnumerationEngine(arrays)
    rng = np.random.default_rng(7)
    for keep in (0.0, 2.0**22):  # tables formed again, tables kept
        engine = CompiledEngine(arrays, keep_max_floats=keep)
        engine.chunk_floats = chunk_floats
        for _ in range(6):
            evidence = {f"g{i}": int(rng.integers(3)) for i in range(4) if rng.random() < 0.7}
            targets = ["t", "c0"] if rng.random() < 0.5 else ["t"]
            others = [v for v in arrays.nodes if v not in targets and v not in evidence]
            try:
                want = oracle.joint_query(evidence, targets, others)
            except ZeroProbabilityEvidence:
                continue
            got = engine.joint_query(evidence, targets, others)
            np.testing.assert_allclose(got.target_joint, want.target_joint, atol=1e-12, rtol=0)
            for v in others:
                np.testing.assert_allclose(got.node_joints[v], want.node_joints[v], atol=1e-12, rtol=0)
            assert got.log_prob_evidence == pytest.approx(np.log(want.prob_evidence), rel=1e-12)
