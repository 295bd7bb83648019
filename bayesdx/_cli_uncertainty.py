"""``bayesdx diagnose --uncertainty [DRAWS]`` and ``--sensitivity``: how sure the answer is, from
the stated ranges of the network's numbers (:func:`bayesdx.uncertainty`), and which numbers move
the recommendation (:func:`bayesdx.sensitivity.tornado`, :func:`~bayesdx.sensitivity.admissible_deviations`).
"""

from __future__ import annotations

import argparse
import math
import warnings

from .uncertainty import MAX_DRAWS  # the command line takes what the function takes

__all__ = ["MAX_DRAWS", "add_uncertainty_options", "how_sure"]

DEFAULT_DRAWS = 1000
#: Rows of the tornado, and numbers whose admissible deviation is searched.
TORNADO_ROWS, ADMISSIBLE_ROWS = 8, 5


def _draws(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of draws from 1 to {MAX_DRAWS:,}, "
                                         f"got {text!r}") from None
    if not 1 <= value <= MAX_DRAWS:
        raise argparse.ArgumentTypeError(f"the number of draws must be from 1 to {MAX_DRAWS:,}, "
                                         f"got {value}")
    return value


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a probability strictly between 0 and 1 "
                                         f"(e.g. 0.9), got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def add_uncertainty_options(parser: argparse.ArgumentParser) -> None:
    """The options of "how sure are we?" on a subcommand that diagnoses."""
    group = parser.add_argument_group("how sure are we? (from the stated range of every number)")
    group.add_argument("--uncertainty", nargs="?", const=DEFAULT_DRAWS, default=None, type=_draws,
                       metavar="DRAWS",
                       help=f"credible intervals of each disease's probability and of each "
                            f"order's value, and how often each order is the top recommendation, "
                            f"over DRAWS draws of the network's numbers (default {DEFAULT_DRAWS}, "
                            f"at most {MAX_DRAWS:,})")
    group.add_argument("--sensitivity", action="store_true",
                       help="the numbers that move the top order's margin most across their "
                            "stated ranges, and where each can go before another order is on top")
    group.add_argument("--seed", type=_seed, default=None, metavar="N",
                       help="seed of the draws, to reproduce them (default: a fresh seed, printed)")
    group.add_argument("--level", type=_level, default=0.9, metavar="P",
                       help="probability of the central credible intervals (default 0.9)")


def _records(frame, index: str | None = None) -> list[dict]:
    if index is not None:
        frame = frame.reset_index().rename(columns={frame.index.name or "index": index})
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


class HowSure:
    """What ``--uncertainty`` / ``--sensitivity`` found: frames, notes, text and JSON."""

    def __init__(self, network, u, tornado, admissible, notes, top: int = 10):
        self.network, self.u, self.tornado, self.admissible = network, u, tornado, admissible
        self.notes, self.top = notes, top

    def lines(self, width: int, names: bool) -> list[str]:
        from ._display_uncertainty import admissible_lines, tornado_lines, uncertainty_lines
        from ._text import wrap

        out: list[str] = []
        if self.u is not None:
            out += uncertainty_lines(self.u, width=width, names=names, top=self.top)
        if self.tornado is not None:
            out += [""] if out else []
            out += tornado_lines(self.tornado, self.network, width=width, names=names)
            if self.admissible is not None and len(self.admissible):
                out.append("")
                out += admissible_lines(self.admissible, self.network, width=width, names=names)
        for note in self.notes:
            out += wrap(f"Note: {note}", width, "", "  ")
        return out

    def data(self) -> dict:
        from ._display_uncertainty import disease_intervals

        out: dict = {}
        if self.u is not None:
            u = self.u
            out["uncertainty"] = {"draws": u.draws, "seed": u.seed, "level": u.level,
                                  "prob_top": u.prob_top,
                                  "diseases": _records(disease_intervals(u)),
                                  "posteriors": _records(u.posteriors),
                                  "orders": _records(u.orders), "actions": _records(u.actions)}
        if self.tornado is not None:
            out["sensitivity"] = {
                "quantity": str(self.tornado["quantity"].iloc[0]) if len(self.tornado) else None,
                "tornado": _records(self.tornado, "param"),
                "admissible": _records(self.admissible, "param")
                if self.admissible is not None else []}
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def how_sure(args, network, evidence, dx) -> HowSure | None:
    """Run what ``--uncertainty`` and ``--sensitivity`` ask for on the diagnosis ``dx`` (None when
    neither is given)."""
    from .exceptions import BayesdxError

    wanted = args.uncertainty is not None or args.sensitivity
    if not wanted:
        if args.seed is not None:
            raise BayesdxError("--seed goes with --uncertainty.")
        if args.level != 0.9:
            raise BayesdxError("--level goes with --uncertainty.")
        return None
    if args.by != "order":
        raise BayesdxError("--uncertainty and --sensitivity rank test orders: drop --by node.")
    notes: list[str] = []
    u = tornado = admissible = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if args.uncertainty is not None:
            import numpy as np

            from .uncertainty import uncertainty

            seed = args.seed if args.seed is not None else int(np.random.SeedSequence().entropy
                                                               % 2**32)
            u = uncertainty(network, evidence=evidence, draws=args.uncertainty, seed=seed,
                            level=args.level, objective=dx.objective)
        if args.sensitivity:
            from .sensitivity import admissible_deviations, tornado as tornado_of

            if dx.next_test is None:
                notes.append("every test is observed: there is no recommendation to test.")
            else:
                tornado = tornado_of(network, evidence=evidence, quantity="top_margin",
                                     top=TORNADO_ROWS, objective=dx.objective)
                rows = [i for i in tornado.index[:ADMISSIBLE_ROWS]
                        if not math.isnan(float(tornado.loc[i, "swing"]))]
                if rows:
                    admissible = admissible_deviations(network, evidence=evidence, parameters=rows,
                                                       objective=dx.objective)
    notes += list(dict.fromkeys(str(w.message) for w in caught
                                if issubclass(w.category, UserWarning)))
    return HowSure(network, u, tornado, admissible, notes, top=getattr(args, "top", 10))
