"""The result of :func:`bayesdx.plan` (private; use ``bayesdx.Policy``): a testing policy as a
tree of steps, with its table, text, HTML and JSON forms."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from .decision import DecisionModel
from .orders import Order

__all__ = ["Policy", "PolicyNode"]


@dataclass(frozen=True, eq=False)
class PolicyNode:
    """One step of a testing policy: an order to place, or stop and act.

    Attributes
    ----------
    depth : int
        Orders done before this step (0 at the root).
    outcome : mapping of str to str
        The result ``{readout: state}`` of the previous order that led here (empty at the root).
    evidence : mapping of str to str
        Everything the policy has learnt on the way here (the starting evidence excluded).
    probability : float
        P(reaching this step), from the start.
    branch_probability : float
        P(``outcome`` | reaching the parent step); 1 at the root.
    order : Order or None
        The order placed here; None means stop.
    actions : tuple of str
        At a stop, the actions taken (names); empty when testing or when no action pays.
    action_probs : mapping of str to float
        P(each action's target is in the action's states | evidence here).
    value_utils : float
        Expected utility from here on, net of the costs of the orders still to come.
    cost_usd, cost_utils : float
        Expected cost of the orders from here on (an unknown money cost counts as 0).
    tests : float
        Expected number of orders from here on.
    children : tuple of PolicyNode
        One per possible result of ``order``.
    """

    depth: int
    outcome: Mapping[str, str]
    evidence: Mapping[str, str]
    probability: float
    branch_probability: float
    order: Order | None
    actions: tuple[str, ...]
    action_probs: Mapping[str, float]
    value_utils: float
    cost_usd: float
    cost_utils: float
    tests: float
    children: tuple[PolicyNode, ...] = field(default=(), repr=False)

    @property
    def is_stop(self) -> bool:
        """True where the policy stops testing and acts."""
        return self.order is None

    def walk(self):
        """This node and every node below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, eq=False)
