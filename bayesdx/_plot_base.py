"""Shared pieces of bayesdx's figures: colours and small helpers (private)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

PRIOR_COLOR, POST_COLOR = "#b9c7d8", "#3572b0"
ROLE_COLORS = {"context": "#e4dcf0", "target": "#fbe0c8", "latent": "#e8e8e8",
               "finding": "#d6e8f5", "test": "#d6e8f5", "other": "#e8eee0"}
KIND_COLORS = {"history": "#b7a32f", "exam": "#d9822b", "lab": "#3a9b5c",
               "electrodiagnostic": "#3572b0", "imaging": "#c2444e", "pathology": "#8f5ab0"}


# -- helpers ------------------------------------------------------------------------------------
def _new_ax(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _reference_index(network, node: str) -> int:
    return network.states(node).index(network.reference_state(node))


def _evidence_text(evidence: Mapping[str, str], network, width: int = 80,
                   prefix: str = "given ") -> str:
    """The evidence as ``Label: state; ...``, wrapped."""
    if not evidence:
        return prefix + "no evidence"
    from ._text import Names

    return "\n".join(textwrap.wrap(prefix + Names(network).evidence(evidence), width))


def _set_title(ax, head: str, evidence: Mapping[str, str], prefix: str = "given ", *, network,
               **kw):
    """Title with the evidence by label wrapped to the width of the Axes (about 12 characters an
    inch)."""
    width_in = ax.get_position().width * ax.figure.get_figwidth()
    text = _evidence_text(evidence, network, max(30, int(12 * width_in)), prefix)
    ax.set_title(f"{head}\n{text}", fontsize="medium", wrap=True, **kw)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _check_targets(network, targets):
    if targets is None:
        return list(network.targets)
    targets = [targets] if isinstance(targets, str) else list(targets)
    for t in targets:
        if t not in network.targets:
            network.check_node(t)
            raise ValueError(f"'{t}' is not a target of network '{network.name}'; "
                             f"targets: {', '.join(network.targets)}.")
    return targets


def _rows(network, targets):
    """(label, target, state index) for each non-reference state of each target: the target's
    label, with the state for a multi-state target ("Thyroid disease: overt_hypo")."""
    def label(t, state):
        return network.label(t) if len(network.states(t)) == 2 else f"{network.label(t)}: {state}"

    return [(label(t, state), t, i)
            for t in targets for i, state in enumerate(network.states(t))
            if i != _reference_index(network, t)]


def _diagnoses_of(session_or_history):
    from .results import Diagnosis

    if hasattr(session_or_history, "diagnoses"):
        return list(session_or_history.diagnoses)
    items = list(session_or_history)
    if not items or not all(isinstance(d, Diagnosis) for d in items):
        raise TypeError("plot_trajectory takes a Session or a non-empty sequence of Diagnosis "
                        f"objects; got {type(session_or_history).__name__}.")
    return items


def _step_labels(diagnoses):
    """"start", then the finding(s) each step added, by label ("Fever: present")."""
    network = diagnoses[0].network
    labels = ["start"]
    for before, after in zip(diagnoses, diagnoses[1:]):
        new = [f"{network.label(k)}: {v}" for k, v in after.evidence.items()
               if before.evidence.get(k) != v]
        labels.append("; ".join(new) or "(same)")
    return labels
