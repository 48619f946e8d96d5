"""Writing experiment results: one CSV per table, its folder created on demand, every row stamped
with the commit and the command that made it (``costmodels/provenance.py``), so that
``python -m splitgym.experiments.results_check`` can tell which rows the code has moved past."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from splitgym.costmodels.atomic import atomic_csv
from splitgym.costmodels.provenance import UNKNOWN, command_line, stamp_rows
from splitgym.experiments.dependencies import module_of, paths_of

__all__ = ["RESULTS_DIR", "PROVENANCE", "write_csv", "read_csv"]

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
