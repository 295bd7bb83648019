"""What the command line's subcommand modules share (:mod:`bayesdx.cli`, and the subcommands
kept in modules of their own, such as :mod:`bayesdx._cli_evaluate`): JSON output that is always
valid, and the width and naming options of text output. Kept apart so that a subcommand module
never imports :mod:`bayesdx.cli`, which imports it."""

from __future__ import annotations

import json
import math

from ._text import DEFAULT_WIDTH, WIDE

__all__ = ["dumps_json", "text_options"]


def _json_safe(value, path: str = "$", replaced: list | None = None):
    """``value`` with every NaN or infinite float replaced by None (JSON null), recording where in
    ``replaced``; tuples become lists and numpy scalars Python ones."""
    if isinstance(value, dict):
        return {k: _json_safe(v, f"{path}.{k}", replaced) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, f"{path}[{i}]", replaced) for i, v in enumerate(value)]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        if replaced is not None:
            replaced.append(f"{path}: {value}")
        return None
    return value


def dumps_json(data: dict) -> str:
    """Always-valid JSON (no ``NaN``/``Infinity``): non-finite numbers are written as null, and a
    ``"non_finite"`` list says which values they were."""
    replaced: list[str] = []
    clean = _json_safe(data, replaced=replaced)
    if replaced:
        clean["non_finite"] = {"note": "NaN or infinite values written as null", "values": replaced}
    return json.dumps(clean, indent=2, allow_nan=False)


def text_options(args) -> tuple[int, bool]:
    """The (width, names) a subcommand's text is written with."""
    width = args.width if getattr(args, "width", None) else (WIDE if getattr(args, "wide", False)
                                                             else DEFAULT_WIDTH)
    return width, bool(getattr(args, "names", False))
