"""Evaluating a network on cases with known diagnoses: how well its differential ranks, how well
its probabilities are calibrated, and what a testing policy costs to reach an answer.

:func:`evaluate` scores the cases (:func:`score_cases`, one pure function per batch of cases),
aggregates the scores into an :class:`Evaluation`, and, on request, replays each case as a
sequence of tests (:mod:`bayesdx._sequential`). :func:`evaluate_self` runs it on cases drawn from
the network itself: a built-in check that its probabilities are calibrated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from . import _metrics
from .exceptions import (
    InvalidEvidenceError,
    InvalidParameterError,
    NoReferenceStateWarning,  # noqa: F401 - documented in Raises
    UnknownNodeError,
    _check_count,
)
from .network import Network

__all__ = ["Evaluation", "evaluate", "evaluate_self", "score_cases", "check_truth"]

DISEASE_COLUMNS = ["label", "cases", "present", "prevalence", "mean_probability", "brier",
                   "log_loss", "auroc", "ece", "ece_expected", "calibration_p"]


def _network(network) -> Network:
    from .io import as_network

    return as_network(network)


def check_truth(network: Network, cases: pd.DataFrame, truth: pd.DataFrame, *,
                allow_empty: bool = False) -> tuple[tuple, pd.DataFrame]:
    """Validate ``truth`` against ``cases``; return the evaluated targets and truth as 0/1 presence
    (one column per target, aligned on ``cases.index``)."""
    if not isinstance(cases, pd.DataFrame):
        raise InvalidEvidenceError(f"cases must be a pandas DataFrame (one row per case, one column "
                                   f"per finding); got {type(cases).__name__}.")
    if not isinstance(truth, pd.DataFrame):
        raise InvalidEvidenceError(f"truth must be a pandas DataFrame (one row per case, one column "
                                   f"per target, values are states); got {type(truth).__name__}.")
    if len(cases) == 0 and not allow_empty:
        raise InvalidEvidenceError("cases is empty: there is nothing to evaluate.")
    for column in cases.columns:
        if column in network.targets:
            raise InvalidEvidenceError(f"cases has a column for the target '{column}': findings "
                                       f"only (the true diagnoses go in truth).")
    targets = []
    for column in truth.columns:
        if isinstance(column, str) and column in network.nodes and column not in network.targets:
            raise InvalidEvidenceError(
                f"truth has a column '{column}', a node that is not a target (findings belong in "
                f"cases); targets: {', '.join(network.targets)}.")
        if not isinstance(column, str) or column not in network.targets:
            raise UnknownNodeError(column, network.targets, network=f"{network.name} (targets)")
        if not network.has_reference_state(column):
            raise InvalidParameterError(
                f"Target '{column}' has no healthy state known, so 'present' is not defined; name "
                f"it with load_network(..., reference_states={{'{column}': ...}}).")
    targets = tuple(t for t in network.targets if t in set(truth.columns))
    if not targets:
        raise InvalidEvidenceError(f"truth has no target column; targets: {', '.join(network.targets)}.")
    if not truth.index.is_unique or not cases.index.is_unique:
        raise InvalidEvidenceError("cases and truth must each have a unique index (one row per case).")
    if len(truth) != len(cases) or not truth.index.isin(cases.index).all():
        extra = list(truth.index[~truth.index.isin(cases.index)][:5])
        missing = list(cases.index[~cases.index.isin(truth.index)][:5])
        raise InvalidEvidenceError(
            f"truth is not aligned with cases: {len(truth)} truth row(s) for {len(cases)} case(s); "
            f"truth rows not in cases: {extra}; cases without truth: {missing}.")
    from .cohort import state_codes

    truth = truth.loc[cases.index]
    present = {}
    for target in targets:
        states = network.states(target)
        column = truth[target]
        blank = column.isna().to_numpy()
        if blank.any():
            raise InvalidEvidenceError(
                f"truth of '{target}' is missing for {int(blank.sum())} case(s), e.g. index "
                f"{list(truth.index[blank][:5])}; every case needs the state of every target "
                f"column (the reference state '{network.reference_state(target)}' when absent).")
        codes = state_codes(network, target, column, frame="truth", rows_of=" of truth")
        present[target] = (codes != states.index(network.reference_state(target))).astype(np.int8)
    return targets, pd.DataFrame(present, index=cases.index)


def disease_probabilities(network: Network, cases: pd.DataFrame, targets: Sequence[str]) -> np.ndarray:
    """P(target not in its reference state | findings), shape (cases, targets), exact and batched
    (:func:`bayesdx.posteriors`)."""
    from .cohort import posteriors

    post = posteriors(network, cases)
    return np.column_stack([1.0 - post[(t, network.reference_state(t))].to_numpy(dtype=float)
                            for t in targets]) if len(targets) else np.zeros((len(cases), 0))


def _scores(network: Network, cases: pd.DataFrame, present: pd.DataFrame) -> pd.DataFrame:
    probability = disease_probabilities(network, cases, list(present.columns))
    blocks = {f"probability:{t}": probability[:, j] for j, t in enumerate(present.columns)}
    for target in present.columns:
        blocks[f"present:{target}"] = present[target].to_numpy(dtype=np.int8)
    return pd.DataFrame(blocks, index=cases.index)


def score_cases(network: Network, cases: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per-case scores of one batch of cases: P(disease) for every target of ``truth``, beside
    whether it is present.

    The per-case work of :func:`evaluate`, as a pure function of one batch (a partition): the
    cases are checked, scored exactly (:func:`bayesdx.posteriors`), and returned one row each;
    every metric of :class:`Evaluation` is an aggregate of these rows
    (:meth:`Evaluation.from_scores`), so batches can be scored anywhere and concatenated. An
    empty batch gives an empty frame.

    Returns
    -------
    pandas.DataFrame
        Index of ``cases``; float columns ``probability:<target>`` (P(target not in its reference
        state | the case's findings)) and int8 columns ``present:<target>`` (0/1), targets in the
        network's order.

    Examples
    --------
    >>> import bayesdx
    >>> cases, truth = bayesdx.simulate("fasciculation", 4, seed=0)
    >>> scores = score_cases(bayesdx.load_network("fasciculation"), cases, truth[["als"]])
    >>> list(scores.columns)
    ['probability:als', 'present:als']
    """
    _, present = check_truth(network, cases, truth, allow_empty=True)
    return _scores(network, cases, present)


