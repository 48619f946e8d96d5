"""Writing experiment results: one CSV per table, its folder created on demand, every row stamped
with the commit and the command that made it (``costmodels/provenance.py``), so that
``python -m splitgym.experiments.results_check`` can tell which rows the code has moved past."""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from splitgym.costmodels.atomic import atomic_csv
from splitgym.costmodels.provenance import UNKNOWN, command_line, stamp_rows
from splitgym.experiments.dependencies import module_of, paths_of

__all__ = ["RESULTS_DIR", "PROVENANCE", "write_csv", "read_csv", "seed_spread"]

#: every experiment script's ``--out`` default, relative to the working directory (the checkout,
#: when run through ``make``): a folder next to the module would sit inside the installed package
#: for a non-editable install, where results do not belong and may not be writable
RESULTS_DIR = "experiments/results"
PROVENANCE = ("commit", "command")  # the columns every row ends with


def write_csv(
    path: Path, rows: list[dict[str, Any]], depends: Sequence[str] | None = None, command: str | None = None
) -> Path:
    """``rows`` (dicts with the same keys, in column order) as a CSV file at ``path``; a row
    without ``commit``/``command`` gets this process's (the dirty check covers ``depends``, by
    default the paths the running module depends on: experiments/dependencies.py)."""
    command = command or command_line()
    stamped = stamp_rows([dict(r) for r in rows], depends or paths_of(module_of(command)), command)
    return atomic_csv(path, [{**{k: v for k, v in r.items() if k not in PROVENANCE}, **_prov(r)} for r in stamped])


def _prov(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in PROVENANCE}


def _value(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_csv(path: Path) -> list[dict[str, Any]]:
    """The rows :func:`write_csv` wrote, numbers parsed back (empty cells: None; the commit stays
    a string); [] if no file. A row from before provenance reads as ``commit=unknown``, so that
    writing it again never stamps it with today's commit."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        rows = [{k: (v if k in PROVENANCE else _value(v)) for k, v in row.items()} for row in csv.DictReader(f)]
    for r in rows:
        for k in PROVENANCE:
            r[k] = r.get(k) or UNKNOWN
    return rows


def seed_spread(rows: list[dict[str, Any]], by: Sequence[str], values: Sequence[str]) -> list[dict[str, Any]]:
    """Per group of ``by`` (in first-seen order): the number of rows (seeds) and each of
    ``values``' median, min and max over them; the commit is every row's, ``|``-joined when they
    differ (stale if any one is), the command the first row's."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in by), []).append(r)
    out = []
    for key, mine in groups.items():
        row: dict[str, Any] = {**dict(zip(by, key)), "seeds": len(mine)}
        for v in values:
            vals = [r[v] for r in mine if r[v] is not None]
            row |= {f"{v}_{s}": f(vals) if vals else None for s, f in _STATS}
        row["commit"] = "|".join(sorted({str(r.get("commit") or UNKNOWN) for r in mine}))
        row["command"] = mine[0].get("command") or UNKNOWN
        out.append(row)
    return out


_STATS = (("median", statistics.median), ("min", min), ("max", max))
