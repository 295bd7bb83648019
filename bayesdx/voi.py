"""Information measures as pure numpy functions (bits throughout).

The value of information of a test X for the targets T given evidence e is the mutual information
I(T ; X | e) = H(T | e) - E_x[H(T | e, X = x)]: the expected reduction, in bits, of the entropy of
the *joint* distribution of all targets. It is computed from P(T, X | e), the table every engine
returns (:class:`bayesdx.inference.JointQuery`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["entropy_bits", "mutual_information_bits", "mutual_information_many_bits",
           "mutual_information_stacked_bits", "expected_posterior_entropy_bits", "NOISE_BITS"]


#: Information gains below this many bits are rounding noise and are reported as 0.
NOISE_BITS = 1e-13
_TINY = np.finfo(np.float64).tiny


def _plogp(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    out = np.zeros_like(p)
    mask = p > 0
    positive = p[mask]
    out[mask] = positive * np.log2(positive)
    return out


def entropy_bits(p) -> float:
    """Shannon entropy of a distribution (any shape), in bits.

    Examples
    --------
    >>> entropy_bits([0.5, 0.5])
    1.0
    >>> entropy_bits([[0.25, 0.25], [0.25, 0.25]])
    2.0
    """
    return float(-_plogp(p).sum())


def mutual_information_bits(joint) -> float:
    """I(A ; B) in bits for a joint table whose **last** axis is B and other axes are A.

    Computed as sum p(a,b) log2(p(a,b) / (p(a) p(b))) over the support; rounding can only leave
    values within ~1e-15 of zero, which are clipped to 0, so the result is never negative.

    Examples
    --------
    >>> mutual_information_bits([[0.5, 0.0], [0.0, 0.5]])
    1.0
    >>> mutual_information_bits([[0.25, 0.25], [0.25, 0.25]])
    0.0
    """
    joint = np.asarray(joint, dtype=float)
    flat = joint.reshape(-1, joint.shape[-1])
    total = flat.sum()
    if total <= 0:
        return 0.0
    flat = flat / total
    pa = flat.sum(axis=1, keepdims=True)
    pb = flat.sum(axis=0, keepdims=True)
    mask = flat > 0
    ratio = np.ones_like(flat)
    ratio[mask] = flat[mask] / (pa * pb)[np.nonzero(mask)]
    value = float((flat[mask] * np.log2(ratio[mask])).sum())
    return max(value, 0.0)


def expected_posterior_entropy_bits(joint) -> float:
    """E_b[H(A | B = b)] in bits, for a joint table whose last axis is B."""
    joint = np.asarray(joint, dtype=float)
    flat = joint.reshape(-1, joint.shape[-1])
    flat = flat / flat.sum()
    return entropy_bits(flat) - entropy_bits(flat.sum(axis=0))


def mutual_information_many_bits(target_joint, joints) -> np.ndarray:
    """I(T ; X_k) in bits for many variables X_k at once, all sharing the same P(T).

    Parameters
    ----------
    target_joint : array_like
        P(T), any shape, summing to 1.
    joints : sequence of array_like
        ``joints[k]`` is P(T, X_k) with shape ``(*target_joint.shape, card(X_k))``.

    Returns
    -------
    numpy.ndarray
        One value per X_k. Values below :data:`NOISE_BITS` are rounding noise (a test that
        carries no information can come out at +-1e-16) and are returned as exactly 0, so
        uninformative tests tie and are ordered by cost rather than by noise.

    Examples
    --------
    >>> pt = np.array([0.5, 0.5])
    >>> mutual_information_many_bits(pt, [np.array([[0.5, 0.0], [0.0, 0.5]]), np.array([[0.25, 0.25], [0.25, 0.25]])])
    array([1., 0.])
    """
    if len(joints) == 0:
        return np.zeros(0)
    pt = np.asarray(target_joint, dtype=float).reshape(-1)
    cards = [np.shape(j)[-1] for j in joints]
    stacked = np.concatenate([np.reshape(j, (pt.size, c)) for j, c in zip(joints, cards)], axis=1)
    starts = np.concatenate([[0], np.cumsum(cards)[:-1]])
    return mutual_information_stacked_bits(pt, stacked, starts, cards)


def mutual_information_stacked_bits(target_probs, stacked, starts, cards) -> np.ndarray:
    """I(T ; X_k) in bits from one table holding every P(T, X_k) side by side.

    Parameters
    ----------
    target_probs : array_like, shape (..., n)
        P(T = t) for each of the n rows.
    stacked : numpy.ndarray, shape (..., n, m)
        Row t holds P(T = t, X_k = x) for every variable k and state x; the columns of X_k are
        ``stacked[..., starts[k] : starts[k] + cards[k]]`` (other columns are ignored). Leading
        axes (e.g. one per parameter draw) are batch axes: each is valued on its own.
    starts, cards : sequence of int
        Where each variable's columns begin, and how many there are.

    Returns
    -------
    numpy.ndarray, shape (..., len(starts))
        One gain per variable, as in :func:`mutual_information_many_bits` (noise below
        :data:`NOISE_BITS` reported as 0).

    Examples
    --------
    Two batches of one perfect and one useless test:

    >>> pt = np.array([[0.5, 0.5], [0.9, 0.1]])
    >>> stacked = np.array([[[0.5, 0.0, 0.25, 0.25], [0.0, 0.5, 0.25, 0.25]],
    ...                     [[0.9, 0.0, 0.45, 0.45], [0.0, 0.1, 0.05, 0.05]]])
    >>> mutual_information_stacked_bits(pt, stacked, [0, 2], [2, 2]).round(3)
    array([[1.   , 0.   ],
           [0.469, 0.   ]])
    """
    stacked = np.asarray(stacked, dtype=float)
    pt = np.asarray(target_probs, dtype=float).reshape(stacked.shape[:-1])
    if len(starts) == 0:
        return np.zeros(stacked.shape[:-2] + (0,))
    # I(T ; X) = H(T) + H(X) - H(T, X), with sum_t P(t, x) log P(t, x) taken per column. A zero
    # entry's log is taken at float64's smallest normal number instead (0 x log = 0 exactly; an
    # entry below it contributes p log(tiny), within 1e-305 of p log p): three times faster than
    # a masked log, and a NaN entry still makes its column NaN
    logs = np.fmax(stacked, _TINY)
    np.log2(logs, out=logs)
    px = stacked.sum(axis=-2)
    log_px = np.log2(np.fmax(px, _TINY))
    per_column = np.einsum("...ij,...ij->...j", stacked, logs) - px * log_px
    # the 0 lets the last range end at m
    per_column = np.concatenate([per_column, np.zeros(per_column.shape[:-1] + (1,))], axis=-1)
    bounds = np.empty(2 * len(starts), dtype=np.intp)  # start, end, start, end, ...
    bounds[0::2], bounds[1::2] = starts, np.add(starts, cards)
    h_t = -_plogp(pt).sum(axis=-1)
    gains = h_t[..., None] + np.add.reduceat(per_column, bounds, axis=-1)[..., ::2]
    gains[gains < NOISE_BITS] = 0.0
    return gains