class Evaluation:
    """What :func:`evaluate` measured: the ranking, the calibration and, on request, the
    sequential runs. Immutable; the tables are copies.

    Attributes
    ----------
    network : Network
    targets : tuple of str
        The targets evaluated (the columns of ``truth``).
    scores : pandas.DataFrame
        Per case (see :func:`score_cases`), a copy.
    none_threshold : float
        A case is answered "none" when no disease reaches this probability.
    n_bins : int
        Equal-width bins for calibration.
    trace : pandas.DataFrame or None
        Sequential runs, one row per case and step (``policy``, ``case``, ``step``, ``order``,
        ``cost_usd``, ``cum_cost_usd``, ``top``, ``top_probability``, ``answer``, ``correct``,
        ``decided``); None without ``sequential``.

    Examples
    --------
    >>> import bayesdx
    >>> cases, truth = bayesdx.simulate("fasciculation", 200, seed=3)
    >>> ev = bayesdx.evaluate("fasciculation", cases, truth)
    >>> list(ev.per_disease().columns[:4])
    ['label', 'cases', 'present', 'prevalence']
    >>> ax = ev.plot_reliability(["als", "thyroid_disease"])
    """

    def __init__(self, network: Network, targets: Sequence[str], scores: pd.DataFrame, *,
                 none_threshold: float, n_bins: int, threshold: float,
                 trace: pd.DataFrame | None = None):
        self.network = network
        self.targets = tuple(targets)
        self._scores = scores
        self.none_threshold = none_threshold
        self.n_bins = n_bins
        self.threshold = threshold
        self._trace = trace
        self._p = scores[[f"probability:{t}" for t in self.targets]].to_numpy(dtype=float)
        self._y = scores[[f"present:{t}" for t in self.targets]].to_numpy(dtype=np.int8)
        if not len(self._p):
            raise InvalidEvidenceError("No case was scored: there is nothing to evaluate.")

    @classmethod
    def from_scores(cls, network: Network, scores: pd.DataFrame, *, none_threshold: float = 0.5,
                    n_bins: int = 10) -> Evaluation:
        """The evaluation of per-case scores from :func:`score_cases` (e.g. concatenated from
        partitions scored elsewhere), without a sequential run.

        Examples
        --------
        >>> import pandas as pd, bayesdx
        >>> from bayesdx.evaluate import score_cases
        >>> net = bayesdx.load_network("fasciculation")
        >>> cases, truth = bayesdx.simulate(net, 200, seed=0)
        >>> parts = [score_cases(net, cases[i:i + 50], truth[i:i + 50]) for i in range(0, 200, 50)]
        >>> whole = bayesdx.evaluate(net, cases, truth)
        >>> apart = Evaluation.from_scores(net, pd.concat(parts)).per_disease()
        >>> bool(((apart["brier"] - whole.per_disease()["brier"]).abs() < 1e-12).all())
        True
        """
        network = _network(network)
        targets = [t for t in network.targets if f"probability:{t}" in scores.columns]
        return cls(network, targets, scores,
                   none_threshold=_probability(none_threshold, "none_threshold"),
                   n_bins=_check_count(n_bins, "n_bins", "Evaluation.from_scores"), threshold=0.9)

    def probabilities(self) -> pd.DataFrame:
        """P(disease) per case (rows) and evaluated target (columns)."""
        return pd.DataFrame(self._p, index=self._scores.index, columns=list(self.targets))

    @property
    def scores(self) -> pd.DataFrame:
        return self._scores.copy()

    @property
    def trace(self) -> pd.DataFrame | None:
        return None if self._trace is None else self._trace.copy()

    @property
    def n_cases(self) -> int:
        return int(self._p.shape[0])

    # -- the differential ---------------------------------------------------------------------
    def top_k(self) -> pd.DataFrame:
        """Top-k accuracy for every k = 1..number of targets.

        Diseases are ranked by probability. Over the cases with at least one disease present:
        ``any_in_top_k``, the fraction with some present disease among the k most probable, and
        ``all_in_top_k``, with every present disease among them. ``cases`` is their number.
        """
        diseased = self._y.any(axis=1)
        any_hit, all_hit = _metrics.top_k_hits(self._p[diseased], self._y[diseased])
        n = int(diseased.sum())
        with np.errstate(invalid="ignore"):
            frame = pd.DataFrame({
                "any_in_top_k": any_hit.mean(axis=0) if n else np.nan,
                "all_in_top_k": all_hit.mean(axis=0) if n else np.nan,
                "cases": n,
            }, index=pd.RangeIndex(1, len(self.targets) + 1, name="k"))
        return frame

    def summary(self) -> pd.Series:
        """The answer to each case in one line of numbers.

        The answer is the most probable disease, or "none" when no disease reaches
        ``none_threshold``. ``accuracy``: the answer is a present disease, or "none" for a case
        with none. ``none_correct``: among cases with no disease, the fraction answered "none";
        ``none_wrong``: among cases with a disease, the fraction answered "none".
        """
        top, none = _answers(self._p, self.none_threshold)
        truly_none = ~self._y.any(axis=1)
        correct = np.where(none, truly_none, self._y[np.arange(self.n_cases), top].astype(bool))
        with np.errstate(invalid="ignore"):
            return pd.Series({
                "cases": self.n_cases,
                "cases_with_disease": int((~truly_none).sum()),
                "cases_without": int(truly_none.sum()),
                "accuracy": float(correct.mean()),
                "top_1": float(self.top_k()["any_in_top_k"].iloc[0]),
                "none_correct": float(none[truly_none].mean()) if truly_none.any() else math.nan,
                "none_wrong": float(none[~truly_none].mean()) if (~truly_none).any() else math.nan,
                "none_threshold": self.none_threshold,
            }, name="value", dtype=float)

    # -- per disease ----------------------------------------------------------------------------
    def per_disease(self) -> pd.DataFrame:
        """One row per target: ``label``, ``cases``, ``present`` (count), ``prevalence``,
        ``mean_probability``, ``brier``, ``log_loss`` (nats), ``auroc`` (NaN when every case has
        the same truth), ``ece`` (expected calibration error over ``n_bins`` equal-width bins),
        ``ece_expected`` (the ECE a perfectly calibrated model would show on as many cases: the
        Monte Carlo floor) and ``calibration_p`` (p-value of the chi-square test of calibration;
        small means miscalibrated; see :func:`bayesdx._metrics.calibration_test`).

        A target with several non-reference states is scored one-vs-reference: P(not in the
        reference state) against "not in the reference state".
        """
        rows = []
        for j, target in enumerate(self.targets):
            y, p = self._y[:, j], self._p[:, j]
            expected, _, p_value = _metrics.calibration_test(y, p, self.n_bins)
            rows.append([self.network.label(target), y.size, int(y.sum()), float(y.mean()),
                         float(p.mean()), _metrics.brier(y, p), _metrics.log_loss(y, p),
                         _metrics.auroc(y, p), _metrics.expected_calibration_error(y, p, self.n_bins),
                         expected, p_value])
        return pd.DataFrame(rows, columns=DISEASE_COLUMNS,
                            index=pd.Index(self.targets, name="target"))

    def reliability(self, target: str) -> pd.DataFrame:
        """The reliability table of one target: per probability bin, ``count``,
        ``mean_predicted`` and ``observed`` (fraction present; NaN in empty bins)."""
        if target not in self.targets:
            raise UnknownNodeError(target, self.targets, network=f"{self.network.name} (evaluated)")
        j = self.targets.index(target)
        bins = _metrics.calibration_bins(self._y[:, j], self._p[:, j], self.n_bins)
        edges = np.linspace(0, 1, self.n_bins + 1)
        return pd.DataFrame({"low": edges[:-1], "high": edges[1:], "count": bins["count"].astype(int),
                             "mean_predicted": bins["mean_predicted"], "observed": bins["observed"]})

    # -- sequential -----------------------------------------------------------------------------
    def sequential(self) -> pd.DataFrame:
        """One row per policy: ``cases``, ``mean_tests`` and ``mean_cost_usd`` at stop,
        ``accuracy_at_stop``, ``reached_threshold`` (fraction of cases where every disease was
        decided, P >= ``threshold`` or <= 1 - ``threshold``, at some step), and, over those cases,
        ``mean_tests_to_threshold`` and ``mean_cost_to_threshold_usd``. Empty without
        ``sequential``."""
        columns = ["cases", "mean_tests", "mean_cost_usd", "accuracy_at_start", "accuracy_at_stop",
                   "reached_threshold", "mean_tests_to_threshold", "mean_cost_to_threshold_usd"]
        if self._trace is None:
            return pd.DataFrame(columns=columns, index=pd.Index([], name="policy"))
        rows = {}
        for name, trace in self._trace.groupby("policy", sort=False):
            last = trace.groupby("case", sort=False).tail(1)
            first = trace[trace["step"] == 0]
            reach = trace[trace["decided"]].groupby("case", sort=False).head(1)
            rows[name] = [len(last), last["step"].mean(), last["cum_cost_usd"].mean(),
                          first["correct"].mean(), last["correct"].mean(), len(reach) / len(last),
                          reach["step"].mean() if len(reach) else math.nan,
                          reach["cum_cost_usd"].mean() if len(reach) else math.nan]
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
        frame.index.name = "policy"
        return frame

    def cost_curve(self) -> pd.DataFrame:
        """Accuracy against cumulative cost, per policy (SDBench style): for each policy and
        each cost c at which some case's spending changes, the fraction of cases whose answer
        is correct after the tests they had done by cost c (a case that stopped keeps its last
        answer). Columns ``policy``, ``cost_usd``, ``accuracy``."""
        if self._trace is None:
            return pd.DataFrame(columns=["policy", "cost_usd", "accuracy"])
        parts = []
        for name, trace in self._trace.groupby("policy", sort=False):
            n = trace["case"].nunique()
            start = trace[trace["step"] == 0]
            later = trace[trace["step"] > 0].sort_values("cum_cost_usd", kind="stable")
            previous = trace.groupby("case", sort=False)["correct"].shift(1)
            delta = (later["correct"].astype(int) - previous.loc[later.index].astype(int))
            steps = pd.DataFrame({"cost_usd": later["cum_cost_usd"].to_numpy(),
                                  "change": delta.to_numpy()})
            steps = steps.groupby("cost_usd", sort=True)["change"].sum()
            accuracy = start["correct"].sum() + steps.cumsum()
            curve = pd.DataFrame({"cost_usd": np.r_[0.0, steps.index.to_numpy(dtype=float)],
                                  "accuracy": np.r_[start["correct"].sum(), accuracy.to_numpy()] / n})
            curve = curve.groupby("cost_usd", sort=True).tail(1)
            curve.insert(0, "policy", name)
            parts.append(curve)
        return pd.concat(parts, ignore_index=True)

    # -- display -----------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """Every number in one tidy frame: columns ``section`` (``summary``, ``top_k``,
        ``disease``, ``sequential``), ``item`` (the k, target or policy), ``metric``, ``value``."""
        parts = [pd.DataFrame({"section": "summary", "item": "", "metric": s.index, "value": s.values})
                 for s in [self.summary()]]
        for section, frame in (("top_k", self.top_k()),
                               ("disease", self.per_disease().drop(columns="label")),
                               ("sequential", self.sequential())):
            long = frame.astype(float).rename_axis("item").reset_index().melt(
                id_vars="item", var_name="metric", value_name="value")
            long.insert(0, "section", section)
            long["item"] = long["item"].astype(str)
            parts.append(long)
        return pd.concat(parts, ignore_index=True)

    def _display_disease(self) -> pd.DataFrame:
        frame = self.per_disease()
        frame.index = [self.network.label(t) for t in frame.index]
        return frame.drop(columns=["label", "cases", "ece_expected"]).round(3)

    def __repr__(self) -> str:
        from ._display_evaluate import format_evaluation

        return format_evaluation(self)

    def _repr_html_(self) -> str:
        html = [f"<p><b>Evaluation of {self.network.name}</b> on {self.n_cases} cases</p>",
                self.summary().to_frame().T.round(3).to_html(),
                self._display_disease().to_html(),
                self.top_k().round(3).T.to_html()]
        if self._trace is not None:
            html.append(self.sequential().round(3).to_html())
        return "\n".join(html)

    # -- plots ---------------------------------------------------------------------------------
    def plot_reliability(self, targets: Sequence[str] | None = None, *, ax=None):
        """Reliability diagram: observed frequency against mean probability per bin, one line per
        target (default: all evaluated), the diagonal for perfect calibration. Returns the Axes."""
        from ._plot_evaluate import plot_reliability

        return plot_reliability(self, targets, ax=ax)

    def plot_top_k(self, *, ax=None):
        """Top-k accuracy (any and all present diseases) against k. Returns the Axes."""
        from ._plot_evaluate import plot_top_k

        return plot_top_k(self, ax=ax)

    def plot_cost_curve(self, *, ax=None):
        """Accuracy against cumulative cost, one step curve per policy. Returns the Axes."""
        from ._plot_evaluate import plot_cost_curve

        return plot_cost_curve(self, ax=ax)


def _answers(p: np.ndarray, none_threshold: float):
    from ._sequential import answers

    return answers(p, none_threshold)


def _probability(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) \
            or not 0 < value <= 1:
        raise InvalidParameterError(f"The '{name}' parameter of evaluate must be a probability in "
                                    f"(0, 1]. Got {value!r} instead.")
    return float(value)


def evaluate(network: Network | str, cases: pd.DataFrame, truth: pd.DataFrame, *,
             none_threshold: float = 0.5, n_bins: int = 10, sequential=None, by: str = "order",
             stop: str = "rule", threshold: float = 0.9, max_tests: int | None = None,
             progress: Callable[[str, int, int], None] | None = None) -> Evaluation:
    """Evaluate a network on cases whose diagnoses are known.

    Parameters
    ----------
    network : Network or str
    cases : pandas.DataFrame
        One row per case, one column per finding (state labels); missing (NaN, None) means not
        observed. Target columns are refused (they belong in ``truth``).
        A Dask DataFrame (with ``truth`` one of the same partitions) is scored on its cluster,
        partition by partition (:func:`bayesdx.distributed.evaluate`; not with ``sequential``).
    truth : pandas.DataFrame
        Same index as ``cases`` (any row order), one column per target evaluated, values are the
        target's true state; a disease is *present* when its state is not the target's reference
        state (a multi-state target is scored one-vs-reference). Several diseases, or none, may
        be present in a case. Targets left out of ``truth`` are not evaluated, nor ranked in the
        differential (top-k and the answer are over the targets of ``truth``).
    none_threshold : float, default 0.5
        The answer to a case is "none" when no disease's probability reaches this; otherwise it
        is the most probable disease.
    n_bins : int, default 10
        Equal-width probability bins for the calibration figures.
    sequential : objective, list of names, or dict, optional
        Replay each case test by test. An objective of :func:`bayesdx.diagnose` (``"information"``,
        ``"decision"``, an :class:`~bayesdx.Objective`), a list of such, a list of order names
        (``by="node"``: test names) taken in that order, or a dict ``{policy name: either}``.
        Each case starts from its findings no order reads (the context); an order is *available*
        when the case records at least one of its readouts, and revealing it reveals those it
        records (a readout missing from the case stays unknown); unavailable orders are skipped.
    by : {"order", "node"}
        Policies choose test orders (cost: the order's ``cost_usd``) or single tests (the test's
        cost); unknown costs count as 0.
    stop : {"rule", "threshold"}
        ``"rule"``: stop when the objective's stopping rule (``Diagnosis.should_stop``) says so,
        over the orders still available to the case (a fixed list runs to its end);
        ``"threshold"``: stop once every disease is decided (probability >= ``threshold`` or
        <= 1 - ``threshold``). Every policy also stops when no available order is left.
    threshold : float, default 0.9
        The probability at which a disease counts as decided; the tests and cost to reach it are
        reported under both stop modes.
    max_tests : int, optional
        At most this many steps per case.
    progress : callable, optional
        Called as ``progress(policy, cases_finished, cases)`` during sequential runs.

    Returns
    -------
    Evaluation

    Raises
    ------
    UnknownNodeError
        A column of ``cases`` that is not a node, or of ``truth`` that is not a target.
    UnknownStateError
        A value that is not a state of its column (in cases or truth).
    InvalidEvidenceError
        Empty cases, truth misaligned with cases or incomplete, or a target among the findings.
    ImpossibleEvidenceError
        A case whose findings have probability zero.

    Examples
    --------
    >>> import bayesdx
    >>> net = bayesdx.load_network("fasciculation")
    >>> cases, truth = bayesdx.simulate(net, 300, seed=1)
    >>> ev = bayesdx.evaluate(net, cases, truth)
    >>> bool(ev.per_disease().loc["als", ["brier", "auroc"]].between(0, 1).all())
    True
    >>> bool(ev.top_k()["any_in_top_k"].is_monotonic_increasing)
    True
    >>> slow = bayesdx.evaluate(net, cases[:20], truth[:20], sequential="decision", max_tests=2)
    >>> list(slow.sequential().index)
    ['decision']
    """
    network = _network(network)
    none_threshold = _probability(none_threshold, "none_threshold")
    n_bins = _check_count(n_bins, "n_bins", "evaluate")
    from .distributed import is_dask_dataframe

    if is_dask_dataframe(cases):  # per-partition scores on the cluster, aggregated here
        if sequential is not None:
            raise InvalidParameterError("The 'sequential' parameter of evaluate is not available "
                                        "for Dask DataFrames; compute the cases first.")
        from . import distributed

        return distributed.evaluate(network, cases, truth, none_threshold=none_threshold,
                                    n_bins=n_bins)
    if by not in ("order", "node"):
        raise InvalidParameterError(f"The 'by' parameter of evaluate must be 'order' or 'node'. "
                                    f"Got {by!r} instead.")
    if stop not in ("rule", "threshold"):
        raise InvalidParameterError(f"The 'stop' parameter of evaluate must be 'rule' or "
                                    f"'threshold'. Got {stop!r} instead.")
    threshold = _probability(threshold, "threshold")
    if max_tests is not None:
        max_tests = _check_count(max_tests, "max_tests", "evaluate", low=0)
    targets, present = check_truth(network, cases, truth)
    scores = _scores(network, cases, present)
    trace = None
    if sequential is not None:
        from ._sequential import resolve_policies, run_policy

        policies = resolve_policies(sequential, network, by)
        shared: dict = {}  # one diagnosis per evidence, whatever the policy
        targets_list = list(targets)

        def probabilities(evidences):
            frame = pd.DataFrame.from_records(evidences, index=range(len(evidences)))
            return disease_probabilities(network, frame, targets_list)

        trace = pd.concat([
            run_policy(network, cases, present.to_numpy(), targets_list, policy, by=by, stop=stop,
                       threshold=threshold, max_tests=max_tests, none_threshold=none_threshold,
                       probabilities=probabilities, progress=progress, shared=shared)
            for policy in policies], ignore_index=True)
    return Evaluation(network, targets, scores, none_threshold=none_threshold, n_bins=n_bins,
                      threshold=threshold, trace=trace)


def evaluate_self(network: Network | str, n: int = 2000, *, seed=None, missing: float = 0.0,
                  **options) -> Evaluation:
    """Evaluate a network on ``n`` cases simulated from itself (:func:`bayesdx.simulate`).

    A sanity check: a network's probabilities are calibrated for its own cases, so every
    target's ``ece`` should be near ``ece_expected`` (the Monte Carlo floor) and its
    ``calibration_p`` not small. Options are passed to :func:`evaluate`.

    Examples
    --------
    >>> import bayesdx
    >>> check = bayesdx.evaluate_self("fasciculation", n=2000, seed=0)
    >>> bool((check.per_disease()["calibration_p"] > 1e-4).all())
    True
    """
    from .simulate import simulate

    network = _network(network)
    cases, truth = simulate(network, n, seed=seed, missing=missing)
    keep = [t for t in truth.columns if network.has_reference_state(t)]
    return evaluate(network, cases, truth[keep], **options)
