"""Independent oracles for exactness tests.

``BruteForce`` enumerates the joint distribution with plain Python loops over every
configuration: no shared code with bayesdx's engines. Information gains are computed the textbook
way, H(T | e) - sum_x P(x | e) H(T | e, x), from separate conditional queries.
"""

from __future__ import annotations

import itertools
import math

import numpy as np


class BruteForce:
    def __init__(self, arrays):
        self.arrays = arrays
        self.nodes = list(arrays.nodes)
        self.configs = []
        for combo in itertools.product(*(range(arrays.card(n)) for n in self.nodes)):
            assignment = dict(zip(self.nodes, combo))
            p = 1.0
            for n in self.nodes:
                index = tuple(assignment[q] for q in arrays.parents[n]) + (assignment[n],)
                p *= float(arrays.cpts[n][index])
            self.configs.append((assignment, p))

    def prob(self, evidence) -> float:
        return sum(p for a, p in self.configs if all(a[n] == s for n, s in evidence.items()))

    def joint(self, nodes, evidence) -> np.ndarray:
        out = np.zeros([self.arrays.card(n) for n in nodes])
        for a, p in self.configs:
            if all(a[n] == s for n, s in evidence.items()):
                out[tuple(a[n] for n in nodes)] += p
        total = out.sum()
        return out / total if total > 0 else out

    def marginal(self, node, evidence) -> np.ndarray:
        return self.joint([node], evidence)

    def info_gain(self, targets, test, evidence) -> float:
        def entropy(p):
            return -sum(x * math.log2(x) for x in np.ravel(p) if x > 0)

        h_before = entropy(self.joint(targets, evidence))
        p_test = self.marginal(test, evidence)
        expected = 0.0
        for x, px in enumerate(p_test):
            if px > 0:
                expected += px * entropy(self.joint(targets, {**evidence, test: x}))
        return h_before - expected


def pgmpy_marginal(ve, network, node, evidence) -> np.ndarray:
    """P(node | evidence) from pgmpy VariableElimination, in the network's state order."""
    factor = ve.query([node], evidence=dict(evidence), show_progress=False)
    return np.array([factor.values[factor.state_names[node].index(s)] for s in network.states(node)])


def pgmpy_info_gain(ve, network, targets, test, evidence) -> float:
    """I(targets ; test | evidence) from one pgmpy joint query of targets + test."""
    factor = ve.query([*targets, test], evidence=dict(evidence), joint=True, show_progress=False)
    values = np.transpose(factor.values, [factor.variables.index(v) for v in [*targets, test]])
    flat = values.reshape(-1, values.shape[-1])
    flat = flat / flat.sum()
    pa = flat.sum(axis=1, keepdims=True)
    pb = flat.sum(axis=0, keepdims=True)
    mask = flat > 0
    return float((flat[mask] * np.log2(flat[mask] / (pa @ pb)[mask])).sum())
