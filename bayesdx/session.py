"""A stepwise diagnostic session: add findings one at a time and keep every intermediate answer.

A :class:`Session` is the workflow of a teaching case: start from what is known, ask for the next
test, enter its result, look at how the posteriors moved, undo, try another branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pandas as pd

from .exceptions import BayesdxError
from .network import Network
from .results import Diagnosis, diagnose

__all__ = ["Session", "AlreadyObservedError"]

START = "start"


class AlreadyObservedError(BayesdxError, ValueError):
    """A finding was added for a node that the session has already observed."""


class Session:
    """A stepwise diagnostic session over one network.

    Each :meth:`add` enters one finding and computes a new :class:`~bayesdx.Diagnosis`; every
    intermediate diagnosis is kept, so the session can be undone, replayed and plotted
    (:func:`bayesdx.plotting.plot_trajectory`).

    Parameters
    ----------
    network : Network or str
        A loaded network, or a bundled network name.
    evidence : mapping of str to str, optional
        What is known before the first step (e.g. age and sex). This is step 0.
    objective, by, orders, decisions
        How every step ranks the next test, as in :func:`bayesdx.diagnose`.

    Attributes
    ----------
    network : Network

    Raises
    ------
    ImpossibleEvidenceError
        The starting evidence has probability zero.

    Notes
    -----
    A node can be observed once. Adding a finding for a node that is already observed raises
    :class:`AlreadyObservedError`; to change a result, :meth:`undo` back to before it.

    Examples
    --------
    >>> import bayesdx
    >>> from bayesdx.session import Session
    >>> net = bayesdx.load_network("fasciculation")
    >>> s = Session(net, evidence={"age_band": "age_ge_70"})
    >>> dx = s.add("fasciculations_exam", "present")
    >>> s.history
    [('fasciculations_exam', 'present')]
    >>> len(s.diagnoses)
    2
    >>> s.next_test in {order.name for order in net.orders}
    True
    >>> _ = s.undo()
    >>> s.history
    []
    """

    def __init__(self, network: Network | str, *, evidence: Mapping[str, str] | None = None,
                 objective=None, by: str = "order", orders=None, decisions=None):
        from .io import as_network

        network = as_network(network)
        self.network = network
        self._options = MappingProxyType({"objective": objective, "by": by, "orders": orders,
                                          "decisions": decisions})
        self._steps: list[tuple[str, str]] = []
        self._diagnoses: list[Diagnosis] = [diagnose(network, evidence=evidence, **self._options)]

    # -- stepping ----------------------------------------------------------------------------
    def add(self, node: str, state: str) -> Diagnosis:
        """Enter one finding ``node = state`` and return the new diagnosis.

        Parameters
        ----------
        node : str
            Any node of the network (usually a test).
        state : str
            One of the node's state labels.

        Returns
        -------
        Diagnosis
            The diagnosis given all evidence so far (also :attr:`current`).

        Raises
        ------
        UnknownNodeError, UnknownStateError
            Names the network does not have (with the closest valid names).
        AlreadyObservedError
            ``node`` is already observed in this session.
        ImpossibleEvidenceError
            The finding makes the evidence impossible. The session is left unchanged.
        """
        self.network.check_state(node, state)  # checks the node too
        state = str(state)
        current = self.current.evidence
        if node in current:
            raise AlreadyObservedError(
                f"'{node}' is already observed as '{current[node]}' in this session; cannot add "
                f"'{node}={state}'. Use undo() to go back before it, or start a new Session."
            )
        new = diagnose(self.network, evidence={**current, node: state}, **self._options)
        self._steps.append((node, state))
        self._diagnoses.append(new)
        return new

    def undo(self) -> Diagnosis:
        """Remove the last finding and return the diagnosis before it.

        Raises
        ------
        IndexError
            There is no step to undo (the session is at its starting evidence).
        """
        if not self._steps:
            raise IndexError("Nothing to undo: the session is at its starting evidence (step 0).")
        self._steps.pop()
        self._diagnoses.pop()
        return self.current

    def reset(self) -> Diagnosis:
        """Remove every finding added since the start and return the starting diagnosis."""
        del self._steps[:]
        del self._diagnoses[1:]
        return self.current

    # -- state -------------------------------------------------------------------------------
    @property
    def history(self) -> list[tuple[str, str]]:
        """The findings added, in order, as ``(node, state)`` pairs (a copy)."""
        return list(self._steps)

    @property
    def diagnoses(self) -> list[Diagnosis]:
        """The diagnosis after each step; ``diagnoses[0]`` is the starting evidence (a copy)."""
        return list(self._diagnoses)

    @property
    def current(self) -> Diagnosis:
        """The latest diagnosis."""
        return self._diagnoses[-1]

    @property
    def start_evidence(self) -> Mapping[str, str]:
        """The evidence of step 0."""
        return self._diagnoses[0].evidence

    @property
    def evidence(self) -> Mapping[str, str]:
        """All evidence so far: the starting evidence and every finding added."""
        return MappingProxyType(dict(self.current.evidence))

    @property
    def objective(self):
        """What the ranking maximises (:class:`~bayesdx.Objective`)."""
        return self.current.objective

    @property
    def ranking(self) -> pd.DataFrame:
        """The orders (or tests) with an unobserved readout, ranked by the objective, given all
        evidence so far."""
        return self.current.ranking

    @property
    def next_test(self) -> str | None:
        """The best order (or test) now (None when none is left)."""
        return self.current.next_test

    @property
    def should_stop(self) -> bool:
        """Whether the objective's stopping rule says to stop testing now."""
        return self.current.should_stop

    @property
    def stop_reason(self) -> str:
        """The stopping rule's verdict now, in words."""
        return self.current.stop_reason

    def __len__(self) -> int:
        return len(self._steps)

    # -- tables ------------------------------------------------------------------------------
    def step_labels(self) -> list[str]:
        """A label per step: ``"start"``, then ``"node=state"`` for each finding added."""
        return [START] + [f"{n}={s}" for n, s in self._steps]

    def to_frame(self) -> pd.DataFrame:
        """Tidy table of every target's posterior after each step.

        Returns
        -------
        pandas.DataFrame
            Columns ``step`` (0 = starting evidence), ``finding`` (``"start"`` or
            ``"node=state"``), ``target``, ``state``, ``posterior``.
        """
        frames = []
        for step, (label, dx) in enumerate(zip(self.step_labels(), self._diagnoses)):
            frame = dx.to_frame()[["target", "state", "posterior"]]
            frame.insert(0, "finding", label)
            frame.insert(0, "step", step)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    # -- display -----------------------------------------------------------------------------
    def __repr__(self) -> str:
        from ._display import session_text

        return session_text(self)

    def _repr_html_(self) -> str:
        from ._display import session_html

        return session_html(self)