class Policy:
    """A testing policy and what it is expected to achieve (see :func:`plan`).

    Attributes
    ----------
    network : Network
    evidence : mapping of str to str
        The evidence the policy starts from.
    orders : tuple of Order
        The orders the policy could choose among.
    decision_model : DecisionModel
    horizon : int or None
        None for the exact optimal policy, k for the k-step look-ahead policy.
    root : PolicyNode
        The first step; the tree below it is the whole policy.
    stop_utility : float
        Expected utility of acting now, without any test (MEU).
    evpi_utils : float
        Expected value of perfect information about the targets now: no policy gains more.
    myopic : Policy or None
        The one-step policy on the same problem (None when this policy is the one-step one).
    method : str
        How outcome tables were computed: ``"factored"`` (the orders' results are independent
        given the targets and a few parents, so a few engine queries at the start give every
        later posterior) or ``"engine"`` (engine queries at every evidence state).
    n_evaluations : int
        Posterior evaluations: evidence states at which the outcome tables of the candidate
        orders were computed (this policy and the myopic one together).
    n_queries : int
        Engine queries (``joint_query`` / ``group_joint`` calls) among them.
    n_states : int
        Distinct evidence states searched.
    estimated_states : int
        The bound on evidence states checked against ``max_states`` before the search.
    seconds : float
        Wall-clock time of the search.

    Examples
    --------
    >>> import bayesdx
    >>> net = bayesdx.load_network("fasciculation")
    >>> refer = bayesdx.DecisionModel(
    ...     [bayesdx.Action("refer", "als", ["present"], benefit=0.15, harm=0.005)],
    ...     usd_per_util=100_000)
    >>> policy = bayesdx.plan(net, evidence={"fasciculations_exam": "present"},
    ...                       orders=[bayesdx.Order("ck", ["ck"], label="CK", cost_usd=7)],
    ...                       decision_model=refer)
    >>> frame = policy.to_frame()
    >>> float(frame.loc[frame["step"] == "stop", "p_reach"].sum())  # every path ends in a stop
    1.0
    >>> policy.myopic_regret >= 0
    True
    """

    network: object
    evidence: Mapping[str, str]
    orders: tuple[Order, ...]
    decision_model: DecisionModel
    horizon: int | None
    root: PolicyNode
    stop_utility: float
    evpi_utils: float
    myopic: Policy | None
    method: str
    n_evaluations: int
    n_queries: int
    n_states: int
    estimated_states: int
    seconds: float

    # -- summaries ---------------------------------------------------------------------------
    @property
    def optimal(self) -> bool:
        """True for the exact optimal policy (``horizon=None``)."""
        return self.horizon is None

    @property
    def expected_utility(self) -> float:
        """Expected utility of following the policy, net of the orders' costs and risks."""
        return self.root.value_utils

    @property
    def expected_cost_usd(self) -> float:
        return self.root.cost_usd

    @property
    def expected_cost_utils(self) -> float:
        """Expected money (at ``usd_per_util``) plus risk of the orders placed, in utils."""
        return self.root.cost_utils

    @property
    def expected_tests(self) -> float:
        """Expected number of orders placed."""
        return self.root.tests

    @property
    def value_of_testing(self) -> float:
        """Expected utility gained by following the policy rather than acting now (>= 0)."""
        return self.expected_utility - self.stop_utility

    @property
    def first_order(self) -> Order | None:
        """The order to place now, or None when the policy stops at once."""
        return self.root.order

    @property
    def myopic_expected_utility(self) -> float:
        """Expected utility of the one-step policy on the same problem."""
        return self.expected_utility if self.myopic is None else self.myopic.expected_utility

    @property
    def myopic_regret(self) -> float:
        """Optimal minus one-step expected utility (>= 0); NaN unless the policy is optimal."""
        if not self.optimal:
            return math.nan
        return max(self.expected_utility - self.myopic_expected_utility, 0.0)

    @property
    def unit(self) -> str:
        return self.decision_model.utility_unit

    # -- tables ------------------------------------------------------------------------------
    def to_frame(self):
        """One row per step of the policy tree, depth first.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``node`` (0 = the root), with ``parent`` (-1 at the root), ``depth``,
            ``path`` (the orders and results leading here), ``outcome``, ``p_branch``,
            ``p_reach``, ``step`` (``"order"`` or ``"stop"``), ``order``, ``label``,
            ``order_cost_usd``, ``actions`` (taken at a stop), ``value_utils``, ``cost_usd``,
            ``cost_utils`` and ``tests`` (expected from here on).
        """
        import pandas as pd

        rows = []

        def visit(node, parent, path):
            me = len(rows)
            order = node.order
            rows.append({
                "node": me, "parent": parent, "depth": node.depth, "path": path,
                "outcome": self.outcome_text(node.outcome), "p_branch": node.branch_probability,
                "p_reach": node.probability, "step": "stop" if order is None else "order",
                "order": "" if order is None else order.name,
                "label": self._step_text(node, cost=False),
                "order_cost_usd": math.nan if order is None else order.cost_usd,
                "actions": ", ".join(node.actions), "value_utils": node.value_utils,
                "cost_usd": node.cost_usd, "cost_utils": node.cost_utils, "tests": node.tests,
            })
            for child in node.children:
                step = f"{order.label}: {self.outcome_text(child.outcome)}"
                visit(child, me, f"{path} > {step}" if path else step)

        visit(self.root, -1, "")
        return pd.DataFrame(rows).set_index("node")

    def to_dict(self) -> dict:
        """The policy as plain JSON-ready data (the tree nested under ``"tree"``)."""
        def clean(v):
            return None if isinstance(v, float) and math.isnan(v) else v

        def node(n):
            return {
                "outcome": dict(n.outcome), "p_branch": n.branch_probability,
                "p_reach": n.probability, "order": None if n.order is None else n.order.name,
                "label": None if n.order is None else n.order.label, "actions": list(n.actions),
                "value_utils": n.value_utils, "cost_usd": n.cost_usd, "tests": n.tests,
                "children": [node(c) for c in n.children],
            }

        return {
            "network": self.network.name, "evidence": dict(self.evidence),
            "orders": [o.name for o in self.orders], "horizon": self.horizon,
            "optimal": self.optimal, "utility_unit": self.unit,
            "expected_utility": self.expected_utility, "stop_utility": self.stop_utility,
            "evpi_utils": self.evpi_utils, "expected_cost_usd": self.expected_cost_usd,
            "expected_cost_utils": self.expected_cost_utils, "expected_tests": self.expected_tests,
            "first_order": None if self.first_order is None else self.first_order.name,
            "myopic_expected_utility": self.myopic_expected_utility,
            "myopic_first_order": (None if self.myopic is None or self.myopic.first_order is None
                                   else self.myopic.first_order.name),
            "myopic_regret": clean(self.myopic_regret),
            "method": self.method, "n_evaluations": self.n_evaluations,
            "n_queries": self.n_queries, "n_states": self.n_states,
            "estimated_states": self.estimated_states, "seconds": self.seconds,
            "tree": node(self.root),
        }

    # -- text --------------------------------------------------------------------------------
    def outcome_text(self, outcome: Mapping[str, str], *, brief: bool = False,
                     chars: int | None = None) -> str:
        """A result ``{readout: state}`` as text, with node labels.

        ``brief=True`` names only the readouts away from their healthy state
        (:meth:`Network.reference_state <bayesdx.Network.reference_state>`), adding "(rest
        normal)" or saying "all normal"; ``chars`` shortens each label.
        """
        def name(node):
            label = self.network.label(node)
            return label if chars is None or len(label) <= chars else label[:chars - 1] + "\u2026"

        if not brief or len(outcome) == 1:
            return ", ".join(f"{name(r)} = {s}" for r, s in outcome.items())
        odd = [f"{name(r)} = {s}" for r, s in outcome.items()
               if s != self.network.reference_state(r)]
        if not odd:
            return "all normal"
        return ", ".join(odd) + (" (rest normal)" if len(odd) < len(outcome) else "")

    def _step_text(self, node: PolicyNode, cost: bool = True) -> str:
        if node.order is None:
            labels = {a.name: a.label for a in self.decision_model.actions}
            acts = ", ".join(labels[a] for a in node.actions) or "no action"
            return f"STOP: {acts}"
        price = "" if not cost or math.isnan(node.order.cost_usd) else f"  [${node.order.cost_usd:,.0f}]"
        return f"{node.order.label}{price}"

    def summary(self) -> str:
        """The header of the text form: what was planned and what it is expected to achieve."""
        kind = ("exact optimal policy" if self.optimal
                else f"{self.horizon}-step look-ahead policy" if self.horizon > 1
                else "one-step (myopic) policy")
        from ._text import Names

        ev = Names(self.network).evidence(self.evidence)
        f = _num
        lines = [f"Testing policy on {self.network.name}: {kind} over {len(self.orders)} orders",
                 f"Given: {ev}",
                 f"Expected utility {f(self.expected_utility)} {self.unit} "
                 f"(act now: {f(self.stop_utility)}; gain {f(self.value_of_testing)}; "
                 f"EVPI {f(self.evpi_utils)})"]
        if self.myopic is not None or self.optimal:
            myopic = self.myopic or self
            first = myopic.first_order.label if myopic.first_order is not None else "stop"
            regret = f", regret {f(self.myopic_regret)}" if self.optimal else ""
            lines.append(f"One-step (myopic) policy: {f(self.myopic_expected_utility)}{regret}; "
                         f"it starts with: {first}")
        lines.append(f"Expected cost ${self.expected_cost_usd:,.2f} ({f(self.expected_cost_utils)} "
                     f"{self.unit} with risks); expected orders {self.expected_tests:.2f}")
        lines.append(f"Search ({self.method}): {self.n_evaluations:,} posterior evaluations "
                     f"({self.n_queries:,} engine queries), {self.n_states:,} evidence states "
                     f"(bound {self.estimated_states:,}), {self.seconds:.2f} s")
        return "\n".join(lines)

    def tree_text(self, *, max_depth: int = 4, max_branches: int = 8,
                  max_lines: int | None = 60) -> str:
        """The policy tree as indented text, one line per step.

        Parameters
        ----------
        max_depth : int, default 4
            Orders shown along any path; deeper steps are summarised.
        max_branches : int, default 8
            Results shown under each order (the most probable); the rest are summarised.
        max_lines : int or None, default 60
            Lines shown at most (None: all).
        """
        lines = [self._step_text(self.root)]

        def visit(node, prefix):
            kids = list(node.children)
            if not kids:
                return
            if node.depth >= max_depth:
                lines.append(f"{prefix}`-- ... {len(kids)} results, {_count(node) - 1} steps below")
                return
            shown = kids
            if len(kids) > max_branches:
                keep = set(sorted(range(len(kids)), key=lambda i: -kids[i].branch_probability)
                           [:max_branches])
                shown = [k for i, k in enumerate(kids) if i in keep]
            hidden = [k for k in kids if k not in shown]
            for j, child in enumerate(shown):
                last = j == len(shown) - 1 and not hidden
                lines.append(f"{prefix}{'`-- ' if last else '|-- '}"
                             f"{self.outcome_text(child.outcome, brief=True)} (p={child.branch_probability:.3g})"
                             f": {self._step_text(child)}")
                visit(child, prefix + ("    " if last else "|   "))
            if hidden:
                p = sum(k.branch_probability for k in hidden)
                lines.append(f"{prefix}`-- ... {len(hidden)} more results (p={p:.3g})")

        visit(self.root, "")
        if max_lines is not None and len(lines) > max_lines:
            more = len(lines) - max_lines
            lines = lines[:max_lines] + [f"... {more} more lines (tree_text(max_lines=None) shows "
                                         f"them all)"]
        return "\n".join(lines)

    def to_text(self, *, max_depth: int = 4, max_branches: int = 8,
                max_lines: int | None = 60, width: int = 80) -> str:
        """:meth:`summary` and :meth:`tree_text` together, in at most ``width`` columns (longer
        lines wrapped under their indent)."""
        from ._text import MIN_WIDTH, fit

        text = self.summary() + "\n\n" + self.tree_text(
            max_depth=max_depth, max_branches=max_branches, max_lines=max_lines)
        return "\n".join(fit(text.splitlines(), max(int(width), MIN_WIDTH)))

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        frame = self.to_frame()
        head = "<br>".join(html.escape(line) for line in self.summary().splitlines())
        table = frame.drop(columns=["parent"]).to_html(
            max_rows=40, na_rep="", float_format=lambda v: f"{v:.4g}")
        return (f"<div><p>{head}</p><pre>{html.escape(self.tree_text(max_depth=3))}</pre>"
                f"{table}</div>")


def _num(value: float) -> str:
    return f"{value:.4g}"


def _count(node: PolicyNode) -> int:
    return sum(1 for _ in node.walk())
